"""Seeded synthetic document sets shared by the document tests, generated once per test session."""

from __future__ import annotations

import csv
import functools
import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from openidv.evidence import Evidence
from openidv.synth.dataset import generate_documents

AS_OF = date(2026, 1, 1)
TEMPLATES = ("uto-passport", "uto-id-card", "jefferson-dl", "acadia-dl")
_ROOT = Path(tempfile.mkdtemp(prefix="openidv-test-docs-"))


def rows(manifest: Path) -> list[dict[str, str]]:
    lines = [line for line in manifest.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def truth(folder: Path, doc_id: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / "truth" / f"{doc_id}.json").read_text(encoding="utf-8"))
    return loaded


@functools.cache
def clean_set(template: str) -> Path:
    """One clean capture of ``template`` (seeded)."""
    return generate_documents(_ROOT / f"clean-{template}", 1, seed=7, as_of=AS_OF, template_ids=[template])


@functools.cache
def degraded_set() -> Path:
    """One bona fide document per hard capture condition (seeded), templates drawn at random."""
    conditions = ("blur", "motion", "noise", "light", "glare", "jpeg", "lowres")
    return generate_documents(
        _ROOT / "degraded", len(conditions), seed=11, as_of=AS_OF, degradations=conditions
    )


@functools.cache
def forgery_set() -> Path:
    """Eight bona fide documents and one forgery of each species, clean captures (seeded)."""
    return generate_documents(_ROOT / "forgeries", 16, seed=5, forgeries=True, as_of=AS_OF)


@functools.cache
def evidence(path: Path) -> Evidence:
    """The evidence for one front photo (and its back), judged on ``AS_OF``; cached so that every test
    reuses one reading of it (readings are cached on the image)."""
    from openidv.checks.document.photo_check import document_evidence

    return document_evidence([path]).model_copy(update={"as_of": AS_OF})
