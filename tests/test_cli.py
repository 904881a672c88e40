"""The CLI as a user runs it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"


def openidv(*args: str, data_dir: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENIDV_DATA_DIR": str(data_dir)}
    env.pop("OPENIDV_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "openidv", *args],
        capture_output=True,
        text=True,
        env=env,
        check=check,
        timeout=120,
    )


def test_verify_json_and_table(tmp_path: Path) -> None:
    mrz_file = tmp_path / "mrz.txt"
    mrz_file.write_text(TD3 + "\n")
    result = openidv(
        "verify",
        "--mrz-file",
        str(mrz_file),
        "--surname",
        "Eriksson",
        "--given-names",
        "Anna Maria",
        "--birth-date",
        "1974-08-12",
        "--as-of",
        "2010-01-01",
        "--json",
        data_dir=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    # the MRZ and the declared data agree, but an MRZ alone is not a document: the default policy's evidence
    # profile sends it to review and says what is missing
    assert body["decision"] == "review", body
    assert body["reason_codes"] == ["EVIDENCE_DOCUMENT_MISSING", "EVIDENCE_SELFIE_MISSING"], body
    assert body["checks"][0]["check"] == "mrz"
    table = openidv("verify", "--mrz", TD3, data_dir=tmp_path)
    assert table.returncode == 0 and "REJECT" in table.stdout and "DOC_EXPIRED" in table.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["verify", "--mrz", "hello"], "mrz: line 1 is not MRZ text"),
        (["verify"], "give the MRZ either"),
        (["verify", "--mrz", TD3, "--surname", "E", "--birth-date", "1974-13-40"], "--birth-date"),
        (["verify", "--mrz-file", "/nonexistent/file.txt"], "No such file"),
        (["verify", "--mrz", TD3, "--policy", "/nonexistent/policy.yaml"], "cannot read policy file"),
        (["keys", "revoke", "nope"], "no API key"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], fragment: str) -> None:
    result = openidv(*args, data_dir=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_bad_policy_file_names_the_key(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: x\nchecks: {mrz: {}}\nrules:\n"
        "  - when: {check: mrz, score: {op: '=>', threshold: t}}\n    outcome: reject\n"
    )
    result = openidv("verify", "--mrz", TD3, "--policy", str(policy), data_dir=tmp_path)
    assert result.returncode == 2 and "rules[0].when.score.op: bad operator" in result.stderr


def test_keys_and_audit(tmp_path: Path) -> None:
    created = openidv("keys", "create", "--name", "svc", data_dir=tmp_path, check=True)
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("oidv_")
    listed = json.loads(openidv("keys", "list", "--json", data_dir=tmp_path, check=True).stdout)
    assert listed[0]["name"] == "svc" and key not in json.dumps(listed)
    openidv("verify", "--mrz", TD3, "--store", data_dir=tmp_path, check=True)
    audit = openidv("audit", "verify", data_dir=tmp_path)
    assert audit.returncode == 0 and "intact: 2 entries" in audit.stdout
    openidv("keys", "revoke", listed[0]["id"], data_dir=tmp_path, check=True)

    import sqlite3

    with sqlite3.connect(tmp_path / "openidv.sqlite3") as db:
        db.execute("UPDATE audit_log SET action = 'api_key.deleted' WHERE seq = 1")
    tampered = openidv("audit", "verify", data_dir=tmp_path)
    assert tampered.returncode == 1 and "entry 1" in tampered.stderr


def test_serve_answers_over_http(tmp_path: Path) -> None:
    import socket
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key = (
        openidv("keys", "create", "--name", "http", data_dir=tmp_path, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    env = {**os.environ, "OPENIDV_DATA_DIR": str(tmp_path)}
    env.pop("OPENIDV_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "openidv", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not come up: " + (server.stderr.read() if server.stderr else ""))
        body = {"mrz": TD3, "declared": {"surname": "Eriksson", "given_names": "Anna Maria"}}
        response = httpx.post(
            f"{base}/v1/verifications",
            json=body,
            headers={"Authorization": f"Bearer {key}", "X-Request-ID": "cli-req-1"},
        )
        assert response.status_code == 201 and response.json()["decision"] == "reject"
        assert httpx.post(f"{base}/v1/verifications", json=body).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=10)
    # JSON log lines (docs/operations.md): one per request with the request id, and no personal data
    logged = server.stderr.read() if server.stderr else ""
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    access = [e for e in lines if e["logger"] == "openidv.access" and e["request_id"] == "cli-req-1"]
    assert access and access[0]["route"] == "/v1/verifications" and access[0]["status"] == 201, logged
    assert "Eriksson" not in logged and "L898902C3" not in logged


def _children(pid: int) -> set[int]:
    """Pids whose parent is ``pid`` (Linux /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _serve_two_workers(
    tmp_path: Path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int, set[int]]:
    """`openidv serve --workers 2` on a free port of its own data directory, once both workers are up."""
    import socket
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "OPENIDV_DATA_DIR": str(tmp_path), **(extra_env or {})}
    env.pop("OPENIDV_DATABASE_URL", None)
    command = [sys.executable, "-m", "openidv", "serve", "--port", str(port), "--workers", "2"]
    master = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.monotonic() + 180  # a loaded CI machine may take a while to import two workers
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                workers = {p for p in _children(master.pid) if _alive(p)}
                if len(workers) >= 2:
                    break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    if len(workers) < 2:
        master.kill()
        pytest.fail("the server did not start two workers")
    return master, port, workers


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads worker pids from /proc (Linux)")
def test_metrics_of_every_worker_are_summed(tmp_path: Path) -> None:
    """issue 12: under `serve --workers 2`, /metrics counts both workers' requests, whichever answers."""
    import contextlib
    import re

    import httpx

    shared = tmp_path / "metrics"
    shared.mkdir()
    master, port, workers = _serve_two_workers(tmp_path / "data", {"PROMETHEUS_MULTIPROC_DIR": str(shared)})
    try:
        before = _healthz_count(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
        for _ in range(30):  # a new connection each: the kernel spreads them over the workers
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        for _ in range(5):  # every scrape, whichever worker answers, sees all 30
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            assert _healthz_count(text) == before + 30
        served_by = {m.group(1) for m in (re.search(r"_(\d+)\.db$", f.name) for f in shared.iterdir()) if m}
        assert served_by <= {str(p) for p in workers} and served_by
    finally:
        with contextlib.suppress(ProcessLookupError):
            master.kill()
        master.wait(timeout=10)


def _healthz_count(text: str) -> float:
    import re

    return sum(
        float(m.group(1))
        for m in re.finditer(r'^openidv_http_requests_total\{[^}]*route="/healthz"[^}]*\} (\S+)$', text, re.M)
    )


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads worker pids from /proc (Linux)")
def test_killing_the_master_stops_its_workers_and_frees_the_port(tmp_path: Path) -> None:
    """issue 12: after kill -9 of `openidv serve --workers 2`, no worker lives on and the port is free."""
    import contextlib
    import signal
    import socket
    import time

    master, port, workers = _serve_two_workers(tmp_path)
    try:
        master.send_signal(signal.SIGKILL)
        master.wait(timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        assert not any(_alive(p) for p in workers), "workers outlived their master"
        with socket.socket() as sock:  # the port can be bound again: a restart would work
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
    finally:
        for pid in [master.pid, *workers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
