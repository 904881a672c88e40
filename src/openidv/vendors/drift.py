"""Drift monitoring of external vendors: is a vendor still the vendor we benchmarked?

Why: a vendor can change its model, its thresholds or its infrastructure without telling us; its pass
rate or its score distribution then moves, and the floors the router trusts are stale. Every routed,
consensus and shadow outcome is fed here, per (vendor, capability, country).

Two tests per monitor:

- **pass rate, two-sided Bernoulli CUSUM** against the baseline pass rate ``p0`` (the scorecard's
  ``pass_rate`` for the country slice, else for ``all``; without one, the first ``warmup`` observations).
  Each side accumulates the log-likelihood ratio of ``p0 -/+ shift`` against ``p0`` and alarms above
  ``h = ln(2 * arl0)``. Lorden's bound gives an in-control average run length of at least ``e^h`` per side,
  so a stable vendor raises a false alarm at most about once every ``arl0`` observations of that monitor
  (default 20,000; the tests measure it). A drop from 0.9 to 0.7 is flagged after ~100 observations.
- **score distribution, two-sample Kolmogorov-Smirnov**: the first ``window`` scores are the reference;
  each later full, non-overlapping block of ``window`` scores is compared with it and alarms when the
  p-value is below ``alpha`` (default 1e-4 per block: one false alarm per ~10,000 blocks of a stable vendor).

Alerts are sticky until ``reset`` (after a re-benchmark through the regression gate). What survives a
restart: every answered call is stored in ``vendor_calls`` with its country and score, and resets in
``vendor_drift_resets``; ``replay_stored`` feeds a fresh monitor the most recent stored outcomes (oldest
first, bounded by count and age), skipping each call made at or before the latest reset covering its
monitor, so a restarted service has the alarms and the CUSUM state it had (up to the calls of
verifications that were never stored, which the live monitor saw and the table never got).
``apply_resets`` lets a running service honour a reset recorded elsewhere (``openidv vendors rebenchmark``).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from openidv.store.vendor_call_store import AnsweredCall, DriftReset, answered_calls, drift_resets
from openidv.vendors.protocol import Capability, VendorDecision, VendorOutcome
from openidv.vendors.scorecard import Scorecard


@dataclass(frozen=True)
class DriftAlert:
    """A flagged (vendor, capability, country): which metric moved, from what to what, on how much data."""

    vendor: str
    capability: str
    country: str | None
    metric: str  # pass_rate | score_distribution
    test: str  # cusum | ks
    baseline: float  # p0, or the reference window's median score
    current: float  # the pass rate since the estimated change point, or the tested block's median score
    n: int  # observations behind ``current`` (since the change point for CUSUM, the block for KS)
    statistic: float  # the CUSUM sum, or the KS D
    threshold: float  # h, or alpha
    direction: str  # down | up | changed
    p_value: float | None = None
    observed_total: int = 0  # this monitor's observations when it alarmed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Cusum:
    def __init__(self, p0: float, shift: float, h: float) -> None:
        self.p0 = min(max(p0, 0.005), 0.995)
        lo = max(self.p0 - shift, self.p0 / 2)
        hi = min(self.p0 + shift, (1 + self.p0) / 2)
        # log-likelihood ratio increments for x = 1 (pass) and x = 0
        self.down = (math.log(lo / self.p0), math.log((1 - lo) / (1 - self.p0)))
        self.up = (math.log(hi / self.p0), math.log((1 - hi) / (1 - self.p0)))
        self.h = h
        self.s_down = 0.0
        self.s_up = 0.0
        # observations and passes since each sum last sat at 0: the estimated change point onwards
        self.run_down = [0, 0]
        self.run_up = [0, 0]

    def add(self, passed: bool) -> str | None:
        self.s_down = self._step(self.s_down, self.down[0 if passed else 1], self.run_down, passed)
        self.s_up = self._step(self.s_up, self.up[0 if passed else 1], self.run_up, passed)
        if self.s_down > self.h:
            return "down"
        if self.s_up > self.h:
            return "up"
        return None

    @staticmethod
    def _step(s: float, llr: float, run: list[int], passed: bool) -> float:
        s = max(0.0, s + llr)
        if s == 0.0:
            run[0] = run[1] = 0
        else:
            run[0] += 1
            run[1] += passed
        return s


class _Monitor:
    def __init__(self, p0: float | None, monitor: DriftMonitor) -> None:
        self.cusum = _Cusum(p0, monitor.shift, monitor.h) if p0 is not None else None
        self.warm: list[bool] = []
        self.recent: deque[bool] = deque(maxlen=monitor.window)
        self.reference: list[float] = []
        self.block: list[float] = []
        self.total = 0
        self.alerts: dict[str, DriftAlert] = {}


class DriftMonitor:
    """Per (vendor, capability, country) pass-rate CUSUM and score KS tests (module docstring)."""

    def __init__(
        self,
        scorecard: Scorecard | None = None,
        *,
        baselines: Mapping[tuple[str, str], float] | None = None,
        arl0: float = 20_000,
        shift: float = 0.1,
        warmup: int = 300,
        window: int = 300,
        alpha: float = 1e-4,
        min_slice_n: int = 30,
    ) -> None:
        if arl0 < 2 or not 0 < shift < 1 or warmup < 10 or window < 30 or not 0 < alpha < 1:
            raise ValueError(
                "drift monitor: needs arl0 >= 2, 0 < shift < 1, warmup >= 10, window >= 30, 0 < alpha < 1"
            )
        self.scorecard = scorecard
        self.baselines = dict(baselines or {})
        self.arl0 = arl0
        self.h = math.log(2 * arl0)
        self.shift = shift
        self.warmup = warmup
        self.window = window
        self.alpha = alpha
        self.min_slice_n = min_slice_n
        self._monitors: dict[tuple[str, str, str | None], _Monitor] = {}
        self._lock = threading.Lock()
        #: ids of the recorded resets this monitor has applied (or replayed past)
        self._applied: set[str] = set()

    def baseline_pass_rate(self, vendor: str, capability: str, country: str | None) -> float | None:
        """The benchmarked pass rate: explicit baselines, else the scorecard's (country slice, then the
        whole set) when measured on at least ``min_slice_n`` rows."""
        if (vendor, capability) in self.baselines:
            return self.baselines[(vendor, capability)]
        if self.scorecard is None:
            return None
        found = self.scorecard.pass_rate(vendor, capability, country)
        return found[0] if found is not None and found[1] >= self.min_slice_n else None

    def observe(self, outcome: VendorOutcome, country: str | None) -> list[DriftAlert]:
        """Feed one outcome; returns the alerts it raised (already-raised ones are not repeated)."""
        country = country.upper() if country else None
        key = (outcome.vendor, outcome.capability.value, country)
        with self._lock:
            mon = self._monitors.get(key)
            if mon is None:
                p0 = self.baseline_pass_rate(outcome.vendor, outcome.capability.value, country)
                mon = self._monitors[key] = _Monitor(p0, self)
            mon.total += 1
            new = self._pass_rate(mon, key, outcome.decision == VendorDecision.PASS)
            if outcome.score is not None:
                new += self._scores(mon, key, float(outcome.score))
            return new

    def _pass_rate(self, mon: _Monitor, key: tuple[str, str, str | None], passed: bool) -> list[DriftAlert]:
        mon.recent.append(passed)
        if mon.cusum is None:
            mon.warm.append(passed)
            if len(mon.warm) >= self.warmup:
                mon.cusum = _Cusum(sum(mon.warm) / len(mon.warm), self.shift, self.h)
                mon.warm = []
            return []
        direction = mon.cusum.add(passed)
        if direction is None or "pass_rate" in mon.alerts:
            return []
        c = mon.cusum
        run = c.run_down if direction == "down" else c.run_up
        alert = DriftAlert(
            vendor=key[0],
            capability=key[1],
            country=key[2],
            metric="pass_rate",
            test="cusum",
            baseline=round(c.p0, 6),
            current=round(run[1] / max(run[0], 1), 6),
            n=run[0],
            statistic=round(c.s_down if direction == "down" else c.s_up, 6),
            threshold=round(c.h, 6),
            direction=direction,
            observed_total=mon.total,
        )
        mon.alerts["pass_rate"] = alert
        return [alert]

    def _scores(self, mon: _Monitor, key: tuple[str, str, str | None], score: float) -> list[DriftAlert]:
        if len(mon.reference) < self.window:
            mon.reference.append(score)
            return []
        mon.block.append(score)
        if len(mon.block) < self.window:
            return []
        from scipy.stats import ks_2samp  # only when a block is full: keeps import of the router light

        block, mon.block = mon.block, []
        res = ks_2samp(mon.reference, block)
        d, p = float(res.statistic), float(res.pvalue)
        if p >= self.alpha or "score_distribution" in mon.alerts:
            return []
        alert = DriftAlert(
            vendor=key[0],
            capability=key[1],
            country=key[2],
            metric="score_distribution",
            test="ks",
            baseline=round(_median(mon.reference), 6),
            current=round(_median(block), 6),
            n=len(block),
            statistic=round(d, 6),
            threshold=self.alpha,
            direction="changed",
            p_value=p,
            observed_total=mon.total,
        )
        mon.alerts["score_distribution"] = alert
        return [alert]

    def status(self) -> list[DriftAlert]:
        """Every standing alert, by vendor, capability, country and metric."""
        with self._lock:
            alerts = [a for mon in self._monitors.values() for a in mon.alerts.values()]
        return sorted(alerts, key=lambda a: (a.vendor, a.capability, a.country or "", a.metric))

    def flagged_vendors(self) -> list[str]:
        return sorted({a.vendor for a in self.status()})

    def snapshot(self) -> list[dict[str, Any]]:
        """Every monitor's state, for a dashboard or a log line."""
        out = []
        with self._lock:
            for (vendor, cap, country), mon in sorted(self._monitors.items(), key=lambda kv: str(kv[0])):
                c = mon.cusum
                out.append(
                    {
                        "vendor": vendor,
                        "capability": cap,
                        "country": country,
                        "observed": mon.total,
                        "baseline_pass_rate": c.p0 if c else None,
                        "recent_pass_rate": sum(mon.recent) / len(mon.recent) if mon.recent else None,
                        "cusum_down": c.s_down if c else None,
                        "cusum_up": c.s_up if c else None,
                        "warming_up": c is None,
                        "alerts": sorted(mon.alerts),
                    }
                )
        return out

    def reset(self, vendor: str, capability: str | None = None, country: str | None = None) -> int:
        """Forget a vendor's monitors (after a re-benchmark); returns how many were dropped."""
        with self._lock:
            drop = [
                k
                for k in self._monitors
                if k[0] == vendor
                and (capability is None or k[1] == capability)
                and (country is None or k[2] == country.upper())
            ]
            for k in drop:
                del self._monitors[k]
        return len(drop)

    def replay(self, calls: Iterable[AnsweredCall], resets: Iterable[DriftReset] = ()) -> int:
        """Feed stored answered calls (oldest first) as ``observe`` would have, skipping each call made at or
        before the latest of ``resets`` that covers its monitor; the resets count as applied. Returns the
        number of calls fed (rows of an unknown capability or decision are skipped)."""
        resets = list(resets)
        latest: dict[tuple[str, str, str | None], datetime | None] = {}
        fed = 0
        for call in calls:
            try:
                capability, decision = Capability(call.capability), VendorDecision(call.decision)
            except ValueError:
                continue
            country = call.country.upper() if call.country else None
            key = (call.vendor, capability.value, country)
            if key not in latest:
                latest[key] = max((r.reset_at for r in resets if _covers(r, key)), default=None)
            last = latest[key]
            if last is not None and call.created_at <= last:
                continue
            outcome = VendorOutcome(
                vendor=call.vendor, capability=capability, decision=decision, score=call.score
            )
            self.observe(outcome, country)
            fed += 1
        with self._lock:
            self._applied.update(r.id for r in resets)
        return fed

    def apply_resets(self, resets: Iterable[DriftReset]) -> list[DriftReset]:
        """Reset the monitors each not yet applied reset covers (recorded by another process, e.g. the
        rebenchmark command); returns those applied now."""
        applied = []
        for r in resets:
            with self._lock:
                if r.id in self._applied:
                    continue
                self._applied.add(r.id)
            self.reset(r.vendor, r.capability, r.country)
            applied.append(r)
        return applied

    def applied_resets(self) -> int:
        with self._lock:
            return len(self._applied)


def _covers(reset: DriftReset, key: tuple[str, str, str | None]) -> bool:
    return (
        reset.vendor == key[0]
        and (reset.capability is None or reset.capability == key[1])
        and (reset.country is None or reset.country.upper() == key[2])
    )


def replay_stored(
    monitor: DriftMonitor,
    engine: Engine,
    *,
    days: float = 30.0,
    limit: int = 50_000,
    now: datetime | None = None,
) -> int:
    """Replay the most recent ``limit`` answered calls of the last ``days`` (0: any age) from the store into
    ``monitor``, after the resets recorded there; returns how many were fed."""
    since = (now or datetime.now(UTC)) - timedelta(days=days) if days > 0 else None
    resets = drift_resets(engine)
    return monitor.replay(answered_calls(engine, since=since, limit=limit), resets)


def _median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def rebenchmark_command(
    alert: DriftAlert,
    *,
    baseline: str | Path,
    candidate: str | Path,
    gate: str | Path | None = None,
) -> list[str]:
    """The regression-gate command for a drifting vendor: ``openidv eval compare`` of the vendor's
    benchmarked report (``baseline``) against a fresh benchmark run of the same vendor and capability
    on the same manifest (``candidate``, from ``openidv vendors benchmark``). Exit 1 means the vendor
    regressed: take its floors' measurements from the new run. Produced as argv (this layer may not
    import ``openidv.eval``); the capability and country the alert names are the slices to read.
    ``openidv vendors rebenchmark`` runs the benchmark and this gate and records the reset when it passes."""
    argv = ["openidv", "eval", "compare", str(baseline), str(candidate)]
    if gate is not None:
        argv += ["--gate", str(gate)]
    return [*argv, "--json"]
