"""Set the policy's face thresholds from the embedder's published operating point, and record the evidence.

Our labelled real face data (``datasets/faces``: 33 genuine and 103 impostor pairs of 6 people) cannot support
an FMR of 1e-4 (rule of three: 29,956 impostor comparisons, from at least 246 people), so ``openidv thresholds
tune`` refuses that target on it. The 1:1 threshold ``face_match.match`` and the 1:N threshold
``face_duplicate.duplicate`` therefore start from the backend's published operating point
(``openidv.operating_points``: SFace's LFW threshold, cosine 0.363), made stricter by a stated margin, and
each entry records:

- ``source``: the published point (model, data set, protocol, reference) and the margin;
- ``achieved``: what the owned real data shows at the chosen value (the evaluation layer's subject-bootstrap
  intervals widened to exact binomial), with ``supported: false`` and the counts the target needs;
- ``extrapolation``: a normal fit to the owned impostor cosines, labelled as a model, not a measurement;
- for the duplicate threshold, ``fpir_by_gallery_size``: the expected false-positive identification rate of
  a search against N enrolled people, FPIR = 1 - (1 - FMR)^N, for N = 1e3 ... 1e6, from each FMR estimate.

Why these margins (docs/policy.md, "Face thresholds"): a normal fit to the 103 owned impostor cosines puts
FMR 1e-4 at cosine 0.382 and 1e-5 at 0.419. Real impostor tails are heavier: issue 11 saw 12 of 262 real
impostor pairs (4.6%) above cosine 0.273, where that fit predicts 1.8%; widening the fit's spread until it
reproduces that observation puts FMR 1e-4 at 0.446 and 1e-5 at 0.493. The match threshold is cosine 0.45 and
the duplicate threshold 0.50, above both estimates, and every owned genuine pair (lowest cosine 0.559) still
matches.

    python scripts/set_face_thresholds.py [--policy src/openidv/decision/default_policy.yaml] [--dry-run]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scipy.stats import norm  # noqa: E402

from openidv.checks.face.embed import cosine_from_similarity, similarity_from_cosine  # noqa: E402
from openidv.decision.policy import default_policy_path, load_policy, write_threshold  # noqa: E402
from openidv.eval.bootstrap import clopper_pearson  # noqa: E402
from openidv.eval.data import decision_rule  # noqa: E402
from openidv.eval.metrics import evaluate_set  # noqa: E402
from openidv.eval.runner import options_of, read_report, reload  # noqa: E402
from openidv.eval.samplesize import required_trials  # noqa: E402
from openidv.eval.targets import target_key  # noqa: E402
from openidv.eval.thresholds import subjects_needed  # noqa: E402
from openidv.operating_points import published_operating_point  # noqa: E402

MATCH_FMR = 1e-4
MATCH_COSINE = 0.45
DUPLICATE_FPIR = 1e-2
DUPLICATE_GALLERY = 1000
DUPLICATE_COSINE = 0.50
GALLERY_SIZES = (1_000, 10_000, 100_000, 1_000_000)
#: issue 11's real impostor evaluation: 12 of 262 pairs at or above cosine 0.273 (the old threshold)
ISSUE_11 = {"impostor_pairs": 262, "accepted": 12, "cosine": 0.273}
CONFIDENCE = 0.95
K_MATCH, K_DUP = target_key(MATCH_FMR), target_key(DUPLICATE_FPIR)
K_PER = target_key(DUPLICATE_FPIR / DUPLICATE_GALLERY)  # the per-comparison FMR the 1:N target needs


def _similarity(cos: float) -> float:
    return round(similarity_from_cosine(cos), 6)


def _pairs_scores(report_dir: Path) -> tuple[dict[tuple[str, str], float], Path]:
    report, folder = read_report(report_dir)
    manifest = Path(report["inputs"]["manifest"])
    rows = {r["id"]: r for r in csv.DictReader(manifest.open(encoding="utf-8"))}
    lines = [ln for ln in (folder / "scores.csv").read_text(encoding="utf-8").splitlines() if ln[:1] != "#"]
    scores = {}
    for r in csv.DictReader(lines):
        if r["status"] == "ok":
            p = rows[r["id"]]
            scores[(p["a"], p["b"])] = scores[(p["b"], p["a"])] = float(r["score"])
    return scores, manifest


def owned_verification(report_dir: Path, value: float, target: float) -> dict[str, Any]:
    """FMR and FNMR at ``value`` on the owned pairs, with intervals, and what ``target`` would need."""
    report, folder = read_report(report_dir)
    ss = reload(report, folder)[0].ss
    options = replace(options_of(report, slices=(), replicates=1000), threshold=value, operating_point=None)
    op = evaluate_set(ss, options, keep_curves=False).metrics["operating_point"]
    ok = ~ss.fta
    impostor, genuine = ok & ~ss.good, ok & ss.good
    subjects = len(set(ss.subject_a[ok].tolist()) | set(ss.subject_b[ok].tolist()))
    needed = required_trials(target, CONFIDENCE)
    people = subjects_needed(needed)
    out: dict[str, Any] = {"rates": ["fmr", "fnmr"]}
    for rate in ("fmr", "fnmr"):
        out[rate] = {k: op[rate][k] for k in ("value", "ci_low", "ci_high", "errors", "n")}
    out.update(
        {
            "n_genuine": int(genuine.sum()),
            "n_impostor": int(impostor.sum()),
            "subjects": subjects,
            "data": "real",
            "confidence": CONFIDENCE,
            "interval": "subject bootstrap widened to exact binomial, at the fixed threshold",
            "replicates": options.replicates,
            "supported": False,
            "needed": {"trials": needed, "subjects": people, "what": "impostor comparisons"},
            "note": (
                f"FMR={target_key(target)} needs at least {needed:,} impostor comparisons from at least "
                f"{people} people (rule of three, 95%); the owned real set has {int(impostor.sum())} from "
                f"{subjects}: it can neither support nor refute the target, only show no contradiction "
                "at this value"
            ),
            "highest_impostor": round(float(ss.scores[impostor].max()), 6),
            "lowest_genuine": round(float(ss.scores[genuine].min()), 6),
            "meaning": ss.meaning.value,
            "decision_rule": decision_rule(ss.meaning),
            "task": ss.task.value,
            "evaluated_on": f"{report_dir}/report.json ({Path(report['inputs']['manifest']).name})",
        }
    )
    return out


def tail_model(report_dir: Path) -> dict[str, Any]:
    """Normal fits to the owned impostor cosines: as fitted, and widened to match issue 11's observation."""
    report, folder = read_report(report_dir)
    ss = reload(report, folder)[0].ss
    ok = ~ss.fta & ~ss.good
    cos = [cosine_from_similarity(float(s)) for s in ss.scores[ok]]
    mean = sum(cos) / len(cos)
    sd = math.sqrt(sum((c - mean) ** 2 for c in cos) / (len(cos) - 1))
    observed = ISSUE_11["accepted"] / ISSUE_11["impostor_pairs"]
    wide = (ISSUE_11["cosine"] - mean) / float(norm.isf(observed))
    return {"mean": mean, "sd": sd, "sd_widened": max(sd, wide), "n": len(cos)}


def fmr_estimates(model: dict[str, Any], cos: float) -> dict[str, float]:
    return {
        "normal_fit": float(norm.sf((cos - model["mean"]) / model["sd"])),
        "normal_fit_widened": float(norm.sf((cos - model["mean"]) / model["sd_widened"])),
    }


def extrapolation_block(model: dict[str, Any], cos: float) -> dict[str, Any]:
    est = fmr_estimates(model, cos)
    at = {
        key: {
            f"fmr={target_key(rate)}": round(model["mean"] + float(norm.isf(rate)) * model[sd], 4)
            for rate in (1e-3, 1e-4, 1e-5, 1e-6)
        }
        for key, sd in (("normal_fit", "sd"), ("normal_fit_widened", "sd_widened"))
    }
    return {
        "kind": "model-based extrapolation, not a measurement",
        "model": (
            f"normal fit to {model['n']} real impostor cosines of 6 people (mean {model['mean']:.4f}, sd "
            f"{model['sd']:.4f}); widened: sd {model['sd_widened']:.4f}, the spread that reproduces issue "
            f"11's {ISSUE_11['accepted']} of {ISSUE_11['impostor_pairs']} real impostor pairs at cosine >= "
            f"{ISSUE_11['cosine']}"
        ),
        "cosine": cos,
        "fmr_estimate": {k: float(f"{v:.3g}") for k, v in est.items()},
        "cosine_at": at,
    }


def duplicate_evidence(report_dir: Path, samples: Path, value: float) -> dict[str, Any]:
    """Leave-identity-out 1:N searches built from the pair scores: each probe against the enrolled photos."""
    scores, _ = _pairs_scores(report_dir)
    rows = list(csv.DictReader(samples.open(encoding="utf-8")))
    gallery = [(r["subject"], r["path"]) for r in rows if r["label"] == "enroll"]
    probes = [(r["subject"], r["path"]) for r in rows if r["label"] == "probe"]
    non_mated, mated = [], []
    for subject, path in probes:
        others = [scores[(path, g)] for s, g in gallery if s != subject and (path, g) in scores]
        mates = [scores[(path, g)] for s, g in gallery if s == subject and (path, g) in scores]
        if others:
            non_mated.append(max(others))
        if mates:
            mated.append(max(mates))
    fp = sum(s >= value for s in non_mated)
    fn = sum(s < value for s in mated)
    subjects = len({s for s, _ in gallery} | {s for s, _ in probes})

    def entry(errors: int, n: int) -> dict[str, Any]:
        low, high = clopper_pearson(errors, n, CONFIDENCE)
        return {"value": errors / n, "ci_low": low, "ci_high": high, "errors": errors, "n": n}

    return {
        "rates": ["fpir", "fnir"],
        "fpir": entry(fp, len(non_mated)),
        "fnir": entry(fn, len(mated)),
        "n_mated_searches": len(mated),
        "n_non_mated_searches": len(non_mated),
        "gallery_size": len(gallery),
        "subjects": subjects,
        "data": "real",
        "confidence": CONFIDENCE,
        "interval": "exact binomial (Clopper-Pearson)",
        "supported": False,
        "note": (
            f"FPIR={K_DUP} at a gallery of {DUPLICATE_GALLERY:,} needs a per-comparison FMR near "
            f"{K_PER}; the owned set has {len(non_mated)} non-mated searches "
            f"against a gallery of {len(gallery)} ({subjects} people): far too few to support or refute it"
        ),
        "max_non_mated": round(max(non_mated), 6),
        "min_mated": round(min(mated), 6),
        "evaluated_on": f"{samples.relative_to(ROOT)} (leave-identity-out searches; scores: {report_dir})",
    }


def fpir_table(fmr_by_source: dict[str, tuple[float, str]]) -> list[dict[str, Any]]:
    rows = []
    for n in GALLERY_SIZES:
        row: dict[str, Any] = {"gallery_size": n}
        for key, (fmr, _) in fmr_by_source.items():
            row[key] = float(f"{-math.expm1(n * math.log1p(-fmr)):.3g}")
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policy", type=Path, default=default_policy_path())
    parser.add_argument("--pairs-report", type=Path, default=Path("docs/face-eval/pairs"))
    parser.add_argument("--samples", type=Path, default=ROOT / "datasets/faces/samples.csv")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()

    policy = load_policy(args.policy, warn=False)
    backend = str(policy.params("face_match").get("backend", "sface"))
    if backend != "sface":
        raise SystemExit(
            f"margins are chosen for sface only; backend {backend!r} needs its own (docs/policy.md)"
        )
    point = published_operating_point(backend)
    report, _ = read_report(args.pairs_report)
    if (report.get("check") or {}).get("params", {}).get("backend") != backend:
        raise SystemExit(f"{args.pairs_report} was not scored with backend {backend}")
    match_value, duplicate_value = _similarity(MATCH_COSINE), _similarity(DUPLICATE_COSINE)
    assert point.similarity <= match_value <= duplicate_value  # never looser than published; 1:N >= 1:1

    model = tail_model(args.pairs_report)
    margin = (
        f"published cosine {point.cosine} (similarity {point.similarity}) is an LFW accuracy-optimal point "
        f"that evidences FMR of about {target_key(point.evidences_fmr)} (3,000 impostor pairs); for "
        f"fmr={K_MATCH} the threshold is set stricter, at cosine {MATCH_COSINE}, above the normal-tail "
        "estimates of the FMR=1e-4 cosine from the owned impostor scores (see extrapolation)"
    )
    match_owned = owned_verification(args.pairs_report, match_value, MATCH_FMR)
    match_entry = {
        "source": {**point.as_source(), "margin": margin, "cosine": MATCH_COSINE},
        "achieved": match_owned,
        "extra": {
            "reason": (
                f"target fmr={K_MATCH} for 1:1 selfie-to-document matching; owned real data "
                f"({match_owned['n_impostor']} impostor pairs of {match_owned['subjects']} people) cannot "
                "verify it, so the value comes from the published operating point plus a margin"
            ),
            "extrapolation": extrapolation_block(model, MATCH_COSINE),
        },
    }
    dup_owned = duplicate_evidence(args.pairs_report, args.samples, duplicate_value)
    est = fmr_estimates(model, DUPLICATE_COSINE)
    owned_fmr_high = float(
        owned_verification(args.pairs_report, duplicate_value, MATCH_FMR)["fmr"]["ci_high"]
    )
    sources = {
        "published_lfw_bound": (
            point.evidences_fmr,
            "FMR <= ~1e-3: published LFW evidence at the looser 0.363",
        ),
        "owned_upper_95": (owned_fmr_high, "upper end of the owned FMR interval (0 of 103 impostor pairs)"),
        "extrapolated_widened": (est["normal_fit_widened"], "normal tail widened to issue 11 (a model)"),
        "extrapolated_fit": (est["normal_fit"], "normal tail fitted to the owned impostors (a model)"),
    }
    dup_entry = {
        "source": {**point.as_source(), "margin": "1:N is never looser than 1:1", "cosine": DUPLICATE_COSINE},
        "achieved": dup_owned,
        "extra": {
            "reason": (
                f"target fpir={K_DUP} for a gallery of {DUPLICATE_GALLERY:,} enrolled people needs "
                f"a per-comparison FMR near {K_PER}; no data we hold supports "
                "that, so the value is the 1:1 threshold made stricter (cosine "
                f"{DUPLICATE_COSINE} >= {MATCH_COSINE}); retune for larger galleries"
            ),
            "target_gallery_size": DUPLICATE_GALLERY,
            "fpir_model": "FPIR(N) = 1 - (1 - FMR)^N: N independent non-mated comparisons per search",
            "fpir_by_gallery_size": fpir_table(sources),
            "fpir_sources": {k: {"fmr": float(f"{v:.3g}"), "what": w} for k, (v, w) in sources.items()},
            "extrapolation": extrapolation_block(model, DUPLICATE_COSINE),
        },
    }
    print(
        json.dumps({"match": [match_value, match_entry], "duplicate": [duplicate_value, dup_entry]}, indent=1)
    )
    if args.dry_run:
        return
    write_threshold(
        args.policy,
        "face_match",
        "match",
        match_value,
        target=f"fmr={K_MATCH}",
        achieved=match_entry["achieved"],
        source=match_entry["source"],
        status="published",
        extra=match_entry["extra"],
    )
    write_threshold(
        args.policy,
        "face_duplicate",
        "duplicate",
        duplicate_value,
        target=f"fpir={K_DUP} at gallery size {DUPLICATE_GALLERY:,}",
        achieved=dup_entry["achieved"],
        source=dup_entry["source"],
        status="published",
        extra=dup_entry["extra"],
    )
    print(f"wrote {args.policy}")


if __name__ == "__main__":
    main()
