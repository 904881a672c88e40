"""Uncertainty: the bootstrap resamples subjects, exact binomial bounds at zero errors, sample sizes."""

from __future__ import annotations

import numpy as np
import pytest

from openidv.errors import InvalidInput
from openidv.eval.bootstrap import (
    clopper_pearson,
    combine,
    percentile_interval,
    row_weights,
    run_bootstrap,
    upper_bound_zero_errors,
)
from openidv.eval.data import ScoredSet, Task
from openidv.eval.metrics import evaluate_set
from openidv.eval.metrics.common import Options
from openidv.eval.metrics.verification import threshold_stats
from openidv.eval.samplesize import advise, required_trials, rule_of_30
from openidv.results import Meaning


def correlated_set(seed: int = 0) -> ScoredSet:
    """60 subjects x 10 genuine pairs; a third of the people fail *all* their pairs (perfect correlation)."""
    rng = np.random.default_rng(seed)
    subjects, per = 60, 10
    hard = rng.permutation(subjects)[:20]
    sa, scores = [], []
    for s in range(subjects):
        for _ in range(per):
            sa.append(s)
            scores.append(0.1 if s in hard else 0.9)
    imp_a = rng.integers(0, subjects, 600)
    imp_b = (imp_a + rng.integers(1, subjects, 600)) % subjects
    subject_a = np.r_[np.array(sa), imp_a]
    subject_b = np.r_[np.array(sa), imp_b]
    n = subject_a.size
    return ScoredSet(
        task=Task.VERIFICATION,
        meaning=Meaning.SIMILARITY,
        ids=np.array([str(i) for i in range(n)], dtype=object),
        scores=np.r_[np.array(scores), np.zeros(600)],
        fta=np.zeros(n, dtype=bool),
        good=np.r_[np.ones(len(sa), dtype=bool), np.zeros(600, dtype=bool)],
        subject_a=subject_a.astype(np.intp),
        subject_b=subject_b.astype(np.intp),
        subjects=tuple(str(i) for i in range(subjects)),
        species=np.full(n, "", dtype=object),
    )


def test_subject_bootstrap_is_wider_than_sample_bootstrap_for_correlated_pairs() -> None:
    ss = correlated_set()

    def stat(w: np.ndarray | None) -> dict[str, np.ndarray]:
        return threshold_stats(ss, 0.5, w)

    by_subject = run_bootstrap(ss, [stat], 400, seed=1, unit="subject")["op:fnmr"]
    by_sample = run_bootstrap(ss, [stat], 400, seed=1, unit="sample")["op:fnmr"]
    lo_s, hi_s = percentile_interval(by_subject, 0.95)
    lo_r, hi_r = percentile_interval(by_sample, 0.95)
    assert lo_s < 1 / 3 < hi_s and lo_r < 1 / 3 < hi_r
    # independent rows: SE ~ sqrt(p(1-p)/600) ~ 0.019; whole people: SE ~ sqrt(p(1-p)/60) ~ 0.061
    assert (hi_s - lo_s) > 2.0 * (hi_r - lo_r)
    assert 0.15 < hi_s - lo_s < 0.35
    # and the report's interval (evaluate_set) uses the subject bootstrap
    ev = evaluate_set(ss, Options(threshold=0.5, replicates=300, seed=2))
    fnmr = ev.metrics["operating_point"]["fnmr"]
    assert fnmr["value"] == pytest.approx(1 / 3)
    assert fnmr["ci_high"] - fnmr["ci_low"] > 0.15


def test_impostor_pairs_are_weighted_by_both_subjects() -> None:
    counts = np.array([[2.0, 0.0, 3.0]])
    a = np.array([0, 0, 1, 2], dtype=np.intp)
    b = np.array([0, 2, 2, 2], dtype=np.intp)
    np.testing.assert_array_equal(row_weights(a, b, counts), [[2.0, 6.0, 0.0, 3.0]])


def test_bootstrap_is_reproducible_from_the_seed() -> None:
    ss = correlated_set()

    def stat(w: np.ndarray | None) -> dict[str, np.ndarray]:
        return threshold_stats(ss, 0.5, w)

    first = run_bootstrap(ss, [stat], 50, seed=7)["op:fnmr"]
    again = run_bootstrap(ss, [stat], 50, seed=7)["op:fnmr"]
    other = run_bootstrap(ss, [stat], 50, seed=8)["op:fnmr"]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_exact_binomial_bounds() -> None:
    assert clopper_pearson(0, 10, 0.95) == (0.0, pytest.approx(1 - 0.025 ** (1 / 10)))
    low, high = clopper_pearson(10, 10, 0.95)
    assert high == 1.0 and low == pytest.approx(0.025 ** (1 / 10))
    low, high = clopper_pearson(5, 10, 0.95)  # textbook value: [0.1871, 0.8129]
    assert low == pytest.approx(0.187086, abs=1e-6) and high == pytest.approx(0.812914, abs=1e-6)
    assert upper_bound_zero_errors(29956, 0.95) == pytest.approx(1e-4, rel=1e-3)  # rule of three


def test_zero_errors_get_the_exact_interval_not_a_collapsed_bootstrap() -> None:
    interval = combine(0.0, np.zeros(200), 0.95, errors=0, trials=300)
    assert interval.low == 0.0 and interval.high == pytest.approx(1 - 0.025 ** (1 / 300))
    assert "exact binomial" in interval.method
    wide = combine(0.3, np.linspace(0.1, 0.5, 101), 0.95, errors=3, trials=10)
    cp = clopper_pearson(3, 10, 0.95)
    assert wide.low <= min(0.11, cp[0]) and wide.high >= max(0.49, cp[1])  # never narrower than either


def test_sample_size_helper() -> None:
    assert required_trials(1e-4) == 29956  # "about 30,000 impostor comparisons with no error"
    assert required_trials(1e-3) == 2995
    assert required_trials(1e-2, 0.90) == 230
    with_one = required_trials(1e-3, errors=1)
    assert with_one > 2995
    from scipy.stats import binom

    assert binom.cdf(1, with_one, 1e-3) <= 0.05 < binom.cdf(1, with_one - 1, 1e-3)
    assert rule_of_30(1e-3) == 30000
    sentence = advise(1e-4).sentence("impostor comparisons")
    assert "29,956 impostor comparisons with no error" in sentence
    assert advise(1e-4, design_effect=2.0).trials == 59912
    with pytest.raises(InvalidInput):
        required_trials(0.0)
