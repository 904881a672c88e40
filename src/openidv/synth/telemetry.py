"""SYNTHETIC behaviour telemetry: pointer bots of four levels, typing bots, and synthetic human typing.

Every output is SYNTHETIC and labelled so. Levels (pointer):

1. ``straight``: straight lines at a constant speed, events at a fixed interval, a fixed click dwell and a
   fixed wait between moves, or (half of the sessions) moves chained with no rest and few clicks (a naive
   ``mouse.move`` script).
2. ``bezier``: cubic Bezier curves with random control points, easing, Gaussian position noise and slightly
   jittered sampling (common "human-like" mouse libraries).
3. ``replay``: a recorded human window replayed with a time stretch, a shift, spatial and timing jitter
   (the attacker owns real traces; training uses only the training users' windows).
4. ``humanised``: minimum-jerk strokes with Fitts-law durations, bowed paths, hand tremor, idle wanders
   between clicks, lognormal random pauses (no events while resting), overshoot-and-correct, lognormal
   click dwell and jittered sampling.

Bots are recorded either ``dense`` (their own event rate, like a browser's 60 Hz) or ``balabit`` (event
times drawn like the Balabit recorder's: ~10 Hz on 15.625 ms clock steps), so that a model trained against
Balabit humans can not separate the classes by recorder alone. Typing: ``human`` (SYNTHETIC lognormal dwell
and flight with key overlap; no real key data exists here), bot ``constant`` (a fixed delay with event-loop
jitter), ``uniform`` and ``gaussian`` timings. All generators take a numpy ``Generator``: the same seed
gives the same sessions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from openidv.checks.device.pointer_features import DOWN, MOVE, UP, PointerStream
from openidv.synth.capture_sessions import capture_flow_events
from openidv.telemetry import POINTER_TYPES, Event, Telemetry

FloatArray = npt.NDArray[np.float64]
LEVELS = ("straight", "bezier", "replay", "humanised")
TYPING_KINDS = ("human", "constant", "uniform", "gaussian")
RECORDERS = ("dense", "balabit")
VIEWPORT = (1366, 768)
CLOCK_MS = 15.625


@dataclass(frozen=True)
class Path2D:
    t: FloatArray
    x: FloatArray
    y: FloatArray


def _min_jerk(tau: FloatArray) -> FloatArray:
    return np.asarray(10 * tau**3 - 15 * tau**4 + 6 * tau**5, dtype=np.float64)


def _target(rng: np.random.Generator) -> FloatArray:
    return np.array([rng.uniform(20, VIEWPORT[0] - 20), rng.uniform(20, VIEWPORT[1] - 20)])


def _straight(p: FloatArray, q: FloatArray, rng: np.random.Generator, speed: float) -> Path2D:
    dist = float(np.hypot(*(q - p)))
    dur = max(dist / speed * 1000.0, 20.0)
    t = np.linspace(0.0, dur, max(int(dur / 4), 3))
    tau = t / dur
    return Path2D(t, p[0] + (q[0] - p[0]) * tau, p[1] + (q[1] - p[1]) * tau)


def _bezier(p: FloatArray, q: FloatArray, rng: np.random.Generator) -> Path2D:
    d = q - p
    dist = float(np.hypot(*d))
    normal = np.array([-d[1], d[0]]) / max(dist, 1e-9)
    c1 = p + d * rng.uniform(0.2, 0.4) + normal * dist * rng.uniform(-0.3, 0.3)
    c2 = p + d * rng.uniform(0.6, 0.8) + normal * dist * rng.uniform(-0.3, 0.3)
    dur = max(dist / rng.uniform(400, 1200) * 1000.0, 60.0)
    t = np.linspace(0.0, dur, max(int(dur / 4), 3))
    tau = t / dur
    if rng.random() < 0.5:
        tau = tau * tau * (3 - 2 * tau)  # ease in and out
    u = 1 - tau
    pts = (u**3)[:, None] * p + (3 * u * u * tau)[:, None] * c1 + (3 * u * tau * tau)[:, None] * c2
    pts += (tau**3)[:, None] * q
    pts += rng.normal(0, rng.uniform(0.5, 2.0), pts.shape)
    return Path2D(t, pts[:, 0], pts[:, 1])


def _tremor(n: int, rng: np.random.Generator, amp: float) -> FloatArray:
    walk = np.cumsum(rng.normal(0, 1, (n, 2)), axis=0)
    kernel = np.ones(9) / 9
    smooth = np.column_stack([np.convolve(walk[:, k], kernel, mode="same") for k in (0, 1)])
    smooth -= np.linspace(smooth[0], smooth[-1], n)  # keep the ends in place
    scale = max(float(np.abs(smooth).max()), 1e-9)
    return np.asarray(smooth / scale * amp, dtype=np.float64)


def _min_jerk_leg(p: FloatArray, q: FloatArray, t0: float, dur: float, rng: np.random.Generator) -> Path2D:
    """One minimum-jerk movement from ``p`` to ``q`` starting at ``t0``: bowed path, hand tremor."""
    leg = q - p
    dist = float(np.hypot(*leg))
    n = max(int(dur / 4), 4)
    tau = np.linspace(0, 1, n)
    normal = np.array([-leg[1], leg[0]]) / max(dist, 1e-9)
    bow = rng.normal(0, 0.15) * dist * 16 * tau**2 * (1 - tau) ** 2
    pts = p + _min_jerk(tau)[:, None] * leg + bow[:, None] * normal
    pts += _tremor(n, rng, rng.uniform(0.3, 2.0))
    return Path2D(t0 + tau * dur, pts[:, 0], pts[:, 1])


def _humanised(p: FloatArray, q: FloatArray, rng: np.random.Generator, a: float, b: float) -> list[Path2D]:
    """Level 4: a few idle wanders, then a Fitts-law minimum-jerk approach that may overshoot and correct;
    lognormal pauses between movements (no events while the hand rests)."""
    width = rng.uniform(10, 60)
    stops: list[FloatArray] = []
    here = p
    for _ in range(int(rng.choice([0, 1, 2, 3], p=[0.35, 0.3, 0.2, 0.15]))):
        angle = rng.uniform(0, 2 * np.pi)
        step = rng.lognormal(np.log(80), 0.8)
        here = np.clip(here + step * np.array([np.cos(angle), np.sin(angle)]), 5, np.array(VIEWPORT) - 5)
        stops.append(here)
    d = q - here
    dist = float(np.hypot(*d))
    if rng.random() < 0.4 and dist > 60:
        stops.append(q + d / dist * dist * rng.uniform(0.03, 0.12) + rng.normal(0, 4, 2))
    stops.append(q)
    legs: list[Path2D] = []
    start, t0 = p, 0.0
    for end in stops:
        ldist = float(np.hypot(*(end - start)))
        dur = a + b * np.log2(ldist / width + 1)
        legs.append(_min_jerk_leg(start, end, t0, dur, rng))
        t0 += dur + float(rng.lognormal(np.log(250), 0.7))
        start = end
    return legs


def _record_times(
    dur: float, rng: np.random.Generator, recorder: str, dense_dt: float, jitter: float
) -> FloatArray:
    """Event times (ms from the stroke start) at which a recorder reports a moving pointer."""
    n = int(dur / 8) + 8
    if recorder == "balabit":
        dt = CLOCK_MS * (6 + rng.geometric(0.45, n) - 1)
    elif jitter <= 0:
        dt = np.full(n, dense_dt)
    else:
        dt = dense_dt * np.exp(rng.normal(0, jitter, n))
    times = np.cumsum(dt)
    return np.asarray(times[times < dur], dtype=np.float64)


def pointer_bot(
    level: str, rng: np.random.Generator, duration_s: float | None = None, recorder: str = "dense"
) -> PointerStream:
    """One SYNTHETIC bot session of ``level`` 1, 2 or 4 (``straight``, ``bezier``, ``humanised``)."""
    if level not in ("straight", "bezier", "humanised"):
        raise ValueError(f"pointer_bot makes straight, bezier or humanised sessions, not {level!r}")
    duration = (duration_s if duration_s is not None else rng.uniform(30, 120)) * 1000.0
    speed = rng.uniform(300, 1500)
    dense_dt = float(rng.choice([8.0, 10.0, 16.0, 16.667]))
    dwell_const = float(rng.choice([0.0, 1.0, 50.0, 100.0]))
    wait_const = rng.uniform(200, 2000)
    # half of the level-1 scripts chain moves with no rest and click only now and then
    # (``page.mouse.move(x, y, steps=n)`` in a loop)
    chained = level == "straight" and rng.random() < 0.5
    fitts_a, fitts_b = rng.uniform(200, 400), rng.uniform(120, 250)
    dwell_median = rng.uniform(110, 180)
    rows: list[tuple[float, int, float, float]] = []
    pos = _target(rng)
    t = rng.uniform(0, 500)
    while t < duration:
        goal = _target(rng)
        if level == "straight":
            legs, jitter, dwell, wait = [_straight(pos, goal, rng, speed)], 0.0, dwell_const, wait_const
        elif level == "bezier":
            legs, jitter = [_bezier(pos, goal, rng)], 0.08
            dwell, wait = rng.uniform(40, 160), rng.uniform(300, 2500)
        else:
            legs, jitter = _humanised(pos, goal, rng, fitts_a, fitts_b), 0.25
            dwell = float(rng.lognormal(np.log(dwell_median), 0.35))
            wait = float(rng.lognormal(np.log(700), 0.8))
        for path in legs:  # events only while the pointer moves
            dur = float(path.t[-1] - path.t[0])
            times = np.r_[_record_times(dur, rng, recorder, dense_dt, jitter), dur]
            xs = np.asarray(np.round(np.interp(times, path.t - path.t[0], path.x)), dtype=np.float64)
            ys = np.asarray(np.round(np.interp(times, path.t - path.t[0], path.y)), dtype=np.float64)
            base = t + float(path.t[0])
            rows.extend(
                (base + tt, MOVE, float(xx), float(yy)) for tt, xx, yy in zip(times, xs, ys, strict=True)
            )
        t += float(legs[-1].t[-1])
        if recorder == "balabit":
            t = float(np.ceil(t / CLOCK_MS) * CLOCK_MS)
        end = (float(xs[-1]), float(ys[-1]))
        pos = np.array(end)
        if chained and rng.random() >= 0.2:
            t += rng.uniform(0, 30)
            continue
        rows.append((t, DOWN, *end))
        rows.append((t + dwell, UP, *end))
        t += dwell + wait
    return PointerStream.from_rows([r for r in rows if r[0] < duration])


def replay_bot(human: PointerStream, rng: np.random.Generator) -> PointerStream:
    """Level 3: a human window replayed with a time stretch, a shift and spatial and timing jitter."""
    if len(human) == 0:
        return human
    scale = rng.uniform(0.8, 1.25)
    t = (human.t - human.t[0]) * scale + rng.normal(0, 4.0, len(human))
    t = np.maximum.accumulate(np.maximum(t, 0.0))
    sigma = rng.uniform(1.0, 3.0)
    shift = rng.uniform(-30, 30, 2)
    x = np.round(human.x + shift[0] + rng.normal(0, sigma, len(human)))
    y = np.round(human.y + shift[1] + rng.normal(0, sigma, len(human)))
    return PointerStream(t, human.kind.copy(), np.maximum(x, 0.0), np.maximum(y, 0.0), human.touch)


def typing(kind: str, rng: np.random.Generator, n_keys: int | None = None) -> FloatArray:
    """``(n, 2)`` press/release times (ms) of SYNTHETIC typing: ``human`` (lognormal, with overlaps and
    pauses), bots ``constant``, ``uniform``, ``gaussian``."""
    n = int(n_keys if n_keys is not None else rng.integers(15, 80))
    if kind == "human":
        dwell = rng.lognormal(np.log(rng.uniform(80, 130)), rng.uniform(0.25, 0.45), n)
        flight = rng.lognormal(np.log(rng.uniform(100, 250)), rng.uniform(0.45, 0.7), n)
        overlap = rng.random(n) < rng.uniform(0.05, 0.25)
        flight = np.where(overlap, -rng.uniform(0.05, 0.6, n) * dwell, flight)
        flight = np.where(rng.random(n) < 0.05, rng.uniform(800, 3000, n), flight)
    elif kind == "constant":
        # a fixed delay seen through a browser's event loop: small multiplicative and additive jitter
        spread = rng.uniform(0.0, 0.35)
        dwell = rng.uniform(0, 60) * rng.lognormal(0, spread, n) + rng.uniform(0, 2, n)
        flight = rng.uniform(0, 120) * rng.lognormal(0, spread, n) + rng.uniform(0, 2, n)
    elif kind == "uniform":
        dwell = rng.uniform(30, 150, n)
        flight = rng.uniform(30, 300, n)
    elif kind == "gaussian":
        dwell = np.clip(rng.normal(100, 20, n), 20, None)
        flight = np.clip(rng.normal(180, 50, n), 10, None)
    else:
        raise ValueError(f"unknown typing kind {kind!r}; known: {', '.join(TYPING_KINDS)}")
    press = np.zeros(n)
    for i in range(1, n):
        press[i] = max(press[i - 1] + 1.0, press[i - 1] + dwell[i - 1] + flight[i - 1])
    return np.column_stack([press, press + dwell])


def to_telemetry(pointer: PointerStream | None = None, keys: FloatArray | None = None) -> Telemetry:
    """A SYNTHETIC session as ``Telemetry(source="synthetic")``, events in time order."""
    names = {MOVE: "move", DOWN: "down", UP: "up"}
    rows: list[tuple[float, int, Event]] = []
    if pointer is not None:
        for i, (t, k, x, y) in enumerate(zip(pointer.t, pointer.kind, pointer.x, pointer.y, strict=True)):
            extra = {"button": 0} if k != MOVE else {}
            rows.append(
                (
                    float(t),
                    i,
                    Event(t=float(t), type=names[int(k)], x=float(x), y=float(y), pointer="mouse", **extra),
                )
            )
    if keys is not None and keys.size:
        base = float(pointer.t[0]) if pointer is not None and len(pointer) else 0.0
        for j, (down, up) in enumerate(keys):
            slot = j % 30
            rows.append(
                (
                    base + down,
                    10**6 + 2 * j,
                    Event(t=base + float(down), type="key_down", key=slot, field="name"),
                )
            )
            rows.append(
                (
                    base + up,
                    10**6 + 2 * j + 1,
                    Event(t=base + float(up), type="key_up", key=slot, field="name"),
                )
            )
    rows.sort(key=lambda r: (r[0], r[1]))
    return Telemetry(source="synthetic", events=tuple(r[2] for r in rows))


def with_capture_flow(session: Telemetry, kind: str, rng: np.random.Generator) -> Telemetry:
    """``session`` plus a SYNTHETIC desktop capture flow of ``kind``, merged in time order; the flow's own
    pointer events are left out (the session's pointer events are the ones the behaviour check reads)."""
    flow = [e for e in capture_flow_events(rng, kind, mobile=False) if e.type not in POINTER_TYPES]
    events = sorted((*session.events, *flow), key=lambda e: e.t)
    return session.model_copy(update={"events": tuple(events)})


def generate(
    out: Path,
    n: int,
    seed: int,
    levels: Sequence[str] = ("straight", "bezier", "humanised"),
    humans: Sequence[PointerStream] = (),
    recorder: str = "dense",
    capture_flows: bool = True,
) -> Path:
    """Write ``n`` SYNTHETIC sessions per level (plus typing) as openidv JSON files and ``labels.jsonl``.

    With ``capture_flows`` each bot session also carries a capture flow (steps, camera, captures, focus;
    ``openidv.synth.capture_sessions``) so that one file exercises the ``capture_session`` check too: a
    crude ``straight`` script gets a ``scripted`` flow (instant captures), the other levels a ``normal``
    one; the label names the flow's kind."""
    for level in levels:
        if level not in LEVELS:
            raise ValueError(f"unknown bot level {level!r}; known: {', '.join(LEVELS)}")
    if "replay" in levels and not humans:
        raise ValueError("the replay level needs recorded human sessions (--human-dir)")
    if recorder not in RECORDERS:
        raise ValueError(f"unknown recorder {recorder!r}; known: {', '.join(RECORDERS)}")
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    labels = []
    typing_kind = {"straight": "constant", "bezier": "uniform", "humanised": "gaussian", "replay": "gaussian"}
    for level in levels:
        for i in range(n):
            if level == "replay":
                stream = replay_bot(humans[int(rng.integers(len(humans)))], rng)
            else:
                stream = pointer_bot(level, rng, recorder=recorder)
            keys = typing(typing_kind[level], rng)
            name = f"{level}-{i:05d}.json"
            session = to_telemetry(stream, keys)
            flow = ("scripted" if level == "straight" else "normal") if capture_flows else None
            if flow is not None:
                session = with_capture_flow(session, flow, rng)
            (out / name).write_text(session.model_dump_json(), encoding="utf-8")
            labels.append(
                {
                    "file": name,
                    "label": "bot",
                    "level": level,
                    "typing": typing_kind[level],
                    "recorder": recorder,
                    "capture_flow": flow,
                    "data": "SYNTHETIC",
                }
            )
    for i in range(n):
        name = f"typing-human-{i:05d}.json"
        (out / name).write_text(to_telemetry(None, typing("human", rng)).model_dump_json(), encoding="utf-8")
        labels.append(
            {
                "file": name,
                "label": "human",
                "level": "typing_only",
                "typing": "human",
                "recorder": "none",
                "data": "SYNTHETIC",
            }
        )
    manifest = out / "labels.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in labels), encoding="utf-8")
    return manifest
