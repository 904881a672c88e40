"""``openidv train ...``: seeded training recipes that write versioned artifacts and model cards to models/.

Each recipe lives with its domain; this module only gathers their commands under one group.
"""

from __future__ import annotations

import typer

train_app = typer.Typer(
    help="Train in-house models (seeded) into models/ with model cards.", no_args_is_help=True
)

from openidv.cli.document_cmd import (  # noqa: E402
    train_document_capture_command,
    train_document_forensics_command,
)

train_app.command("document-forensics")(train_document_forensics_command)
train_app.command("document-capture")(train_document_capture_command)
from openidv.cli.liveness_cmd import (  # noqa: E402
    train_deepfake_command,
    train_pad_command,
    train_pad_fusion_command,
)

train_app.command("pad")(train_pad_command)
train_app.command("pad-fusion")(train_pad_fusion_command)
train_app.command("deepfake")(train_deepfake_command)
from openidv.cli.train_graph_cmd import train_graph_command  # noqa: E402

train_app.command("graph")(train_graph_command)

from openidv.cli.train_graph_gnn_cmd import train_graph_gnn_command  # noqa: E402

train_app.command("graph-gnn")(train_graph_gnn_command)

from openidv.cli.train_session_cmd import train_session_command  # noqa: E402

train_app.command("session")(train_session_command)

from openidv.cli.behaviour_cmd import train_bot_command  # noqa: E402

train_app.command("bot")(train_bot_command)
