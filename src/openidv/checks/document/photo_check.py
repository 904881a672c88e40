"""The base of every check that reads a photo of a document: the front in ``evidence.document_image``, the
back (ID cards, licences) in ``evidence.document_back``.

All of them share one reading per request (``reader.cached_reading``, kept on the front image). A photo
with no document in it is a failure to acquire (``DOC_NOT_FOUND``), never a low score. Evaluation from
files: the manifest's ``path`` is the front photo; a sibling whose name has ``_back`` in place of
``_front`` is used as the back (``document_evidence``, the one place that knows this).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from openidv.checks.base import Check, CheckParams
from openidv.checks.document.params import ReaderParams
from openidv.checks.document.reader import DocumentReading, cached_reading
from openidv.errors import InvalidInput
from openidv.evidence import Evidence
from openidv.imageio import Image, load_image
from openidv.results import CheckResult, Status

NOT_FOUND = "DOC_NOT_FOUND"


def back_for(front: Path) -> Path | None:
    """``x_front.jpg`` -> ``x_back.jpg`` when that file exists."""
    if "_front" not in front.stem:
        return None
    candidate = front.with_name(front.stem.replace("_front", "_back") + front.suffix)
    return candidate if candidate.is_file() else None


def document_evidence(paths: Sequence[Path]) -> Evidence:
    """Evidence for one dataset row: the front photo and, when there is one, its ``_back`` sibling."""
    if len(paths) != 1:
        raise InvalidInput(f"document checks read one photo per sample (the front), got {len(paths)}")
    back = back_for(paths[0])
    return Evidence(document_image=load_image(paths[0]), document_back=load_image(back) if back else None)


def photos_of(evidence: Evidence) -> tuple[Image, Image | None]:
    """The front image (required) and the back image (optional) of the evidence."""
    front = evidence.document_image
    if not isinstance(front, Image):
        raise ValueError("evidence.document_image is not an image")
    back = evidence.document_back if isinstance(evidence.document_back, Image) else None
    return front, back


class DocumentPhotoCheck(Check):
    """A check on a document photo: reads it through the shared, per-request reading."""

    requires: ClassVar[tuple[str, ...]] = ("document_image",)
    file_fields: ClassVar[tuple[str, ...]] = ("document_image",)
    Params: ClassVar[type[CheckParams]] = ReaderParams
    params: ReaderParams

    def reading(self, evidence: Evidence) -> DocumentReading:
        front, back = photos_of(evidence)
        return cached_reading(front, back, evidence.judged_on(), self.reader_params)

    @property
    def reader_params(self) -> ReaderParams:
        """The reading settings alone (a subclass's params may add more): the key of the shared reading."""
        return ReaderParams(
            max_template_distance=self.params.max_template_distance, mrz_engine=self.params.mrz_engine
        )

    def not_found(self, reading: DocumentReading) -> CheckResult:
        details = {"reading": reading.to_dict(), "problem": "no known document was found in the photo"}
        return self.result(Status.FAILED_TO_ACQUIRE, None, (NOT_FOUND,), details)

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        """The front photo and its ``_back`` sibling (the base class would load the front only)."""
        return document_evidence(paths)
