"""``openidv vendors drift`` and ``openidv vendors rebenchmark``: drift alarms from the audit table, and the
way out of one through the regression gate (docs/vendors.md "Drift monitoring").

Both use the deployment's database (``OPENIDV_DATABASE_URL`` or the data folder's SQLite file, like every
command). Exit codes:

* ``drift``: 0 no standing alert, 1 at least one alert, 2 bad input;
* ``rebenchmark``: 0 every capability passed the gate and the reset is recorded, 1 the gate failed (or a
  capability could not be evaluated): nothing reset, 2 bad input (nothing called, nothing reset).

Registered on the ``vendors`` group by ``register(vendors_app)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openidv.cli.common import friendly_errors, print_json
from openidv.settings import Settings
from openidv.store.repository import Store

EXIT_ALERT = 1
EXIT_GATE_FAILED = 1


def _store() -> Store:
    return Store.from_settings(Settings.from_env())


@friendly_errors
def drift_command(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="vendors.yaml (routing.benchmark: baselines).")
    ],
    days: Annotated[
        float, typer.Option("--days", min=0, help="Replay the calls of the last DAYS days (0: any age).")
    ] = 30.0,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="At most the LIMIT most recent answered calls.")
    ] = 50_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print alerts and monitor states as JSON.")] = False,
) -> None:
    """Replay the stored vendor calls into fresh drift monitors (as a starting server does) and print the
    standing alerts and every monitor's state; exit 1 when any alert stands."""
    from openidv.vendors.config import load_vendors
    from openidv.vendors.drift import DriftMonitor, replay_stored
    from openidv.vendors.routed import scorecard_of

    vendors = load_vendors(config)
    monitor = DriftMonitor(scorecard_of(config, vendors))
    store = _store()
    try:
        replayed = replay_stored(monitor, store.engine, days=days, limit=limit)
    finally:
        store.engine.dispose()
    alerts = monitor.status()
    if as_json:
        print_json(
            {
                "replayed": replayed,
                "days": days,
                "limit": limit,
                "resets_applied": monitor.applied_resets(),
                "alerts": [a.as_dict() for a in alerts],
                "flagged_vendors": monitor.flagged_vendors(),
                "monitors": monitor.snapshot(),
            }
        )
    else:
        typer.echo(f"replayed {replayed} answered call(s) of the last {days:g} day(s) (at most {limit})")
        for m in monitor.snapshot():
            base = m["baseline_pass_rate"]
            recent = m["recent_pass_rate"]
            typer.echo(
                f"  {m['vendor']} {m['capability']} {m['country'] or '-'}: {m['observed']} observed, "
                + ("warming up" if m["warming_up"] else f"baseline pass rate {base:.3f}")
                + (f", recent {recent:.3f}" if recent is not None else "")
                + (f", ALERT {', '.join(m['alerts'])}" if m["alerts"] else "")
            )
        for a in alerts:
            typer.echo(
                f"ALERT {a.vendor} {a.capability} {a.country or '-'} {a.metric} ({a.test}, {a.direction}): "
                f"baseline {a.baseline:g}, current {a.current:g} over {a.n}"
            )
        if not alerts:
            typer.echo("no drift alert")
    if alerts:
        raise typer.Exit(EXIT_ALERT)


@friendly_errors
def rebenchmark_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="vendors.yaml")],
    vendor: Annotated[str, typer.Option("--vendor", help="The configured vendor to re-benchmark.")],
    manifest: Annotated[
        list[str],
        typer.Option(
            "--manifest", "-m", help="Owned labelled set as [CAPABILITY=]PATH (repeatable), as for benchmark."
        ),
    ],
    baseline: Annotated[
        Path,
        typer.Option(
            "--baseline", help="The earlier benchmark's --out folder (VENDOR/CAPABILITY/report.json)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder of the new benchmark run.")],
    gate: Annotated[
        Path | None, typer.Option("--gate", help="gates.yaml for the comparison (default gates without one).")
    ] = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Why, for the reset record and the audit log.")
    ] = "re-benchmark passed the regression gate",
    actor: Annotated[
        str, typer.Option("--actor", help="Who, for the reset record and the audit log.")
    ] = "cli",
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256, help="Calls in flight.")] = 8,
    replicates: Annotated[
        int | None,
        typer.Option(
            "--replicates",
            min=50,
            help="Bootstrap replicates (reports and gate; default 1000 / gate file's).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print verdicts and resets as JSON.")] = False,
) -> None:
    """Benchmark one vendor again, gate each capability's report against the baseline run's, and when all
    pass record a drift reset (running servers apply it within seconds) and an audit entry; exit 1 when the
    gate fails (nothing reset)."""
    import logging

    from openidv.eval.metrics.common import Options
    from openidv.eval.vendor_rebenchmark import rebenchmark, record_reset

    pipeline_log = logging.getLogger("openidv.pipeline")
    level = pipeline_log.level
    pipeline_log.setLevel(logging.CRITICAL)
    try:
        run = rebenchmark(
            config,
            vendor,
            manifest,
            baseline,
            out,
            gate=gate,
            options=Options(replicates=replicates or 1000, seed=seed),
            concurrency=concurrency,
            replicates=replicates,
            seed=seed,
        )
    finally:
        pipeline_log.setLevel(level)
    if run.passed:
        store = _store()
        try:
            record_reset(store, run, actor=actor, reason=reason)
        finally:
            store.engine.dispose()
    if as_json:
        print_json(run.as_dict())
    else:
        for v in run.verdicts:
            typer.echo(f"{vendor} {v.capability}: {'PASS' if v.passed else 'FAIL'} ({v.reason})")
        if run.passed:
            ids = ", ".join(r.id for r in run.resets)
            typer.echo(f"drift reset recorded for {vendor} ({ids}); scorecard: {run.scorecard}")
        else:
            typer.echo(f"{vendor}: the gate failed; nothing reset (new scorecard: {run.scorecard})", err=True)
    if not run.passed:
        raise typer.Exit(EXIT_GATE_FAILED)


def register(vendors_app: typer.Typer) -> None:
    """Add ``drift`` and ``rebenchmark`` to the ``openidv vendors`` group."""
    vendors_app.command("drift")(drift_command)
    vendors_app.command("rebenchmark")(rebenchmark_command)
