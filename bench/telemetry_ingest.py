"""Telemetry ingest benchmark: events per second through ``POST /v1/sessions/{id}/telemetry``.

    python bench/telemetry_ingest.py [--batches 1000,50000] [--repeats 5] [--database-url URL]

Prints one JSON object. For each batch size: the whole HTTP route in process (FastAPI's TestClient: token
check, body read, schema validation, sealing, one transaction per batch) and, as the peer measured in the
same run, the schema validation alone (``Telemetry.model_validate_json`` of the same bytes, with the
garbage collector paused as the route pauses it), so the ratio
says what storage costs on top of parsing. Also the wire size and the sealed (compressed) size per event,
and reading the whole session back as a verification does. ``measure_ingest`` is importable (e.g. from
``bench/device.py``): it returns the same dict.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from openidv.telemetry import MAX_EVENTS, Telemetry  # noqa: E402


def synthetic_events(n: int, start: float = 0.0) -> list[dict[str, Any]]:
    """Collector-like events: mostly pointer moves at 60 Hz, a click and a key pair every 50 events."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        t = round(start + i * 16.7, 1)
        kind = i % 50
        if kind == 10:
            out.append({"t": t, "type": "click", "x": 100.5, "y": 80.0, "button": 0, "pointer": "mouse"})
        elif kind == 20:
            out.append({"t": t, "type": "key_down", "key": 300 + i % 7, "field": "surname"})
        elif kind == 21:
            out.append({"t": t, "type": "key_up", "key": 300 + i % 7, "field": "surname"})
        else:
            out.append(
                {
                    "t": t,
                    "type": "move",
                    "x": round(10 + i % 700 + 0.3, 1),
                    "y": 20.5 + i % 400,
                    "pointer": "mouse",
                }
            )
    return out


def _body(events: list[dict[str, Any]], device: bool) -> bytes:
    body: dict[str, Any] = {"schema": "openidv.telemetry/1", "source": "collector", "events": events}
    if device:
        body["device"] = {"user_agent": "Mozilla/5.0 bench", "timezone": "UTC", "languages": ["en"]}
    return json.dumps(body, separators=(",", ":")).encode()


def measure_ingest(
    batch_sizes: tuple[int, ...] = (1_000, 50_000),
    repeats: int = 5,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Events/s of the telemetry route per batch size (median of ``repeats`` posts, each a new batch of one
    session), the validation-only peer, bytes per event on the wire and sealed, and the read-back rate."""
    from fastapi.testclient import TestClient

    from openidv.api.app import create_app
    from openidv.services.telemetry_sessions import TelemetrySessions, paused_gc
    from openidv.settings import Settings
    from openidv.store.repository import Store
    from openidv.store.telemetry_tables import TelemetryBatch

    os.environ.setdefault("OPENIDV_ENCRYPTION_KEY", base64.b64encode(b"b" * 32).decode())
    os.environ.setdefault("OPENIDV_AUDIT_KEY", base64.b64encode(b"a" * 32).decode())
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        store = Store.from_url(url)
        app = create_app(Settings(data_dir=Path(tmp)), store=store)
        _, key = store.create_api_key("bench")
        auth = {"Authorization": f"Bearer {key}"}
        with TestClient(app) as client:
            for size in batch_sizes:
                route_s: list[float] = []
                parse_s: list[float] = []
                wire = 0
                sessions: list[str] = []
                held = MAX_EVENTS
                for r in range(repeats):
                    if held + size > MAX_EVENTS:  # a session holds at most MAX_EVENTS: start the next one
                        session = client.post("/v1/sessions", headers=auth).json()
                        sessions.append(session["session_id"])
                        token = session["token"]
                        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                        held = 0
                    raw = _body(synthetic_events(size, start=held * 16.7 + r), device=held == 0)
                    wire = len(raw)
                    t0 = time.perf_counter()
                    with paused_gc(len(raw) // 1_000_000):  # as the route parses
                        Telemetry.model_validate_json(raw)
                    parse_s.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    resp = client.post(session["telemetry_url"], content=raw, headers=headers)
                    route_s.append(time.perf_counter() - t0)
                    if resp.status_code != 200:
                        raise RuntimeError(f"ingest failed: {resp.status_code} {resp.text[:300]}")
                    held += size
                with store.transaction() as s:
                    sealed = s.scalar(
                        select(func.sum(func.length(TelemetryBatch.events_sealed))).where(
                            TelemetryBatch.session_id.in_(sessions)
                        )
                    )
                t0 = time.perf_counter()
                telemetry = TelemetrySessions(store).telemetry(sessions[0])
                read_s = time.perf_counter() - t0
                route, parse = statistics.median(route_s), statistics.median(parse_s)
                results[str(size)] = {
                    "events_per_batch": size,
                    "batches": repeats,
                    "sessions": len(sessions),
                    "route_events_per_s": round(size / route),
                    "route_ms_per_batch_p50": round(route * 1000, 1),
                    "route_ms_per_batch_max": round(max(route_s) * 1000, 1),
                    "validation_only_events_per_s": round(size / parse),
                    "route_over_validation_time": round(route / parse, 2),
                    "wire_bytes_per_event": round(wire / size, 1),
                    "sealed_bytes_per_event": round(int(sealed or 0) / (size * repeats), 1),
                    "read_back_events": len(telemetry.events),
                    "read_back_events_per_s": round(len(telemetry.events) / read_s),
                }
        store.engine.dispose()
    return {
        "benchmark": "telemetry_ingest",
        "database": "sqlite" if database_url is None else database_url.split(":")[0],
        "results": results,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1000,50000", help="comma-separated events per batch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="default: a throw-away SQLite file")
    args = parser.parse_args()
    sizes = tuple(int(x) for x in args.batches.split(",") if x.strip())
    print(json.dumps(measure_ingest(sizes, args.repeats, args.database_url), indent=2))


if __name__ == "__main__":
    main()
