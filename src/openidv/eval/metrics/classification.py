"""Binary fraud classifiers (labels ``legit`` / ``fraud``): ROC AUC, PR AUC, recall at FPR, calibration.

The positive class is ``fraud``. Recall is the share of frauds flagged; FPR the share of legit applicants
flagged. PR AUC is average precision (no interpolation, as scikit-learn defines it). Calibration needs a
score that claims to be a probability: P(fraud) is the score for ``attack`` meaning and 1 - score for
``similarity`` meaning; scores outside [0, 1] get no calibration figures. The reliability curve uses ten
equal-width bins, each with an exact binomial interval on its observed fraud rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from openidv.eval.bootstrap import clopper_pearson
from openidv.eval.curves import average_precision, group_curves, roc_auc
from openidv.eval.data import BoolArray, FloatArray, ScoredSet
from openidv.eval.metrics import verification
from openidv.eval.metrics.common import (
    Options,
    Plan,
    Stats,
    W,
    at_target,
    cached_sums,
    cols,
    entry,
    put_eer,
    put_rate,
    wcount,
)
from openidv.eval.targets import target_key
from openidv.results import Meaning

CALIBRATION_BINS = 10


def fraud_probability(ss: ScoredSet) -> FloatArray | None:
    """P(fraud) per acquired row, or None when the scores are not probabilities."""
    s = ss.scores[~ss.fta]
    if s.size == 0 or s.min() < 0.0 or s.max() > 1.0:
        return None
    return s if ss.meaning == Meaning.ATTACK else 1.0 - s


def curve_stats(
    ss: ScoredSet, plan: Plan, weights: W = None, curves_out: dict[str, FloatArray] | None = None
) -> Stats:
    ok = ~ss.fta
    c = group_curves(
        plan.group(ss, "good", ss.good & ok), plan.group(ss, "bad", ~ss.good & ok), ss.meaning, weights
    )
    out: Stats = {}
    put_eer(out, c)
    out["roc_auc"] = roc_auc(c)
    out["pr_auc"] = average_precision(c)
    for tau in plan.targets:
        key = target_key(tau)
        at_target(
            out,
            c,
            tau,
            side="good",
            report_name=f"fnr_at_fpr:{key}",
            achieved_name=f"achieved:{key}",
        )
    p = fraud_probability(ss)
    if p is not None:
        y = (~ss.good[ok]).astype(np.float64)
        sq = (p - y) ** 2
        w_ok = cols(weights, ok)
        if w_ok is None:
            out["brier"] = np.array([float(np.mean(sq))])
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                out["brier"] = (w_ok @ sq) / w_ok.sum(axis=1)
    put_rate(out, "fta", wcount(ss.fta, weights), wcount(np.ones(ss.n, dtype=bool), weights))
    if curves_out is not None and weights is None:
        verification.keep_curves(curves_out, c, "")
    return out


def threshold_stats(
    ss: ScoredSet, threshold: float, weights: W = None, cache: dict[str, Any] | None = None
) -> Stats:
    def masks() -> list[BoolArray]:
        accepted = ss.accepted(threshold)
        ok = ~ss.fta
        good, bad = ss.good & ok, ~ss.good & ok
        return [~accepted & good, good, accepted & bad, bad, ~accepted & bad, ~accepted & ok]

    s = cached_sums(cache, f"op:{threshold!r}", weights, masks)
    out: Stats = {}
    put_rate(out, "op:fpr", s[0], s[1])
    put_rate(out, "op:fnr", s[2], s[3])
    put_rate(out, "op:precision", s[4], s[5])
    return out


def reliability(ss: ScoredSet, confidence: float) -> dict[str, Any] | None:
    """Reliability curve in ten equal-width bins (scikit-learn's ``calibration_curve`` binning)."""
    p = fraud_probability(ss)
    if p is None:
        return None
    y = (~ss.good[~ss.fta]).astype(np.float64)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bin_ids = np.searchsorted(edges[1:-1], p)
    sums = np.bincount(bin_ids, weights=p, minlength=CALIBRATION_BINS)
    trues = np.bincount(bin_ids, weights=y, minlength=CALIBRATION_BINS)
    totals = np.bincount(bin_ids, minlength=CALIBRATION_BINS)
    bins = []
    for i in range(CALIBRATION_BINS):
        if totals[i] == 0:
            continue
        low, high = clopper_pearson(float(trues[i]), float(totals[i]), confidence)
        bins.append(
            {
                "bin_low": float(edges[i]),
                "bin_high": float(edges[i + 1]),
                "mean_predicted": float(sums[i] / totals[i]),
                "observed": float(trues[i] / totals[i]),
                "ci_low": low,
                "ci_high": high,
                "n": int(totals[i]),
            }
        )
    return {"bins": bins, "n": int(p.size), "probability_of": "fraud"}


def summarize(
    ss: ScoredSet,
    plan: Plan,
    point: Mapping[str, FloatArray],
    reps: Mapping[str, FloatArray],
    options: Options,
) -> dict[str, Any]:
    ok = ~ss.fta
    n_good, n_bad = float(np.sum(ss.good & ok)), float(np.sum(~ss.good & ok))
    counts = {"n_legit": int(n_good), "n_fraud": int(n_bad)}
    metrics: dict[str, Any] = {
        "roc_auc": {**entry("roc_auc", point, reps, options.confidence), **counts},
        "pr_auc": {**entry("pr_auc", point, reps, options.confidence), **counts, "positive": "fraud"},
        "eer": verification.eer_entry(ss, point, reps, options, n_good, n_bad),
        "recall_at_fpr": verification.target_entries(
            ss, plan, point, reps, options, n_good=n_good, n_bad=n_bad, flip=True, stat="fnr_at_fpr"
        ),
        "fta": entry("fta", point, reps, options.confidence),
    }
    if "brier" in point:
        metrics["brier"] = {**entry("brier", point, reps, options.confidence), **counts}
        metrics["calibration"] = reliability(ss, options.confidence)
    else:
        metrics["brier"] = None
        metrics["calibration"] = None
        metrics["calibration_note"] = "scores are not probabilities in [0, 1]; no calibration figures"
    if plan.op_threshold is not None:
        fnr = entry("op:fnr", point, reps, options.confidence)
        metrics["operating_point"] = {
            "label": plan.op_label,
            "threshold": plan.op_threshold,
            "fpr": entry("op:fpr", point, reps, options.confidence),
            "recall": entry("op:fnr", point, reps, options.confidence, flip=True),
            "fnr": fnr,
            "precision": entry("op:precision", point, reps, options.confidence),
        }
    return metrics
