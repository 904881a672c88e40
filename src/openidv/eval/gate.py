"""Regression gate: is a candidate non-inferior to a baseline, metric by metric, within a margin?

``gates.yaml`` names metrics, operating points and margins::

    confidence: 0.95          # one-sided
    replicates: 1000
    gates:
      - name: fnmr-at-fmr-1e-3
        metric: fnmr_at_fmr
        at: 1e-3
        max_increase: 0.005   # FNMR may not rise by more than 0.5 points
      - name: auc
        metric: roc_auc
        max_decrease: 0.01

A gate passes when the one-sided upper confidence bound of the *worsening* (candidate minus baseline for
a rate, baseline minus candidate for an AUC) is within the margin: the candidate is shown non-inferior,
not merely "not shown worse". When both runs scored the same manifest the bound comes from a *paired*
bootstrap: the same resampled subjects weight both runs, so shared hard cases cancel. Otherwise the two
runs are resampled independently. McNemar's exact test on the paired decisions (each run at its own
threshold for the operating point) is reported alongside, with the discordant counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.stats import binomtest

from openidv.errors import InvalidInput
from openidv.eval.bootstrap import iter_weights
from openidv.eval.data import BoolArray, FloatArray, ScoredSet, Task
from openidv.eval.metrics import (
    choose_operating_point,
    constrained_count,
    curve_stats,
    plan_for,
    threshold_stats,
)
from openidv.eval.metrics.common import Options, Plan, Stats, scalar
from openidv.eval.runner import options_of, read_report, reload
from openidv.eval.samplesize import required_trials
from openidv.eval.targets import parse_rate, target_key


@dataclass(frozen=True)
class MetricDef:
    """How a gate metric maps to a statistic, and which way is better."""

    stat: str  # internal statistic, ``{at}`` filled with the target key or rank
    higher_is_better: bool
    tasks: frozenset[Task]
    needs_at: bool = False
    display_flip: bool = False  # stored as an error rate, shown as 1 - x (recall, CMC)
    rate: bool = True  # shown in percentage points


ALL = frozenset(Task)
METRICS: Mapping[str, MetricDef] = {
    "eer": MetricDef("eer", False, ALL),
    "fta": MetricDef("fta", False, ALL),
    "roc_auc": MetricDef("roc_auc", True, ALL, rate=False),
    "pr_auc": MetricDef("pr_auc", True, frozenset({Task.CLASSIFICATION}), rate=False),
    "brier": MetricDef("brier", False, frozenset({Task.CLASSIFICATION}), rate=False),
    "fnmr_at_fmr": MetricDef("fnmr_at_fmr:{at}", False, frozenset({Task.VERIFICATION}), needs_at=True),
    "fnmr_at_fmr_incl_fta": MetricDef(
        "incl_fta:fnmr_at_fmr:{at}", False, frozenset({Task.VERIFICATION}), needs_at=True
    ),
    "fnir_at_fpir": MetricDef("fnir_at_fpir:{at}", False, frozenset({Task.IDENTIFICATION}), needs_at=True),
    "cmc": MetricDef("miss:{at}", True, frozenset({Task.IDENTIFICATION}), needs_at=True, display_flip=True),
    "bpcer_at_apcer": MetricDef("bpcer_at_apcer:{at}", False, frozenset({Task.PAD}), needs_at=True),
    "apcer_max": MetricDef("op:apcer_max", False, frozenset({Task.PAD})),
    "bpcer": MetricDef("op:bpcer", False, frozenset({Task.PAD})),
    "recall_at_fpr": MetricDef(
        "fnr_at_fpr:{at}", True, frozenset({Task.CLASSIFICATION}), needs_at=True, display_flip=True
    ),
}


@dataclass(frozen=True)
class Gate:
    name: str
    metric: str
    at: str | None  # target key ("1e-3") or rank ("5")
    margin: float  # allowed worsening, in the metric's units (0.005 = half a point for a rate)

    @property
    def definition(self) -> MetricDef:
        return METRICS[self.metric]

    @property
    def stat(self) -> str:
        return self.definition.stat.format(at=self.at)


@dataclass(frozen=True)
class GateSpec:
    gates: tuple[Gate, ...]
    confidence: float = 0.95
    replicates: int = 1000
    seed: int = 0
    source: str = "default gates"


def load_gates(path: str | Path) -> GateSpec:
    """Read and validate ``gates.yaml``; errors name the key (``gates[1].metric: ...``)."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"gates {p}: no such file") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"gates {p.name}: not valid YAML: {' '.join(str(exc).split())}") from None
    return parse_gates(raw, p.name)


def parse_gates(raw: Any, where: str = "gates") -> GateSpec:
    if not isinstance(raw, dict) or not isinstance(raw.get("gates"), list) or not raw["gates"]:
        raise InvalidInput(f"{where}: needs a non-empty 'gates:' list")
    unknown = sorted(set(raw) - {"gates", "confidence", "replicates", "seed"})
    if unknown:
        raise InvalidInput(
            f"{where}: {unknown[0]}: unknown key; allowed: gates, confidence, replicates, seed"
        )
    confidence = _number(raw.get("confidence", 0.95), f"{where}: confidence")
    if not 0.5 <= confidence < 1:
        raise InvalidInput(f"{where}: confidence: {confidence} is not in [0.5, 1)")
    gates = []
    names: set[str] = set()
    for i, g in enumerate(raw["gates"]):
        key = f"{where}: gates[{i}]"
        if not isinstance(g, dict):
            raise InvalidInput(f"{key}: each gate is a mapping with name, metric and a margin")
        bad = sorted(set(g) - {"name", "metric", "at", "margin", "max_increase", "max_decrease"})
        if bad:
            raise InvalidInput(
                f"{key}.{bad[0]}: unknown key; allowed: name, metric, at, margin, max_increase, max_decrease"
            )
        metric = g.get("metric")
        if not isinstance(metric, str) or metric not in METRICS:
            raise InvalidInput(f"{key}.metric: unknown metric {metric!r}; use one of {', '.join(METRICS)}")
        d = METRICS[metric]
        at = g.get("at")
        if d.needs_at:
            if at is None:
                raise InvalidInput(f"{key}.at: {metric} needs an operating point, e.g. at: 1e-3")
            at = str(int(at)) if metric == "cmc" else target_key(parse_rate(str(at), f"{key}.at"))
        elif at is not None:
            raise InvalidInput(f"{key}.at: {metric} takes no operating point")
        margins = [k for k in ("margin", "max_increase", "max_decrease") if k in g]
        if len(margins) != 1:
            raise InvalidInput(f"{key}: give exactly one of margin, max_increase, max_decrease")
        which = margins[0]
        if which == "max_increase" and d.higher_is_better:
            raise InvalidInput(f"{key}.max_increase: higher {metric} is better; use max_decrease")
        if which == "max_decrease" and not d.higher_is_better:
            raise InvalidInput(f"{key}.max_decrease: lower {metric} is better; use max_increase")
        margin = _number(g[which], f"{key}.{which}")
        if margin < 0:
            raise InvalidInput(f"{key}.{which}: must be 0 or more")
        name = str(g.get("name") or (f"{metric}@{at}" if at else metric))
        if name in names:
            raise InvalidInput(f"{key}.name: duplicate gate name {name!r}")
        names.add(name)
        gates.append(Gate(name, metric, at, margin))
    replicates = int(_number(raw.get("replicates", 1000), f"{where}: replicates"))
    if replicates < 50:
        raise InvalidInput(f"{where}: replicates: use at least 50")
    return GateSpec(
        tuple(gates), confidence, replicates, int(_number(raw.get("seed", 0), f"{where}: seed")), where
    )


def _number(value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}: {value!r} is not a number") from None


def default_gates(task: Task, report: Mapping[str, Any]) -> GateSpec:
    """Without a gates file: half a point on every supported headline target and on the EER (AUC: 0.005)."""
    m = report.get("metrics") or {}
    gates = [Gate("eer", "eer", None, 0.005)]
    at_metric = {
        Task.VERIFICATION: "fnmr_at_fmr",
        Task.IDENTIFICATION: "fnir_at_fpir",
        Task.PAD: "bpcer_at_apcer",
        Task.CLASSIFICATION: "recall_at_fpr",
    }[task]
    for key, item in (m.get(at_metric) or {}).items():
        if item.get("value") is not None:
            gates.append(Gate(f"{at_metric}@{key}", at_metric, key, 0.005))
    if task == Task.CLASSIFICATION:
        gates.append(Gate("roc_auc", "roc_auc", None, 0.005))
    return GateSpec(tuple(gates))


# ------------------------------------------------------------------------------------------ comparing


@dataclass
class GateResult:
    gate: Gate
    passed: bool
    baseline: float
    candidate: float
    worsening: float
    upper: float
    p_beyond_margin: float
    mcnemar: dict[str, Any] | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        def c(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {
            "name": self.gate.name,
            "metric": self.gate.metric,
            "at": self.gate.at,
            "margin": self.gate.margin,
            "passed": self.passed,
            "baseline": c(self.baseline),
            "candidate": c(self.candidate),
            "worsening": c(self.worsening),
            "upper_bound": c(self.upper),
            "p_worse_than_margin": c(self.p_beyond_margin),
            "mcnemar": self.mcnemar,
            "reason": self.reason,
        }


@dataclass
class Comparison:
    baseline: Path
    candidate: Path
    paired: bool
    n_rows: int
    n_subjects: int
    spec: GateSpec
    results: list[GateResult]
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]

    def as_dict(self) -> dict[str, Any]:
        return {
            "baseline": str(self.baseline),
            "candidate": str(self.candidate),
            "paired": self.paired,
            "rows": self.n_rows,
            "subjects": self.n_subjects,
            "confidence": self.spec.confidence,
            "replicates": self.spec.replicates,
            "gates_source": self.spec.source,
            "passed": self.passed,
            "failed": [r.gate.name for r in self.failed],
            "gates": [r.as_dict() for r in self.results],
            "changes": self.changes,
        }

    def text(self) -> str:
        pairing = (
            f"paired: the same {self.n_rows:,} rows of {self.n_subjects:,} subjects (same manifest)"
            if self.paired
            else "unpaired: different manifests, resampled independently"
        )
        lines = [f"baseline:  {self.baseline}", f"candidate: {self.candidate}", pairing, "", "what changed:"]
        width = max([len(c["metric"]) for c in self.changes] + [10])
        for ch in self.changes:
            lines.append(
                f"  {ch['metric']:<{width}}  {ch['baseline_text']:>28}  ->  "
                f"{ch['candidate_text']:<28} {ch['change_text']}"
            )
        lines.append("")
        lines.append(
            f"gates ({self.spec.source}; non-inferiority, one-sided {self.spec.confidence:.0%}, "
            f"{'paired' if self.paired else 'unpaired'} subject bootstrap, "
            f"{self.spec.replicates:,} replicates):"
        )
        for r in self.results:
            lines.append(f"  {'PASS' if r.passed else 'FAIL'} {r.gate.name}: {r.reason}")
        if self.passed:
            lines.append(f"result: PASS ({len(self.results)} gate(s))")
        else:
            names = ", ".join(r.gate.name for r in self.failed)
            lines.append(f"result: FAIL ({len(self.failed)} of {len(self.results)} gate(s)): {names}")
        return "\n".join(lines)


@dataclass
class _Run:
    ss: ScoredSet
    plan: Plan
    point: Stats


def _prepare(ss: ScoredSet, options: Options, spec: GateSpec) -> _Run:
    extra = [float(g.at) for g in spec.gates if g.at is not None and g.metric != "cmc"]
    ranks = sorted({*options.ranks, *(int(g.at) for g in spec.gates if g.metric == "cmc" and g.at)})
    targets = tuple(sorted({*(options.targets or ss.vocabulary.default_targets), *extra}, reverse=True))
    options = replace(options, targets=targets, slices=(), ranks=tuple(ranks))
    plan = plan_for(ss, options)
    point = curve_stats(ss, plan, None)
    choose_operating_point(ss, plan, point, options)
    point.update(threshold_stats(ss, plan, None))
    return _Run(ss, plan, point)


def _stats(run: _Run, weights: np.ndarray[Any, np.dtype[np.float64]]) -> Stats:
    out = curve_stats(run.ss, run.plan, weights)
    out.update(threshold_stats(run.ss, run.plan, weights))
    return out


def compare(
    baseline: str | Path,
    candidate: str | Path,
    gates: str | Path | None = None,
    *,
    replicates: int | None = None,
    seed: int | None = None,
) -> Comparison:
    """Compare two evaluation reports under a gate spec (the Python API behind ``openidv eval compare``)."""
    base_report, base_dir = read_report(baseline)
    cand_report, cand_dir = read_report(candidate)
    if base_report.get("task") != cand_report.get("task"):
        raise InvalidInput(
            f"baseline is a {base_report.get('task')} report, candidate a {cand_report.get('task')} one"
        )
    task = Task(base_report["task"])
    spec = load_gates(gates) if gates else default_gates(task, base_report)
    for g in spec.gates:
        if task not in g.definition.tasks:
            raise InvalidInput(
                f"gate {g.name}: metric {g.metric} does not apply to a {task.value} evaluation"
            )
    if replicates is not None or seed is not None:
        spec = replace(
            spec, replicates=replicates or spec.replicates, seed=spec.seed if seed is None else seed
        )
    base_loaded, base_m = reload(base_report, base_dir)
    cand_loaded, cand_m = reload(cand_report, cand_dir)
    b_ss, c_ss = base_loaded.ss, cand_loaded.ss
    paired = base_m.sha256 == cand_m.sha256
    if paired:  # rows that errored in either run are left out of both, so the rows stay aligned
        position = {ident: k for k, ident in enumerate(c_ss.ids.tolist())}
        b_ss = b_ss.subset(np.array([i in position for i in b_ss.ids.tolist()], dtype=bool))
        c_ss = c_ss.subset(np.array([position[i] for i in b_ss.ids.tolist()], dtype=np.intp))
    b_opts = options_of(base_report)
    c_opts = options_of(cand_report)
    b_run, c_run = _prepare(b_ss, b_opts, spec), _prepare(c_ss, c_opts, spec)
    stats_b: dict[str, list[FloatArray]] = {}
    stats_c: dict[str, list[FloatArray]] = {}
    if paired:  # one set of resampled subjects weights both runs
        for w in iter_weights(b_ss, spec.replicates, spec.seed):
            _collect(stats_b, _stats(b_run, w))
            _collect(stats_c, _stats(c_run, w))
    else:
        for w in iter_weights(b_ss, spec.replicates, spec.seed):
            _collect(stats_b, _stats(b_run, w))
        for w in iter_weights(c_ss, spec.replicates, spec.seed + 1):
            _collect(stats_c, _stats(c_run, w))
    reps_b = {k: np.concatenate(v) for k, v in stats_b.items()}
    reps_c = {k: np.concatenate(v) for k, v in stats_c.items()}
    results = [_judge(g, b_run, c_run, reps_b, reps_c, spec, paired) for g in spec.gates]
    return Comparison(
        baseline=base_dir / "report.json",
        candidate=cand_dir / "report.json",
        paired=paired,
        n_rows=b_ss.n,
        n_subjects=len(b_ss.subjects),
        spec=spec,
        results=results,
        changes=changes(base_report, cand_report),
    )


def _collect(into: dict[str, list[FloatArray]], stats: Stats) -> None:
    for k, v in stats.items():
        if "#" not in k:
            into.setdefault(k, []).append(v)


def _display(g: Gate, x: float) -> float:
    return 1.0 - x if g.definition.display_flip else x


def _fmt(g: Gate, x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    x = _display(g, x)
    return f"{x:.4%}" if g.definition.rate else f"{x:.4f}"


def _fmt_delta(g: Gate, d: float) -> str:
    if not np.isfinite(d):
        return "n/a"
    return f"{d * 100:+.3f} points" if g.definition.rate else f"{d:+.4f}"


def _judge(
    g: Gate,
    b: _Run,
    c: _Run,
    reps_b: Mapping[str, FloatArray],
    reps_c: Mapping[str, FloatArray],
    spec: GateSpec,
    paired: bool,
) -> GateResult:
    stat = g.stat
    vb, vc = scalar(b.point, stat), scalar(c.point, stat)
    # worsening > 0 means the candidate is worse, in the metric's own units
    sign = -1.0 if (g.definition.higher_is_better and not g.definition.display_flip) else 1.0
    unsupported = _unsupported(g, b, spec) or _unsupported(g, c, spec)
    if unsupported or not (np.isfinite(vb) and np.isfinite(vc)):
        reason = (
            unsupported
            or f"{g.metric} is not available in both runs (baseline {_fmt(g, vb)}, candidate {_fmt(g, vc)})"
        )
        return GateResult(
            g, False, vb, vc, float("nan"), float("nan"), float("nan"), None, f"cannot be evaluated: {reason}"
        )
    worsening = sign * (vc - vb)
    rb, rc = reps_b.get(stat), reps_c.get(stat)
    if rb is None or rc is None:
        d = np.array([worsening])
    else:
        d = sign * (rc - rb)
        d = d[np.isfinite(d)]
    upper = float(np.quantile(d, spec.confidence)) if d.size else float("nan")
    upper = max(upper, worsening) if np.isfinite(upper) else upper
    p_beyond = float(np.mean(d > g.margin)) if d.size else float("nan")
    passed = bool(np.isfinite(upper) and upper <= g.margin + 1e-15)
    mc = _mcnemar(g, b, c) if paired else None
    direction = "worse" if worsening > 0 else ("better" if worsening < 0 else "unchanged")
    shown_b, shown_c = _fmt(g, vb), _fmt(g, vc)
    shown_change = _display(g, vc) - _display(g, vb)
    reason = (
        f"{shown_b} -> {shown_c} ({direction}, {_fmt_delta(g, shown_change)}); "
        f"worsening {_fmt_delta(g, worsening)}, {spec.confidence:.0%} upper bound {_fmt_delta(g, upper)} "
        f"{'<=' if passed else '>'} margin {_fmt_delta(g, g.margin).lstrip('+')}; "
        f"P(worse than margin) = {p_beyond:.2f}"
    )
    if not passed:
        reason += f"; exceeds the margin by {_fmt_delta(g, upper - g.margin).lstrip('+')} at the upper bound"
    if mc:
        reason += (
            f"; McNemar p = {mc['p_value']:.3g} ({mc['baseline_only']} rows only the baseline got right, "
            f"{mc['candidate_only']} only the candidate)"
        )
    return GateResult(g, passed, vb, vc, worsening, upper, p_beyond, mc, reason)


def _unsupported(g: Gate, run: _Run, spec: GateSpec) -> str | None:
    if not g.definition.needs_at or g.metric == "cmc" or g.at is None:
        return None
    tau = float(g.at)
    n = constrained_count(run.ss, run.plan)
    needed = required_trials(tau, spec.confidence) if tau < 1 else 0
    if n < needed:
        return (
            f"{g.metric} at {g.at} needs {needed:,} {run.ss.vocabulary.unit} of the constrained class "
            "(rule of three), "
            f"this set has {int(n):,}"
        )
    return None


def _decisions(g: Gate, run: _Run) -> tuple[BoolArray, BoolArray] | None:
    """(rows the metric judges, whether each was decided correctly) for McNemar; None where n/a."""
    ss, point = run.ss, run.point
    ok = ~ss.fta
    if g.metric in ("roc_auc", "pr_auc", "brier"):
        return None
    if g.metric == "fta":
        return np.ones(ss.n, dtype=bool), ok
    if g.metric == "cmc":
        assert ss.rank is not None and g.at is not None
        return ss.good & ok, ss.rank <= int(g.at)
    if g.metric == "eer":
        t = scalar(point, "eer#t")
        rows = ok
    elif g.metric in ("apcer_max", "bpcer"):
        t = run.plan.op_threshold if run.plan.op_threshold is not None else float("nan")
        rows = (~ss.good if g.metric == "apcer_max" else ss.good) & ok
    else:
        t = scalar(point, g.stat + "#t")
        if g.metric == "recall_at_fpr":
            rows = ~ss.good & ok
        elif g.metric == "fnmr_at_fmr_incl_fta":
            rows = ss.good
        else:
            rows = ss.good & ok
    if not np.isfinite(t):
        return None
    accepted = ss.accepted(t)
    correct = np.where(ss.good, accepted, ~accepted)
    return rows, correct


def _mcnemar(g: Gate, b: _Run, c: _Run) -> dict[str, Any] | None:
    db, dc = _decisions(g, b), _decisions(g, c)
    if db is None or dc is None:
        return None
    rows = db[0] & dc[0]
    base_only = int(np.sum(rows & db[1] & ~dc[1]))
    cand_only = int(np.sum(rows & ~db[1] & dc[1]))
    n = base_only + cand_only
    p = 1.0 if n == 0 else float(binomtest(min(base_only, cand_only), n, 0.5).pvalue)
    return {
        "baseline_only": base_only,
        "candidate_only": cand_only,
        "rows": int(rows.sum()),
        "p_value": p,
        "test": "exact McNemar (binomial on discordant pairs)",
    }


# -------------------------------------------------------------------------------------- what changed


def headline(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Headline figures of a report by display name (EER, each target, FTA, AUCs)."""
    m = report.get("metrics") or {}
    out: dict[str, dict[str, Any]] = {}
    if m.get("eer"):
        out["EER"] = m["eer"]
    for key in ("fnmr_at_fmr", "fnir_at_fpir", "bpcer_at_apcer", "recall_at_fpr"):
        for target, item in (m.get(key) or {}).items():
            name = key.replace("_at_", " @ ").upper().replace("RECALL", "recall")
            out[f"{name}={target}"] = item
    fta = m.get("fta")
    if isinstance(fta, dict) and "value" in fta:
        out["FTA"] = fta
    for key in ("roc_auc", "pr_auc", "brier"):
        if isinstance(m.get(key), dict):
            out[key.upper().replace("_", " ")] = m[key]
    op = m.get("operating_point") or {}
    if "apcer_max" in op:
        out[f"APCER max @ {op.get('label')}"] = op["apcer_max"]
        out[f"BPCER @ {op.get('label')}"] = op["bpcer"]
    return out


def _as_percent(x: float) -> str:
    return f"{x:.3%}"


def _as_plain(x: float) -> str:
    return f"{x:.4f}"


def changes(base: Mapping[str, Any], cand: Mapping[str, Any]) -> list[dict[str, Any]]:
    hb, hc = headline(base), headline(cand)
    rows = []
    for name in [*hb, *[n for n in hc if n not in hb]]:
        eb, ec = hb.get(name) or {}, hc.get(name) or {}
        is_rate = not name.startswith(("ROC", "PR", "BRIER"))

        def text(e: Mapping[str, Any], is_rate: bool = is_rate) -> str:
            if e.get("value") is None:
                return "n/a"
            f = _as_percent if is_rate else _as_plain
            if e.get("ci_low") is None:
                return f(e["value"])
            return f"{f(e['value'])} [{f(e['ci_low'])}, {f(e['ci_high'])}]"

        vb, vc = eb.get("value"), ec.get("value")
        if vb is None or vc is None:
            change = ""
        else:
            change = f"{(vc - vb) * 100:+.3f} pts" if is_rate else f"{vc - vb:+.4f}"
        rows.append(
            {
                "metric": name,
                "baseline": vb,
                "candidate": vc,
                "baseline_text": text(eb),
                "candidate_text": text(ec),
                "change_text": change,
            }
        )
    return rows
