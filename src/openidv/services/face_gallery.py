"""1:N face galleries: enrol, search and erase faces in named galleries, crash-consistent.

``GalleryService`` keeps one FAISS index per gallery (``openidv.services.face_index``) in step with the
templates stored by ``openidv.store.gallery_repository`` (SQL is the source of truth; see there for the
encrypted templates and index file).

Tenancy. A gallery belongs to a tenant and its name is unique within it; every method takes ``tenant``
(default ``openidv.tenancy.DEFAULT_TENANT``) and only ever resolves names inside it. Indexes are kept per
gallery row (in memory by tenant and name, on disk by gallery id), so a search can never return another
tenant's template, and another tenant's gallery or face is ``NotFound``.

Consistency. Every enrolment or deletion commits its row change and a bump of the gallery's generation
in one transaction *first*, then updates the in-memory index and rewrites the index file atomically (for
large galleries enrolments are batched into one rewrite, see ``SNAPSHOT_EVERY``). Before answering, the
service compares the generation in SQL with its own; on a difference (another process wrote, or a crash
fell between the SQL commit and the file write) it reconciles the index with the rows: templates missing
from the index are decrypted and added, ids with no row are removed, and the file is rewritten. Searches
also drop any hit whose row is gone. So no template is ever served from the index without its row, and
after any crash the next open restores "same ids in SQL and index". Template ids are never reused.

Erasure. ``delete`` removes the row (and with it the encrypted template) and the vector from the index,
and rewrites the index file without it; nothing of the template remains in openidv's files beyond
encrypted pages the database has yet to reuse (run ``VACUUM`` on SQLite to reclaim them).

Decisions. Whether a hit is "the same person" is the policy's call:
``policy.judge_score("face_duplicate", "duplicate", similarity)`` (``judge_duplicate``), used to refuse
a duplicate enrolment; searches report the threshold and its target next to the hits.

Faces are found, measured and embedded by ``openidv.checks.face.analysis``, with the policy's
``face_quality`` parameters, like the checks of a verification.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine

from openidv.checks.face.analysis import face_embedding, largest_face_sample
from openidv.checks.face.embed import F32Array, get_embedder, similarity_from_cosine
from openidv.checks.face.params import FaceMatchParams, FaceQualityParams
from openidv.crypto import BiometricCipher, load_cipher
from openidv.decision.policy import Policy, ThresholdVerdict, load_policy
from openidv.errors import Conflict, InvalidInput, NotFound
from openidv.imageio import Image
from openidv.services.face_index import (
    APPROX_KIND,
    APPROX_KINDS,
    APPROX_THRESHOLD,
    HNSW_COMPACT_FRACTION,
    FaceIndex,
)
from openidv.settings import Settings
from openidv.store.audit import AuditLog
from openidv.store.db import make_engine
from openidv.store.gallery_repository import GalleryRecord, GalleryRepository, create_gallery_tables
from openidv.tenancy import DEFAULT_TENANT

MAX_K = 100
#: face ids are the store's 64-bit signed integer keys
MAX_FACE_ID = 2**63 - 1
#: after an enrolment the index file is rewritten once at least ``size // SNAPSHOT_EVERY`` enrolments
#: are unsaved (every time below 10k templates, every 100th at 1M), so a large gallery does not rewrite
#: its whole file per enrolment; SQL keeps every template meanwhile and a restart reconciles from it.
#: Deletions always rewrite the file at once (erasure).
SNAPSHOT_EVERY = 10_000
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def validate_gallery_name(name: str) -> str:
    if not name or len(name) > 100 or not set(name) <= _NAME_CHARS or name.startswith("."):
        raise InvalidInput(
            f"gallery name {name!r}: use 1-100 letters, digits, '-', '_' or '.', not starting with '.'"
        )
    return name


# ------------------------------------------------------------------------------------------ results


class GalleryMatch(BaseModel):
    model_config = ConfigDict(frozen=True)

    face_id: int
    subject_id: str
    similarity: float  # (1 + cosine) / 2, like face_match
    cosine: float


class GalleryInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    backend: str
    model_id: str
    size: int
    index_kind: str
    generation: int


class EnrollResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    gallery: str
    face_id: int
    subject_id: str
    quality: dict[str, Any]
    duplicates: list[GalleryMatch]
    duplicate_threshold: float | None
    duplicate_target: str | None


class SearchResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    gallery: str
    matches: list[GalleryMatch]
    threshold: (
        float | None
    )  # the policy's duplicate threshold (judge hits with GalleryService.judge_duplicate)
    target: str | None
    gallery_size: int
    index_kind: str
    quality: dict[str, Any]
    timings_ms: dict[str, float]


class DuplicateFace(Conflict):
    """The face is already enrolled under another subject; ``matches`` says where."""

    def __init__(self, message: str, matches: list[GalleryMatch]) -> None:
        super().__init__(message)
        self.matches = matches


# ------------------------------------------------------------------------------------------ the service


@dataclass
class _Loaded:
    gallery_id: int
    name: str
    backend: str
    model_id: str
    dim: int
    generation: int
    index: FaceIndex
    lock: threading.RLock
    unsaved: int = 0


class GalleryService:
    """Named galleries on one database and one index folder. Thread-safe; several processes may share
    the database and folder (each reconciles by generation).
    """

    def __init__(
        self,
        engine: Engine,
        index_dir: Path,
        *,
        cipher: BiometricCipher | None = None,
        settings: Settings | None = None,
        demo: bool = False,
        policy: Policy | None = None,
        approx_threshold: int = APPROX_THRESHOLD,
        snapshot_every: int = SNAPSHOT_EVERY,
        compact_fraction: float = HNSW_COMPACT_FRACTION,
        approx_kind: str = APPROX_KIND,
        audit_log: AuditLog | None = None,
    ) -> None:
        if approx_kind not in APPROX_KINDS:
            raise ValueError(f"approx_kind must be one of {APPROX_KINDS}, not {approx_kind!r}")
        self.engine = engine
        self.index_dir = Path(index_dir)
        self.repository = GalleryRepository(
            engine,
            self.index_dir,
            cipher or (lambda: load_cipher(settings, demo=demo)),
            audit_log or (AuditLog.from_settings(settings, demo=demo) if settings else AuditLog(demo=demo)),
        )
        self.compact_fraction = compact_fraction
        self.approx_kind = approx_kind
        self.snapshot_every = snapshot_every
        self.approx_threshold = approx_threshold
        self._settings = settings
        self._policy = policy
        self._loaded: dict[tuple[str, str], _Loaded] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        engine: Engine | None = None,
        demo: bool = False,
        ensure_schema: bool = False,
        policy: Policy | None = None,
        audit_log: AuditLog | None = None,
    ) -> GalleryService:
        """A service on the deployment's database and ``<data dir>/galleries``; the key is read lazily."""
        settings = settings or Settings.from_env()
        engine = engine or make_engine(settings.resolved_database_url())
        if ensure_schema:
            create_gallery_tables(engine)
        return cls(
            engine,
            settings.data_dir / "galleries",
            settings=settings,
            demo=demo,
            policy=policy,
            audit_log=audit_log,
        )

    # ---- configuration read lazily, so a service that never touches templates needs no key
    @property
    def cipher(self) -> BiometricCipher:
        return self.repository.cipher

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            self._policy = load_policy(self._settings.policy_path if self._settings else None)
        return self._policy

    def _policy_backend(self) -> str:
        return FaceMatchParams.model_validate(self.policy.params("face_match")).backend

    def duplicate_threshold(self, backend: str) -> tuple[float | None, str | None]:
        """The policy's tuned 1:N threshold and its target, when it was tuned for this backend."""
        cfg = self.policy.checks.get("face_duplicate")
        tuned = cfg.thresholds.get("duplicate") if cfg else None
        if tuned is None or backend != self._policy_backend():
            return None, None
        return tuned.value, tuned.target

    def judge_duplicate(self, backend: str, similarity: float) -> ThresholdVerdict | None:
        """Whether ``similarity`` says "the same person", judged by the policy's ``face_duplicate``
        rule; None when the policy has no duplicate threshold tuned for ``backend``."""
        threshold, _ = self.duplicate_threshold(backend)
        if threshold is None:
            return None
        return self.policy.judge_score("face_duplicate", "duplicate", similarity)

    # ---- galleries
    def create_gallery(
        self, name: str, backend: str | None = None, *, tenant: str = DEFAULT_TENANT, actor: str = "system"
    ) -> GalleryInfo:
        """Create a gallery (idempotent: an existing one is returned; its backend cannot change).

        ``actor`` (e.g. ``api_key:<id>`` or ``cli``) is recorded in the audit entry of each change."""
        validate_gallery_name(name)
        embedder = get_embedder(backend or self._policy_backend())
        row = self.repository.create(
            name, embedder.backend, embedder.model_id, embedder.dim, tenant, actor=actor
        )
        if row.backend != embedder.backend:
            raise Conflict(f"gallery {name!r} holds {row.backend} templates, not {embedder.backend}")
        return self.info(name, tenant=tenant)

    def galleries(self, *, tenant: str = DEFAULT_TENANT) -> list[GalleryInfo]:
        return [self.info(n, tenant=tenant) for n in self.repository.names(tenant)]

    def exists(self, name: str, *, tenant: str = DEFAULT_TENANT) -> bool:
        return self.repository.exists(name, tenant)

    def size(self, name: str, *, tenant: str = DEFAULT_TENANT) -> int:
        return self.repository.size(name, tenant)

    def info(self, name: str, *, tenant: str = DEFAULT_TENANT) -> GalleryInfo:
        loaded = self._sync(name, tenant)
        return GalleryInfo(
            name=loaded.name,
            backend=loaded.backend,
            model_id=loaded.model_id,
            size=loaded.index.ntotal,
            index_kind=loaded.index.kind,
            generation=loaded.generation,
        )

    # ---- enrol, search, delete
    def enroll(
        self,
        name: str,
        subject_id: str,
        image: Image,
        *,
        allow_duplicate: bool = False,
        allow_low_quality: bool = False,
        attributes: Mapping[str, Any] | None = None,
        tenant: str = DEFAULT_TENANT,
        actor: str = "system",
    ) -> EnrollResult:
        """Enrol the largest face of ``image`` for ``subject_id``.

        Raises ``InvalidInput`` when no face is found or its quality fails the policy (unless
        ``allow_low_quality``), and ``DuplicateFace`` (a ``Conflict``) when the policy judges the face
        already enrolled under another subject (unless ``allow_duplicate``).
        """
        subject_id = _subject(subject_id)
        if not self.exists(name, tenant=tenant):
            self.create_gallery(name, tenant=tenant, actor=actor)
        loaded = self._sync(name, tenant)
        vector, quality = self._embed(image, loaded.backend, check_quality=not allow_low_quality)
        threshold, target = self.duplicate_threshold(loaded.backend)
        with loaded.lock:
            loaded = self._sync(name, tenant)
            duplicates: list[GalleryMatch] = []
            if threshold is not None:
                hits = self._search_loaded(loaded, vector, k=10)
                duplicates = [h for h in hits if h.subject_id != subject_id and self._same(loaded, h)]
            if duplicates and not allow_duplicate:
                first = duplicates[0]
                raise DuplicateFace(
                    f"this face is already enrolled in gallery {name!r} as subject {first.subject_id!r} "
                    f"(face {first.face_id}, similarity {first.similarity:.4f} >= {threshold:.4f}, "
                    f"tuned for {target}); enrol with allow_duplicate to add it anyway",
                    duplicates,
                )
            face_id, generation = self.repository.insert(
                self._record(loaded), subject_id, vector, quality, dict(attributes or {}), actor=actor
            )
            loaded.index.add([face_id], vector.reshape(1, -1))
            loaded.generation = generation
            self._maybe_upgrade(loaded)
            loaded.unsaved += 1
            if loaded.unsaved >= max(1, loaded.index.ntotal // self.snapshot_every):
                self._write_index(loaded)
        return EnrollResult(
            gallery=name,
            face_id=face_id,
            subject_id=subject_id,
            quality=quality,
            duplicates=duplicates,
            duplicate_threshold=threshold,
            duplicate_target=target,
        )

    def _same(self, loaded: _Loaded, hit: GalleryMatch) -> bool:
        verdict = self.judge_duplicate(loaded.backend, hit.similarity)
        return verdict is not None and verdict.holds

    def search(self, name: str, image: Image, k: int = 5, *, tenant: str = DEFAULT_TENANT) -> SearchResult:
        """The ``k`` most similar enrolled faces to the largest face in ``image``."""
        if not 1 <= k <= MAX_K:
            raise InvalidInput(f"k must be between 1 and {MAX_K}")
        if not self.exists(name, tenant=tenant):
            raise NotFound(f"no gallery named {name!r}")
        start = time.perf_counter()
        loaded = self._sync(name, tenant)
        vector, quality = self._embed(image, loaded.backend, check_quality=False)
        embedded = time.perf_counter()
        with loaded.lock:
            matches = self._search_loaded(loaded, vector, k)
            size, kind = loaded.index.ntotal, loaded.index.kind
        done = time.perf_counter()
        threshold, target = self.duplicate_threshold(loaded.backend)
        return SearchResult(
            gallery=name,
            matches=matches,
            threshold=threshold,
            target=target,
            gallery_size=size,
            index_kind=kind,
            quality=quality,
            timings_ms={
                "detect_embed": round((embedded - start) * 1000, 3),
                "search": round((done - embedded) * 1000, 3),
                "total": round((done - start) * 1000, 3),
            },
        )

    def search_vector(
        self, name: str, vector: F32Array, k: int = 5, *, tenant: str = DEFAULT_TENANT
    ) -> list[GalleryMatch]:
        loaded = self._sync(name, tenant)
        with loaded.lock:
            return self._search_loaded(loaded, vector, k)

    def delete(self, name: str, face_id: int, *, tenant: str = DEFAULT_TENANT, actor: str = "system") -> None:
        """Remove one template for good (right to erasure): row, index entry and index file."""
        if not 1 <= face_id <= MAX_FACE_ID:  # beyond the store's 64-bit ids: no such face, not a DB error
            raise NotFound(f"no face {face_id} in gallery {name!r}")
        loaded = self._sync(name, tenant)
        with loaded.lock:
            generation = self.repository.delete(loaded.gallery_id, face_id, actor=actor)
            if generation is None:
                raise NotFound(f"no face {face_id} in gallery {name!r}")
            self._after_delete(loaded, [face_id], generation)

    def delete_subject(
        self, name: str, subject_id: str, *, tenant: str = DEFAULT_TENANT, actor: str = "system"
    ) -> int:
        """Remove every template of one subject; returns how many."""
        loaded = self._sync(name, tenant)
        with loaded.lock:
            ids, generation = self.repository.delete_subject(loaded.gallery_id, subject_id, actor=actor)
            if generation is None:
                return 0
            self._after_delete(loaded, ids, generation)
            return len(ids)

    def check_consistency(self, name: str, *, tenant: str = DEFAULT_TENANT) -> dict[str, Any]:
        """Compare the rows, the in-memory index and the index file (for tests and operators)."""
        loaded = self._sync(name, tenant)
        with loaded.lock:
            rows = self.repository.template_ids(loaded.gallery_id)
            in_memory = loaded.index.ids()
            on_disk = self._read_index(loaded.gallery_id, loaded.dim)
            file_ids = on_disk[1].ids() if on_disk else set()
            return {
                "rows": len(rows),
                "index": len(in_memory),
                "file": len(file_ids),
                "file_generation": on_disk[0] if on_disk else None,
                "generation": loaded.generation,
                "consistent": rows == in_memory == file_ids,
            }

    def flush(self) -> None:
        """Write every gallery's index file that has unsaved enrolments (e.g. at shutdown)."""
        for loaded in list(self._loaded.values()):
            with loaded.lock:
                if loaded.unsaved:
                    self._write_index(loaded)

    # ---- internals
    def _embed(self, image: Image, backend: str, *, check_quality: bool) -> tuple[F32Array, dict[str, Any]]:
        params = FaceQualityParams.model_validate(self.policy.params("face_quality"))
        sample = largest_face_sample(image, params)
        if sample is None:
            raise InvalidInput("no face found in the image (FACE_NOT_FOUND)")
        failures = list(sample.failures)
        if check_quality and failures:
            raise InvalidInput(f"the face's quality is too low to enrol: {', '.join(failures)}")
        quality = {**sample.quality.to_dict(), "failed": failures}
        return face_embedding(image, sample.face, backend).vector, quality

    @staticmethod
    def _record(loaded: _Loaded) -> GalleryRecord:
        return GalleryRecord(
            loaded.gallery_id, loaded.name, loaded.backend, loaded.model_id, loaded.dim, loaded.generation
        )

    def _search_loaded(self, loaded: _Loaded, vector: F32Array, k: int) -> list[GalleryMatch]:
        sims, ids = loaded.index.search(vector.reshape(1, -1), k)
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], sims[0], strict=True) if i >= 0]
        if not pairs:
            return []
        subjects = self.repository.subjects(loaded.gallery_id, [i for i, _ in pairs])
        # a hit without its row was deleted by another process: never serve it
        return [
            GalleryMatch(
                face_id=i,
                subject_id=subjects[i],
                similarity=round(similarity_from_cosine(s), 6),
                cosine=round(float(np.clip(s, -1, 1)), 6),
            )
            for i, s in pairs
            if i in subjects
        ]

    def _after_delete(self, loaded: _Loaded, ids: list[int], generation: int) -> None:
        loaded.index.remove(ids)
        loaded.generation = generation
        self._maybe_compact(loaded)
        self._write_index(loaded)

    def _rebuild(self, loaded: _Loaded, ids: np.ndarray[Any, Any], vectors: F32Array) -> None:
        loaded.index = FaceIndex.build(
            ids, vectors, approx_threshold=self.approx_threshold, dim=loaded.dim, approx_kind=self.approx_kind
        )

    def _all_rows(
        self, loaded: _Loaded, only: set[int] | None = None
    ) -> tuple[np.ndarray[Any, Any], F32Array]:
        return self.repository.vectors(loaded.gallery_id, loaded.backend, loaded.dim, only)

    def _maybe_upgrade(self, loaded: _Loaded) -> None:
        """Switch a gallery that grew past ``approx_threshold`` from exact search to the approximate kind."""
        if loaded.index.kind == "flat" and loaded.index.ntotal >= self.approx_threshold:
            self._rebuild(loaded, *self._all_rows(loaded))

    def _maybe_compact(self, loaded: _Loaded) -> None:
        """Rebuild an HNSW index without its erased nodes once they pass ``compact_fraction`` (the
        rebuild is exact search again if the gallery shrank below ``approx_threshold``)."""
        if loaded.index.needs_compaction(self.compact_fraction):
            self._rebuild(loaded, *loaded.index.live())

    def _sync(self, name: str, tenant: str = DEFAULT_TENANT) -> _Loaded:
        """The tenant's gallery's index, reconciled with SQL when the generations differ."""
        row = self.repository.get(name, tenant)
        if row is None:
            raise NotFound(f"no gallery named {name!r}")
        with self._lock:
            loaded = self._loaded.get((tenant, name))
            if loaded is None or loaded.gallery_id != row.id:
                loaded = _Loaded(
                    row.id,
                    name,
                    row.backend,
                    row.model_id,
                    row.dim,
                    -1,
                    FaceIndex.exact(row.dim),
                    threading.RLock(),
                )
                self._loaded[(tenant, name)] = loaded
        if loaded.generation == row.generation:
            return loaded
        with loaded.lock:
            if loaded.generation != row.generation:
                self._reconcile(loaded, row.generation)
        return loaded

    def _reconcile(self, loaded: _Loaded, generation: int) -> None:
        if loaded.generation < 0:  # first use in this process: start from the index file
            on_disk = self._read_index(loaded.gallery_id, loaded.dim)
            if on_disk is not None:
                file_generation, index = on_disk
                loaded.index = index
                if file_generation == generation:
                    loaded.generation = generation
                    return
        # the generation first: a write landing between the two reads leaves us behind, never ahead
        current = self.repository.generation(loaded.gallery_id)
        rows = self.repository.template_ids(loaded.gallery_id)
        have = loaded.index.ids()
        stale, missing = have - rows, rows - have
        if loaded.index.kind == "flat" and len(rows) >= self.approx_threshold:
            self._rebuild(loaded, *self._all_rows(loaded))
        else:
            loaded.index.remove(stale)
            if missing:
                loaded.index.add(*self._all_rows(loaded, only=missing))
            self._maybe_compact(loaded)
        loaded.generation = current
        self._write_index(loaded)

    # ---- the index file (stored by the repository, encrypted)
    def _index_path(self, gallery_id: int) -> Path:
        return self.repository.index_path(gallery_id)

    def _write_index(self, loaded: _Loaded) -> None:
        header = {
            "generation": loaded.generation,
            "kind": loaded.index.kind,
            "dim": loaded.dim,
            "nprobe": loaded.index.nprobe,
            "ef_search": loaded.index.ef_search,
            "candidates": loaded.index.candidates,
            "count": loaded.index.ntotal,
            "erased": len(loaded.index.erased),
            "backend": loaded.backend,
        }
        self.repository.write_index_file(loaded.gallery_id, header, loaded.index.to_bytes())
        loaded.unsaved = 0

    def _read_index(self, gallery_id: int, dim: int) -> tuple[int, FaceIndex] | None:
        stored = self.repository.read_index_file(gallery_id)
        if stored is None:
            return None
        header, payload = stored
        try:
            index = FaceIndex.from_bytes(
                payload,
                header["kind"],
                dim,
                header.get("nprobe"),
                header.get("ef_search"),
                header.get("candidates"),
            )
            return int(header["generation"]), index
        except Exception:  # a torn or foreign file is rebuilt from SQL, never trusted
            return None


def _subject(subject_id: str) -> str:
    subject_id = (subject_id or "").strip()
    if not subject_id or len(subject_id) > 200 or any(ord(c) < 32 for c in subject_id):
        raise InvalidInput("subject_id: 1-200 printable characters")
    return subject_id
