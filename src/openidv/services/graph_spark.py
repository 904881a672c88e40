"""The ring build on Apache Spark: the same links and rings as the local engine, for populations that
outgrow one machine (issue 13 point 8).

What runs where:

* **distributed**: normalising applicant lines (``mapInPandas`` over the text file, calling the same parser
  as ``openidv graph ingest``); identifier degrees; candidate pairs (a self-join per identifier within
  ``pair_limit``, so a hub never makes all pairs); link weights (shared identifiers' weights summed in
  sorted key order with ``aggregate``: the same bits as ``IdentityGraph.link``); connected components
  (large-star / small-star rounds on DataFrames, each round checkpointed); the rings of every component
  (repartitioned by component, then one Python pass per component with ``graph_rings.split_component``
  and ``describe_ring``: the seeded Louvain split of large components runs on the executors);
* **on the driver**: the weight of each distinct (kind, degree) pair, computed with ``GraphConfig.weight``
  (at most nine kinds times ``hub_cap`` degrees), and writing ``rings.jsonl`` from a sorted stream.

pyspark is imported only by this module, and only when the Spark engine is asked for.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openidv.errors import InvalidInput
from openidv.services.graph_build import (
    LINKS_FILE,
    RINGS_FILE,
    Stages,
    component_rings,
    ring_line,
)
from openidv.services.graph_weights import GraphConfig

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

#: a line parser: JSON text -> (an object with account_id, keys, created_at; the fields left out)
Parser = Callable[[str], tuple[Any, list[str]]]

#: settings for tiny inputs (tests, demos): the JVM's quick compiler only and no generated code, which
#: save tens of seconds of warm-up on jobs that each take milliseconds
SMALL_DATA_CONF = {
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
}

#: star nodes (an identifier above ``pair_limit``) are named like this in the component graph
STAR = "\x00"
_PARSED = (
    "account string, created string, keys array<string>, dropped int, error string, raw string, ord long"
)
_PAYLOAD = "comp string, t string, a string, b string, w double, deg long, created string"
_RINGS = "ring_id string, score double, size long, line string"


def spark_session(
    master: str,
    *,
    app: str = "openidv-graph",
    shuffle_partitions: int | None = None,
    driver_memory: str = "4g",
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """A session for ``master`` (``local[*]``, ``spark://...``, ``yarn``, ``k8s://...``): no UI, quiet logs,
    and few shuffle partitions for a local master (Spark's 200 are for clusters); ``conf`` adds any Spark
    setting. Executors run the same Python as the driver unless ``PYSPARK_PYTHON`` says otherwise."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if shuffle_partitions is None and master.startswith("local"):
        shuffle_partitions = 8
    builder = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if shuffle_partitions is not None:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    for name, value in (conf or {}).items():
        builder = builder.config(name, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


# ------------------------------------------------------------------------------------------- normalise


def _frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """A pandas frame of plain Python objects: pandas 3 would make Arrow-backed string columns, which
    PySpark 4.3's Arrow writer rejects once they hold more than one chunk."""
    import pandas as pd

    return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()})


def _parse_batches(parse: Parser) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in batches:
            out: dict[str, list[Any]] = {c: [] for c in ("account", "created", "keys", "dropped", "error")}
            out["raw"], out["ord"] = [], []
            for line, order in zip(frame["value"].tolist(), frame["ord"].tolist(), strict=True):
                if not line.strip():
                    continue
                try:
                    record, problems = parse(line)
                except InvalidInput as exc:
                    row: list[Any] = [None, None, None, 0, str(exc), line, order]
                else:
                    row = [record.account_id, record.created_at.isoformat(), list(record.keys)]
                    row += [len(problems), None, None, order]
                for column, value in zip(out, row, strict=True):
                    out[column].append(value)
            yield _frame(out)

    return run


def _first_error(spark: SparkSession, path: str, parsed: DataFrame) -> None:
    """Raise InvalidInput naming the first bad line (its number is looked up only when there is one)."""
    bad = parsed.where("error is not null").orderBy("ord").select("error", "raw").limit(1).collect()
    error, raw = bad[0]["error"], bad[0]["raw"]
    numbered = spark.sparkContext.textFile(path).zipWithIndex()
    hit = numbered.filter(lambda pair: pair[0] == raw).map(lambda pair: pair[1]).take(1)
    where = f"line {hit[0] + 1}" if hit else "a line"
    raise InvalidInput(f"{Path(path).name} {where}: {error}")


# ----------------------------------------------------------------------------------- connected components


def connected_components(edges: DataFrame, *, max_rounds: int = 64) -> DataFrame:
    """``(src, dst)`` undirected edges -> ``(node, comp)``, ``comp`` the smallest node of the component.

    Large-star / small-star (Kiveris et al., "Connected Components in MapReduce and Beyond", 2014): each
    round hangs every node on the smallest node it can see, so a component becomes a star around its
    smallest node in O(log n) rounds; each round is checkpointed to cut the lineage."""
    from pyspark.sql import functions as F

    e = (
        edges.select(F.greatest("src", "dst").alias("hi"), F.least("src", "dst").alias("lo"))
        .where("hi != lo")
        .distinct()
        .localCheckpoint()
    )
    for _ in range(max_rounds):
        both = e.select(F.col("lo").alias("u"), F.col("hi").alias("v")).union(
            e.select(F.col("hi").alias("u"), F.col("lo").alias("v"))
        )
        # large star: every neighbour above u hangs on the smallest node u sees
        low = both.groupBy("u").agg(F.min("v").alias("mv")).select("u", F.least("u", "mv").alias("m"))
        large = (
            both.where("v > u")
            .join(low, "u")
            .select(F.col("v").alias("hi"), F.col("m").alias("lo"))
            .distinct()
        )
        # small star: u and every neighbour below it hang on the smallest of them
        least = large.groupBy("hi").agg(F.min("lo").alias("m"))
        small = (
            large.join(least, "hi")
            .where("lo != m")
            .select(F.col("lo").alias("hi"), F.col("m").alias("lo"))
            .union(least.select("hi", F.col("m").alias("lo")))
            .distinct()
            .localCheckpoint()
        )
        e = small
        # a forest of stars: every node has one parent and no parent has a parent
        parents = e.select(F.col("hi").alias("lo")).distinct()
        nested = e.join(parents, "lo", "left_semi").select("hi")
        shared = e.groupBy("hi").count().where("count > 1").select("hi")
        if not nested.union(shared).limit(1).count():
            break
    else:  # pragma: no cover - O(log n) rounds; 64 is far beyond any real graph
        raise RuntimeError("connected components did not converge")
    return (
        e.select(F.col("hi").alias("node"), F.col("lo").alias("comp"))
        .union(e.select(F.col("lo").alias("node"), F.col("lo").alias("comp")))
        .distinct()
    )


# ----------------------------------------------------------------------------------------------- rings


def _ring_batches(
    config: GraphConfig, min_size: int
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """Rows sorted by component, possibly split across batches: each component is finished when the next
    one starts (or at the end of the partition)."""

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        current: str | None = None
        rows: list[tuple[str, str, int, datetime]] = []
        edges: list[tuple[str, str, float]] = []
        created: dict[str, datetime] = {}
        out: dict[str, list[Any]] = {"ring_id": [], "score": [], "size": [], "line": []}

        def finish() -> None:
            for ring in component_rings(config, rows, edges, min_size=min_size):
                out["ring_id"].append(ring.ring_id)
                out["score"].append(ring.score)
                out["size"].append(ring.size)
                out["line"].append(ring_line(ring.to_dict()))
            rows.clear()
            edges.clear()
            created.clear()

        for frame in batches:
            columns = [frame[c].tolist() for c in ("comp", "t", "a", "b", "w", "deg", "created")]
            for comp, kind, a, b, w, deg, when in zip(*columns, strict=True):
                if comp != current:
                    if current is not None:
                        finish()
                    current = comp
                if kind == "k":
                    at = created.get(a)
                    if at is None:
                        at = created[a] = datetime.fromisoformat(when)
                    rows.append((a, b, int(deg), at))
                else:
                    edges.append((a, b, float(w)))
            yield _frame(out)
            for values in out.values():
                values.clear()
        if current is not None:
            finish()
            yield _frame(out)

    return run


# ----------------------------------------------------------------------------------------------- build


def build_spark(
    spark: SparkSession,
    applicants: str,
    out: Path,
    config: GraphConfig,
    *,
    parse: Parser,
    min_size: int,
    stages: Stages,
) -> dict[str, int]:
    """Build links and rings of the applicants file on Spark; write ``links.parquet`` (a folder of parts)
    and ``rings.jsonl`` into ``out``; return the counts. InvalidInput names the first bad line."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    cfg = config
    keep = StorageLevel.MEMORY_AND_DISK
    with stages.stage("normalise"):
        lines = spark.read.text(applicants).withColumn("ord", F.monotonically_increasing_id())
        parsed = lines.mapInPandas(_parse_batches(parse), _PARSED).persist(keep)
        errors, dropped = parsed.agg(F.count("error"), F.coalesce(F.sum("dropped"), F.lit(0))).collect()[0]
        if errors:
            _first_error(spark, applicants, parsed)
        good = parsed.where("error is null")
        # an account given twice keeps its first time (as IdentityGraph.add) and all its keys
        accounts = (
            good.groupBy("account")
            .agg(F.min(F.struct("ord", "created")).alias("first"))
            .select("account", F.col("first.created").alias("created"))
            .persist(keep)
        )
        held = good.select("account", F.explode("keys").alias("key")).distinct().persist(keep)
        n_accounts = accounts.count()

    with stages.stage("links"):
        degrees = held.groupBy("key").agg(F.count("*").alias("deg")).persist(keep)
        # identifiers per (kind, degree): a small table (kinds x distinct degrees)
        kind = F.substring_index("key", ":", 1).alias("kind")
        per_kind = [
            (r["kind"], int(r["deg"]), int(r["count"]))
            for r in degrees.groupBy(kind, "deg").count().collect()
        ]
        n_identifiers = sum(n for _, _, n in per_kind)
        # the weight hook runs here, on the driver, once per (kind, degree): learned weights plug in unchanged
        linking = [
            (k, d, w, n)
            for k, d, n in per_kind
            if 2 <= d <= cfg.hub_cap and (w := max(0.0, float(cfg.weight(k, d)))) > 0
        ]
        n_stars = sum(n for _, d, w, n in linking if d > cfg.pair_limit and w >= cfg.min_link_weight)
        table = [(k, d, w) for k, d, w, _ in linking]
        weights = spark.createDataFrame(table, "kind string, deg long, w double")
        weighted = (
            degrees.withColumn("kind", F.substring_index("key", ":", 1))
            .join(F.broadcast(weights), ["kind", "deg"])
            .select("key", "deg", "w")
        )
        rows = held.join(weighted, "key").persist(keep)
        small = rows.where(F.col("deg") <= cfg.pair_limit)
        large = rows.where(F.col("deg") > cfg.pair_limit)
        x, y = small.alias("x"), small.alias("y")
        via_small = x.join(
            y, (F.col("x.key") == F.col("y.key")) & (F.col("x.account") < F.col("y.account"))
        ).select(
            F.col("x.account").alias("a"),
            F.col("y.account").alias("b"),
            F.col("x.key").alias("key"),
            F.col("x.w"),
        )
        candidates = via_small.select("a", "b").distinct()
        # identifiers above pair_limit still add their weight to a pair that a smaller one proposed
        la = large.select(F.col("account").alias("a"), "key", "w")
        lb = large.select(F.col("account").alias("b"), "key")
        via_large = candidates.join(la, "a").join(lb, ["b", "key"]).select("a", "b", "key", "w")
        shared = via_small.unionByName(via_large)
        links = (
            shared.groupBy("a", "b")
            .agg(F.array_sort(F.collect_list(F.struct("key", "w"))).alias("s"))
            .select(
                "a",
                "b",
                F.aggregate("s", F.lit(0.0).cast("double"), lambda acc, s: acc + s["w"]).alias("weight"),
                F.transform("s", lambda s: s["key"]).alias("shared"),
            )
            .where(F.col("weight") >= cfg.min_link_weight)
            .persist(keep)
        )
        n_links = links.count()
        star_edges = large.where(F.col("w") >= cfg.min_link_weight).select(
            F.concat(F.lit(STAR), "key").alias("a"), F.col("account").alias("b"), F.col("w").alias("weight")
        )

    with stages.stage("components"):
        edges = links.select("a", "b", "weight").unionByName(star_edges).persist(keep)
        labels = connected_components(edges.select(F.col("a").alias("src"), F.col("b").alias("dst")))
        labels = labels.persist(keep)

    with stages.stage("rings"):
        is_account = ~F.col("node").startswith(STAR)
        sizes = labels.where(is_account).groupBy("comp").agg(F.count("*").alias("n"))
        split = sizes.where(F.col("n") > cfg.louvain_above).select("comp")
        members = labels.where(is_account).select(F.col("node").alias("account"), "comp")
        key_rows = (
            rows.join(members, "account")
            .join(accounts, "account")
            .select(
                "comp",
                F.lit("k").alias("t"),
                F.col("account").alias("a"),
                F.col("key").alias("b"),
                F.lit(None).cast("double").alias("w"),
                "deg",
                "created",
            )
        )
        edge_rows = (
            edges.join(labels.select(F.col("node").alias("b"), "comp"), "b")
            .join(split, "comp")
            .select(
                "comp",
                F.lit("e").alias("t"),
                "a",
                "b",
                F.col("weight").alias("w"),
                F.lit(None).cast("long").alias("deg"),
                F.lit(None).cast("string").alias("created"),
            )
        )
        payload = key_rows.unionByName(edge_rows)
        parts = max(1, spark.sparkContext.defaultParallelism * 2)
        rings = (
            payload.repartition(parts, "comp")
            .sortWithinPartitions("comp")
            .mapInPandas(_ring_batches(cfg, min_size), _RINGS)
            .persist(keep)
        )

    with stages.stage("write"):
        links.orderBy("a", "b").write.parquet(str(out / LINKS_FILE))
        ordered = rings.orderBy(F.desc("score"), F.desc("size"), F.asc("ring_id")).select("line")
        n_rings = 0
        with (out / RINGS_FILE).open("w", encoding="utf-8") as handle:
            for row in ordered.toLocalIterator():
                handle.write(row["line"])
                n_rings += 1

    for frame in (parsed, accounts, held, degrees, rows, links, edges, labels, rings):
        frame.unpersist()
    return {
        "accounts": n_accounts,
        "identifiers": n_identifiers,
        "links": n_links,
        "stars": n_stars,
        "rings": n_rings,
        "fields_left_out": int(dropped),
    }
