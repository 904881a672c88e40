"""``openidv vendors benchmark`` against real loopback vendors speaking Veriff's wire format.

The vendors answer deterministically from each row's image bytes (tests/vendor_servers.py), so every
number in the reports is recomputed here by brute-force counting over the known answers and compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from openidv.checks.registry import register_check, unregister_check
from openidv.cli import app
from openidv.eval.metrics.common import Options
from openidv.eval.vendor_scorecard import benchmark
from tests.checks_for_tests import MetadataScoreCheck
from tests.telemetry_helpers import serve
from tests.vendor_servers import API_KEY, SECRET, vendors_app

N = 30  # bona fide and attack rows each: enough for FPR = 1e-1 (needs 29)
SCORE = {"approved": 0.0, "rate_limited_once": 0.0, "late": 0.0, "review": 0.5, "declined": 1.0}


def _lenient(label: str, i: int) -> str:
    if label == "bona_fide":
        return "declined" if i >= 28 else "review" if i >= 26 else "approved"
    return "approved" if i >= 27 else "review" if i >= 24 else "declined"


def _strict(label: str, i: int) -> str:
    answer = _lenient(label, i)
    return "declined" if answer == "review" else answer


def _rows() -> list[dict[str, Any]]:
    rows = []
    for label, base in (("bona_fide", 0.5), ("attack", 0.0)):
        for i in range(N):
            rows.append(
                {
                    "id": f"{label[0]}{i}",
                    "label": label,
                    "i": i,
                    "content": f"{base + i / 100:.2f}".encode(),
                    "country": "GB" if i % 2 == 0 else "DE",
                    "document_type": "id_card" if i % 3 == 0 else "passport",
                }
            )
    rows[0]["special"] = "rate_limited_once"  # bona fide b0: a 429 on the poll, then approved
    rows[1]["special"] = "late"  # b1: the first decision poll is null
    rows.append(
        {
            "id": "x1",
            "label": "bona_fide",
            "i": -1,
            "content": b"0.95",
            "country": "GB",
            "document_type": "passport",
            "special": "resubmission_requested",
        }
    )
    rows.append(
        {
            "id": "x2",
            "label": "attack",
            "i": -1,
            "content": b"0.96",
            "country": "DE",
            "document_type": "passport",
            "special": "http_500",
        }
    )
    return rows


def _answers(rows: list[dict[str, Any]], rule: Any) -> dict[bytes, str]:
    return {r["content"]: r.get("special") or rule(r["label"], r["i"]) for r in rows}


FACE_N = 20
FACE_SCORE = {"approved": 1.0, "review": 0.5, "declined": 0.0}  # similarity: approved = same person


def _face(genuine: bool, i: int) -> str:
    if genuine:
        return "declined" if i >= 18 else "review" if i >= 16 else "approved"
    return "approved" if i >= 18 else "review" if i >= 16 else "declined"


def _pairs() -> list[dict[str, Any]]:
    """Face comparisons: ``b`` (the document, uploaded first) carries the answer key."""
    return [
        {
            "id": f"{'g' if genuine else 'm'}{i}",
            "genuine": genuine,
            "i": i,
            "country": "GB" if i % 2 else "FR",
            "content": f"face-{'g' if genuine else 'm'}{i}".encode(),
        }
        for genuine in (True, False)
        for i in range(FACE_N)
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    rows = _rows()
    root = tmp_path_factory.mktemp("bench")
    lines = ["id,path,subject,label,species,country,document_type"]
    for r in rows:
        (root / f"{r['id']}.txt").write_bytes(r["content"])
        species = "print" if r["label"] == "attack" else ""
        lines.append(
            f"{r['id']},{r['id']}.txt,s-{r['id']},{r['label']},{species},{r['country']},{r['document_type']}"
        )
    (root / "docs.csv").write_text("\n".join(lines) + "\n")
    pairs = _pairs()
    face_lines = ["id,a,b,subject_a,subject_b,country"]
    for p in pairs:
        (root / f"{p['id']}-doc.bin").write_bytes(p["content"])
        (root / f"{p['id']}-selfie.bin").write_bytes(b"selfie-" + p["content"])
        other = f"p{p['i']}" if p["genuine"] else f"q{p['i']}"
        face_lines.append(
            f"{p['id']},{p['id']}-selfie.bin,{p['id']}-doc.bin,p{p['i']},{other},{p['country']}"
        )
    (root / "pairs.csv").write_text("\n".join(face_lines) + "\n")
    tables = {"lenient": _answers(rows, _lenient), "strict": _answers(rows, _strict)}
    for table in tables.values():
        table.update({p["content"]: _face(p["genuine"], p["i"]) for p in pairs})
    with serve(vendors_app(tables)) as base:
        config = root / "vendors.yaml"
        entries = []
        for name, cost in (("lenient", 0.5), ("strict", 0.25)):
            entries.append(
                f"  {name}:\n    adapter: veriff\n    endpoint: {base}/{name}\n"
                f"    credentials_env: {{api_key: BENCH_VERIFF_KEY, shared_secret: BENCH_VERIFF_SECRET}}\n"
                f"    capabilities: [document, face_match]\n"
                f"    timeout_s: 5\n    retries: 1\n    backoff_s: 0\n"
                f"    cost_per_call: {cost}\n    options: {{poll_interval_s: 0, max_polls: 3}}\n"
            )
        entries.append(  # nothing listens on port 9 (discard): every call is a connection fault
            "  down:\n    adapter: veriff\n    endpoint: http://127.0.0.1:9\n"
            "    credentials_env: {api_key: BENCH_VERIFF_KEY, shared_secret: BENCH_VERIFF_SECRET}\n"
            "    capabilities: [document]\n    timeout_s: 2\n    retries: 0\n"
        )
        config.write_text("vendors:\n" + "".join(entries))
        mp = pytest.MonkeyPatch()
        mp.setenv("BENCH_VERIFF_KEY", API_KEY)
        mp.setenv("BENCH_VERIFF_SECRET", SECRET)
        register_check(MetadataScoreCheck, replace=True)
        try:
            out = root / "out"
            result = benchmark(
                config,
                [f"document={root / 'docs.csv'}", str(root / "pairs.csv")],
                ["lenient", "strict", "down"],
                out,
                in_house=["document=test_metadata_score"],
                options=Options(replicates=100, seed=0),
                concurrency=4,
                report_html=False,  # the reports' figures (matplotlib) are eval's to test, and slow
            )
            yield {
                "rows": rows,
                "pairs": pairs,
                "root": root,
                "out": out,
                "card": result.scorecard,
                "config": config,
                "base": base,
            }
        finally:
            unregister_check(MetadataScoreCheck.name)
            mp.undo()


# ----------------------------------------------------------------------------- brute-force reference


def _scored(rows: list[dict[str, Any]], rule: Any, keep: Any = lambda r: True) -> list[tuple[bool, float]]:
    """(is_attack, score) of the rows the vendor answered with a score (FTA and faults left out)."""
    out = []
    for r in rows:
        answer = r.get("special") or rule(r["label"], r["i"])
        if keep(r) and answer in SCORE:
            out.append((r["label"] == "attack", SCORE[answer]))
    return out


def _auc(pairs: list[tuple[bool, float]]) -> float:
    attacks = [s for a, s in pairs if a]
    bona = [s for a, s in pairs if not a]
    wins = sum((x > y) + 0.5 * (x == y) for x in attacks for y in bona)
    return wins / (len(attacks) * len(bona))


def _rates(pairs: list[tuple[bool, float]], threshold: float) -> tuple[float, float]:
    """(APCER, BPCER) flagging score >= threshold."""
    attacks = [s for a, s in pairs if a]
    bona = [s for a, s in pairs if not a]
    return sum(s < threshold for s in attacks) / len(attacks), sum(s >= threshold for s in bona) / len(bona)


def _recall_at_fpr(pairs: list[tuple[bool, float]], target: float) -> float:
    best = 0.0
    for t in sorted({s for _, s in pairs} | {2.0}):
        apcer, fpr = _rates(pairs, t)
        if fpr <= target:
            best = max(best, 1 - apcer)
    return best


# ----------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("vendor,rule", [("lenient", _lenient), ("strict", _strict)])
def test_reports_match_hand_counts(world: dict[str, Any], vendor: str, rule: Any) -> None:
    folder = world["out"] / vendor / "document"
    report = json.loads((folder / "report.json").read_text())
    assert report["schema"] == "openidv.eval.report/1" and report["task"] == "pad"
    assert report["meaning"] == "attack"
    c = report["counts"]
    assert (c["rows"], c["ok"], c["failed_to_acquire"], c["error"]) == (62, 60, 1, 1)
    assert [e["id"] for e in report["errors"]["rows"]] == ["x2"]
    pairs = _scored(world["rows"], rule)
    assert report["metrics"]["roc_auc"]["value"] == pytest.approx(_auc(pairs), abs=1e-12)
    assert report["metrics"]["roc_auc"]["ci_low"] <= report["metrics"]["roc_auc"]["value"]
    assert set(report["fairness"]["columns"]) == {"country", "document_type"}
    scores = (folder / "scores.csv").read_text().splitlines()
    assert scores[0] == "# meaning: attack"
    v = report["vendor"]
    assert v["calls"] == 62 and v["answered"] == 61 and v["faults"] == {"http_5xx": 1}
    cost = 0.5 if vendor == "lenient" else 0.25
    assert v["cost"]["total"] == pytest.approx(61 * cost) and v["cost"]["per_call"] == pytest.approx(cost)
    assert (
        v["latency_ms"]["n"] == 61
        and 0 < v["latency_ms"]["p50"] <= v["latency_ms"]["p95"] <= v["latency_ms"]["p99"]
    )
    assert v["attempts"] == 62 + 1  # x2 retried once after a 500; b0's 429 is re-polled inside the call


@pytest.mark.parametrize("vendor,rule", [("lenient", _lenient), ("strict", _strict)])
def test_scorecard_slices_match_hand_counts(world: dict[str, Any], vendor: str, rule: Any) -> None:
    card = world["card"]
    slices = card["vendors"][vendor]["document"]  # vendor -> capability -> slice key -> metrics
    threshold = card["evaluations"][vendor]["document"]["operating_point"]["threshold"]
    expected_keys = {"all", "country=DE", "country=GB", "document_type=id_card", "document_type=passport"}
    expected_keys |= {f"country={c},document_type={d}" for c in ("DE", "GB") for d in ("id_card", "passport")}
    assert set(slices) == expected_keys
    for key, entry in slices.items():
        conds = dict(part.split("=") for part in key.split(",")) if key != "all" else {}
        pairs = _scored(world["rows"], rule, lambda r, conds=conds: all(r[k] == v for k, v in conds.items()))
        assert entry["n_bona_fide"] == sum(not a for a, _ in pairs)
        assert entry["n_attack"] == sum(a for a, _ in pairs)
        assert entry["roc_auc"]["value"] == pytest.approx(_auc(pairs), abs=1e-12), key
        apcer, bpcer = _rates(pairs, threshold)
        assert entry["apcer"]["value"] == pytest.approx(apcer, abs=1e-12), key
        assert entry["bpcer"]["value"] == pytest.approx(bpcer, abs=1e-12), key
        for metric in ("roc_auc", "apcer", "bpcer"):
            e = entry[metric]
            assert e["ci_low"] is not None and e["ci_low"] <= e["value"] <= e["ci_high"], (key, metric)
            assert e["n"] > 0
    overall = slices["all"]
    pairs = _scored(world["rows"], rule)
    assert overall["recall_at_fpr_1e-1"]["value"] == pytest.approx(_recall_at_fpr(pairs, 0.1), abs=1e-12)
    assert overall["recall_at_fpr_1e-1"]["ci_low"] is not None
    assert overall["recall_at_fpr_1e-2"]["value"] is None  # 30 bona fide cannot support FPR 1e-2
    assert overall["recall_at_fpr_1e-2"]["supported"] is False
    assert overall["fta"]["value"] == pytest.approx(1 / 61)


_DECIDED = {"approved": "approved", "rate_limited_once": "approved", "late": "approved"}


def _decision(r: dict[str, Any], rule: Any) -> str | None:
    """The vendor's decision on a row (approved, review, declined); None for a fault or an FTA."""
    answer = r.get("special") or rule(r["label"], r["i"])
    return _DECIDED.get(answer, answer if answer in ("review", "declined") else None)


@pytest.mark.parametrize("vendor,rule", [("lenient", _lenient), ("strict", _strict)])
def test_decision_rates_match_hand_counts(world: dict[str, Any], vendor: str, rule: Any) -> None:
    from openidv.eval.bootstrap import clopper_pearson

    card = world["card"]
    confidence = card["confidence"]
    for key, entry in card["vendors"][vendor]["document"].items():
        conds = dict(part.split("=") for part in key.split(",")) if key != "all" else {}
        rows = [r for r in world["rows"] if all(r[k] == v for k, v in conds.items())]
        said = [(r["label"] == "attack", d) for r in rows if (d := _decision(r, rule)) is not None]
        attacks = [d for a, d in said if a]
        bona = [d for a, d in said if not a]
        block = entry["at_vendor_decision"]
        expected = {
            "apcer": (sum(d == "approved" for d in attacks), len(attacks)),
            "bpcer": (sum(d != "approved" for d in bona), len(bona)),
            "review_rate": (sum(d == "review" for _, d in said), len(said)),
        }
        for metric, (k, n) in expected.items():
            e = block[metric]
            assert (e["errors"], e["n"]) == (k, n), (key, metric)
            assert e["value"] == pytest.approx(k / n, abs=1e-12), (key, metric)
            low, high = clopper_pearson(k, n, confidence)
            assert (e["ci_low"], e["ci_high"]) == pytest.approx((low, high), abs=1e-12), (key, metric)
        assert block["n"] == len(said)
    overall = card["vendors"][vendor]["document"]["all"]["at_vendor_decision"]
    reviews = 5 if vendor == "lenient" else 0  # strict declines what lenient reviews
    # 26 bona fide (b0, b1 among them) and 3 attacks approved; x1 (unprocessable) and x2 (a fault) left out
    assert overall["decisions"] == {"pass": 29, "review": reviews, "decline": 31 - reviews}
    assert "at_vendor_decision" not in card["in_house"]["document"]["all"]  # no vendor, no decisions


def test_face_match_decision_rates_match_hand_counts(world: dict[str, Any]) -> None:
    for key, entry in world["card"]["vendors"]["lenient"]["face_match"].items():
        rows = [p for p in world["pairs"] if key == "all" or key == f"country={p['country']}"]
        genuine = [_face(True, p["i"]) for p in rows if p["genuine"]]
        impostor = [_face(False, p["i"]) for p in rows if not p["genuine"]]
        block = entry["at_vendor_decision"]
        assert (block["fmr"]["errors"], block["fmr"]["n"]) == (
            sum(d == "approved" for d in impostor),
            len(impostor),
        )
        assert (block["fnmr"]["errors"], block["fnmr"]["n"]) == (
            sum(d != "approved" for d in genuine),
            len(genuine),
        )
        assert block["review_rate"]["errors"] == sum(d == "review" for d in genuine + impostor)


def test_scorecard_operations_in_house_and_html(world: dict[str, Any]) -> None:
    card = world["card"]
    assert card["schema"] == "openidv.vendors.scorecard/1"
    assert card["operations"]["strict"]["document"]["cost"]["total"] == pytest.approx(61 * 0.25)
    house = card["in_house"]["document"]
    evaluation = card["evaluations"]["in-house"]["document"]
    assert evaluation["check"]["name"] == "test_metadata_score"
    # the in-house check reads each file's number as a similarity: bona fide should score above attacks
    bona = [float(r["content"]) for r in world["rows"] if r["label"] == "bona_fide"]
    attacks = [float(r["content"]) for r in world["rows"] if r["label"] == "attack"]
    wins = sum((b > a) + 0.5 * (b == a) for b in bona for a in attacks)
    assert house["all"]["roc_auc"]["value"] == pytest.approx(wins / (len(bona) * len(attacks)))
    assert evaluation["meaning"] == "similarity" and evaluation["counts"]["rows"] == 62
    assert (world["out"] / "in-house" / "document" / "report.json").is_file()
    page = (world["out"] / "scorecard.html").read_text()
    assert "<script" not in page and "http://" not in page.split("</style>")[1].split("manifest")[0]
    assert (
        "class='best'" in page and "recall_at_fpr_1e-2" in page and "lenient" in page and "in-house" in page
    )
    decided = page.split("At each vendor's own decision")
    assert len(decided) == 3  # one table per capability (document, face_match)
    assert "review_rate" in decided[1] and "in-house" not in decided[1].split("</table>")[0]


def _cli(args: list[str]) -> Any:
    return CliRunner().invoke(app, ["vendors", "benchmark", *args])


def test_cli_bad_inputs_exit_2(world: dict[str, Any], tmp_path: Path) -> None:
    docs = f"document={world['root'] / 'docs.csv'}"
    base = ["--config", str(world["config"]), "--out", str(tmp_path / "o")]
    missing = _cli([*base, "--manifest", f"document={tmp_path / 'nope.csv'}", "--vendors", "lenient"])
    assert missing.exit_code == 2 and "no such file" in missing.output
    unknown = _cli([*base, "--manifest", docs, "--vendors", "lenient,acme"])
    assert unknown.exit_code == 2 and "unknown vendor(s) acme" in unknown.output
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("vendors: [unclosed\n")
    bad = _cli(
        ["--config", str(bad_yaml), "--out", str(tmp_path / "o"), "--manifest", docs, "--vendors", "x"]
    )
    assert bad.exit_code == 2 and "not YAML" in bad.output
    no_cap = _cli([*base, "--manifest", str(world["root"] / "docs.csv"), "--vendors", "lenient"])
    assert no_cap.exit_code == 2 and "document=" in no_cap.output


def test_cli_runs_and_prints_a_summary(world: dict[str, Any], tmp_path: Path) -> None:
    docs = f"document={world['root'] / 'docs.csv'}"
    args = ["--config", str(world["config"]), "--out", str(tmp_path / "o"), "--manifest", docs]
    result = _cli([*args, "--vendors", "strict", "--replicates", "50", "--no-html"])
    assert result.exit_code == 0, result.output
    assert "strict document: 62 rows (60 ok, 1 failed to acquire, 1 faults), cost 15.25 EUR" in result.output
    assert "  at its own decisions (all rows, 95%): apcer 0.1 [" in result.output  # 3 of 30 attacks passed
    assert "bpcer 0.1333 [" in result.output and "review_rate 0 [0, " in result.output
    card = json.loads((tmp_path / "o" / "scorecard.json").read_text())
    assert card["bootstrap"]["replicates"] == 50 and not (tmp_path / "o" / "scorecard.html").exists()
    assert list(card["vendors"]) == ["strict"]


def test_face_match_verification_matches_hand_counts(world: dict[str, Any]) -> None:
    slices = world["card"]["vendors"]["lenient"]["face_match"]
    evaluation = world["card"]["evaluations"]["lenient"]["face_match"]
    assert evaluation["task"] == "verification" and evaluation["meaning"] == "similarity"
    threshold = evaluation["operating_point"]["threshold"]
    assert set(slices) == {"all", "country=FR", "country=GB"}
    for key, entry in slices.items():
        rows = [p for p in world["pairs"] if key == "all" or key == f"country={p['country']}"]
        genuine = [FACE_SCORE[_face(True, p["i"])] for p in rows if p["genuine"]]
        impostor = [FACE_SCORE[_face(False, p["i"])] for p in rows if not p["genuine"]]
        assert (entry["n_genuine"], entry["n_impostor"]) == (len(genuine), len(impostor))
        wins = sum((g > m) + 0.5 * (g == m) for g in genuine for m in impostor)
        assert entry["roc_auc"]["value"] == pytest.approx(wins / (len(genuine) * len(impostor)), abs=1e-12)
        fmr = sum(m >= threshold for m in impostor) / len(impostor)
        fnmr = sum(g < threshold for g in genuine) / len(genuine)
        assert entry["fmr"]["value"] == pytest.approx(fmr, abs=1e-12), key
        assert entry["fnmr"]["value"] == pytest.approx(fnmr, abs=1e-12), key
        assert entry["fnmr_at_fmr_1e-2"]["value"] is None  # 20 impostor pairs cannot support FMR 1e-2
        assert entry["eer"]["ci_low"] is not None and entry["eer"]["n"] == len(genuine) + len(impostor)
    assert (world["out"] / "lenient" / "face_match" / "report.json").is_file()


class _Hanging:
    """An adapter that never answers in time: the benchmark's own timeout must end each attempt."""

    kind = "hanging"
    name = "hanging"

    async def call(self, request: Any, client: Any) -> Any:
        import asyncio

        await asyncio.sleep(5)


def test_timeouts_are_error_rows_after_the_configured_retries() -> None:
    import asyncio

    import httpx

    from openidv.vendors.benchmark import run_vendor
    from openidv.vendors.config import VendorConfig
    from openidv.vendors.protocol import Capability, VendorRequest

    config = VendorConfig(
        adapter="hanging",
        endpoint="http://127.0.0.1:9",
        capabilities=(Capability.DOCUMENT,),
        timeout_s=0.05,
        retries=1,
        backoff_s=0,
    )
    req = VendorRequest(capability=Capability.DOCUMENT, idempotency_key="k", tenant="t", document_front=b"x")

    async def go() -> Any:
        async with httpx.AsyncClient() as client:
            return await run_vendor(_Hanging(), config, [("r1", req), ("r2", None)], client)  # type: ignore[arg-type]

    run = asyncio.run(go())
    timed_out, not_served = run.rows
    assert (timed_out.status, timed_out.fault, timed_out.attempts) == ("error", "timeout", 2)
    assert (not_served.status, not_served.fault) == ("error", "not_served")
    summary = run.summary()
    assert summary["faults"] == {"not_served": 1, "timeout": 1} and summary["cost"]["per_call"] is None


def test_slice_without_one_class_has_a_note(world: dict[str, Any]) -> None:
    from openidv.eval.runner import reload
    from openidv.eval.vendor_scorecard import slice_metrics

    folder = world["out"] / "lenient" / "document"
    loaded, _ = reload(json.loads((folder / "report.json").read_text()), folder)
    only_bona = loaded.ss.subset(loaded.ss.good)
    entry = slice_metrics(only_bona, Options(replicates=10))
    assert entry["n_attack"] == 0 and "needs both" in entry["note"] and "roc_auc" not in entry


def test_a_vendor_that_is_down_is_listed_not_fatal(world: dict[str, Any]) -> None:
    card = world["card"]
    assert card["vendors"]["down"] == {}
    skipped = {s["capability"]: s["reason"] for s in card["skipped"] if s["entry"] == "down"}
    assert "connection 62" in skipped["document"]
    assert skipped["face_match"] == "capability not configured for this vendor"
    assert card["operations"]["down"]["document"]["faults"] == {"connection": 62}
    scores = (world["out"] / "down" / "document" / "scores.csv").read_text()
    assert scores.count(",error,") == 62
