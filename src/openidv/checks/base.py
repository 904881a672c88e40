"""The check contract: one small interface that every check honours, like scikit-learn's estimators.

A check has a ``name``, a ``version``, the ``meaning`` of its score, the evidence fields it ``requires``,
and ``run(evidence) -> CheckResult``. It does no network I/O and never knows whether it runs in the API,
the CLI, an evaluation or a Spark job. Parameters come from the policy file (``checks.<name>.params``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from openidv.evidence import Evidence
from openidv.results import CheckResult, Meaning, Status


class Check:
    """Base class for checks. Subclasses set the class attributes and implement ``run``."""

    name: ClassVar[str]
    version: ClassVar[str]
    meaning: ClassVar[Meaning]
    requires: ClassVar[tuple[str, ...]] = ()
    #: parameter names accepted from the policy, with their defaults
    params_schema: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.params_schema))
        if unknown:
            raise ValueError(f"check {self.name!r} has no parameter(s) {', '.join(unknown)}")
        self.params: dict[str, Any] = {**self.params_schema, **params}

    def applies_to(self, evidence: Evidence) -> bool:
        """True when every evidence field this check needs is present."""
        return all(evidence.has(field) for field in self.requires)

    def run(self, evidence: Evidence) -> CheckResult:
        raise NotImplementedError

    def run_batch(self, batch: Sequence[Evidence]) -> list[CheckResult]:
        """Score many applicants; checks whose model batches well override this."""
        return [self.run(evidence) for evidence in batch]

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        """Build evidence from dataset files, so ``openidv eval run`` can score any manifest.

        ``paths`` holds one file for a samples manifest (``path``) and two for a comparisons manifest
        (``a``, ``b``). Checks that can be evaluated from files override this.
        """
        raise NotImplementedError(f"check {self.name!r} cannot be evaluated from dataset files")

    def result(
        self,
        status: Status,
        score: float | None = None,
        reason_codes: Iterable[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> CheckResult:
        """Build this check's result with its name, version and meaning filled in."""
        return CheckResult(
            check=self.name,
            version=self.version,
            status=status,
            score=score,
            meaning=self.meaning,
            reason_codes=tuple(dict.fromkeys(reason_codes)),
            details=dict(details or {}),
        )
