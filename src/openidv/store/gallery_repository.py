"""SQL storage of 1:N face galleries: gallery rows, encrypted templates, and the encrypted index file.

SQL (``openidv.store.gallery_tables``) is the source of truth: one row per template, its embedding
encrypted with AES-256-GCM (``openidv.crypto``), the associated data binding it to its gallery, id and
backend. Every enrolment or deletion bumps ``face_galleries.generation`` in the same transaction. Each
gallery also has an index file, ``<index dir>/gallery-<id>.faiss.enc``: a serialised index (opaque
bytes here), encrypted as well since an index holds the embeddings too, behind a JSON header that
records the generation it reflects. Files are written atomically (write, fsync, rename); a torn or
foreign file reads as absent and is rebuilt from the rows.

Storage only: what to enrol, when to rewrite the file and how to reconcile are
``openidv.services.face_gallery``'s business.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from openidv.crypto import BiometricCipher
from openidv.store import audit
from openidv.store.gallery_tables import FaceGallery, FaceTemplate, create_gallery_tables
from openidv.tenancy import DEFAULT_TENANT

__all__ = ["GalleryRecord", "GalleryRepository", "create_gallery_tables"]

F32Array = npt.NDArray[np.float32]
I64Array = npt.NDArray[np.int64]


@dataclass(frozen=True)
class GalleryRecord:
    """A gallery's row: which embedding model its templates come from, and its generation."""

    id: int
    name: str
    backend: str
    model_id: str
    dim: int
    generation: int


def _record(row: FaceGallery) -> GalleryRecord:
    return GalleryRecord(row.id, row.name, row.backend, row.model_id, row.dim, int(row.generation or 0))


class GalleryRepository:
    """Galleries and templates on one database, index files in one folder.

    ``cipher`` is a ``BiometricCipher`` or a function that loads one: a repository that never touches a
    template or an index file needs no key. Every change (gallery created, face enrolled or deleted, subject
    deleted) appends an audit entry in its own transaction, MACed by ``audit_log`` (default: the
    environment's audit key); the entries name gallery, tenant and face ids, and subjects only by a keyed
    pseudonym.
    """

    def __init__(
        self,
        engine: Engine,
        index_dir: Path,
        cipher: BiometricCipher | Callable[[], BiometricCipher],
        audit_log: audit.AuditLog | None = None,
    ) -> None:
        self.engine = engine
        self.audit = audit_log or audit.AuditLog()
        self.index_dir = Path(index_dir)
        self._cipher = cipher if isinstance(cipher, BiometricCipher) else None
        self._load_cipher = None if isinstance(cipher, BiometricCipher) else cipher

    @property
    def cipher(self) -> BiometricCipher:
        if self._cipher is None:
            assert self._load_cipher is not None
            self._cipher = self._load_cipher()
        return self._cipher

    # ---- galleries (a name is unique within its tenant; other tenants' galleries are never seen)
    def get(self, name: str, tenant: str = DEFAULT_TENANT) -> GalleryRecord | None:
        with Session(self.engine) as session:
            row = session.scalar(_named(name, tenant))
            return None if row is None else _record(row)

    def create(
        self,
        name: str,
        backend: str,
        model_id: str,
        dim: int,
        tenant: str = DEFAULT_TENANT,
        *,
        actor: str = "system",
    ) -> GalleryRecord:
        """Insert a gallery row unless the tenant has one of that name; returns the row either way."""
        now = datetime.now(UTC)
        with self._writing() as session:
            row = session.scalar(_named(name, tenant))
            if row is None:
                row = FaceGallery(
                    tenant_id=tenant,
                    name=name,
                    backend=backend,
                    model_id=model_id,
                    dim=dim,
                    generation=0,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                session.flush()
                self._audit(session, row, actor, "gallery.created", backend=backend, model_id=model_id)
            return _record(row)

    def names(self, tenant: str = DEFAULT_TENANT) -> list[str]:
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(FaceGallery.name).where(FaceGallery.tenant_id == tenant).order_by(FaceGallery.name)
                )
            )

    def exists(self, name: str, tenant: str = DEFAULT_TENANT) -> bool:
        return self.get(name, tenant) is not None

    def size(self, name: str, tenant: str = DEFAULT_TENANT) -> int:
        """Templates stored in the tenant's gallery (0 when there is no such gallery)."""
        with Session(self.engine) as session:
            gid = session.scalar(_named(name, tenant).with_only_columns(FaceGallery.id))
            if gid is None:
                return 0
            return int(session.scalar(select(func.count()).where(FaceTemplate.gallery_id == gid)) or 0)

    def generation(self, gallery_id: int) -> int:
        with Session(self.engine) as session:
            return int(
                session.scalar(select(FaceGallery.generation).where(FaceGallery.id == gallery_id)) or 0
            )

    # ---- templates
    def template_ids(self, gallery_id: int) -> set[int]:
        with Session(self.engine) as session:
            return set(session.scalars(select(FaceTemplate.id).where(FaceTemplate.gallery_id == gallery_id)))

    def subjects(self, gallery_id: int, ids: Iterable[int]) -> dict[int, str]:
        """The subject of each of ``ids`` that still has its row."""
        wanted = list(ids)
        if not wanted:
            return {}
        with Session(self.engine) as session:
            return {
                int(row[0]): str(row[1])
                for row in session.execute(
                    select(FaceTemplate.id, FaceTemplate.subject_id).where(
                        FaceTemplate.gallery_id == gallery_id, FaceTemplate.id.in_(wanted)
                    )
                )
            }

    def insert(
        self,
        gallery: GalleryRecord,
        subject_id: str,
        vector: F32Array,
        quality: Mapping[str, Any],
        attributes: Mapping[str, Any],
        *,
        actor: str = "system",
    ) -> tuple[int, int]:
        """Store one encrypted template; returns its id and the gallery's new generation."""
        with self._writing() as session:
            row = FaceTemplate(
                gallery_id=gallery.id,
                subject_id=subject_id,
                template=b"",
                quality=dict(quality),
                attributes=dict(attributes),
                created_at=datetime.now(UTC),
            )
            session.add(row)
            session.flush()
            row.template = self.cipher.encrypt(
                np.asarray(vector, dtype="<f4").tobytes(), _template_aad(gallery.id, row.id, gallery.backend)
            )
            generation = self._bump(session, gallery.id)
            self._audit(
                session,
                session.get(FaceGallery, gallery.id),
                actor,
                "gallery.enrolled",
                face_id=int(row.id),
                subject=self.audit.pseudonym(subject_id),
            )
            return int(row.id), generation

    def delete(self, gallery_id: int, face_id: int, *, actor: str = "system") -> int | None:
        """Delete one template; returns the new generation, or None when there is no such template."""
        with self._writing() as session:
            result = session.execute(
                delete(FaceTemplate).where(FaceTemplate.id == face_id, FaceTemplate.gallery_id == gallery_id)
            )
            if not getattr(result, "rowcount", 0):
                return None
            generation = self._bump(session, gallery_id)
            self._audit(
                session, session.get(FaceGallery, gallery_id), actor, "gallery.face_deleted", face_id=face_id
            )
            return generation

    def delete_subject(
        self, gallery_id: int, subject_id: str, *, actor: str = "system"
    ) -> tuple[list[int], int | None]:
        """Delete every template of a subject; returns their ids and the new generation (None if none)."""
        with self._writing() as session:
            ids = list(
                session.scalars(
                    select(FaceTemplate.id).where(
                        FaceTemplate.gallery_id == gallery_id, FaceTemplate.subject_id == subject_id
                    )
                )
            )
            if not ids:
                return [], None
            session.execute(delete(FaceTemplate).where(FaceTemplate.id.in_(ids)))
            generation = self._bump(session, gallery_id)
            self._audit(
                session,
                session.get(FaceGallery, gallery_id),
                actor,
                "gallery.subject_deleted",
                face_ids=[int(i) for i in ids],
                subject=self.audit.pseudonym(subject_id),
            )
            return ids, generation

    def vectors(
        self, gallery_id: int, backend: str, dim: int, only: set[int] | None = None
    ) -> tuple[I64Array, F32Array]:
        """Decrypted templates of the gallery (all, or those in ``only``): ids and an ``n x dim`` array."""
        empty = (np.zeros(0, np.int64), np.zeros((0, dim), np.float32))
        if only is not None and not only:
            return empty
        ids: list[int] = []
        vectors: list[F32Array] = []
        with Session(self.engine) as session:
            query = select(FaceTemplate.id, FaceTemplate.template).where(
                FaceTemplate.gallery_id == gallery_id
            )
            if only is not None:
                query = query.where(FaceTemplate.id.in_(sorted(only)))
            for template_id, blob in session.execute(query.execution_options(yield_per=10_000)):
                raw = self.cipher.decrypt(blob, _template_aad(gallery_id, template_id, backend))
                ids.append(int(template_id))
                vectors.append(np.frombuffer(raw, dtype="<f4"))
        if not ids:
            return empty
        return np.asarray(ids, np.int64), np.vstack(vectors).astype(np.float32)

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A write transaction whose audit entries are MACed with this repository's audit log."""
        with Session(self.engine, info=audit.session_info(self.audit)) as session, session.begin():
            yield session

    def _audit(
        self, session: Session, row: FaceGallery | None, actor: str, action: str, **details: Any
    ) -> None:
        """An audit entry for a change to gallery ``row``, in the change's transaction."""
        assert row is not None  # the caller changed this gallery in this transaction
        audit.append(
            session,
            actor=actor,
            action=action,
            subject=f"gallery:{row.id}",
            payload={"tenant": row.tenant_id, "gallery": row.name, **details},
        )

    def _bump(self, session: Session, gallery_id: int) -> int:
        session.execute(
            update(FaceGallery)
            .where(FaceGallery.id == gallery_id)
            .values(generation=FaceGallery.generation + 1, updated_at=datetime.now(UTC))
        )
        return int(session.scalar(select(FaceGallery.generation).where(FaceGallery.id == gallery_id)) or 0)

    # ---- the encrypted index file
    def index_path(self, gallery_id: int) -> Path:
        return self.index_dir / f"gallery-{gallery_id}.faiss.enc"

    def write_index_file(self, gallery_id: int, header: Mapping[str, Any], payload: bytes) -> None:
        """Encrypt ``header`` and ``payload`` and replace the gallery's index file atomically (mode 0600)."""
        head = json.dumps(dict(header)).encode()
        blob = self.cipher.encrypt(struct.pack(">I", len(head)) + head + payload, _index_aad(gallery_id))
        path = self.index_path(gallery_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(blob)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)

    def read_index_file(self, gallery_id: int) -> tuple[dict[str, Any], bytes] | None:
        """The header and payload of the gallery's index file; None when it is missing, torn or foreign."""
        path = self.index_path(gallery_id)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            plain = self.cipher.decrypt(blob, _index_aad(gallery_id))
            (size,) = struct.unpack(">I", plain[:4])
            header = json.loads(plain[4 : 4 + size])
        except Exception:  # a torn or foreign file is rebuilt from SQL, never trusted
            return None
        if not isinstance(header, dict):
            return None
        return header, plain[4 + size :]


def _named(name: str, tenant: str) -> Any:
    return select(FaceGallery).where(FaceGallery.tenant_id == tenant, FaceGallery.name == name)


def _template_aad(gallery_id: int, template_id: int, backend: str) -> bytes:
    return f"openidv-face-template:{gallery_id}:{template_id}:{backend}".encode()


def _index_aad(gallery_id: int) -> bytes:
    return f"openidv-gallery-index:{gallery_id}".encode()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
