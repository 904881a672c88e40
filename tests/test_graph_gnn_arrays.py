"""The GNN's view of an identity graph (plain numpy, no torch needed), and the command without torch."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from openidv.cli import app
from openidv.services.graph_facts import AccountFacts
from openidv.services.identity_graph import IdentityGraph
from openidv.train.graph_hetero import ACCOUNT_FEATURES, KINDS, build_arrays

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _graph() -> IdentityGraph:
    g = IdentityGraph()
    for i in range(5):  # five accounts on one device within hours: a farm's trace
        g.add(f"farm{i}", ["device:d1", f"email:f{i}@x.test", "ip24:10.0.0.0/24"], T0 + timedelta(hours=i))
    for i in range(3):  # a family on one address, months apart; one of them gives a surname token
        facts = AccountFacts(surname_token="abc", age_years=40.0) if i == 0 else None
        g.add(f"fam{i}", ["address:1 main st", "ip24:10.0.0.0/24"], T0 + timedelta(days=40 * i), facts=facts)
    g.add("lone", ["phone:+14155550100"], T0, facts=AccountFacts(national_id_before_birth=True))
    return g


def test_identifiers_become_typed_nodes_and_hubs_lose_their_edges() -> None:
    g = _graph()
    accounts = sorted(g.accounts())
    arrays = build_arrays(g, accounts, hub_cap=6)
    assert arrays.account_x.shape == (9, len(ACCOUNT_FEATURES))
    assert set(arrays.edges) == set(KINDS)
    # the device links five accounts; emails and the lone phone are held once and are not nodes
    assert arrays.ident_x["device"].shape == (1, 2)
    assert arrays.edges["device"].shape == (2, 5)
    assert arrays.ident_x["email"].shape[0] == 0 and arrays.ident_x["phone"].shape[0] == 0
    # the /24 holds eight accounts, over the cap of six: no edges, and each holder counts one hub
    assert arrays.edges["ip24"].shape == (2, 0)
    assert arrays.hub_edges_dropped == 8
    hubs = arrays.account_x[:, ACCOUNT_FEATURES.index("log_hubs")]
    assert np.count_nonzero(hubs) == 8
    # the farm's device spans 4 hours, the family's address 80 days: the span feature tells them apart
    span_device = arrays.ident_x["device"][0, 1]
    span_address = arrays.ident_x["address"][0, 1]
    assert span_device < span_address
    lone = arrays.account_x[accounts.index("lone")]
    assert lone[ACCOUNT_FEATURES.index("national_id_before_birth")] == 1.0
    assert lone[ACCOUNT_FEATURES.index("no_device")] == 1.0


def test_node_order_does_not_depend_on_arrival_order() -> None:
    g = _graph()
    accounts = sorted(g.accounts())
    again = IdentityGraph()
    for a in reversed(accounts):
        again.add(a, sorted(g.keys_of(a)), g.created_at(a), facts=g.facts_of(a))
    one, two = build_arrays(g, accounts), build_arrays(again, accounts)
    assert np.array_equal(one.account_x, two.account_x)
    for kind in KINDS:
        assert np.array_equal(one.edges[kind], two.edges[kind])
        assert np.array_equal(one.ident_x[kind], two.ident_x[kind])


def test_the_command_without_torch_exits_2_with_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # a None entry in sys.modules makes `import torch` raise ImportError, as on a machine without it
    monkeypatch.setitem(sys.modules, "torch", None)
    result = CliRunner().invoke(app, ["train", "graph-gnn", "--out", "unused", "--n", "200"])
    assert result.exit_code == 2
    assert "pip install 'openidv[gnn]'" in result.output
