"""The GNN ring model on small SYNTHETIC populations: seeded training is repeatable, and a model trained on
some seeds ranks the ring members of an unseen seed far above chance (inductive). torch is an optional extra
(``openidv[gnn]``), so this file is skipped where it is not installed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

import torch

from openidv.eval.simple import eer
from openidv.train.graph_eval import labelled_graph
from openidv.train.graph_gnn import GnnConfig, load, score, score_account, train
from openidv.train.graph_gnn_recipe import Plan, run
from openidv.train.graph_hetero import HeteroArrays, build_arrays, token_index

N = 1500
CONFIG = GnnConfig(epochs=25, hidden=16, threads=1)


@pytest.fixture(scope="module")
def populations() -> dict[int, tuple[HeteroArrays, np.ndarray]]:
    out = {}
    for seed in (101, 102, 201):
        pop = labelled_graph(N, seed)
        out[seed] = (build_arrays(pop.graph, pop.accounts), pop.is_ring)
    return out


def _auc(scores: np.ndarray, is_ring: np.ndarray) -> float:
    """P(a ring member outscores an innocent account), ties half (Mann-Whitney)."""
    pos, neg = scores[is_ring], scores[~is_ring]
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def test_training_is_repeatable_with_a_seed(populations: dict[int, tuple[HeteroArrays, np.ndarray]]) -> None:
    arrays, labels = populations[101]
    short = GnnConfig(epochs=6, hidden=16, threads=1)
    a = train([arrays], [labels], config=short, seed=5)
    b = train([arrays], [labels], config=short, seed=5)
    assert a.losses == b.losses
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
    other = train([arrays], [labels], config=short, seed=6)
    assert other.losses != a.losses


def test_a_model_trained_on_some_seeds_finds_the_rings_of_an_unseen_seed(
    populations: dict[int, tuple[HeteroArrays, np.ndarray]],
) -> None:
    trained = train(
        [populations[101][0], populations[102][0]],
        [populations[101][1], populations[102][1]],
        config=CONFIG,
        seed=0,
    )
    arrays, is_ring = populations[201]
    scores = score(trained.model, arrays)
    assert scores.shape == (arrays.n,)
    assert np.all((scores >= 0) & (scores <= 1))
    assert is_ring.sum() >= 50
    auc = _auc(scores, is_ring)
    assert auc > 0.9, auc
    # the evaluation layer's EER agrees that the two classes are well apart
    assert eer(scores[~is_ring], scores[is_ring], "attack") < 0.2


def test_one_account_scored_from_its_neighbourhood_equals_the_full_batch_score() -> None:
    pop = labelled_graph(800, 7)
    tokens = token_index(pop.graph)
    arrays = build_arrays(pop.graph, pop.accounts, tokens=tokens)
    trained = train([arrays], [pop.is_ring], config=GnnConfig(epochs=4, hidden=8, threads=1), seed=1)
    full = score(trained.model, arrays)
    rings = [i for i in range(len(pop.accounts)) if pop.is_ring[i]][:10]
    for i in [*rings, *range(0, len(pop.accounts), 80)]:
        online = score_account(trained.model, pop.graph, pop.accounts[i], tokens=tokens)
        assert abs(online - full[i]) < 1e-5, pop.accounts[i]


def test_the_recipe_writes_weights_that_load_without_pickle_a_card_and_a_report(tmp_path: Path) -> None:
    plan = Plan(n=600, train_seeds=(101,), calibration_seeds=(151,), test_seeds=(201,))
    report = run(tmp_path, plan=plan, config=GnnConfig(epochs=5, hidden=8, threads=1), replicates=0)
    weights = tmp_path / "graph-ring-gnn-v1.pt"
    assert weights.exists()
    model = load(str(weights), GnnConfig(epochs=5, hidden=8, threads=1))  # torch.load(weights_only=True)
    assert sum(p.numel() for p in model.parameters()) > 0
    saved = json.loads((tmp_path / "graph-ring-gnn-v1.report.json").read_text(encoding="utf-8"))
    assert saved["data"].startswith("SYNTHETIC")
    assert saved["evaluation"]["accounts"] == 600
    assert set(saved["evaluation"]["per_typology"]) <= {
        "synthetic_identity",
        "device_farm",
        "document_reuse",
        "face_reuse",
        "bust_out",
    }
    assert saved == json.loads(json.dumps(report))
    card = (tmp_path / "graph-ring-gnn-v1.yaml").read_text(encoding="utf-8")
    assert "SYNTHETIC" in card and "not the shipped default" in card


def test_the_command_trains_and_prints_the_synthetic_figures(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from openidv.cli import app

    args = ["train", "graph-gnn", "--out", str(tmp_path), "--n", "300", "--epochs", "2", "--replicates", "0"]
    result = CliRunner().invoke(app, [*args, "--train-seeds", "101", "--test-seeds", "201"])
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output and "recall@1%FPR" in result.output
    assert (tmp_path / "graph-ring-gnn-v1.pt").exists()
    clash = CliRunner().invoke(app, [*args, "--train-seeds", "201", "--test-seeds", "201"])
    assert clash.exit_code == 2
