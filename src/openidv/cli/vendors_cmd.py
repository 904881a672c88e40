"""``openidv vendors ...``: external IDV vendors (docs/vendors.md).

Minimal group created on the benchmark branch; the vendor-core branch owns this module and its
sub-commands, and the merge keeps both (the benchmark registers itself through ``register``).
"""

from __future__ import annotations

import typer

vendors_app = typer.Typer(
    help="External IDV vendors: benchmark them on your owned set, route and monitor them.",
    no_args_is_help=True,
)
