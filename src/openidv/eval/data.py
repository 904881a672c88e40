"""What every metric reads: one scored, labelled set of rows in a fixed vocabulary.

A ``ScoredSet`` holds, for each usable row (``error`` rows are removed before and reported separately),
the raw score, whether it failed to acquire, whether it belongs to the *good* class (genuine, bona fide,
legit, mated search) or the *bad* class (impostor, attack, fraud, non-mated search), and the subjects it
involves, so that the bootstrap can resample people instead of rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from openidv.results import Meaning

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]
StrArray = NDArray[np.object_]


class Task(StrEnum):
    """Which family of error rates a manifest is measured with."""

    VERIFICATION = "verification"  # 1:1 comparisons, ISO/IEC 19795-1
    IDENTIFICATION = "identification"  # 1:N searches, ISO/IEC 19795-1 / NIST FRVT 1:N
    PAD = "pad"  # presentation-attack detection, ISO/IEC 30107-3
    CLASSIFICATION = "classification"  # binary fraud classifier


@dataclass(frozen=True)
class Vocabulary:
    """The names a task gives to its two classes and two error rates."""

    good: str
    bad: str
    good_err: str  # rate at which the good class is rejected
    bad_err: str  # rate at which the bad class is accepted
    at_target: str  # report key of the headline curve, e.g. fnmr_at_fmr
    target_rate: str  # the constrained rate written in --target
    constrained: Literal["bad", "good"]  # which error the target constrains
    default_targets: tuple[float, ...]
    unit: str  # what one row is: comparisons, searches, presentations, cases

    @property
    def n_good(self) -> str:
        return f"n_{self.good}"

    @property
    def n_bad(self) -> str:
        return f"n_{self.bad}"


VOCABULARY: Mapping[Task, Vocabulary] = {
    Task.VERIFICATION: Vocabulary(
        "genuine",
        "impostor",
        "fnmr",
        "fmr",
        "fnmr_at_fmr",
        "fmr",
        "bad",
        (1e-2, 1e-3, 1e-4, 1e-5, 1e-6),
        "comparisons",
    ),
    Task.IDENTIFICATION: Vocabulary(
        "mated",
        "non_mated",
        "fnir",
        "fpir",
        "fnir_at_fpir",
        "fpir",
        "bad",
        (1e-1, 1e-2, 1e-3, 1e-4),
        "searches",
    ),
    Task.PAD: Vocabulary(
        "bona_fide",
        "attack",
        "bpcer",
        "apcer",
        "bpcer_at_apcer",
        "apcer",
        "bad",
        (1e-1, 5e-2, 1e-2, 1e-3),
        "presentations",
    ),
    Task.CLASSIFICATION: Vocabulary(
        "legit", "fraud", "fpr", "fnr", "recall_at_fpr", "fpr", "good", (1e-1, 5e-2, 1e-2, 1e-3), "cases"
    ),
}


def decision_rule(meaning: Meaning) -> str:
    """The tie convention every threshold in openidv follows, in words for reports."""
    if meaning == Meaning.SIMILARITY:
        return "accept when score >= threshold"
    return "flag as attack/fraud when score >= threshold, accept when score < threshold"


@dataclass(frozen=True)
class ScoredSet:
    """Scored, labelled rows ready for metrics; arrays are aligned by row."""

    task: Task
    meaning: Meaning
    ids: StrArray
    scores: FloatArray  # raw score as the check declared it; NaN where failed to acquire
    fta: BoolArray
    good: BoolArray
    subject_a: IntArray  # index into ``subjects``
    subject_b: IntArray  # equal to subject_a for samples and genuine comparisons
    subjects: tuple[str, ...]
    species: StrArray  # attack species for PAD attack rows, "" elsewhere
    slices: Mapping[str, StrArray] = field(default_factory=dict)
    rank: FloatArray | None = None  # identification: rank of the mate in its search (inf when missed)

    def __post_init__(self) -> None:
        n = self.scores.shape[0]
        for name in ("ids", "fta", "good", "subject_a", "subject_b", "species"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"ScoredSet.{name} has {getattr(self, name).shape[0]} rows, scores has {n}")
        ok = ~self.fta
        if np.isnan(self.scores[ok]).any():
            raise ValueError(
                "every acquired row needs a score (-inf stands for a mate missing from a search)"
            )

    @property
    def vocabulary(self) -> Vocabulary:
        return VOCABULARY[self.task]

    @property
    def n(self) -> int:
        return int(self.scores.shape[0])

    @property
    def fta_score(self) -> float:
        """The score a failure to acquire stands in for: never accepted, at any threshold."""
        return float(-np.inf) if self.meaning == Meaning.SIMILARITY else float(np.inf)

    def scores_with_fta(self) -> FloatArray:
        """Scores where failures to acquire count as rejected (ISO/IEC 19795-1 generalised rates)."""
        return np.where(self.fta, self.fta_score, self.scores)

    def accepted(self, threshold: float) -> BoolArray:
        """Rows the decision rule accepts at ``threshold`` (failures to acquire never are)."""
        s = self.scores_with_fta()
        with np.errstate(invalid="ignore"):
            return s >= threshold if self.meaning == Meaning.SIMILARITY else s < threshold

    def subset(self, mask: BoolArray | IntArray) -> ScoredSet:
        """The rows under ``mask`` (or at these indices, in this order), keeping the subject coding."""
        return ScoredSet(
            task=self.task,
            meaning=self.meaning,
            ids=self.ids[mask],
            scores=self.scores[mask],
            fta=self.fta[mask],
            good=self.good[mask],
            subject_a=self.subject_a[mask],
            subject_b=self.subject_b[mask],
            subjects=self.subjects,
            species=self.species[mask],
            slices={k: v[mask] for k, v in self.slices.items()},
            rank=None if self.rank is None else self.rank[mask],
        )
