"""From a manifest and its scores to a ``ScoredSet``: task, classes, subjects, species and slices.

Rows whose check raised (status ``error``) are taken out here and listed in the report: an error says
nothing about the person or the document, only about our software, so it is neither a failure to acquire
nor an error of the check's decision. They are excluded from every rate and counted separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from openidv.errors import InvalidInput
from openidv.eval.data import FloatArray, ScoredSet, StrArray, Task
from openidv.eval.manifests import FRAUD_LABELS, MAX_SLICE_VALUES, Manifest, ManifestKind
from openidv.eval.metrics.identification import searches
from openidv.results import Meaning, Status


@dataclass(frozen=True)
class Loaded:
    """A scored set plus what was left out of it, for the report."""

    ss: ScoredSet
    errors: list[dict[str, str]] = field(default_factory=list)
    skipped_slices: dict[str, str] = field(default_factory=dict)
    n_rows: int = 0


def infer_task(manifest: Manifest, requested: Task | None = None) -> Task:
    """Comparisons -> verification (or identification on request); samples -> PAD or classification."""
    if manifest.kind == ManifestKind.COMPARISONS:
        task = requested or Task.VERIFICATION
        if task not in (Task.VERIFICATION, Task.IDENTIFICATION):
            raise InvalidInput(f"task {task.value}: needs a samples manifest (id, path, subject, label)")
        return task
    fraud = bool(manifest.labels & set(FRAUD_LABELS))
    task = Task.CLASSIFICATION if fraud else Task.PAD
    if requested is not None and requested != task:
        raise InvalidInput(
            f"task {requested.value}: this samples manifest has "
            f"{'legit/fraud' if fraud else 'bona_fide/attack'} "
            f"labels, which make it a {task.value} evaluation"
        )
    return task


def scored_set(
    manifest: Manifest,
    scores: FloatArray,
    statuses: Sequence[Status],
    details: Sequence[str],
    meaning: Meaning,
    task: Task | None = None,
) -> Loaded:
    """Build the scored set of ``manifest`` (scores aligned to its rows)."""
    task = infer_task(manifest, task)
    status = np.array([s.value for s in statuses], dtype=object)
    keep = status != Status.ERROR.value
    ids = np.array(manifest.ids, dtype=object)
    errors = [{"id": str(i), "detail": str(d)} for i, d, k in zip(ids, details, keep, strict=True) if not k]
    fta = (status == Status.FAILED_TO_ACQUIRE.value)[keep]
    slices, skipped = _slices(manifest, keep)
    if manifest.kind == ManifestKind.COMPARISONS:
        subject_a_names = manifest.column("subject_a")
        subject_b_names = manifest.column("subject_b")
    else:
        subject_a_names = subject_b_names = manifest.column("subject")
    subjects = tuple(sorted(set(subject_a_names) | set(subject_b_names)))
    coding = pd.Index(subjects)
    subject_a = np.asarray(coding.get_indexer(pd.Index(subject_a_names)), dtype=np.intp)[keep]
    subject_b = np.asarray(coding.get_indexer(pd.Index(subject_b_names)), dtype=np.intp)[keep]
    raw = np.where(fta, np.nan, scores[keep])
    if task == Task.IDENTIFICATION:
        probes = [p for p, k in zip(manifest.column("a"), keep, strict=True) if k]
        ss = searches(ids[keep], probes, subject_a, subject_b, subjects, raw, fta, meaning, slices)
        return Loaded(ss, errors, skipped, len(ids))
    if manifest.kind == ManifestKind.COMPARISONS:
        good = subject_a == subject_b
        species: StrArray = np.full(int(keep.sum()), "", dtype=object)
    else:
        labels = np.array(manifest.column("label"), dtype=object)[keep]
        good = (labels == "bona_fide") | (labels == "legit")
        if "species" in manifest.frame.columns:
            species = np.where(good, "", np.array(manifest.column("species"), dtype=object)[keep]).astype(
                object
            )
        else:
            species = np.full(int(keep.sum()), "", dtype=object)
    ss = ScoredSet(
        task=task,
        meaning=meaning,
        ids=ids[keep],
        scores=raw,
        fta=fta,
        good=good,
        subject_a=subject_a,
        subject_b=subject_b,
        subjects=subjects,
        species=species,
        slices=slices,
    )
    return Loaded(ss, errors, skipped, len(ids))


def _slices(
    manifest: Manifest, keep: np.ndarray[tuple[int], np.dtype[np.bool_]]
) -> tuple[dict[str, StrArray], dict[str, str]]:
    slices: dict[str, StrArray] = {}
    skipped: dict[str, str] = {}
    for col in manifest.slice_columns:
        values = np.array([v if v.strip() else "(missing)" for v in manifest.column(col)], dtype=object)
        distinct = len(set(values.tolist()))
        if distinct > MAX_SLICE_VALUES:
            skipped[col] = (
                f"{distinct} distinct values (more than {MAX_SLICE_VALUES}): an identifier, not a slice"
            )
            continue
        if col == "meaning":
            skipped[col] = "reserved"
            continue
        slices[col] = values[keep]
    return slices, skipped
