"""Device attributes and behaviour telemetry of one onboarding session: the contract between the browser
collector (``openidv-collector.js``), the API (``POST /v1/sessions/{id}/telemetry``), offline readers (the
Balabit CSV format) and the ``device``, ``behaviour`` and ``capture_session`` checks.

Why one typed schema: the collector, the synthetic bots and the real Balabit sessions must all reach the
checks in the same shape, so a model trained on one is scored on the others without a translation layer.
Validation is strict and happens at the edge (bad input is refused whole, nothing is stored):

- ``schema`` must be ``openidv.telemetry/1`` (an unknown version is refused, never guessed);
- timestamps ``t`` are milliseconds since the session started, finite, not negative, and never decrease;
- coordinates are finite CSS pixels; key events carry an opaque per-session key slot, never the key;
- at most ``MAX_EVENTS`` events per session (all batches together).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_V1 = "openidv.telemetry/1"
SUPPORTED_SCHEMAS = (SCHEMA_V1,)
#: events one session may hold, all batches together: an hour of 60 Hz pointer moves is about 216,000
MAX_EVENTS = 200_000
#: events one POST may carry
MAX_EVENTS_PER_BATCH = 50_000
MAX_TEXT = 512

#: What happened. Pointer: ``move`` ``down`` ``up`` ``click`` ``wheel``; keys (slot, never value):
#: ``key_down`` ``key_up``; touch: ``touch_start`` ``touch_move`` ``touch_end``; page: ``scroll`` ``paste``
#: ``focus`` ``blur`` ``visibility_hidden`` ``visibility_visible`` ``orientation`` ``resize``; flow: ``step``
#: (entered onboarding step ``field``), ``camera_start``, ``camera_switch``, ``capture`` (a photo taken),
#: ``retry`` (a capture redone), ``submit``.
EventType = Literal[
    "move",
    "down",
    "up",
    "click",
    "wheel",
    "key_down",
    "key_up",
    "touch_start",
    "touch_move",
    "touch_end",
    "scroll",
    "paste",
    "focus",
    "blur",
    "visibility_hidden",
    "visibility_visible",
    "orientation",
    "resize",
    "step",
    "camera_start",
    "camera_switch",
    "capture",
    "retry",
    "submit",
]
POINTER_TYPES = ("move", "down", "up", "click", "wheel", "touch_start", "touch_move", "touch_end")
KEY_TYPES = ("key_down", "key_up")


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class Event(BaseModel):
    """One telemetry event. Short field names: a session carries thousands of them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    t: float = Field(ge=0, description="milliseconds since the session started")
    type: EventType
    x: float | None = Field(default=None, description="CSS pixels from the viewport's left edge")
    y: float | None = Field(default=None, description="CSS pixels from the viewport's top edge")
    button: int | None = Field(default=None, ge=0, le=8)
    pointer: Literal["mouse", "touch", "pen"] | None = None
    #: an opaque slot for the physical key, drawn per session by the collector, so down and up pair up
    #: without revealing which key it was
    key: int | None = Field(default=None, ge=0, le=1024)
    #: the form field or onboarding step the event belongs to (``email``, ``document_number``, ``selfie``)
    field: str | None = Field(default=None, min_length=1, max_length=64)
    #: scroll or wheel distance, CSS pixels
    dx: float | None = None
    dy: float | None = None

    @field_validator("t", "x", "y", "dx", "dy")
    @classmethod
    def _finite_numbers(cls, value: float | None) -> float | None:
        return _finite(value)


class Screen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    width: int = Field(ge=0, le=100_000)
    height: int = Field(ge=0, le=100_000)
    avail_width: int | None = Field(default=None, ge=0, le=100_000)
    avail_height: int | None = Field(default=None, ge=0, le=100_000)
    color_depth: int | None = Field(default=None, ge=0, le=64)
    pixel_ratio: float | None = Field(default=None, gt=0, le=20)


class ClientHints(BaseModel):
    """``navigator.userAgentData`` (Chromium browsers only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    brands: tuple[str, ...] = Field(default=(), max_length=16)
    mobile: bool | None = None
    platform: str | None = Field(default=None, max_length=MAX_TEXT)
    platform_version: str | None = Field(default=None, max_length=MAX_TEXT)
    model: str | None = Field(default=None, max_length=MAX_TEXT)


class Automation(BaseModel):
    """Signs that a program, not a person, drives the browser."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    webdriver: bool | None = None  # navigator.webdriver
    headless_user_agent: bool | None = None  # "HeadlessChrome" in the user agent
    #: globals that drivers leave behind (``cdc_...``, ``__playwright...``, ``_phantom``, ``callPhantom``)
    driver_globals: tuple[str, ...] = Field(default=(), max_length=32)
    plugins: int | None = Field(default=None, ge=0, le=1000)  # navigator.plugins.length
    chrome_object: bool | None = None  # window.chrome present (absent in old headless Chrome)
    permissions_inconsistent: bool | None = None  # Notification.permission vs permissions.query disagree


class DeviceAttributes(BaseModel):
    """What the collector reads about the browser and the device. Every field is optional: browsers differ."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_agent: str | None = Field(default=None, max_length=MAX_TEXT)
    client_hints: ClientHints | None = None
    platform: str | None = Field(default=None, max_length=MAX_TEXT)  # navigator.platform
    vendor: str | None = Field(default=None, max_length=MAX_TEXT)
    screen: Screen | None = None
    timezone: str | None = Field(default=None, max_length=64)  # IANA name, Intl.DateTimeFormat
    timezone_offset_minutes: int | None = Field(default=None, ge=-900, le=900)
    languages: tuple[str, ...] = Field(default=(), max_length=32)
    hardware_concurrency: int | None = Field(default=None, ge=0, le=4096)
    device_memory: float | None = Field(default=None, ge=0, le=4096)
    max_touch_points: int | None = Field(default=None, ge=0, le=256)
    touch_support: bool | None = None
    #: hex digests the collector computes in the browser (SHA-256 of the canvas / WebGL / audio renderings)
    canvas_hash: str | None = Field(default=None, max_length=128)
    webgl_hash: str | None = Field(default=None, max_length=128)
    webgl_vendor: str | None = Field(default=None, max_length=MAX_TEXT)
    webgl_renderer: str | None = Field(default=None, max_length=MAX_TEXT)
    audio_hash: str | None = Field(default=None, max_length=128)
    #: which of the collector's probe fonts render (names only)
    fonts: tuple[str, ...] = Field(default=(), max_length=256)
    cookies_enabled: bool | None = None
    do_not_track: str | None = Field(default=None, max_length=16)
    automation: Automation | None = None


class Telemetry(BaseModel):
    """One session's device attributes and events, in time order."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, serialize_by_alias=True)

    schema_: str = Field(alias="schema", default=SCHEMA_V1)
    #: where it came from: the browser collector, a recorded file (``balabit``) or a generator (``synthetic``)
    source: Literal["collector", "balabit", "openidv", "synthetic"] = "collector"
    device: DeviceAttributes | None = None
    events: tuple[Event, ...] = Field(default=(), max_length=MAX_EVENTS)
    #: the viewport the coordinates refer to, CSS pixels
    viewport_width: int | None = Field(default=None, ge=0, le=100_000)
    viewport_height: int | None = Field(default=None, ge=0, le=100_000)

    @field_validator("schema_")
    @classmethod
    def _known_schema(cls, value: str) -> str:
        if value not in SUPPORTED_SCHEMAS:
            known = ", ".join(SUPPORTED_SCHEMAS)
            raise ValueError(f"unknown telemetry schema {value!r}; this server reads {known}")
        return value

    @model_validator(mode="after")
    def _in_time_order(self) -> Telemetry:
        last = 0.0
        for index, event in enumerate(self.events):
            if event.t < last:
                raise ValueError(
                    f"events[{index}].t goes back in time ({event.t} after {last}): "
                    "events must be in time order"
                )
            last = event.t
        return self

    def of_type(self, *types: str) -> list[Event]:
        return [event for event in self.events if event.type in types]

    def duration_ms(self) -> float:
        return self.events[-1].t - self.events[0].t if self.events else 0.0
