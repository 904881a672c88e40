"""Read recorded sessions into ``Telemetry``: the openidv JSON format and the Balabit Mouse Dynamics CSV.

Why a reader of its own for Balabit: the public challenge files are the only real human pointer data the
behaviour model is trained and tested on, and they need cleaning before they fit the telemetry contract:

- columns ``record timestamp,client timestamp,button,state,x,y``; times are seconds, the client timestamp is
  used (it is when the input happened) and converted to milliseconds;
- the client timestamps repeat and, rarely, step back by a few milliseconds: events keep their file order
  and each time is raised to the largest seen so far (a running maximum), so down/up order is never changed;
- coordinates of 65535 (and anything outside ``0..MAX_COORD``) are the recorder's "off screen" value, not a
  position: such events are dropped (a button event keeps its place without coordinates);
- ``Move`` -> ``move``; ``Drag`` -> ``move`` with the button held; ``Pressed``/``Released`` -> ``down``/``up``
  with the button (Left 0, Middle 1, Right 2); ``Scroll`` ``Up``/``Down`` -> ``wheel`` with ``dy`` -/+ 100.

A file that cannot be read raises ``ValueError`` with one line that names the file and the problem.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from openidv.telemetry import MAX_EVENTS, Event, Telemetry

FORMATS = ("openidv", "balabit")
#: the largest coordinate taken as a position; Balabit writes 65535 when the pointer left the screen
MAX_COORD = 16_384.0
BALABIT_HEADER = ("record timestamp", "client timestamp", "button", "state", "x", "y")
_BUTTONS = {"left": 0, "middle": 1, "right": 2}
#: at most this many bytes are read from a file (gzipped files: after decompression)
MAX_BYTES = 64 * 1024 * 1024


def _text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as handle:
                raw = handle.read(MAX_BYTES + 1)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: not a readable gzip file ({exc})") from None
    if len(raw) > MAX_BYTES:
        raise ValueError(f"{path}: larger than {MAX_BYTES} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None


def _balabit_rows(text: str, path: Path) -> Iterator[tuple[float, str, str, float, float]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise ValueError(f"{path}: empty file (expected the Balabit header {','.join(BALABIT_HEADER)})")
    if tuple(h.strip().lower() for h in header) != BALABIT_HEADER:
        raise ValueError(f"{path}: not a Balabit CSV (expected the header {','.join(BALABIT_HEADER)})")
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(BALABIT_HEADER):
            raise ValueError(f"{path}: line {line} has {len(row)} columns, expected {len(BALABIT_HEADER)}")
        try:
            t, x, y = float(row[1]), float(row[4]), float(row[5])
        except ValueError:
            raise ValueError(f"{path}: line {line}: time and coordinates must be numbers") from None
        if not (t == t and abs(t) != float("inf")) or t < 0:
            raise ValueError(f"{path}: line {line}: client timestamp must be a finite number >= 0")
        yield t, row[2].strip().lower(), row[3].strip().lower(), x, y


def balabit_events(text: str, path: Path) -> list[Event]:
    """The events of one Balabit CSV (cleaned as the module docstring says)."""
    events: list[Event] = []
    last = 0.0
    for seconds, button_name, state, x, y in _balabit_rows(text, path):
        t = max(last, seconds * 1000.0)
        last = t
        on_screen = 0.0 <= x <= MAX_COORD and 0.0 <= y <= MAX_COORD
        pos = {"x": x, "y": y} if on_screen else {}
        button = _BUTTONS.get(button_name)
        if state == "move":
            if on_screen:
                events.append(Event(t=t, type="move", pointer="mouse", **pos))
        elif state == "drag":
            if on_screen:
                events.append(Event(t=t, type="move", pointer="mouse", button=button or 0, **pos))
        elif state in ("pressed", "released"):
            kind = "down" if state == "pressed" else "up"
            events.append(Event(t=t, type=kind, pointer="mouse", button=button or 0, **pos))
        elif button_name == "scroll" and state in ("up", "down"):
            events.append(Event(t=t, type="wheel", dy=-100.0 if state == "up" else 100.0, **pos))
        else:
            raise ValueError(f"{path}: unknown Balabit state {state!r} (button {button_name!r})")
        if len(events) > MAX_EVENTS:
            raise ValueError(f"{path}: more than {MAX_EVENTS} events; cut the session first")
    if not events:
        raise ValueError(f"{path}: no pointer events")
    return events


def read_balabit(path: Path) -> Telemetry:
    """One Balabit Mouse Dynamics Challenge session (gzipped or plain CSV), ``source="balabit"``."""
    return Telemetry(source="balabit", events=tuple(balabit_events(_text(path), path)))


def read_openidv(path: Path) -> Telemetry:
    """One session in the openidv telemetry JSON format (``openidv.telemetry/1``)."""
    text = _text(path)
    if not text.strip():
        raise ValueError(f"{path}: empty file")
    try:
        return Telemetry.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "document"
        raise ValueError(f"{path}: not openidv telemetry JSON ({where}: {first.get('msg')})") from None


def read_telemetry(path: Path, fmt: str = "openidv") -> Telemetry:
    """Read ``path`` in ``fmt`` (``openidv`` or ``balabit``); ``ValueError`` with one line when it cannot."""
    if fmt == "openidv":
        return read_openidv(path)
    if fmt == "balabit":
        return read_balabit(path)
    raise ValueError(f"unknown telemetry format {fmt!r}; known: {', '.join(FORMATS)}")


def windows(telemetry: Telemetry, seconds: float, min_pointer_events: int = 1) -> list[Telemetry]:
    """Cut a long recording into back-to-back windows of ``seconds`` (times restart at 0 in each), keeping
    those with at least ``min_pointer_events`` pointer events: a Balabit session is hours long, an
    onboarding page is 30 s to 3 min."""
    span = seconds * 1000.0
    out: list[Telemetry] = []
    current: list[Event] = []
    start = 0.0
    pointer = 0

    def flush() -> None:
        if current and pointer >= min_pointer_events:
            out.append(
                telemetry.model_copy(
                    update={"events": tuple(e.model_copy(update={"t": e.t - start}) for e in current)}
                )
            )

    for event in telemetry.events:
        if not current:
            start = event.t
        elif event.t - start >= span:
            flush()
            current, pointer, start = [], 0, event.t
        current.append(event)
        pointer += event.x is not None
    flush()
    return out
