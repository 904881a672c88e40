"""Key timing features: how long keys are held (dwell) and the gaps between them (flight), from
``key_down``/``key_up`` pairs matched by the collector's opaque key slot (never which key it was).

Why these: a script types with constant or uniformly random timings, and presses one key at a time; a
person's dwell and flight times are right-skewed (close to lognormal), vary from key to key, and overlap
(the next key goes down before the last comes up: a negative flight).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from openidv.telemetry import Telemetry

FloatArray = npt.NDArray[np.float64]

KEY_FEATURES: tuple[str, ...] = (
    "dwell_q50_ms",
    "dwell_cv",
    "dwell_iqr_ratio",
    "dwell_skew",
    "flight_q50_ms",
    "flight_cv",
    "flight_iqr_ratio",
    "overlap_share",
    "latency_cv",
    "dwell_entropy_bits",
)


def key_pairs(telemetry: Telemetry) -> FloatArray:
    """``(n, 2)`` press and release times (ms) of each key stroke, in press order: each ``key_down`` with
    the next ``key_up`` of the same slot; presses without a release (and auto-repeats) are dropped."""
    open_: dict[int, float] = {}
    pairs: list[tuple[float, float]] = []
    for e in telemetry.events:
        if e.type == "key_down" and e.key is not None:
            open_.setdefault(e.key, e.t)
        elif e.type == "key_up" and e.key is not None and e.key in open_:
            pairs.append((open_.pop(e.key), e.t))
    if not pairs:
        return np.zeros((0, 2))
    arr = np.array(pairs, dtype=np.float64)
    return arr[np.argsort(arr[:, 0], kind="stable")]


def _cv(v: FloatArray) -> float:
    m = float(np.mean(v)) if v.size else 0.0
    return float(np.std(v) / m) if v.size >= 2 and m > 0 else float("nan")


def _iqr_ratio(v: FloatArray) -> float:
    if v.size < 4:
        return float("nan")
    q25, q50, q75 = np.quantile(v, [0.25, 0.5, 0.75])
    return float((q75 - q25) / q50) if q50 > 0 else float("nan")


def key_features(pairs: FloatArray) -> FloatArray:
    """The ``KEY_FEATURES`` vector (NaN where there are too few key strokes)."""
    f = dict.fromkeys(KEY_FEATURES, np.nan)
    if pairs.shape[0] >= 2:
        dwell = pairs[:, 1] - pairs[:, 0]
        flight = pairs[1:, 0] - pairs[:-1, 1]
        latency = np.diff(pairs[:, 0])
        # gaps longer than 2 s are the person thinking or moving to another field, not typing rhythm
        typing = latency < 2000.0
        flight, latency = flight[typing], latency[typing]
        f["dwell_q50_ms"] = float(np.median(dwell))
        f["dwell_cv"] = _cv(dwell)
        f["dwell_iqr_ratio"] = _iqr_ratio(dwell)
        sd = float(np.std(dwell))
        f["dwell_skew"] = float(np.mean((dwell - dwell.mean()) ** 3) / sd**3) if sd > 0 else 0.0
        if flight.size:
            f["flight_q50_ms"] = float(np.median(flight))
            f["flight_cv"] = float(np.std(flight) / max(float(np.mean(np.abs(flight))), 1e-9))
            f["flight_iqr_ratio"] = _iqr_ratio(np.abs(flight))
            f["overlap_share"] = float(np.mean(flight < 0))
            f["latency_cv"] = _cv(latency)
        bins = np.bincount(np.clip(np.round(dwell / 10.0).astype(np.int64), 0, 100))
        p = bins[bins > 0] / dwell.size
        f["dwell_entropy_bits"] = float(-(p * np.log2(p)).sum())
    vec = np.array([f[name] for name in KEY_FEATURES], dtype=np.float64)
    vec[~np.isfinite(vec)] = np.nan
    return vec
