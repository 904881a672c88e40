"""Fairness: error rates per slice at one global threshold, and the demographic differential.

All slices are judged at the *same* threshold (the one a deployment would use), as NIST FRVT reports
demographic differentials. For each slice column (any extra manifest column: age band, sex, skin tone,
country, document type, device, channel) and each rate (e.g. FMR and FNMR) we report the rate per slice
with its interval, and the ratio of the worst slice to the geometric mean over all slices. A rate of zero
would make the geometric mean zero, so each slice's rate is floored at half an error (0.5 / n) for the
ratio only. Slices whose rate exceeds ``max_ratio`` times the geometric mean are flagged.

The ratio's interval comes from the same subject bootstrap as every other figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from openidv.eval.data import BoolArray, FloatArray, IntArray, ScoredSet
from openidv.eval.metrics.common import Options, Plan, Stats, W, entry, scalar

SEP = "\t"


def _key(*parts: str) -> str:
    return SEP.join(("slice", *parts))


def _ratio_key(column: str, rate: str) -> str:
    return SEP.join(("ratio", column, rate))


def _slice_matrix(masks: list[BoolArray], codes: IntArray, m: int) -> sparse.csr_matrix:
    """Sparse ``(n, len(masks) * m)`` indicator: column ``k * m + j`` marks rows under mask k in slice j.

    Built once per column and threshold; each bootstrap chunk is then one sparse product, whatever the
    number of slices (a dense one-hot of a million rows by 50 slices would not fit in memory).
    """
    n = codes.shape[0]
    rows, cols = [], []
    for k, mask in enumerate(masks):
        picked = np.flatnonzero(mask)
        rows.append(picked)
        cols.append(k * m + codes[picked])
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    return sparse.csr_matrix((np.ones(r.size), (r, c)), shape=(n, len(masks) * m))


def _sums(matrix: sparse.csr_matrix, weights: W) -> FloatArray:
    if weights is None:
        return np.asarray(matrix.sum(axis=0), dtype=np.float64).reshape(1, -1)
    return np.asarray((matrix.T @ weights.T).T, dtype=np.float64)


def rate_names(ss: ScoredSet) -> tuple[str, str]:
    v = ss.vocabulary
    return v.bad_err, v.good_err


def fairness_stats(ss: ScoredSet, plan: Plan, threshold: float, weights: W = None) -> Stats:
    """Per-slice rates and worst-to-geometric-mean ratios at ``threshold`` for every slice column."""
    bad_name, good_name = rate_names(ss)
    accepted = ss.accepted(threshold)
    ok = ~ss.fta
    out: Stats = {}
    rates = (bad_name, good_name, "fta")
    for column, values in plan.slices.items():
        m = len(values)
        key = f"fairness:{column}:{threshold!r}"
        matrix = plan.cache.get(key)
        if matrix is None:
            codes = np.asarray(pd.Index(values).get_indexer(pd.Index(ss.slices[column])), dtype=np.intp)
            masks = [
                *(accepted & ~ss.good & ok, ~ss.good & ok),
                *(~accepted & ss.good & ok, ss.good & ok),
                *(ss.fta, np.ones(ss.n, dtype=bool)),
            ]
            matrix = plan.cache[key] = _slice_matrix(masks, codes, m)
        sums = _sums(matrix, weights)
        for r_index, rate in enumerate(rates):
            k = sums[:, (2 * r_index) * m : (2 * r_index + 1) * m]
            n = sums[:, (2 * r_index + 1) * m : (2 * r_index + 2) * m]
            with np.errstate(invalid="ignore", divide="ignore"):
                r = np.where(n > 0, k / np.where(n > 0, n, 1.0), np.nan)
            for j, value in enumerate(values):
                out[_key(column, value, rate)] = r[:, j]
                out[_key(column, value, rate) + "#k"] = k[:, j]
                out[_key(column, value, rate) + "#n"] = n[:, j]
            out[_ratio_key(column, rate)] = worst_to_geometric_mean(k, n)
    return out


def worst_to_geometric_mean(errors: FloatArray, trials: FloatArray) -> FloatArray:
    """Per row: max slice rate / geometric mean of slice rates (floored at 0.5/n; empty slices left out)."""
    present = trials > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(present, np.maximum(errors, 0.5) / np.where(present, trials, 1.0), np.nan)
        log_rate = np.where(present, np.log(np.where(present, rate, 1.0)), 0.0)
        count = present.sum(axis=1)
        geo = np.exp(log_rate.sum(axis=1) / np.where(count > 0, count, 1))
        worst = np.max(np.where(present, rate, -np.inf), axis=1)
        return np.where(count >= 2, worst / geo, np.nan)


def summarize(
    ss: ScoredSet,
    plan: Plan,
    point: Mapping[str, FloatArray],
    reps: Mapping[str, FloatArray],
    options: Options,
    skipped: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``fairness`` section of a report."""
    bad_name, good_name = rate_names(ss)
    v = ss.vocabulary
    columns: dict[str, Any] = {}
    for column, values in plan.slices.items():
        slices: dict[str, Any] = {}
        for value in values:
            item: dict[str, Any] = {
                rate: entry(_key(column, value, rate), point, reps, options.confidence)
                for rate in (bad_name, good_name, "fta")
            }
            item[v.n_bad] = int(scalar(point, _key(column, value, bad_name) + "#n"))
            item[v.n_good] = int(scalar(point, _key(column, value, good_name) + "#n"))
            slices[value] = item
        ratios = {
            rate: entry(_ratio_key(column, rate), point, reps, options.confidence)
            for rate in (bad_name, good_name, "fta")
        }
        flagged = []
        worst: dict[str, str | None] = {}
        for rate in (bad_name, good_name, "fta"):
            ks = np.array([scalar(point, _key(column, val, rate) + "#k") for val in values])
            ns = np.array([scalar(point, _key(column, val, rate) + "#n") for val in values])
            present = ns > 0
            if present.sum() < 2:
                worst[rate] = None
                continue
            floored = np.where(present, np.maximum(ks, 0.5) / np.where(present, ns, 1.0), np.nan)
            geo = float(np.exp(np.nanmean(np.log(floored))))
            worst[rate] = values[int(np.nanargmax(floored))]
            for val, fr, raw_k, raw_n in zip(values, floored, ks, ns, strict=True):
                if raw_n > 0 and fr / geo > options.fairness_max_ratio:
                    flagged.append(
                        {
                            "slice": val,
                            "rate": rate,
                            "ratio": float(fr / geo),
                            "errors": int(raw_k),
                            "n": int(raw_n),
                        }
                    )
        columns[column] = {
            "slices": slices,
            "ratio_worst_to_geomean": ratios,
            "worst": worst,
            "flagged": flagged,
        }
    return {
        "threshold": plan.op_threshold,
        "operating_point": plan.op_label,
        "max_ratio": options.fairness_max_ratio,
        "rates": [bad_name, good_name, "fta"],
        "columns": columns,
        "skipped_columns": dict(skipped or {}),
        "method": (
            "rates per slice at one global threshold; ratio = worst slice / geometric mean over slices, "
            "each rate "
            "floored at 0.5/n for the ratio; intervals from the subject bootstrap and exact binomial bounds"
        ),
    }
