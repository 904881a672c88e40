"""The ring build and score metrics on Spark (issue 13 point 8) give the same results as on one machine.

One local[2] SparkSession for the module. Populations are SYNTHETIC (``openidv.synth.identities``).
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyspark")

import pyarrow.parquet as pq
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from openidv.cli import app
from openidv.cli.graph_cmd import parse_applicant, read_applicants
from openidv.eval.spark_scores import ScoreQuery, local_metrics, spark_metrics
from openidv.services.graph_build import RINGS_FILE, Stages, build_local, ring_line
from openidv.services.graph_spark import SMALL_DATA_CONF, build_spark, spark_session
from openidv.services.graph_weights import GraphConfig
from openidv.synth.identities import generate

runner = CliRunner()


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = spark_session("local[2]", shuffle_partitions=2, driver_memory="2g", conf=SMALL_DATA_CONF)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("population")
    generate(600, out, seed=7)
    return out / "applicants.jsonl"


def _links(folder: Path) -> dict[tuple[str, str], tuple[float, tuple[str, ...]]]:
    rows = pq.read_table(folder / "links.parquet").to_pylist()
    return {(r["a"], r["b"]): (r["weight"], tuple(r["shared"])) for r in rows}


def _same_links(left: Path, right: Path) -> None:
    a, b = _links(left), _links(right)
    assert a.keys() == b.keys()
    for pair, (weight, shared) in a.items():
        assert pair[0] < pair[1]
        assert abs(weight - b[pair][0]) <= 1e-9
        assert shared == b[pair][1]


def test_cli_spark_build_equals_local_build(spark: SparkSession, population: Path, tmp_path: Path) -> None:
    del spark  # the command reuses the module's session (and leaves it running)
    results = {}
    for engine in ("local", "spark"):
        out = tmp_path / engine
        args = ["graph", "build", str(population), "--out", str(out), "--engine", engine]
        result = runner.invoke(app, [*args, "--master", "local[2]"])
        assert result.exit_code == 0, result.output
        results[engine] = json.loads((out / "summary.json").read_text())
    _same_links(tmp_path / "local", tmp_path / "spark")
    local_rings = (tmp_path / "local" / RINGS_FILE).read_text()
    assert local_rings == (tmp_path / "spark" / RINGS_FILE).read_text()
    rings = [json.loads(line) for line in local_rings.splitlines()]
    assert len(rings) == results["local"]["rings"] == results["spark"]["rings"] > 20
    for key in ("accounts", "identifiers", "links", "stars"):
        assert results["local"][key] == results["spark"][key]
    assert results["spark"]["engine"] == "spark" and results["spark"]["master"] == "local[2]"
    assert set(results["spark"]["seconds"]) >= {"normalise", "links", "components", "rings", "write"}


def _both(
    spark: SparkSession, applicants: Path, tmp_path: Path, config: GraphConfig
) -> tuple[list[Any], list[str], dict[str, int], Path]:
    records, _ = read_applicants(applicants)
    local = build_local(
        ((r.account_id, r.keys, r.created_at) for r in records), config, min_size=2, stages=Stages()
    )
    out = tmp_path / "spark"
    out.mkdir()
    counts = build_spark(
        spark, str(applicants), out, config, parse=parse_applicant, min_size=2, stages=Stages()
    )
    spark_links = _links(out)
    assert spark_links == {(a, b): (w, s) for a, b, w, s in local.links}
    spark_rings = (out / RINGS_FILE).read_text().splitlines(keepends=True)
    assert spark_rings == [ring_line(r.to_dict()) for r in local.rings]
    return local.links, spark_rings, counts, out


def test_stars_louvain_and_a_hub_agree(spark: SparkSession, population: Path, tmp_path: Path) -> None:
    """The SYNTHETIC population plus 100,000 accounts on one carrier NAT address (a hub: links nobody, no
    all-pairs), 60 of them on one device (above the pair limit: one star node, not 1,770 pairs) and five
    phone pairs; a small pair limit and Louvain bound so that star nodes, large identifiers adding to
    pairs and the seeded Louvain split all run on the executors. Same links and rings as the local build."""
    when = datetime(2026, 11, 1, tzinfo=UTC).isoformat()
    path = tmp_path / "applicants.jsonl"
    with path.open("w") as fh:
        fh.write(population.read_text())
        for i in range(100_000):
            keys = ["ip:100.64.0.1", f"email:a{i}@example.com"]
            if i < 60:
                keys.append("device:farm")
            if 1000 <= i < 1010:
                keys.append(f"phone:+1415555{i // 2:04d}")
            fh.write(
                json.dumps({"account_id": f"acct-{i:06d}", "created_at": when, "identifiers": keys}) + "\n"
            )
    config = GraphConfig(pair_limit=3, louvain_above=4, min_link_weight=0.4)
    links, rings, counts, _ = _both(spark, path, tmp_path, config)
    assert counts["accounts"] == 100_600
    assert sum(1 for a, *_ in links if a.startswith("acct-")) == 5
    assert counts["stars"] > 1
    assert any(len(shared) > 1 for *_, shared in links)
    parsed = [json.loads(line) for line in rings]
    hub_rings = [r for r in parsed if r["members"][0].startswith("acct-")]
    assert sum(r["size"] for r in hub_rings) == 70
    assert max(r["size"] for r in parsed) <= 60 and len(parsed) > 100


def test_bad_line_exits_2_and_writes_nothing(spark: SparkSession, population: Path, tmp_path: Path) -> None:
    del spark
    lines = population.read_text().splitlines(keepends=True)[:5]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines[:2]) + "{not json\n" + "".join(lines[2:]))
    for engine in ("local", "spark"):
        out = tmp_path / f"out-{engine}"
        result = runner.invoke(app, ["graph", "build", str(bad), "--out", str(out), "--engine", engine])
        assert result.exit_code == 2, result.output
        assert "line 3" in result.output and "not JSON" in result.output
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]
    result = runner.invoke(app, ["graph", "build", str(bad), "--out", str(tmp_path), "--engine", "local"])
    assert result.exit_code == 2 and "already exists" in result.output
    result = runner.invoke(
        app, ["graph", "build", str(bad), "--out", str(tmp_path / "x"), "--engine", "dask"]
    )
    assert result.exit_code == 2 and "--engine" in result.output


def test_score_metrics_on_spark_equal_local(spark: SparkSession, tmp_path: Path) -> None:
    rng = random.Random(5)
    path = tmp_path / "scores.csv"
    with path.open("w") as fh:
        fh.write("id,score,label,country\n")
        for i in range(3000):
            label = int(rng.random() < 0.2)
            score = round(min(1.0, max(0.0, rng.gauss(0.65 if label else 0.35, 0.15))), 3)
            text = "" if i % 500 == 0 else repr(score)  # a few rows without a score are skipped
            fh.write(f"r{i},{text},{label},{rng.choice(['GB', 'US', 'DE'])}\n")
    query = ScoreQuery(meaning="attack", slices=("country",), fmr_targets=(0.1, 0.01), thresholds=(0.5, 0.7))
    local = local_metrics(path, query)
    assert spark_metrics(spark, str(path), query) == local
    assert local["rows"] == 3000 and local["skipped"] == 6
    overall = local["overall"]
    assert overall["good"] + overall["bad"] == 2994 and 0.8 < overall["auc"] < 1.0
    assert set(local["slices"]["country"]) == {"GB", "US", "DE"}
    parquet = tmp_path / "scores.parquet"
    import pandas as pd

    pd.read_csv(path).to_parquet(parquet)
    assert spark_metrics(spark, str(parquet), query)["overall"] == local_metrics(parquet, query)["overall"]


def test_spark_engine_without_pyspark_says_how_to_install(
    population: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if pyspark were not installed
    out = tmp_path / "out"
    result = runner.invoke(app, ["graph", "build", str(population), "--out", str(out), "--engine", "spark"])
    assert result.exit_code == 2
    assert "pip install 'openidv[spark]'" in result.output and not out.exists()
