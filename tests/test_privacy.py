"""Personal-data protection (issue 12, point 2), on the real app, store and files.

Personal fields sealed at rest and read back unchanged; subject export and erasure through the API and the
CLI, leaving no trace of the subject in the database file or the data folder (byte-level), with an audit
chain that still verifies; retention purge on backdated rows; master-key rotation with a resumable
re-encrypt; files 0600; and logs at DEBUG that never carry names, document numbers, MRZ lines or birth dates.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from openidv.api.app import create_app
from openidv.api.logs import JsonFormatter
from openidv.checks.document.mrz import compose_mrz
from openidv.cli import app as cli_app
from openidv.crypto import KEY_ENV, OLD_KEYS_ENV, KeyRing, blob_key_id, load_keyring
from openidv.errors import ConfigurationError
from openidv.services.face_gallery import GalleryService
from openidv.services.subjects import SubjectService
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.gallery_tables import FaceTemplate
from openidv.store.liveness_tables import LivenessSession
from openidv.store.models import AuditEntry, CheckResultRow, Verification
from openidv.store.repository import Store
from openidv.tenancy import DEFAULT_TENANT

SURNAME, GIVEN, DOC_NUMBER, BIRTH = "QUIXBYWORTH", "ZELDAMAE", "X7Q4K9P21", "1971-03-15"
SUBJECT = "applicant-9f3e1c77"
MRZ = compose_mrz(
    "TD3",
    {
        "document_code": "P",
        "issuer": "UTO",
        "surname": SURNAME,
        "given_names": GIVEN,
        "document_number": DOC_NUMBER,
        "nationality": "UTO",
        "birth_date": "710315",
        "sex": "F",
        "expiry_date": "310101",
        "optional_data": "",
    },
)
DECLARED = {"surname": SURNAME.title(), "given_names": GIVEN.title(), "birth_date": BIRTH}
#: what must never be readable in files (before erasure) or logs
SECRETS = (SURNAME, GIVEN, DOC_NUMBER, *MRZ.split("\n"), BIRTH, "710315")
KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()


@dataclass
class App:
    client: TestClient
    store: Store
    headers: dict[str, str]
    data_dir: Path
    faces: Path


@pytest.fixture
def app(
    database_url: str, tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    monkeypatch.setenv(KEY_ENV, KEY_A)
    store = Store(make_engine(database_url))
    api = create_app(Settings(data_dir=tmp_path), store=store)
    _, key = store.create_api_key("privacy")
    with TestClient(api) as client:
        yield App(client, store, {"Authorization": f"Bearer {key}"}, tmp_path, shared_data / "faces")
    store.engine.dispose()


def _photo(a: App, name: str) -> tuple[str, bytes, str]:
    path = a.faces / name
    return path.name, path.read_bytes(), "image/jpeg"


def _verify(a: App, subject: str = SUBJECT, **extra: Any) -> dict[str, Any]:
    body = {"mrz": MRZ, "declared": DECLARED, "subject_id": subject, **extra}
    made = a.client.post("/v1/verifications", json=body, headers=a.headers)
    assert made.status_code == 201, made.text
    return dict(made.json())


def _verify_with_photos(a: App, subject: str = SUBJECT) -> dict[str, Any]:
    files = {"selfie": _photo(a, "obama/obama1.jpg"), "document": _photo(a, "obama/obama2.jpg")}
    data = {"mrz": MRZ, "declared": json.dumps(DECLARED), "subject_id": subject}
    made = a.client.post("/v1/verifications", files=files, data=data, headers=a.headers)
    assert made.status_code == 201, made.text
    return dict(made.json())


def _enrol(a: App, subject: str, photo: str) -> int:
    files = {"image": _photo(a, photo)}
    done = a.client.post(
        "/v1/galleries/onboarding/faces", files=files, data={"subject_id": subject}, headers=a.headers
    )
    assert done.status_code == 201, done.text
    return int(done.json()["face_id"])


def _files_bytes(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _found(folder: Path, needles: tuple[str, ...]) -> list[tuple[str, str]]:
    """(needle, file) for each needle found in any file under ``folder`` (case-insensitive)."""
    hits = []
    for path, blob in _files_bytes(folder).items():
        lower = blob.lower()
        hits += [(n, path.name) for n in needles if n.lower().encode() in lower]
    return hits


# ------------------------------------------------------------------------------------------ sealing


def test_personal_fields_are_sealed_and_read_back_unchanged(app: App) -> None:
    made = _verify(app)
    assert SURNAME in json.dumps(made)  # the mrz check's details name the holder: the API shows them
    again = app.client.get(f"/v1/verifications/{made['id']}", headers=app.headers)
    assert again.status_code == 200 and again.json()["checks"] == made["checks"]
    with Session(app.store.engine) as session:
        row = session.get(Verification, made["id"])
        assert row is not None and row.subject_id == SUBJECT and row.tenant_id == DEFAULT_TENANT
        assert row.evidence_summary == {} and row.evidence_sealed is not None
        assert row.evidence_sealed.startswith(b"OIDV2")
        checks = session.scalars(select(CheckResultRow).where(CheckResultRow.verification_id == row.id)).all()
        assert checks and all(c.details == {} and c.details_sealed for c in checks)
        raw = b"".join(bytes(c.details_sealed or b"") for c in checks)
        assert SURNAME.encode() not in raw and DOC_NUMBER.encode() not in raw


def test_a_sealed_blob_moved_to_another_row_does_not_open(app: App) -> None:
    first, second = _verify(app), _verify(app, subject="someone-else")
    with app.store.transaction() as session:
        blob = session.scalar(select(Verification.evidence_sealed).where(Verification.id == first["id"]))
        session.execute(
            update(Verification).where(Verification.id == second["id"]).values(evidence_sealed=blob)
        )
    from openidv.store.repository import evidence_of

    with Session(app.store.engine) as session:
        row = session.get(Verification, second["id"])
        assert row is not None
        with pytest.raises(ConfigurationError, match="authentication"):
            evidence_of(row, app.store.keyring)


def test_subject_id_is_validated(app: App) -> None:
    bad = app.client.post("/v1/verifications", json={"mrz": MRZ, "subject_id": "a\x00b"}, headers=app.headers)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    for bad_id in ("a%01b", "%20%20"):
        answer = app.client.get(f"/v1/subjects/{bad_id}", headers=app.headers)
        assert answer.status_code == 422 and "subject_id" in answer.json()["detail"], bad_id


# ------------------------------------------------------------------------------------------ export, erasure


def test_export_and_erase_through_the_api(app: App) -> None:
    first, second = _verify(app), _verify(app)
    kept = _verify(app, subject="another-person")
    face_id = _enrol(app, SUBJECT, "obama/obama1.jpg")
    other_face = _enrol(app, "another-person", "biden/biden1.jpg")

    export = app.client.get(f"/v1/subjects/{SUBJECT}", headers=app.headers)
    assert export.status_code == 200, export.text
    body = export.json()
    assert {v["id"] for v in body["verifications"]} == {first["id"], second["id"]}
    assert body["verifications"][0]["subject_id"] == SUBJECT and SURNAME in export.text
    assert "fields" in body["verifications"][0]["evidence_summary"]
    assert [e["face_id"] for e in body["gallery_enrolments"]] == [face_id]
    assert "template" not in body["gallery_enrolments"][0]

    assert app.client.delete(f"/v1/subjects/{SUBJECT}", headers=app.headers).status_code == 204
    assert app.client.delete(f"/v1/subjects/{SUBJECT}", headers=app.headers).status_code == 204  # idempotent
    assert app.client.get(f"/v1/subjects/{SUBJECT}", headers=app.headers).status_code == 404
    for gone in (first, second):
        assert app.client.get(f"/v1/verifications/{gone['id']}", headers=app.headers).status_code == 404
    assert app.client.get(f"/v1/verifications/{kept['id']}", headers=app.headers).status_code == 200
    gallery = app.client.get("/v1/galleries/onboarding", headers=app.headers).json()
    assert gallery["size"] == 1
    services = app.client.app.state.services  # type: ignore[attr-defined]
    assert services.face_gallery.check_consistency("onboarding")["consistent"]
    with Session(app.store.engine) as session:
        assert session.get(FaceTemplate, other_face) is not None
        assert session.get(FaceTemplate, face_id) is None
        for table in ("check_results", "decisions"):
            left = session.execute(
                text(f"SELECT count(*) FROM {table} WHERE verification_id IN (:a, :b)"),
                {"a": first["id"], "b": second["id"]},
            ).scalar_one()
            assert left == 0, table
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    erased = [e for e in entries if e.action == "verification.erased"]
    assert {e.subject for e in erased} == {first["id"], second["id"]}
    assert all(e.payload == {"reason": "subject_erasure"} for e in erased)
    subject_entries = [e for e in entries if e.action == "subject.erased"]
    assert len(subject_entries) == 2  # the second DELETE is recorded too, with nothing left to erase
    first_entry = subject_entries[0]
    assert first_entry.subject and len(first_entry.subject) == 64 and SUBJECT not in first_entry.subject
    assert first_entry.payload["verifications"] == 2 and first_entry.payload["templates"] == 1
    assert SUBJECT not in json.dumps([e.payload for e in entries])
    # a keyed hash: not the plain SHA-256 of the id, and the same subject hashes alike under the same key
    import hashlib

    assert first_entry.subject not in {
        hashlib.sha256(s.encode()).hexdigest() for s in (SUBJECT, f"{DEFAULT_TENANT}\x00{SUBJECT}")
    }
    assert subject_entries[1].subject == first_entry.subject
    assert app.store.verify_audit_chain().ok


def test_erasure_leaves_no_trace_in_the_files(
    sqlite_url: str, tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Byte-level: before erasure the name and document number are nowhere in plain text (sealed); after
    it, neither they nor the subject id are in the SQLite file, its WAL or the gallery index files."""
    monkeypatch.setenv(KEY_ENV, KEY_A)
    store = Store(make_engine(sqlite_url))
    api = create_app(Settings(data_dir=tmp_path), store=store)
    _, key = store.create_api_key("privacy")
    with TestClient(api) as client:
        a = App(client, store, {"Authorization": f"Bearer {key}"}, tmp_path, shared_data / "faces")
        for _ in range(3):
            _verify(a)
        _verify_with_photos(a)
        _enrol(a, SUBJECT, "obama/obama1.jpg")
        _enrol(a, "another-person", "biden/biden1.jpg")
        assert _found(tmp_path, (SURNAME, GIVEN, DOC_NUMBER)) == []
        assert any(n == SUBJECT for n, _ in _found(tmp_path, (SUBJECT,)))  # the lookup key is plain
        assert client.delete(f"/v1/subjects/{SUBJECT}", headers=a.headers).status_code == 204
        assert _found(tmp_path, (SURNAME, GIVEN, DOC_NUMBER, SUBJECT)) == []
        assert _found(tmp_path, ("another-person",))  # what was not erased is still there
        assert store.verify_audit_chain().ok
    store.engine.dispose()


def test_cli_export_and_erase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "OPENIDV_DATA_DIR": str(tmp_path),
        "OPENIDV_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        KEY_ENV: KEY_A,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    store = Store.from_url(env["OPENIDV_DATABASE_URL"])
    api = create_app(Settings.from_env(), store=store)
    _, key = store.create_api_key("cli", tenant=DEFAULT_TENANT)
    with TestClient(api) as client:
        made = client.post(
            "/v1/verifications",
            json={"mrz": MRZ, "declared": DECLARED, "subject_id": SUBJECT},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert made.status_code == 201
    runner = CliRunner(env=env)
    out = tmp_path / "exports" / "subject.json"
    exported = runner.invoke(cli_app, ["subjects", "export", SUBJECT, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert json.loads(out.read_text())["verifications"][0]["id"] == made.json()["id"]
    printed = runner.invoke(cli_app, ["subjects", "export", SUBJECT])
    assert printed.exit_code == 0 and SURNAME in printed.stdout
    refused = runner.invoke(cli_app, ["subjects", "erase", SUBJECT])
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    bad_tenant = runner.invoke(cli_app, ["subjects", "erase", SUBJECT, "--tenant", "Bad Tenant", "--yes"])
    assert bad_tenant.exit_code == 2 and "tenant" in bad_tenant.stderr
    erased = runner.invoke(cli_app, ["subjects", "erase", SUBJECT, "--yes", "--json"])
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.stdout)["verifications"] == 1
    empty = json.loads(runner.invoke(cli_app, ["subjects", "export", SUBJECT]).stdout)
    assert empty["verifications"] == [] and empty["gallery_enrolments"] == []
    assert store.verify_audit_chain().ok
    assert oct((tmp_path / "cli.sqlite3").stat().st_mode & 0o777) == "0o600"
    store.engine.dispose()


# ------------------------------------------------------------------------------------------ retention


def test_purge_erases_what_is_past_its_retention(app: App) -> None:
    old, recent = _verify(app), _verify(app)
    old_face = _enrol(app, "old-enrolment", "obama/obama1.jpg")
    new_face = _enrol(app, "new-enrolment", "biden/biden1.jpg")
    old_session = app.client.post("/v1/liveness/sessions", headers=app.headers).json()["id"]
    new_session = app.client.post("/v1/liveness/sessions", headers=app.headers).json()["id"]
    long_ago = datetime.now(UTC) - timedelta(days=400)
    with app.store.transaction() as session:  # backdate one of each kind
        session.execute(update(Verification).where(Verification.id == old["id"]).values(created_at=long_ago))
        session.execute(update(FaceTemplate).where(FaceTemplate.id == old_face).values(created_at=long_ago))
        session.execute(
            update(LivenessSession).where(LivenessSession.id == old_session).values(created_at=long_ago)
        )
    settings = Settings(
        data_dir=app.data_dir,
        retention_verifications_days=365,
        retention_templates_days=180,
        retention_liveness_days=30,
    )
    services = app.client.app.state.services  # type: ignore[attr-defined]
    subjects = SubjectService(app.store, services.face_gallery)
    dry = subjects.purge(settings, dry_run=True)
    assert (dry.verifications, dry.templates, dry.liveness_sessions) == (1, 1, 1)
    assert app.client.get(f"/v1/verifications/{old['id']}", headers=app.headers).status_code == 200
    done = subjects.purge(settings)
    assert (done.verifications, done.templates, done.liveness_sessions) == (1, 1, 1)
    assert app.client.get(f"/v1/verifications/{old['id']}", headers=app.headers).status_code == 404
    assert app.client.get(f"/v1/verifications/{recent['id']}", headers=app.headers).status_code == 200
    assert app.client.get(f"/v1/liveness/sessions/{old_session}", headers=app.headers).status_code == 404
    assert app.client.get(f"/v1/liveness/sessions/{new_session}", headers=app.headers).status_code == 200
    with Session(app.store.engine) as session:
        assert session.get(FaceTemplate, old_face) is None and session.get(FaceTemplate, new_face) is not None
        erased = session.scalars(select(AuditEntry).where(AuditEntry.action == "verification.erased")).all()
    assert [(e.subject, e.payload) for e in erased] == [(old["id"], {"reason": "retention"})]
    assert services.face_gallery.check_consistency("onboarding")["consistent"]
    assert app.store.verify_audit_chain().ok
    again = subjects.purge(settings)
    assert (again.verifications, again.templates, again.liveness_sessions) == (0, 0, 0)
    keep_all = Settings(
        data_dir=app.data_dir,
        retention_verifications_days=0,
        retention_templates_days=0,
        retention_liveness_days=0,
        retention_graph_days=0,
        retention_telemetry_days=0,
        retention_vendor_calls_days=0,
        retention_case_media_days=0,
    )
    assert subjects.purge(keep_all).cutoffs == {
        "verifications": None,
        "templates": None,
        "liveness_sessions": None,
        "graph_accounts": None,
        "telemetry_sessions": None,
        "vendor_calls": None,
        "case_media": None,
    }


def test_purge_command_and_retention_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "OPENIDV_DATA_DIR": str(tmp_path),
        "OPENIDV_DATABASE_URL": f"sqlite:///{tmp_path / 'purge.sqlite3'}",
        KEY_ENV: KEY_A,
        "OPENIDV_RETENTION_VERIFICATIONS_DAYS": "10",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings.from_env().retention_verifications_days == 10
    assert Settings.from_env().retention_liveness_days == 30  # the documented default
    store = Store.from_url(env["OPENIDV_DATABASE_URL"])
    api = create_app(Settings.from_env(), store=store)
    _, key = store.create_api_key("cli")
    with TestClient(api) as client:
        ids = [
            client.post(
                "/v1/verifications", json={"mrz": MRZ}, headers={"Authorization": f"Bearer {key}"}
            ).json()["id"]
            for _ in range(3)
        ]
    with store.transaction() as session:
        session.execute(
            update(Verification)
            .where(Verification.id.in_(ids[:2]))
            .values(created_at=datetime.now(UTC) - timedelta(days=11))
        )
    runner = CliRunner(env=env)
    dry = runner.invoke(cli_app, ["purge", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["verifications"] == 2
    done = runner.invoke(cli_app, ["purge"])
    assert done.exit_code == 0 and "erased 2 verification(s)" in done.stdout
    with Session(store.engine) as session:
        assert list(session.scalars(select(Verification.id))) == [ids[2]]
    bad = CliRunner(env={**env, "OPENIDV_RETENTION_VERIFICATIONS_DAYS": "ten"}).invoke(cli_app, ["purge"])
    assert bad.exit_code == 2 and "OPENIDV_RETENTION_VERIFICATIONS_DAYS" in bad.stderr
    store.engine.dispose()


# ------------------------------------------------------------------------------------------ key rotation


def _key_ids(store: Store) -> set[str]:
    with Session(store.engine) as session:
        blobs = [
            *session.scalars(select(Verification.evidence_sealed)),
            *session.scalars(select(CheckResultRow.details_sealed)),
            *session.scalars(select(FaceTemplate.template)),
        ]
    return {(blob_key_id(b) or b"plain").hex() if b else "plain" for b in blobs}


def test_rotate_reencrypts_everything_under_the_new_key(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """File-held key: ``crypto rotate --new-key`` retires it, re-encrypts verifications (sealing a row from
    before encryption too), templates and index files; a rerun has nothing left; the old key can go."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("OPENIDV_DATA_DIR", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'openidv.sqlite3'}"
    monkeypatch.setenv("OPENIDV_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(cli_app, ["face", "init-key"]).exit_code == 0
    settings = Settings.from_env()
    store = Store.from_url(url, settings=settings)
    api = create_app(settings, store=store)
    _, key = store.create_api_key("rotate")
    with TestClient(api) as client:
        a = App(client, store, {"Authorization": f"Bearer {key}"}, tmp_path, shared_data / "faces")
        made = [_verify(a), _verify(a)]
        _enrol(a, SUBJECT, "obama/obama1.jpg")
    with store.transaction() as session:  # a row written before encryption existed
        session.execute(
            update(Verification)
            .where(Verification.id == made[1]["id"])
            .values(evidence_sealed=None, evidence_summary={"fields": ["mrz_text"]})
        )
    old_id = store.keyring.key_ids[0]
    assert _key_ids(store) == {old_id, "plain"}
    store.engine.dispose()

    rotated = runner.invoke(cli_app, ["crypto", "rotate", "--new-key", "--batch", "1", "--json"])
    assert rotated.exit_code == 0, rotated.output
    report = json.loads(rotated.stdout)
    new_id = report["current_key_id"]
    assert new_id != old_id
    assert report["re_encrypted"]["verifications"] == 2 and report["re_encrypted"]["templates"] == 1
    assert report["re_encrypted"]["index_files"] == 1 and report["re_encrypted"]["check_results"] > 0
    assert set(report["found_by_key_id"]) == {old_id, "plain"}  # as found, before re-encryption
    old_file = tmp_path / "keys" / "old" / f"{old_id}.key"
    assert oct(old_file.stat().st_mode & 0o777) == "0o600"
    assert (
        oct(old_file.parent.stat().st_mode & 0o777)
        == oct((tmp_path / "keys").stat().st_mode & 0o777)
        == "0o700"
    )
    assert oct((tmp_path / "keys" / "biometric.key").stat().st_mode & 0o777) == "0o600"
    status = json.loads(runner.invoke(cli_app, ["crypto", "status"]).stdout)
    assert status == {"current_key_id": new_id, "old_key_ids": [old_id]}

    again = json.loads(runner.invoke(cli_app, ["crypto", "rotate", "--json"]).stdout)
    assert set(again["re_encrypted"].values()) == {0}  # resumable: nothing is left under the old key

    old_file.unlink()  # everything now opens under the new key alone
    store = Store.from_url(url, settings=settings)
    assert _key_ids(store) == {new_id}
    assert store.keyring.key_ids == (new_id,)
    for record in made:
        assert store.get_verification(record["id"]).checks[0].details == _details(record)
    gallery = GalleryService.from_settings(settings, engine=store.engine)
    assert gallery.check_consistency("onboarding")["consistent"]
    assert gallery.info("onboarding").size == 1
    store.engine.dispose()


def _details(record: dict[str, Any]) -> dict[str, Any]:
    return dict(record["checks"][0]["details"])


def test_key_ring_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Env-held keys: the new key in OPENIDV_ENCRYPTION_KEY, the old one in OPENIDV_ENCRYPTION_KEYS_OLD."""
    settings = Settings(data_dir=tmp_path)
    old = KeyRing(base64.b64decode(KEY_A))
    blob = old.encrypt(b"secret", b"aad")
    monkeypatch.setenv(KEY_ENV, KEY_B)
    monkeypatch.delenv(OLD_KEYS_ENV, raising=False)
    with pytest.raises(ConfigurationError, match="another key"):
        load_keyring(settings).decrypt(blob, b"aad")
    monkeypatch.setenv(OLD_KEYS_ENV, KEY_A)
    ring = load_keyring(settings)
    assert ring.decrypt(blob, b"aad") == b"secret" and not ring.is_current(blob)
    assert ring.is_current(ring.encrypt(b"x", b"a"))
    with pytest.raises(ConfigurationError, match="authentication"):
        ring.decrypt(blob, b"other row")
    assert ring.keyed_hash("subject", "s") != KeyRing(base64.b64decode(KEY_A)).keyed_hash("subject", "s")
    refused = CliRunner(env={KEY_ENV: KEY_B, "OPENIDV_DATA_DIR": str(tmp_path)}).invoke(
        cli_app, ["crypto", "rotate", "--new-key"]
    )
    assert refused.exit_code == 2 and OLD_KEYS_ENV in refused.stderr


# ------------------------------------------------------------------------------------------ logs


#: the test client's own loggers (they print the URLs the test requests): not the server's logs
CLIENT_LOGGERS = ("httpx", "httpcore")


def test_logs_carry_no_personal_or_biometric_data(app: App, caplog: pytest.LogCaptureFixture) -> None:
    """Real verifications (MRZ, declared data, photos), an enrolment, a search, an export and an erasure, with
    every logger at DEBUG: neither the message text nor the structured JSON lines hold the applicant's
    name, document number, MRZ lines or birth date, nor their subject id (access lines name route
    templates, not paths)."""
    formatter = JsonFormatter()
    lines: list[str] = []

    plain = logging.Formatter("%(name)s %(levelname)s %(message)s %(args)r")

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name.split(".")[0] in CLIENT_LOGGERS:
                return
            lines.extend((formatter.format(record), plain.format(record)))

    collector = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(collector)
    caplog.set_level(logging.DEBUG)
    try:
        _verify(app)
        _verify_with_photos(app)
        bad = app.client.post(  # a refused request must not echo the personal data into the log either
            "/v1/verifications",
            json={"mrz": MRZ, "declared": {**DECLARED, "birth_date": "not a date"}},
            headers=app.headers,
        )
        assert bad.status_code == 422
        _enrol(app, SUBJECT, "obama/obama1.jpg")
        search = app.client.post(
            "/v1/galleries/onboarding/search",
            files={"image": _photo(app, "obama/obama2.jpg")},
            headers=app.headers,
        )
        assert search.status_code == 200
        assert app.client.get(f"/v1/subjects/{SUBJECT}", headers=app.headers).status_code == 200
        assert app.client.delete(f"/v1/subjects/{SUBJECT}", headers=app.headers).status_code == 204
    finally:
        root.removeHandler(collector)
    captured = "\n".join(lines)
    assert any("/v1/verifications" in line for line in lines)  # the server's requests were logged at all
    leaked = [s for s in (*SECRETS, DECLARED["surname"], DECLARED["given_names"], SUBJECT) if s in captured]
    assert leaked == [], [line for line in captured.splitlines() if any(x in line for x in leaked)][:3]
    lowered = captured.lower()
    assert SURNAME.lower() not in lowered and DOC_NUMBER.lower() not in lowered


# ------------------------------------------------------------------------------------------ store level


def _stored(store: Store, subject: str, session_id: str | None = None) -> str:
    """A verification of ``subject`` stored directly; with ``session_id``, its liveness_session check
    names that session (as the real check does)."""
    from openidv.results import CheckResult, Decision, Meaning, Outcome, Status
    from openidv.verification import VerificationRecord

    checks = [
        CheckResult(
            check="mrz",
            version="1",
            status=Status.OK,
            score=1.0,
            meaning=Meaning.SIMILARITY,
            reason_codes=(),
            details={"surname": SURNAME, "document_number": DOC_NUMBER},
            latency_ms=1.0,
        )
    ]
    if session_id is not None:
        checks.append(
            CheckResult(
                check="liveness_session",
                version="1",
                status=Status.OK,
                score=0.0,
                meaning=Meaning.ATTACK,
                reason_codes=(),
                details={"session_id": session_id},
                latency_ms=1.0,
            )
        )
    record = VerificationRecord(
        id=str(uuid.uuid4()),
        created_at=datetime.now(UTC),
        decision=Decision(outcome=Outcome.APPROVE, reason_codes=(), policy_version="p", fired_rules=()),
        checks=tuple(checks),
        latency_ms=2.0,
    )
    store.save_verification(
        record, request_hash="0" * 64, evidence_summary={"fields": []}, subject_id=subject
    )
    return record.id


def test_erasure_takes_the_linked_liveness_session_and_capture_fingerprints(store: Store) -> None:
    from openidv.store.liveness_tables import CaptureHash

    now = datetime.now(UTC)
    with store.transaction() as session:
        for sid in ("sess-linked", "sess-other"):
            session.add(
                LivenessSession(
                    id=sid,
                    nonce=f"nonce-{sid}",
                    challenges=["blink"],
                    created_at=now,
                    expires_at=now + timedelta(minutes=5),
                    used_at=now,
                    status="passed",
                    result={"passed": True},
                )
            )
    linked = _stored(store, SUBJECT, session_id="sess-linked")
    kept = _stored(store, "someone-else")
    with store.transaction() as session:
        for reference in (linked, "sess-linked", kept, "sess-other"):
            session.add(
                CaptureHash(
                    phash=1,
                    dhash=2,
                    **{f"band{i}": i for i in range(7)},
                    kind="selfie",
                    reference=reference,
                    created_at=now,
                )
            )
    subjects = SubjectService(store, None)
    export = subjects.export(SUBJECT)
    assert [v["id"] for v in export["verifications"]] == [linked]
    assert [s["id"] for s in export["liveness_sessions"]] == ["sess-linked"]
    report = subjects.erase(SUBJECT)
    assert (report.verifications, report.liveness_sessions, report.captures) == (1, 1, 2)
    with Session(store.engine) as session:
        assert {s.id for s in session.scalars(select(LivenessSession))} == {"sess-other"}
        assert {c.reference for c in session.scalars(select(CaptureHash))} == {kept, "sess-other"}
    assert store.get_verification(kept).checks[0].details["surname"] == SURNAME
    assert store.verify_audit_chain().ok


def test_an_interrupted_rotation_resumes(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rotation that dies half-way leaves every row readable (old key or new), and a rerun finishes it."""
    from openidv.store import rotation

    ids = [_stored(store, f"s{i}") for i in range(6)]
    old_id = store.keyring.key_ids[0]
    ring = KeyRing(base64.b64decode(KEY_B), (store.keyring.master_key,))
    real_seal, calls = rotation.seal_json, {"n": 0}

    def dying_seal(*args: Any) -> bytes:
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("killed mid-rotation")
        return real_seal(*args)

    monkeypatch.setattr(rotation, "seal_json", dying_seal)
    with pytest.raises(RuntimeError):
        rotation.rotate_all(store.engine, ring, tmp_path / "galleries", batch=2)
    half = _key_ids(store)
    assert half == {old_id, ring.key_ids[0]}  # some rows moved, the rest not yet
    monkeypatch.setattr(rotation, "seal_json", real_seal)
    done = rotation.rotate_all(store.engine, ring, tmp_path / "galleries", batch=2)
    assert done.verifications + done.check_results == 12 - 2  # the first batch had committed
    assert _key_ids(store) == {ring.key_ids[0]}
    fresh = Store(store.engine, migrate=False, keyring=KeyRing(base64.b64decode(KEY_B)))
    assert all(fresh.get_verification(i).checks[0].details["document_number"] == DOC_NUMBER for i in ids)
