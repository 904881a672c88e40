"""Error curves from sorted cumulative counts: every threshold at once, never a loop per threshold.

Conventions used by every metric and written into every report:

* a ``similarity`` score *accepts* (same person, genuine, bona fide, legit) when ``score >= threshold``;
* an ``attack`` score *flags* (attack, fraud) when ``score >= threshold``, and accepts when below it;
* candidate thresholds are the distinct finite scores plus one just above the largest, so both extremes
  (accept every acquired row, accept none) are on the curve;
* curves are returned in *strictness order*: index 0 accepts the most rows, the last index accepts the
  fewest. For similarity scores that is ascending threshold, for attack scores descending;
* a failure to acquire enters as ``-inf`` (similarity) or ``+inf`` (attack): rejected at every threshold.

Every function takes an optional ``(b, n)`` weight matrix so the bootstrap evaluates ``b`` resamples in
one pass with the same code that computes the point estimate (``weights=None``: every row counts once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from openidv.eval.data import BoolArray, FloatArray, IntArray
from openidv.results import Meaning

Weights = NDArray[np.float64] | None


def candidate_thresholds(scores: FloatArray) -> FloatArray:
    """Distinct finite scores, ascending, plus one just above the largest (reject every acquired row)."""
    finite = np.sort(scores[np.isfinite(scores)])
    if finite.size == 0:
        return np.empty(0, dtype=np.float64)
    keep = np.empty(finite.size, dtype=bool)
    keep[0] = True
    np.not_equal(finite[1:], finite[:-1], out=keep[1:])
    unique = finite[keep]
    return np.append(unique, np.nextafter(unique[-1], np.inf))


def count_below(values: FloatArray, thresholds: FloatArray, weights: Weights = None) -> FloatArray:
    """``(b, U)``: how many ``values`` (weighted) lie strictly below each ascending threshold.

    Unweighted, both arrays are sorted and merged (a stable sort of two sorted runs is linear), so ten
    million scores cost about as much as sorting them once. Weighted, each value is put in its threshold bin
    once and every replicate is a cumulative sum over bins.
    """
    n_thr = thresholds.shape[0]
    if weights is None:
        ordered = np.sort(values[~np.isnan(values)])
        merged = np.concatenate([thresholds, ordered])
        order = np.argsort(merged, kind="stable")  # thresholds first among equals: "strictly below"
        positions = np.flatnonzero(order < n_thr)
        return (positions - np.arange(n_thr)).astype(np.float64)[None, :]
    b = weights.shape[0]
    binning = _Binning(values, thresholds)
    hist = np.zeros((b, n_thr + 1), dtype=np.float64)
    if binning.starts.size:
        hist[:, binning.bins] = np.add.reduceat(weights[:, binning.order], binning.starts, axis=1)
    return np.cumsum(hist, axis=1)[:, :n_thr]


@dataclass(frozen=True)
class _Binning:
    """Rows grouped by how many thresholds lie at or below their score (value < t_j  <=>  j >= bin)."""

    order: IntArray
    starts: IntArray
    bins: IntArray

    def __init__(self, values: FloatArray, thresholds: FloatArray) -> None:
        idx = np.searchsorted(thresholds, values, side="right")
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        if sorted_idx.size:
            starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
        else:
            starts = np.empty(0, dtype=np.intp)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "bins", sorted_idx[starts])


class Group:
    """The rows under ``mask``, binned once on a threshold grid, so every bootstrap chunk only sums weights.

    ``below(weights)`` takes the full ``(b, n_rows_total)`` weight matrix (or None) and returns the
    ``(b, U)`` weighted count of the group's scores strictly below each threshold.
    """

    def __init__(self, scores: FloatArray, mask: NDArray[np.bool_], thresholds: FloatArray) -> None:
        self.values = scores[mask]
        self.thresholds = thresholds
        self.size = int(self.values.shape[0])
        self._mask = mask
        self._binned: tuple[IntArray, IntArray, IntArray] | None = None
        self._plain: FloatArray | None = None

    def _bins(self) -> tuple[IntArray, IntArray, IntArray]:
        """(rows in bin order, bin starts, bin ids), computed on first weighted use."""
        if self._binned is None:
            binning = _Binning(self.values, self.thresholds)
            self._binned = (np.flatnonzero(self._mask)[binning.order], binning.starts, binning.bins)
        return self._binned

    def counts(self, weights: Weights) -> tuple[FloatArray, FloatArray]:
        """(``(b, U)`` weighted count strictly below each threshold, ``(b,)`` weighted total)."""
        n_thr = self.thresholds.shape[0]
        if weights is None:
            if self._plain is None:
                self._plain = count_below(self.values, self.thresholds)
            return self._plain, np.array([float(self.size)])
        b = weights.shape[0]
        hist = np.zeros((b, n_thr + 1), dtype=np.float64)
        if self.size:
            rows, starts, bins = self._bins()
            taken = weights[:, rows]
            hist[:, bins] = taken if starts.size == self.size else np.add.reduceat(taken, starts, axis=1)
        np.cumsum(hist, axis=1, out=hist)
        return hist[:, :n_thr], hist[:, n_thr].copy()

    def accepted(self, meaning: Meaning, weights: Weights) -> tuple[FloatArray, FloatArray]:
        """(``(b, U)`` weighted count accepted at each threshold in strictness order, total)."""
        below, n = self.counts(weights)
        if meaning == Meaning.SIMILARITY:
            return n[:, None] - below, n
        return below[:, ::-1], n

    def rejected(self, meaning: Meaning, weights: Weights) -> tuple[FloatArray, FloatArray]:
        """(``(b, U)`` weighted count rejected at each threshold in strictness order, total)."""
        below, n = self.counts(weights)
        if meaning == Meaning.SIMILARITY:
            return below, n
        return (n[:, None] - below)[:, ::-1], n


def group_curves(good: Group, bad: Group, meaning: Meaning, weights: Weights) -> Curves:
    """``error_curves`` for pre-binned groups (the bootstrap's fast path)."""
    good_rej, n_good = good.rejected(meaning, weights)
    bad_acc, n_bad = bad.accepted(meaning, weights)
    return Curves(
        thresholds=strictness_order(good.thresholds, meaning),
        bad_acc=bad_acc,
        good_rej_base=good_rej,
        n_bad=n_bad,
        n_good=n_good,
    )


def total(n_rows: int, weights: Weights) -> FloatArray:
    """``(b,)`` weighted row count."""
    if weights is None:
        return np.array([float(n_rows)])
    return np.asarray(weights.sum(axis=1), dtype=np.float64)


@dataclass(frozen=True)
class Curves:
    """Error counts of a two-class problem at every threshold, in strictness order; rates on demand.

    ``bad_acc``: weighted count of bad rows accepted (false matches, attacks accepted, frauds missed);
    ``good_rej``: weighted count of good rows rejected, i.e. ``good_rej_base`` plus ``good_extra`` rows
    rejected at every threshold (failures to acquire). Shapes ``(b, U)``; totals ``(b,)``. The ``*_at``
    methods compute a rate only where it is needed (bisection), so a bootstrap chunk never divides whole
    curves it only reads a few points of.
    """

    thresholds: FloatArray
    bad_acc: FloatArray
    good_rej_base: FloatArray
    n_bad: FloatArray
    n_good: FloatArray
    good_extra: FloatArray | None = None

    @property
    def rows(self) -> IntArray:
        return np.arange(self.bad_acc.shape[0])

    @property
    def size(self) -> int:
        return int(self.bad_acc.shape[1])

    @cached_property
    def good_rej(self) -> FloatArray:
        if self.good_extra is None:
            return self.good_rej_base
        return self.good_rej_base + self.good_extra[:, None]

    @cached_property
    def bad_err(self) -> FloatArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.bad_acc / self.n_bad[:, None]

    @cached_property
    def good_err(self) -> FloatArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.good_rej / self.n_good[:, None]

    def _at(self, counts: FloatArray, idx: IntArray) -> FloatArray:
        if self.size == 0:
            return np.full(idx.shape[0], np.nan)
        return np.where(idx >= 0, counts[self.rows, np.clip(idx, 0, self.size - 1)], np.nan)

    def bad_acc_at(self, idx: IntArray) -> FloatArray:
        return self._at(self.bad_acc, idx)

    def good_rej_at(self, idx: IntArray) -> FloatArray:
        out = self._at(self.good_rej_base, idx)
        return out if self.good_extra is None else out + self.good_extra

    def bad_err_at(self, idx: IntArray) -> FloatArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.bad_acc_at(idx) / self.n_bad

    def good_err_at(self, idx: IntArray) -> FloatArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.good_rej_at(idx) / self.n_good

    def threshold_at(self, idx: IntArray) -> FloatArray:
        if self.size == 0:
            return np.full(idx.shape[0], np.nan)
        return np.where(idx >= 0, self.thresholds[np.clip(idx, 0, self.size - 1)], np.nan)

    def first_bad_at_most(self, limit: float) -> IntArray:
        """Per row, the least strict index whose bad-class error is ``<= limit`` (-1: none)."""
        return _first_index(lambda i: self.bad_err_at(i) <= limit, self.bad_acc.shape[0], self.size)

    def last_good_at_most(self, limit: float) -> IntArray:
        """Per row, the strictest index whose good-class error is ``<= limit`` (-1: none)."""
        over = _first_true(lambda i: ~(self.good_err_at(i) <= limit), self.bad_acc.shape[0], self.size)
        return over - 1

    def with_always_rejected(self, good_extra: FloatArray, bad_extra: FloatArray) -> Curves:
        """The same curves with extra rows that are rejected at every threshold (failures to acquire):
        they add to the good class's errors and to both totals, never to the bad class's errors."""
        extra = good_extra if self.good_extra is None else self.good_extra + good_extra
        return Curves(
            thresholds=self.thresholds,
            bad_acc=self.bad_acc,
            good_rej_base=self.good_rej_base,
            n_bad=self.n_bad + bad_extra,
            n_good=self.n_good + good_extra,
            good_extra=extra,
        )


def accepted_counts(
    values: FloatArray, meaning: Meaning, thresholds: FloatArray, weights: Weights = None
) -> FloatArray:
    """``(b, U)`` weighted count of ``values`` accepted at each threshold, in strictness order."""
    below = count_below(values, thresholds, weights)
    if meaning == Meaning.SIMILARITY:
        return total(values.shape[0], weights)[:, None] - below
    return below[:, ::-1]


def strictness_order(thresholds: FloatArray, meaning: Meaning) -> FloatArray:
    """Thresholds from the most accepting to the least."""
    return thresholds if meaning == Meaning.SIMILARITY else thresholds[::-1]


def error_curves(
    good_scores: FloatArray,
    bad_scores: FloatArray,
    meaning: Meaning,
    thresholds: FloatArray,
    good_weights: Weights = None,
    bad_weights: Weights = None,
) -> Curves:
    """Both error curves on one threshold grid (ascending ``thresholds``, e.g. ``candidate_thresholds``)."""
    n_good = total(good_scores.shape[0], good_weights)
    n_bad = total(bad_scores.shape[0], bad_weights)
    good_acc = accepted_counts(good_scores, meaning, thresholds, good_weights)
    bad_acc = accepted_counts(bad_scores, meaning, thresholds, bad_weights)
    return Curves(
        thresholds=strictness_order(thresholds, meaning),
        bad_acc=bad_acc,
        good_rej_base=n_good[:, None] - good_acc,
        n_bad=n_bad,
        n_good=n_good,
    )


# ------------------------------------------------------------------------------------ operating points


def _first_true(holds: Callable[[IntArray], BoolArray], rows: int, size: int) -> IntArray:
    """Per row, the first index in [0, size) where a monotone predicate (False...False True...True) holds,
    found by bisection on all rows at once: log2(size) gathers instead of passes over whole curves."""
    lo = np.zeros(rows, dtype=np.intp)
    hi = np.full(rows, size, dtype=np.intp)
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        ok = holds(np.minimum(mid, size - 1))
        hi = np.where(active & ok, mid, hi)
        lo = np.where(active & ~ok, mid + 1, lo)


def _first_index(holds: Callable[[IntArray], BoolArray], rows: int, size: int) -> IntArray:
    """``_first_true`` with -1 where the predicate never holds."""
    idx = _first_true(holds, rows, size)
    return np.where(idx < size, idx, -1)


def first_at_most(decreasing: FloatArray, limit: float) -> IntArray:
    """Per row, the first index where a non-increasing curve is ``<= limit``; -1 where it never is."""
    b, u = decreasing.shape
    rows = np.arange(b)
    return _first_index(lambda i: decreasing[rows, i] <= limit, b, u)


def last_at_most(increasing: FloatArray, limit: float) -> IntArray:
    """Per row, the last index where a non-decreasing curve is ``<= limit``; -1 where it never is."""
    b, u = increasing.shape
    rows = np.arange(b)
    # NaN rows (an empty class) compare False everywhere: "first index where > limit" is then 0 -> -1
    first_over = _first_true(lambda i: ~(increasing[rows, i] <= limit), b, u)
    return first_over - 1


def take(rows: FloatArray, index: IntArray) -> FloatArray:
    """``rows[r, index[r]]``, NaN where ``index`` is -1."""
    if rows.shape[1] == 0:
        return np.full(rows.shape[0], np.nan)
    safe = np.clip(index, 0, rows.shape[1] - 1)
    picked = np.take_along_axis(rows, safe[:, None], axis=1)[:, 0]
    return np.where(index >= 0, picked, np.nan)


@dataclass(frozen=True)
class EER:
    """Equal error rate per replicate: value, the interval [low, high] it comes from, and its index."""

    value: FloatArray
    low: FloatArray
    high: FloatArray
    index: IntArray


def equal_error_rate(bad_err: FloatArray, good_err: FloatArray) -> EER:
    """EER where the two error curves cross (Maio et al., FVC2000; the definition pyeer implements).

    Of the two operating points either side of the crossing, take the one with the smaller sum of errors;
    the EER is the mean of its two rates and [low, high] are the rates themselves. Rows where a class is
    empty give NaN.
    """
    b, u = bad_err.shape
    rows = np.arange(b)
    return _eer(lambda i: bad_err[rows, i], lambda i: good_err[rows, i], b, u)


def curves_eer(c: Curves) -> EER:
    """``equal_error_rate`` read point by point from the counts (no whole-curve division)."""
    return _eer(c.bad_err_at, c.good_err_at, c.bad_acc.shape[0], c.size)


def _eer(
    bad_at: Callable[[IntArray], FloatArray], good_at: Callable[[IntArray], FloatArray], b: int, u: int
) -> EER:
    if u == 0:
        nan = np.full(b, np.nan)
        return EER(nan, nan, nan, np.full(b, -1, dtype=np.intp))
    # bad_err - good_err never increases along the curve, so the crossing is found by bisection
    t2 = _first_true(lambda i: bad_at(i) - good_at(i) <= 0, b, u)
    crossed_any = t2 < u
    t2 = np.minimum(t2, u - 1)
    d2 = bad_at(t2) - good_at(t2)
    t1 = np.where((d2 != 0) & (t2 != 0), t2 - 1, t2)
    sum1 = bad_at(t1) + good_at(t1)
    sum2 = bad_at(t2) + good_at(t2)
    chosen = np.where(sum1 <= sum2, t1, t2)
    a, g = bad_at(chosen), good_at(chosen)
    valid = crossed_any & np.isfinite(a) & np.isfinite(g)
    chosen = np.where(valid, chosen, -1)
    return EER(
        value=np.where(valid, (a + g) / 2, np.nan),
        low=np.where(valid, np.minimum(a, g), np.nan),
        high=np.where(valid, np.maximum(a, g), np.nan),
        index=chosen,
    )


def roc_auc(curves: Curves) -> FloatArray:
    """Area under the ROC curve: P(a good row is ranked as better than a bad one), ties counted half.

    ROC points are (bad accepted, good accepted) from the most accepting threshold to the least; the curve
    runs from (1, 1) to (0, 0) on acquired rows, so the trapezoid sum is the Mann-Whitney statistic. It
    is summed on counts, exact for unweighted data until the one final division:
    AUC = [2 n_g (A_0 - A_last) - sum dA (R_i + R_i+1)] / (2 n_b n_g).
    """
    a = curves.bad_acc
    r = curves.good_rej
    if a.shape[1] < 2:
        return np.full(a.shape[0], np.nan)
    d_a = a[:, :-1] - a[:, 1:]
    pair = r[:, :-1] + r[:, 1:]
    cross = np.einsum("ij,ij->i", d_a, pair)
    n_b, n_g = curves.n_bad, curves.n_good
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (2.0 * n_g * (a[:, 0] - a[:, -1]) - cross) / (2.0 * n_b * n_g)
    return np.asarray(auc, dtype=np.float64)


def average_precision(curves: Curves) -> FloatArray:
    """Average precision with the *bad* class as positive (frauds caught), as scikit-learn defines it.

    Stricter thresholds catch more bad rows (recall rises); AP = sum over thresholds of recall gain times
    precision there, with no interpolation.
    """
    caught = curves.n_bad[:, None] - curves.bad_acc
    flagged = caught + curves.good_rej
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = caught / curves.n_bad[:, None]
        precision = np.where(flagged > 0, caught / np.where(flagged > 0, flagged, 1.0), 1.0)
    gain = np.diff(recall, axis=1, prepend=0.0)
    return np.asarray(np.sum(gain * precision, axis=1), dtype=np.float64)


def downsample(bad_err: FloatArray, good_err: FloatArray, points: int = 600) -> IntArray:
    """Indices of a one-row curve worth plotting: log-spaced along both rates, plus both ends."""
    u = bad_err.shape[0]
    if u <= points:
        return np.arange(u)
    grid = np.logspace(-7, 0, points // 2)
    from_bad = u - np.searchsorted(bad_err[::-1], grid, side="left")  # bad_err is non-increasing
    from_good = np.searchsorted(good_err, grid, side="left")
    idx = np.concatenate([[0, u - 1], np.clip(from_bad, 0, u - 1), np.clip(from_good, 0, u - 1)])
    return np.unique(idx)
