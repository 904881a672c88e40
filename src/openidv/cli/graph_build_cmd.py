"""``openidv graph build`` (links and rings of an applicants file, on one machine or on Spark) and
``openidv graph eval`` (headline metrics of a large score file, on one machine or on Spark).

Registered on ``openidv graph`` by ``register`` (called from ``openidv.cli``: ``graph_cmd`` importing this
module would be an import cycle); pyspark is imported only when ``--engine spark`` is asked
for, and its absence is one line and exit 2.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from openidv.cli.common import fail, friendly_errors, print_json
from openidv.cli.graph_cmd import parse_applicant, read_applicants
from openidv.errors import InvalidInput
from openidv.services.graph_build import (
    LINKS_FILE,
    RINGS_FILE,
    SUMMARY_FILE,
    Stages,
    build_local,
    ring_line,
    staged_folder,
    write_links,
    write_summary,
)
from openidv.services.graph_weights import GraphConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ENGINES = ("local", "spark")
Engine = Annotated[str, typer.Option("--engine", help="local (one process) or spark.")]
Master = Annotated[
    str, typer.Option("--master", help="Spark master URL: local[*], spark://host:7077, yarn, k8s://...")
]
NO_SPARK = "the Spark engine needs pyspark: pip install 'openidv[spark]'"


def register(app: typer.Typer) -> None:
    """Add ``build`` and ``eval`` to the ``openidv graph`` command group."""
    app.command("build")(build_command)
    app.command("eval")(eval_command)


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        fail(f"--engine: {engine!r} is not one of {', '.join(ENGINES)}")
    if engine == "spark" and importlib.util.find_spec("pyspark") is None:
        fail(NO_SPARK)


@contextmanager
def spark_for(master: str, driver_memory: str = "4g") -> Iterator[SparkSession]:
    """A Spark session for ``master``, stopped afterwards unless it was already running (a notebook's or a
    test's session is reused and left alone)."""
    from pyspark.sql import SparkSession

    from openidv.services.graph_spark import spark_session

    running = SparkSession.getActiveSession()
    session = running or spark_session(master, driver_memory=driver_memory)
    try:
        yield session
    finally:
        if running is None:
            session.stop()


def _is_local_path(text: str) -> bool:
    return "://" not in text


@friendly_errors
def build_command(
    applicants: Annotated[str, typer.Argument(help="Applicants as JSON lines (openidv synth identities).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="New output folder.")],
    engine: Engine = "local",
    master: Master = "local[*]",
    min_size: Annotated[int, typer.Option("--min-size", min=2, help="Smallest ring written.")] = 2,
    driver_memory: Annotated[
        str, typer.Option("--driver-memory", help="Spark driver memory (all of Spark's for a local master).")
    ] = "4g",
) -> None:
    """Links and rings of an applicants file: DIR/links.parquet, DIR/rings.jsonl, DIR/summary.json.

    The same links and rings on every engine; the Spark engine runs on any master URL (the output folder
    must then be on storage the executors can write, e.g. a shared mount)."""
    _check_engine(engine)
    if _is_local_path(applicants) and not Path(applicants).is_file():
        fail(f"{applicants}: no such file")
    config = GraphConfig.default()  # the ring model's learned weights, as deployments link
    stages = Stages()
    started = time.perf_counter()
    with staged_folder(out) as tmp:
        if engine == "local":
            with stages.stage("normalise"):
                try:
                    records, dropped = read_applicants(Path(applicants))
                except UnicodeDecodeError:
                    raise InvalidInput(f"{applicants}: not UTF-8 text") from None
            built = build_local(
                ((r.account_id, r.keys, r.created_at) for r in records),
                config,
                min_size=min_size,
                stages=stages,
            )
            with stages.stage("write"):
                write_links(tmp / LINKS_FILE, built.links)
                with (tmp / RINGS_FILE).open("w", encoding="utf-8") as handle:
                    handle.writelines(ring_line(r.to_dict()) for r in built.rings)
            counts = {
                "accounts": built.accounts,
                "identifiers": built.identifiers,
                "links": len(built.links),
                "stars": built.stars,
                "rings": len(built.rings),
                "fields_left_out": dropped,
            }
        else:
            from openidv.services.graph_spark import build_spark

            with spark_for(master, driver_memory) as spark:
                counts = build_spark(
                    spark, applicants, tmp, config, parse=parse_applicant, min_size=min_size, stages=stages
                )
        summary: dict[str, Any] = {
            **counts,
            "engine": engine,
            "master": master if engine == "spark" else None,
            "min_size": min_size,
            "seconds": stages.seconds,
            "total_seconds": round(time.perf_counter() - started, 3),
        }
        write_summary(tmp / SUMMARY_FILE, summary)
    typer.echo(
        f"{summary['accounts']} accounts, {summary['links']} links, {summary['rings']} rings "
        f"({engine}, {summary['total_seconds']:.1f} s) -> {out}"
    )


@friendly_errors
def eval_command(
    scores: Annotated[str, typer.Argument(help="CSV or Parquet: id, score, label (1 bad, 0 good), slices.")],
    meaning: Annotated[
        str, typer.Option("--meaning", help="attack (high = bad) or similarity (high = good).")
    ] = "attack",
    slices: Annotated[
        list[str] | None, typer.Option("--slice", help="Column to break the metrics down by.")
    ] = None,
    fmr: Annotated[
        list[float] | None, typer.Option("--fmr", help="Bad-class error rate targets (default 0.01 0.001).")
    ] = None,
    threshold: Annotated[
        list[float] | None, typer.Option("--threshold", help="Thresholds to report error counts at.")
    ] = None,
    engine: Engine = "local",
    master: Master = "local[*]",
) -> None:
    """Headline metrics of a score file (counts, AUC, EER, error rates at targets and thresholds), the same
    numbers on one machine or on Spark: Spark counts rows per distinct score, numpy finishes."""
    from openidv.eval.spark_scores import ScoreQuery, local_metrics, spark_metrics

    _check_engine(engine)
    if _is_local_path(scores) and not Path(scores).is_file():
        fail(f"{scores}: no such file")
    query = ScoreQuery(
        meaning=meaning,
        slices=tuple(slices or ()),
        fmr_targets=tuple(fmr or (0.01, 0.001)),
        thresholds=tuple(threshold or ()),
    )
    if engine == "local":
        print_json(local_metrics(Path(scores), query))
        return
    with spark_for(master) as spark:
        print_json(spark_metrics(spark, scores, query))
