"""``openidv train session``: the capture-session anomaly model (an isolation forest exported to JSON),
trained, calibrated and measured on SYNTHETIC sessions by seed (``openidv.train.capture_session_model``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openidv.cli.common import friendly_errors


@friendly_errors
def train_session_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for the model, its card and report.")],
    seed: Annotated[
        int, typer.Option("--seed", help="Trains on seed, calibrates on seed+1, tests on seed+2.")
    ] = 0,
    n: Annotated[int, typer.Option("--n", min=500, help="SYNTHETIC normal sessions to train on.")] = 5000,
    target_fpr: Annotated[
        float, typer.Option("--target-fpr", min=0.0001, max=0.5, help="Share of normal sessions flagged.")
    ] = 0.01,
) -> None:
    """Train the capture-session isolation forest on SYNTHETIC normal sessions, choose the threshold at
    TARGET_FPR of separate normal sessions, and measure it on held-out normal and anomalous ones: writes
    capture-session-v1.json, its model card and report to OUT."""
    from openidv.train.capture_session_model import Recipe, train

    result = train(Recipe(seed=seed, n_train=n, target_fpr=target_fpr), out, log=typer.echo)
    typer.echo(f"threshold {result['threshold']:.6f}; sha256 {result['sha256']} (SYNTHETIC data only)")
