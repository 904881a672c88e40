"""1:N gallery on real photos: enrol, search, duplicates, delete, restart, crash consistency, encryption;
on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from openidv.checks.face.analysis import face_embedding, find_faces
from openidv.checks.face.duplicate import FaceDuplicateCheck
from openidv.checks.face.embed import F32Array
from openidv.checks.services import FACE_GALLERY
from openidv.crypto import KEY_ENV, BiometricCipher, load_cipher
from openidv.decision.policy import load_policy
from openidv.errors import ConfigurationError, InvalidInput, NotFound
from openidv.evidence import Evidence
from openidv.imageio import Image, load_image
from openidv.pipeline import Pipeline
from openidv.results import Outcome, Status
from openidv.services.face_gallery import DuplicateFace, GalleryService
from openidv.services.face_index import FaceIndex
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.gallery_tables import create_gallery_tables

KEY = BiometricCipher(bytes(range(32)))


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> dict[str, Image]:
    faces = shared_data / "faces"
    names = {
        "obama1": "obama/obama1.jpg",
        "obama2": "obama/obama2.jpg",
        "obama4": "obama/obama4.jpg",
        "biden1": "biden/biden1.jpg",
        "biden2": "biden/biden2.jpg",
        "rose1": "rose_leslie/rose1.jpg",
        "rose2": "rose_leslie/rose2.jpg",
        "alex1": "alex_lacamoire/alex1.jpg",
        "partial": "obama/obama7_partial.jpg",
    }
    return {k: load_image(faces / v) for k, v in names.items()}


@pytest.fixture
def service_factory(database_url: str, tmp_path: Path) -> Iterator[object]:
    engine = make_engine(database_url)
    create_gallery_tables(engine)

    def make(**kwargs: object) -> GalleryService:
        return GalleryService(engine, tmp_path / "galleries", cipher=KEY, **kwargs)  # type: ignore[arg-type]

    yield make
    engine.dispose()


def test_enrol_search_duplicate_delete_restart(service_factory, photos: dict[str, Image]) -> None:  # type: ignore[no-untyped-def]
    svc: GalleryService = service_factory()
    a = svc.enroll("vip", "subject-obama", photos["obama1"])
    b = svc.enroll("vip", "subject-biden", photos["biden1"])
    c = svc.enroll("vip", "subject-rose", photos["rose1"])
    assert len({a.face_id, b.face_id, c.face_id}) == 3
    assert svc.info("vip").size == 3 and svc.info("vip").index_kind == "flat"

    found = svc.search("vip", photos["obama2"], k=3)
    assert found.matches[0].subject_id == "subject-obama"
    assert found.matches[0].similarity >= (found.threshold or 1.0) > found.matches[1].similarity
    assert str(found.target).startswith("fpir=1e-2") and found.gallery_size == 3

    # the same face under another identity is refused, with who it already is
    with pytest.raises(DuplicateFace, match=r"already enrolled .* as subject 'subject-obama'") as info:
        svc.enroll("vip", "someone-else", photos["obama4"])
    assert info.value.matches[0].face_id == a.face_id
    # the same person again is fine, and so is a forced duplicate
    again = svc.enroll("vip", "subject-obama", photos["obama4"])
    assert again.duplicates == []
    forced = svc.enroll("vip", "someone-else", photos["biden2"], allow_duplicate=True)
    assert forced.duplicates and forced.duplicates[0].subject_id == "subject-biden"

    # erasure: gone from search, from SQL and from the index file
    svc.delete("vip", b.face_id)
    svc.delete("vip", forced.face_id)
    with pytest.raises(NotFound):
        svc.delete("vip", b.face_id)
    hits = svc.search("vip", photos["biden2"], k=5).matches
    assert all(h.subject_id != "subject-biden" and h.face_id != forced.face_id for h in hits)

    # restart: a new service on the same database and folder answers the same
    fresh: GalleryService = service_factory()
    assert fresh.check_consistency("vip")["consistent"]
    top = fresh.search("vip", photos["rose2"], k=1).matches[0]
    assert top.subject_id == "subject-rose" and top.face_id == c.face_id
    assert fresh.info("vip").size == 3
    assert fresh.delete_subject("vip", "subject-obama") == 2
    assert fresh.info("vip").size == 1


def test_enrol_refuses_no_face_and_low_quality(service_factory, photos: dict[str, Image]) -> None:  # type: ignore[no-untyped-def]
    svc: GalleryService = service_factory()
    with pytest.raises(InvalidInput, match="FACE_NOT_FOUND"):
        svc.enroll("g", "x", Image.from_array(np.full((200, 200, 3), 128, np.uint8)))
    with pytest.raises(InvalidInput, match="FACE_PARTIAL"):
        svc.enroll("g", "x", photos["partial"])
    assert svc.enroll("g", "x", photos["partial"], allow_low_quality=True).quality["failed"] == [
        "FACE_PARTIAL"
    ]
    with pytest.raises(InvalidInput, match="gallery name"):
        svc.enroll("../etc", "x", photos["obama1"])
    with pytest.raises(NotFound):
        svc.search("nope", photos["obama1"])


class Crash(RuntimeError):
    pass


def test_crash_between_sql_and_index_write_leaves_a_consistent_gallery(  # type: ignore[no-untyped-def]
    service_factory, photos: dict[str, Image], monkeypatch: pytest.MonkeyPatch
) -> None:
    svc: GalleryService = service_factory()
    keep = svc.enroll("g", "obama", photos["obama1"])
    doomed = svc.enroll("g", "biden", photos["biden1"])
    gallery_id = svc._loaded[("default", "g")].gallery_id

    def crash(*_: object) -> None:
        raise Crash("power cut after the SQL commit, before the index file")

    # enrolment: the row is committed, the index file is not written
    crashing: GalleryService = service_factory()
    monkeypatch.setattr(crashing, "_write_index", crash)
    with pytest.raises(Crash):
        crashing.enroll("g", "rose", photos["rose1"])
    # deletion: the row is gone, the index file still has the template
    with pytest.raises(Crash):
        crashing.delete("g", doomed.face_id)
    monkeypatch.undo()

    # the index file on disk is stale: it lacks the new template and still holds the deleted one
    stale = service_factory()._read_index(gallery_id, 128)
    assert stale is not None and doomed.face_id in stale[1].ids() and len(stale[1].ids()) == 2

    restarted: GalleryService = service_factory()
    report = restarted.check_consistency("g")
    assert report["consistent"] and report["rows"] == 2, report
    assert restarted.search("g", photos["rose2"], k=1).matches[0].subject_id == "rose"
    assert all(m.face_id != doomed.face_id for m in restarted.search("g", photos["biden2"], k=5).matches)
    assert restarted.search("g", photos["obama2"], k=1).matches[0].face_id == keep.face_id
    # the process that saw the old state reconciles by generation too
    assert all(m.face_id != doomed.face_id for m in svc.search("g", photos["biden2"], k=5).matches)


def test_templates_and_index_are_encrypted_at_rest(  # type: ignore[no-untyped-def]
    service_factory, photos: dict[str, Image], tmp_path: Path
) -> None:
    svc: GalleryService = service_factory()
    result = svc.enroll("enc", "obama", photos["obama1"])
    face = find_faces(photos["obama1"]).largest
    assert face is not None
    raw = face_embedding(photos["obama1"], face).vector.astype("<f4").tobytes()
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from openidv.store.gallery_tables import FaceTemplate

    with Session(svc.engine) as session:
        blob = session.scalar(select(FaceTemplate.template).where(FaceTemplate.id == result.face_id))
    assert blob is not None and raw not in blob and raw[:64] not in blob
    assert blob.startswith(b"OIDV1")
    files = list((tmp_path / "galleries").glob("*.faiss.enc"))
    assert files and all(raw[:64] not in f.read_bytes() for f in files)
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
    other = GalleryService(svc.engine, tmp_path / "galleries-2", cipher=BiometricCipher(b"\x01" * 32))
    with pytest.raises(ConfigurationError, match="another key"):
        other.search("enc", photos["obama2"])


def test_key_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path)
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ConfigurationError, match="no encryption key for biometric data"):
        load_cipher(settings)
    demo = load_cipher(settings, demo=True)  # the demo writes a key file, mode 0600
    key_file = tmp_path / "keys" / "biometric.key"
    assert key_file.is_file() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert load_cipher(settings).key_id == demo.key_id
    monkeypatch.setenv(KEY_ENV, base64.b64encode(os.urandom(32)).decode())
    assert load_cipher(settings).key_id != demo.key_id
    monkeypatch.setenv(KEY_ENV, "c2hvcnQ=")
    with pytest.raises(ConfigurationError, match="32"):
        load_cipher(settings)


def test_face_duplicate_check_and_policy(service_factory, photos: dict[str, Image]) -> None:  # type: ignore[no-untyped-def]
    svc: GalleryService = service_factory()
    policy = load_policy()
    check = FaceDuplicateCheck({FACE_GALLERY: svc}, **policy.params("face_duplicate"))
    empty = check.run(Evidence(selfie=photos["obama2"]))
    assert empty.status == Status.OK and empty.score == 0.0 and empty.details["gallery_size"] == 0
    svc.enroll("onboarding", "customer-1", photos["obama1"])
    svc.enroll("onboarding", "customer-2", photos["rose1"])
    pipeline = Pipeline(policy, [check])
    fraud = pipeline.run(Evidence(selfie=photos["obama2"], subject_id="customer-99"))
    assert fraud.decision.outcome == Outcome.REVIEW
    assert "FACE_DUPLICATE_IDENTITY" in fraud.decision.reason_codes
    assert fraud.results[0].details["matches"][0]["subject_id"] == "customer-1"
    # only the duplicate is named; the other enrolled subject is counted, never identified (issue 12)
    assert [m["subject_id"] for m in fraud.results[0].details["matches"]] == ["customer-1"]
    assert fraud.results[0].details["below_threshold"] == 1
    returning = pipeline.run(Evidence(selfie=photos["obama2"], subject_id="customer-1"))
    assert "FACE_DUPLICATE_IDENTITY" not in returning.decision.reason_codes
    newcomer = pipeline.run(Evidence(selfie=photos["alex1"], subject_id="customer-3"))
    assert newcomer.decision.outcome == Outcome.APPROVE, newcomer.decision


def test_ivf_index_recall_removal_and_round_trip() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(6000, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1000, 7000, dtype=np.int64)
    exact = FaceIndex.build(ids, vectors, approx_threshold=10**9)
    approx = FaceIndex.ivf(vectors)  # kept for the bench and for older index files
    approx.add(ids, vectors)
    assert (exact.kind, approx.kind) == ("flat", "ivf")
    queries = vectors[:50] + 0.05 * rng.normal(size=(50, 128)).astype(np.float32)
    _, truth = exact.search(queries, 1)
    _, got = approx.search(queries, 1)
    assert (truth[:, 0] == got[:, 0]).mean() >= 0.95
    assert approx.remove([1000, 1001]) == 2 and 1000 not in approx.ids() and approx.ntotal == 5998
    _, after = approx.search(queries[:2], 5)
    assert 1000 not in after[0] and 1001 not in after[1]
    copy = FaceIndex.from_bytes(approx.to_bytes(), "ivf", 128, approx.nprobe)
    assert copy.ids() == approx.ids()


def test_demo_rows_show_each_case(shared_data: Path) -> None:
    from openidv.demo_faces import face_demo_rows

    rows = {r["case"].split(" (")[0]: r for r in face_demo_rows(shared_data)}
    assert rows["genuine match"]["outcome"] == "approve"
    assert rows["impostor"]["reason_codes"] == ["FACE_MISMATCH"]
    assert "FACE_PARTIAL" in rows["quality failure"]["reason_codes"]
    assert rows["duplicate identity"]["reason_codes"] == ["FACE_DUPLICATE_IDENTITY"]
    assert rows["duplicate identity"]["duplicate_of"] == "customer-1002"


def _unit_vectors(n: int, seed: int) -> F32Array:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 128)).astype(np.float32)
    out: F32Array = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return out


def test_hnsw_index_erases_in_place_and_compacts() -> None:
    vectors = _unit_vectors(3000, 11)
    ids = np.arange(5000, 8000, dtype=np.int64)
    exact = FaceIndex.build(ids, vectors, approx_threshold=10**9)
    approx = FaceIndex.build(ids, vectors, approx_threshold=1000, approx_kind="hnsw")
    assert (exact.kind, approx.kind) == ("flat", "hnsw")
    queries = (vectors[:50] + 0.05 * _unit_vectors(50, 12)).astype(np.float32)
    _, truth = exact.search(queries, 1)
    _, got = approx.search(queries, 1)
    assert (truth[:, 0] == got[:, 0]).mean() >= 0.95

    doomed = [5000, 5001, 5002]
    secret = [vectors[i].astype("<f4").tobytes() for i in range(3)]
    before = approx.to_bytes()
    assert all(s in before for s in secret)  # the index holds the biometric floats...
    assert approx.remove(doomed) == 3 and approx.remove([5000]) == 0
    after = approx.to_bytes()
    # ...and after erasure not one 16-byte piece of them is left in the serialised index
    assert not any(s[i : i + 16] in after for s in secret for i in range(0, len(s), 16))
    assert approx.ntotal == 2997 and approx.stored == 3000 and not set(doomed) & approx.ids()
    # searching with the erased template itself never returns it, at any k
    sims, found = approx.search(vectors[:3], 50)
    assert not np.isin(found, doomed).any() and sims.max() < 0.999
    assert found[0, 0] == truth_without(exact, doomed, vectors[0])

    copy = FaceIndex.from_bytes(after, "hnsw", 128, None, approx.ef_search)
    assert copy.erased == set(doomed) and copy.ids() == approx.ids()  # known from the zeroed rows
    assert not np.isin(copy.search(vectors[:3], 10)[1], doomed).any()

    assert not approx.needs_compaction(0.01) and approx.needs_compaction(0.0005)
    live_ids, live_vectors = approx.live()
    assert len(live_ids) == 2997 and np.array_equal(live_vectors[0], vectors[3])


def truth_without(exact: FaceIndex, gone: list[int], query: F32Array) -> int:
    _, ids = exact.search(query[None, :], len(gone) + 1)
    return int(next(i for i in ids[0] if i not in gone))


@pytest.mark.parametrize("kind", ["hnsw", "pq_rerank"])
def test_approximate_gallery_erasure_restart_crash_and_compaction(  # type: ignore[no-untyped-def]
    service_factory, photos: dict[str, Image], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # approx_threshold 2 puts even this small gallery on the approximate kind; HNSW compacts after
    # more than 40% of it is erased
    opts = {"approx_threshold": 2, "compact_fraction": 0.4, "approx_kind": kind}
    svc: GalleryService = service_factory(**opts)
    obama = svc.enroll("big", "obama", photos["obama1"])
    assert svc.info("big").index_kind == "flat"
    biden = svc.enroll("big", "biden", photos["biden1"])
    rose = svc.enroll("big", "rose", photos["rose1"])
    alex = svc.enroll("big", "alex", photos["alex1"])
    assert svc.info("big").index_kind == kind and svc.info("big").size == 4
    assert svc.search("big", photos["obama2"], k=1).matches[0].face_id == obama.face_id

    face = find_faces(photos["biden1"]).largest
    assert face is not None
    raw = face_embedding(photos["biden1"], face).vector.astype("<f4").tobytes()
    gallery_id = svc._loaded[("default", "big")].gallery_id
    assert raw[:64] in svc._loaded[("default", "big")].index.to_bytes()
    svc.delete("big", biden.face_id)
    index = svc._loaded[("default", "big")].index
    assert index.kind == kind and index.ntotal == 3
    # HNSW: erased in place, 1 of 4 (no compaction yet); pq_rerank: removed, codes encoded again
    assert index.erased == ({biden.face_id} if kind == "hnsw" else set())
    assert index.stored == (4 if kind == "hnsw" else 3)
    # gone from the in-memory index bytes and from the (decrypted) index file
    assert raw[:64] not in index.to_bytes() and raw[64:] not in index.to_bytes()
    path = svc._index_path(gallery_id)
    plain = KEY.decrypt(path.read_bytes(), f"openidv-gallery-index:{gallery_id}".encode())
    assert raw[:64] not in plain and raw[64:] not in plain
    assert all(m.face_id != biden.face_id for m in svc.search("big", photos["biden2"], k=5).matches)

    # a crash between the SQL commit and the index write of a deletion: the restart erases it too
    crashing: GalleryService = service_factory(**opts)
    monkeypatch.setattr(crashing, "_write_index", lambda *_: (_ for _ in ()).throw(Crash("cut")))
    with pytest.raises(Crash):
        crashing.delete("big", alex.face_id)
    monkeypatch.undo()
    restarted: GalleryService = service_factory(**opts)
    report = restarted.check_consistency("big")
    assert report["consistent"] and report["rows"] == 2, report
    # HNSW: 2 of 4 erased passes 40%: compacted into a fresh graph without the erased nodes
    assert (
        restarted._loaded[("default", "big")].index.erased == set()
        and restarted._loaded[("default", "big")].index.stored == 2
    )
    assert restarted._loaded[("default", "big")].index.kind == kind
    top = restarted.search("big", photos["rose2"], k=5).matches
    assert top[0].face_id == rose.face_id and {m.face_id for m in top} == {obama.face_id, rose.face_id}
    assert svc.info("big").size == 2  # the first process reconciles by generation


def test_pq_rerank_index_removes_for_real_and_round_trips() -> None:
    vectors = _unit_vectors(4000, 21)
    ids = np.arange(100, 4100, dtype=np.int64)
    exact = FaceIndex.build(ids, vectors, approx_threshold=10**9)
    approx = FaceIndex.build(ids, vectors, approx_threshold=1000, approx_kind="pq_rerank")
    assert approx.kind == "pq_rerank" and approx.codes is not None
    queries = _unit_vectors(40, 22)  # unrelated probes: the hardest case for the candidate scan
    truth_sims, truth = exact.search(queries, 10)
    sims, got = approx.search(queries, 10)
    assert np.mean([len(set(t) & set(g)) / 10 for t, g in zip(truth, got, strict=True)]) >= 0.97
    assert np.allclose(sims[:, 0], truth_sims[:, 0], atol=1e-5)  # re-ranked on the exact floats

    secret = [vectors[i].astype("<f4").tobytes() for i in range(2)]
    assert all(s in approx.to_bytes() for s in secret)
    assert approx.remove([100, 101, 1]) == 2 and approx.ntotal == approx.stored == 3998
    after = approx.to_bytes()
    assert not any(s[i : i + 16] in after for s in secret for i in range(0, len(s), 16))
    assert approx.codes.ntotal == 3998 and not {100, 101} & approx.ids()
    _, found = approx.search(vectors[:2], 20)
    assert not np.isin(found, [100, 101]).any()
    copy = FaceIndex.from_bytes(after, "pq_rerank", 128, None, None, approx.candidates)
    assert copy.ids() == approx.ids()
    assert np.array_equal(copy.search(queries, 5)[1], approx.search(queries, 5)[1])
    approx.add([9999], vectors[:1])
    assert approx.search(vectors[:1], 1)[1][0, 0] == 9999
