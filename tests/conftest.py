"""Shared fixtures: the shared data folder, and stores on SQLite and on PostgreSQL.

PostgreSQL tests use 127.0.0.1:5432 (or ``OPENIDV_TEST_POSTGRES_URL``) and create a throw-away database per
test. Where PostgreSQL is unreachable they skip with a clear message, except when
``OPENIDV_REQUIRE_SERVICES=1`` (set by CI), where they fail: CI must run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from openidv.store.db import make_engine
from openidv.store.repository import Store

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
POSTGRES_ADMIN_URL = os.environ.get(
    "OPENIDV_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _services_required() -> bool:
    return os.environ.get("OPENIDV_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}; clone the project beside ../shared")
    return SHARED_DATA


def _postgres_admin_engine():  # type: ignore[no-untyped-def]
    engine = create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # pragma: no cover - depends on the machine
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {type(exc).__name__}"
        if _services_required():
            pytest.fail(message + " (OPENIDV_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return engine


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = _postgres_admin_engine()
    name = f"openidv_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'openidv.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'openidv.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A database on both backends holding the liveness tables (sessions, capture fingerprints)."""
    from openidv.store.db import Base
    from openidv.store.liveness_tables import LIVENESS_TABLES

    eng = make_engine(database_url)
    Base.metadata.create_all(eng, tables=list(LIVENESS_TABLES))
    yield eng
    eng.dispose()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(make_engine(database_url))
    yield s
    s.engine.dispose()


@pytest.fixture
def api_client(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The real app on a fresh store (both backends), with a biometric key and one API key's auth header."""
    import base64

    from fastapi.testclient import TestClient

    from openidv.api.app import create_app
    from openidv.settings import Settings

    monkeypatch.setenv("OPENIDV_ENCRYPTION_KEY", base64.b64encode(b"t" * 32).decode())
    store = Store(make_engine(database_url))
    app = create_app(Settings(data_dir=tmp_path), store=store)
    _, key = store.create_api_key("tests")
    with TestClient(app) as client:
        yield client, store, {"Authorization": f"Bearer {key}"}
    store.engine.dispose()


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Library verbs and CLI commands that open the deployment's store use a throw-away data folder, never
    the developer's ``~/.local/share/openidv``."""
    if "OPENIDV_DATA_DIR" not in os.environ:
        monkeypatch.setenv("OPENIDV_DATA_DIR", str(tmp_path_factory.mktemp("openidv-data")))
    if "OPENIDV_ENCRYPTION_KEY" not in os.environ:  # stores seal personal fields (on PostgreSQL too)
        monkeypatch.setenv("OPENIDV_ENCRYPTION_KEY", "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0=")


#: the audit key of every test (a fixed one, so subprocesses started by tests share it)
TEST_AUDIT_KEY = "YXVkaXQta2V5LWZvci10ZXN0cy0wMTIzNDU2Nzg5YWI="


@pytest.fixture(autouse=True, scope="session")
def _audit_key() -> Iterator[None]:
    """Stores MAC their audit entries with a key kept outside the database; tests use a fixed one (set for
    the whole session, so a test's ``monkeypatch.undo()`` does not take it away)."""
    if "OPENIDV_AUDIT_KEY" in os.environ:
        yield
        return
    os.environ["OPENIDV_AUDIT_KEY"] = TEST_AUDIT_KEY
    try:
        yield
    finally:
        os.environ.pop("OPENIDV_AUDIT_KEY", None)
