"""``openidv train graph-gnn``: train the heterogeneous GNN ring model on SYNTHETIC populations and evaluate
it on held-out seeds (``openidv.train.graph_eval``'s protocol), writing weights, a model card and a report.

torch and torch_geometric are an optional extra (``pip install 'openidv[gnn]'``, about 1 GB installed), so
they are imported only when this command runs; without them it exits 2 with that one line.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from openidv.cli.common import fail, friendly_errors, print_json

INSTALL_HINT = "the GNN needs torch and torch_geometric: pip install 'openidv[gnn]'"


def require_torch() -> None:
    """Exit 2 with the install line when torch or torch_geometric cannot be imported."""
    for module in ("torch", "torch_geometric"):
        try:
            importlib.import_module(module)
        except ImportError:
            fail(INSTALL_HINT)


def _seeds(text: str, option: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        fail(f"{option}: comma-separated integers, got {text!r:.40}")
    if not seeds:
        fail(f"{option}: give at least one seed")
    return seeds


@friendly_errors
def train_graph_gnn_command(
    out: Annotated[Path, typer.Option("--out", help="Where the weights, model card and report go.")] = Path(
        "models"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the model's initialisation and dropout.")] = 0,
    n: Annotated[int, typer.Option("--n", min=200, help="Accounts per SYNTHETIC population.")] = 20_000,
    train_seeds: Annotated[
        str | None, typer.Option("--train-seeds", help="Training populations (default: graph_eval's).")
    ] = None,
    calibration_seeds: Annotated[
        str | None, typer.Option("--calibration-seeds", help="Populations the 1%-FPR threshold is set on.")
    ] = None,
    test_seeds: Annotated[
        str | None, typer.Option("--test-seeds", help="Held-out populations every number comes from.")
    ] = None,
    epochs: Annotated[
        int, typer.Option("--epochs", min=1, help="Full-batch passes over the training set.")
    ] = 80,
    hidden: Annotated[int, typer.Option("--hidden", min=4, help="Width of every layer.")] = 32,
    replicates: Annotated[int, typer.Option("--replicates", min=0, help="Bootstrap replicates.")] = 500,
    threads: Annotated[int, typer.Option("--threads", min=1, help="torch CPU threads.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON.")] = False,
) -> None:
    """Train the GNN ring model (seeded, CPU) and evaluate it on held-out SYNTHETIC populations."""
    require_torch()
    from openidv.train import graph_eval
    from openidv.train.graph_gnn import MODEL_ID, GnnConfig
    from openidv.train.graph_gnn_recipe import Plan, headline, run

    try:
        plan = Plan(
            n=n,
            train_seeds=_seeds(train_seeds, "--train-seeds") if train_seeds else graph_eval.TRAIN_SEEDS,
            calibration_seeds=(
                _seeds(calibration_seeds, "--calibration-seeds")
                if calibration_seeds
                else graph_eval.CALIBRATION_SEEDS
            ),
            test_seeds=_seeds(test_seeds, "--test-seeds") if test_seeds else graph_eval.TEST_SEEDS,
        )
    except ValueError as exc:
        fail(str(exc))
    config = GnnConfig(epochs=epochs, hidden=hidden, threads=threads)
    report = run(
        out,
        plan=plan,
        config=config,
        seed=seed,
        replicates=replicates,
        log=lambda message: typer.echo(message, err=True),
    )
    if as_json:
        print_json(report)
        return
    typer.echo(f"{MODEL_ID}: weights, model card and report in {out} (all figures SYNTHETIC)")
    typer.echo(
        f"train {report['train_accounts']} accounts in {report['train_seconds']} s; "
        f"test {report['evaluation']['accounts']} accounts"
    )
    for name, row in headline(report["evaluation"]).items():
        typer.echo(
            f"  {name:20s} AUC {row['auc']}  AUPRC {row['auprc']}  recall@1%FPR {row['recall_at_1pct_fpr']}"
        )
