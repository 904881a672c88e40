"""How many trials a claim needs, before anyone collects data.

``required_trials(1e-4)`` answers "to claim FMR <= 1e-4 at 95% confidence with no error observed, how many
impostor comparisons?" (29,956: the rule of three, 3/p, made exact). Allowing ``errors`` observed errors
raises the count (the exact binomial bound must still sit below the rate). ``rule_of_30`` is Doddington's
rule for the other question: how many errors until the observed rate is within +-30% of the truth (90%).

These assume independent trials. Comparisons that share people are correlated, so real sets need more;
``design_effect`` is the factor to multiply by when an earlier evaluation measured it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import binom

from openidv.errors import InvalidInput


def _check(rate: float, confidence: float) -> None:
    if not (0.0 < rate < 1.0):
        raise InvalidInput(f"rate: {rate!r} is not in (0, 1)")
    if not (0.0 < confidence < 1.0):
        raise InvalidInput(f"confidence: {confidence!r} is not in (0, 1)")


def required_trials(rate: float, confidence: float = 0.95, errors: int = 0) -> int:
    """Smallest n such that seeing ``errors`` errors in n trials shows the true rate is <= ``rate``.

    One-sided exact binomial: P(X <= errors | n, rate) <= 1 - confidence. With no errors this is
    ``ln(1 - confidence) / ln(1 - rate)``, about ``3 / rate`` at 95%.
    """
    _check(rate, confidence)
    if errors < 0:
        raise InvalidInput(f"errors: {errors!r} must be 0 or more")
    alpha = 1.0 - confidence
    if errors == 0:
        return math.ceil(math.log(alpha) / math.log1p(-rate) - 1e-9)
    # the count is monotone in n: bracket it, then bisect
    low = required_trials(rate, confidence, 0)
    high = low
    while binom.cdf(errors, high, rate) > alpha:
        high *= 2
    while low < high:
        mid = (low + high) // 2
        if binom.cdf(errors, mid, rate) <= alpha:
            high = mid
        else:
            low = mid + 1
    return int(low)


def rule_of_30(rate: float) -> int:
    """Trials to expect 30 errors at ``rate``: the observed rate is then within +-30% of the truth (90%)."""
    _check(rate, 0.5)
    return math.ceil(30.0 / rate)


@dataclass(frozen=True)
class SampleSizeAdvice:
    rate: float
    confidence: float
    errors: int
    trials: int
    rule_of_30: int
    design_effect: float

    def sentence(self, what: str = "comparisons") -> str:
        errs = "no error" if self.errors == 0 else f"at most {self.errors} error(s)"
        note = f" (x{self.design_effect:g} for correlated {what})" if self.design_effect != 1 else ""
        return (
            f"to claim a rate <= {self.rate:g} at {self.confidence:.0%} confidence you need about "
            f"{self.trials:,} {what} with {errs}{note}; to measure the rate within +-30% you need about "
            f"{self.rule_of_30:,} (rule of 30)"
        )


def advise(
    rate: float, confidence: float = 0.95, errors: int = 0, design_effect: float = 1.0
) -> SampleSizeAdvice:
    """Both answers at once, scaled by a design effect measured on earlier data (1 = independent trials)."""
    if design_effect < 1.0:
        raise InvalidInput(f"design_effect: {design_effect!r} must be 1 or more")
    return SampleSizeAdvice(
        rate=rate,
        confidence=confidence,
        errors=errors,
        trials=math.ceil(required_trials(rate, confidence, errors) * design_effect),
        rule_of_30=math.ceil(rule_of_30(rate) * design_effect),
        design_effect=design_effect,
    )
