"""Issue 12: defects found by testing ``openidv serve``, each kept fixed here."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from openidv.store.db import make_engine
from openidv.store.models import Verification
from openidv.store.repository import Store, details_of


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), (128, 128, 128)).save(buffer, format="PNG")
    return buffer.getvalue()


def _form(**fields: str) -> dict[str, tuple[None, str]]:
    """Text fields sent as multipart/form-data (as the API's form expects)."""
    return {name: (None, value) for name, value in fields.items()}


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


def test_an_existing_database_file_is_never_opened_behind_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing any descriptor of a SQLite file drops the process's POSIX locks on it: ``openidv serve``
    opens a second engine on the same file while the first holds connections, so creating the file 0600
    must never open an existing one (that broke concurrent requests with "disk I/O error")."""
    db = tmp_path / "openidv.sqlite3"
    first = Store(make_engine(f"sqlite:///{db}"))
    opened: list[str] = []
    real_open = os.open

    def recording_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        fd = real_open(path, *args, **kwargs)  # a refused O_EXCL open makes no descriptor: not recorded
        opened.append(str(path))
        return fd

    monkeypatch.setattr(os, "open", recording_open)
    second = Store(make_engine(f"sqlite:///{db}"))
    monkeypatch.setattr(
        os, "open", real_open
    )  # only this: undo() would also drop the test's data dir and keys
    assert str(db) not in opened
    first.create_api_key("a")
    second.create_api_key("b")
    assert len(first.list_api_keys()) == 2
    first.engine.dispose()
    second.engine.dispose()


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


def _is_problem(response, status: int | tuple[int, ...]) -> dict:  # type: ignore[no-untyped-def,type-arg]
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict = response.json()  # type: ignore[type-arg]
    assert body["status"] == response.status_code
    for leak in ("Traceback", "SELECT", "psycopg", "sqlalchemy", "Error:", "RecursionError"):
        assert leak not in response.text, response.text
    return body


def _verifications(store: Store) -> int:
    with store.transaction() as session:
        return int(session.execute(select(func.count()).select_from(Verification)).scalar_one())


def test_deeply_nested_declared_is_a_problem_not_a_crash(api_client) -> None:  # type: ignore[no-untyped-def]
    client, store, headers = api_client
    deep = "[" * 2000 + "]" * 2000
    form = client.post("/v1/verifications", files=_form(mrz=TD3, declared=deep), headers=headers)
    assert "nested deeper" in _is_problem(form, 422)["detail"]
    wrapped = "[" * 7 + '{"surname": "Eriksson"}' + "]" * 7  # within the limit: an ordinary 422
    assert (
        "nested"
        not in _is_problem(
            client.post("/v1/verifications", files=_form(mrz=TD3, declared=wrapped), headers=headers), 422
        )["detail"]
    )
    body = '{"mrz": ' + json.dumps(TD3) + ', "declared": {"surname": ' + deep + "}}"
    _is_problem(
        client.post(
            "/v1/verifications", content=body, headers={**headers, "Content-Type": "application/json"}
        ),
        (400, 422),
    )
    assert _verifications(store) == 0


def test_json_depth_ignores_brackets_in_strings() -> None:
    from openidv.api.multipart import json_depth

    assert json_depth('{"surname": "[[[{{{\\"]]]"}') == 1
    assert json_depth('[[1], {"a": [2]}]') == 3


def test_face_ids_beyond_64_bits_are_not_found_or_invalid(api_client) -> None:  # type: ignore[no-untyped-def]
    client, _, headers = api_client
    for face_id in (2**63, 2**64 + 5, 10**30, -1, 0):
        _is_problem(client.delete(f"/v1/galleries/onboarding/faces/{face_id}", headers=headers), 422)
    _is_problem(client.delete(f"/v1/galleries/onboarding/faces/{2**63 - 1}", headers=headers), 404)


def test_nul_in_ids_and_text_is_refused_before_the_store(api_client) -> None:  # type: ignore[no-untyped-def]
    client, store, headers = api_client
    for path in (
        "/v1/verifications/abc%00def",
        "/v1/liveness/sessions/abc%00def",
        "/v1/galleries/onboarding%00/faces/1",
        "/v1/verifications/abc?x=%00",
    ):
        response = client.get(path, headers=headers)
        _is_problem(response, 400)
        assert response.headers["x-request-id"]
    json_nul = client.post(
        "/v1/verifications", json={**BODY, "liveness_session_id": "abc\x00def"}, headers=headers
    )
    assert "liveness_session_id" in _is_problem(json_nul, 422)["detail"]
    declared_nul = client.post(
        "/v1/verifications",
        json={**BODY, "declared": {"surname": "A", "document_number": "X\x00"}},
        headers=headers,
    )
    _is_problem(declared_nul, 422)
    for field in ("subject_id", "liveness_session_id"):
        form = client.post(
            "/v1/verifications", files=_form(mrz=TD3, **{field: "abc\x00def"}), headers=headers
        )
        assert field in _is_problem(form, 422)["detail"]
    enrol = client.post(
        "/v1/galleries/onboarding/faces",
        data={"subject_id": "c\x00-1"},
        files={"image": ("a.png", _png(64, 64), "image/png")},
        headers=headers,
    )
    assert "subject_id" in _is_problem(enrol, 422)["detail"]
    assert _verifications(store) == 0


def test_anything_unexpected_is_a_problem_500_with_a_request_id(api_client, caplog) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    client, store, headers = api_client

    def broken(verification_id: str, tenant_id: str = "default") -> None:
        raise DataError("SELECT * FROM verifications WHERE id = %(id)s", {"id": verification_id}, None)

    store.get_verification = broken
    quiet = TestClient(client.app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="openidv.api.problems"):
        response = quiet.get("/v1/verifications/v-1", headers={**headers, "X-Request-ID": "req-12"})
    body = _is_problem(response, 500)
    assert body["request_id"] == "req-12" and response.headers["x-request-id"] == "req-12"
    assert "req-12" in caplog.text and "SELECT" in caplog.text  # the details stay in the server log
    fresh = quiet.get("/v1/verifications/v-1", headers={**headers, "X-Request-ID": "bad id\twith tab"})
    assert _is_problem(fresh, 500)["request_id"] not in ("", "bad id\twith tab")


def test_a_verification_names_only_a_duplicate_at_the_policy_threshold(api_client, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 12 #1: a selfie-only verification used to list the top-k enrolled subjects with similarities;
    now only a hit the policy calls a duplicate names its subject, the rest are only counted, in the
    response, the stored record and the audit log alike."""
    from openidv.store.models import AuditEntry, CheckResultRow

    client, store, headers = api_client
    faces = shared_data / "faces"
    for subject, photo in (("customer-1", "obama/obama1.jpg"), ("customer-2", "rose_leslie/rose1.jpg")):
        enrolled = client.post(
            "/v1/galleries/onboarding/faces",
            files={"image": ("p.jpg", (faces / photo).read_bytes(), "image/jpeg")},
            data={"subject_id": subject},
            headers=headers,
        )
        assert enrolled.status_code == 201, enrolled.text

    def verify(photo: str, subject: str) -> dict:  # type: ignore[type-arg]
        response = client.post(
            "/v1/verifications",
            files={
                "selfie": ("s.jpg", (faces / photo).read_bytes(), "image/jpeg"),
                "subject_id": (None, subject),
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        body: dict = response.json()  # type: ignore[type-arg]
        fetched = client.get(f"/v1/verifications/{body['id']}", headers=headers)
        assert fetched.json() == body
        return body

    newcomer = verify("alex_lacamoire/alex1.jpg", "customer-3")
    duplicate = next(c for c in newcomer["checks"] if c["check"] == "face_duplicate")
    assert duplicate["status"] == "ok" and duplicate["details"]["gallery_size"] == 2
    assert duplicate["details"]["matches"] == [] and duplicate["details"]["below_threshold"] == 2
    assert "customer-1" not in json.dumps(newcomer) and "customer-2" not in json.dumps(newcomer)

    fraud = verify("obama/obama2.jpg", "customer-99")
    assert "FACE_DUPLICATE_IDENTITY" in fraud["reason_codes"]
    duplicate = next(c for c in fraud["checks"] if c["check"] == "face_duplicate")
    assert [m["subject_id"] for m in duplicate["details"]["matches"]] == ["customer-1"]
    assert duplicate["details"]["below_threshold"] == 1 and "customer-2" not in json.dumps(fraud)

    with store.transaction() as session:
        stored = json.dumps(  # details are sealed at rest: open them to see what is stored
            [details_of(r, store.keyring) for r in session.execute(select(CheckResultRow)).scalars()]
        )
        audit = json.dumps(
            [
                r.payload
                for r in session.execute(
                    select(AuditEntry).where(AuditEntry.action == "verification.created")
                ).scalars()
            ],
            default=str,
        )
    # customer-1 is named twice: by face_duplicate's match, and by the graph check's face key for it
    # (issue 13: the 1:N gallery's duplicates are the graph's face clusters); customer-2 nowhere
    assert "customer-2" not in stored and stored.count("customer-1") == 2
    assert stored.count('"face:customer-1"') == 1
    assert "customer-" not in audit


def test_disclosure_fails_closed_when_the_policy_cannot_judge() -> None:
    from openidv.checks.face.duplicate import FaceDuplicateCheck
    from openidv.results import CheckResult, Meaning, Status

    raw = CheckResult(
        check="face_duplicate",
        version="1",
        status=Status.OK,
        score=0.9,
        meaning=Meaning.ATTACK,
        details={
            "matches": [{"subject_id": "c-1", "similarity": 0.9}, {"subject_id": "c-2", "similarity": 0.5}]
        },
    )
    check = FaceDuplicateCheck.__new__(FaceDuplicateCheck)  # disclose needs no services
    assert check.disclose(raw, lambda _name, _score: False).details["matches"] == []
    named = check.disclose(raw, lambda name, score: name == "duplicate" and score >= 0.75)
    assert named.details["matches"] == [{"subject_id": "c-1", "similarity": 0.9}]
    assert named.details["below_threshold"] == 1 and named.score == 0.9


def _encoded(size: tuple[int, int], fmt: str, mode: str = "RGB", **options: object) -> bytes:
    buffer = io.BytesIO()
    PILImage.new(mode, size, 128 if mode == "L" else (200, 200, 200)).save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def tiny_huge_webp() -> bytes:
    """The issue's file: a 1,582-byte lossless WebP that decodes to 6300x6300 (39.7 MP, under 40 MP)."""
    return _encoded((6300, 6300), "WEBP", lossless=True)


def test_a_tiny_webp_of_huge_dimensions_is_refused_per_field_before_decoding(
    api_client, tiny_huge_webp: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from openidv import imageio

    client, store, headers = api_client
    budget = imageio.DecodeBudget(1 << 30)
    monkeypatch.setattr(imageio, "DECODE_BUDGET", budget)
    assert len(tiny_huge_webp) < 4096
    for field in ("selfie", "document", "document_back"):
        response = client.post(
            "/v1/verifications", files={field: ("x.webp", tiny_huge_webp, "image/webp")}, headers=headers
        )
        detail = _is_problem(response, 422)["detail"]
        assert detail.startswith(f"{field}:") and "megapixel limit" in detail, detail
    enrol = client.post(
        "/v1/galleries/onboarding/faces",
        files={"image": ("x.webp", tiny_huge_webp, "image/webp")},
        data={"subject_id": "c-1"},
        headers=headers,
    )
    assert "megapixel limit" in _is_problem(enrol, 422)["detail"]
    assert budget.peak == 0  # refused from the header: no pixel was decoded
    assert _verifications(store) == 0


def test_a_large_jpeg_selfie_is_decoded_reduced_and_bounded() -> None:
    from openidv.imageio import DEFAULT_LIMITS, SELFIE_LIMITS, load_image

    data = _encoded((7000, 5000), "JPEG", mode="L", quality=80)  # 35 MP: within the general 40 MP limit
    full_size = 7000 * 5000 * 3
    tracemalloc.start()
    try:
        selfie = load_image(data, name="selfie", limits=SELFIE_LIMITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (selfie.width, selfie.height, selfie.scale) == (3500, 2500, 0.5)
    assert selfie.source_size == (7000, 5000)
    assert peak < full_size  # never one full-size copy, let alone several
    assert load_image(data, limits=DEFAULT_LIMITS).scale == 1.0  # the general limit still decodes it whole


def test_ordinary_phone_photos_are_not_reduced() -> None:
    """Face scores of normal photos must not change: a 12 MP phone selfie and a 20 MP document photo decode
    at full size under their fields' caps."""
    from openidv.imageio import DOCUMENT_LIMITS, SELFIE_LIMITS, load_image

    selfie = load_image(_encoded((4032, 3024), "JPEG", mode="L"), limits=SELFIE_LIMITS)
    assert (selfie.width, selfie.height, selfie.scale) == (4032, 3024, 1.0)
    document = load_image(_encoded((5184, 3888), "JPEG", mode="L"), limits=DOCUMENT_LIMITS)
    assert (document.width, document.height, document.scale) == (5184, 3888, 1.0)


def test_decodes_reserve_their_memory_from_one_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    from openidv import imageio

    reserved: list[int] = []

    class Recording(imageio.DecodeBudget):
        @contextmanager
        def reserve(self, nbytes: int):  # type: ignore[no-untyped-def,override]
            reserved.append(nbytes)
            with super().reserve(nbytes):
                yield

    monkeypatch.setattr(imageio, "DECODE_BUDGET", Recording(1 << 30))
    imageio.load_image(_encoded((640, 480), "PNG"))
    assert reserved == [640 * 480 * imageio.DECODE_BYTES_PER_PIXEL]


def test_the_decode_budget_queues_what_does_not_fit() -> None:
    from openidv.imageio import DecodeBudget

    budget = DecodeBudget(100)
    entered = threading.Event()
    with budget.reserve(80):
        second = threading.Thread(target=lambda: _hold(budget, 50, entered))
        second.start()
        while budget.waiting == 0:  # the second decode is queued, not running
            threading.Event().wait(0.001)
        assert not entered.is_set() and budget.in_use == 80
    second.join(timeout=30)
    assert entered.is_set() and budget.in_use == 0 and budget.peak == 80
    with budget.reserve(500):  # larger than the whole budget: runs alone rather than never
        assert budget.in_use == 500


def _hold(budget, nbytes: int, entered: threading.Event) -> None:  # type: ignore[no-untyped-def]
    with budget.reserve(nbytes):
        entered.set()


def test_the_library_verify_uses_the_same_field_caps(tiny_huge_webp: bytes) -> None:
    import openidv
    from openidv.errors import InvalidInput

    with pytest.raises(InvalidInput, match=r"selfie: .*megapixel limit"):
        openidv.verify(selfie=tiny_huge_webp, save=False)


def test_a_database_error_inside_a_check_is_stored_and_shown_without_its_sql(api_client, caplog) -> None:  # type: ignore[no-untyped-def]
    """The issue's case: PostgreSQL's DataError (with its SQL text) raised inside the liveness-session check
    ended up in the stored check's details.error and in the response."""
    from openidv.store.models import CheckResultRow

    client, store, headers = api_client

    def broken(session_id: str, *, tenant: str = "default") -> None:
        raise DataError("SELECT * FROM liveness_sessions WHERE id = %(id)s", {"id": session_id}, None)

    client.app.state.services.liveness_sessions.session_verdict = broken
    with caplog.at_level(logging.ERROR, logger="openidv.pipeline"):
        response = client.post(
            "/v1/verifications",
            json={**BODY, "liveness_session_id": "s-1"},
            headers={**headers, "X-Request-ID": "req-sql"},
        )
    assert response.status_code == 201, response.text
    check = next(c for c in response.json()["checks"] if c["check"] == "liveness_session")
    assert check["status"] == "error" and check["reason_codes"] == ["CHECK_ERROR"]
    assert set(check["details"]) == {"error", "error_id"}
    with store.transaction() as session:
        stored = json.dumps(  # details are sealed at rest: open them to see what is stored
            [details_of(r, store.keyring) for r in session.execute(select(CheckResultRow)).scalars()]
        )
    for text in (response.text, stored):
        assert "SELECT" not in text and "DataError" not in text and "liveness_sessions" not in text
    assert (
        check["details"]["error_id"] in caplog.text and "req-sql" in caplog.text and "SELECT" in caplog.text
    )
