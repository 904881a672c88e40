"""Session-level features of one onboarding capture flow, from the telemetry's flow and page events.

Why these: a person takes seconds to frame a document, sometimes retries, turns the phone, switches
to the back camera once, glances at another app; a script captures in milliseconds, a fraudster pastes a
stolen document number, switches to a virtual camera, or leaves for minutes to fetch someone else's data.

Features (all >= 0; the model reads them through ``log1p``):

``time_to_capture_s``  the shortest time from a ``step`` / ``camera_start`` / ``retry`` to the ``capture``
                       after it (a script captures at once); the session's duration when nothing is captured
``retries``            ``retry`` events
``camera_switches``    ``camera_switch`` events
``focus_losses``       ``blur`` and ``visibility_hidden`` events
``focus_lost_s``       time spent away: each ``blur``/``visibility_hidden`` until the next ``focus``/
                       ``visibility_visible`` (or the session's end)
``orientation_changes`` ``orientation`` events
``identity_pastes``    ``paste`` events into an identity field (names, document number, birth date...)
``duration_s``         first to last event
``step_time_s``        ``duration_s`` over the number of ``step`` events (at least one)
"""

from __future__ import annotations

from collections.abc import Iterable

from openidv.checks.device.session_params import IDENTITY_FIELDS as DEFAULT_IDENTITY_FIELDS
from openidv.telemetry import Telemetry

FEATURES: tuple[str, ...] = (
    "time_to_capture_s",
    "retries",
    "camera_switches",
    "focus_losses",
    "focus_lost_s",
    "orientation_changes",
    "identity_pastes",
    "duration_s",
    "step_time_s",
)
_STARTS = ("step", "camera_start", "retry")
_AWAY = ("blur", "visibility_hidden")
_BACK = ("focus", "visibility_visible")


def has_capture_flow(telemetry: Telemetry) -> bool:
    """True when the session carries any flow event (a step, a camera, a capture)."""
    return any(e.type in ("step", "camera_start", "capture") for e in telemetry.events)


def session_features(
    telemetry: Telemetry, identity_fields: Iterable[str] = DEFAULT_IDENTITY_FIELDS
) -> dict[str, float]:
    fields = set(identity_fields)
    events = telemetry.events
    duration = telemetry.duration_ms() / 1000.0
    counts = {"retries": 0, "camera_switches": 0, "focus_losses": 0, "orientation_changes": 0, "pastes": 0}
    steps = 0
    started: float | None = None
    shortest: float | None = None
    away_since: float | None = None
    away = 0.0
    for e in events:
        kind = e.type
        if kind == "capture" and started is not None:
            gap = (e.t - started) / 1000.0
            shortest = gap if shortest is None else min(shortest, gap)
            started = None
        elif kind in _STARTS:
            started = e.t
        if kind == "step":
            steps += 1
        elif kind == "retry":
            counts["retries"] += 1
        elif kind == "camera_switch":
            counts["camera_switches"] += 1
        elif kind == "orientation":
            counts["orientation_changes"] += 1
        elif kind == "paste" and e.field in fields:
            counts["pastes"] += 1
        if kind in _AWAY:
            counts["focus_losses"] += 1
            if away_since is None:
                away_since = e.t
        elif kind in _BACK and away_since is not None:
            away += (e.t - away_since) / 1000.0
            away_since = None
    if away_since is not None and events:
        away += (events[-1].t - away_since) / 1000.0
    return {
        "time_to_capture_s": duration if shortest is None else shortest,
        "retries": float(counts["retries"]),
        "camera_switches": float(counts["camera_switches"]),
        "focus_losses": float(counts["focus_losses"]),
        "focus_lost_s": away,
        "orientation_changes": float(counts["orientation_changes"]),
        "identity_pastes": float(counts["pastes"]),
        "duration_s": duration,
        "step_time_s": duration / max(1, steps),
    }
