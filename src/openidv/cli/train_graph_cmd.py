"""``openidv train graph``: the identity-graph ring model (learned hub weights + gradient-boosted trees),
trained and evaluated on SYNTHETIC populations by seed (``openidv.train.graph_model``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openidv.cli.common import fail, friendly_errors
from openidv.train.graph_eval import CALIBRATION_SEEDS, DEFAULT_N, DEFAULT_REPLICATES, TEST_SEEDS, TRAIN_SEEDS


def _seeds(text: str, what: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.replace(",", " ").split())
    except ValueError:
        fail(f"{what}: give whole numbers separated by commas, got {text!r}")
    if not seeds:
        fail(f"{what}: give at least one seed")
    return seeds


def _join(seeds: tuple[int, ...]) -> str:
    return ",".join(str(s) for s in seeds)


@friendly_errors
def train_graph_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for the artifact, model card and report.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the trees and the bootstrap.")] = 0,
    n: Annotated[int, typer.Option("--n", min=500, help="Accounts per SYNTHETIC population.")] = DEFAULT_N,
    train_seeds: Annotated[
        str, typer.Option("--train-seeds", help="Populations to fit on (comma-separated seeds).")
    ] = _join(TRAIN_SEEDS),
    calibration_seeds: Annotated[
        str, typer.Option("--calibration-seeds", help="Populations the 1%-FPR threshold is chosen on.")
    ] = _join(CALIBRATION_SEEDS),
    test_seeds: Annotated[
        str, typer.Option("--test-seeds", help="Held-out populations every reported number comes from.")
    ] = _join(TEST_SEEDS),
    replicates: Annotated[
        int, typer.Option("--replicates", min=0, help="Bootstrap replicates for the intervals.")
    ] = DEFAULT_REPLICATES,
) -> None:
    """Train the ring model on SYNTHETIC populations and evaluate it on held-out ones (rings never seen in
    training): writes graph-ring-gbt-v1.json, its model card, graph-eval.json and graph-eval.md to OUT."""
    from openidv.train.graph_model import Recipe, train

    train_s = _seeds(train_seeds, "--train-seeds")
    cal_s = _seeds(calibration_seeds, "--calibration-seeds")
    test_s = _seeds(test_seeds, "--test-seeds")
    if set(test_s) & (set(train_s) | set(cal_s)):
        fail("--test-seeds must differ from the train and calibration seeds (held-out populations)")
    recipe = Recipe(
        n=n, seed=seed, train_seeds=train_s, calibration_seeds=cal_s, test_seeds=test_s, replicates=replicates
    )
    result = train(recipe, out, log=typer.echo)
    typer.echo(f"threshold {result['threshold']:.6f}; sha256 {result['sha256']} (SYNTHETIC data only)")
