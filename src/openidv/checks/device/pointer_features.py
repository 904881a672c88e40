"""Pointer (mouse, pen, touch) trajectory features of one session, vectorised in numpy.

Why the trajectory is resampled first: the only real human pointer data (Balabit) was recorded at about
10 Hz with 15.6 ms clock steps, a browser reports 60 Hz or more, a bot whatever it likes. Kinematics taken
on raw events would learn the recorder, not the hand. So each stroke (a run of points with no gap longer
than ``STROKE_GAP_MS`` and no button change) is resampled by linear interpolation on a ``GRID_MS`` grid,
and speed, acceleration, jerk, heading change and curvature are read on that grid. Raw event timing
(interval CV and entropy) is computed for the details a person reads, never fed to the model.

Features (``POINTER_FEATURES``, NaN when a session has too little of something; the trees route NaN):
speed / |acceleration| / |jerk| quantiles, heading change and curvature quantiles, share of straight grid
steps, stroke straightness (chord / path), where in a stroke the peak speed falls, speed peaks per second
(sub-movements), end-to-peak speed ratio, pauses between strokes, overshoot past click targets, click dwell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openidv.telemetry import Telemetry

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MOVE, DOWN, UP = 0, 1, 2
_KIND = {"move": MOVE, "touch_move": MOVE, "down": DOWN, "touch_start": DOWN, "up": UP, "touch_end": UP}
_TOUCH = frozenset(("touch_start", "touch_move", "touch_end"))
GRID_MS = 100.0
STROKE_GAP_MS = 500.0
#: strokes shorter than this (path, CSS px) give no straightness or speed-profile reading
MIN_STROKE_PX = 20.0

POINTER_FEATURES: tuple[str, ...] = (
    "speed_q10",
    "speed_q50",
    "speed_q90",
    "speed_cv",
    "acc_q50",
    "acc_q90",
    "jerk_q50",
    "jerk_q90",
    "jerk_per_speed",
    "turn_q50",
    "turn_q90",
    "turn_mean",
    "straight_share",
    "curvature_q50",
    "curvature_q90",
    "straightness_q10",
    "straightness_q50",
    "straightness_q90",
    "peak_position_q50",
    "peak_position_spread",
    "speed_peaks_per_s",
    "end_speed_ratio",
    "gap_q50_s",
    "gap_cv",
    "overshoot_share",
    "overshoot_q50",
    "dwell_q50_ms",
    "dwell_cv",
)


@dataclass(frozen=True)
class PointerStream:
    """Pointer events with coordinates, as arrays: time (ms), kind (MOVE/DOWN/UP), x, y; ``touch`` when the
    events came from a touch screen."""

    t: FloatArray
    kind: IntArray
    x: FloatArray
    y: FloatArray
    touch: bool = False

    @classmethod
    def from_telemetry(cls, telemetry: Telemetry) -> PointerStream:
        # one plain loop into lists: the hot path of the check (a few thousand events in about 1 ms)
        t: list[float] = []
        k: list[int] = []
        x: list[float] = []
        y: list[float] = []
        touch = False
        kinds = _KIND
        for e in telemetry.events:
            kind = kinds.get(e.type)
            if kind is not None and e.x is not None and e.y is not None:
                t.append(e.t)
                k.append(kind)
                x.append(e.x)
                y.append(e.y)
                touch = touch or e.pointer == "touch" or e.type in _TOUCH
        return cls(
            np.array(t, dtype=np.float64),
            np.array(k, dtype=np.int64),
            np.array(x, dtype=np.float64),
            np.array(y, dtype=np.float64),
            touch,
        )

    @classmethod
    def from_rows(
        cls, rows: Sequence[tuple[float, int, float | None, float | None]], touch: bool = False
    ) -> PointerStream:
        if not rows:
            empty = np.zeros(0)
            return cls(empty, np.zeros(0, dtype=np.int64), empty, empty, touch)
        arr = np.array(rows, dtype=np.float64)
        return cls(arr[:, 0], arr[:, 1].astype(np.int64), arr[:, 2], arr[:, 3], touch)

    def __len__(self) -> int:
        return int(self.t.shape[0])


def _q(values: FloatArray, q: float | list[float]) -> FloatArray:
    if values.size == 0:
        return np.full(np.shape(q), np.nan)
    return np.asarray(np.quantile(values, q), dtype=np.float64)


def _cv(values: FloatArray) -> float:
    if values.size < 2:
        return float("nan")
    mean = float(values.mean())
    return float(values.std() / mean) if mean > 0 else float("nan")


def stroke_ids(s: PointerStream) -> IntArray:
    """Stroke number of each event: a new stroke after a gap, at a press and after a release."""
    if len(s) == 0:
        return np.zeros(0, dtype=np.int64)
    brk = np.zeros(len(s), dtype=bool)
    brk[1:] = (np.diff(s.t) > STROKE_GAP_MS) | (s.kind[1:] == DOWN) | (s.kind[:-1] == UP)
    return np.cumsum(brk)


def _resample(s: PointerStream, sid: IntArray) -> tuple[FloatArray, FloatArray, IntArray]:
    """Grid points (x, y) and their stroke number: each stroke on a ``GRID_MS`` grid from its first event."""
    starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    ends = np.r_[starts[1:], len(s)] - 1
    t0, t1 = s.t[starts], s.t[ends]
    counts = np.floor((t1 - t0) / GRID_MS).astype(np.int64) + 1
    keep = counts >= 3
    if not keep.any():
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    starts, ends, t0, counts = starts[keep], ends[keep], t0[keep], counts[keep]
    owner = np.repeat(np.arange(starts.size), counts)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    tg = t0[owner] + offset * GRID_MS
    # a tiny time ramp makes equal timestamps strictly increasing, so interpolation never mixes strokes
    tt = s.t + np.arange(len(s)) * 1e-6
    tg = tg + starts[owner] * 1e-6
    return np.interp(tg, tt, s.x), np.interp(tg, tt, s.y), owner


def _diff_within(values: FloatArray, owner: IntArray) -> tuple[FloatArray, IntArray]:
    """Differences of consecutive values of the same stroke, and the stroke of each."""
    same = owner[1:] == owner[:-1]
    return (values[1:] - values[:-1])[same], owner[1:][same]


def _wrap(angle: FloatArray) -> FloatArray:
    return np.asarray((angle + np.pi) % (2 * np.pi) - np.pi, dtype=np.float64)


def _group_stats(
    owner: IntArray, speed: FloatArray, n_groups: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per stroke: position (0..1) of the peak speed, speed peaks per second, end speed / peak speed."""
    pos = np.full(n_groups, np.nan)
    peaks = np.full(n_groups, np.nan)
    end_ratio = np.full(n_groups, np.nan)
    if speed.size == 0:
        return pos, peaks, end_ratio
    order = np.lexsort((-speed, owner))
    first = np.r_[True, owner[order][1:] != owner[order][:-1]]
    top = order[first]
    group_start = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    group_end = np.r_[group_start[1:], owner.size] - 1
    g = owner[group_start]
    length = group_end - group_start + 1
    peak_at = top  # one per group, in group order (owner is sorted)
    pos[g] = (peak_at - group_start) / np.maximum(length - 1, 1)
    peak_speed = speed[peak_at]
    end_ratio[g] = np.where(
        peak_speed > 0, speed[group_end] / np.where(peak_speed > 0, peak_speed, 1), np.nan
    )
    interior = np.zeros(speed.size, dtype=bool)
    same = (owner[1:-1] == owner[:-2]) & (owner[1:-1] == owner[2:])
    interior[1:-1] = same & (speed[1:-1] > speed[:-2]) & (speed[1:-1] >= speed[2:])
    counts = np.bincount(owner[interior], minlength=n_groups)[g]
    peaks[g] = counts / np.maximum(length * GRID_MS / 1000.0, 1e-9)
    return pos, peaks, end_ratio


def _overshoot(s: PointerStream, sid: IntArray) -> FloatArray:
    """Per press: how far (share of the approach distance) the path went past the press point along the
    approach direction, over the stroke that ends at the press."""
    presses = np.flatnonzero(s.kind == DOWN)
    if presses.size == 0:
        return np.zeros(0)
    first = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])  # first event of each stroke (ids 0..k)
    out = []
    for i in presses:
        # the press starts its own stroke: the approach is the stroke before it, within 2 s
        if sid[i] == 0:
            continue
        lo = max(int(first[sid[i] - 1]), int(np.searchsorted(s.t, s.t[i] - 2000.0)))
        prior = np.arange(lo, int(first[sid[i]]))
        if prior.size < 3:
            continue
        start = np.array([s.x[prior[0]], s.y[prior[0]]])
        target = np.array([s.x[i], s.y[i]])
        chord = target - start
        dist = float(np.hypot(*chord))
        if dist < MIN_STROKE_PX:
            continue
        proj = ((s.x[prior] - start[0]) * chord[0] + (s.y[prior] - start[1]) * chord[1]) / dist
        out.append(max(0.0, float(proj.max()) - dist) / dist)
    return np.array(out, dtype=np.float64)


def _dwell(s: PointerStream) -> FloatArray:
    """Press-to-release times (ms): each press with the next release."""
    downs = np.flatnonzero(s.kind == DOWN)
    ups = np.flatnonzero(s.kind == UP)
    if downs.size == 0 or ups.size == 0:
        return np.zeros(0)
    nxt = np.searchsorted(ups, downs)
    ok = nxt < ups.size
    return np.asarray(s.t[ups[nxt[ok]]] - s.t[downs[ok]], dtype=np.float64)


def pointer_features(s: PointerStream) -> FloatArray:
    """The ``POINTER_FEATURES`` vector of one session (finite or NaN, never inf)."""
    f = dict.fromkeys(POINTER_FEATURES, np.nan)
    if len(s) >= 2:
        sid = stroke_ids(s)
        gx, gy, owner = _resample(s, sid)
        if gx.size >= 3:
            dx, vown = _diff_within(gx, owner)
            dy, _ = _diff_within(gy, owner)
            step = np.hypot(dx, dy)
            speed = step / (GRID_MS / 1000.0)
            moving = speed > 1.0
            f["speed_q10"], f["speed_q50"], f["speed_q90"] = _q(speed[moving], [0.1, 0.5, 0.9])
            f["speed_cv"] = _cv(speed[moving])
            acc, aown = _diff_within(speed, vown)
            acc = acc / (GRID_MS / 1000.0)
            f["acc_q50"], f["acc_q90"] = _q(np.abs(acc), [0.5, 0.9])
            jerk, _ = _diff_within(acc, aown)
            jerk = np.abs(jerk) / (GRID_MS / 1000.0)
            f["jerk_q50"], f["jerk_q90"] = _q(jerk, [0.5, 0.9])
            if np.isfinite(f["speed_q50"]) and f["speed_q50"] > 0 and jerk.size:
                f["jerk_per_speed"] = float(np.median(jerk)) / f["speed_q50"]
            heading = np.arctan2(dy, dx)
            turn, _ = _diff_within(heading, vown)
            both = (moving[1:] & moving[:-1])[vown[1:] == vown[:-1]] if moving.size > 1 else np.zeros(0, bool)
            turn = np.abs(_wrap(turn))[both]
            if turn.size:
                f["turn_q50"], f["turn_q90"] = _q(turn, [0.5, 0.9])
                f["turn_mean"] = float(turn.mean())
                f["straight_share"] = float(np.mean(turn < 0.02))
                seg = step[1:][(vown[1:] == vown[:-1])][both]
                curv = turn / np.maximum(seg, 1.0)
                f["curvature_q50"], f["curvature_q90"] = _q(curv, [0.5, 0.9])
            n_groups = int(owner.max()) + 1
            pos, peaks, end_ratio = _group_stats(vown, speed, n_groups)
            # raw path per stroke for straightness
            sx, sy = np.diff(s.x), np.diff(s.y)
            same = sid[1:] == sid[:-1]
            path = np.bincount(sid[1:][same], weights=np.hypot(sx, sy)[same], minlength=int(sid.max()) + 1)
            first = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
            last = np.r_[first[1:], len(s)] - 1
            chord = np.hypot(s.x[last] - s.x[first], s.y[last] - s.y[first])
            plen = path[sid[first]]
            long_enough = plen >= MIN_STROKE_PX
            straight = np.clip(chord[long_enough] / plen[long_enough], 0.0, 1.0)
            f["straightness_q10"], f["straightness_q50"], f["straightness_q90"] = _q(
                straight, [0.1, 0.5, 0.9]
            )
            ok_pos = pos[np.isfinite(pos)]
            if ok_pos.size:
                f["peak_position_q50"] = float(np.median(ok_pos))
                f["peak_position_spread"] = float(np.std(ok_pos))
            f["speed_peaks_per_s"] = float(np.nanmedian(peaks)) if np.isfinite(peaks).any() else np.nan
            f["end_speed_ratio"] = float(np.nanmedian(end_ratio)) if np.isfinite(end_ratio).any() else np.nan
        gaps = np.diff(s.t)
        gaps = gaps[(gaps > STROKE_GAP_MS) & (gaps < 10_000.0)] / 1000.0
        if gaps.size:
            f["gap_q50_s"] = float(np.median(gaps))
            f["gap_cv"] = _cv(gaps)
        over = _overshoot(s, sid)
        if over.size:
            f["overshoot_share"] = float(np.mean(over > 0.02))
            f["overshoot_q50"] = float(np.median(over))
        dwell = _dwell(s)
        if dwell.size:
            f["dwell_q50_ms"] = float(np.median(dwell))
            f["dwell_cv"] = _cv(dwell)
    vec = np.array([f[name] for name in POINTER_FEATURES], dtype=np.float64)
    vec[~np.isfinite(vec)] = np.nan
    return vec


def timing_summary(s: PointerStream) -> dict[str, float | None]:
    """Raw inter-event timing, for the details a person reads (not a model input: it describes the
    recorder as much as the hand)."""
    dt = np.diff(s.t) if len(s) > 1 else np.zeros(0)
    dt = dt[(dt > 0) & (dt < STROKE_GAP_MS)]
    if dt.size < 2:
        return {"interval_ms_median": None, "interval_cv": None, "interval_entropy_bits": None}
    bins = np.bincount(np.minimum(np.round(dt).astype(np.int64), 500))
    p = bins[bins > 0] / dt.size
    return {
        "interval_ms_median": round(float(np.median(dt)), 3),
        "interval_cv": round(_cv(dt), 4),
        "interval_entropy_bits": round(float(-(p * np.log2(p)).sum()), 4),
    }
