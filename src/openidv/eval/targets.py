"""Operating-point targets: ``"fmr=1e-4"`` on the command line, ``"1e-4"`` as a key in ``report.json``.

Report keys are written one way only (``1e-3``, ``5e-2``, ``2.5e-3``) so that other tools can look them up
without parsing floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from openidv.errors import InvalidInput


def target_key(value: float) -> str:
    """The canonical report key of a rate: 0.001 -> ``"1e-3"``, 0.05 -> ``"5e-2"``, 0.0025 -> ``"2.5e-3"``."""
    if not (0.0 < value <= 1.0) or not math.isfinite(value):
        raise ValueError(f"a target rate lies in (0, 1], got {value!r}")
    mantissa, _, exponent = f"{value:.12e}".partition("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def parse_rate(text: str, what: str = "target") -> float:
    """Parse one rate in (0, 1]; ``InvalidInput`` names ``what`` when it is not one."""
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"{what}: {text!r} is not a number") from None
    if not (0.0 < value <= 1.0):
        raise InvalidInput(f"{what}: {text!r} is not a rate in (0, 1]")
    return value


def parse_rates(text: str, what: str = "targets") -> tuple[float, ...]:
    """Parse ``"1e-2,1e-3"`` into sorted, distinct rates (largest first)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise InvalidInput(f"{what}: give at least one rate, e.g. 1e-2,1e-3")
    return tuple(sorted({parse_rate(p, what) for p in parts}, reverse=True))


#: the constrained rate of each task, as written in ``--target`` (``fmr=1e-4``)
TARGET_RATES = ("fmr", "apcer", "fpr", "fpir")


@dataclass(frozen=True)
class Target:
    """A constraint on one error rate, e.g. FMR <= 1e-4."""

    rate: str
    value: float

    @property
    def key(self) -> str:
        return target_key(self.value)

    def __str__(self) -> str:
        return f"{self.rate}={self.key}"


def parse_target(text: str) -> Target:
    """Parse ``"fmr=1e-4"`` (also ``apcer=0.01``, ``fpr=...``, ``fpir=...``)."""
    rate, sep, value = text.partition("=")
    rate = rate.strip().lower()
    if not sep or rate not in TARGET_RATES:
        raise InvalidInput(
            f"target: {text!r} is not a target; write rate=value with rate one of {', '.join(TARGET_RATES)}, "
            "e.g. fmr=1e-4"
        )
    return Target(rate, parse_rate(value.strip(), "target"))
