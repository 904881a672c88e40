"""Issue 12: defects found by testing ``openidv serve``, each kept fixed here."""

from __future__ import annotations

import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from openidv.store.db import make_engine
from openidv.store.models import Verification
from openidv.store.repository import Store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_database_is_created_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, which would make a new file 0644
    try:
        db = tmp_path / "data" / "openidv.sqlite3"
        store = Store(make_engine(f"sqlite:///{db}"))
        store.create_api_key("mode")  # something is written, so the WAL and shared-memory files exist
        assert _mode(db) == 0o600
        for extra in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            if extra.exists():
                assert _mode(extra) == 0o600, extra
        store.engine.dispose()
    finally:
        os.umask(old)


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "openidv.sqlite3"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    Store(make_engine(f"sqlite:///{db}")).engine.dispose()
    assert _mode(db) == 0o600


def test_the_biometric_key_file_is_owner_only(tmp_path: Path) -> None:
    from openidv.crypto import write_key_file

    old = os.umask(0o022)
    try:
        assert _mode(write_key_file(tmp_path / "keys" / "biometric.key")) == 0o600
    finally:
        os.umask(old)


TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
BODY = {"mrz": TD3, "declared": {"surname": "Eriksson", "given_names": "Anna Maria"}}


def test_concurrent_requests_with_one_idempotency_key_answer_like_replays(api_client) -> None:  # type: ignore[no-untyped-def]
    """Every request passes the "seen this key?" lookup before any stores (a barrier in the pipeline), so
    all but one lose the insert race; the losers answer exactly like a replay: 200 and the replay header."""
    client, store, headers = api_client
    racers = 4
    barrier = threading.Barrier(racers, timeout=30)
    pipeline = client.app.state.verifier.pipeline
    original = pipeline.run

    def run_together(evidence):  # type: ignore[no-untyped-def]
        barrier.wait()
        return original(evidence)

    pipeline.run = run_together
    with ThreadPoolExecutor(racers) as pool:
        responses = list(
            pool.map(
                lambda _: client.post(
                    "/v1/verifications", json=BODY, headers={**headers, "Idempotency-Key": "race-1"}
                ),
                range(racers),
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (racers - 1) + [201], [r.text for r in responses]
    first = next(r for r in responses if r.status_code == 201)
    assert "idempotent-replayed" not in first.headers
    for replay in (r for r in responses if r.status_code == 200):
        assert replay.headers["idempotent-replayed"] == "true"
        assert "location" not in replay.headers
        assert replay.json() == first.json()
    pipeline.run = original
    again = client.post("/v1/verifications", json=BODY, headers={**headers, "Idempotency-Key": "race-1"})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    with store.transaction() as session:
        assert session.execute(select(func.count()).select_from(Verification)).scalar_one() == 1
