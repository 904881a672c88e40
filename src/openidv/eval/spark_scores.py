"""Headline metrics of a score file too large for one machine: Spark counts, numpy finishes.

Every metric here (counts, AUC, EER, average precision, the good-class error at bad-class error targets,
error counts at fixed thresholds) depends on the scores only through how many rows of each class carry each
distinct score. Spark reduces the file to that table (``groupBy(score, label).count()``, per slice too);
the driver then runs the evaluation layer's own curve code (``openidv.eval.curves``) with those counts as
weights. The local path runs the same code on the raw scores, unweighted. Counts are integers, exact in
float64, so both paths give the same numbers to the last bit (tested).

A score file: CSV (with a header row) or Parquet with ``id``, ``score`` and ``label`` (1: the bad class, an
attack, impostor or fraud; 0: the good class), and any slice columns. Rows without a finite score are
skipped and counted. Error names follow ISO/IEC 19795-1: ``fmr`` is the bad-class error (bad rows
accepted), ``fnmr`` the good-class error (good rows rejected), whatever the task calls them.

Limit: the driver receives one row per distinct (score, label), at most twice the number of distinct scores;
scores rounded to a few decimals keep that small, raw float scores of a billion rows do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from openidv.errors import InvalidInput
from openidv.eval.curves import (
    average_precision,
    candidate_thresholds,
    equal_error_rate,
    error_curves,
    first_at_most,
    roc_auc,
    take,
)
from openidv.eval.data import FloatArray
from openidv.results import Meaning

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

REQUIRED = ("id", "score", "label")


@dataclass(frozen=True)
class ScoreQuery:
    """What to compute: the score's direction, slice columns, bad-class error targets, fixed thresholds."""

    meaning: str = "attack"
    slices: tuple[str, ...] = ()
    fmr_targets: tuple[float, ...] = (0.01, 0.001)
    thresholds: tuple[float, ...] = ()

    def direction(self) -> Meaning:
        try:
            return Meaning(self.meaning)
        except ValueError:
            raise InvalidInput(f"--meaning: {self.meaning!r}; use attack or similarity") from None


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def headline(
    scores: FloatArray,
    labels: np.ndarray[Any, np.dtype[np.int64]],
    query: ScoreQuery,
    counts: FloatArray | None = None,
) -> dict[str, Any]:
    """Metrics of rows (``counts`` None) or of distinct (score, label) rows carrying ``counts``."""
    meaning = query.direction()
    bad_mask, good_mask = labels == 1, labels == 0
    good, bad = scores[good_mask], scores[bad_mask]
    gw = None if counts is None else counts[good_mask][None, :]
    bw = None if counts is None else counts[bad_mask][None, :]
    thr = candidate_thresholds(np.concatenate([good, bad]))
    curves = error_curves(good, bad, meaning, thr, good_weights=gw, bad_weights=bw)
    eer = equal_error_rate(curves.bad_err, curves.good_err)
    targets = []
    for target in query.fmr_targets:
        idx = first_at_most(curves.bad_err, target)
        at = float(curves.thresholds[idx[0]]) if idx[0] >= 0 else float("nan")
        targets.append(
            {"fmr": target, "fnmr": _number(float(take(curves.good_err, idx)[0])), "threshold": _number(at)}
        )
    fixed = []
    for t in query.thresholds:
        # attack: flagged (rejected) when score >= t; similarity: accepted when score >= t
        good_w = np.ones(good.shape[0]) if gw is None else gw[0]
        bad_w = np.ones(bad.shape[0]) if bw is None else bw[0]
        if meaning == Meaning.ATTACK:
            bad_acc, good_rej = float(bad_w[bad < t].sum()), float(good_w[good >= t].sum())
        else:
            bad_acc, good_rej = float(bad_w[bad >= t].sum()), float(good_w[good < t].sum())
        n_bad, n_good = float(curves.n_bad[0]), float(curves.n_good[0])
        fixed.append(
            {
                "threshold": t,
                "bad_accepted": int(bad_acc),
                "good_rejected": int(good_rej),
                "fmr": _number(bad_acc / n_bad) if n_bad else None,
                "fnmr": _number(good_rej / n_good) if n_good else None,
            }
        )
    return {
        "good": int(curves.n_good[0]),
        "bad": int(curves.n_bad[0]),
        "auc": _number(float(roc_auc(curves)[0])),
        "average_precision": _number(float(average_precision(curves)[0])),
        "eer": _number(float(eer.value[0])),
        "at_fmr": targets,
        "at_threshold": fixed,
    }


def _check_columns(columns: list[str], query: ScoreQuery, name: str) -> None:
    for column in (*REQUIRED, *query.slices):
        if column not in columns:
            raise InvalidInput(f"{name}: missing column {column!r}; a score file has id, score, label")


def _labels(values: pd.Series[Any], name: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    text = values.astype(str).str.strip()
    bad = ~text.isin(["0", "1"])
    if bool(bad.any()):
        raise InvalidInput(f"{name}: label {text[bad].iloc[0]!r} is not 0 or 1")
    return np.asarray(text.eq("1").to_numpy(), dtype=np.int64)


def _result(sections: dict[str, Any], rows: int, skipped: int, query: ScoreQuery) -> dict[str, Any]:
    return {
        "rows": rows,
        "skipped": skipped,
        "meaning": query.direction().value,
        "fmr_means": "bad-class rows accepted / bad rows",
        "fnmr_means": "good-class rows rejected / good rows",
        **sections,
    }


def local_metrics(path: Path, query: ScoreQuery) -> dict[str, Any]:
    """The metrics on one machine, from the raw scores."""
    if path.suffix.lower() in {".parquet", ".pq"}:
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    _check_columns([str(c) for c in frame.columns], query, path.name)
    raw = frame["score"]
    if pd.api.types.is_numeric_dtype(raw):
        scores = raw.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        scores = np.array([_float(v) for v in raw.tolist()], dtype=np.float64)
    ok = np.isfinite(scores)
    frame = frame[ok]
    scores = scores[ok]
    labels = _labels(frame["label"], path.name)
    sections: dict[str, Any] = {"overall": headline(scores, labels, query)}
    for column in query.slices:
        keys = frame[column].fillna("").astype(str).to_numpy()
        sections.setdefault("slices", {})[column] = {
            value: headline(scores[keys == value], labels[keys == value], query)
            for value in sorted(set(keys.tolist()))
        }
    return _result(sections, len(raw), int((~ok).sum()), query)


def _float(value: object) -> float:
    """A score as Spark casts it (``float()``: correctly rounded); blank or unparsable -> NaN."""
    try:
        return float(str(value).strip())
    except ValueError:
        return float("nan")


def spark_metrics(spark: SparkSession, path: str, query: ScoreQuery) -> dict[str, Any]:
    """The same metrics with the rows counted on Spark (any file size; the driver holds distinct scores)."""
    from pyspark.sql import functions as F

    name = Path(path).name
    if name.lower().endswith((".parquet", ".pq")):
        frame = spark.read.parquet(path)
    else:
        frame = spark.read.option("header", "true").csv(path)
    _check_columns(frame.columns, query, name)
    score = F.col("score").cast("double")
    finite = score.isNotNull() & ~F.isnan(score) & (F.abs(score) != float("inf"))
    keyed = frame.select(
        score.alias("score"),
        F.trim(F.col("label").cast("string")).alias("label"),
        finite.alias("ok"),
        *(
            F.coalesce(F.col(c).cast("string"), F.lit("")).alias(f"slice_{i}")
            for i, c in enumerate(query.slices)
        ),
    )
    totals = keyed.groupBy("ok").count().collect()
    rows = sum(int(r["count"]) for r in totals)
    skipped = sum(int(r["count"]) for r in totals if not r["ok"])
    usable = keyed.where("ok")
    wrong = usable.where(~F.col("label").isin("0", "1")).select("label").limit(1).collect()
    if wrong:
        raise InvalidInput(f"{name}: label {wrong[0]['label']!r} is not 0 or 1")

    def table(*by: str) -> pd.DataFrame:
        grouped = usable.groupBy(*by, "score", "label").count().toPandas()
        return grouped.sort_values([*by, "score", "label"], kind="stable").reset_index(drop=True)

    def from_counts(part: pd.DataFrame) -> dict[str, Any]:
        return headline(
            part["score"].to_numpy(dtype=np.float64),
            np.asarray(part["label"].eq("1").to_numpy(), dtype=np.int64),
            query,
            counts=part["count"].to_numpy(dtype=np.float64),
        )

    sections: dict[str, Any] = {"overall": from_counts(table())}
    for i, column in enumerate(query.slices):
        counted = table(f"slice_{i}")
        sections.setdefault("slices", {})[column] = {
            str(value): from_counts(part) for value, part in counted.groupby(f"slice_{i}", sort=True)
        }
    return _result(sections, rows, skipped, query)
