"""``device``: is this onboarding session's device automated, emulated, self-contradicting or overused?

Reads ``Evidence.telemetry.device`` (the collector's attribute set) and the applicant's declared country.
Steps, each a small module:

1. identity (``fingerprint``): the stable attributes' keyed signature and band keys; the
   ``device_reputation`` service returns stored devices sharing a band, with their counters, in one round
   trip; the best one at ``min_similarity`` is this device, else a new id is minted;
2. signals (``consistency``): automation, emulator and inconsistency flags, each explained;
3. velocity: distinct accounts in 24 h, rejected attempts and distinct countries in ``window_days``, this
   attempt included, against the parameters' limits;
4. score (meaning ``attack``): noisy-OR of the raised flags' weights, ``1 - prod(1 - w)``: 0 with no flag,
   monotone in every flag, each weight a policy parameter. Reason codes come from the flags' kinds; a flag
   whose weight is 0 (or absent) is off: listed in ``ignored_flags``, no score, no reason code.

No device attributes: ``failed_to_acquire`` with ``DEVICE_UNKNOWN``. The service answering from its
in-process fallback (Redis down) is said in ``details.reputation_source`` and ``details.reputation_degraded``.
The sighting is remembered through ``RecordDevice`` after the verification commits, rejected ones included.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from openidv.checks.base import Check, CheckParams, FollowUp
from openidv.checks.device.consistency import REASON_OF_KIND, Signal, device_signals
from openidv.checks.device.device_params import DeviceParams
from openidv.checks.device.fingerprint import Signature, account_key, band_keys, match_device, signature_of
from openidv.checks.device.reputation import DAY_S, DeviceLookup, KnownDevice, RecordDevice
from openidv.checks.services import DEVICE_REPUTATION
from openidv.evidence import Evidence
from openidv.results import CheckResult, Meaning, Status


def noisy_or(weights: Sequence[float]) -> float:
    """``1 - prod(1 - w)``: each flag an independent chance of attack."""
    keep = 1.0
    for w in weights:
        keep *= 1.0 - min(1.0, max(0.0, w))
    return 1.0 - keep


def velocity_signals(
    device: KnownDevice | None, params: DeviceParams, *, country: str | None, account: str | None
) -> tuple[list[Signal], dict[str, Any]]:
    """Velocity flags and the counts they read; this attempt is counted in (an account without a subject
    id is a new account each time)."""
    known_24h = device is not None and account is not None and device.account_seen_24h
    known_ever = device is not None and account is not None and device.account_seen
    accounts = (device.accounts_24h if device else 0) + (0 if known_24h else 1)
    failures = device.failures if device else 0
    countries = set(device.countries if device else ())
    if country:
        countries.add(country.upper())
    counts = {
        "accounts_24h": accounts,
        "accounts_total": (device.accounts_total if device else 0) + (0 if known_ever else 1),
        "failures": failures,
        "countries": len(countries),
        "window_days": params.window_days,
        "first_seen": device.first_seen if device else None,
        "last_seen": device.last_seen if device else None,
    }
    out: list[Signal] = []
    if accounts > params.max_accounts_per_day:
        out.append(
            Signal(
                "velocity_accounts",
                "velocity",
                f"{accounts} distinct accounts on this device in 24 h (limit {params.max_accounts_per_day})",
            )
        )
    if failures > params.max_failures:
        out.append(
            Signal(
                "velocity_failures",
                "velocity",
                f"{failures} rejected verifications from this device in {params.window_days} days "
                f"(limit {params.max_failures})",
            )
        )
    if len(countries) > params.max_countries:
        out.append(
            Signal(
                "velocity_countries",
                "velocity",
                f"{len(countries)} declared countries from this device in {params.window_days} days "
                f"(limit {params.max_countries})",
            )
        )
    return out, counts


class DeviceCheck(Check):
    name: ClassVar[str] = "device"
    version: ClassVar[str] = "1.0.0"
    meaning: ClassVar[Meaning] = Meaning.ATTACK
    requires: ClassVar[tuple[str, ...]] = ("telemetry",)
    Params: ClassVar[type[CheckParams]] = DeviceParams
    needs: ClassVar[tuple[str, ...]] = (DEVICE_REPUTATION,)

    params: DeviceParams

    @property
    def reputation(self) -> DeviceLookup:
        lookup: DeviceLookup = self.services[DEVICE_REPUTATION]
        return lookup

    def run(self, evidence: Evidence) -> CheckResult:
        telemetry = evidence.telemetry
        device = telemetry.device if telemetry is not None else None
        tenant = evidence.tenant_id
        signature = signature_of(device, tenant) if device is not None else {}
        if telemetry is None or device is None or not signature:
            return self.result(
                Status.FAILED_TO_ACQUIRE,
                None,
                ("DEVICE_UNKNOWN",),
                {"note": "the telemetry carries no device attributes"},
            )
        country = evidence.applicant.country if evidence.applicant else None
        now = time.time()
        details: dict[str, Any] = {}
        velocity: list[Signal] = []
        if len(signature) >= self.params.min_attributes:
            velocity, details = self._identity(evidence, signature, country, now)
        else:
            # too thin to tell devices apart: every such browser would share one id and its counts
            details = {
                "device_id": None,
                "note": f"{len(signature)} stable attributes (fewer than {self.params.min_attributes}): "
                "the device is not identified and no velocity is counted",
            }
        raised = [*device_signals(telemetry, country), *velocity]
        weights = self.params.weights
        # a weight of 0 (or no weight) turns a flag off: listed as ignored, no score, no reason code
        signals = [s for s in raised if weights.get(s.name, 0.0) > 0]
        ignored = [s.name for s in raised if weights.get(s.name, 0.0) <= 0]
        score = noisy_or([weights[s.name] for s in signals])
        details.update(
            {
                "caller_device_id": evidence.applicant.device_id if evidence.applicant else None,
                "flags": [{**s.to_dict(), "weight": weights[s.name]} for s in signals],
                "ignored_flags": ignored,
                "seen_at": now,
            }
        )
        codes = [REASON_OF_KIND[s.kind] for s in signals]
        return self.result(Status.OK, round(score, 6), codes, details)

    def _identity(
        self, evidence: Evidence, signature: Signature, country: str | None, now: float
    ) -> tuple[list[Signal], dict[str, Any]]:
        """Match the device against the stored ones (one lookup) and count its velocity."""
        tenant = evidence.tenant_id
        account = account_key(evidence.subject_id, tenant)
        found = self.reputation.lookup(
            band_keys(signature, tenant),
            tenant=tenant,
            account=account,
            now=now,
            window_s=self.params.window_days * DAY_S,
        )
        candidates = found.candidates[: self.params.max_candidates]
        match = match_device(
            signature,
            [(c.device_id, c.signature) for c in candidates],
            tenant=tenant,
            min_similarity=self.params.min_similarity,
            fixed=self.params.fixed_attributes,
            min_font_overlap=self.params.min_font_overlap,
        )
        known = next((c for c in candidates if c.device_id == match.device_id), None)
        velocity, counts = velocity_signals(known, self.params, country=country, account=account)
        details: dict[str, Any] = {
            "device_id": match.device_id,
            "known_device": match.known,
            "similarity": match.similarity,
            "candidates": len(candidates),
            "counts": counts,
            "reputation_source": found.source,
        }
        if found.degraded:
            details["reputation_degraded"] = found.degraded
        return velocity, details

    def follow_ups(self, evidence: Evidence, result: CheckResult) -> Sequence[FollowUp]:
        """The signature is recomputed (pure, cheap): the stored result keeps no digests."""
        details = result.details
        telemetry = evidence.telemetry
        if (
            result.status != Status.OK
            or not details.get("device_id")
            or not telemetry
            or not telemetry.device
        ):
            return ()
        signature = signature_of(telemetry.device, evidence.tenant_id)
        return (
            RecordDevice(
                device_id=str(details["device_id"]),
                signature=signature,
                bands=tuple(band_keys(signature, evidence.tenant_id)),
                account=account_key(evidence.subject_id, evidence.tenant_id),
                country=evidence.applicant.country.upper()
                if evidence.applicant and evidence.applicant.country
                else None,
                at=float(details.get("seen_at") or time.time()),
            ),
        )
