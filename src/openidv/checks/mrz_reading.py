"""The MRZ fields a document check read, for checks that run after it (the identity graph links by the
document number; vendor checks route by issuer and document type).

Why one place: ``mrz`` keeps its fields under ``details.fields``, ``document_read`` under
``details.reading.mrz_fields``; a check that needs them should not know both layouts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from openidv.results import CheckResult, Status

#: the checks whose reading holds the MRZ fields, in the order they are trusted
DOCUMENT_CHECKS = ("mrz", "document_read")


def mrz_field_sets(prior: Mapping[str, CheckResult]) -> Iterator[Mapping[str, Any]]:
    """The MRZ fields of each document check that ran and read them, in ``DOCUMENT_CHECKS`` order."""
    for name in DOCUMENT_CHECKS:
        result = prior.get(name)
        if result is None or result.status != Status.OK:
            continue
        details = result.details
        fields = details.get("fields") if name == "mrz" else (details.get("reading") or {}).get("mrz_fields")
        if isinstance(fields, Mapping):
            yield fields
