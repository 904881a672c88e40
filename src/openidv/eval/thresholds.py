"""Threshold tuning: pick the threshold that meets a target, state what it achieves, write it to a policy.

``tune`` re-reads the scores behind a report, finds the least strict threshold meeting the target (e.g.
the lowest similarity threshold with FMR <= 1e-4, which gives the lowest FNMR), and measures both error
rates *at that fixed threshold* with subject-bootstrap intervals: once written to a policy the threshold
is fixed, so these are the rates a deployment should expect on data like the evaluation set. A target the
sample cannot support (rule of three) is refused unless ``allow_unsupported``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from openidv.decision.policy import Policy, load_policy, require_readers, write_threshold
from openidv.decision.policy import default_policy_path as packaged_policy_path
from openidv.errors import InvalidInput
from openidv.eval.data import FloatArray, ScoredSet, Task, decision_rule
from openidv.eval.metrics import evaluate_set
from openidv.eval.runner import options_of, read_report, reload
from openidv.eval.samplesize import required_trials
from openidv.eval.targets import Target, parse_target
from openidv.results import Meaning

DEFAULT_POLICY_FILE = "policy.yaml"
#: decimals of the threshold tune picks (a short value inside the gap between two scores, so it reads well)
POLICY_DECIMALS = 6


def default_policy_path() -> Path:
    """Where tuned thresholds go unless told: ``$OPENIDV_POLICY``, else ``./policy.yaml``."""
    return Path(os.environ.get("OPENIDV_POLICY") or DEFAULT_POLICY_FILE)


def default_threshold_name(meaning: Meaning) -> str:
    return "accept" if meaning == Meaning.SIMILARITY else "attack"


def threshold_name_for(policy: Policy, check: str, meaning: Meaning) -> str:
    """The threshold of ``check`` that the policy's rules read, when there is exactly one (``match`` for
    ``face_match``); otherwise the conventional name for the score's meaning."""
    read = {r.when.score_threshold for r in policy.rules if r.when.check == check and r.when.score_threshold}
    return read.pop() if len(read) == 1 else default_threshold_name(meaning)


@dataclass(frozen=True)
class Tuned:
    """The chosen threshold and what it achieves, as written (or to be written) into the policy."""

    check: str
    name: str
    value: float
    target: Target
    achieved: dict[str, Any]
    policy: Path | None
    report: Path

    def summary(self) -> str:
        parts = []
        for rate in self.achieved["rates"]:
            e = self.achieved[rate]
            if e.get("value") is None:
                parts.append(f"{rate.upper()} n/a")
                continue
            parts.append(
                f"{rate.upper()} {e['value']:.4%} [{e['ci_low']:.4%}, {e['ci_high']:.4%}] "
                f"({e.get('errors', '?')}/{e.get('n', '?'):,})"
            )
        where = (
            f" -> {self.policy} checks.{self.check}.thresholds.{self.name}" if self.policy else " (dry run)"
        )
        flag = "" if self.achieved.get("supported") else "UNSUPPORTED (forced) "
        return f"{flag}threshold {self.value:.6g} for {self.target}: " + "; ".join(parts) + where


def tune(
    report_path: str | Path,
    target: str | Target,
    *,
    policy: str | Path | None = None,
    check: str | None = None,
    name: str | None = None,
    allow_unsupported: bool = False,
    replicates: int | None = None,
    dry_run: bool = False,
    data: str | None = None,
) -> Tuned:
    """Choose, measure and (unless ``dry_run``) write the threshold for ``target`` (e.g. ``"fmr=1e-4"``)."""
    report, folder = read_report(report_path)
    goal = target if isinstance(target, Target) else parse_target(target)
    loaded, _ = reload(report, folder)
    ss = loaded.ss
    v = ss.vocabulary
    if goal.rate != v.target_rate:
        raise InvalidInput(f"target {goal}: a {ss.task.value} report is tuned with {v.target_rate}=<rate>")
    check_name = check or (report.get("check") or {}).get("name")
    if not check_name:
        raise InvalidInput(
            "the report does not name a check (its score file had no '# check:' line); pass --check NAME"
        )
    policy_path = Path(policy) if policy else default_policy_path()
    written = load_policy(policy_path if policy_path.exists() else packaged_policy_path(), warn=False)
    threshold_name = name or threshold_name_for(written, check_name, ss.meaning)
    if not dry_run:
        require_readers(written, check_name, threshold_name)  # a threshold no rule reads decides nothing
    options = replace(
        options_of(report, targets=(goal.value,), operating_point=goal, replicates=replicates, slices=()),
        threshold=None,
    )
    ev = evaluate_set(ss, options, keep_curves=False)
    at_key = v.at_target
    item = ev.metrics[at_key][goal.key]
    if ev.plan.op_threshold is None or ev.plan.op_label != str(goal):
        raise InvalidInput(f"target {goal}: no threshold meets it on this data")
    need = data_needed(ss, goal, options.confidence)
    supported = bool(item.get("supported")) and need.enough
    reason = need.sentence() if not need.enough else str(item.get("note") or need.sentence())
    if not supported and not allow_unsupported:
        raise InvalidInput(f"target {goal}: {reason}; collect more data or pass --allow-unsupported")
    op = ev.metrics["operating_point"]
    rates = _achieved_rates(ss.task)
    achieved: dict[str, Any] = {"rates": list(rates)}
    for public, source in rates.items():
        e = op[source]
        achieved[public] = {k: e.get(k) for k in ("value", "ci_low", "ci_high", "errors", "n") if k in e}
    achieved.update(
        {
            v.n_good: int((ss.good & ~ss.fta).sum()),
            v.n_bad: int((~ss.good & ~ss.fta).sum()),
            "confidence": options.confidence,
            "interval": "subject bootstrap widened to exact binomial, at the fixed threshold",
            "replicates": options.replicates,
            "subjects": need.subjects,
            "data": data or "unknown",
            "supported": supported,
            "needed": need.as_dict(),
            "meaning": ss.meaning.value,
            "decision_rule": decision_rule(ss.meaning),
            "task": ss.task.value,
        }
    )
    if not supported:
        achieved["note"] = reason
    value, exact = storable_threshold(ss.scores[~ss.fta], float(ev.plan.op_threshold))
    achieved["threshold_on_curve"] = float(ev.plan.op_threshold)
    if not exact:
        achieved["rounding_note"] = (
            f"scores are closer than 1e-{POLICY_DECIMALS} around the threshold; the policy's rounding may "
            "change decisions on some rows"
        )
    report_file = (folder / "report.json").resolve()
    if not dry_run:
        write_threshold(
            policy_path,
            check_name,
            threshold_name,
            value,
            target=str(goal),
            achieved=achieved,
            source=_portable(report_file),
            status="supported" if supported else "unsupported",
            extra=None if supported else {"reason": reason},
        )
    return Tuned(
        check_name, threshold_name, value, goal, achieved, None if dry_run else policy_path, report_file
    )


def subjects_needed(comparisons: int) -> int:
    """People needed for ``comparisons`` impostor comparisons to each pair two different people only once.

    Comparisons of the same two people are correlated (one lookalike pair can fail them all), so the
    independent unit of an FMR claim is closer to the pair of people than to the pair of images: the
    smallest S with S(S-1)/2 >= comparisons (246 people for the 29,956 comparisons of FMR 1e-4).
    """
    if comparisons <= 1:
        return 2
    people = math.ceil((1 + math.sqrt(1 + 8 * comparisons)) / 2)
    while (people - 1) * (people - 2) // 2 >= comparisons:
        people -= 1
    return max(2, people)


@dataclass(frozen=True)
class DataNeeded:
    """What a target needs (rule of three; for FMR also enough people) against what the data has."""

    target: Target
    what: str  # what one trial is: "impostor comparisons", "attack samples", ...
    needed: int
    have: int
    subjects_needed: int | None
    subjects: int

    @property
    def enough(self) -> bool:
        return self.have >= self.needed and (
            self.subjects_needed is None or self.subjects >= self.subjects_needed
        )

    def sentence(self) -> str:
        people = f" from at least {self.subjects_needed:,} people" if self.subjects_needed else ""
        state = "supported by" if self.enough else "not supported by"
        return (
            f"{self.target.rate.upper()}={self.target.key} is {state} this data: it needs at least "
            f"{self.needed:,} {self.what}{people} (rule of three, 95%); this set has {self.have:,} "
            f"{self.what} from {self.subjects:,} people"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "trials": self.needed,
            "subjects": self.subjects_needed,
            "have_trials": self.have,
            "have_subjects": self.subjects,
            "rule": "rule of three (exact one-sided binomial, no error observed)"
            + ("; people: S(S-1)/2 >= trials" if self.subjects_needed else ""),
        }


def data_needed(ss: ScoredSet, goal: Target, confidence: float) -> DataNeeded:
    """The counts ``goal`` needs and the counts of the rows it constrains (acquired rows of that class)."""
    v = ss.vocabulary
    rows = ~ss.fta & (~ss.good if v.constrained == "bad" else ss.good)
    have = int(rows.sum())
    subjects = len(set(ss.subject_a[rows].tolist()) | set(ss.subject_b[rows].tolist()))
    needed = required_trials(goal.value, confidence) if goal.value < 1 else 1
    what = f"{v.bad if v.constrained == 'bad' else v.good} {v.unit}"
    per_people = subjects_needed(needed) if ss.task == Task.VERIFICATION else None
    return DataNeeded(goal, what, needed, have, per_people, subjects)


def storable_threshold(scores: FloatArray, threshold: float) -> tuple[float, bool]:
    """A value the policy file stores exactly that decides every evaluated score as ``threshold`` does.

    Any threshold in (largest score below ``threshold``, ``threshold``] makes the same decisions under
    both tie rules (``score >= t``), and the policy keeps ``POLICY_DECIMALS`` decimals. We take the
    rounded middle of that gap (a little margin both ways); the bool says whether such a value exists.
    """
    finite = scores[np.isfinite(scores)]
    below = finite[finite < threshold]
    if below.size == 0:
        return round(threshold, POLICY_DECIMALS), round(threshold, POLICY_DECIMALS) <= threshold
    low = float(below.max())
    scale = 10.0**POLICY_DECIMALS
    for candidate in (round((low + threshold) / 2, POLICY_DECIMALS), math.ceil(low * scale + 1e-9) / scale):
        if low < candidate <= threshold:
            return candidate, True
    return threshold, False


def _achieved_rates(task: Task) -> dict[str, str]:
    """Public rate name -> key in ``metrics.operating_point``."""
    if task == Task.PAD:
        return {"apcer": "apcer_max", "bpcer": "bpcer"}
    if task == Task.CLASSIFICATION:
        return {"fpr": "fpr", "recall": "recall"}
    if task == Task.IDENTIFICATION:
        return {"fpir": "fpir", "fnir": "fnir"}
    return {"fmr": "fmr", "fnmr": "fnmr"}


def _portable(path: Path) -> str:
    """The report's path relative to the working directory when it lies below it: policies travel."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
