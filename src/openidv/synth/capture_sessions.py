"""SYNTHETIC onboarding capture flows (flow and page events only), normal and anomalous, seeded.

A flow: ``form`` step (typing; pastes into contact fields are common), ``document`` step (camera, capture,
sometimes a retry or a camera switch), ``selfie`` step, ``submit``; with focus losses and orientation
changes at plausible rates. The numbers are assumptions, not measurements of real users: they stand in
for a tenant's own sessions until those exist (docs/device.md). Anomalous kinds:

``scripted``        captures 30-300 ms after the camera starts, steps of a second or two (a script)
``many_retries``    6-15 capture retries (probing which image passes)
``virtual_camera``  3-8 camera switches (hunting for the virtual camera an injection tool provides)
``identity_paste``  2-4 pastes into name / document number / birth date (someone else's identity)
``long_focus_loss`` away 2-20 minutes, several times (fetching data or handing the phone over)
``paced_script``    (evasive) a script with human-looking waits and nothing rare: the model is not
                    expected to catch it; generated to measure that

Entry points: ``capture_flow_events(rng, kind, start_ms=0.0, mobile=None)`` (events to merge into a larger
synthetic session, e.g. ``openidv synth telemetry``), ``capture_session(seed, kind)`` (a ``Telemetry``)
and ``capture_sessions(n, seed, kind)``.
"""

from __future__ import annotations

import numpy as np

from openidv.telemetry import Event, Telemetry

NORMAL = "normal"
#: attacks this model is not meant to catch, generated to measure that honestly: a script paced like a
#: person (human-like waits, no retries, no focus loss, no pastes) has no rare feature
EVASIVE_KINDS: tuple[str, ...] = ("paced_script",)
ANOMALOUS_KINDS: tuple[str, ...] = (
    "scripted",
    "many_retries",
    "virtual_camera",
    "identity_paste",
    "long_focus_loss",
)
KINDS: tuple[str, ...] = (NORMAL, *ANOMALOUS_KINDS, *EVASIVE_KINDS)
CONTACT_FIELDS = ("email", "phone", "address")
IDENTITY_FIELDS = ("surname", "given_names", "document_number", "birth_date")


class _Flow:
    def __init__(self, start_ms: float) -> None:
        self.t = start_ms
        self.events: list[Event] = []

    def add(self, kind: str, field: str | None = None, *, after_s: float = 0.0) -> None:
        self.t += max(0.0, after_s) * 1000.0
        self.events.append(Event(t=round(self.t, 3), type=kind, field=field))


def _lognormal(rng: np.random.Generator, median: float, sigma: float) -> float:
    return float(median * np.exp(sigma * rng.standard_normal()))


def _away(flow: _Flow, rng: np.random.Generator, seconds: float) -> None:
    hidden = rng.random() < 0.6
    flow.add("visibility_hidden" if hidden else "blur", after_s=_lognormal(rng, 2.0, 0.8))
    flow.add("visibility_visible" if hidden else "focus", after_s=seconds)


def _paced(flow: _Flow, rng: np.random.Generator) -> None:
    """A script with human-looking waits: every field typed, each capture 3-7 s after the camera starts."""
    flow.add("step", "form")
    for field in (*CONTACT_FIELDS, *IDENTITY_FIELDS):
        flow.add("click", field, after_s=float(rng.uniform(1.5, 4.0)))
    for field in ("document", "selfie"):
        flow.add("step", field, after_s=float(rng.uniform(1.0, 2.5)))
        flow.add("camera_start", field, after_s=float(rng.uniform(0.5, 1.5)))
        flow.add("capture", field, after_s=float(rng.uniform(3.0, 7.0)))
    flow.add("submit", after_s=float(rng.uniform(1.0, 3.0)))


def _capture(flow: _Flow, rng: np.random.Generator, field: str, kind: str) -> None:
    scripted = kind == "scripted"
    flow.add("step", field, after_s=0.05 if scripted else _lognormal(rng, 1.5, 0.5))
    flow.add("camera_start", field, after_s=0.02 if scripted else _lognormal(rng, 1.0, 0.5))
    switches = int(rng.integers(3, 9)) if kind == "virtual_camera" else int(rng.random() < 0.15)
    for _ in range(switches):
        flow.add("camera_switch", field, after_s=_lognormal(rng, 2.0, 0.5))
    if scripted:
        flow.add("capture", field, after_s=float(rng.uniform(0.03, 0.3)))
        return
    flow.add("capture", field, after_s=_lognormal(rng, 5.0 if field == "document" else 3.5, 0.5))
    retries = int(rng.integers(6, 16)) if kind == "many_retries" else int(rng.poisson(0.35))
    for _ in range(retries):
        flow.add("retry", field, after_s=_lognormal(rng, 1.5, 0.5))
        flow.add("capture", field, after_s=_lognormal(rng, 4.0, 0.5))


def capture_flow_events(
    rng: np.random.Generator, kind: str = NORMAL, *, start_ms: float = 0.0, mobile: bool | None = None
) -> list[Event]:
    """One capture flow's events, in time order, starting at ``start_ms`` (kinds: ``KINDS``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown capture-session kind {kind!r}; known: {', '.join(KINDS)}")
    mobile = bool(rng.random() < 0.7) if mobile is None else mobile
    scripted = kind == "scripted"
    flow = _Flow(start_ms)
    if kind == "paced_script":
        _paced(flow, rng)
        return flow.events
    flow.add("step", "form")
    for field in (*CONTACT_FIELDS, *IDENTITY_FIELDS):
        flow.add("click", field, after_s=0.02 if scripted else _lognormal(rng, 2.5, 0.6))
        if field in CONTACT_FIELDS and not scripted and rng.random() < 0.2:
            flow.add("paste", field, after_s=_lognormal(rng, 1.0, 0.5))
        if field in IDENTITY_FIELDS and not scripted and rng.random() < 0.01:
            flow.add("paste", field, after_s=_lognormal(rng, 1.0, 0.5))  # honest people paste, rarely
    if kind == "identity_paste":
        for field in rng.choice(IDENTITY_FIELDS, size=int(rng.integers(2, 5)), replace=False):
            flow.add("paste", str(field), after_s=_lognormal(rng, 1.0, 0.5))
    if not scripted and rng.random() < 0.2:
        _away(flow, rng, _lognormal(rng, 6.0, 1.0))
    if kind == "long_focus_loss":
        for _ in range(int(rng.integers(1, 4))):
            _away(flow, rng, float(rng.uniform(120, 1200)))
    for field in ("document", "selfie"):
        if mobile and not scripted and rng.random() < 0.3:
            for _ in range(int(rng.integers(1, 3))):
                flow.add("orientation", field, after_s=_lognormal(rng, 1.0, 0.5))
        _capture(flow, rng, field, kind)
    flow.add("submit", after_s=0.05 if scripted else _lognormal(rng, 2.0, 0.5))
    return flow.events


def capture_session(seed: int, kind: str = NORMAL) -> Telemetry:
    """One SYNTHETIC capture session as telemetry (``source="synthetic"``)."""
    rng = np.random.default_rng(seed)
    return Telemetry(source="synthetic", events=tuple(capture_flow_events(rng, kind)))


def capture_sessions(n: int, seed: int, kind: str = NORMAL) -> list[Telemetry]:
    """``n`` SYNTHETIC sessions of one kind from one seed."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    return [Telemetry(source="synthetic", events=tuple(capture_flow_events(rng, kind))) for _ in range(n)]
