"""The Spark engine gives the same person clusters as DuckDB on the same SYNTHETIC population (issue 13
point 8, the Splink half). One local Spark session for the module; slow (Spark starts a JVM and runs
each SQL step as a job), so marked ``slow``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from openidv.services.linkage.applicants import applicant_model, frame_of, record_of
from openidv.services.linkage.clusters import person_keys
from openidv.services.linkage.engines import Engine, start_spark
from openidv.services.linkage.resolve import resolve
from openidv.synth.identities import build
from tests.test_graph_linkage import GARCIA, SMITHS

pytest.importorskip("splink")
pytest.importorskip("pyspark")
pytestmark = pytest.mark.slow
if shutil.which("java") is None:
    pytest.skip("the Spark engine needs Java on PATH", allow_module_level=True)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = start_spark(
        "local[2]",
        shuffle_partitions=1,
        conf={"spark.sql.adaptive.enabled": "false", "spark.sql.codegen.wholeStage": "false"},
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_and_duckdb_give_the_same_clusters(spark: Any) -> None:
    rows = [dict(a.record) for a in build(150, seed=3)] + GARCIA + SMITHS
    frame = frame_of(record_of(r) for r in rows)
    local = resolve([frame], applicant_model(), seed=0)
    spread = resolve(
        [frame], applicant_model(), seed=0, engine=Engine("spark", spark=spark, shuffle_partitions=1)
    )
    assert spread.engine["engine"] == "spark" and spread.engine["master"] == "local[2]"
    assert person_keys(spread.cluster_of) == person_keys(local.cluster_of)
    keys = person_keys(local.cluster_of)
    assert keys["zz-garcia-1"] == keys["zz-garcia-2"] == keys["zz-garcia-3"] != keys["zz-smith-1"]
    assert spread.candidate_pairs == local.candidate_pairs
    assert spread.scores.keys() == local.scores.keys()
    assert all(abs(spread.scores[k] - local.scores[k]) < 1e-6 for k in local.scores)
    assert spread.training["prior_match_probability"] == pytest.approx(
        local.training["prior_match_probability"]
    )
