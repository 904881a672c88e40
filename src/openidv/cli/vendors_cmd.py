"""``openidv vendors ...``: external IDV vendors. This module makes the group (``vendors_app``) and its
simulated-vendor commands; other modules register more commands on ``vendors_app`` (benchmark, routing).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from openidv.cli.common import fail, friendly_errors, print_json

vendors_app = typer.Typer(
    help="External IDV vendors: simulated vendors on loopback, benchmarks, routing (docs/vendors.md).",
    no_args_is_help=True,
)


@vendors_app.command("simulate")
@friendly_errors
def simulate_command(
    out: Annotated[
        Path, typer.Option("--out", help="Output folder: vendors.yaml, manifest.csv, images.")
    ] = Path("runs/vendors/simulated"),
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed writes the same set.")] = 0,
    documents: Annotated[int, typer.Option("--documents", min=0, max=200, help="Synthetic documents.")] = 24,
    attacks: Annotated[int, typer.Option("--attacks", min=0, max=200, help="Liveness samples (synth).")] = 48,
    pairs: Annotated[int, typer.Option("--pairs", min=0, max=200, help="Real face-match pairs.")] = 60,
    shared: Annotated[
        Path | None,
        typer.Option("--shared", help="Shared data folder (default $OPENIDV_SHARED_DATA or ../shared/data)."),
    ] = None,
    base_port: Annotated[
        int, typer.Option("--base-port", min=1024, max=65000, help="First vendor's port.")
    ] = 8701,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was written as JSON.")] = False,
) -> None:
    """Write vendors.yaml for three simulated vendors and a labelled manifest of real and generated inputs."""
    from openidv.synth.assets import shared_data_dir
    from openidv.synth.vendor_set import simulate

    shared = shared or shared_data_dir()
    if (
        not (shared / "faces" / "manifest.csv").is_file()
        or not (shared / "documents" / "manifest.csv").is_file()
    ):
        fail(f"--shared {shared}: needs faces/manifest.csv and documents/manifest.csv")
    made = simulate(
        out, shared=shared, seed=seed, documents=documents, attacks=attacks, pairs=pairs, base_port=base_port
    )
    if as_json:
        print_json(
            {
                "vendors": str(made.vendors),
                "manifest": str(made.manifest),
                "rows": made.rows,
                "by_capability": made.by_capability,
            }
        )
        return
    counts = ", ".join(f"{k} {v}" for k, v in made.by_capability.items())
    typer.echo(f"wrote {made.vendors} and {made.manifest} ({made.rows} rows: {counts})")


@vendors_app.command("serve-simulated")
@friendly_errors
def serve_simulated_command(
    config: Annotated[Path, typer.Option("--config", help="vendors.yaml (its adapter: simulated vendors).")],
) -> None:
    """Run every simulated vendor of vendors.yaml on its configured loopback port until Ctrl-C."""
    from openidv.vendors.config import load_vendors
    from openidv.vendors.simulated import serve_simulated

    vendors = load_vendors(config)
    servers = serve_simulated(vendors.vendors)
    if not servers:
        fail(f"{config}: no vendor with adapter: simulated")
    for server in servers:
        typer.echo(f"{server.name}: {server.url} (POST /v1/checks, POST /admin/outage, GET /admin/stats)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()
    typer.echo("stopped")
