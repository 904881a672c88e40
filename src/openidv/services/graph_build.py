"""The batch ring build's engine-independent parts: links, rings of one component, and the output files.

``openidv graph build`` runs on one machine (``IdentityGraph`` and ``find_rings``) or on Apache Spark
(``openidv.services.graph_spark``). Both engines must give the same links and rings, so everything that
decides a number lives here or in ``graph_rings`` and is called by both: a link's weight is the sum of its
shared identifiers' ``GraphConfig.weight`` in sorted key order (the same bits on every engine), and a
component's rings come from ``graph_rings.split_component`` and ``describe_ring`` over a ``ComponentGraph``
that knows each identifier's degree in the whole population, not only in the component.

Output folder: ``links.parquet`` (a, b, weight, shared; a < b), ``rings.jsonl`` (the dicts ``openidv graph
rings --json`` prints, in its order), ``summary.json``. It is written to a temporary sibling folder and
renamed at the end, so a failed build leaves nothing half-written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from openidv.errors import InvalidInput
from openidv.services.graph_rings import Ring, describe_ring, find_rings, link_candidates, split_component
from openidv.services.graph_weights import GraphConfig
from openidv.services.identity_graph import IdentityGraph

#: a link between two accounts: (a, b, weight, shared keys) with a < b and the keys sorted
Link = tuple[str, str, float, tuple[str, ...]]

LINKS_FILE = "links.parquet"
RINGS_FILE = "rings.jsonl"
SUMMARY_FILE = "summary.json"


@dataclass
class Stages:
    """Seconds per stage of a build, in the order they ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)


class ComponentGraph(IdentityGraph):
    """The accounts of one component with their linking identifiers, each identifier's degree taken from the
    whole population (``degrees``): its weights, links and ring descriptions equal the full graph's."""

    def __init__(self, config: GraphConfig, degrees: dict[str, int]) -> None:
        super().__init__(config)
        self._degrees = degrees

    def degree(self, key: str) -> int:
        return self._degrees.get(key, 0)


def ring_order(ring: dict[str, Any]) -> tuple[float, int, str]:
    """The order ``find_rings`` lists rings in (highest score, then largest, then ring id)."""
    return (-float(ring["score"]), -int(ring["size"]), str(ring["ring_id"]))


def component_rings(
    config: GraphConfig,
    rows: Iterable[tuple[str, str, int, datetime]],
    edges: list[tuple[str, str, float]],
    *,
    min_size: int,
) -> list[Ring]:
    """The rings of one component from its accounts' linking identifiers ``(account, key, degree,
    created_at)`` and, for a component above ``louvain_above`` accounts, its edges (pair links and star
    edges, star nodes named ``"\\x00" + key``); the same rings ``find_rings`` finds in the whole graph."""
    degrees: dict[str, int] = {}
    graph = ComponentGraph(config, degrees)
    for account, key, degree, created in rows:
        degrees[key] = degree
        graph.add(account, (key,), created)
    accounts = sorted(graph.accounts())
    if len(accounts) > config.louvain_above:
        nodes = sorted({n for a, b, _ in edges for n in (a, b)})
        groups = split_component(graph, nodes, edges)
    else:
        groups = [accounts]
    return [describe_ring(graph, g) for g in groups if len(g) >= max(2, min_size)]


def graph_links(graph: IdentityGraph) -> tuple[list[Link], int]:
    """Every link ``find_rings`` joins pairwise (weight >= ``min_link_weight`` through identifiers within
    ``pair_limit``), sorted, and how many identifiers join their holders through a star node instead."""
    cfg = graph.config
    candidates, stars = link_candidates(graph)
    links: list[Link] = []
    for a, b in sorted(candidates):
        weight, shared = graph.link(a, b)
        if weight >= cfg.min_link_weight:
            links.append((a, b, weight, shared))
    return links, len(stars)


@dataclass(frozen=True)
class LocalBuild:
    """What the local engine computed."""

    links: list[Link]
    rings: list[Ring]
    accounts: int
    identifiers: int
    stars: int


def build_local(
    accounts: Iterable[tuple[str, Iterable[str], datetime]],
    config: GraphConfig,
    *,
    min_size: int,
    stages: Stages,
) -> LocalBuild:
    """Links and rings on one machine with ``IdentityGraph`` and ``find_rings``."""
    graph = IdentityGraph(config)
    with stages.stage("graph"):
        for account, keys, created in accounts:
            graph.add(account, keys, created)
    with stages.stage("links"):
        links, stars = graph_links(graph)
    with stages.stage("rings"):
        rings = find_rings(graph, min_size=min_size)
    return LocalBuild(links, rings, len(graph), len(graph.identifiers()), stars)


# ---------------------------------------------------------------------------------------- output folder


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out``, renamed to ``out`` when the block succeeds and removed when it
    fails: a reader never sees half a build. ``out`` must not exist yet (or be empty)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out}: already exists and is not an empty folder; choose a new --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_links(path: Path, links: list[Link]) -> None:
    """``links.parquet``: a, b, weight, shared (list of keys); one file (the Spark engine writes a folder
    of parts with the same schema: read either with ``pyarrow.parquet.read_table``)."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    table = pa.table(
        {
            "a": pa.array([x[0] for x in links], pa.string()),
            "b": pa.array([x[1] for x in links], pa.string()),
            "weight": pa.array([x[2] for x in links], pa.float64()),
            "shared": pa.array([list(x[3]) for x in links], pa.list_(pa.string())),
        }
    )
    pq.write_table(table, path)


def ring_line(ring: dict[str, Any]) -> str:
    """One line of ``rings.jsonl`` (the same bytes from both engines)."""
    return json.dumps(ring, ensure_ascii=False, sort_keys=True) + "\n"


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
