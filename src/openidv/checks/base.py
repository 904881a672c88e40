"""The check contract: one small interface that every check honours, like scikit-learn's estimators.

A check has a ``name``, a ``version``, the ``meaning`` of its score, the evidence fields it ``requires``,
typed parameters (``Params``, a pydantic model: types, ranges and defaults in one place), the services it
``needs`` (passed in at construction, never looked up), and ``run(evidence) -> CheckResult``.

A check judges evidence and nothing else: it does no network I/O and writes nothing. A write that should
follow a decision (remember a capture for replay detection, enrol a face) is returned as data by
``follow_ups`` and applied by the verification layer in the transaction that stores the verification, so a
rejected or failed request leaves no trace. A check never knows whether it runs in the API, the CLI, an
evaluation or a Spark job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from openidv.errors import ConfigurationError
from openidv.evidence import Evidence
from openidv.imageio import load_image
from openidv.results import CheckResult, Meaning, Status


class CheckParams(BaseModel):
    """Base of every check's parameter model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NoParams(CheckParams):
    """For checks that take no parameters."""


@dataclass(frozen=True)
class FollowUp:
    """A write that should happen only if the verification is stored and not rejected.

    ``service`` names the service that applies it (one of a check's ``needs``); subclasses carry the data.
    The verification layer hands each follow-up to ``service.apply_follow_up(follow_up, reference=...,
    session=...)`` inside the store's transaction.
    """

    service: ClassVar[str]
    #: applied even when the applicant is rejected (the identity graph must remember rejected applicants:
    #: a ring's declined attempts are what links its later ones); capture fingerprints and enrolments are not
    on_reject: ClassVar[bool] = False

    def decided(self, outcome: str) -> FollowUp:
        """This follow-up once the verification's outcome (``approve``, ``review``, ``reject``) is known.
        Most ignore it; one that counts outcomes (a device's rejected attempts) returns a copy carrying it."""
        return self


#: the policy's verdict on one score, handed to ``Check.disclose``: ``judge(threshold_name, score)`` is True
#: when the rule reading ``checks.<check>.thresholds.<threshold_name>`` holds for ``score`` (False when the
#: policy cannot judge it). Checks never compare scores with thresholds themselves.
Judge = Callable[[str, float], bool]


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """The first pydantic error as ``prefix.key.path: message`` (one line, the key path named)."""
    first = exc.errors()[0]
    path = prefix
    for part in first.get("loc", ()):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f"{path}: {first.get('msg', 'invalid value')}"


class Check:
    """Base class for checks. Subclasses set the class attributes and implement ``run``."""

    name: ClassVar[str]
    version: ClassVar[str]
    meaning: ClassVar[Meaning]
    requires: ClassVar[tuple[str, ...]] = ()
    #: the parameters accepted from the policy (``checks.<name>.params``): a pydantic model
    Params: ClassVar[type[CheckParams]] = NoParams
    #: the services this check asks (names in ``openidv.checks.services``), passed in at construction
    needs: ClassVar[tuple[str, ...]] = ()
    #: for ``evidence_from_files``: the evidence field each dataset file fills, in manifest order
    #: (one file for a samples manifest's ``path``, two for a comparisons manifest's ``a`` and ``b``)
    file_fields: ClassVar[tuple[str, ...]] = ()
    #: checks whose (disclosed) results this one reads: it runs after them, through ``run_after``
    after: ClassVar[tuple[str, ...]] = ()
    #: ask ``follow_ups`` for this check's ``error`` results too (a vendor check's failed calls were
    #: billed and must be audited); other checks' error results have nothing to follow up
    follow_ups_on_error: ClassVar[bool] = False

    params: CheckParams

    def __init__(self, services: Mapping[str, Any] | None = None, **params: Any) -> None:
        try:
            self.params = self.Params.model_validate(params)
        except ValidationError as exc:
            raise ConfigurationError(format_validation_error(exc, f"checks.{self.name}.params")) from None
        available = services or {}
        missing = [need for need in self.needs if available.get(need) is None]
        if missing:
            raise ConfigurationError(
                f"check {self.name!r} needs the {', '.join(missing)} service(s); build them once "
                "(openidv.services.Services) and pass them to the pipeline"
            )
        self.services: dict[str, Any] = {need: available[need] for need in self.needs}

    def applies_to(self, evidence: Evidence) -> bool:
        """True when every evidence field this check needs is present."""
        return all(evidence.has(field) for field in self.requires)

    def run(self, evidence: Evidence) -> CheckResult:
        raise NotImplementedError

    def run_after(self, evidence: Evidence, prior: Mapping[str, CheckResult]) -> CheckResult:
        """Run with the results of the checks named in ``after`` that ran (absent ones are missing from
        ``prior``). Checks that read no other check's result only implement ``run``."""
        return self.run(evidence)

    def run_batch(self, batch: Sequence[Evidence]) -> list[CheckResult]:
        """Score many applicants; checks whose model batches well override this."""
        return [self.run(evidence) for evidence in batch]

    def follow_ups(self, evidence: Evidence, result: CheckResult) -> Sequence[FollowUp]:
        """Writes to make if the verification is stored and not rejected (none by default)."""
        return ()

    def disclose(self, result: CheckResult, judge: Judge) -> CheckResult:
        """The part of ``result`` that may be stored and returned, decided by the policy's ``judge``.

        The pipeline calls it on every result before the decision is stored or shown. A check whose details
        name people (gallery subjects) keeps only those a policy threshold singles out, and at most counts
        the rest; the default keeps everything."""
        return result

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        """Build evidence from dataset files, so ``openidv eval run`` can score any manifest.

        Checks that read images set ``file_fields``; a check that needs more (EXIF, a back side) overrides
        this.
        """
        if not self.file_fields:
            raise NotImplementedError(f"check {self.name!r} cannot be evaluated from dataset files")
        if len(paths) != len(self.file_fields):
            raise ValueError(
                f"check {self.name!r} reads {len(self.file_fields)} file(s) per row "
                f"({', '.join(self.file_fields)}), got {len(paths)}"
            )
        return Evidence(**{f: load_image(p) for f, p in zip(self.file_fields, paths, strict=True)})

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
