"""Task metrics and the one function that evaluates a scored set: point estimates, bootstrap, summary.

``evaluate_set`` fixes a plan (threshold grid, targets, slices), computes the point estimate, picks the
operating point (the given threshold or target, else the strictest default target the data supports, else
the EER threshold), runs the subject bootstrap for every statistic in one pass, and summarises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from openidv.errors import InvalidInput
from openidv.eval.bootstrap import run_bootstrap
from openidv.eval.data import FloatArray, ScoredSet, Task
from openidv.eval.metrics import classification, fairness, identification, pad, verification
from openidv.eval.metrics.common import Options, Plan, Stats, W, make_plan, scalar
from openidv.eval.samplesize import required_trials
from openidv.eval.targets import target_key

MODULES: Mapping[Task, ModuleType] = {
    Task.VERIFICATION: verification,
    Task.IDENTIFICATION: identification,
    Task.PAD: pad,
    Task.CLASSIFICATION: classification,
}


@dataclass
class Evaluation:
    """Everything one evaluation computed; ``metrics`` and ``fairness`` are the report sections."""

    ss: ScoredSet
    plan: Plan
    options: Options
    point: Stats
    reps: dict[str, FloatArray]
    curves: dict[str, FloatArray]
    metrics: dict[str, Any]
    fairness: dict[str, Any] | None = None
    skipped_slices: dict[str, str] = field(default_factory=dict)


def constrained_count(ss: ScoredSet, plan: Plan) -> float:
    """How many rows back a claim on the constrained rate (for PAD: the rarest attack species)."""
    ok = ~ss.fta
    if ss.task == Task.PAD:
        return float(pad.rarest_species(ss, plan)[1])
    if ss.vocabulary.constrained == "bad":
        return float(np.sum(~ss.good & ok))
    return float(np.sum(ss.good & ok))


def curve_stats(
    ss: ScoredSet, plan: Plan, weights: W = None, curves_out: dict[str, FloatArray] | None = None
) -> Stats:
    fn: Callable[..., Stats] = MODULES[ss.task].curve_stats
    return fn(ss, plan, weights, curves_out)


def threshold_stats(ss: ScoredSet, plan: Plan, weights: W = None) -> Stats:
    """Statistics at the plan's fixed operating threshold, fairness slices included."""
    if plan.op_threshold is None:
        return {}
    fn: Callable[..., Stats] = MODULES[ss.task].threshold_stats
    out = fn(ss, plan.op_threshold, weights, plan.cache)
    if plan.slices:
        out.update(fairness.fairness_stats(ss, plan, plan.op_threshold, weights))
    return out


def plan_for(ss: ScoredSet, options: Options) -> Plan:
    plan = make_plan(ss, options)
    op = options.operating_point
    if op is not None:
        if op.rate != ss.vocabulary.target_rate:
            raise InvalidInput(
                f"operating point: {op} does not apply to a {ss.task.value} evaluation; use "
                f"{ss.vocabulary.target_rate}=<rate>"
            )
        if op.value not in plan.targets:
            plan.targets = tuple(sorted({*plan.targets, op.value}, reverse=True))
    return plan


def choose_operating_point(
    ss: ScoredSet, plan: Plan, point: Mapping[str, FloatArray], options: Options
) -> None:
    """Set ``plan.op_threshold`` and ``plan.op_label`` (see the module docstring for the order)."""
    v = ss.vocabulary
    stat = "fnr_at_fpr" if ss.task == Task.CLASSIFICATION else v.at_target
    if options.threshold is not None:
        plan.op_threshold, plan.op_label = float(options.threshold), f"threshold={options.threshold:g}"
        return
    if options.operating_point is not None:
        t = scalar(point, f"{stat}:{options.operating_point.key}#t")
        if np.isfinite(t):
            plan.op_threshold, plan.op_label = t, str(options.operating_point)
            return
    n = constrained_count(ss, plan)
    for tau in sorted(plan.targets):
        t = scalar(point, f"{stat}:{target_key(tau)}#t")
        if np.isfinite(t) and tau < 1 and n >= required_trials(tau, options.confidence):
            plan.op_threshold, plan.op_label = t, f"{v.target_rate}={target_key(tau)}"
            return
    t = scalar(point, "eer#t")
    if np.isfinite(t):
        plan.op_threshold, plan.op_label = t, "eer"


def evaluate_set(
    ss: ScoredSet,
    options: Options | None = None,
    *,
    skipped_slices: Mapping[str, str] | None = None,
    keep_curves: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Compute every metric of ``ss`` with intervals (the Python API behind ``openidv eval run``)."""
    options = options or Options()
    module = MODULES[ss.task]
    plan = plan_for(ss, options)
    curves: dict[str, FloatArray] = {}
    point = curve_stats(ss, plan, None, curves if keep_curves else None)
    choose_operating_point(ss, plan, point, options)
    point.update(threshold_stats(ss, plan, None))

    def curve_fn(w: W) -> Stats:
        return curve_stats(ss, plan, w)

    def threshold_fn(w: W) -> Stats:
        return threshold_stats(ss, plan, w)

    reps = run_bootstrap(
        ss, [curve_fn, threshold_fn], options.replicates, options.seed, options.unit, progress
    )
    metrics: dict[str, Any] = module.summarize(ss, plan, point, reps, options)
    fair = None
    if plan.slices and plan.op_threshold is not None:
        fair = fairness.summarize(ss, plan, point, reps, options, skipped_slices)
    return Evaluation(ss, plan, options, point, reps, curves, metrics, fair, dict(skipped_slices or {}))
