"""Latency of the ``device`` and ``capture_session`` checks in process. Prints JSON.

The peer is the same check against the in-process store (no network), measured in the same run, so the
Redis round trip's share is a ratio; a bare Redis ``PING`` shows the machine's own tail. Wall time and
this thread's CPU time are both reported: on a shared machine the wall p99 is mostly scheduling.
Redis: ``OPENIDV_TEST_REDIS_URL`` (default redis://127.0.0.1:6379/11), keys under a random prefix, deleted.
Usage: python bench/device.py [--n 2000] [--devices 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid
from collections.abc import Callable
from typing import Any

from openidv.checks.registry import create_check
from openidv.evidence import ApplicantData, Evidence
from openidv.services.device_reputation import MemoryDeviceReputation, RedisDeviceReputation
from openidv.synth.capture_sessions import capture_sessions
from openidv.telemetry import DeviceAttributes, Telemetry

REDIS_URL = os.environ.get("OPENIDV_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


def device(i: int) -> DeviceAttributes:
    return DeviceAttributes.model_validate(
        {
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36",
            "platform": "Win32",
            "screen": {"width": 1920, "height": 1080, "pixel_ratio": 1.0},
            "timezone": "Europe/Berlin",
            "languages": ("de-DE",),
            "hardware_concurrency": 8,
            "device_memory": 8,
            "max_touch_points": 0,
            "canvas_hash": f"{i:064x}",
            "webgl_hash": f"{i + 7:064x}",
            "webgl_renderer": f"ANGLE (NVIDIA GeForce {i % 40})",
            "audio_hash": f"{i % 13:064x}",
            "fonts": ("Arial", "Calibri", "Segoe UI"),
        }
    )


def evidence(i: int) -> Evidence:
    return Evidence(
        telemetry=Telemetry(device=device(i)), applicant=ApplicantData(country="DE"), subject_id=f"s{i}"
    )


def timed(run: Callable[[], Any], n: int) -> dict[str, float]:
    wall, cpu = [], []
    for _ in range(n):
        w, c = time.perf_counter(), time.thread_time()
        run()
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - w)
    wall.sort()
    cpu.sort()

    def q(xs: list[float], p: float) -> float:
        return round(xs[min(len(xs) - 1, int(p * len(xs)))] * 1e3, 4)

    return {"n": n, "wall_p50_ms": q(wall, 0.5), "wall_p99_ms": q(wall, 0.99), "cpu_p99_ms": q(cpu, 0.99)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--devices", type=int, default=200)
    args = parser.parse_args()
    prefix = f"openidv-bench-{uuid.uuid4().hex[:8]}:"
    redis = RedisDeviceReputation.from_url(REDIS_URL, prefix=prefix)
    out: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}}
    try:
        for name, service in (("memory", MemoryDeviceReputation()), ("redis", redis)):
            check = create_check("device", {}, {"device_reputation": service})
            for i in range(args.devices):  # stored history
                ev = evidence(i)
                for f in check.follow_ups(ev, check.run(ev)):
                    service.apply_follow_up(f, reference=f"r{i}", session=None, tenant=ev.tenant_id)
            probes = [evidence(i) for i in range(args.devices)]
            k = iter(range(10**9))
            out[f"device_{name}"] = timed(lambda c=check, p=probes, k=k: c.run(p[next(k) % len(p)]), args.n)
        out["redis_ping"] = timed(redis.client.ping, args.n)
        session = create_check("capture_session")
        sessions = [Evidence(telemetry=t) for t in capture_sessions(200, 5)]
        j = iter(range(10**9))
        out["capture_session"] = timed(lambda: session.run(sessions[next(j) % len(sessions)]), args.n)
        out["redis_over_memory_wall_p50"] = round(
            out["device_redis"]["wall_p50_ms"] / out["device_memory"]["wall_p50_ms"], 2
        )
    finally:
        for key in redis.client.scan_iter(match=prefix + "*"):
            redis.client.delete(key)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
