"""Array-level helpers for notebooks: the common questions without manifests or reports.

``genuine`` and ``impostor`` are scores of the two classes (for PAD: bona fide and attacks), in the
check's own orientation; ``meaning`` says which way it points. The numbers are the ones ``eval run``
reports (same curves, same EER definition, same tie rule).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from openidv.eval.curves import (
    Curves,
    candidate_thresholds,
    equal_error_rate,
    error_curves,
    first_at_most,
    take,
)
from openidv.eval.data import FloatArray
from openidv.results import Meaning


def _curves(
    genuine: Sequence[float] | FloatArray, impostor: Sequence[float] | FloatArray, meaning: Meaning | str
) -> Curves:
    g = np.asarray(genuine, dtype=np.float64)
    i = np.asarray(impostor, dtype=np.float64)
    thr = candidate_thresholds(np.concatenate([g, i]))
    return error_curves(g, i, Meaning(meaning), thr)


def det_curve(
    genuine: Sequence[float] | FloatArray,
    impostor: Sequence[float] | FloatArray,
    meaning: Meaning | str = "similarity",
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(thresholds, FMR, FNMR) at every threshold, from the most accepting to the least."""
    c = _curves(genuine, impostor, meaning)
    return c.thresholds, c.bad_err[0], c.good_err[0]


def eer(
    genuine: Sequence[float] | FloatArray,
    impostor: Sequence[float] | FloatArray,
    meaning: Meaning | str = "similarity",
) -> float:
    """Equal error rate (FVC2000 definition; NaN when a class is empty)."""
    c = _curves(genuine, impostor, meaning)
    return float(equal_error_rate(c.bad_err, c.good_err).value[0])


def fnmr_at_fmr(
    genuine: Sequence[float] | FloatArray,
    impostor: Sequence[float] | FloatArray,
    fmr: float,
    meaning: Meaning | str = "similarity",
) -> tuple[float, float]:
    """(FNMR, threshold) at the least strict threshold with FMR <= ``fmr``; no sample-size check here."""
    c = _curves(genuine, impostor, meaning)
    idx = first_at_most(c.bad_err, fmr)
    fnmr = float(take(c.good_err, idx)[0])
    threshold = float(c.thresholds[idx[0]]) if idx[0] >= 0 else float("nan")
    return fnmr, threshold
