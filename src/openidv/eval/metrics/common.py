"""Shared plumbing for the task metric modules: options, plans, weighted counts and report entries.

Every task module computes a flat dict of named statistics, each an array of shape ``(b,)`` (one value per
bootstrap replicate, ``b = 1`` for the point estimate). Suffixes carry what intervals and reports need:
``name#k`` errors and ``name#n`` trials of a count rate, ``name#t`` the threshold an operating point used.
The bootstrap ignores suffixed names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from openidv.eval.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_REPLICATES, Unit, combine
from openidv.eval.curves import (
    Curves,
    Group,
    candidate_thresholds,
    curves_eer,
    first_at_most,
    last_at_most,
    take,
)
from openidv.eval.data import BoolArray, FloatArray, IntArray, ScoredSet
from openidv.eval.samplesize import required_trials
from openidv.eval.targets import Target, target_key

Stats = dict[str, FloatArray]
W = NDArray[np.float64] | None


@dataclass(frozen=True)
class Options:
    """How to evaluate: targets, operating point, interval settings, slices."""

    targets: tuple[float, ...] | None = None  # None: the task's defaults
    operating_point: Target | None = None  # the one threshold fairness and per-species tables use
    threshold: float | None = None  # or that threshold, given directly
    confidence: float = DEFAULT_CONFIDENCE
    replicates: int = DEFAULT_REPLICATES
    seed: int = 0
    unit: Unit = "subject"
    slices: tuple[str, ...] | None = None  # None: every slice column
    fairness_max_ratio: float = 1.5
    ranks: tuple[int, ...] = (1, 5, 10, 20)

    def as_dict(self) -> dict[str, Any]:
        return {
            "targets": None if self.targets is None else [target_key(t) for t in self.targets],
            "operating_point": None if self.operating_point is None else str(self.operating_point),
            "threshold": self.threshold,
            "confidence": self.confidence,
            "replicates": self.replicates,
            "seed": self.seed,
            "unit": self.unit,
            "slices": None if self.slices is None else list(self.slices),
            "fairness_max_ratio": self.fairness_max_ratio,
            "ranks": list(self.ranks),
        }


@dataclass
class Plan:
    """What a run measures, fixed before the bootstrap so every replicate uses the same grid."""

    thresholds: FloatArray
    targets: tuple[float, ...]
    species: tuple[str, ...] = ()
    slices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    op_threshold: float | None = None
    op_label: str = ""
    ranks: tuple[int, ...] = ()
    cache: dict[str, Any] = field(default_factory=dict)

    def group(self, ss: ScoredSet, name: str, mask: BoolArray) -> Group:
        """Rows under ``mask`` binned on this plan's grid, built once and reused by every replicate."""
        found = self.cache.get(f"group:{name}")
        if not isinstance(found, Group):
            found = self.cache[f"group:{name}"] = Group(ss.scores, mask, self.thresholds)
        return found


def make_plan(ss: ScoredSet, options: Options) -> Plan:
    targets = options.targets if options.targets is not None else ss.vocabulary.default_targets
    slices: dict[str, tuple[str, ...]] = {}
    for col, values in ss.slices.items():
        if options.slices is None or col in options.slices:
            slices[col] = tuple(sorted({str(v) for v in values.tolist()}))
    species = tuple(sorted({str(s) for s in ss.species[~ss.good].tolist() if s}))
    return Plan(
        thresholds=candidate_thresholds(ss.scores[~ss.fta]),
        targets=tuple(targets),
        species=species,
        slices=slices,
        ranks=options.ranks,
    )


# ------------------------------------------------------------------------------------- weighted counts


def cols(weights: W, mask: BoolArray) -> W:
    return None if weights is None else weights[:, mask]


def wcount(mask: BoolArray, weights: W) -> FloatArray:
    """``(b,)`` weighted number of rows under ``mask``."""
    if weights is None:
        return np.array([float(np.count_nonzero(mask))])
    return weights @ mask.astype(np.float64)


def wsums(weights: W, *masks: BoolArray) -> list[FloatArray]:
    """Weighted row counts under each mask, in one pass over the weights: ``(b,)`` each."""
    if weights is None:
        return [np.array([float(np.count_nonzero(m))]) for m in masks]
    stacked = np.stack(masks, axis=1).astype(np.float64)
    sums = np.asarray(weights @ stacked, dtype=np.float64)
    return [sums[:, i] for i in range(len(masks))]


def cached_sums(
    cache: dict[str, Any] | None, key: str, weights: W, masks: Callable[[], list[BoolArray]]
) -> list[FloatArray]:
    """``wsums`` with the stacked mask matrix kept in ``cache``: masks that stay fixed across replicates
    (classes, FTA, decisions at the fixed threshold) are stacked once, not once per bootstrap chunk."""
    if weights is None or cache is None:
        return wsums(weights, *masks())
    matrix = cache.get(f"sums:{key}")
    if matrix is None:
        matrix = cache[f"sums:{key}"] = np.stack(masks(), axis=1).astype(np.float64)
    sums = np.asarray(weights @ matrix, dtype=np.float64)
    return [sums[:, i] for i in range(sums.shape[1])]


def put_rate(out: Stats, name: str, errors: FloatArray, trials: FloatArray) -> None:
    """Store ``errors / trials`` with its counts (NaN where there are no trials)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out[name] = np.where(trials > 0, errors / np.where(trials > 0, trials, 1.0), np.nan)
    out[f"{name}#k"] = errors
    out[f"{name}#n"] = trials


def at_target(
    out: Stats,
    curves: Curves,
    tau: float,
    *,
    side: str,
    report_name: str,
    achieved_name: str,
    constrained: FloatArray | None = None,
) -> None:
    """Operating point meeting a target on one error, and the other error there, into ``out``.

    ``side="bad"``: the target limits the bad class accepted (FMR, APCER, FPIR); the least strict threshold
    meeting it minimises the other error. ``side="good"``: it limits the good class rejected (FPR of a
    fraud classifier); the strictest threshold meeting it is best. ``constrained`` replaces the curve's
    own constrained rate (PAD: APCER of the worst species).
    """
    if side == "bad":
        idx: IntArray = (
            curves.first_bad_at_most(tau) if constrained is None else first_at_most(constrained, tau)
        )
        out[report_name] = curves.good_err_at(idx)
        out[f"{report_name}#k"] = curves.good_rej_at(idx)
        out[f"{report_name}#n"] = curves.n_good
        out[achieved_name] = curves.bad_err_at(idx) if constrained is None else take(constrained, idx)
    else:
        idx = curves.last_good_at_most(tau) if constrained is None else last_at_most(constrained, tau)
        out[report_name] = curves.bad_err_at(idx)
        out[f"{report_name}#k"] = curves.bad_acc_at(idx)
        out[f"{report_name}#n"] = curves.n_bad
        out[achieved_name] = curves.good_err_at(idx) if constrained is None else take(constrained, idx)
    out[f"{report_name}#t"] = curves.threshold_at(idx)


def put_eer(out: Stats, curves: Curves) -> None:
    """EER, its [low, high] interval and its threshold into ``out``."""
    eer = curves_eer(curves)
    out["eer"], out["eer_low"], out["eer_high"] = eer.value, eer.low, eer.high
    out["eer#t"] = curves.threshold_at(eer.index)


def scalar(values: Mapping[str, FloatArray], name: str) -> float:
    arr = values.get(name)
    return float("nan") if arr is None or arr.size == 0 else float(arr[0])


def clean(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def entry(
    name: str,
    point: Mapping[str, FloatArray],
    reps: Mapping[str, FloatArray],
    confidence: float,
    *,
    flip: bool = False,
) -> dict[str, Any]:
    """``{"value", "ci_low", "ci_high", "ci_method"}`` for one statistic (``flip``: report ``1 - x``)."""
    value = scalar(point, name)
    k = scalar(point, f"{name}#k")
    n = scalar(point, f"{name}#n")
    counted = np.isfinite(k) and np.isfinite(n)
    interval = combine(value, reps.get(name), confidence, k if counted else None, n if counted else None)
    if flip:
        interval = interval.flipped()
    out: dict[str, Any] = interval.as_dict()
    if counted:
        out["errors"] = round(k)
        out["n"] = round(n)
    return out


def support(n: float, tau: float, confidence: float, what: str, rate: str) -> tuple[bool, str | None]:
    """Whether ``n`` trials can back a claim of ``rate <= tau`` (rule of three, made exact)."""
    needed = required_trials(tau, confidence) if tau < 1 else 1
    if n >= needed:
        return True, None
    return False, (
        f"{rate.upper()}={target_key(tau)} needs at least {needed:,} {what} to be supported with no error "
        f"observed (rule of three, {confidence:.0%}); this set has {int(n):,}"
    )


def fraction(mask: BoolArray, within: BoolArray, weights: W) -> tuple[FloatArray, FloatArray]:
    """Weighted (errors, trials) of ``mask`` among rows ``within``."""
    return wcount(mask & within, weights), wcount(within, weights)
