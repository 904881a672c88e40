"""``openidv synth ...``: seeded generators of labelled synthetic data (documents, attacks, identities).

Each generator lives with its domain; this module only gathers their commands under one group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openidv.cli.common import friendly_errors

synth_app = typer.Typer(
    help="Generate labelled synthetic data sets (seeded, with manifests).", no_args_is_help=True
)

from openidv.cli.document_cmd import synth_documents_command  # noqa: E402

synth_app.command("documents")(synth_documents_command)
from openidv.cli.liveness_cmd import synth_attacks_command  # noqa: E402

synth_app.command("attacks")(synth_attacks_command)


@synth_app.command("identities")
@friendly_errors
def synth_identities_command(
    n: Annotated[int, typer.Option("--n", help="Number of accounts (applications) to generate.")] = 10_000,
    out: Annotated[
        Path, typer.Option("--out", help="Output folder: applicants.jsonl, labels.csv, rings.csv, README.md.")
    ] = Path("datasets/identities"),
    seed: Annotated[int, typer.Option("--seed", help="Seed; the same seed gives the same files.")] = 0,
    ring_share: Annotated[
        float, typer.Option("--ring-share", help="Share of accounts that belong to fraud rings (0 to 0.5).")
    ] = 0.05,
) -> None:
    """A labelled, SYNTHETIC onboarding population: families, coworkers, students and fraud rings."""
    from openidv.synth.identities import generate

    population = generate(n, out, seed=seed, ring_share=ring_share)
    counts = ", ".join(f"{t} {c}" for t, c in population.counts.items())
    typer.echo(f"wrote {n} SYNTHETIC accounts in {population.rings} rings to {out} ({counts})")


from openidv.cli.behaviour_cmd import synth_telemetry_command  # noqa: E402

synth_app.command("telemetry")(synth_telemetry_command)
