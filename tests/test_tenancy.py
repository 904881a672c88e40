"""Tenancy on SQLite and PostgreSQL: keys belong to a tenant and hold scopes, and may expire; everything a
key reads, searches, lists or deletes is confined to its tenant (another tenant's id is a 404, not a 403).

Every route's authorisation (no key, revoked or expired key, missing scope, another tenant, the own tenant)
is tested from one table in ``tests/test_route_authz.py``, on the ``world`` built here. The defects of issue
12 are tested one by one below.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from openidv.api.app import create_app
from openidv.checks.face.duplicate import FaceDuplicateCheck
from openidv.checks.services import FACE_GALLERY
from openidv.cli import app as cli_app
from openidv.evidence import Evidence
from openidv.imageio import load_image
from openidv.services.face_gallery import GalleryService
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.migrate import upgrade
from openidv.store.repository import Store
from openidv.tenancy import SCOPES

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"


@dataclass
class World:
    """Tenant A owns a verification, a template in its ``onboarding`` gallery and a liveness session."""

    client: TestClient
    store: Store
    services: Any
    faces: Path
    verification_id: str
    face_id: int
    session_id: str
    session_nonce: str
    webhook_id: str = ""

    def key(self, tenant: str, scopes: tuple[str, ...] = SCOPES, expires_in: timedelta | None = None) -> str:
        _, key = self.store.create_api_key(
            f"{tenant}-key", tenant=tenant, scopes=scopes, expires_in=expires_in
        )
        return key

    def photo(self, person: str, n: int) -> dict[str, tuple[str, bytes, str]]:
        path = self.faces / person / f"{person.split('_')[0]}{n}.jpg"
        return {"image": (path.name, path.read_bytes(), "image/jpeg")}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def world(
    database_url: str, tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    monkeypatch.setenv("OPENIDV_ENCRYPTION_KEY", base64.b64encode(b"t" * 32).decode())
    store = Store(make_engine(database_url))
    store.create_tenant("a")
    store.create_tenant("b")
    app = create_app(Settings(data_dir=tmp_path), store=store)
    with TestClient(app) as client:
        w = World(client, store, app.state.services, shared_data / "faces", "", 0, "", "")
        a = bearer(w.key("a"))
        made = client.post("/v1/verifications", json={"mrz": TD3}, headers=a)
        assert made.status_code == 201, made.text
        enrolled = client.post(
            "/v1/galleries/onboarding/faces", files=w.photo("obama", 1), data={"subject_id": "a-1"}, headers=a
        )
        assert enrolled.status_code == 201, enrolled.text
        session = client.post("/v1/liveness/sessions", headers=a)
        assert session.status_code == 201, session.text
        w.verification_id, w.face_id = made.json()["id"], enrolled.json()["face_id"]
        w.session_id, w.session_nonce = session.json()["id"], session.json()["nonce"]
        hook = client.post("/v1/webhooks", json={"url": "https://hooks.example.com/a"}, headers=a)
        assert hook.status_code == 201, hook.text
        w.webhook_id = hook.json()["id"]
        yield w
    store.engine.dispose()


def test_expired_key_is_a_401_saying_so(world: World) -> None:
    answer = world.client.get(
        "/v1/galleries/onboarding", headers=bearer(world.key("a", expires_in=timedelta(0)))
    )
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    assert answer.headers["www-authenticate"] == "Bearer"


def test_other_tenant_cannot_read_the_verification(world: World) -> None:
    b = bearer(world.key("b"))
    answer = world.client.get(f"/v1/verifications/{world.verification_id}", headers=b)
    assert answer.status_code == 404 and TD3[:10] not in answer.text
    own = world.client.get(f"/v1/verifications/{world.verification_id}", headers=bearer(world.key("a")))
    assert own.status_code == 200 and own.json()["id"] == world.verification_id


def test_other_tenant_search_never_returns_a_template_of_a(world: World) -> None:
    b = bearer(world.key("b"))
    # B has no gallery called onboarding: a 404, not A's gallery
    assert (
        world.client.post(
            "/v1/galleries/onboarding/search", files=world.photo("obama", 3), headers=b
        ).status_code
        == 404
    )
    # B makes its own onboarding gallery (same name as A's) and enrols someone else
    mine = world.client.post(
        "/v1/galleries/onboarding/faces",
        files=world.photo("rose_leslie", 1),
        data={"subject_id": "b-1"},
        headers=b,
    )
    assert mine.status_code == 201, mine.text
    found = world.client.post(
        "/v1/galleries/onboarding/search", files=world.photo("obama", 3), data={"k": 10}, headers=b
    )
    assert found.status_code == 200 and found.json()["gallery_size"] == 1
    assert [m["subject_id"] for m in found.json()["matches"]] == ["b-1"]
    # and A's search sees only A's template
    a_found = world.client.post(
        "/v1/galleries/onboarding/search",
        files=world.photo("obama", 3),
        data={"k": 10},
        headers=bearer(world.key("a")),
    )
    assert [m["subject_id"] for m in a_found.json()["matches"]] == ["a-1"]


def test_other_tenant_cannot_delete_a_template_of_a(world: World) -> None:
    b = bearer(world.key("b"))
    world.client.post(  # even when B has a gallery of the same name
        "/v1/galleries/onboarding/faces",
        files=world.photo("rose_leslie", 1),
        data={"subject_id": "b-1"},
        headers=b,
    )
    answer = world.client.delete(f"/v1/galleries/onboarding/faces/{world.face_id}", headers=b)
    assert answer.status_code == 404
    gallery = world.services.face_gallery
    assert gallery.size("onboarding", tenant="a") == 1
    assert gallery.check_consistency("onboarding", tenant="a")["consistent"]
    a_found = world.client.post(
        "/v1/galleries/onboarding/search", files=world.photo("obama", 3), headers=bearer(world.key("a"))
    )
    assert a_found.json()["matches"][0]["face_id"] == world.face_id


def test_liveness_sessions_carry_their_tenant_and_key(world: World) -> None:
    row = world.services.liveness_sessions.get_session(world.session_id, tenant="a")
    assert row.tenant_id == "a" and row.api_key_id is not None
    with world.store.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT tenant_id FROM liveness_sessions WHERE id = :id"), {"id": world.session_id}
        ).scalar_one()
    assert stored == "a"
    # a verification of tenant B cannot use A's session: to B it does not exist
    verdict = world.services.liveness_sessions.session_verdict(world.session_id, tenant="b")
    assert verdict is None


def test_verifications_are_stored_with_the_tenant_of_their_key(world: World) -> None:
    made = world.client.post("/v1/verifications", json={"mrz": TD3}, headers=bearer(world.key("b")))
    with world.store.engine.connect() as conn:
        tenants = {r[0]: r[1] for r in conn.execute(text("SELECT id, tenant_id FROM verifications"))}
    assert tenants == {world.verification_id: "a", made.json()["id"]: "b"}


def test_face_duplicate_searches_only_the_applicants_tenant(tmp_path: Path, shared_data: Path) -> None:
    from openidv.crypto import BiometricCipher
    from openidv.store.gallery_tables import create_gallery_tables

    engine = make_engine(f"sqlite:///{tmp_path / 'g.sqlite3'}")
    create_gallery_tables(engine)
    gallery = GalleryService(engine, tmp_path / "galleries", cipher=BiometricCipher(b"k" * 32))
    faces = shared_data / "faces"
    gallery.enroll("onboarding", "a-1", load_image((faces / "obama/obama1.jpg").read_bytes()), tenant="a")
    check = FaceDuplicateCheck({FACE_GALLERY: gallery})
    selfie = load_image((faces / "obama/obama2.jpg").read_bytes())
    for_a = check.run(Evidence(selfie=selfie, subject_id="new", tenant_id="a"))
    for_b = check.run(Evidence(selfie=selfie, subject_id="new", tenant_id="b"))
    assert (
        [m["subject_id"] for m in for_a.details["matches"]] == ["a-1"] and for_a.score and for_a.score > 0.5
    )
    assert for_b.details["matches"] == [] and for_b.score == 0.0
    # B's own gallery of the same name is a different gallery with its own index
    gallery.enroll(
        "onboarding", "b-1", load_image((faces / "rose_leslie/rose1.jpg").read_bytes()), tenant="b"
    )
    for_b = check.run(Evidence(selfie=selfie, subject_id="new", tenant_id="b"))
    assert all(m["subject_id"] == "b-1" for m in for_b.details["matches"])
    assert [g.name for g in gallery.galleries(tenant="b")] == ["onboarding"]
    assert gallery.galleries(tenant="c") == []
    engine.dispose()


def test_upgrade_from_0003_puts_existing_keys_and_data_in_the_default_tenant(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_keys (id, name, prefix, key_hash, created_at) "
                "VALUES ('k1', 'old', 'oidv_old', :h, CURRENT_TIMESTAMP)"
            ),
            {"h": "0" * 64},
        )
        conn.execute(
            text(
                "INSERT INTO face_galleries (name, backend, model_id, dim, generation, created_at, "
                "updated_at) VALUES ('onboarding', 'sface', 'm', 4, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        gid = conn.execute(text("SELECT id FROM face_galleries")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO face_templates (gallery_id, subject_id, template, quality, attributes, "
                "created_at) VALUES (:g, 's', :t, '{}', '{}', CURRENT_TIMESTAMP)"
            ),
            {"g": gid, "t": b"x"},
        )
    store = Store(engine)  # migrates to head
    (key,) = store.list_api_keys()
    assert key.tenant_id == "default" and key.scopes == SCOPES and key.expires_at is None
    assert store.list_tenants() == ["default"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT tenant_id FROM face_galleries")).scalar_one() == "default"
        # rebuilding face_galleries on SQLite must not cascade to the templates
        assert conn.execute(text("SELECT count(*) FROM face_templates")).scalar_one() == 1
    store.create_tenant("b")
    with engine.begin() as conn:  # gallery names are unique per tenant only
        conn.execute(
            text(
                "INSERT INTO face_galleries (tenant_id, name, backend, model_id, dim, generation, "
                "created_at, updated_at) "
                "VALUES ('b', 'onboarding', 'sface', 'm', 4, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()


def test_cli_tenants_keys_scopes_expiry_and_rotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENIDV_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli_app, list(args))

    assert run("tenants", "create", "acme").exit_code == 0
    assert "already exists" in run("tenants", "create", "acme").output
    assert run("tenants", "create", "Not Valid").exit_code == 2
    made = run(
        "keys",
        "create",
        "--name",
        "svc",
        "--tenant",
        "acme",
        "--scopes",
        "verifications:read",
        "--expires-in",
        "30",
    )
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    assert run("keys", "create", "--name", "x", "--tenant", "nope").exit_code == 2
    assert run("keys", "create", "--name", "x", "--scopes", "verifications:read,bogus").exit_code == 2
    store = Store.from_url(Settings.from_env().resolved_database_url())
    info = store.authenticate(key)
    assert info is not None and info.tenant_id == "acme" and info.scopes == ("verifications:read",)
    assert info.expires_at is not None and timedelta(
        days=29
    ) < info.expires_at - info.created_at <= timedelta(days=30)
    rotated = run("keys", "rotate", info.id, "--grace", "1")
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.output.strip().splitlines()[-1]
    new = store.authenticate(new_key)
    old = store.authenticate(key)  # still works during the grace period
    assert new is not None and old is not None and new.id != old.id
    assert (new.tenant_id, new.scopes, new.name) == (old.tenant_id, old.scopes, old.name)
    assert old.expires_at is not None and old.expires_at - old.created_at < timedelta(days=2)
    assert "acme" in run("tenants", "list").output
    store.revoke_api_key(new.id)
    assert "revoked" in run("keys", "rotate", new.id).output
    listed = json.loads(run("keys", "list", "--json", "--tenant", "acme").output)
    assert {k["id"] for k in listed} == {old.id, new.id} and listed[0]["scopes"] == ["verifications:read"]
    assert json.loads(run("keys", "list", "--json", "--tenant", "default").output) == []
    store.engine.dispose()


def test_cli_face_commands_work_in_a_tenant(tmp_path: Path, shared_data: Path) -> None:
    env = {
        "OPENIDV_DATA_DIR": str(tmp_path),
        "OPENIDV_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "OPENIDV_ENCRYPTION_KEY": base64.b64encode(b"c" * 32).decode(),
    }
    runner = CliRunner(env=env)
    photo = str(shared_data / "faces" / "biden" / "biden1.jpg")
    assert (
        runner.invoke(
            cli_app, ["face", "enroll", photo, "-g", "vip", "-s", "joe", "--tenant", "acme"]
        ).exit_code
        == 2
    )
    assert runner.invoke(cli_app, ["tenants", "create", "acme"]).exit_code == 0
    made = runner.invoke(cli_app, ["face", "enroll", photo, "-g", "vip", "-s", "joe", "--tenant", "acme"])
    assert made.exit_code == 0, made.output
    mine = runner.invoke(cli_app, ["face", "galleries", "--json", "--tenant", "acme"])
    assert [g["name"] for g in json.loads(mine.stdout)] == ["vip"]
    assert json.loads(runner.invoke(cli_app, ["face", "galleries", "--json"]).stdout) == []
    other = runner.invoke(cli_app, ["face", "search", photo, "-g", "vip"])
    assert other.exit_code == 2 and "no gallery" in other.output


def _check(verification: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in verification["checks"] if c["check"] == name]
    return found


def test_a_verification_searches_and_uses_only_its_tenants_gallery_and_sessions(world: World) -> None:
    selfie = world.photo("obama", 2)["image"]
    for tenant, subjects in (("a", ["a-1"]), ("b", [])):
        made = world.client.post(
            "/v1/verifications",
            files={"selfie": selfie},
            data={"subject_id": "new-applicant"},
            headers=bearer(world.key(tenant)),
        )
        assert made.status_code == 201, made.text
        duplicate = _check(made.json(), "face_duplicate")
        assert [m["subject_id"] for m in duplicate["details"]["matches"]] == subjects, tenant
    # A's (open) liveness session is A's: to B's verification it does not exist
    for tenant, code in (("a", "LIVENESS_SESSION_INCOMPLETE"), ("b", "LIVENESS_SESSION_UNKNOWN")):
        made = world.client.post(
            "/v1/verifications",
            json={"mrz": TD3, "liveness_session_id": world.session_id},
            headers=bearer(world.key(tenant)),
        )
        assert made.status_code == 201, made.text
        assert _check(made.json(), "liveness_session")["reason_codes"] == [code], tenant


def test_replay_lookups_stay_inside_the_tenant(world: World) -> None:
    selfie = {"selfie": world.photo("obama", 1)["image"]}
    a, b = bearer(world.key("a")), bearer(world.key("b"))
    first = world.client.post("/v1/verifications", files=selfie, headers=a)
    assert first.status_code == 201 and first.json()["decision"] != "reject", first.text
    with world.store.engine.connect() as conn:
        owners = set(conn.execute(text("SELECT DISTINCT tenant_id FROM liveness_capture_hashes")).scalars())
    assert owners == {"a"}
    # tenant B sending the same capture learns nothing of A's verification (not even its id)
    other = world.client.post("/v1/verifications", files=selfie, headers=b)
    assert "REPLAYED_CAPTURE" not in other.json()["reason_codes"]
    assert _check(other.json(), "injection")["details"]["replay_matches"] == []
    assert first.json()["id"] not in other.text
    # within tenant A it is a replay of A's verification
    again = world.client.post("/v1/verifications", files=selfie, headers=a)
    assert "REPLAYED_CAPTURE" in again.json()["reason_codes"]
    assert (
        _check(again.json(), "injection")["details"]["replay_matches"][0]["reference"] == first.json()["id"]
    )
