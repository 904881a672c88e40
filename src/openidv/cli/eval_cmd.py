"""``openidv eval run|compare|sample-size`` and ``openidv thresholds tune``.

Heavy imports (numpy, pandas, scipy, matplotlib) happen inside the commands, so ``openidv --help`` and
the other commands stay fast. Bad input exits 2 with one line; a failed gate exits 1.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from openidv.cli.common import friendly_errors, print_json
from openidv.errors import InvalidInput

eval_app = typer.Typer(
    help="Measure a check or a vendor on a labelled set (ISO error rates, intervals); gate regressions.",
    no_args_is_help=True,
)
thresholds_app = typer.Typer(
    help="Tune thresholds from evaluation reports into the policy file.", no_args_is_help=True
)

EXIT_GATE_FAILED = 1


@contextmanager
def _progress(enabled: bool) -> Iterator[tuple[Callable[[int, int], None], Callable[[int, int], None]]]:
    """Two progress callbacks (scoring rows, bootstrap replicates) drawing rich bars on stderr."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    ) as bar:
        tasks: dict[str, Any] = {}

        def make(label: str) -> Callable[[int, int], None]:
            def update(done: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = bar.add_task(label, total=total)
                bar.update(tasks[label], completed=done, total=total)

            return update

        yield make("scoring"), make("bootstrap")


def _task(value: str | None) -> Any:
    from openidv.eval.data import Task

    if value is None:
        return None
    try:
        return Task(value.lower())
    except ValueError:
        raise InvalidInput(
            f"--task: unknown task {value!r}; use {', '.join(t.value for t in Task)}"
        ) from None


@eval_app.command("run")
@friendly_errors
def run_cmd(
    manifest: Path = typer.Option(
        ..., "--manifest", "-m", help="Comparisons or samples manifest (CSV, Parquet, JSONL)."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output folder: scores.csv, report.json, report.html, PNGs."
    ),
    check: str | None = typer.Option(None, "--check", help="Registered check to score the manifest with."),
    scores: Path | None = typer.Option(
        None, "--scores", help="Score file produced elsewhere (e.g. a vendor)."
    ),
    policy: Path | None = typer.Option(
        None, "--policy", help="Policy whose checks.<name>.params configure the check."
    ),
    task: str | None = typer.Option(
        None, "--task", help="verification, identification, pad or classification."
    ),
    targets: str | None = typer.Option(
        None, "--targets", help="Comma-separated target rates, e.g. 1e-2,1e-3,1e-4."
    ),
    operating_point: str | None = typer.Option(
        None, "--operating-point", help="Target for the one threshold used per slice, e.g. fmr=1e-3."
    ),
    threshold: float | None = typer.Option(None, "--threshold", help="Or that threshold, given directly."),
    replicates: int = typer.Option(
        1000, "--replicates", min=0, help="Bootstrap replicates (subjects resampled)."
    ),
    confidence: float = typer.Option(0.95, "--confidence", min=0.5, max=0.999),
    seed: int = typer.Option(0, "--seed"),
    slices: str | None = typer.Option(None, "--slices", help="Comma-separated slice columns (default: all)."),
    fairness_max_ratio: float = typer.Option(
        1.5, "--fairness-max-ratio", help="Flag slices above this ratio."
    ),
    no_html: bool = typer.Option(False, "--no-html", help="Write report.json only (no figures)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    json_output: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Score a labelled manifest and write report.json + report.html with error rates and intervals."""
    from openidv.eval.metrics.common import Options
    from openidv.eval.runner import evaluate
    from openidv.eval.targets import parse_rates, parse_target

    if (check is None) == (scores is None):
        raise InvalidInput("give exactly one of --check NAME or --scores FILE")
    options = Options(
        targets=parse_rates(targets, "--targets") if targets else None,
        operating_point=parse_target(operating_point) if operating_point else None,
        threshold=threshold,
        confidence=confidence,
        replicates=replicates,
        seed=seed,
        slices=tuple(s.strip() for s in slices.split(",") if s.strip()) if slices else None,
        fairness_max_ratio=fairness_max_ratio,
    )
    pipeline_log = logging.getLogger("openidv.pipeline")
    level = pipeline_log.level
    pipeline_log.setLevel(logging.CRITICAL)  # a row whose check raises is listed in the report instead
    try:
        with _progress(not quiet and sys.stderr.isatty()) as (scoring, boot):
            result = evaluate(
                manifest,
                out,
                check=check,
                scores=scores,
                policy=policy,
                task=_task(task),
                options=options,
                html=not no_html,
                progress=scoring,
                bootstrap_progress=boot,
            )
    finally:
        pipeline_log.setLevel(level)
    for line in result.warnings:  # every run with a policy that holds an unsupported threshold says so
        typer.echo(f"warning: {line}", err=True)
    report = result.report
    if json_output:
        print_json(
            {
                "report": str(result.report_path),
                "task": report["task"],
                "counts": report["counts"],
                "metrics": report["metrics"],
            }
        )
        return
    typer.echo(_summary(report))
    if result.reused:
        typer.echo(f"reused {result.reused:,} cached scores from {out / 'scores.csv'}")
    typer.echo(
        f"report: {result.report_path}"
        + ("" if no_html else f"  html: {result.report_path.with_name('report.html')}")
    )


def _as_percent(x: float) -> str:
    return f"{x:.3%}"


def _as_plain(x: float) -> str:
    return f"{x:.4f}"


def _summary(report: dict[str, Any]) -> str:
    from openidv.eval.gate import headline

    c = report["counts"]
    cls = report["classes"]
    lines = [
        f"{report['task']}: {c['rows']:,} rows ({c['ok']:,} ok, "
        f"{c['failed_to_acquire']:,} failed to acquire, {c['error']:,} errors excluded), "
        f"{c['n_' + cls['good']]:,} {cls['good']} / {c['n_' + cls['bad']]:,} {cls['bad']}, "
        f"{c['subjects']:,} subjects; meaning: {report['meaning']} ({report['decision_rule']})"
    ]
    if report["errors"]["count"]:
        first = report["errors"]["rows"][0]
        lines.append(
            f"  errors: {report['errors']['count']:,} rows raised (first: {first['id']}: {first['detail']})"
        )
    conf = report["bootstrap"]["confidence"]
    for name, e in headline(report).items():
        if e.get("value") is None:
            lines.append(f"  {name}: n/a" + (f" ({e['note']})" if e.get("note") else ""))
            continue
        rate = not name.startswith(("ROC", "PR", "BRIER"))
        fmt = _as_percent if rate else _as_plain
        ci = f" [{fmt(e['ci_low'])}, {fmt(e['ci_high'])}] ({conf:.0%})" if e.get("ci_low") is not None else ""
        thr = f", threshold {e['threshold']:.6g}" if e.get("threshold") is not None else ""
        lines.append(f"  {name}: {fmt(e['value'])}{ci}{thr}")
    return "\n".join(lines)


@eval_app.command("compare")
@friendly_errors
def compare_cmd(
    baseline: Path = typer.Argument(..., help="Baseline report.json (or its folder)."),
    candidate: Path = typer.Argument(..., help="Candidate report.json (or its folder)."),
    gate: Path | None = typer.Option(None, "--gate", help="gates.yaml: metrics, operating points, margins."),
    replicates: int | None = typer.Option(
        None, "--replicates", min=50, help="Override the gate file's replicates."
    ),
    seed: int | None = typer.Option(None, "--seed"),
    json_output: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    history: Path | None = typer.Option(
        None,
        "--history",
        help="Append the verdict as one JSON line to this file (e.g. runs/gate-history.jsonl; the console "
        "lists these).",
    ),
    label: str | None = typer.Option(None, "--label", help="A name for this comparison in the history."),
) -> None:
    """Print what changed; exit 1 when the candidate is worse beyond a gate's margin (the CI command)."""
    from openidv.eval.gate import compare
    from openidv.gate_history import append_history, history_entry

    result = compare(baseline, candidate, gate, replicates=replicates, seed=seed)
    if history is not None:
        append_history(history, history_entry(result.as_dict(), label=label))
    if json_output:
        print_json(result.as_dict())
    else:
        typer.echo(result.text())
    if not result.passed:
        names = ", ".join(r.gate.name for r in result.failed)
        typer.echo(f"error: gate(s) failed: {names}", err=True)
        raise typer.Exit(EXIT_GATE_FAILED)


@eval_app.command("sample-size")
@friendly_errors
def sample_size_cmd(
    rate: float = typer.Option(..., "--rate", help="The error rate to claim, e.g. 1e-4."),
    confidence: float = typer.Option(0.95, "--confidence"),
    errors: int = typer.Option(0, "--errors", min=0, help="Errors you allow yourself to observe."),
    design_effect: float = typer.Option(
        1.0, "--design-effect", help="Inflation for correlated trials (>= 1)."
    ),
    what: str = typer.Option("comparisons", "--what", help="What a trial is called in the answer."),
) -> None:
    """How many trials a claim like FMR <= 1e-4 needs (exact rule of three; rule of 30)."""
    from openidv.eval.samplesize import advise

    typer.echo(advise(rate, confidence, errors, design_effect).sentence(what))


@thresholds_app.command("tune")
@friendly_errors
def tune_cmd(
    report: Path = typer.Option(..., "--report", help="report.json of an evaluation (or its folder)."),
    target: str = typer.Option(..., "--target", help="fmr=1e-4, apcer=0.01, fpr=0.01 or fpir=1e-3."),
    policy: Path | None = typer.Option(
        None, "--policy", help="Policy YAML to write ($OPENIDV_POLICY, else ./policy.yaml)."
    ),
    check: str | None = typer.Option(
        None, "--check", help="Check to tune (default: the one the report names)."
    ),
    name: str | None = typer.Option(
        None, "--name", help="Threshold name (default: accept / attack by meaning)."
    ),
    allow_unsupported: bool = typer.Option(
        False, "--allow-unsupported", help="Write even when n is too small."
    ),
    replicates: int | None = typer.Option(None, "--replicates", min=0),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the threshold, write nothing."),
    data: str | None = typer.Option(
        None, "--data", help="What the evaluation set is: real or synthetic (recorded with the threshold)."
    ),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Pick the threshold meeting a target, state the achieved rates with intervals, write it to a policy.

    A target the data cannot support (rule of three; for FMR also enough people) exits 2 with the counts it
    needs; with --allow-unsupported the entry is written with status: unsupported, and every `openidv eval
    run` with that policy warns about it."""
    from openidv.eval.thresholds import tune

    if data is not None and data not in ("real", "synthetic"):
        raise InvalidInput(f"--data: {data!r}; use real or synthetic")
    tuned = tune(
        report,
        target,
        policy=policy,
        check=check,
        name=name,
        allow_unsupported=allow_unsupported,
        replicates=replicates,
        dry_run=dry_run,
        data=data,
    )
    if not tuned.achieved.get("supported"):
        typer.echo(
            f"warning: {tuned.check}.{tuned.name} {'would be' if dry_run else 'is'} recorded as UNSUPPORTED: "
            f"{tuned.achieved.get('note')}",
            err=True,
        )
    if json_output:
        print_json(
            {
                "check": tuned.check,
                "name": tuned.name,
                "value": tuned.value,
                "target": str(tuned.target),
                "achieved": tuned.achieved,
                "policy": None if tuned.policy is None else str(tuned.policy),
                "report": str(tuned.report),
            }
        )
        return
    typer.echo(tuned.summary())
