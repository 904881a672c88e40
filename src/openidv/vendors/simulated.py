"""Simulated IDV vendors: real HTTP servers on loopback with an API, a vocabulary and flaws of their own.

Why real servers and not mocks: the resilient client, the adapters, the router and the benchmark must meet
what a vendor really does to them (sockets, latency, 5xx, outages, idempotent replays) without any
network beyond 127.0.0.1. Each configured ``adapter: simulated`` vendor is one Starlette app served by
uvicorn in a thread (``SimulatedVendorServer``).

API (the vendor's own, so the adapter does real normalisation):

- ``POST /v1/checks`` with header ``Idempotency-Key`` and JSON ``{"type": "document|face_match|liveness",
  "images": {"document_front"|"document_back"|"selfie": base64}, "country", "document_type", "channel",
  "labels": {"ground_truth": "genuine|attack"}}`` answers ``{"id", "result": "clear|consider|rejected|
  unprocessable", "score": 0-100 (confidence the input is genuine), "reasons": [vendor codes]}``;
- ``POST /admin/outage {"seconds": N}`` takes the vendor down (every check answers 503) for N seconds;
  ``GET /admin/stats`` counts requests, billed checks, replays and errors.

Behaviour, from ``options`` in vendors.yaml (``SimulatedOptions``):

- **accuracy** per slice: ``tpr`` is the share of bad inputs (forgery, attack, impostor) it rejects,
  ``tnr`` the share of genuine ones it clears; the slice is the first of ``"GB/passport"``, ``"GB"``,
  ``"*/passport"``, ``"default"`` that is configured;
- **truth**: an input's ``labels.ground_truth`` when the request carries one (labelled benchmark inputs:
  cheap, and exactly the label the benchmark scores against), else our own in-house check on the real
  pixels (``face_match`` for face_match, ``pad`` for liveness, ``document_capture`` for documents: it
  judges any design, where the template forensics know only our own templates; it reads the page first,
  several seconds on a busy CPU), judged by the packaged default policy; a check that cannot judge the
  input makes the vendor answer ``unprocessable``. The vendor then gets the truth right with the slice's
  probability: the draw is seeded by (vendor seed, idempotency key), so a request always gets one answer;
- **latency** lognormal (``latency.median_ms``, ``latency.sigma``), **error_rate** of 5xx answers,
  **outages** (``[{start_s, seconds}]`` after start, or the admin endpoint), **review_rate** of
  ``consider`` answers;
- **idempotency**: a key seen before gets the stored answer again and is billed once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openidv.errors import ConfigurationError
from openidv.vendors.config import VendorConfig

#: the vendor's reason codes for a wrong input, by what it was asked
DECLINE_REASONS: Mapping[str, tuple[str, ...]] = {
    "document": ("doc.tampered", "doc.font_mismatch", "doc.screen_capture"),
    "face_match": ("face.mismatch",),
    "liveness": ("liveness.spoof_print", "liveness.spoof_screen", "liveness.mask"),
}
UNPROCESSABLE_REASON = "image.unusable"
REVIEW_REASON = "manual.check"
#: our in-house check that decides the truth of a real input, by capability
TRUTH_CHECKS: Mapping[str, str] = {
    "face_match": "face_match",
    "liveness": "pad",
    "document": "document_capture",
}


class Rates(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tpr: float = Field(default=0.95, ge=0, le=1)  # bad inputs rejected
    tnr: float = Field(default=0.97, ge=0, le=1)  # genuine inputs cleared


class Latency(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    median_ms: float = Field(default=40.0, ge=0, le=60_000)
    sigma: float = Field(default=0.3, ge=0, le=3)


class Outage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start_s: float = Field(ge=0)
    seconds: float = Field(gt=0)


class SimulatedOptions(BaseModel):
    """``options`` of a simulated vendor in vendors.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accuracy: dict[str, Rates] = Field(default_factory=lambda: {"default": Rates()})
    latency: Latency = Latency()
    error_rate: float = Field(default=0.0, ge=0, le=1)
    review_rate: float = Field(default=0.0, ge=0, le=1)
    outages: tuple[Outage, ...] = ()
    seed: int = 0
    #: our checks that give the truth of an unlabelled input, by capability (TRUTH_CHECKS by default)
    truth_checks: dict[str, str] = Field(default_factory=lambda: dict(TRUTH_CHECKS))

    def rates(self, country: str | None, document_type: str | None) -> Rates:
        country = (country or "").upper()
        for key in (f"{country}/{document_type}", country, f"*/{document_type}", "default"):
            if key in self.accuracy:
                return self.accuracy[key]
        return Rates()


def parse_options(name: str, config: VendorConfig) -> SimulatedOptions:
    try:
        return SimulatedOptions.model_validate(config.options)
    except Exception as exc:  # pydantic's error, one line naming the vendor
        raise ConfigurationError(f"vendors.{name}.options: {exc}".splitlines()[0]) from None


#: truth(capability, images) -> True genuine, False bad, None cannot judge
Truth = Callable[[str, Mapping[str, bytes]], bool | None]


class ModelTruth:
    """The truth of a real input from our own checks, judged by the packaged default policy. Checks are
    built on first use (a vendor asked only for labelled inputs never loads a model)."""

    def __init__(self, checks: Mapping[str, str]) -> None:
        self.names = dict(checks)
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._policy: Any = None

    def _check(self, name: str) -> Any:
        from openidv.checks.registry import create_check
        from openidv.decision.policy import load_policy

        with self._lock:
            if self._policy is None:
                self._policy = load_policy(None, warn=False)
            if name not in self._built:
                params = self._policy.checks[name].params if name in self._policy.checks else {}
                self._built[name] = create_check(name, params)
            return self._built[name]

    def __call__(self, capability: str, images: Mapping[str, bytes]) -> bool | None:
        from openidv.evidence import Evidence
        from openidv.imageio import DOCUMENT_LIMITS, SELFIE_LIMITS, load_image
        from openidv.pipeline import run_check_safely
        from openidv.results import Outcome, Status

        name = self.names.get(capability)
        if name is None:
            return None
        fields: dict[str, Any] = {}
        try:
            for key, blob in images.items():
                target = "document_image" if key == "document_front" else key
                limits = SELFIE_LIMITS if target == "selfie" else DOCUMENT_LIMITS
                fields[target] = load_image(blob, limits=limits)
        except Exception:  # an unreadable image: the vendor cannot judge it
            return None
        check = self._check(name)
        evidence = Evidence(**fields)
        if not check.applies_to(evidence):
            return None
        result = run_check_safely(check, evidence)
        if result.status != Status.OK:
            return None
        decision = self._policy.decide([result], asked={name})
        return bool(decision.outcome == Outcome.APPROVE)


@dataclass
class VendorState:
    """What a running simulated vendor remembers: answers by idempotency key, counters, outage end."""

    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    billed: int = 0
    replays: int = 0
    errors: int = 0
    outage_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _seeded(seed: int, *parts: object) -> random.Random:
    digest = hashlib.sha256("\x00".join(str(p) for p in (seed, *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class SimulatedVendor:
    """The vendor's behaviour (no HTTP): ``judge`` one parsed request. Separate from the server so the
    decision logic is testable and the server stays a thin shell."""

    def __init__(self, name: str, options: SimulatedOptions, truth: Truth | None = None) -> None:
        self.name = name
        self.options = options
        self.truth: Truth = truth or ModelTruth(options.truth_checks)
        self.state = VendorState()
        self.started = time.monotonic()

    def down(self, now: float) -> bool:
        if now < self.state.outage_until:
            return True
        elapsed = now - self.started
        return any(o.start_s <= elapsed < o.start_s + o.seconds for o in self.options.outages)

    def latency_s(self, key: str, attempt: int) -> float:
        lat = self.options.latency
        if lat.median_ms <= 0:
            return 0.0
        draw = _seeded(self.options.seed, "latency", key, attempt).gauss(0.0, 1.0)
        return lat.median_ms * math.exp(lat.sigma * draw) / 1000.0

    def fails(self, key: str, attempt: int) -> bool:
        """A 5xx for this attempt (seeded by key and attempt: a retry may succeed)."""
        rate = self.options.error_rate
        return rate > 0 and _seeded(self.options.seed, "error", key, attempt).random() < rate

    def judge(self, body: Mapping[str, Any], key: str) -> dict[str, Any]:
        kind = str(body.get("type") or "")
        if kind not in DECLINE_REASONS:
            raise ValueError(f"type must be one of {', '.join(DECLINE_REASONS)}")
        images = _images(body.get("images"))
        labels = body.get("labels") or {}
        label = labels.get("ground_truth") if isinstance(labels, Mapping) else None
        genuine: bool | None
        if label in ("genuine", "attack"):
            genuine, source = label == "genuine", "label"
        else:
            genuine, source = self.truth(kind, images), "model"
        answer: dict[str, Any] = {"id": f"chk_{uuid.uuid4().hex[:20]}", "type": kind, "truth_source": source}
        rng = _seeded(self.options.seed, "decision", key)
        if genuine is None:
            return {**answer, "result": "unprocessable", "score": None, "reasons": [UNPROCESSABLE_REASON]}
        rates = self.options.rates(body.get("country"), body.get("document_type"))
        correct = rng.random() < (rates.tnr if genuine else rates.tpr)
        says_genuine = genuine == correct
        # a confident score on the side of its answer
        score = round(50 + (1 if says_genuine else -1) * (20 + 29 * rng.random()), 1)
        if rng.random() < self.options.review_rate:
            return {**answer, "result": "consider", "score": score, "reasons": [REVIEW_REASON]}
        if says_genuine:
            return {**answer, "result": "clear", "score": score, "reasons": []}
        reasons = DECLINE_REASONS[kind]
        return {
            **answer,
            "result": "rejected",
            "score": score,
            "reasons": [reasons[rng.randrange(len(reasons))]],
        }


def _images(raw: Any) -> dict[str, bytes]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError("images must be an object")
    out: dict[str, bytes] = {}
    for key, value in raw.items():
        if key not in ("document_front", "document_back", "selfie") or not isinstance(value, str):
            raise ValueError(f"images.{key}: unknown image or not base64 text")
        try:
            out[key] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"images.{key}: not base64") from None
    return out


def build_app(vendor: SimulatedVendor) -> Starlette:
    state = vendor.state

    async def checks(request: Request) -> JSONResponse:
        key = request.headers.get("idempotency-key") or ""
        with state.lock:
            state.requests += 1
            # the n-th attempt with this key: seeds its latency and 5xx draw (reproducible, retries differ)
            attempt = state.attempts[key] = state.attempts.get(key, 0) + 1
            if vendor.down(time.monotonic()):
                state.errors += 1
                return JSONResponse({"error": "service unavailable"}, status_code=503)
            if key and key in state.answers:
                state.replays += 1
                return JSONResponse(state.answers[key], headers={"X-Replayed": "true"})
        await asyncio.sleep(vendor.latency_s(key, attempt))
        if vendor.fails(key, attempt):
            with state.lock:
                state.errors += 1
            return JSONResponse({"error": "internal error"}, status_code=500)
        if not key:
            return JSONResponse({"error": "Idempotency-Key header required"}, status_code=400)
        try:
            body = await request.json()
        except ClientDisconnect:  # the caller gave up (its timeout): nobody to answer
            return JSONResponse({"error": "client went away"}, status_code=499)
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=422)
        try:
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            answer = await asyncio.to_thread(vendor.judge, body, key)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        with state.lock:
            if key in state.answers:  # a concurrent retry won: one answer per key, billed once
                state.replays += 1
                return JSONResponse(state.answers[key], headers={"X-Replayed": "true"})
            state.answers[key] = answer
            state.billed += 1
        return JSONResponse(answer)

    async def outage(request: Request) -> JSONResponse:
        body = await request.json()
        seconds = float(body.get("seconds", 0)) if isinstance(body, dict) else 0.0
        with state.lock:
            state.outage_until = time.monotonic() + max(0.0, seconds)
        return JSONResponse({"down_for_s": seconds})

    async def stats(request: Request) -> JSONResponse:
        with state.lock:
            return JSONResponse(
                {
                    "vendor": vendor.name,
                    "requests": state.requests,
                    "billed": state.billed,
                    "replays": state.replays,
                    "errors": state.errors,
                    "down": vendor.down(time.monotonic()),
                }
            )

    return Starlette(
        routes=[
            Route("/v1/checks", checks, methods=["POST"]),
            Route("/admin/outage", outage, methods=["POST"]),
            Route("/admin/stats", stats, methods=["GET"]),
        ]
    )


class SimulatedVendorServer:
    """One simulated vendor served by uvicorn on 127.0.0.1 in a daemon thread. ``port=0`` picks a free
    port (tests); ``url`` is where it listens once started."""

    def __init__(
        self,
        name: str,
        config: VendorConfig,
        *,
        port: int | None = None,
        truth: Truth | None = None,
    ) -> None:
        import urllib.parse

        if config.adapter != "simulated":
            raise ConfigurationError(f"vendors.{name}: adapter is {config.adapter!r}, not simulated")
        parsed = urllib.parse.urlsplit(config.endpoint)
        if parsed.hostname not in ("127.0.0.1", "localhost"):
            raise ConfigurationError(f"vendors.{name}.endpoint: a simulated vendor listens on 127.0.0.1 only")
        self.name = name
        self.port = (parsed.port or 80) if port is None else port
        self.vendor = SimulatedVendor(name, parse_options(name, config), truth)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> SimulatedVendorServer:
        import uvicorn

        config = uvicorn.Config(
            build_app(self.vendor), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # not the main thread
        self._thread = threading.Thread(target=self._server.run, name=f"vendor-{self.name}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"simulated vendor {self.name} did not start on port {self.port}")
            time.sleep(0.01)
        self.port = int(self._server.servers[0].sockets[0].getsockname()[1])
        self.vendor.started = time.monotonic()
        return self

    def outage(self, seconds: float) -> None:
        """Take the vendor down now for ``seconds`` (what ``POST /admin/outage`` does)."""
        with self.vendor.state.lock:
            self.vendor.state.outage_until = time.monotonic() + seconds

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> SimulatedVendorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_simulated(vendors: Mapping[str, VendorConfig]) -> list[SimulatedVendorServer]:
    """Start every ``adapter: simulated`` vendor on its configured port; the caller stops them."""
    servers: list[SimulatedVendorServer] = []
    try:
        for name, config in vendors.items():
            if config.adapter == "simulated":
                servers.append(SimulatedVendorServer(name, config).start())
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers
