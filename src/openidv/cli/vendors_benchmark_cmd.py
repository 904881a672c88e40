"""``openidv vendors benchmark``: every named vendor on the owned set, evaluated like ``eval run --scores``.

Registered on the ``vendors`` group by ``register(vendors_app)`` so the group's own module stays with the
vendor-core work. Bad input (missing manifest, unknown vendor, bad YAML) exits 2 with one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from openidv.cli.common import friendly_errors, print_json


@friendly_errors
def benchmark_command(
    config: Path = typer.Option(..., "--config", "-c", help="vendors.yaml"),
    manifest: list[str] = typer.Option(
        ...,
        "--manifest",
        "-m",
        help="Owned labelled set as [CAPABILITY=]PATH (repeatable): face_match=pairs.csv, document=docs.csv, "
        "liveness=pad.csv; a comparisons manifest alone means face_match.",
    ),
    vendors: str = typer.Option(..., "--vendors", help="Comma-separated configured vendor names."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output folder (scorecard.json, scorecard.html, reports)."
    ),
    in_house: list[str] = typer.Option(
        [], "--in-house", help="[CAPABILITY=]CHECK: also score this registered check on the same manifest."
    ),
    policy: Path | None = typer.Option(
        None, "--policy", help="Policy configuring the in-house check's params."
    ),
    concurrency: int = typer.Option(8, "--concurrency", min=1, max=256, help="Calls in flight per vendor."),
    replicates: int = typer.Option(
        1000, "--replicates", min=0, help="Bootstrap replicates (subjects resampled)."
    ),
    confidence: float = typer.Option(0.95, "--confidence", min=0.5, max=0.999),
    seed: int = typer.Option(0, "--seed"),
    no_html: bool = typer.Option(False, "--no-html", help="JSON only (no HTML, no figures)."),
    json_output: bool = typer.Option(False, "--json", help="Print the scorecard as JSON."),
) -> None:
    """Call each vendor on every manifest row, evaluate each one, and write a side-by-side scorecard."""
    import logging

    from openidv.eval.metrics.common import Options
    from openidv.eval.vendor_scorecard import benchmark

    pipeline_log = logging.getLogger("openidv.pipeline")
    level = pipeline_log.level
    pipeline_log.setLevel(logging.CRITICAL)  # an in-house row whose check raises is listed in its report
    try:
        result = benchmark(
            config,
            manifest,
            vendors.split(","),
            out,
            in_house=in_house,
            policy=policy,
            options=Options(replicates=replicates, confidence=confidence, seed=seed),
            concurrency=concurrency,
            html=not no_html,
        )
    finally:
        pipeline_log.setLevel(level)
    card = result.scorecard
    if json_output:
        print_json(card)
        return
    for name, caps in card["vendors"].items():
        for capability in caps:
            ops = card["operations"][name].get(capability, {})
            counts = card["evaluations"][name][capability]["counts"]
            typer.echo(
                f"{name} {capability}: {counts['rows']} rows ({counts['ok']} ok, "
                f"{counts['failed_to_acquire']} failed to acquire, {counts['error']} faults), "
                f"cost {ops['cost']['total']:g} {ops['cost']['currency']}, p50 {ops['latency_ms']['p50']} ms"
            )
            decided = (caps[capability].get("all") or {}).get("at_vendor_decision")
            if decided:
                typer.echo(f"  at its own decisions (all rows, {card['confidence']:.0%}): {_rates(decided)}")
    for skipped in card["skipped"]:
        typer.echo(f"not evaluated: {skipped['entry']} {skipped['capability']}: {skipped['reason']}")
    typer.echo(f"scorecard: {result.path}" + (f"  html: {result.html_path}" if result.html_path else ""))


def _rates(block: dict[str, Any]) -> str:
    """``apcer 0.1 [0.02112, 0.2653] (n=30), ...`` for the rates of one ``at_vendor_decision`` block."""
    parts = []
    for name, e in block.items():
        if not isinstance(e, dict) or "errors" not in e:
            continue
        if e.get("value") is None:
            parts.append(f"{name} n/a (n=0)")
            continue
        parts.append(f"{name} {e['value']:.4g} [{e['ci_low']:.4g}, {e['ci_high']:.4g}] (n={e['n']})")
    return ", ".join(parts)


def register(vendors_app: typer.Typer) -> None:
    """Add ``benchmark`` to the ``openidv vendors`` group."""
    vendors_app.command("benchmark")(benchmark_command)
