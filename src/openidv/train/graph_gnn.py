"""A heterogeneous GraphSAGE ring model: accounts and typed identifier nodes, trained on some SYNTHETIC
populations and scored on populations of other seeds (inductive: no test ring is seen in training).

Why this shape: a ring is a set of accounts joined through identifiers of particular kinds, and how much a
shared identifier means depends on its kind and on how many accounts hold it (a device on three accounts
is a ring's trace, a carrier NAT address on three hundred is not). Keeping identifiers as nodes of their own
type, with their degree and time span as features, lets each edge type learn its own message instead of a
hand-set weight per kind. Three layers reach the identifiers of an account's neighbours (account ->
identifier -> account -> identifier), the 2-hop view the gradient-boosted model gets from aggregates.

torch and torch_geometric are imported by this module only; the CLI imports it lazily so ``openidv`` works
without them (``pip install 'openidv[gnn]'``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import HeteroConv, SAGEConv

from openidv.services.identity_graph import IdentityGraph
from openidv.train.graph_hetero import (
    ACCOUNT_FEATURES,
    HUB_CAP,
    IDENTIFIER_FEATURES,
    KINDS,
    HeteroArrays,
    build_arrays,
    neighbourhood,
)

MODEL_ID = "graph-ring-gnn-v1"
EdgeType = tuple[str, str, str]


@dataclass(frozen=True)
class GnnConfig:
    """Everything that fixes a trained model besides its seed and data; written into the model card."""

    hidden: int = 32
    layers: int = 3
    epochs: int = 80
    lr: float = 0.01
    weight_decay: float = 1e-4
    dropout: float = 0.1
    threads: int = 1
    kinds: tuple[str, ...] = field(default=KINDS)

    def as_dict(self) -> dict[str, object]:
        return {
            "hidden": self.hidden,
            "layers": self.layers,
            "epochs": self.epochs,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "dropout": self.dropout,
            "kinds": list(self.kinds),
            "account_features": list(ACCOUNT_FEATURES),
            "identifier_features": list(IDENTIFIER_FEATURES),
        }


def edge_types(kinds: Sequence[str]) -> list[EdgeType]:
    """Both directions of every account-identifier relation (messages flow both ways)."""
    out: list[EdgeType] = []
    for kind in kinds:
        out += [("account", f"has_{kind}", kind), (kind, f"held_by_{kind}", "account")]
    return out


def to_hetero_data(arrays: HeteroArrays, kinds: Sequence[str] = KINDS) -> HeteroData:
    """The arrays as a ``HeteroData`` (one node type per identifier kind, typed edges both ways)."""
    data = HeteroData()
    data["account"].x = torch.from_numpy(arrays.account_x)
    for kind in kinds:
        data[kind].x = torch.from_numpy(arrays.ident_x[kind])
        edge = torch.from_numpy(arrays.edges[kind])
        data["account", f"has_{kind}", kind].edge_index = edge
        data[kind, f"held_by_{kind}", "account"].edge_index = edge.flip(0)
    return data


class RingSage(nn.Module):
    """Per-type input projection, ``layers`` HeteroConv(SAGEConv per edge type), a linear head on accounts."""

    def __init__(self, config: GnnConfig) -> None:
        super().__init__()
        h = config.hidden
        self.kinds = tuple(config.kinds)
        self.dropout = config.dropout
        self.embed = nn.ModuleDict(
            {"account": nn.Linear(len(ACCOUNT_FEATURES), h)}
            | {k: nn.Linear(len(IDENTIFIER_FEATURES), h) for k in self.kinds}
        )
        self.convs = nn.ModuleList(
            HeteroConv({et: SAGEConv((h, h), h) for et in edge_types(self.kinds)}, aggr="sum")
            for _ in range(config.layers)
        )
        self.head = nn.Linear(h, 1)

    def forward(self, x: dict[str, Tensor], edge_index: dict[EdgeType, Tensor]) -> Tensor:
        """One logit per account (higher = more likely a ring member)."""
        h = {t: torch.relu(self.embed[t](v)) for t, v in x.items()}
        for conv in self.convs:
            out = conv(h, edge_index)
            h = {t: nn.functional.dropout(torch.relu(v), self.dropout, self.training) for t, v in out.items()}
        logits: Tensor = self.head(h["account"]).squeeze(-1)
        return logits


@dataclass(frozen=True)
class Trained:
    model: RingSage
    config: GnnConfig
    seed: int
    train_seconds: float
    losses: list[float]


def _setup(seed: int, threads: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


def train(
    graphs: Sequence[HeteroArrays],
    labels: Sequence[npt.NDArray[np.bool_]],
    *,
    config: GnnConfig = GnnConfig(),
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> Trained:
    """Full-batch training over every training population each epoch (``labels[i]``: True for the ring
    members of ``graphs[i]``, in its account order); binary cross-entropy weighted so the few ring members
    weigh as much as the many innocent accounts."""
    if len(graphs) != len(labels) or any(g.n != len(y) for g, y in zip(graphs, labels, strict=False)):
        raise ValueError("one label per account of every training graph")
    _setup(seed, config.threads)
    data = [to_hetero_data(g, config.kinds) for g in graphs]
    targets = [torch.from_numpy(np.asarray(y, dtype=np.float32)) for y in labels]
    positives = float(sum(int(y.sum()) for y in targets))
    negatives = float(sum(y.numel() for y in targets)) - positives
    pos_weight = torch.tensor(negatives / max(positives, 1.0))
    model = RingSage(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    losses: list[float] = []
    start = time.perf_counter()
    model.train()
    for epoch in range(1, config.epochs + 1):
        total = 0.0
        for d, y in zip(data, targets, strict=True):
            optimiser.zero_grad()
            loss = loss_fn(model(d.x_dict, d.edge_index_dict), y)
            loss.backward()
            optimiser.step()
            total += float(loss.detach())
        losses.append(total / max(len(data), 1))
        if log is not None and (epoch % 20 == 0 or epoch == config.epochs):
            log(f"epoch {epoch}/{config.epochs}: loss {losses[-1]:.4f}")
    return Trained(model, config, seed, time.perf_counter() - start, losses)


@torch.no_grad()
def score(model: RingSage, graph: HeteroArrays) -> npt.NDArray[np.float64]:
    """P(ring member) per account of one population (attack meaning: higher = more likely fraud)."""
    model.eval()
    d = to_hetero_data(graph, model.kinds)
    return torch.sigmoid(model(d.x_dict, d.edge_index_dict)).numpy().astype(np.float64)


def score_account(
    model: RingSage,
    graph: IdentityGraph,
    account: str,
    *,
    hub_cap: int = HUB_CAP,
    tokens: dict[tuple[str, str], list[str]] | None = None,
) -> float:
    """P(ring member) of one account from its neighbourhood alone (the online path): the account, the holders
    of its shared identifiers and their identifiers, with features from the whole graph. For the 3-layer
    model this equals the full-batch score (tested); pass ``tokens=token_index(graph)`` when scoring many."""
    rows = neighbourhood(graph, account, hub_cap=hub_cap, tokens=tokens)
    return float(score(model, build_arrays(graph, rows, hub_cap=hub_cap, tokens=tokens))[0])


def save(model: RingSage, path: str) -> None:
    """The state dict only (tensors), so loading needs no pickled code: ``torch.load(weights_only=True)``."""
    torch.save(model.state_dict(), path)


def load(path: str, config: GnnConfig) -> RingSage:
    model = RingSage(config)
    model.load_state_dict(torch.load(path, weights_only=True))
    model.eval()
    return model
