"""Runs one applicant's checks concurrently, times each, and never lets one failure sink a verification.

A check that raises becomes an ``error`` result with ``CHECK_ERROR``; one that overruns its budget becomes
an ``error`` result with ``CHECK_TIMEOUT``. The policy then decides (usually review). An exception's text
(which may quote SQL, file paths or personal data) goes to the server log only, with an ``error_id`` and the
request id; the result, which is stored and returned, carries a generic message and the ``error_id``.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import partial

from openidv.checks.base import Check, Judge
from openidv.checks.registry import create_check
from openidv.decision.policy import Policy
from openidv.errors import REQUEST_ID, PolicyError
from openidv.evidence import Evidence
from openidv.results import CheckResult, Decision, Status

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="openidv-check")


def error_result(
    check: Check, code: str, message: str, latency_ms: float, *, error_id: str | None = None
) -> CheckResult:
    details = {"error": message, **({"error_id": error_id} if error_id else {})}
    return check.result(Status.ERROR, None, (code,), details).with_latency(latency_ms)


def run_check_safely(
    check: Check,
    evidence: Evidence,
    *,
    operator_view: bool = False,
    prior: Mapping[str, CheckResult] | None = None,
) -> CheckResult:
    """Run one check, timing it and turning any exception into an ``error`` result.

    The exception is logged (with an ``error_id`` and the request id); the result says only that the check
    failed and gives the ``error_id``: exception text never reaches a stored record or a response. Offline
    tools run by the operator on their own data (``openidv eval run``) pass ``operator_view`` to see the
    exception's type and message in the result, where they need it to fix a dataset."""
    start = time.perf_counter()
    try:
        result = check.run_after(evidence, prior or {}) if check.after else check.run(evidence)
    except Exception:  # one failing check must never sink the verification
        error_id = uuid.uuid4().hex[:16]
        log.exception("check %s raised (error_id=%s, request_id=%s)", check.name, error_id, REQUEST_ID.get())
        elapsed = (time.perf_counter() - start) * 1000
        exc = sys.exc_info()[1]
        message = f"{type(exc).__name__}: {exc}" if operator_view else "the check failed unexpectedly"
        return error_result(check, "CHECK_ERROR", message, elapsed, error_id=error_id)
    return result.with_latency((time.perf_counter() - start) * 1000)


@dataclass(frozen=True)
class PipelineRun:
    results: tuple[CheckResult, ...]
    decision: Decision
    latency_ms: float


class Pipeline:
    """The checks a policy configures, ready to run for any number of applicants.

    ``services`` maps service names (``openidv.checks.services``) to the objects checks ask; a configured
    check whose service is missing raises ``ConfigurationError`` here, at construction, never later.
    """

    def __init__(
        self,
        policy: Policy,
        checks: Sequence[Check] | None = None,
        timeout_s: float | None = None,
        *,
        services: Mapping[str, object] | None = None,
    ):
        self.policy = policy
        self.checks = (
            list(checks)
            if checks is not None
            else [create_check(name, cfg.params, services) for name, cfg in policy.checks.items()]
        )
        self.timeout_s = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s

    def run_checks(self, evidence: Evidence) -> tuple[CheckResult, ...]:
        """Every applicable check, concurrently; checks that read others' results (``Check.after``) run in
        a second round, given the disclosed results of the first. One deadline covers both rounds."""
        applicable = [c for c in self.checks if c.applies_to(evidence)]
        deadline = time.perf_counter() + self.timeout_s
        first = [c for c in applicable if not c.after]
        done = dict(zip(first, self._round(first, evidence, deadline, {}), strict=True))
        prior = {c.name: r for c, r in done.items()}
        second = [c for c in applicable if c.after]
        done.update(zip(second, self._round(second, evidence, deadline, prior), strict=True))
        return tuple(done[c] for c in applicable)

    def _round(
        self,
        checks: Sequence[Check],
        evidence: Evidence,
        deadline: float,
        prior: Mapping[str, CheckResult],
    ) -> list[CheckResult]:
        futures: list[tuple[Check, Future[CheckResult], float]] = [
            # each check runs in a copy of the caller's context, so its log lines carry the request id
            (
                c,
                _executor.submit(
                    contextvars.copy_context().run,
                    partial(
                        run_check_safely, c, evidence, prior={n: prior[n] for n in c.after if n in prior}
                    ),
                ),
                time.perf_counter(),
            )
            for c in checks
        ]
        results = []
        for check, future, started in futures:
            try:
                results.append(future.result(timeout=max(0.0, deadline - time.perf_counter())))
            except FutureTimeout:
                future.cancel()
                elapsed = (time.perf_counter() - started) * 1000
                results.append(error_result(check, "CHECK_TIMEOUT", f"exceeded {self.timeout_s:g}s", elapsed))
        return [
            self._disclosed(check, result) for (check, _, _), result in zip(futures, results, strict=True)
        ]

    def _disclosed(self, check: Check, result: CheckResult) -> CheckResult:
        """What of ``result`` may be stored and returned (``Check.disclose``, judged by the policy)."""
        try:
            return check.disclose(result, self._judge(check.name))
        except Exception:  # never let undisclosed details through
            error_id = uuid.uuid4().hex[:16]
            log.exception(
                "disclosing %s failed (error_id=%s, request_id=%s)", check.name, error_id, REQUEST_ID.get()
            )
            return error_result(
                check, "CHECK_ERROR", "the check failed unexpectedly", result.latency_ms, error_id=error_id
            )

    def _judge(self, check: str) -> Judge:
        def judge(threshold: str, score: float) -> bool:
            try:
                return self.policy.judge_score(check, threshold, score).holds
            except PolicyError:  # a threshold the policy does not judge singles nobody out
                return False

        return judge

    def run(self, evidence: Evidence) -> PipelineRun:
        start = time.perf_counter()
        results = self.run_checks(evidence)
        decision = self.policy.decide(results, asked={c.name for c in self.checks})
        return PipelineRun(results, decision, round((time.perf_counter() - start) * 1000, 3))
