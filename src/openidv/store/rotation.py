"""Re-encrypt everything sealed at rest under the key ring's current master key (``openidv crypto rotate``).

Covers verification evidence summaries, check details (sealing rows written before encryption on the way),
face templates and gallery index files. Works in batches of rows, each batch its own transaction, and only
touches blobs not yet under the current key: an interrupted run is resumed by running it again, and a run
with nothing left to do changes nothing. Readers keep working throughout, since the ring opens blobs under
the old key and the new one alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

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


def rotate_all(engine: Engine, ring: KeyRing, index_dir: Path, *, batch: int = 500) -> Rotated:
    report = Rotated()
    _verifications(engine, ring, batch, report)
    _check_results(engine, ring, batch, report)
    _templates(engine, ring, batch, report)
    _index_files(engine, ring, index_dir, report)
    return report


def _verifications(engine: Engine, ring: KeyRing, batch: int, report: Rotated) -> None:
    last = ""
    while True:
        with Session(engine) as session, session.begin():
            rows = session.scalars(
                select(Verification).where(Verification.id > last).order_by(Verification.id).limit(batch)
            ).all()
            if not rows:
                return
            for row in rows:
                report.saw(row.evidence_sealed)
                if row.evidence_sealed is not None and ring.is_current(row.evidence_sealed):
                    continue
                aad = verification_aad(row.id)
                value = (
                    open_json(ring, row.evidence_sealed, aad)
                    if row.evidence_sealed is not None
                    else row.evidence_summary
                )
                row.evidence_sealed = seal_json(ring, value, aad)
                row.evidence_summary = {}
                report.verifications += 1
            last = rows[-1].id


def _check_results(engine: Engine, ring: KeyRing, batch: int, report: Rotated) -> None:
    last = 0
    while True:
        with Session(engine) as session, session.begin():
            rows = session.scalars(
                select(CheckResultRow)
                .where(CheckResultRow.id > last)
                .order_by(CheckResultRow.id)
                .limit(batch)
            ).all()
            if not rows:
                return
            for row in rows:
                report.saw(row.details_sealed)
                if row.details_sealed is not None and ring.is_current(row.details_sealed):
                    continue
                aad = check_result_aad(row.verification_id, row.position)
                value = (
                    open_json(ring, row.details_sealed, aad)
                    if row.details_sealed is not None
                    else row.details
                )
                row.details_sealed = seal_json(ring, value, aad)
                row.details = {}
                report.check_results += 1
            last = rows[-1].id


def _templates(engine: Engine, ring: KeyRing, batch: int, report: Rotated) -> None:
    last = 0
    while True:
        with Session(engine) as session, session.begin():
            rows = session.execute(
                select(FaceTemplate, FaceGallery.backend)
                .join(FaceGallery, FaceGallery.id == FaceTemplate.gallery_id)
                .where(FaceTemplate.id > last)
                .order_by(FaceTemplate.id)
                .limit(batch)
            ).all()
            if not rows:
                return
            for template, backend in rows:
                report.saw(template.template)
                if ring.is_current(template.template):
                    continue
                aad = _template_aad(template.gallery_id, template.id, backend)
                template.template = ring.encrypt(ring.decrypt(template.template, aad), aad)
                report.templates += 1
            last = int(rows[-1][0].id)


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
