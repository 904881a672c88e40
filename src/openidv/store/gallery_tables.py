"""Tables of the 1:N face gallery: named galleries and their encrypted face templates.

SQL is the source of truth: a gallery's FAISS index file is derived from these rows and rebuilt from them
(see ``openidv.store.gallery_repository`` and ``openidv.services.face_gallery``).
``face_galleries.generation`` is bumped in the same transaction as every enrolment or deletion, and each
index file records the generation it reflects, so a process that finds a different generation reconciles
its index with the rows before it answers.

Template ids are never reused (``sqlite_autoincrement``; PostgreSQL identities never go back), so an index
file that still holds a deleted template's id can never confuse it with a newer template.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column

from openidv.store.db import Base, UTCDateTime
from openidv.store.models import AuditEntry
from openidv.tenancy import DEFAULT_TENANT

#: BIGINT on PostgreSQL; INTEGER on SQLite, where only an INTEGER primary key is the autoincrementing rowid
TemplateId = BigInteger().with_variant(Integer(), "sqlite")


class FaceGallery(Base):
    """A named 1:N gallery of one tenant (names are per tenant); all its templates come from one
    embedding model."""

    __tablename__ = "face_galleries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", name="uq_face_galleries_tenant_name"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64), server_default=DEFAULT_TENANT)
    name: Mapped[str] = mapped_column(String(100))
    backend: Mapped[str] = mapped_column(String(20))
    model_id: Mapped[str] = mapped_column(String(100))
    dim: Mapped[int] = mapped_column(Integer)
    #: bumped with every enrolment and deletion, in the same transaction
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FaceTemplate(Base):
    """One enrolled face: its embedding, AES-256-GCM encrypted (``openidv.crypto``), and who it belongs to."""

    __tablename__ = "face_templates"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy reads a plain dict

    id: Mapped[int] = mapped_column(TemplateId, primary_key=True, autoincrement=True)
    gallery_id: Mapped[int] = mapped_column(ForeignKey("face_galleries.id", ondelete="CASCADE"), index=True)
    subject_id: Mapped[str] = mapped_column(String(200), index=True)
    #: the L2-normalised float32 embedding, encrypted; associated data binds it to gallery and id
    template: Mapped[bytes] = mapped_column(LargeBinary)
    #: quality measurements of the enrolled photo (no pixels, no embedding)
    quality: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: caller-supplied attributes (e.g. the source of the photo); never biometric data
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


GALLERY_TABLES: tuple[Table, ...] = (
    Base.metadata.tables["face_galleries"],
    Base.metadata.tables["face_templates"],
)


def create_gallery_tables(engine: Engine) -> None:
    """Create the gallery tables where they are missing (deployments normally get them from the
    Alembic migrations; this serves tests, the demo and the CLI on a fresh SQLite file)."""
    existing = set(inspect(engine).get_table_names())
    # every gallery change is audited in its transaction, so a gallery needs the audit log too
    audit_log = cast(Table, AuditEntry.__table__)
    missing = [t for t in (*GALLERY_TABLES, audit_log) if t.name not in existing]
    if missing:
        Base.metadata.create_all(engine, tables=missing)
