"""Shared helpers for the evaluation tests: two tiny real checks that read numbers from files, and
generators of small labelled datasets (manifests, files and score files) with a fixed seed.

The checks honour the full Check contract (``evidence_from_files`` + ``run``); they are registered by the
tests that use them and unregistered afterwards.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from openidv.checks.base import Check, CheckParams
from openidv.checks.registry import register_check, unregister_check
from openidv.evidence import Evidence
from openidv.results import CheckResult, Meaning, Status


class OffsetParams(CheckParams):
    offset: float = 0.0


class NumberFileCheck(Check):
    """Score = the number in the file (samples), or 1 - |a - b| for two files (comparisons).

    A file holding ``fta`` fails to acquire; one holding ``boom`` makes ``run`` raise (an ``error`` row).
    Counts its runs so tests can see the cache at work.
    """

    name: ClassVar[str] = "eval_test_number"
    version: ClassVar[str] = "1.0"
    meaning: ClassVar[Meaning] = Meaning.SIMILARITY
    requires: ClassVar[tuple[str, ...]] = ("metadata",)
    Params = OffsetParams
    params: OffsetParams
    runs: ClassVar[int] = 0

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        return Evidence(metadata={"values": [p.read_text(encoding="utf-8").strip() for p in paths]})

    def run(self, evidence: Evidence) -> CheckResult:
        type(self).runs += 1
        values = evidence.metadata["values"]
        if "boom" in values:
            raise RuntimeError("model exploded")
        if "fta" in values:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ["CHECK_NOT_APPLICABLE"])
        numbers = [float(v) for v in values]
        score = numbers[0] if len(numbers) == 1 else 1.0 - abs(numbers[0] - numbers[1])
        return self.result(Status.OK, score + self.params.offset)


class AttackNumberFileCheck(NumberFileCheck):
    """The same, declaring ``attack`` meaning (higher = more likely an attack)."""

    name: ClassVar[str] = "eval_test_attack"
    meaning: ClassVar[Meaning] = Meaning.ATTACK


@pytest.fixture
def number_checks() -> Iterator[None]:
    register_check(NumberFileCheck, replace=True)
    register_check(AttackNumberFileCheck, replace=True)
    NumberFileCheck.runs = 0
    try:
        yield
    finally:
        unregister_check(NumberFileCheck.name)
        unregister_check(AttackNumberFileCheck.name)


def write_csv(
    path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]], comments: Sequence[str] = ()
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        for c in comments:
            fh.write(f"# {c}\n")
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def comparison_files(
    folder: Path,
    *,
    subjects: int = 30,
    per_subject: int = 3,
    impostors_per_sample: int = 4,
    seed: int = 0,
    fta: Sequence[int] = (),
    boom: Sequence[int] = (),
) -> Path:
    """Sample files holding ``identity + noise`` and a comparisons manifest over them (with slice columns)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "samples").mkdir(exist_ok=True)
    identity = rng.uniform(0, 10, subjects)
    paths: list[tuple[str, str]] = []
    k = 0
    for s in range(subjects):
        for j in range(per_subject):
            name = f"samples/s{s:03d}_{j}.txt"
            text = f"{identity[s] + rng.normal(0, 0.15):.6f}"
            if k in fta:
                text = "fta"
            if k in boom:
                text = "boom"
            (folder / name).write_text(text + "\n", encoding="utf-8")
            paths.append((name, f"p{s:03d}"))
            k += 1
    rows = []
    n = 0
    for i, (a, sa) in enumerate(paths):
        for j in range(i + 1, len(paths)):
            b, sb = paths[j]
            if sa == sb:
                rows.append([f"c{n}", a, b, sa, sb, "young" if int(sa[1:]) % 2 else "old", "ios"])
                n += 1
        for j in rng.choice(len(paths), size=impostors_per_sample, replace=False):
            b, sb = paths[int(j)]
            if sb != sa:
                rows.append([f"c{n}", a, b, sa, sb, "young" if int(sa[1:]) % 2 else "old", "android"])
                n += 1
    return write_csv(
        folder / "pairs.csv", ["id", "a", "b", "subject_a", "subject_b", "age_band", "device"], rows
    )


def verification_scores(
    folder: Path,
    *,
    subjects: int = 200,
    per_subject: int = 3,
    impostors: int = 6000,
    seed: int = 0,
    shift: float = 0.0,
    name: str = "scores.csv",
    fta_every: int = 0,
) -> tuple[Path, Path]:
    """A comparisons manifest (no files) and a score file for it: genuine ~ N(2, 1), impostor ~ N(0, 1).

    ``shift`` lowers the genuine scores of odd subjects (a planted regression for the gate).
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows, scores = [], []
    n = 0
    for s in range(subjects):
        for _ in range(per_subject):
            rows.append([f"g{n}", f"a{n}.jpg", f"b{n}.jpg", f"p{s}", f"p{s}", "f" if s % 2 else "m"])
            scores.append(rng.normal(2.0, 1.0) - (shift if s % 2 else 0.0))
            n += 1
    for k in range(impostors):
        a, b = rng.choice(subjects, size=2, replace=False)
        rows.append([f"i{k}", f"x{k}.jpg", f"y{k}.jpg", f"p{a}", f"p{b}", "f" if a % 2 else "m"])
        scores.append(rng.normal(0.0, 1.0))
    manifest = write_csv(folder / "pairs.csv", ["id", "a", "b", "subject_a", "subject_b", "sex"], rows)
    score_rows = []
    for i, (row, sc) in enumerate(zip(rows, scores, strict=True)):
        if fta_every and i % fta_every == 0:
            score_rows.append([row[0], "", "failed_to_acquire"])
        else:
            score_rows.append([row[0], repr(float(sc)), "ok"])
    score_file = write_csv(
        folder / name,
        ["id", "score", "status"],
        score_rows,
        ["meaning: similarity", "check: eval_test_number"],
    )
    return manifest, score_file
