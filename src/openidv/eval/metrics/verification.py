"""Verification (1:1) error rates, ISO/IEC 19795-1: FMR, FNMR, DET, EER, FNMR at FMR targets, FTA.

Rates are computed twice. Without failures to acquire (the standard's FMR and FNMR: only comparisons that
produced a score), and with them (generalised rates: a genuine comparison that failed to acquire is a
false non-match, an impostor one is not a false match), reported as ``*_incl_fta``. The FTA rate itself
is reported per class.

A target FMR below what the impostor count can support (no error seen in n comparisons only shows
FMR <= ~3/n at 95%) gets no number, and the report says how many comparisons it would need.

Identification (1:N) reuses this module on one row per search (see ``identification``), with FPIR and
FNIR in place of FMR and FNMR.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from openidv.eval.curves import Curves, downsample, group_curves, roc_auc
from openidv.eval.data import BoolArray, FloatArray, ScoredSet
from openidv.eval.metrics.common import (
    Options,
    Plan,
    Stats,
    W,
    at_target,
    cached_sums,
    clean,
    entry,
    put_eer,
    put_rate,
    scalar,
    support,
)
from openidv.eval.targets import target_key


def curves_of(ss: ScoredSet, plan: Plan, weights: W = None) -> tuple[Curves, Curves]:
    """(without FTA, with FTA) error curves on the plan's threshold grid."""
    ok = ~ss.fta
    good = plan.group(ss, "good", ss.good & ok)
    bad = plan.group(ss, "bad", ~ss.good & ok)
    excl = group_curves(good, bad, ss.meaning, weights)
    if not ss.fta.any():
        return excl, excl
    # a failure to acquire is rejected at every threshold: the with-FTA curves follow from the counts
    _, _, fta_good, _, fta_bad, _ = fta_sums(ss, plan, weights)
    return excl, excl.with_always_rejected(fta_good, fta_bad)


def curve_stats(
    ss: ScoredSet, plan: Plan, weights: W = None, curves_out: dict[str, FloatArray] | None = None
) -> Stats:
    """Statistics that re-choose the threshold in every replicate: EER, AUC, error at each target."""
    v = ss.vocabulary
    excl, incl = curves_of(ss, plan, weights)
    out: Stats = {}
    put_eer(out, excl)
    out["roc_auc"] = roc_auc(excl)
    for tau in plan.targets:
        key = target_key(tau)
        at_target(
            out,
            excl,
            tau,
            side="bad",
            report_name=f"{v.at_target}:{key}",
            achieved_name=f"achieved:{key}",
        )
        at_target(
            out,
            incl,
            tau,
            side="bad",
            report_name=f"incl_fta:{v.at_target}:{key}",
            achieved_name=f"incl_fta:achieved:{key}",
        )
    sums = fta_sums(ss, plan, weights)
    put_rate(out, "fta", sums[0], sums[1])
    put_rate(out, f"fta:{v.good}", sums[2], sums[3])
    put_rate(out, f"fta:{v.bad}", sums[4], sums[5])
    if curves_out is not None and weights is None:
        keep_curves(curves_out, excl, "")
        keep_curves(curves_out, incl, "incl_fta:")
    return out


def keep_curves(curves_out: dict[str, FloatArray], c: Curves, prefix: str) -> None:
    """A plottable sample of a point-estimate curve (a few hundred points, both ends kept)."""
    if c.thresholds.size == 0:
        return
    idx = downsample(c.bad_err[0], c.good_err[0])
    curves_out[f"{prefix}thresholds"] = c.thresholds[idx]
    curves_out[f"{prefix}bad_err"] = c.bad_err[0][idx]
    curves_out[f"{prefix}good_err"] = c.good_err[0][idx]


def fta_sums(ss: ScoredSet, plan: Plan, weights: W) -> list[FloatArray]:
    """Weighted (FTA, all, FTA good, good, FTA bad, bad) counts."""

    def masks() -> list[BoolArray]:
        everyone = np.ones(ss.n, dtype=bool)
        return [ss.fta, everyone, ss.fta & ss.good, ss.good, ss.fta & ~ss.good, ~ss.good]

    return cached_sums(plan.cache, "fta", weights, masks)


def threshold_stats(
    ss: ScoredSet, threshold: float, weights: W = None, cache: dict[str, Any] | None = None
) -> Stats:
    """Error rates at one fixed threshold (the operating point), without and with FTA."""
    v = ss.vocabulary

    def masks() -> list[BoolArray]:
        accepted = ss.accepted(threshold)
        ok = ~ss.fta
        good, bad = ss.good, ~ss.good
        return [
            *(accepted & bad & ok, bad & ok, ~accepted & good & ok, good & ok),
            *(accepted & bad, bad, ~accepted & good, good),
        ]

    s = cached_sums(cache, f"op:{threshold!r}", weights, masks)
    out: Stats = {}
    put_rate(out, f"op:{v.bad_err}", s[0], s[1])
    put_rate(out, f"op:{v.good_err}", s[2], s[3])
    put_rate(out, f"op:incl_fta:{v.bad_err}", s[4], s[5])
    put_rate(out, f"op:incl_fta:{v.good_err}", s[6], s[7])
    return out


def target_entries(
    ss: ScoredSet,
    plan: Plan,
    point: Mapping[str, FloatArray],
    reps: Mapping[str, FloatArray],
    options: Options,
    *,
    prefix: str = "",
    n_good: float,
    n_bad: float,
    support_n: float | None = None,
    support_what: str | None = None,
    flip: bool = False,
    stat: str | None = None,
) -> dict[str, Any]:
    """``{"1e-3": {"value", "ci_low", "ci_high", "threshold", "n_<good>", "n_<bad>", ...}}``.

    ``stat`` names the internal statistic when it differs from the report key (a fraud classifier stores
    its miss rate and reports recall, ``flip=True``).
    """
    v = ss.vocabulary
    result: dict[str, Any] = {}
    constrained = v.bad_err if v.constrained == "bad" else v.good_err
    for tau in plan.targets:
        key = target_key(tau)
        name = f"{prefix}{stat or v.at_target}:{key}"
        n_constrained = n_bad if v.constrained == "bad" else n_good
        supported, note = support(
            n_constrained if support_n is None else support_n,
            tau,
            options.confidence,
            support_what or f"{v.bad if v.constrained == 'bad' else v.good} {v.unit}",
            constrained,
        )
        threshold = scalar(point, f"{name}#t")
        item: dict[str, Any] = {
            "value": None,
            "ci_low": None,
            "ci_high": None,
            "threshold": clean(threshold),
            v.n_good: int(n_good),
            v.n_bad: int(n_bad),
            "supported": supported,
        }
        if supported and np.isfinite(threshold):
            e = entry(name, point, reps, options.confidence, flip=flip)
            item.update(e)
            item[constrained] = entry(f"{prefix}achieved:{key}", point, reps, options.confidence)
        elif supported:
            item["supported"] = False
            note = f"no threshold meets {constrained.upper()}<={key}"
        if note:
            item["threshold"] = None
            item["note"] = note
        result[key] = item
    return result


def eer_entry(
    ss: ScoredSet,
    point: Mapping[str, FloatArray],
    reps: Mapping[str, FloatArray],
    options: Options,
    n_good: float,
    n_bad: float,
) -> dict[str, Any]:
    v = ss.vocabulary
    e = entry("eer", point, reps, options.confidence)
    e.update(
        {
            "low": clean(scalar(point, "eer_low")),
            "high": clean(scalar(point, "eer_high")),
            "threshold": clean(scalar(point, "eer#t")),
            v.n_good: int(n_good),
            v.n_bad: int(n_bad),
        }
    )
    return e


def summarize(
    ss: ScoredSet,
    plan: Plan,
    point: Mapping[str, FloatArray],
    reps: Mapping[str, FloatArray],
    options: Options,
) -> dict[str, Any]:
    """The ``metrics`` section of a verification (or identification) report."""
    v = ss.vocabulary
    ok = ~ss.fta
    n_good, n_bad = float(np.sum(ss.good & ok)), float(np.sum(~ss.good & ok))
    n_good_all, n_bad_all = float(np.sum(ss.good)), float(np.sum(~ss.good))
    metrics: dict[str, Any] = {"eer": eer_entry(ss, point, reps, options, n_good, n_bad)}
    metrics[v.at_target] = target_entries(ss, plan, point, reps, options, n_good=n_good, n_bad=n_bad)
    metrics[f"{v.at_target}_incl_fta"] = target_entries(
        ss, plan, point, reps, options, prefix="incl_fta:", n_good=n_good_all, n_bad=n_bad_all
    )
    metrics["roc_auc"] = {
        **entry("roc_auc", point, reps, options.confidence),
        v.n_good: int(n_good),
        v.n_bad: int(n_bad),
    }
    metrics["fta"] = {
        **entry("fta", point, reps, options.confidence),
        v.good: entry(f"fta:{v.good}", point, reps, options.confidence),
        v.bad: entry(f"fta:{v.bad}", point, reps, options.confidence),
    }
    if plan.op_threshold is not None:
        metrics["operating_point"] = {
            "label": plan.op_label,
            "threshold": plan.op_threshold,
            v.bad_err: entry(f"op:{v.bad_err}", point, reps, options.confidence),
            v.good_err: entry(f"op:{v.good_err}", point, reps, options.confidence),
            f"{v.bad_err}_incl_fta": entry(f"op:incl_fta:{v.bad_err}", point, reps, options.confidence),
            f"{v.good_err}_incl_fta": entry(f"op:incl_fta:{v.good_err}", point, reps, options.confidence),
        }
    return metrics
