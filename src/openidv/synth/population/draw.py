"""Fast draws from ``random.Random``: the stdlib's ``choice``/``randint``/``choices`` cost several
calls each and dominate a 100k-account run; one ``random()`` per draw is three times faster.

Same seed, same draws: everything goes through the one generator passed in."""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")


def pick(rng: random.Random, seq: Sequence[T]) -> T:
    """One element, uniformly."""
    return seq[int(rng.random() * len(seq))]


def below(rng: random.Random, start: int, stop: int | None = None) -> int:
    """Like ``randrange(start[, stop])``."""
    if stop is None:
        start, stop = 0, start
    return start + int(rng.random() * (stop - start))


def between(rng: random.Random, low: int, high: int) -> int:
    """Like ``randint``: both ends included."""
    return low + int(rng.random() * (high - low + 1))


def cumulative(weights: Sequence[float]) -> list[float]:
    """The running sums ``index`` draws from."""
    return list(accumulate(weights))


def index(rng: random.Random, cum: Sequence[float]) -> int:
    """A position drawn with the weights whose running sums are ``cum``."""
    return bisect(cum, rng.random() * cum[-1])


class Weighted(Generic[T]):
    """A weighted choice over fixed options, with the running sums built once."""

    def __init__(self, options: Sequence[T], weights: Sequence[float]) -> None:
        self.options = list(options)
        self.cum = cumulative(weights)

    def __call__(self, rng: random.Random) -> T:
        return self.options[index(rng, self.cum)]
