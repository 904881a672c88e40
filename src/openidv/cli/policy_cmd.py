"""``openidv policy explain``: every threshold of a policy with its target, data and achieved rates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from openidv.cli.common import friendly_errors, print_json
from openidv.decision.policy import load_policy
from openidv.decision.provenance import COUNTS, ThresholdRow, threshold_table

policy_app = typer.Typer(help="Inspect a policy file.", no_args_is_help=True)


def _rate(name: str, entry: dict[str, object]) -> str:
    value = entry.get("value")
    if not isinstance(value, int | float):
        return f"{name} -"
    text = f"{name} {value:.3g}"
    low, high = entry.get("ci_low"), entry.get("ci_high")
    if isinstance(low, int | float) and isinstance(high, int | float):
        text += f" [{low:.3g}, {high:.3g}]"
    return text


STATUS_TEXT = {
    "supported": "yes",
    "unsupported": "NO: UNSUPPORTED (forced)",
    "published": "NO: published point, not verified on owned data",
}


def _supported(row: ThresholdRow) -> str:
    if row.status in STATUS_TEXT:
        return STATUS_TEXT[row.status]
    return {True: "yes", False: "NO", None: "not recorded"}[row.supported]


def _source(row: ThresholdRow) -> str:
    if row.source_kind == "published":
        return row.source or "published"
    if row.source_kind == "tuned":
        return f"tuned: {row.source}"
    return row.source or "not recorded"


def _row(row: ThresholdRow) -> list[str]:
    counts = ", ".join(f"{n} {COUNTS[k]}" for k, n in row.counts.items()) or "-"
    return [
        f"{row.check}.{row.threshold}",
        f"{row.value:g}",
        row.target or "-",
        _source(row),
        f"{row.data}: {counts}",
        "; ".join(_rate(k, v) for k, v in row.rates.items()) or "-",
        _supported(row),
        row.decision,
    ]


def _fpir_table(row: ThresholdRow) -> Table:
    sources = list((row.fpir_sources or {}).keys()) or [
        k for k in (row.fpir_by_gallery_size or [{}])[0] if k != "gallery_size"
    ]
    table = Table(
        "gallery size",
        *sources,
        title=f"{row.check}.{row.threshold} = {row.value:g}: expected FPIR by gallery size, 1 - (1 - FMR)^N",
    )
    for entry in row.fpir_by_gallery_size or []:
        table.add_row(
            f"{int(entry.get('gallery_size', 0)):,}", *(f"{entry.get(k, '-'):.3g}" for k in sources)
        )
    return table


@policy_app.command("explain")
@friendly_errors
def explain(
    policy: Annotated[
        Path | None, typer.Option(help="Policy YAML (default: $OPENIDV_POLICY or the built-in one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every threshold: its target, the data it was set on (size, real or synthetic), the achieved rates with
    their intervals, whether the data supports the target, and the rules that read it."""
    loaded = load_policy(policy)
    rows = threshold_table(loaded)
    if as_json:
        print_json({"policy_version": loaded.version, "thresholds": [r.model_dump() for r in rows]})
        return
    table = Table(
        "threshold",
        "value",
        "target",
        "source",
        "data it was set on",
        "achieved (95% interval)",
        "supported",
        "decides",
        title=f"policy {loaded.version}",
    )
    for row in rows:
        table.add_row(*_row(row))
    console = Console(width=200)
    console.print(table)
    for row in rows:
        if row.published:
            console.print(f"{row.check}.{row.threshold}: published operating point: {row.published}")
        if row.reason:
            console.print(f"{row.check}.{row.threshold}: why: {row.reason}")
        if row.fpir_by_gallery_size:
            console.print(_fpir_table(row))
            for name, entry in (row.fpir_sources or {}).items():
                fmr, what = (entry.get("fmr"), entry.get("what")) if isinstance(entry, dict) else ("-", entry)
                console.print(f"  {name}: FMR {fmr}: {what}")
    unsupported = [f"{r.check}.{r.threshold}" for r in rows if r.status == "unsupported"]
    if unsupported:
        console.print(
            "[red]UNSUPPORTED: forced to a target its data cannot support (every `openidv eval run` with "
            "this policy warns):[/] " + ", ".join(unsupported)
        )
    weak = [
        f"{r.check}.{r.threshold}"
        for r in rows
        if r.supported is False or r.status in ("unsupported", "published") or r.data == "synthetic"
    ]
    if weak:
        console.print(
            "[yellow]set on data that does not support its target, or on synthetic data:[/] "
            + ", ".join(weak)
        )
