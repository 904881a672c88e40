"""Small real checks for testing the pipeline and policy machinery (they honour the full Check contract)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from openidv.checks.base import Check, CheckParams
from openidv.evidence import Evidence
from openidv.results import CheckResult, Meaning, Status


class MetadataScoreParams(CheckParams):
    fta_below: float | None = None  # a score below this is a failure to acquire


class MetadataScoreCheck(Check):
    """Reads its score from ``evidence.metadata['score']``: lets tests drive the policy precisely."""

    name: ClassVar[str] = "test_metadata_score"
    version = "1.0"
    meaning = Meaning.SIMILARITY
    requires = ("metadata",)
    Params = MetadataScoreParams
    params: MetadataScoreParams

    def run(self, evidence: Evidence) -> CheckResult:
        score = float(evidence.metadata["score"])
        fta_below = self.params.fta_below
        if fta_below is not None and score < fta_below:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ["CHECK_NOT_APPLICABLE"])
        return self.result(Status.OK, score)

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        return Evidence(metadata={"score": float(paths[0].read_text())})


class RaisingCheck(Check):
    name: ClassVar[str] = "test_raising"
    version = "1.0"
    meaning = Meaning.ATTACK

    def run(self, evidence: Evidence) -> CheckResult:
        raise RuntimeError("model file corrupted")


class SlowCheck(Check):
    name: ClassVar[str] = "test_slow"
    version = "1.0"
    meaning = Meaning.ATTACK
    started = threading.Event()

    def run(self, evidence: Evidence) -> CheckResult:
        SlowCheck.started.set()
        time.sleep(0.5)
        return self.result(Status.OK, 0.1)
