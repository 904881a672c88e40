"""``openidv train ...``: seeded training recipes that write versioned artifacts and model cards to models/.

Each recipe lives with its domain; this module only gathers their commands under one group.
"""

from __future__ import annotations

import typer

train_app = typer.Typer(
    help="Train in-house models (seeded) into models/ with model cards.", no_args_is_help=True
)
