"""Device and behaviour intelligence, measured in one run. Prints JSON.

- latency p50/p99 of the ``device`` check in process (in-memory store) and with Redis, of ``behaviour`` on a
  real Balabit window and on a browser-rate SYNTHETIC session, and of ``capture_session``;
- the telemetry ingest rate of ``POST /v1/sessions/{id}/telemetry`` (bench/telemetry_ingest.py);
- the behaviour model's detection per bot level at the policy's ``bot`` threshold, with exact binomial 95%
  intervals, on a fresh seed (bots SYNTHETIC; humans: the held-out real user's Balabit windows);
- device identity after SYNTHETIC browser updates: the fuzzy device id against the peer a team would
  write first, an exact hash of every attribute (FingerprintJS's open-source approach).

Peers in the same run: the in-process store for the Redis round trip, a bare Redis ``PING`` for the
machine's own tail, the exact-hash fingerprint for identity. No installable library scores mouse dynamics
for bots, so the behaviour model has no peer here. Wall time and this thread's CPU time are both reported:
on a shared machine the wall p99 is mostly scheduling.
Redis: ``OPENIDV_TEST_REDIS_URL`` (default redis://127.0.0.1:6379/11), keys under a random prefix, deleted.
Usage: python bench/device.py [--n 2000] [--devices 200] [--bots 100] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from openidv.checks.registry import create_check
from openidv.evidence import ApplicantData, Evidence
from openidv.services.device_reputation import MemoryDeviceReputation, RedisDeviceReputation
from openidv.synth.capture_sessions import capture_sessions
from openidv.telemetry import DeviceAttributes, Telemetry

sys.path.insert(0, str(Path(__file__).resolve().parent))

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


SHARED = Path(os.environ.get("OPENIDV_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def device_latency(n: int, devices: int, redis: RedisDeviceReputation) -> dict[str, Any]:
    """The device check against a store that already holds ``devices`` devices, in memory and in Redis."""
    out: dict[str, Any] = {}
    for name, service in (("memory", MemoryDeviceReputation()), ("redis", redis)):
        check = create_check("device", {}, {"device_reputation": service})
        for i in range(devices):  # stored history
            ev = evidence(i)
            for f in check.follow_ups(ev, check.run(ev)):
                service.apply_follow_up(f, reference=f"r{i}", session=None, tenant=ev.tenant_id)
        probes = [evidence(i) for i in range(devices)]
        k = iter(range(10**9))
        out[f"device_{name}"] = timed(lambda c=check, p=probes, k=k: c.run(p[next(k) % len(p)]), n)
    out["redis_ping"] = timed(redis.client.ping, n)
    out["redis_over_memory_wall_p50"] = round(
        out["device_redis"]["wall_p50_ms"] / out["device_memory"]["wall_p50_ms"], 2
    )
    return out


def behaviour_latency(n: int) -> dict[str, Any]:
    """The behaviour check on a real 60 s Balabit window of the held-out user and on a SYNTHETIC browser-rate
    (60 Hz) humanised session: events in, CheckResult out."""
    from openidv.synth.telemetry import pointer_bot, to_telemetry
    from openidv.train.bot import TEST_USERS, session_windows

    check = create_check("behaviour")
    real = [s for _, s in session_windows(SHARED / "mouse_sessions", TEST_USERS[0])]
    window = max(real[:20], key=len)
    dense = pointer_bot("humanised", np.random.default_rng(5), duration_s=60.0, recorder="dense")
    out: dict[str, Any] = {}
    for label, stream in (("real_balabit_window", window), ("synthetic_browser_rate_60s", dense)):
        ev = Evidence(telemetry=to_telemetry(pointer=stream))
        check.run(ev)
        out[label] = {
            "events": len(ev.telemetry.events) if ev.telemetry else 0,
            **timed(lambda e=ev: check.run(e), n),
        }
    return out


def behaviour_detection(bots: int, seed: int) -> dict[str, Any]:
    """Detection per bot level at the default policy's ``bot`` threshold on a seed the model never saw;
    humans flagged among the held-out real user's windows. Exact binomial 95% intervals."""
    from openidv.decision.policy import load_policy
    from openidv.synth.telemetry import pointer_bot, replay_bot, to_telemetry
    from openidv.train.bot import TEST_USERS, rate, session_windows

    threshold = load_policy().threshold("behaviour", "bot").value
    check = create_check("behaviour")

    def flagged(streams: list[Any]) -> int:
        return sum(
            1
            for s in streams
            if (check.run(Evidence(telemetry=to_telemetry(pointer=s))).score or 0.0) >= threshold
        )

    rng = np.random.default_rng(seed)
    humans = [s for _, s in session_windows(SHARED / "mouse_sessions", TEST_USERS[0])]
    out: dict[str, Any] = {
        "threshold": threshold,
        "seed": seed,
        "humans_flagged (REAL, held-out user)": rate(flagged(humans), len(humans)),
    }
    for level in ("straight", "bezier", "humanised"):
        for recorder in ("dense", "balabit"):
            sessions = [pointer_bot(level, rng, recorder=recorder) for _ in range(bots)]
            out[f"{level}_{recorder} (SYNTHETIC)"] = rate(flagged(sessions), bots, "detected")
    replays = [replay_bot(humans[int(rng.integers(len(humans)))], rng) for _ in range(bots)]
    out["replay_of_held_out_user (SYNTHETIC)"] = rate(flagged(replays), bots, "detected")
    return out


def _exact_hash(device: DeviceAttributes) -> str:
    """The peer: one hash of every attribute, user agent included (FingerprintJS open-source style)."""
    return hashlib.sha256(device.model_dump_json().encode()).hexdigest()


def _population(n: int, rng: np.random.Generator) -> list[DeviceAttributes]:
    """``n`` SYNTHETIC desktop browsers drawn from 60 hardware models (same model: same GPU, screen, cores,
    memory and canvas/WebGL/audio renderings), so look-alike devices exist as in a real tenant."""
    zones = ("Europe/Berlin", "Europe/London", "Europe/Paris", "America/New_York", "Asia/Tokyo")
    fonts = ("Arial", "Calibri", "Cambria", "Consolas", "Segoe UI", "Tahoma", "Verdana", "Georgia", "Roboto")
    devices = []
    for i in range(n):
        model = int(rng.integers(60))
        chosen = tuple(sorted(rng.choice(fonts, size=int(rng.integers(3, 7)), replace=False).tolist()))
        devices.append(
            DeviceAttributes.model_validate(
                {
                    "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                    f"Gecko) Chrome/{128 + int(rng.integers(4))}.0.0.0 Safari/537.36",
                    "platform": "Win32",
                    "screen": {
                        "width": (1920, 2560, 1366)[model % 3],
                        "height": (1080, 1440, 768)[model % 3],
                    },
                    "timezone": zones[int(rng.integers(len(zones)))],
                    "languages": ("de-DE", "en-US")[: 1 + int(rng.integers(2))],
                    "hardware_concurrency": (4, 8, 12, 16)[model % 4],
                    "device_memory": (8, 16)[model % 2],
                    "max_touch_points": 0,
                    "canvas_hash": hashlib.sha256(f"canvas{model}{i % 3}".encode()).hexdigest(),
                    "webgl_hash": hashlib.sha256(f"webgl{model}".encode()).hexdigest(),
                    "webgl_renderer": f"ANGLE (GPU model {model})",
                    "audio_hash": hashlib.sha256(f"audio{model % 7}".encode()).hexdigest(),
                    "fonts": chosen,
                }
            )
        )
    return devices


def _updated(device: DeviceAttributes, rng: np.random.Generator) -> DeviceAttributes:
    """The same device after a browser update: a new major version always; a new canvas rendering (30%), a
    new WebGL hash (20%), an extra font (20%), a reordered language list (20%)."""
    change: dict[str, Any] = {"user_agent": (device.user_agent or "").replace("Chrome/", "Chrome/1")}
    if rng.random() < 0.3:
        change["canvas_hash"] = hashlib.sha256(f"{device.canvas_hash}-new".encode()).hexdigest()
    if rng.random() < 0.2:
        change["webgl_hash"] = hashlib.sha256(f"{device.webgl_hash}-new".encode()).hexdigest()
    if rng.random() < 0.2:
        change["fonts"] = (*device.fonts, "Noto Sans")
    if rng.random() < 0.2:
        change["languages"] = tuple(reversed(device.languages))
    return device.model_copy(update=change)


def identity_after_updates(n: int, seed: int) -> dict[str, Any]:
    """Share of updated devices given their old id back (fuzzy device id vs exact hash), and share of
    never-seen devices given someone else's id (a false merge), on ``n`` SYNTHETIC devices."""
    from openidv.train.bot import rate

    rng = np.random.default_rng(seed)
    known, fresh = _population(n, rng), _population(n, rng)
    service = MemoryDeviceReputation()
    check = create_check("device", {}, {"device_reputation": service})
    ids = []
    for i, dev in enumerate(known):
        ev = Evidence(telemetry=Telemetry(device=dev), subject_id=f"k{i}")
        result = check.run(ev)
        ids.append(result.details.get("device_id"))
        for f in check.follow_ups(ev, result):
            service.apply_follow_up(f, reference=f"k{i}", session=None, tenant=ev.tenant_id)
    exact = {_exact_hash(d) for d in known}
    same_fuzzy = same_exact = 0
    for i, dev in enumerate(known):
        new = _updated(dev, rng)
        same_fuzzy += check.run(Evidence(telemetry=Telemetry(device=new))).details.get("device_id") == ids[i]
        same_exact += _exact_hash(new) in exact
    merged_fuzzy = sum(
        1 for dev in fresh if check.run(Evidence(telemetry=Telemetry(device=dev))).details.get("known_device")
    )
    merged_exact = sum(1 for dev in fresh if _exact_hash(dev) in exact)
    return {
        "data": "SYNTHETIC devices (60 hardware models; see _population and _updated)",
        "devices": n,
        "recognised_after_update": {
            "fuzzy": rate(same_fuzzy, n, "recognised"),
            "exact_hash_peer": rate(same_exact, n, "recognised"),
        },
        "new_device_given_an_old_id": {
            "fuzzy": rate(merged_fuzzy, n),
            "exact_hash_peer": rate(merged_exact, n),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--bots", type=int, default=100, help="SYNTHETIC sessions per bot level and recorder")
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.n, args.devices, args.bots = 50, 20, 5
    prefix = f"openidv-bench-{uuid.uuid4().hex[:8]}:"
    redis = RedisDeviceReputation.from_url(REDIS_URL, prefix=prefix)
    out: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()}
    }
    try:
        out["latency"] = device_latency(args.n, args.devices, redis)
        out["latency"]["behaviour"] = behaviour_latency(args.n)
        session = create_check("capture_session")
        sessions = [Evidence(telemetry=t) for t in capture_sessions(200, 5)]
        j = iter(range(10**9))
        out["latency"]["capture_session"] = timed(
            lambda: session.run(sessions[next(j) % len(sessions)]), args.n
        )
    finally:
        for key in redis.client.scan_iter(match=prefix + "*"):
            redis.client.delete(key)
    from telemetry_ingest import measure_ingest

    out["ingest"] = measure_ingest(repeats=2 if args.quick else 5)
    out["behaviour_detection"] = behaviour_detection(args.bots, args.seed)
    out["device_identity"] = identity_after_updates(max(args.devices, 50) * 5, args.seed)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
