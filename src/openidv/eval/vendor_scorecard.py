"""``openidv vendors benchmark``: call vendors on an owned labelled set, evaluate each one exactly as
``openidv eval run --scores`` does, and put vendors (and optionally an in-house check) side by side.

Why in ``openidv.eval``: the calling half lives in ``openidv.vendors.benchmark`` (below us in the layers);
scoring files, reports, bootstrap intervals and slices are this layer's. Output (``OUT``):

* ``OUT/<vendor>/<capability>/scores.csv`` (the score-file format, ``# meaning:`` header, technical faults
  as ``status=error``), ``report.json`` / ``report.html`` (``eval run``'s report, plus a ``vendor``
  section: calls, faults, cost, latency percentiles);
* ``OUT/in-house/<capability>/`` the same for ``--in-house CHECK`` (scored through ``eval run --check``);
* ``OUT/scorecard.json`` and ``OUT/scorecard.html`` (shape in docs/vendors.md "Benchmark and scorecard").

Per slice the scorecard has two views of a vendor: its scores at the operating threshold the evaluation
layer picks (what our router could do with them), and ``at_vendor_decision``, the error rates of the
vendor's own pass/review/decline (what a team that buys the vendor gets).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from openidv.errors import InvalidInput, OpenIDVError
from openidv.eval.bootstrap import clopper_pearson
from openidv.eval.data import ScoredSet, Task
from openidv.eval.manifests import Manifest, ManifestKind, load_manifest
from openidv.eval.metrics import evaluate_set
from openidv.eval.metrics.common import Options
from openidv.eval.report import _json_safe
from openidv.eval.runner import REPORT_FILE, SCORES_FILE, evaluate, reload
from openidv.eval.scores import ScoreTable, write_scores
from openidv.results import Status
from openidv.vendors.adapters import adapter_for
from openidv.vendors.benchmark import VendorRun, run_vendor
from openidv.vendors.config import VendorConfig, load_vendors
from openidv.vendors.protocol import MEANING, Capability, VendorDecision, VendorRequest

SCHEMA = "openidv.vendors.scorecard/1"
IN_HOUSE = "in-house"
#: the slice columns combined pairwise (the router's routing keys); every slice column is also used alone
ROUTING_PAIR = ("country", "document_type")
TENANT = "benchmark"


@dataclass(frozen=True)
class BenchmarkSet:
    """One owned manifest and the capability it measures."""

    capability: Capability
    manifest: Manifest


@dataclass(frozen=True)
class BenchmarkResult:
    scorecard: dict[str, Any]
    path: Path
    html_path: Path | None


# ------------------------------------------------------------------------------------------------ inputs


def parse_spec(spec: str) -> tuple[Capability | None, str]:
    """``document=path.csv`` -> (document, path.csv); a bare value -> (None, value)."""
    head, sep, tail = spec.partition("=")
    if sep and head.strip() in {c.value for c in Capability}:
        return Capability(head.strip()), tail.strip()
    return None, spec.strip()


def load_sets(specs: Sequence[str]) -> list[BenchmarkSet]:
    """Manifests as ``[CAPABILITY=]PATH``; a comparisons manifest without a prefix is face_match, a samples
    manifest must say which attack capability it measures (document or liveness)."""
    if not specs:
        raise InvalidInput("--manifest: give at least one owned manifest")
    sets: list[BenchmarkSet] = []
    for spec in specs:
        capability, path = parse_spec(spec)
        manifest = load_manifest(path, check_files=True)
        if capability is None:
            if manifest.kind != ManifestKind.COMPARISONS:
                raise InvalidInput(
                    f"--manifest {path}: a samples manifest measures document or liveness; write "
                    f"document={path} or liveness={path}"
                )
            capability = Capability.FACE_MATCH
        wanted = ManifestKind.COMPARISONS if capability == Capability.FACE_MATCH else ManifestKind.SAMPLES
        if manifest.kind != wanted:
            raise InvalidInput(f"--manifest {spec}: {capability} needs a {wanted.value} manifest")
        if any(s.capability == capability for s in sets):
            raise InvalidInput(f"--manifest: two manifests for {capability}")
        sets.append(BenchmarkSet(capability, manifest))
    return sets


def requests_for(bench: BenchmarkSet) -> list[tuple[str, VendorRequest]]:
    """One ``VendorRequest`` per manifest row. Samples: the file is the document (document) or the selfie
    (liveness); comparisons: ``a`` is the selfie, ``b`` the document. ``country``, ``document_type`` and
    ``channel`` columns fill the request's routing fields; the row's label rides along as
    ``metadata.ground_truth``, which only the simulated adapter forwards."""
    m = bench.manifest
    frame = m.frame
    out: list[tuple[str, VendorRequest]] = []
    for row, ident in enumerate(m.ids):
        files = m.files(row)
        data = [f.read_bytes() for f in files]
        if m.kind == ManifestKind.COMPARISONS:
            selfie, document = data[0], data[1]
        elif bench.capability == Capability.LIVENESS:
            selfie, document = data[0], None
        else:
            selfie, document = None, data[0]

        def col(name: str, r: int = row) -> str | None:
            value = str(frame[name].iat[r]).strip() if name in frame.columns else ""
            return value or None

        key = hashlib.sha256(f"{m.sha256}:{bench.capability}:{ident}".encode()).hexdigest()[:32]
        # the row's label, for simulated vendors only: it is how one realises its configured accuracy
        # (openidv.vendors.simulated); real adapters never send request metadata
        if m.kind == ManifestKind.COMPARISONS:
            truth = "genuine" if col("subject_a") == col("subject_b") else "attack"
        else:
            truth = "genuine" if col("label") in ("bona_fide", "legit") else "attack"
        out.append(
            (
                ident,
                VendorRequest(
                    capability=bench.capability,
                    idempotency_key=f"bench-{key}",
                    tenant=TENANT,
                    country=col("country"),
                    document_type=col("document_type"),
                    channel=col("channel"),
                    document_front=document,
                    selfie=selfie,
                    metadata={"ground_truth": truth},
                ),
            )
        )
    return out


def score_table(run: VendorRun, capability: Capability) -> ScoreTable:
    """A vendor run as the evaluation layer's score file (meaning from the capability)."""
    return ScoreTable(
        ids=[r.id for r in run.rows],
        scores=np.array([np.nan if r.score is None else r.score for r in run.rows], dtype=np.float64),
        status=[Status(r.status) for r in run.rows],
        meaning=MEANING[capability],
        check=f"vendor:{run.vendor}",
        version=run.adapter,
        details=[" ".join(r.detail.split()) for r in run.rows],
    )


# ------------------------------------------------------------------------------------------------ calling


async def _call_all(
    vendors: Mapping[str, VendorConfig], sets: Sequence[BenchmarkSet], concurrency: int
) -> dict[tuple[str, Capability], VendorRun]:
    adapters = {name: adapter_for(name, config) for name, config in vendors.items()}
    timeout = max(config.timeout_s for config in vendors.values())
    jobs: list[tuple[tuple[str, Capability], Any]] = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout)) as client:
        for bench in sets:
            requests = requests_for(bench)
            for name, config in vendors.items():
                if bench.capability not in config.capabilities:
                    continue
                served = [
                    (rid, req if config.serves(bench.capability, req.country, req.document_type) else None)
                    for rid, req in requests
                ]
                jobs.append(
                    (
                        (name, bench.capability),
                        run_vendor(adapters[name], config, served, client, concurrency=concurrency),
                    )
                )
        runs = await asyncio.gather(*(job for _, job in jobs))
    return {key: run for (key, _), run in zip(jobs, runs, strict=True)}


# ------------------------------------------------------------------------------------------------ scoring


def slice_masks(ss: ScoredSet) -> dict[str, np.ndarray[Any, np.dtype[np.bool_]]]:
    """``all``, ``column=value`` for every slice column, ``country=X,document_type=Y`` when both exist."""
    masks: dict[str, np.ndarray[Any, np.dtype[np.bool_]]] = {"all": np.ones(ss.n, dtype=bool)}
    for column, values in ss.slices.items():
        for value in sorted({str(v) for v in values.tolist()}):
            masks[f"{column}={value}"] = np.asarray(values == value, dtype=bool)
    a, b = ROUTING_PAIR
    if a in ss.slices and b in ss.slices:
        pairs = sorted(
            {(str(x), str(y)) for x, y in zip(ss.slices[a].tolist(), ss.slices[b].tolist(), strict=True)}
        )
        for x, y in pairs:
            masks[f"{a}={x},{b}={y}"] = np.asarray((ss.slices[a] == x) & (ss.slices[b] == y), dtype=bool)
    return masks


_KEEP = ("value", "ci_low", "ci_high", "threshold", "supported", "note", "errors", "n")


def _metric(e: Mapping[str, Any] | None, n: int) -> dict[str, Any]:
    e = e or {}
    out = {k: e[k] for k in _KEEP if k in e}
    out.setdefault("value", None)
    out.setdefault("ci_low", None)
    out.setdefault("ci_high", None)
    out.setdefault("n", n)
    return out


def slice_metrics(ss: ScoredSet, options: Options) -> dict[str, Any]:
    """The headline metrics of one slice, flat: ``{"n", "n_<good>", "n_<bad>", "<metric>": {"value",
    "ci_low", "ci_high", "n", ...}}``; target curves become ``<curve>_<target>`` (``recall_at_fpr_1e-2``)."""
    v = ss.vocabulary
    ok = ~ss.fta
    n_good, n_bad = int(np.sum(ss.good & ok)), int(np.sum(~ss.good & ok))
    out: dict[str, Any] = {
        "n": ss.n,
        v.n_good: n_good,
        v.n_bad: n_bad,
        "n_failed_to_acquire": int(np.sum(ss.fta)),
    }
    if n_good == 0 or n_bad == 0:
        out["note"] = f"needs both {v.good} and {v.bad} rows with a score; metrics not computed"
        return out
    views = [ss]
    if ss.task == Task.PAD:  # the router's floors speak one language for attack scores: recall at FPR
        views.append(replace(ss, task=Task.CLASSIFICATION))
    for view in views:
        m = evaluate_set(view, options, keep_curves=False).metrics
        acquired = n_good + n_bad
        for key in ("eer", "roc_auc", "pr_auc"):
            if m.get(key) and key not in out:
                out[key] = _metric(m[key], acquired)
        if "fta" not in out and isinstance(m.get("fta"), dict) and "value" in m["fta"]:
            out["fta"] = _metric(m["fta"], ss.n)
        at = view.vocabulary.at_target
        for target, e in (m.get(at) or {}).items():
            out.setdefault(
                f"{at}_{target}", _metric(e, n_good if view.task == Task.CLASSIFICATION else acquired)
            )
        op = m.get("operating_point") or {}
        rates = {
            Task.VERIFICATION: {"fmr": "fmr", "fnmr": "fnmr"},
            Task.PAD: {"apcer": "apcer_max", "bpcer": "bpcer"},
            Task.CLASSIFICATION: {"fpr": "fpr", "recall": "recall"},
        }[view.task]
        for name, key in rates.items():
            if key in op and name not in out:
                out[name] = _metric(op[key], acquired)
    return out


#: per task, the names of (the bad class passed, the good class not passed) at the vendor's own decision;
#: classification reports the first one as recall (1 - fraud passed), as its threshold metrics do
DECISION_RATES: Mapping[Task, tuple[str, str]] = {
    Task.VERIFICATION: ("fmr", "fnmr"),
    Task.PAD: ("apcer", "bpcer"),
    Task.CLASSIFICATION: ("recall", "fpr"),
}
#: the decisions a rate is computed on (unprocessable rows are failures to acquire, counted as ``fta``)
ANSWERS = (VendorDecision.PASS.value, VendorDecision.REVIEW.value, VendorDecision.DECLINE.value)


def decision_rows(run: VendorRun) -> dict[str, str]:
    """Row id -> the vendor's decision (pass, review, decline) for every row it answered with a score."""
    return {r.id: r.decision for r in run.rows if r.status == Status.OK.value and r.decision in ANSWERS}


def counted_rate(errors: int, n: int, confidence: float, *, flip: bool = False) -> dict[str, Any]:
    """``errors / n`` with its exact Clopper-Pearson interval (``flip``: report ``1 - rate``, the interval
    flipped too; ``errors`` stays the count of misses). No trials: value null, with a note."""
    if n <= 0:
        return {"value": None, "ci_low": None, "ci_high": None, "errors": 0, "n": 0, "note": "no row"}
    low, high = clopper_pearson(errors, n, confidence)
    value = errors / n
    if flip:
        value, low, high = 1.0 - value, 1.0 - high, 1.0 - low
    return {
        "value": value,
        "ci_low": low,
        "ci_high": high,
        "errors": int(errors),
        "n": int(n),
        "ci_method": "clopper_pearson",
    }


def decision_metrics(ss: ScoredSet, decisions: Mapping[str, str], confidence: float) -> dict[str, Any]:
    """The error rates of the vendor's own decisions on the rows of ``ss`` (what a buyer gets, whatever
    threshold the evaluation picked): the bad class passed, the good class not passed (review or decline),
    and the share of answered rows sent to review. Failures to acquire (counted as ``fta``) and rows without
    a decision are left out; faulted rows are not in ``ss``. Intervals treat rows as independent."""
    bad_name, good_name = DECISION_RATES.get(ss.task, ("bad_passed", "good_not_passed"))
    said = np.array([decisions.get(str(i), "") for i in ss.ids.tolist()], dtype=object)
    answered = ~ss.fta & np.isin(said, ANSWERS)
    passed = answered & (said == VendorDecision.PASS.value)
    bad, good = answered & ~ss.good, answered & ss.good
    n = int(np.sum(answered))
    return {
        bad_name: counted_rate(
            int(np.sum(passed & bad)), int(np.sum(bad)), confidence, flip=ss.task == Task.CLASSIFICATION
        ),
        good_name: counted_rate(int(np.sum(good & ~passed)), int(np.sum(good)), confidence),
        "review_rate": counted_rate(
            int(np.sum(answered & (said == VendorDecision.REVIEW.value))), n, confidence
        ),
        "decisions": {d: int(np.sum(answered & (said == d))) for d in ANSWERS},
        "n": n,
    }


def capability_card(
    report: dict[str, Any], folder: Path, options: Options, decisions: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Per slice metrics of one evaluated entry (``slices``), every slice at the ``all`` operating
    threshold, and what the evaluation was (task, meaning, operating point, counts, report path).
    ``decisions`` (a vendor's, by row id) adds ``at_vendor_decision`` to every slice."""
    loaded, _ = reload(report, folder)
    ss = loaded.ss
    op = (report.get("metrics") or {}).get("operating_point") or {}
    fixed = replace(options, threshold=op.get("threshold"), slices=())
    slices: dict[str, Any] = {}
    for key, mask in slice_masks(ss).items():
        part = ss.subset(mask)
        slices[key] = slice_metrics(part, fixed)
        if decisions is not None:
            slices[key]["at_vendor_decision"] = decision_metrics(part, decisions, options.confidence)
    return {
        "task": report["task"],
        "meaning": report["meaning"],
        "decision_rule": report["decision_rule"],
        "operating_point": {"label": op.get("label"), "threshold": op.get("threshold")},
        "counts": report["counts"],
        "report": str(folder / REPORT_FILE),
        "slices": slices,
    }


def _vendor_report(
    run: VendorRun, capability: Capability, folder: Path, bench: BenchmarkSet, options: Options, html: bool
) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    scores = folder / SCORES_FILE
    write_scores(scores, score_table(run, capability))
    summary = {"name": run.vendor, "adapter": run.adapter, "capability": capability.value, **run.summary()}
    if not any(r.status == Status.OK.value for r in run.rows):
        faults = ", ".join(f"{k} {v}" for k, v in summary["faults"].items()) or "none"
        return {"error": f"no row was scored (faults: {faults}); nothing to evaluate", "vendor": summary}
    try:
        result = evaluate(bench.manifest.path, folder, scores=scores, options=options, html=html)
    except OpenIDVError as exc:  # e.g. the scored rows hold one class only: this vendor, not the run
        return {"error": f"not evaluated: {exc}", "vendor": summary}
    report = result.report
    report["vendor"] = summary
    path = folder / REPORT_FILE
    path.write_text(json.dumps(_json_safe(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def benchmark(
    config_path: str | Path,
    manifests: Sequence[str],
    vendor_names: Sequence[str],
    out_dir: str | Path,
    *,
    in_house: Sequence[str] = (),
    policy: str | Path | None = None,
    options: Options | None = None,
    concurrency: int = 8,
    html: bool = True,
    report_html: bool | None = None,
) -> BenchmarkResult:
    """The Python API behind ``openidv vendors benchmark``; bad input raises ``InvalidInput`` /
    ``ConfigurationError`` before any vendor is called. ``html`` writes scorecard.html;
    ``report_html`` (default: ``html``) each report's HTML and figures, the slow part."""
    options = options or Options()
    figures = html if report_html is None else report_html
    vendors_file = load_vendors(config_path)
    names = [n.strip() for n in vendor_names if n.strip()]
    if not names:
        raise InvalidInput("--vendors: name at least one configured vendor")
    unknown = [n for n in names if n not in vendors_file.vendors]
    if unknown:
        raise InvalidInput(
            f"--vendors: unknown vendor(s) {', '.join(unknown)}; {config_path} configures "
            f"{', '.join(sorted(vendors_file.vendors))}"
        )
    if IN_HOUSE in names:
        raise InvalidInput(f"--vendors: {IN_HOUSE!r} is reserved for the in-house check")
    sets = load_sets(manifests)
    by_capability = {s.capability: s for s in sets}
    house: list[tuple[Capability, str]] = []
    for spec in in_house:
        capability, check = parse_spec(spec)
        if capability is None:
            if len(sets) != 1:
                raise InvalidInput(f"--in-house {spec}: several manifests; write CAPABILITY={spec}")
            capability = sets[0].capability
        if capability not in by_capability:
            raise InvalidInput(f"--in-house {spec}: no manifest for {capability}")
        house.append((capability, check))
    chosen = {n: vendors_file.vendors[n] for n in names}
    for name, config in chosen.items():
        config.credentials(name)  # a missing credential is one line now, not a fault on every row
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    runs = asyncio.run(_call_all(chosen, sets, concurrency))
    card: dict[str, Any] = {
        "schema": SCHEMA,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config": str(Path(config_path).resolve()),
        "confidence": options.confidence,
        "bootstrap": {"unit": options.unit, "replicates": options.replicates, "seed": options.seed},
        "manifests": {
            s.capability.value: {
                "path": str(s.manifest.path),
                "sha256": s.manifest.sha256,
                "rows": len(s.manifest.ids),
                "kind": s.manifest.kind.value,
            }
            for s in sets
        },
        "vendors": {},
        "evaluations": {},
        "operations": {},
        "in_house": {},
        "skipped": [],
    }
    for name, config in chosen.items():
        card["vendors"][name] = {}
        card["operations"][name] = {"adapter": config.adapter, "currency": config.currency}
        for bench in sets:
            run = runs.get((name, bench.capability))
            if run is None:
                card["skipped"].append(
                    {
                        "entry": name,
                        "capability": bench.capability.value,
                        "reason": "capability not configured for this vendor",
                    }
                )
                continue
            folder = out / name / bench.capability.value
            report = _vendor_report(run, bench.capability, folder, bench, options, figures)
            card["operations"][name][bench.capability.value] = report.get("vendor") or {}
            if "error" in report:
                card["skipped"].append(
                    {"entry": name, "capability": bench.capability.value, "reason": report["error"]}
                )
                continue
            built = capability_card(report, folder, options, decision_rows(run))
            card["vendors"][name][bench.capability.value] = built.pop("slices")
            card["evaluations"].setdefault(name, {})[bench.capability.value] = built
    for capability, check in house:
        folder = out / IN_HOUSE / capability.value
        manifest = by_capability[capability].manifest.path
        result = evaluate(manifest, folder, check=check, policy=policy, options=options, html=figures)
        built = capability_card(result.report, folder, options)
        card["in_house"][capability.value] = built.pop("slices")
        card["evaluations"].setdefault(IN_HOUSE, {})[capability.value] = {
            "check": result.report.get("check"),
            **built,
        }
    card = _json_safe(card)
    path = out / "scorecard.json"
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    html_path = None
    if html:
        from openidv.eval.vendor_scorecard_html import render

        html_path = out / "scorecard.html"
        html_path.write_text(render(card), encoding="utf-8")
    return BenchmarkResult(card, path, html_path)
