"""Parameters of the document checks, as the policy sets them (``checks.<name>.params``).

Pydantic only, so a policy is validated without importing OpenCV, OCR engines or the forgery model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from openidv.checks.base import CheckParams

#: mean CIELAB distance to the nearest template above which a photo holds "no known document". Bona fide
#: synthetic captures score 3-12, face photos taken whole 19-35 (docs/documents.md).
DEFAULT_MAX_TEMPLATE_DISTANCE = 20.0


class MrzParams(CheckParams):
    """Age limits of the ``mrz`` check; None skips that test."""

    min_age: int | None = Field(default=18, ge=0, le=150, description="youngest accepted age in years")
    max_age: int | None = Field(default=130, ge=0, le=200, description="oldest plausible age in years")


class ReaderParams(CheckParams):
    """How a document photo is read; every check that reads the photo shares one reading per setting."""

    max_template_distance: float = Field(
        default=DEFAULT_MAX_TEMPLATE_DISTANCE,
        gt=0,
        le=255,
        description="mean CIELAB distance to the nearest template above which no known document is found",
    )
    mrz_engine: Literal["rapidocr", "tesseract"] = Field(
        default="rapidocr", description="MRZ OCR engine (tesseract needs tesseract + mrz.traineddata)"
    )


class ConsistencyParams(ReaderParams):
    """``document_consistency``: the reading settings and the age limits."""

    min_age: int | None = Field(default=18, ge=0, le=150, description="youngest accepted age in years")
    max_age: int | None = Field(default=130, ge=0, le=200, description="oldest plausible age in years")
