"""The engines a ``LinkageModel`` runs on: DuckDB in process (the default) or Apache Spark at a master URL.

Only this module knows how each engine starts; ``resolve`` asks for a Splink database API and gets one.
A Spark session passed in is used as is (the caller owns it: a test fixture, a production job); otherwise
one is started for the master URL and stopped after the run.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from openidv.errors import InvalidInput

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = ("duckdb", "spark")


@dataclass(frozen=True)
class Engine:
    """Which engine, and for Spark the master URL (``local[2]``, ``spark://host:7077``, ``yarn``...) or a
    running session."""

    name: EngineName = "duckdb"
    master: str = "local[2]"
    shuffle_partitions: int = 8
    spark: Any = None

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise InvalidInput(f"--engine must be one of {', '.join(ENGINES)}, got {self.name!r}")
        if not self.master.strip():
            raise InvalidInput("--master must not be empty")

    def describe(self) -> dict[str, Any]:
        """What a summary records about the engine."""
        if self.name == "duckdb":
            import duckdb

            return {"engine": "duckdb", "duckdb": duckdb.__version__}
        import pyspark

        master = self.spark.sparkContext.master if self.spark is not None else self.master
        return {"engine": "spark", "master": master, "pyspark": pyspark.__version__}


def start_spark(
    master: str,
    *,
    shuffle_partitions: int = 8,
    app_name: str = "openidv-linkage",
    conf: dict[str, str] | None = None,
) -> Any:
    """A Spark session with Splink's similarity functions on the class path (the jar ships in Splink);
    ``conf`` adds settings (tests turn adaptive execution and whole-stage code generation off, which
    only cost time on tiny tables)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - depends on the install
        raise InvalidInput("--engine spark needs pyspark: pip install 'openidv[spark]'") from None
    from splink.backends.spark import similarity_jar_location

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.default.parallelism", str(shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextlib.contextmanager
def database_api(engine: Engine) -> Iterator[Any]:
    """Splink's database API for ``engine``, closed (or the Spark session stopped) afterwards when this
    call started it."""
    if engine.name == "duckdb":
        import duckdb
        from splink import DuckDBAPI

        connection = duckdb.connect(":memory:")
        connection.execute("SET enable_progress_bar = false")
        try:
            yield DuckDBAPI(connection=connection)
        finally:
            connection.close()
        return
    from splink import SparkAPI

    own = engine.spark is None
    spark = start_spark(engine.master, shuffle_partitions=engine.shuffle_partitions) if own else engine.spark
    try:
        with warnings.catch_warnings():
            # PySpark 4.3 warns on every pandas conversion that pandas 3 is "not fully supported"; the
            # conversions here (string columns to and from Spark) are tested equal to DuckDB's
            warnings.filterwarnings(
                "ignore", message="PySpark does not yet fully support", category=FutureWarning
            )
            yield SparkAPI(  # type: ignore[no-untyped-call]
                spark_session=spark,
                break_lineage_method="persist",
                num_partitions_on_repartition=engine.shuffle_partitions,
            )
    finally:
        if own:
            spark.stop()
        else:
            spark.catalog.clearCache()
