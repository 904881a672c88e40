"""Identity graph core: storage, in-memory graph, rings, neighbourhoods, the ``openidv graph`` commands.

Store-backed tests run on SQLite and PostgreSQL (``database_url``)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from typer.testing import CliRunner

from openidv.errors import InvalidInput, NotFound
from openidv.services.graph_rings import find_rings, ring_of
from openidv.services.graph_service import GraphService
from openidv.services.graph_weights import GraphConfig
from openidv.services.identity_graph import IdentityGraph
from openidv.store.db import make_engine
from openidv.store.graph_repository import AccountRecord, GraphRepository, create_graph_tables

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def population() -> list[AccountRecord]:
    """A device farm, a shared-document pair, a family, coworkers on one /24 and unrelated customers behind
    one carrier NAT address."""
    out: list[AccountRecord] = []
    for i in range(6):  # device farm: one device, everything else different, six accounts in a day
        out.append(
            AccountRecord(
                f"farm-{i}",
                ("device:emu-1", f"email:farm{i}@mail.test", f"phone:+1555010{i:02d}", "ip:203.0.113.7"),
                T0 + timedelta(hours=i * 3),
            )
        )
    for i, face in enumerate(("face:c1", "face:c2")):  # one passport, two faces
        out.append(AccountRecord(f"doc-{i}", ("document:utopia:P1234567", face), T0 + timedelta(days=i)))
    for i in range(4):  # family: address and home phone, each their own device
        out.append(
            AccountRecord(
                f"fam-{i}",
                ("address:1 main st springfield", "phone:+15550999000", f"device:fam{i}"),
                T0 + timedelta(days=30 * i),
            )
        )
    for i in range(10):  # coworkers: one office /24 only
        out.append(AccountRecord(f"work-{i}", ("ip24:198.51.100.0/24", f"device:w{i}"), T0))
    for i in range(40):  # carrier NAT: one public IP, nothing else shared
        out.append(AccountRecord(f"cust-{i}", ("ip:100.64.0.1", f"device:c{i}", f"email:c{i}@x.test"), T0))
    return out


def random_population(seed: int, n: int = 300) -> list[AccountRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        keys = {
            f"device:d{rng.randrange(n // 3)}",
            f"phone:+1{rng.randrange(n):07d}",
            f"ip24:10.{rng.randrange(4)}.0.0/24",
            f"address:{rng.randrange(n // 2)} elm st",
        }
        records.append(AccountRecord(f"a{i:04d}", tuple(sorted(keys)), T0 + timedelta(minutes=i)))
    return records


def memory_graph(records: list[AccountRecord], config: GraphConfig | None = None) -> IdentityGraph:
    graph = IdentityGraph(config)
    for r in records:
        graph.add(r.account_id, r.keys, r.created_at)
    return graph


@pytest.fixture
def graph_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_graph_tables(engine)
    yield engine
    engine.dispose()


def ring_sets(rings: list) -> set[frozenset[str]]:  # type: ignore[type-arg]
    return {frozenset(r.members) for r in rings}


# ---- grouping


def test_hand_built_population_groups_as_expected() -> None:
    rings = find_rings(memory_graph(population()))
    assert ring_sets(rings) == {
        frozenset(f"farm-{i}" for i in range(6)),
        frozenset({"doc-0", "doc-1"}),
        frozenset(f"fam-{i}" for i in range(4)),
    }
    by = {r.members[0]: r for r in rings}
    farm, doc, family = by["farm-0"], by["doc-0"], by["fam-0"]
    assert farm.shared[0].key == "device:emu-1" and farm.shared[0].members == 6
    assert farm.density == 1.0 and farm.accounts_per_day == 6.0
    assert doc.shared[0].kind == "document"
    assert {s.kind for s in family.shared} == {"address", "phone"}
    # the placeholder score puts the device farm and document reuse above the family
    assert farm.score > family.score and doc.score > family.score
    assert rings[-1] is family
    graph = memory_graph(population())
    assert (
        ring_of(graph, "farm-3") == farm
        and ring_of(graph, "work-1") is None
        and ring_of(graph, "cust-0") is None
    )


def test_louvain_splits_a_large_component() -> None:
    """Two dense groups bridged by one account-pair: one component, two communities."""
    records = [AccountRecord(f"x{i}", ("device:X", f"phone:+1{i}"), T0) for i in range(8)]
    records += [AccountRecord(f"y{i}", ("device:Y", f"phone:+2{i}"), T0) for i in range(8)]
    records.append(AccountRecord("bridge", ("device:X", "device:Y"), T0))
    rings = find_rings(memory_graph(records, GraphConfig(louvain_above=5)))
    assert len(rings) == 2
    xs = {f"x{i}" for i in range(8)}
    assert any(xs <= set(r.members) for r in rings)
    # without splitting it is one ring
    assert len(find_rings(memory_graph(records))) == 1
    split = memory_graph(records, GraphConfig(louvain_above=5))
    by_member = {a: r for r in rings for a in r.members}
    assert all(ring_of(split, a) == by_member.get(a) for a in split.accounts())


# ---- incremental == rebuild, restart


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incremental_add_equals_rebuild(seed: int) -> None:
    records = random_population(seed)
    rebuilt = memory_graph(records)
    shuffled = records[:]
    random.Random(seed + 100).shuffle(shuffled)
    incremental = IdentityGraph()
    for r in shuffled:  # keys arrive one at a time as well
        for key in r.keys:
            incremental.add(r.account_id, [key], r.created_at)
    assert incremental.snapshot() == rebuilt.snapshot()
    rings = find_rings(incremental)
    assert rings == find_rings(rebuilt)
    by_member = {a: r for r in rings for a in r.members}
    assert all(ring_of(incremental, a) == by_member.get(a) for a in incremental.accounts())
    for account in ("a0000", "a0100", "a0299"):
        assert incremental.neighbourhood(account) == rebuilt.neighbourhood(account)


def test_service_incremental_equals_restart(graph_engine: Engine) -> None:
    records = random_population(7, n=150) + population()
    service = GraphService(GraphRepository(graph_engine))
    service.add_many(records[:100])
    before = service.rings()
    for r in records[100:]:
        service.add(r.account_id, r.keys, created_at=r.created_at)
    restarted = GraphService(GraphRepository(graph_engine))
    assert restarted.graph().snapshot() == service.graph().snapshot() == memory_graph(records).snapshot()
    assert restarted.rings() == service.rings()
    # the service scores rings with the ring model; the groups are exactly find_rings'
    members = {r.ring_id: r.members for r in find_rings(memory_graph(records))}
    assert {r.ring_id: r.members for r in service.rings()} == members
    assert service.rings() != before
    assert restarted.neighbourhood("farm-2") == service.neighbourhood("farm-2")
    ring = service.neighbourhood("farm-2").ring
    assert ring is not None and ring in service.rings()
    # the online path answers from the cached rings and says when they are stale
    service.add("farm-new", ["device:emu-1"], created_at=T0)
    online = service.neighbourhood("farm-new", fresh=False)
    assert online.ring is None and online.ring_stale
    assert service.neighbourhood("farm-new").ring in service.rings()
    assert not service.neighbourhood("farm-new", fresh=False).ring_stale


# ---- hubs, self-loops, duplicates, bad input


def test_hub_of_100000_accounts_links_nobody_and_stays_fast() -> None:
    graph = IdentityGraph()
    for i in range(100_000):
        graph.add(f"u{i}", ("ip:100.64.0.1", f"device:u{i}"), T0)
    for i in range(5):  # a small farm among them
        graph.add(f"u{i}", ("device:farm",), T0)
    start = time.perf_counter()
    rings = find_rings(graph)
    ring_seconds = time.perf_counter() - start
    assert ring_sets(rings) == {frozenset(f"u{i}" for i in range(5))}
    start = time.perf_counter()
    assert ring_of(graph, "u3") == rings[0] and ring_of(graph, "u99") is None
    assert time.perf_counter() - start < 0.05
    assert ring_seconds < 10, ring_seconds  # 5e9 pairs would never finish
    start = time.perf_counter()
    near = graph.neighbourhood("u0")
    assert time.perf_counter() - start < 0.05
    hub = next(i for i in near.identifiers if i.key == "ip:100.64.0.1")
    assert hub.hub and hub.degree == 100_000 and hub.weight == 0
    assert {n.account_id for n in near.neighbours} == {f"u{i}" for i in range(1, 5)}
    assert graph.link("u10", "u11") == (0.0, ())


def test_identifier_above_pair_limit_links_through_a_star() -> None:
    """A device on 500 accounts (above pair_limit 50, under hub_cap): one ring, no 124,750 pairs."""
    graph = memory_graph(
        [AccountRecord(f"v{i:03d}", ("device:big", f"email:{i}@x.test"), T0) for i in range(500)]
    )
    rings = find_rings(graph)
    assert len(rings) == 1 and rings[0].size == 500 and rings[0].density == 1.0
    near = graph.neighbourhood("v000")
    assert near.truncated and len([n for n in near.neighbours if n.hops == 1]) == 200


def test_self_loop_and_duplicate_adds(graph_engine: Engine) -> None:
    service = GraphService(GraphRepository(graph_engine))
    assert service.add("solo", ["device:x", "device:x", "email:s@x.test"], created_at=T0) == (
        "device:x",
        "email:s@x.test",
    )
    assert service.add("solo", ["device:x"], created_at=T0 + timedelta(days=1)) == ()
    stored = service.repository.get("solo")
    assert stored is not None and stored.keys == ("device:x", "email:s@x.test") and stored.created_at == T0
    view = service.neighbourhood("solo")
    assert view.neighbourhood.neighbours == () and view.ring is None
    assert service.graph().link("solo", "solo") == (0.0, ())
    assert service.rings() == []
    # the same account twice in one batch
    assert (
        service.add_many([AccountRecord("b", ("device:y",), T0), AccountRecord("b", ("phone:+1",), T0)]) == 1
    )
    assert service.repository.get("b").keys == ("device:y", "phone:+1")  # type: ignore[union-attr]


@pytest.mark.parametrize("key", ["nokind", ":x", "phone:", "Phone:+1", "x" * 301, "a b:c"])
def test_bad_identifiers_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput):
        AccountRecord("a", (key,), T0)


# ---- erasure, tenants


def test_erasing_an_account_removes_its_links_and_it_leaves_rings(graph_engine: Engine) -> None:
    service = GraphService(GraphRepository(graph_engine))
    service.add_many(population())
    assert service.erase("farm-0") and service.erase("doc-1")
    assert not service.erase("farm-0")
    repo = service.repository
    assert repo.get("farm-0") is None and "farm-0" not in repo.accounts_with("device:emu-1")
    rings = ring_sets(service.rings())
    assert frozenset(f"farm-{i}" for i in range(1, 6)) in rings
    assert not any("doc-0" in r for r in rings)
    with pytest.raises(NotFound):
        service.neighbourhood("farm-0")
    restarted = GraphService(GraphRepository(graph_engine))
    assert "farm-0" not in restarted.graph() and ring_sets(restarted.rings()) == rings


def test_tenants_are_isolated(graph_engine: Engine) -> None:
    service = GraphService(GraphRepository(graph_engine))
    service.add_many(population(), tenant="bank-a")
    service.add_many(
        [AccountRecord("farm-0", ("device:other",), T0), AccountRecord("z", ("device:other",), T0)],
        tenant="bank-b",
    )
    assert ring_sets(service.rings(tenant="bank-b")) == {frozenset({"farm-0", "z"})}
    assert len(service.rings(tenant="bank-a")) == 3
    near = service.neighbourhood("farm-0", tenant="bank-b").neighbourhood
    assert [n.account_id for n in near.neighbours] == ["z"]
    service.erase("farm-0", tenant="bank-b")
    assert service.repository.get("farm-0", "bank-a") is not None
    assert service.repository.count("bank-a") == len(population()) and service.repository.count("bank-b") == 1
    with pytest.raises(NotFound):
        service.neighbourhood("farm-1", tenant="default")


def test_repository_loads_in_batches_and_pages(graph_engine: Engine) -> None:
    repo = GraphRepository(graph_engine)
    records = random_population(3, n=120)
    repo.add_many(records)
    batches = list(repo.load(batch=50))
    assert [len(b) for b in batches] == [50, 50, 20]
    assert {a.account_id: a.keys for b in batches for a in b} == {r.account_id: r.keys for r in records}
    assert repo.accounts(limit=3, after="a0010") == ["a0011", "a0012", "a0013"]


# ---- CLI


def _write_jsonl(path: Path, records: list[AccountRecord]) -> None:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "account_id": r.account_id,
                    "created_at": r.created_at.isoformat(),
                    "identifiers": list(r.keys),
                }
            )
            + "\n"
            for r in records
        )
    )


def test_cli_ingest_rings_show_round_trip(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openidv.cli import app

    monkeypatch.setenv("OPENIDV_DATABASE_URL", database_url)
    runner = CliRunner()
    applicants = tmp_path / "applicants.jsonl"
    _write_jsonl(applicants, population())
    result = runner.invoke(app, ["graph", "ingest", str(applicants)])
    assert result.exit_code == 0, result.output
    assert f"ingested {len(population())} applicant(s), {len(population())} new" in result.output
    assert runner.invoke(app, ["graph", "ingest", str(applicants)]).exit_code == 0  # idempotent

    result = runner.invoke(app, ["graph", "rings", "--json", "--min-size", "3"])
    assert result.exit_code == 0, result.output
    rings = json.loads(result.output)
    assert {frozenset(r["members"]) for r in rings} == {
        frozenset(f"farm-{i}" for i in range(6)),
        frozenset(f"fam-{i}" for i in range(4)),
    }
    assert {"ring_id", "score", "members", "shared"} <= set(rings[0])
    # keys are stored as keyed pseudonyms; the operator's listing reveals the value behind each
    first = rings[0]["shared"][0]
    assert (first["kind"], first["members"], first["value"]) == ("device", 6, "emu-1")
    assert first["key"].startswith("device:") and "emu-1" not in first["key"]
    assert "score" in runner.invoke(app, ["graph", "rings"]).output

    result = runner.invoke(app, ["graph", "show", "doc-0", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["neighbours"][0]["account_id"] == "doc-1"
    assert [shown["values"][k] for k in shown["neighbours"][0]["shared"]] == ["utopia:P1234567"]
    assert shown["ring"]["members"] == ["doc-0", "doc-1"]
    assert "hop 1: doc-1" in runner.invoke(app, ["graph", "show", "doc-0"]).output

    result = runner.invoke(app, ["graph", "show", "nobody"])
    assert result.exit_code == 2 and result.output.count("\n") == 1


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        '["a"]',
        '{"identifiers": ["device:x"]}',
        '{"account_id": "a", "identifiers": "device:x"}',
        '{"account_id": "a", "identifiers": ["bad"]}',
        '{"account_id": "a", "identifiers": [], "created_at": "2026-01-01T00:00:00"}',
        '{"account_id": "a", "identifiers": [], "created_at": "yesterday"}',
    ],
)
def test_cli_ingest_bad_input_exits_2_and_writes_nothing(
    line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openidv.cli import app

    url = f"sqlite:///{tmp_path / 'g.sqlite3'}"
    monkeypatch.setenv("OPENIDV_DATABASE_URL", url)
    path = tmp_path / "in.jsonl"
    path.write_text('{"account_id": "ok", "identifiers": ["device:x"]}\n' + line + "\n")
    result = CliRunner().invoke(app, ["graph", "ingest", str(path)])
    assert result.exit_code == 2, result.output
    assert "line 2" in result.output and result.output.count("\n") == 1
    engine = make_engine(url)
    create_graph_tables(engine)
    assert GraphRepository(engine).count() == 0
    engine.dispose()


# ---- property: any sequence of adds and erasures == the graph rebuilt from what is left

_ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "add", "erase"]),
        st.integers(0, 11),
        st.lists(
            st.sampled_from(["device:a", "device:b", "phone:+1", "address:x", "ip24:1/24", "face:f"]),
            max_size=3,
        ),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(_ops)
def test_any_adds_and_erasures_equal_a_rebuild(ops: list[tuple[str, int, list[str]]]) -> None:
    graph = IdentityGraph(GraphConfig(pair_limit=3, hub_cap=5, louvain_above=3))
    for op, n, keys in ops:
        if op == "add":
            graph.add(f"a{n}", keys, T0 + timedelta(minutes=n))
        else:
            graph.remove(f"a{n}")
    rebuilt = IdentityGraph(graph.config)
    for account, (created, keys) in reversed(list(graph.snapshot().items())):
        rebuilt.add(account, keys, created)
    assert rebuilt.snapshot() == graph.snapshot()
    rings = find_rings(graph)
    assert find_rings(rebuilt) == rings
    by_member = {a: r for r in rings for a in r.members}
    for account in graph.accounts():
        assert rebuilt.neighbourhood(account) == graph.neighbourhood(account)
        assert all(n.account_id != account for n in graph.neighbourhood(account).neighbours)
        assert ring_of(graph, account) == by_member.get(account)
