"""Re-encrypt everything sealed at rest under the key ring's current master key (``openidv crypto rotate``).

Covers verification evidence summaries, check details (sealing rows written before encryption on the way),
face templates and gallery index files. Works in batches of rows, each batch its own transaction, and only
touches blobs not yet under the current key: an interrupted run is resumed by running it again, and a run
with nothing left to do changes nothing. Readers keep working throughout, since the ring opens blobs under
the old key and the new one alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from openidv.crypto import KeyRing, blob_key_id
from openidv.store.gallery_repository import GalleryRepository, _template_aad
from openidv.store.gallery_tables import FaceGallery, FaceTemplate
from openidv.store.models import CheckResultRow, Verification
from openidv.store.sealed import check_result_aad, open_json, seal_json, verification_aad


@dataclass
class Rotated:
    """How many blobs a run re-sealed, per kind, and which key ids were found before it."""

    verifications: int = 0
    check_results: int = 0
    templates: int = 0
    index_files: int = 0
    seen_key_ids: dict[str, int] = field(default_factory=dict)

    def saw(self, blob: bytes | None) -> None:
        key_id = blob_key_id(blob) if blob else None
        name = key_id.hex() if key_id else "plain"
        self.seen_key_ids[name] = self.seen_key_ids.get(name, 0) + 1

    def count(self, kind: str, done: int, before: Sequence[bytes | None]) -> None:
        """Add a committed batch: ``done`` re-sealed of ``kind``; ``before``, the blobs as found."""
        setattr(self, kind, getattr(self, kind) + done)
        for blob in before:
            self.saw(blob)


def _batched(engine: Engine, run: Callable[[Session, Any], Any], start: Any) -> None:
    """Call ``run(session, last)`` in a transaction per batch until it returns None; a batch whose row was
    erased meanwhile (``StaleDataError``) is rolled back and read again, without that row."""
    last = start
    while True:
        try:
            with Session(engine) as session, session.begin():
                after = run(session, last)
        except StaleDataError:
            continue
        if after is None:
            return
        last = after


def rotate_all(engine: Engine, ring: KeyRing, index_dir: Path, *, batch: int = 500) -> Rotated:
    report = Rotated()
    _verifications(engine, ring, batch, report)
    _check_results(engine, ring, batch, report)
    _templates(engine, ring, batch, report)
    _index_files(engine, ring, index_dir, report)
    return report


def _verifications(engine: Engine, ring: KeyRing, batch: int, report: Rotated) -> None:
    def run(session: Session, last: str) -> str | None:
        rows = session.scalars(
            select(Verification).where(Verification.id > last).order_by(Verification.id).limit(batch)
        ).all()
        if not rows:
            return None
        before, done = [r.evidence_sealed for r in rows], 0
        for row in rows:
            if row.evidence_sealed is not None and ring.is_current(row.evidence_sealed):
                continue
            aad = verification_aad(row.id)
            sealed = row.evidence_sealed
            value = open_json(ring, sealed, aad) if sealed is not None else row.evidence_summary
            row.evidence_sealed, row.evidence_summary = seal_json(ring, value, aad), {}
            done += 1
        session.flush()  # a row erased meanwhile fails here, and the batch is read again
        report.count("verifications", done, before)
        return rows[-1].id

    _batched(engine, run, "")


def _check_results(engine: Engine, ring: KeyRing, batch: int, report: Rotated) -> None:
    def run(session: Session, last: int) -> int | None:
        rows = session.scalars(
            select(CheckResultRow).where(CheckResultRow.id > last).order_by(CheckResultRow.id).limit(batch)
        ).all()
        if not rows:
            return None
        before, done = [r.details_sealed for r in rows], 0
        for row in rows:
            if row.details_sealed is not None and ring.is_current(row.details_sealed):
                continue
            aad = check_result_aad(row.verification_id, row.position)
            sealed = row.details_sealed
            value = open_json(ring, sealed, aad) if sealed is not None else row.details
            row.details_sealed, row.details = seal_json(ring, value, aad), {}
            done += 1
        session.flush()
        report.count("check_results", done, before)
        return int(rows[-1].id)

    _batched(engine, run, 0)


def _templates(engine: Engine, ring: KeyRing, batch: int, report: Rotated) -> None:
    def run(session: Session, last: int) -> int | None:
        rows = session.execute(
            select(FaceTemplate, FaceGallery.backend)
            .join(FaceGallery, FaceGallery.id == FaceTemplate.gallery_id)
            .where(FaceTemplate.id > last)
            .order_by(FaceTemplate.id)
            .limit(batch)
        ).all()
        if not rows:
            return None
        before, done = [t.template for t, _ in rows], 0
        for template, backend in rows:
            if ring.is_current(template.template):
                continue
            aad = _template_aad(template.gallery_id, template.id, backend)
            template.template = ring.encrypt(ring.decrypt(template.template, aad), aad)
            done += 1
        session.flush()
        report.count("templates", done, before)
        return int(rows[-1][0].id)

    _batched(engine, run, 0)


def _index_files(engine: Engine, ring: KeyRing, index_dir: Path, report: Rotated) -> None:
    repository = GalleryRepository(engine, index_dir, ring)
    with Session(engine) as session:
        gallery_ids = list(session.scalars(select(FaceGallery.id).order_by(FaceGallery.id)))
    for gallery_id in gallery_ids:
        path = repository.index_path(gallery_id)
        if not path.is_file():
            continue
        blob = path.read_bytes()
        report.saw(blob)
        if ring.is_current(blob):
            continue
        stored = repository.read_index_file(gallery_id)
        if stored is None:  # unreadable: the gallery service rebuilds it from the rows on next use
            path.unlink(missing_ok=True)
            continue
        repository.write_index_file(gallery_id, *stored)
        report.index_files += 1


__all__ = ["Rotated", "rotate_all"]
