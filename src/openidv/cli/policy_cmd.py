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


def _row(row: ThresholdRow) -> list[str]:
    counts = ", ".join(f"{n} {COUNTS[k]}" for k, n in row.counts.items()) or "-"
    supported = {True: "yes", False: "NO", None: "not recorded"}[row.supported]
    return [
        f"{row.check}.{row.threshold}",
        f"{row.value:g}",
        row.target or "-",
        row.data,
        counts,
        "; ".join(_rate(k, v) for k, v in row.rates.items()) or "-",
        supported,
        row.decision,
    ]


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
        "data",
        "set on",
        "achieved (95% interval)",
        "supported",
        "decides",
        title=f"policy {loaded.version}",
    )
    for row in rows:
        table.add_row(*_row(row))
    console = Console(width=200)
    console.print(table)
    weak = [f"{r.check}.{r.threshold}" for r in rows if r.supported is False or r.data == "synthetic"]
    if weak:
        console.print(
            "[yellow]set on data that does not support its target, or on synthetic data:[/] "
            + ", ".join(weak)
        )
