"""The reading side of the vendor scorecard: measured accuracy per vendor, capability and slice.

Why a file and not a live query: floors must be decided on numbers measured on the *owned* labelled set
by ``openidv vendors benchmark`` (and reviewed through the regression gate), never on what a vendor claims.
The router reads the file once at start-up.

The shape read (``DIR/scorecard.json``, schema ``openidv.vendors.scorecard/1``, written by
``openidv.eval.vendor_scorecard``; docs/vendors.md "Benchmark and scorecard" has the whole file)::

    {"vendors": {"acme": {"document": {
        "all":                               {"n": 1200, "recall_at_fpr_1e-2":
                                                {"value": 0.93, "ci_low": 0.91, "ci_high": 0.95, "n": 600}},
        "country=GB":                        {...},
        "document_type=passport":            {...},
        "country=GB,document_type=passport": {...}}}},
     "operations": {"acme": {"document": {"decisions": {"pass": 880, "decline": 100, "review": 20},
                                          "latency_ms": {"p50": 410.0}}}}}

Only what the router and the drift monitor use is read: per slice, a metric is a dict with ``value``
(null when the data cannot support it), ``ci_low``, ``ci_high`` and ``n`` (the trials behind it; the
slice's ``n`` when absent); a bare number is accepted too. ``operations`` gives the baseline pass rate
(``decisions``) and a latency prior (``latency_ms.p50``); both optional. Every other key is ignored.

Lookup uses the most specific slice whose metric has a value on at least ``min_n`` trials: country and
document type, then country, then document type, then ``all``.

Error rates (``fnmr_*``, ``fmr``, ``eer``, ``bpcer*``, ``apcer*``, ``fpr``, ``fnir*``, ``fta``) are floored
on their complement (``1 - rate``), so a floor's ``min`` is always a minimum accuracy: ``fnmr_at_fmr_1e-3``
with ``min: 0.95`` means at least 95 % of genuine pairs accepted at FMR 1e-3.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openidv.errors import ConfigurationError

ERROR_RATE_PREFIXES = ("fnmr", "fmr", "eer", "bpcer", "apcer", "fpr", "fnir", "fta")


def lower_is_better(metric: str) -> bool:
    return metric.startswith(ERROR_RATE_PREFIXES)


@dataclass(frozen=True)
class Measurement:
    """One metric of one vendor on one slice, with what the floor decision needs to be explained."""

    metric: str
    slice: str
    value: float
    n: int
    ci_low: float | None
    ci_high: float | None

    def accuracy(self, conservative: bool = False) -> float:
        """The number a floor's ``min`` is compared with: higher is better; ``conservative`` takes the
        pessimistic end of the interval (``ci_low``, or ``ci_high`` of an error rate) where there is one."""
        if lower_is_better(self.metric):
            worst = self.ci_high if conservative and self.ci_high is not None else self.value
            return 1.0 - worst
        return self.ci_low if conservative and self.ci_low is not None else self.value

    def as_dict(self) -> dict[str, Any]:
        return {
            "slice": self.slice,
            "value": self.value,
            "n": self.n,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }


def slice_key(country: str | None = None, document_type: str | None = None) -> str:
    """The benchmark's key of a slice (``all`` when neither is given)."""
    parts = []
    if country:
        parts.append(f"country={country.upper()}")
    if document_type:
        parts.append(f"document_type={document_type}")
    return ",".join(parts) or "all"


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


class Scorecard:
    """Per vendor, capability and slice: the measured metrics (see the module docstring)."""

    def __init__(
        self,
        slices: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]],
        operations: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._slices = slices
        self._operations = operations or {}

    @classmethod
    def load(cls, path: str | Path) -> Scorecard:
        """Read ``scorecard.json`` (or the folder holding it); a bad file is a ``ConfigurationError``."""
        p = Path(path)
        if p.is_dir():
            p = p / "scorecard.json"
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"{p}: cannot read ({exc.strerror or exc})") from None
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{p}: not JSON ({exc})") from None
        return cls.from_dict(raw, where=str(p))

    @classmethod
    def from_dict(cls, raw: Any, *, where: str = "scorecard") -> Scorecard:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("vendors"), Mapping):
            raise ConfigurationError(f"{where}: needs a 'vendors' mapping")
        data: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        for vendor, caps in raw["vendors"].items():
            if not isinstance(caps, Mapping):
                raise ConfigurationError(f"{where}: vendors.{vendor}: a mapping capability -> card")
            for cap, card in caps.items():
                at = f"{where}: vendors.{vendor}.{cap}"
                if not isinstance(card, Mapping) or not card:
                    raise ConfigurationError(f"{at}: a mapping slice key -> metrics")
                for key, metrics in card.items():
                    if not isinstance(metrics, Mapping):
                        raise ConfigurationError(f"{at}.{key}: a mapping metric -> value")
                    n = metrics.get("n")
                    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                        raise ConfigurationError(f"{at}.{key}.n: the sample count (an integer >= 0)")
                    data.setdefault(str(vendor), {}).setdefault(str(cap), {})[str(key)] = dict(metrics)
        ops = raw.get("operations")
        return cls(data, ops if isinstance(ops, Mapping) else None)

    def vendors(self) -> list[str]:
        return sorted(self._slices)

    def measurement(
        self,
        vendor: str,
        capability: str,
        metric: str,
        *,
        country: str | None = None,
        document_type: str | None = None,
        min_n: int = 1,
    ) -> Measurement | None:
        """``metric`` on the most specific slice with a value on ``min_n`` trials; None when none has."""
        slices = self._slices.get(vendor, {}).get(str(capability), {})
        for key in _specific_first(country, document_type):
            m = slices.get(key)
            if m is None:
                continue
            entry = m.get(metric)
            if isinstance(entry, Mapping):
                value, n = _number(entry.get("value")), _number(entry.get("n"))
                ci_low, ci_high = _number(entry.get("ci_low")), _number(entry.get("ci_high"))
            else:
                value, n, ci_low, ci_high = _number(entry), None, None, None
            trials = int(n) if n is not None else int(m["n"])
            if value is None or trials < min_n:
                continue
            return Measurement(metric, key, value, trials, ci_low, ci_high)
        return None

    def pass_rate(self, vendor: str, capability: str, country: str | None = None) -> tuple[float, int] | None:
        """The benchmarked share of ``pass`` decisions and its n: a slice's ``pass_rate`` if written
        (country slice, then ``all``), else the ``operations`` decision counts of the whole set."""
        slices = self._slices.get(vendor, {}).get(str(capability), {})
        for key in ([slice_key(country)] if country else []) + ["all"]:
            m = slices.get(key) or {}
            entry = m.get("pass_rate")
            value = _number(entry.get("value") if isinstance(entry, Mapping) else entry)
            if value is not None:
                return value, int(m["n"])
        ops = (self._operations.get(vendor) or {}).get(str(capability)) or {}
        decisions = ops.get("decisions") if isinstance(ops, Mapping) else None
        if isinstance(decisions, Mapping):
            total = sum(int(v) for v in decisions.values() if isinstance(v, int))
            if total > 0:
                return int(decisions.get("pass", 0)) / total, total
        return None

    def p50_latency_ms(self, vendor: str, capability: str) -> float | None:
        ops = (self._operations.get(vendor) or {}).get(str(capability)) or {}
        latency = ops.get("latency_ms") if isinstance(ops, Mapping) else None
        return _number(latency.get("p50")) if isinstance(latency, Mapping) else None


def _specific_first(country: str | None, document_type: str | None) -> list[str]:
    keys = []
    if country and document_type:
        keys.append(slice_key(country, document_type))
    if country:
        keys.append(slice_key(country))
    if document_type:
        keys.append(slice_key(None, document_type))
    keys.append("all")
    return keys
