"""Load-and-fault harness shared by ``bench/load_fault.py`` (minutes) and ``tests/test_load_fault.py``
(seconds).

It runs the real thing on loopback: a private PostgreSQL cluster (so it can really be restarted), a private
Redis (so it can be killed with SIGKILL), ``openidv serve --workers 2``, ``openidv worker`` and a webhook
receiver that checks every signature. A client drives verifications at a steady rate, each under its own
Idempotency-Key, and retries a failed attempt with the SAME key until it gets a 2xx, so "accepted" is well
defined. Faults are injected mid-run; afterwards ``audit`` compares what the client was told with what the
database holds and what the receiver got.

Private instances, never the shared servers: other work on the machine uses 127.0.0.1:5432 and :6379.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from openidv.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, verify_signature

REPO = Path(__file__).resolve().parents[1]


def pg_bin() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are: ``OPENIDV_PG_BIN``, else ``initdb`` on PATH, else the newest
    ``/usr/lib/postgresql/*/bin`` (Debian keeps them off PATH)."""
    if "OPENIDV_PG_BIN" in os.environ:
        return Path(os.environ["OPENIDV_PG_BIN"])
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # a symlink in /usr/local/bin: the real dir
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else Path("/usr/lib/postgresql/15/bin")


TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
BODY: dict[str, Any] = {
    "mrz": TD3,
    "declared": {"surname": "Eriksson", "given_names": "Anna Maria", "birth_date": "1974-08-12"},
}
ENCRYPTION_KEY = "dGVzdC1sb2FkLWZhdWx0LWtleS0wMDAwMDAwMDAwMDA="  # 32 bytes, base64; a throw-away key


class Unavailable(RuntimeError):
    """A tool the harness needs (initdb, redis-server) is missing: the caller skips, with this message."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


# ------------------------------------------------------------------------------------------ private servers


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a temp dir, owned by the OS user ``postgres`` when we are root
    (initdb refuses root). ``restart`` is ``pg_ctl restart -m fast``: every client connection is cut, as in
    a real restart. initdb takes about 0.6 s on the development VM."""

    def __init__(self) -> None:
        self.bin = pg_bin()
        if not (self.bin / "initdb").exists():
            raise Unavailable(f"no initdb at {self.bin} (set OPENIDV_PG_BIN)")
        # a dir of its own right under the temp dir: pytest's and our callers' dirs are private to root
        self.root = root = Path(tempfile.mkdtemp(prefix="openidv-pg-"))
        self.data = root / "pgdata"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            try:
                if shutil.which("su") is None:
                    raise LookupError("no su")
                shutil.chown(root, "postgres")
            except LookupError as exc:
                shutil.rmtree(root, ignore_errors=True)
                raise Unavailable(f"running as root, initdb must run as the OS user postgres: {exc}") from exc
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"])
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, argv: list[str]) -> None:
        if self.as_postgres:
            argv = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(argv)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[-1][:80]} failed: {done.stderr.strip()[-500:]}")

    def _ctl(self, *args: str) -> None:
        settings = "-c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        opts = f"'-p {self.port} -k {self.root} {settings}'"
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.root / "log"),
                "-w",
                "-o",
                opts,
                *args,
            ]
        )

    def start(self) -> None:
        self._ctl("start")

    def restart(self, down_s: float = 0, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast`` (clients are cut off; ``immediate``: no checkpoint, crash recovery at the
        next start, as after a crash of the server), ``down_s`` seconds down, then start again."""
        self.stop(mode)
        time.sleep(down_s)
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m MODE``: down until ``start``."""
        self._ctl("-m", mode, "stop")

    def close(self) -> None:
        """Stop for good and remove the cluster."""
        with suppress(RuntimeError):
            self._ctl("-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A Redis on its own port with no persistence; ``kill`` is SIGKILL, ``start`` brings a fresh one up on
    the same port (rate-limit counters are lost, as after a real crash without persistence)."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            raise Unavailable("redis-server is not on PATH")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        self.kill()


# ------------------------------------------------------------------------------------------ the receiver


@dataclass
class Receiver:
    """A threaded HTTP server that checks each delivery's signature on the raw body, then records it.

    Every ``lose_answer_every``-th new event (0: none) is recorded, then answered only after
    ``answer_delay_s`` (longer than the dispatcher's timeout): the answer is lost although the event was
    processed, so the dispatcher sends it again and the receiver must deduplicate by event id."""

    secret: str = ""
    lose_answer_every: int = 0
    answer_delay_s: float = 0.0
    lost_answers: int = 0
    deliveries: list[str] = field(default_factory=list)  # event ids, one per valid delivery (raw)
    verification_of: dict[str, str] = field(default_factory=dict)  # event id -> verification id
    bad_signatures: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = verify_signature(
                    receiver.secret, self.headers.get(SIGNATURE_HEADER), raw, tolerance_s=300
                )
                event_id = self.headers.get(EVENT_ID_HEADER, "")
                lose = False
                with receiver._lock:
                    if ok and event_id and json.loads(raw).get("id") == event_id:
                        new = event_id not in receiver.verification_of
                        receiver.deliveries.append(event_id)
                        receiver.verification_of[event_id] = str(json.loads(raw)["data"]["id"])
                        n = len(receiver.verification_of)
                        every = receiver.lose_answer_every
                        lose = new and every > 0 and n % every == 1
                        receiver.lost_answers += lose
                    else:
                        receiver.bad_signatures += 1
                if lose:
                    time.sleep(receiver.answer_delay_s)
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# ------------------------------------------------------------------------------------------ openidv processes


class Stack:
    """PostgreSQL + Redis + ``openidv serve --workers N`` + ``openidv worker`` + a receiver, on loopback."""

    def __init__(
        self,
        root: Path,
        *,
        api_workers: int = 2,
        lease_s: float = 10,
        job_pause_s: float = 0.2,
        rate_limit: int = 100_000,
        lose_answer_every: int = 50,
    ) -> None:
        """``job_pause_s``: each worker sleeps this long after claiming a job (the worker's fault-injection
        hook), a stand-in for a photo verification's seconds, so a killed worker really holds jobs."""
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.redis = PrivateRedis()
        try:
            self.pg = PrivatePostgres()
        except BaseException:
            self.redis.stop()
            raise
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO / "src"),
            "OPENIDV_DATABASE_URL": self.pg.url,
            "OPENIDV_REDIS_URL": self.redis.url,
            "OPENIDV_RATE_LIMIT": str(rate_limit),  # on, but high: counting is exercised, nobody is blocked
            "OPENIDV_DATA_DIR": str(root / "data"),
            "OPENIDV_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "OPENIDV_LOG_LEVEL": "WARNING",
            "OPENIDV_WORKER_PAUSE_AFTER_CLAIM_S": str(job_pause_s),
            "OPENIDV_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver listens on loopback
        }
        self.api_workers = api_workers
        self.lease_s = lease_s
        self.job_pause_s = job_pause_s
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.serve: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.webhook_timeout_s = 2.0
        self.receiver = Receiver(
            lose_answer_every=lose_answer_every, answer_delay_s=self.webhook_timeout_s + 1
        )
        self.api_key = ""

    # -- setup
    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "openidv", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"openidv {' '.join(args[:2])} exit {done.returncode}: {done.stderr[-800:]}")
        return done.stdout

    def start(self) -> None:
        self.cli("tenants", "create", "load")
        out = self.cli("keys", "create", "--name", "load", "--tenant", "load")
        self.api_key = out.strip().splitlines()[-1].strip()
        self.receiver.start()
        added = self.cli("webhooks", "add", "--tenant", "load", self.receiver.url)
        self.receiver.secret = added.strip().rsplit(" ", 1)[-1]
        self.serve = self._spawn(
            "serve.log", "serve", "--port", str(self.port), "--workers", str(self.api_workers)
        )
        self.start_worker()
        self.wait_ready()

    def _spawn(self, log_name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / log_name, "ab")  # noqa: SIM115 - lives as long as the process
        return subprocess.Popen(
            [sys.executable, "-m", "openidv", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def start_worker(self) -> None:
        n = len(self.workers)
        self.workers.append(
            self._spawn(
                f"worker{n}.log",
                "worker",
                "--concurrency",
                "2",
                "--lease-s",
                str(self.lease_s),
                "--poll-s",
                "0.2",
                "--retry-s",
                "1",
                "--webhook-backoff-s",
                "0.5",
                "--webhook-backoff-cap-s",
                "5",
                "--webhook-timeout-s",
                str(self.webhook_timeout_s),
                # a killed dispatcher's claimed batch comes back after this (default 60 s): short here, so a
                # run's outbox drains soon after the worker kill
                "--webhook-lease-s",
                str(max(5.0, 2 * self.webhook_timeout_s)),
                "--webhook-max-attempts",
                "20",
            )
        )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.serve is not None
            if self.serve.poll() is not None:
                raise RuntimeError(f"openidv serve exited {self.serve.returncode}; see {self.logs}")
            try:
                if (
                    httpx.get(self.base_url + "/readyz", timeout=5).status_code == 200
                    and len(self.api_pids()) == self.api_workers
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"openidv serve not ready after {timeout} s; see {self.logs}")

    # -- the uvicorn worker processes (children of the serve master)
    def api_pids(self) -> list[int]:
        assert self.serve is not None
        try:
            children = Path(f"/proc/{self.serve.pid}/task/{self.serve.pid}/children").read_text().split()
        except OSError:
            return []
        pids = []
        for pid in children:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"resource_tracker" not in cmdline:
                pids.append(int(pid))
        return sorted(pids)

    # -- faults
    def kill_api_worker(self) -> dict[str, Any]:
        """SIGKILL one uvicorn worker; report whether the master started a replacement (within 60 s)."""
        before = self.api_pids()
        victim = random.choice(before)
        os.kill(victim, signal.SIGKILL)
        respawned = wait_until(
            lambda: victim not in self.api_pids() and len(self.api_pids()) == len(before), 60
        )
        return {
            "killed_pid": victim,
            "api_pids_before": before,
            "api_pids_after": self.api_pids(),
            "respawned": respawned,
        }

    def kill_worker_and_replace(self) -> dict[str, Any]:
        """SIGKILL the ``openidv worker`` while it holds a job it claimed within the last 100 ms (so it is
        surely still on it: each job pauses ``job_pause_s`` after its claim), waiting up to 10 s for one, and
        start a new worker at once: the held jobs must come back after their lease, once each."""
        engine = create_engine(self.pg.url)
        fresh = text("SELECT count(*) FROM jobs WHERE status = 'running' AND updated_at >= :cut")

        def fresh_claims() -> int:
            cut = datetime.now(UTC) - timedelta(seconds=min(0.1, self.job_pause_s / 2))
            with engine.connect() as c:
                return int(c.execute(fresh, {"cut": cut}).scalar_one())

        held = 0
        deadline = time.monotonic() + 10
        while held == 0 and time.monotonic() < deadline:
            held = fresh_claims()
            time.sleep(0 if held else 0.02)
        victim = self.workers[-1]
        victim.send_signal(signal.SIGKILL)
        engine.dispose()
        victim.wait(30)
        self.start_worker()
        return {"killed_pid": victim.pid, "running_jobs_at_kill": held, "new_pid": self.workers[-1].pid}

    def readyz(self) -> str:
        """What ``/readyz`` says now (its status and the failing components), for the fault log."""
        try:
            answer = httpx.get(self.base_url + "/readyz", timeout=10)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return f"{answer.status_code} {answer.json().get('detail', '')}".strip()

    def restart_postgres(self, down_s: float, mode: str = "fast") -> dict[str, Any]:
        started = time.monotonic()
        probe: list[str] = []

        def look() -> None:  # ask /readyz in the middle of the outage
            time.sleep(0.5 + down_s / 2)
            probe.append(self.readyz())

        prober = threading.Thread(target=look)
        prober.start()
        self.pg.restart(down_s, mode)
        took = time.monotonic() - started
        prober.join()
        after = self.readyz()
        return {"mode": mode, "down_s": round(took, 2), "readyz_while_down": probe[0], "readyz_after": after}

    def kill_redis(self, down_s: float) -> dict[str, Any]:
        self.redis.kill()
        time.sleep(down_s / 2)
        during = self.readyz()
        time.sleep(down_s / 2)
        self.redis.start()
        return {"down_s": down_s, "readyz_while_down": during, "readyz_after": self.readyz()}

    def stop(self) -> None:
        for proc in [*self.workers, *([self.serve] if self.serve else [])]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.workers, *([self.serve] if self.serve else [])]:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.receiver.stop()
        self.redis.stop()
        self.pg.close()


@contextmanager
def running_stack(root: Path | None = None, **kwargs: Any) -> Iterator[Stack]:
    """A started ``Stack`` in a temp dir, stopped (and the dir removed unless given) on exit."""
    own = root is None
    path = Path(tempfile.mkdtemp(prefix="openidv-load-")) if root is None else root
    path.mkdir(parents=True, exist_ok=True)
    stack = Stack(path, **kwargs)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        if own:
            shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------------------------------ the client


@dataclass
class Outcome:
    """One logical request: its key, mode, the id it was finally given (None: never accepted)."""

    key: str
    mode: str
    sent_at: float = 0.0  # seconds since the load began
    status: int | None = None
    id: str | None = None
    attempts: int = 0
    latency_s: float | None = None  # the successful attempt
    total_s: float | None = None  # from the first attempt to the 2xx, retries included


@dataclass
class Load:
    """Requests at a steady ``rate`` per second for ``duration_s``; a share ``async_share`` are async. Each
    failed attempt (connection error, timeout, 5xx, 429) is retried with the same Idempotency-Key after an
    exponential backoff, for at most ``give_up_s``."""

    base_url: str
    api_key: str
    rate: float
    duration_s: float
    async_share: float = 0.3
    give_up_s: float = 120
    threads: int = 32
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, kind)
    started: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(
        self, faults: list[tuple[float, Callable[[], dict[str, Any]]]], fault_log: list[dict[str, Any]]
    ) -> None:
        """Send the load; call each fault at its offset (seconds) on a thread of its own."""
        self.started = time.monotonic()
        fault_threads = [
            threading.Thread(target=self._fault, args=(at, fn, fault_log), daemon=True) for at, fn in faults
        ]
        for t in fault_threads:
            t.start()
        local = threading.local()
        rng = random.Random(12)
        n = int(self.rate * self.duration_s)
        futures = []
        with ThreadPoolExecutor(self.threads) as pool:
            for i in range(n):
                due = self.started + i / self.rate
                time.sleep(max(0.0, due - time.monotonic()))
                outcome = Outcome(
                    key=f"load-{uuid.uuid4()}",
                    mode="async" if rng.random() < self.async_share else "sync",
                    sent_at=due - self.started,
                )
                with self._lock:
                    self.outcomes.append(outcome)
                futures.append(pool.submit(self._one, outcome, local))
        for t in fault_threads:
            t.join()
        for future in futures:
            future.result()  # a bug in the client itself surfaces here rather than as a "lost" request

    def _fault(self, at: float, fn: Callable[[], dict[str, Any]], log: list[dict[str, Any]]) -> None:
        time.sleep(max(0.0, self.started + at - time.monotonic()))
        t0 = time.monotonic() - self.started
        try:
            info = fn()
        except Exception as exc:  # a fault that could not be injected is a result too
            info = {"error": f"{type(exc).__name__}: {exc}"}
        log.append({"fault": getattr(fn, "__name__", "fault"), "at_s": round(t0, 1), **info})

    def _one(self, outcome: Outcome, local: threading.local) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=self.base_url, timeout=10)
        client: httpx.Client = local.client
        body = {**BODY, "mode": outcome.mode}
        headers = {"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": outcome.key}
        first = time.monotonic()
        delay = 0.1
        while time.monotonic() - first < self.give_up_s:
            outcome.attempts += 1
            t0 = time.monotonic()
            try:
                answer = client.post("/v1/verifications", json=body, headers=headers)
            except httpx.HTTPError as exc:
                self._error(type(exc).__name__)
                local.client = client = httpx.Client(base_url=self.base_url, timeout=10)
            else:
                if 200 <= answer.status_code < 300:
                    outcome.status = answer.status_code
                    outcome.id = str(answer.json()["id"])
                    outcome.latency_s = time.monotonic() - t0
                    outcome.total_s = time.monotonic() - first
                    return
                self._error(f"http_{answer.status_code}")
                if answer.status_code < 500 and answer.status_code != 429:
                    outcome.status = answer.status_code  # a client error: retrying will not help
                    return
                if answer.status_code == 429:
                    delay = max(delay, float(answer.headers.get("Retry-After", "1")))
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 2.0)

    def _error(self, kind: str) -> None:
        with self._lock:
            self.errors.append((time.monotonic() - self.started, kind))


# ------------------------------------------------------------------------------------------ the audit


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def settle(stack: Stack, load: Load, grace_s: float) -> dict[str, float]:
    """Wait (at most ``grace_s`` each) for every async job to reach a final state and every outbox row to
    be delivered; return how long each took."""
    engine = create_engine(stack.pg.url)
    job_ids = [o.id for o in load.outcomes if o.mode == "async" and o.id]
    took: dict[str, float] = {}
    t0 = time.monotonic()

    def jobs_final() -> bool:
        with engine.connect() as c:
            return (
                int(
                    c.execute(
                        text("SELECT count(*) FROM jobs WHERE status NOT IN ('completed','failed')")
                    ).scalar_one()
                )
                == 0
            )

    def outbox_done() -> bool:
        with engine.connect() as c:
            pending = c.execute(
                text("SELECT count(*) FROM webhook_outbox WHERE status NOT IN ('delivered','dead')")
            ).scalar_one()
            return int(pending) == 0

    wait_until(jobs_final, grace_s)
    took["jobs_final_s"] = round(time.monotonic() - t0, 1)
    t1 = time.monotonic()
    wait_until(outbox_done, grace_s)
    took["outbox_done_s"] = round(time.monotonic() - t1, 1)
    took["async_jobs"] = len(job_ids)
    engine.dispose()
    return took


def audit(stack: Stack, load: Load) -> dict[str, Any]:
    """Compare what the client was told with the database and the receiver. Zero everywhere is a pass."""
    engine = create_engine(stack.pg.url)
    with engine.connect() as c:
        verifications = c.execute(text("SELECT id, idempotency_key FROM verifications")).all()
        jobs = c.execute(text("SELECT id, idempotency_key, status FROM jobs")).all()
        outbox = c.execute(text("SELECT event_id, status, body, attempts FROM webhook_outbox")).all()
        attempts = Counter(int(n) for (n,) in c.execute(text("SELECT attempts FROM jobs")).all())
    engine.dispose()
    ver_ids = Counter(str(r[0]) for r in verifications)
    ver_by_key = Counter(str(r[1]) for r in verifications if r[1] is not None)
    ver_id_by_key = {str(r[1]): str(r[0]) for r in verifications if r[1] is not None}
    job_by_key = Counter(str(r[1]) for r in jobs if r[1] is not None)
    job_id_by_key = {str(r[1]): str(r[0]) for r in jobs if r[1] is not None}
    job_status = {str(r[0]): str(r[2]) for r in jobs}

    accepted = [o for o in load.outcomes if o.id is not None]
    lost: list[str] = []
    duplicated: list[str] = []
    wrong_id: list[str] = []
    for o in accepted:
        if o.mode == "sync" and o.status in (200, 201):
            n, stored = ver_by_key[o.key], ver_id_by_key.get(o.key)
        else:  # async: one job under the key; the verification (if completed) has the job's id
            n, stored = job_by_key[o.key], job_id_by_key.get(o.key)
        if n == 0:
            lost.append(o.key)
        elif n > 1:
            duplicated.append(o.key)
        elif stored != o.id:
            wrong_id.append(o.key)
    async_ids = {o.id for o in accepted if o.mode == "async" and o.status == 202 and o.id is not None}
    not_final = sorted(j for j in async_ids if job_status.get(j) not in ("completed", "failed"))
    completed_without_verification = sorted(
        j for j in async_ids if job_status.get(j) == "completed" and ver_ids[j] != 1
    )
    expected_rows = sum(1 for o in accepted if o.mode == "sync" and o.status in (200, 201)) + sum(
        1 for s in job_status.values() if s == "completed"
    )

    events = {str(r[0]): json.loads(r[2])["data"]["id"] for r in outbox}
    outbox_status = Counter(str(r[1]) for r in outbox)
    events_per_verification = Counter(events.values())
    received = Counter(stack.receiver.deliveries)
    final_jobs = {j for j, s in job_status.items() if s in ("completed", "failed")}
    return {
        "requests": len(load.outcomes),
        "accepted": len(accepted),
        "never_accepted": len(load.outcomes) - len(accepted),
        "accepted_by_status": dict(Counter(str(o.status) for o in accepted)),
        "client_errors_4xx": sum(1 for o in load.outcomes if o.id is None and o.status is not None),
        "lost_writes": len(lost),
        "duplicated_writes": len(duplicated),
        "wrong_id": len(wrong_id),
        "verification_rows": len(verifications),
        "verification_rows_expected": expected_rows,
        "async_accepted": len(async_ids),
        "async_not_final": len(not_final),
        "job_attempts": {str(k): v for k, v in sorted(attempts.items())},
        "async_failed": sum(1 for j in async_ids if job_status.get(j) == "failed"),
        "async_completed_without_one_verification": len(completed_without_verification),
        "webhook_events": len(events),
        "webhook_outbox_by_status": dict(outbox_status),
        "webhook_outbox_sent_more_than_once": sum(1 for r in outbox if int(r[3]) > 1),
        "final_jobs_without_exactly_one_event": sum(1 for j in final_jobs if events_per_verification[j] != 1),
        "webhook_raw_deliveries": sum(received.values()),
        "webhook_events_received": len(received),
        "webhook_events_missing": len(set(events) - set(received)),
        "webhook_events_unknown": len(set(received) - set(events)),
        "webhook_redeliveries": sum(received.values()) - len(received),
        "webhook_bad_signatures": stack.receiver.bad_signatures,
        "webhook_answers_lost_on_purpose": stack.receiver.lost_answers,
        "examples": {"lost": lost[:3], "duplicated": duplicated[:3], "not_final": not_final[:3]},
    }


def latency_summary(load: Load, fault_log: list[dict[str, Any]], window_s: float = 20) -> dict[str, Any]:
    """p50/p99 of the successful attempt of sync requests (and of the whole retried request); and the same
    for requests sent in quiet times against those sent within ``window_s`` after a fault began: the run's
    own fault-free peer."""

    def pct(values: list[float], q: float) -> float | None:
        if not values:
            return None
        values = sorted(values)
        return round(1000 * values[min(len(values) - 1, int(q * len(values)))], 1)

    sync = [o for o in load.outcomes if o.mode == "sync" and o.latency_s is not None]
    attempt = [o.latency_s for o in sync if o.latency_s is not None]
    total = [o.total_s for o in sync if o.total_s is not None]
    asyn = [o.latency_s for o in load.outcomes if o.mode == "async" and o.latency_s is not None]
    return {
        "sync_n": len(attempt),
        "sync_p50_ms": pct(attempt, 0.5),
        "sync_p99_ms": pct(attempt, 0.99),
        "sync_mean_ms": round(1000 * statistics.fmean(attempt), 1) if attempt else None,
        "sync_with_retries_p99_ms": pct(total, 0.99),
        "sync_with_retries_max_ms": round(1000 * max(total), 1) if total else None,
        "async_202_n": len(asyn),
        "async_202_p50_ms": pct(asyn, 0.5),
        "async_202_p99_ms": pct(asyn, 0.99),
        "retried_requests": sum(1 for o in load.outcomes if o.attempts > 1),
        "sync_quiet_vs_fault_windows": _windows(sync, fault_log, window_s, pct),
    }


def _windows(
    sync: list[Outcome],
    fault_log: list[dict[str, Any]],
    window_s: float,
    pct: Callable[[list[float], float], float | None],
) -> dict[str, Any]:
    starts = [float(f["at_s"]) for f in fault_log]
    near = [o for o in sync if any(s - 1 <= o.sent_at <= s + window_s for s in starts)]
    near_keys = {o.key for o in near}
    quiet = [o for o in sync if o.key not in near_keys]
    out: dict[str, Any] = {}
    for name, group in (("quiet", quiet), ("fault_windows", near)):
        total = [o.total_s for o in group if o.total_s is not None]
        out[name] = {"n": len(total), "p50_ms": pct(total, 0.5), "p99_ms": pct(total, 0.99)}
    return out


def errors_by_fault(load: Load, fault_log: list[dict[str, Any]], window_s: float = 20) -> dict[str, Any]:
    """Attempt errors by kind, each attributed to the latest fault that began at most ``window_s`` before it
    (``none``: no fault near)."""
    starts = sorted((f["at_s"], f["fault"]) for f in fault_log)
    table: dict[str, Counter[str]] = {}
    for at, kind in load.errors:
        cause = "none"
        for start, name in starts:
            if start - 1 <= at <= start + window_s:
                cause = name
        table.setdefault(cause, Counter())[kind] += 1
    return {cause: dict(kinds) for cause, kinds in table.items()}


def audit_chain(stack: Stack) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "openidv", "audit", "verify"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return {"ok": done.returncode == 0, "output": (done.stdout + done.stderr).strip()[-300:]}


# ------------------------------------------------------------------------------------------ the whole run

#: audit counts that must be 0 for a pass
MUST_BE_ZERO = (
    "never_accepted",
    "client_errors_4xx",
    "lost_writes",
    "duplicated_writes",
    "wrong_id",
    "async_not_final",
    "async_completed_without_one_verification",
    "final_jobs_without_exactly_one_event",
    "webhook_events_missing",
    "webhook_events_unknown",
    "webhook_bad_signatures",
)


def fault_plan(
    stack: Stack, duration: float, down_s: float, pg_stop_mode: str = "fast"
) -> list[tuple[float, Callable[[], dict[str, Any]]]]:
    """The faults and when (fractions of the run), spaced so that their error windows do not overlap."""

    def restart_postgres() -> dict[str, Any]:
        return stack.restart_postgres(down_s, pg_stop_mode)

    def kill_redis() -> dict[str, Any]:
        return stack.kill_redis(down_s)

    def kill_api_worker() -> dict[str, Any]:
        return stack.kill_api_worker()

    def kill_openidv_worker() -> dict[str, Any]:
        return stack.kill_worker_and_replace()

    return [
        (0.2 * duration, restart_postgres),
        (0.4 * duration, kill_redis),
        (0.6 * duration, kill_api_worker),
        (0.75 * duration, kill_openidv_worker),
    ]


def run_load_fault(
    *,
    duration: float,
    rate: float,
    async_share: float = 0.3,
    api_workers: int = 2,
    grace_s: float = 120,
    lease_s: float = 10,
    job_pause_s: float = 0.2,
    down_s: float = 3,
    lose_answer_every: int = 50,
    pg_stop_mode: str = "fast",
    root: Path | None = None,
) -> dict[str, Any]:
    """Start the stack, drive the load with the faults, let async work settle, audit; one JSON-able dict.
    ``root``: keep the logs and the cluster there (default: a temp dir, removed)."""
    options = {"api_workers": api_workers, "lease_s": lease_s, "job_pause_s": job_pause_s}
    with running_stack(root, lose_answer_every=lose_answer_every, **options) as stack:
        load = Load(stack.base_url, stack.api_key, rate=rate, duration_s=duration, async_share=async_share)
        fault_log: list[dict[str, Any]] = []
        t0 = time.monotonic()
        load.run(fault_plan(stack, duration, down_s, pg_stop_mode), fault_log)
        load_s = time.monotonic() - t0  # every request has its last answer (retries included)
        settled = settle(stack, load, grace_s)
        result = audit(stack, load)
        chain = audit_chain(stack)
    failures = [k for k in MUST_BE_ZERO if result[k] != 0]
    failures += [f"fault {f['fault']} not injected: {f['error']}" for f in fault_log if "error" in f]
    if result["verification_rows"] != result["verification_rows_expected"]:
        failures.append("verification_rows")
    if not chain["ok"]:
        failures.append("audit_chain")
    return {
        "bench": "load_fault",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m": os.getloadavg()[0],
        },
        "params": {
            "duration_s": duration,
            "rate_per_s": rate,
            "async_share": async_share,
            "api_workers": api_workers,
            "worker_lease_s": lease_s,
            "job_pause_s": job_pause_s,
            "fault_down_s": down_s,
            "receiver_loses_answer_of_every_nth_event": lose_answer_every,
            "pg_stop_mode": pg_stop_mode,
        },
        "throughput_accepted_per_s": round(result["accepted"] / load_s, 2),
        "load_wall_s": round(load_s, 1),
        "latency": latency_summary(load, fault_log),
        "faults": sorted(fault_log, key=lambda f: float(f["at_s"])),
        "errors_by_fault": errors_by_fault(load, fault_log),
        "settle": settled,
        "audit": result,
        "audit_chain": chain,
        "failures": failures,
        "pass": not failures,
    }
