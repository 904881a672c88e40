"""The reading side of the vendor scorecard: measured accuracy per vendor, capability and slice.

Why a file and not a live query: floors must be decided on numbers measured on the *owned* labelled set
by ``openidv vendors benchmark`` (and reviewed through the regression gate), never on what a vendor claims.
The router reads the file once at start-up.

The JSON shape (``DIR/scorecard.json``)::

    {
      "schema": "openidv.vendor-scorecard/1",          # optional; other keys at the top are ignored
      "vendors": {
        "acme": {                                      # the configured vendor name (vendors.yaml)
          "document": {                                # a Capability value
            "all":                             {"recall_at_fpr_1e-2": 0.93, "n": 1200, "ci_low": 0.91,
                                                "pass_rate": 0.88, "p50_latency_ms": 410.0},
            "country=GB":                      {"recall_at_fpr_1e-2": 0.95, "n": 300, "ci_low": 0.92},
            "document_type=passport":          {...},
            "country=GB,document_type=passport": {...}
          }
        }
      }
    }

A slice's dict holds metric name -> value (the floor's metric among them), ``n`` (labelled samples behind
it) and ``ci_low`` (the lower confidence bound of the floor's metric; a dict metric -> bound is accepted
too). ``pass_rate`` (share of ``pass`` decisions on the set) is the drift monitor's baseline and
``p50_latency_ms`` the router's latency prior; both optional. Slice keys are ``all``, ``country=XX``,
``document_type=name`` or both joined by a comma (``:`` is accepted for ``=``).

Lookup uses the most specific slice with at least ``min_n`` samples: country and document type, then
country, then document type, then ``all``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openidv.errors import ConfigurationError

SCHEMA = "openidv.vendor-scorecard/1"


@dataclass(frozen=True)
class Measurement:
    """One metric of one vendor on one slice, with what the floor decision needs to be explained."""

    slice: str
    value: float
    n: int
    ci_low: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"slice": self.slice, "value": self.value, "n": self.n, "ci_low": self.ci_low}


def slice_key(country: str | None = None, document_type: str | None = None) -> str:
    """The canonical key of a slice (``all`` when neither is given)."""
    parts = []
    if country:
        parts.append(f"country={country.upper()}")
    if document_type:
        parts.append(f"document_type={document_type}")
    return ",".join(parts) or "all"


def _canonical(key: str, where: str) -> str:
    if key.strip().lower() == "all":
        return "all"
    fields: dict[str, str] = {}
    for part in key.replace("|", ",").split(","):
        sep = "=" if "=" in part else ":"
        name, _, value = part.partition(sep)
        name, value = name.strip(), value.strip()
        if name not in ("country", "document_type") or not value:
            raise ConfigurationError(f"{where}: slice {key!r}: use all, country=XX, document_type=name")
        fields[name] = value
    return slice_key(fields.get("country"), fields.get("document_type"))


class Scorecard:
    """Per vendor, capability and slice: the measured metrics (see the module docstring)."""

    def __init__(self, data: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]]) -> None:
        self._data = data

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
                raise ConfigurationError(f"{where}: vendors.{vendor}: a mapping capability -> slices")
            for cap, slices in caps.items():
                at = f"{where}: vendors.{vendor}.{cap}"
                if not isinstance(slices, Mapping):
                    raise ConfigurationError(f"{at}: a mapping slice -> metrics")
                for key, metrics in slices.items():
                    if not isinstance(metrics, Mapping):
                        raise ConfigurationError(f"{at}.{key}: a mapping metric -> value")
                    n = metrics.get("n")
                    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                        raise ConfigurationError(f"{at}.{key}.n: the sample count (an integer >= 0)")
                    canon = _canonical(str(key), at)
                    data.setdefault(str(vendor), {}).setdefault(str(cap), {})[canon] = dict(metrics)
        return cls(data)

    def vendors(self) -> list[str]:
        return sorted(self._data)

    def metrics(self, vendor: str, capability: str, key: str = "all") -> Mapping[str, Any] | None:
        return self._data.get(vendor, {}).get(str(capability), {}).get(key)

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
        """``metric`` on the most specific slice with ``min_n`` samples; None when nothing measured it."""
        slices = self._data.get(vendor, {}).get(str(capability), {})
        for key in _specific_first(country, document_type):
            m = slices.get(key)
            if m is None or m["n"] < min_n or not isinstance(m.get(metric), int | float):
                continue
            ci = m.get("ci_low")
            if isinstance(ci, Mapping):
                ci = ci.get(metric)
            return Measurement(key, float(m[metric]), int(m["n"]), float(ci) if ci is not None else None)
        return None


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
