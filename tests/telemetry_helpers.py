"""Helpers of the telemetry tests: synthetic batches, and the real app served by uvicorn on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"


def events(n: int, start: float = 0.0, step: float = 8.0) -> list[dict[str, Any]]:
    """``n`` pointer moves from ``start`` ms, one every ``step`` ms, with a click and two keys in between."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        t = start + i * step
        kind = i % 50
        if kind == 10:
            out.append({"t": t, "type": "click", "x": 100.0 + i % 300, "y": 80.0, "button": 0})
        elif kind == 20:
            out.append({"t": t, "type": "key_down", "key": 17, "field": "surname"})
        elif kind == 21:
            out.append({"t": t, "type": "key_up", "key": 17, "field": "surname"})
        else:
            out.append({"t": t, "type": "move", "x": 10.0 + (i % 700), "y": 20.0 + (i % 400) / 2})
    return out


DEVICE = {
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36",
    "platform": "Linux x86_64",
    "screen": {"width": 1920, "height": 1080, "pixel_ratio": 1.0},
    "timezone": "Europe/Stockholm",
    "languages": ["sv-SE", "en"],
    "hardware_concurrency": 8,
    "canvas_hash": "ab" * 32,
    "automation": {"webdriver": False, "driver_globals": []},
}


def batch(n: int = 10, start: float = 0.0, *, device: bool = True, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema": "openidv.telemetry/1",
        "source": "collector",
        "events": events(n, start),
    }
    if device:
        body["device"] = DEVICE
    body.update(extra)
    return body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on 127.0.0.1; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
