"""openidv.eval: measure a check or a vendor on a labelled set, with honest error rates.

The whole layer in a few calls::

    from openidv import eval as ev

    run = ev.evaluate("pairs.csv", "out/", check="face_match")        # or scores="vendor.csv"
    run.report["metrics"]["fnmr_at_fmr"]["1e-3"]                      # value, interval, threshold, counts
    ev.compare("out/base", "out/cand", "gates.yaml").passed          # the regression gate
    ev.tune("out/report.json", "fmr=1e-4", policy="policy.yaml")     # write the tuned threshold

and on plain arrays: ``ev.eer(genuine, impostor)``, ``ev.fnmr_at_fmr(genuine, impostor, 1e-3)``,
``ev.required_trials(1e-4)``. Names load lazily so ``import openidv.eval`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openidv.eval.bootstrap import Interval, clopper_pearson, run_bootstrap, upper_bound_zero_errors
    from openidv.eval.curves import (
        Curves,
        average_precision,
        candidate_thresholds,
        equal_error_rate,
        error_curves,
        roc_auc,
    )
    from openidv.eval.data import ScoredSet, Task
    from openidv.eval.gate import Comparison, GateSpec, compare, load_gates
    from openidv.eval.loading import scored_set
    from openidv.eval.manifests import Manifest, load_manifest
    from openidv.eval.metrics import Evaluation, evaluate_set
    from openidv.eval.metrics.common import Options
    from openidv.eval.runner import RunResult, evaluate, read_report
    from openidv.eval.samplesize import advise, required_trials, rule_of_30
    from openidv.eval.scores import ScoreTable, read_scores, write_scores
    from openidv.eval.simple import det_curve, eer, fnmr_at_fmr
    from openidv.eval.targets import Target, parse_target, target_key
    from openidv.eval.thresholds import Tuned, tune

_EXPORTS = {
    "Interval": "bootstrap",
    "clopper_pearson": "bootstrap",
    "run_bootstrap": "bootstrap",
    "upper_bound_zero_errors": "bootstrap",
    "Curves": "curves",
    "average_precision": "curves",
    "candidate_thresholds": "curves",
    "equal_error_rate": "curves",
    "error_curves": "curves",
    "roc_auc": "curves",
    "ScoredSet": "data",
    "Task": "data",
    "Comparison": "gate",
    "GateSpec": "gate",
    "compare": "gate",
    "load_gates": "gate",
    "scored_set": "loading",
    "Manifest": "manifests",
    "load_manifest": "manifests",
    "Evaluation": "metrics",
    "evaluate_set": "metrics",
    "Options": "metrics.common",
    "RunResult": "runner",
    "evaluate": "runner",
    "read_report": "runner",
    "advise": "samplesize",
    "required_trials": "samplesize",
    "rule_of_30": "samplesize",
    "ScoreTable": "scores",
    "read_scores": "scores",
    "write_scores": "scores",
    "det_curve": "simple",
    "eer": "simple",
    "fnmr_at_fmr": "simple",
    "Target": "targets",
    "parse_target": "targets",
    "target_key": "targets",
    "Tuned": "thresholds",
    "tune": "thresholds",
}

__all__ = [
    "Comparison",
    "Curves",
    "Evaluation",
    "GateSpec",
    "Interval",
    "Manifest",
    "Options",
    "RunResult",
    "ScoreTable",
    "ScoredSet",
    "Target",
    "Task",
    "Tuned",
    "advise",
    "average_precision",
    "candidate_thresholds",
    "clopper_pearson",
    "compare",
    "det_curve",
    "eer",
    "equal_error_rate",
    "error_curves",
    "evaluate",
    "evaluate_set",
    "fnmr_at_fmr",
    "load_gates",
    "load_manifest",
    "parse_target",
    "read_report",
    "read_scores",
    "required_trials",
    "roc_auc",
    "rule_of_30",
    "run_bootstrap",
    "scored_set",
    "target_key",
    "tune",
    "upper_bound_zero_errors",
    "write_scores",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'openidv.eval' has no attribute {name!r}")
    return getattr(importlib.import_module(f"openidv.eval.{module}"), name)
