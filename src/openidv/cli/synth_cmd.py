"""``openidv synth ...``: seeded generators of labelled synthetic data (documents, attacks, telemetry).

Each generator lives with its domain; this module only gathers their commands under one group.
"""

from __future__ import annotations

import typer

synth_app = typer.Typer(
    help="Generate labelled synthetic data sets (seeded, with manifests).", no_args_is_help=True
)

from openidv.cli.document_cmd import synth_documents_command  # noqa: E402

synth_app.command("documents")(synth_documents_command)
from openidv.cli.liveness_cmd import synth_attacks_command  # noqa: E402

synth_app.command("attacks")(synth_attacks_command)
