"""Uncertainty: bootstrap over subjects, exact binomial intervals, and how the two are combined.

Comparisons of one person are not independent (a hard-to-match face fails most of its genuine pairs), so a
bootstrap that resamples rows understates the uncertainty. We resample *subjects* with replacement and
give every row a weight: a sample or genuine comparison counts once per draw of its subject; an impostor
comparison counts once per draw of *each* of its two subjects (the product), since both people are a
source of correlation.

At zero observed errors the bootstrap collapses to [0, 0], and with few errors it is too narrow; there the
exact (Clopper-Pearson) binomial interval on the observed counts is the honest one. Reported intervals are
the union of the two (``combine``): never narrower than either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaincinv

from openidv.eval.data import FloatArray, IntArray, ScoredSet

Unit = Literal["subject", "sample"]
StatFn = Callable[[NDArray[np.float64] | None], Mapping[str, FloatArray]]

DEFAULT_REPLICATES = 1000
DEFAULT_CONFIDENCE = 0.95
#: how many cells (replicates x rows) one chunk of weights may hold; bounds memory, keeps numpy busy
CHUNK_CELLS = 4_000_000


def resample_counts(n_units: int, replicates: int, rng: np.random.Generator) -> FloatArray:
    """``(b, n_units)``: how often each unit is drawn in each of ``replicates`` resamples."""
    draws = rng.integers(0, n_units, size=(replicates, n_units))
    offsets = (np.arange(replicates) * n_units)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=replicates * n_units)
    return counts.reshape(replicates, n_units).astype(np.float64)


def row_weights(
    subject_a: IntArray, subject_b: IntArray, counts: FloatArray, *, pairs: bool = True
) -> FloatArray:
    """Row weights from subject draw counts: the product for comparisons of two different people.

    A column of ones stands in for the second subject of genuine rows, so both factors are plain gathers.
    """
    b, n_units = counts.shape
    extended = np.empty((b, n_units + 1), dtype=np.float64)
    extended[:, :n_units] = counts
    extended[:, n_units] = 1.0
    w = np.take(extended, subject_a, axis=1)
    if pairs:
        second = np.where(subject_a != subject_b, subject_b, n_units)
        w *= np.take(extended, second, axis=1)
    return w


def weights_for(ss: ScoredSet, counts: FloatArray, unit: Unit) -> FloatArray:
    """Row weights of one replicate batch; ``counts`` are per subject (unit ``subject``) or per row."""
    if unit == "sample":
        return counts
    return row_weights(ss.subject_a, ss.subject_b, counts)


def iter_weights(
    ss: ScoredSet, replicates: int, seed: int, unit: Unit = "subject", chunk: int | None = None
) -> Iterator[FloatArray]:
    """Yield ``(b, n)`` weight chunks covering ``replicates`` resamples, reproducibly from ``seed``."""
    rng = np.random.default_rng(seed)
    n_units = ss.n if unit == "sample" else len(ss.subjects)
    size = chunk or max(1, min(replicates, CHUNK_CELLS // max(1, ss.n)))
    done = 0
    while done < replicates:
        b = min(size, replicates - done)
        yield weights_for(ss, resample_counts(n_units, b, rng), unit)
        done += b


def run_bootstrap(
    ss: ScoredSet,
    stats: Sequence[StatFn],
    replicates: int,
    seed: int,
    unit: Unit = "subject",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, FloatArray]:
    """Evaluate every statistic on ``replicates`` resamples; returns name -> ``(replicates,)`` values."""
    if replicates <= 0 or ss.n == 0:
        return {}
    parts: dict[str, list[FloatArray]] = {}
    done = 0
    for weights in iter_weights(ss, replicates, seed, unit):
        done += weights.shape[0]
        if progress:
            progress(done, replicates)
        for fn in stats:
            for name, values in fn(weights).items():
                if "#" in name:
                    continue
                parts.setdefault(name, []).append(np.asarray(values, dtype=np.float64))
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


# ------------------------------------------------------------------------------------------- intervals


def percentile_interval(replicates: FloatArray, confidence: float) -> tuple[float, float]:
    """Two-sided percentile interval of the finite replicate values; NaN when there are none."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    alpha = 1.0 - confidence
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return (float(low), float(high))


def clopper_pearson(errors: float, trials: float, confidence: float) -> tuple[float, float]:
    """Exact two-sided binomial interval for ``errors`` in ``trials`` (NaN when there are no trials)."""
    if trials <= 0:
        return (float("nan"), float("nan"))
    k = round(errors)
    n = round(trials)
    alpha = 1.0 - confidence
    low = 0.0 if k <= 0 else float(betaincinv(k, n - k + 1, alpha / 2))
    high = 1.0 if k >= n else float(betaincinv(k + 1, n - k, 1 - alpha / 2))
    return (low, high)


def upper_bound_zero_errors(trials: float, confidence: float) -> float:
    """One-sided upper bound on a rate after ``trials`` with no error: ~3/n at 95% (the rule of three)."""
    if trials <= 0:
        return 1.0
    return float(1.0 - (1.0 - confidence) ** (1.0 / trials))


@dataclass(frozen=True)
class Interval:
    """A point estimate with its interval and how the interval was obtained."""

    value: float
    low: float
    high: float
    method: str

    def as_dict(self) -> dict[str, float | str | None]:
        return {
            "value": _clean(self.value),
            "ci_low": _clean(self.low),
            "ci_high": _clean(self.high),
            "ci_method": self.method,
        }

    def flipped(self) -> Interval:
        """The interval of ``1 - x`` (e.g. recall from a miss rate)."""
        return Interval(1.0 - self.value, 1.0 - self.high, 1.0 - self.low, self.method)


def combine(
    value: float,
    replicates: FloatArray | None,
    confidence: float,
    errors: float | None = None,
    trials: float | None = None,
) -> Interval:
    """Interval of a statistic: subject bootstrap, widened to the exact binomial interval for a count rate."""
    if not np.isfinite(value):
        return Interval(float("nan"), float("nan"), float("nan"), "none")
    methods = []
    low, high = float("inf"), float("-inf")
    if replicates is not None and replicates.size:
        b_low, b_high = percentile_interval(replicates, confidence)
        if np.isfinite(b_low):
            low, high = b_low, b_high
            methods.append("subject bootstrap")
    if errors is not None and trials is not None and trials > 0:
        c_low, c_high = clopper_pearson(errors, trials, confidence)
        low, high = min(low, c_low), max(high, c_high)
        methods.append("exact binomial")
    if not methods:
        return Interval(value, float("nan"), float("nan"), "none")
    low, high = min(low, value), max(high, value)
    return Interval(value, low, high, " + ".join(methods))


def _clean(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)
