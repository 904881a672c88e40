"""Benchmark figures of simulated vendors match their configured accuracy within the stated intervals.

Two simulated vendors (real loopback HTTP servers) with different accuracy per slice answer a labelled
document set through ``openidv vendors benchmark``'s Python API; the scorecard's ``at_vendor_decision``
block (the error rates of the vendors' own decisions, exact Clopper-Pearson at 99 %) must hold each
configured rate. The vendors draw per idempotency key, so the run is deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openidv.eval.metrics.common import Options
from openidv.eval.vendor_scorecard import benchmark
from openidv.vendors.config import VendorConfig
from openidv.vendors.simulated import SimulatedVendorServer

PER_CLASS = 150  # bona fide and attack rows per slice
SLICES = (("GB", "passport"), ("DE", "id_card"))
KEYS = {s: f"country={s[0]},document_type={s[1]}" for s in SLICES}
CONFIDENCE = 0.99
#: configured accuracy: ``sharp`` is weaker on DE/id_card, ``steady`` the same everywhere
ACCURACY: dict[str, dict[str, dict[str, float]]] = {
    "sharp": {"default": {"tpr": 0.95, "tnr": 0.97}, "DE/id_card": {"tpr": 0.80, "tnr": 0.90}},
    "steady": {"default": {"tpr": 0.90, "tnr": 0.99}},
}


def configured(vendor: str, country: str, document_type: str) -> dict[str, float]:
    accuracy = ACCURACY[vendor]
    return accuracy.get(f"{country}/{document_type}", accuracy["default"])


def vendor_entry(vendor: str, seed: int, review_rate: float = 0.0) -> dict[str, Any]:
    return {
        "adapter": "simulated",
        "endpoint": "http://127.0.0.1:1",  # replaced by the started server's port
        "capabilities": ["document"],
        "timeout_s": 5.0,
        "retries": 0,
        "options": {
            "accuracy": ACCURACY[vendor],
            "latency": {"median_ms": 1, "sigma": 0.2},
            "error_rate": 0.0,
            "review_rate": review_rate,
            "seed": seed,
        },
    }


def write_manifest(root: Path) -> Path:
    """A labelled samples manifest: tiny files (the label decides, the pixels are never read)."""
    lines = ["id,path,subject,label,species,country,document_type"]
    for country, document_type in SLICES:
        for label in ("bona_fide", "attack"):
            for i in range(PER_CLASS):
                rid = f"{country}-{label}-{i}"
                (root / f"{rid}.bin").write_bytes(rid.encode())
                species = "print" if label == "attack" else ""
                lines.append(f"{rid},{rid}.bin,s-{rid},{label},{species},{country},{document_type}")
    path = root / "docs.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_benchmark(root: Path, entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Start one server per vendor, benchmark them all on the manifest, stop them; the scorecard."""
    manifest = write_manifest(root)
    servers = [
        SimulatedVendorServer(name, VendorConfig.model_validate(entry), port=0).start()
        for name, entry in entries.items()
    ]
    try:
        live = {s.name: {**entries[s.name], "endpoint": s.url} for s in servers}
        config = root / "vendors.yaml"
        config.write_text(json.dumps({"vendors": live}))  # JSON is YAML
        result = benchmark(
            config,
            [f"document={manifest}"],
            list(entries),
            root / "out",
            options=Options(replicates=20, confidence=CONFIDENCE, seed=0),
            concurrency=16,
            html=False,
        )
    finally:
        for server in servers:
            server.stop()
    return result.scorecard


@pytest.fixture(scope="module")
def card(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("accuracy")
    yield run_benchmark(root, {"sharp": vendor_entry("sharp", 3), "steady": vendor_entry("steady", 5)})


def inside(entry: dict[str, Any], rate: float) -> bool:
    return bool(entry["ci_low"] <= rate <= entry["ci_high"])


@pytest.mark.parametrize("vendor", sorted(ACCURACY))
@pytest.mark.parametrize("where", SLICES, ids=lambda s: f"{s[0]}/{s[1]}")
def test_decision_rates_hold_the_configured_accuracy(
    card: dict[str, Any], vendor: str, where: tuple[str, str]
) -> None:
    block = card["vendors"][vendor]["document"][KEYS[where]]["at_vendor_decision"]
    rates = configured(vendor, *where)
    apcer, bpcer = block["apcer"], block["bpcer"]
    assert apcer["n"] == PER_CLASS and bpcer["n"] == PER_CLASS and block["n"] == 2 * PER_CLASS
    assert apcer["value"] == pytest.approx(apcer["errors"] / PER_CLASS)
    assert inside(apcer, 1 - rates["tpr"]), (vendor, where, apcer, rates)
    assert inside(bpcer, 1 - rates["tnr"]), (vendor, where, bpcer, rates)
    assert block["review_rate"]["errors"] == 0 and block["decisions"]["review"] == 0


def test_the_vendors_differ_as_configured_on_de_id_card(card: dict[str, Any]) -> None:
    key = KEYS[("DE", "id_card")]
    sharp = card["vendors"]["sharp"]["document"][key]["at_vendor_decision"]
    steady = card["vendors"]["steady"]["document"][key]["at_vendor_decision"]
    # configured: sharp passes 20 % of attacks and holds back 10 % of genuine ones; steady 10 % and 1 %
    assert sharp["apcer"]["value"] > steady["apcer"]["value"]
    assert sharp["bpcer"]["value"] > steady["bpcer"]["value"]
    # the figures tell the two configurations apart: each rules out the other vendor's configured BPCER
    assert not inside(sharp["bpcer"], 1 - ACCURACY["steady"]["default"]["tnr"])
    assert not inside(steady["bpcer"], 1 - ACCURACY["sharp"]["DE/id_card"]["tnr"])
    # and sharp is weaker on DE/id_card than on GB/passport, as configured
    gb = card["vendors"]["sharp"]["document"][KEYS[("GB", "passport")]]["at_vendor_decision"]
    assert sharp["apcer"]["value"] > gb["apcer"]["value"] and sharp["bpcer"]["value"] > gb["bpcer"]["value"]


def test_every_slice_has_the_block_beside_the_threshold_metrics(card: dict[str, Any]) -> None:
    for vendor in ACCURACY:
        slices = card["vendors"][vendor]["document"]
        assert all("at_vendor_decision" in entry for entry in slices.values())
        assert "roc_auc" in slices["all"] and "apcer" in slices["all"]  # the threshold metrics stay
        overall = slices["all"]["at_vendor_decision"]
        assert overall["n"] == 4 * PER_CLASS and sum(overall["decisions"].values()) == 4 * PER_CLASS


def test_review_rate_holds_the_configured_rate(tmp_path: Path) -> None:
    review = 0.2
    card = run_benchmark(tmp_path, {"sharp": vendor_entry("sharp", 7, review_rate=review)})
    for where in SLICES:
        block = card["vendors"]["sharp"]["document"][KEYS[where]]["at_vendor_decision"]
        assert block["review_rate"]["n"] == 2 * PER_CLASS
        assert inside(block["review_rate"], review), (where, block["review_rate"])
        # a review is not a pass: an attack sent to review is caught, a genuine one is held back
        rates = configured("sharp", *where)
        assert inside(block["apcer"], (1 - rates["tpr"]) * (1 - review)), (where, block["apcer"])
        held = 1 - rates["tnr"] * (1 - review)
        assert inside(block["bpcer"], held), (where, block["bpcer"])


def test_classification_reports_fpr_and_recall_and_leaves_out_failures_to_acquire() -> None:
    import numpy as np

    from openidv.eval.bootstrap import clopper_pearson
    from openidv.eval.data import ScoredSet, Task
    from openidv.eval.vendor_scorecard import decision_metrics
    from openidv.results import Meaning

    # legit l0-l9: 7 pass, 2 review, 1 decline; fraud f0-f9: 3 pass, 1 review, 5 decline, f9 unprocessable
    said = ["pass"] * 7 + ["review"] * 2 + ["decline"] + ["pass"] * 3 + ["review"] + ["decline"] * 5 + [""]
    ids = [f"l{i}" for i in range(10)] + [f"f{i}" for i in range(10)]
    fta = np.array([False] * 19 + [True])
    n = len(ids)
    ss = ScoredSet(
        task=Task.CLASSIFICATION,
        meaning=Meaning.ATTACK,
        ids=np.array(ids, dtype=object),
        scores=np.where(fta, np.nan, 0.5),
        fta=fta,
        good=np.array([True] * 10 + [False] * 10),
        subject_a=np.arange(n),
        subject_b=np.arange(n),
        subjects=tuple(ids),
        species=np.full(n, "", dtype=object),
    )
    decisions = {i: d for i, d in zip(ids, said, strict=True) if d}
    decisions["f9"] = "unprocessable"  # never counted: the row failed to acquire
    block = decision_metrics(ss, decisions, 0.95)
    assert (block["fpr"]["errors"], block["fpr"]["n"]) == (3, 10) and block["fpr"]["value"] == pytest.approx(
        0.3
    )
    recall = block["recall"]
    assert (recall["errors"], recall["n"]) == (3, 9) and recall["value"] == pytest.approx(6 / 9)
    low, high = clopper_pearson(3, 9, 0.95)
    assert (recall["ci_low"], recall["ci_high"]) == pytest.approx((1 - high, 1 - low))
    assert (block["review_rate"]["errors"], block["review_rate"]["n"]) == (3, 19)
    assert block["decisions"] == {"pass": 10, "review": 3, "decline": 6} and block["n"] == 19
    empty = decision_metrics(ss.subset(ss.good), decisions, 0.95)  # no fraud row in this slice
    assert empty["recall"]["value"] is None and empty["recall"]["n"] == 0
