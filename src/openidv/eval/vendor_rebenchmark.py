"""Re-benchmark a drifting vendor through the regression gate, and record the drift reset when it passes.

Why here: the benchmark (``vendor_scorecard.benchmark``) and the gate (``gate.compare``, the function behind
``openidv eval compare``) are this layer's; the vendors layer below may not call them, it only reads the
resets recorded here (``vendor_drift_resets``) and resets its monitors. ``openidv vendors rebenchmark``
is the command.

Steps: benchmark the one vendor on the owned manifests into ``out``; compare each capability's new report
with the baseline run's (``baseline/<vendor>/<capability>/report.json``) under the gate file (default gates
without one); when every capability passes, record one reset per capability (every country) with the reports
and verdicts as evidence, and one ``vendor.drift_reset`` audit entry, in one transaction. A capability that
could not be evaluated fails. Bad input raises ``InvalidInput`` before any vendor is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openidv.errors import InvalidInput
from openidv.eval.gate import compare, load_gates
from openidv.eval.metrics.common import Options
from openidv.eval.runner import REPORT_FILE
from openidv.eval.vendor_scorecard import benchmark, load_sets
from openidv.store import audit
from openidv.store.repository import Store
from openidv.store.vendor_call_store import DriftReset, add_drift_reset
from openidv.vendors.config import load_vendors

#: the audit action of a recorded drift reset
RESET_ACTION = "vendor.drift_reset"


@dataclass(frozen=True)
class Verdict:
    """The gate's verdict on one capability of the re-benchmarked vendor."""

    capability: str
    passed: bool
    baseline_report: str
    candidate_report: str | None
    failed_gates: tuple[str, ...] = ()
    reason: str = ""
    gates: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "capability": self.capability,
            "passed": self.passed,
            "baseline_report": self.baseline_report,
            "candidate_report": self.candidate_report,
            "failed_gates": list(self.failed_gates),
            "reason": self.reason,
            "gates": list(self.gates),
        }


@dataclass
class Rebenchmark:
    vendor: str
    scorecard: str
    gate: str | None
    verdicts: list[Verdict]
    resets: list[DriftReset] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.verdicts) and all(v.passed for v in self.verdicts)

    def evidence(self) -> dict[str, Any]:
        """What a reset row and its audit entry carry: the reports and verdicts (no personal data)."""
        return {
            "scorecard": self.scorecard,
            "gate": self.gate,
            "verdicts": [
                {k: v for k, v in verdict.as_dict().items() if k != "gates"} for verdict in self.verdicts
            ],
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "passed": self.passed,
            "scorecard": self.scorecard,
            "gate": self.gate,
            "verdicts": [v.as_dict() for v in self.verdicts],
            "resets": [
                {
                    "id": r.id,
                    "capability": r.capability,
                    "country": r.country,
                    "reset_at": r.reset_at.isoformat(),
                }
                for r in self.resets
            ],
        }


def rebenchmark(
    config: str | Path,
    vendor: str,
    manifests: Sequence[str],
    baseline: str | Path,
    out: str | Path,
    *,
    gate: str | Path | None = None,
    options: Options | None = None,
    concurrency: int = 8,
    replicates: int | None = None,
    seed: int | None = None,
) -> Rebenchmark:
    """Benchmark ``vendor`` into ``out`` (``options``: the reports' bootstrap) and gate each capability
    against ``baseline`` (``replicates``/``seed`` override the gate file's, as in ``eval compare``).
    Records nothing: ``record_reset`` does, when the caller decides to."""
    vendors = load_vendors(config)
    if vendor not in vendors.vendors:
        raise InvalidInput(
            f"--vendor: {vendor!r} is not configured in {config} ({', '.join(sorted(vendors.vendors))})"
        )
    baseline, out = Path(baseline), Path(out)
    if out.resolve() == baseline.resolve():
        raise InvalidInput("--out: must differ from --baseline (the new run would overwrite the baseline)")
    if gate is not None:
        load_gates(gate)  # a bad gate file is one line now, before any vendor is called
    served = set(vendors.vendors[vendor].capabilities)
    capabilities = [s.capability.value for s in load_sets(manifests) if s.capability in served]
    if not capabilities:
        raise InvalidInput(f"--manifest: no manifest measures a capability {vendor} serves")
    for capability in capabilities:
        report = baseline / vendor / capability / REPORT_FILE
        if not report.is_file():
            raise InvalidInput(
                f"--baseline: no {report} (the baseline benchmark's report of {vendor} {capability})"
            )
    result = benchmark(
        config,
        manifests,
        [vendor],
        out,
        options=options,
        concurrency=concurrency,
        html=False,
        report_html=False,
    )
    skipped = {s["capability"]: s["reason"] for s in result.scorecard["skipped"] if s["entry"] == vendor}
    verdicts = []
    for capability in capabilities:
        base_report = baseline / vendor / capability / REPORT_FILE
        if capability not in result.scorecard["evaluations"].get(vendor, {}):
            why = skipped.get(capability, "not evaluated")
            verdicts.append(
                Verdict(capability, False, str(base_report), None, reason=f"not evaluated: {why}")
            )
            continue
        cand_report = out / vendor / capability / REPORT_FILE
        comparison = compare(base_report, cand_report, gate, replicates=replicates, seed=seed)
        failed = tuple(r.gate.name for r in comparison.failed)
        verdicts.append(
            Verdict(
                capability,
                comparison.passed,
                str(base_report),
                str(cand_report),
                failed_gates=failed,
                reason=f"{len(comparison.results)} gate(s) passed"
                if comparison.passed
                else f"gate(s) failed: {', '.join(failed)}",
                gates=tuple(r.as_dict() for r in comparison.results),
            )
        )
    return Rebenchmark(vendor, str(result.path), None if gate is None else str(gate), verdicts)


def record_reset(store: Store, run: Rebenchmark, *, actor: str, reason: str) -> list[DriftReset]:
    """Record a passed re-benchmark: one reset per capability (every country) and one audit entry, in one
    transaction; running services apply them within seconds (``RoutedVendors.sync_resets``)."""
    if not run.passed:
        raise InvalidInput(f"{run.vendor}: the re-benchmark did not pass the gate; nothing to reset")
    evidence = run.evidence()
    with store.transaction() as session:
        resets = [
            add_drift_reset(
                session,
                vendor=run.vendor,
                capability=v.capability,
                country=None,
                actor=actor,
                reason=reason,
                evidence=evidence,
            )
            for v in run.verdicts
        ]
        audit.append(
            session,
            actor=actor,
            action=RESET_ACTION,
            subject=None,
            payload={
                "vendor": run.vendor,
                "capabilities": [v.capability for v in run.verdicts],
                "resets": [r.id for r in resets],
                "reason": reason,
                **evidence,
            },
        )
    run.resets = resets
    return resets
