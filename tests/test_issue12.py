"""Issue 12: defects found by testing ``openidv serve``, each kept fixed here."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from openidv.store.db import make_engine
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
