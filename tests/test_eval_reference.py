"""The metrics agree with scikit-learn and pyeer on the same scores, random and adversarial, to 1e-9."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pyeer.eer_stats import calculate_roc, get_eer_values
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

from openidv.eval.curves import (
    average_precision,
    candidate_thresholds,
    count_below,
    equal_error_rate,
    error_curves,
    first_at_most,
    roc_auc,
    take,
)
from openidv.eval.data import ScoredSet, Task
from openidv.eval.metrics import classification
from openidv.results import Meaning

TOL = 1e-9


def _cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(20261129)
    cases = []
    for i in range(12):  # random, with and without rounding (ties)
        g = rng.normal(1.5, 1.0, int(rng.integers(1, 400)))
        m = rng.normal(0.0, 1.0, int(rng.integers(1, 600)))
        decimals = [None, 0, 1, 2][i % 4]
        if decimals is not None:
            g, m = np.round(g, decimals), np.round(m, decimals)
        cases.append((f"random{i}", g, m))
    cases.append(("all-equal", np.full(50, 0.7), np.full(80, 0.7)))
    cases.append(("separable", np.linspace(2, 3, 40), np.linspace(0, 1, 60)))
    cases.append(("inverted", np.linspace(0, 1, 40), np.linspace(2, 3, 60)))
    cases.append(("one-each", np.array([0.4]), np.array([0.4])))
    cases.append(("two-values", np.array([1.0, 1.0, 0.0]), np.array([0.0, 1.0, 0.0, 0.0])))
    cases.append(("integers", rng.integers(0, 5, 300).astype(float), rng.integers(0, 3, 500).astype(float)))
    return cases


CASES = _cases()


@pytest.mark.parametrize(("name", "genuine", "impostor"), CASES, ids=[c[0] for c in CASES])
def test_curves_match_sklearn_roc_curve(name: str, genuine: np.ndarray, impostor: np.ndarray) -> None:
    scores = np.concatenate([genuine, impostor])
    y = np.r_[np.ones(genuine.size), np.zeros(impostor.size)]
    thr = candidate_thresholds(scores)
    c = error_curves(genuine, impostor, Meaning.SIMILARITY, thr)
    fpr, tpr, sk_thr = roc_curve(y, scores, drop_intermediate=False)
    # sklearn: [inf, distinct scores descending]; ours: distinct scores ascending + one above the maximum
    np.testing.assert_array_equal(sk_thr[1:], thr[:-1][::-1])
    np.testing.assert_allclose(c.bad_err[0][:-1][::-1], fpr[1:], rtol=0, atol=TOL)
    np.testing.assert_allclose(1 - c.good_err[0][:-1][::-1], tpr[1:], rtol=0, atol=TOL)
    assert c.bad_err[0][-1] == 0.0 and c.good_err[0][-1] == 1.0  # the reject-all point
    assert abs(roc_auc(c)[0] - roc_auc_score(y, scores)) < TOL


@pytest.mark.parametrize(("name", "genuine", "impostor"), CASES, ids=[c[0] for c in CASES])
def test_attack_meaning_matches_sklearn_with_attack_as_positive(
    name: str, genuine: np.ndarray, impostor: np.ndarray
) -> None:
    """Attack scores: high = attack. Bona fide = ``impostor`` array (low), attacks = ``genuine`` (high)."""
    bona_fide, attack = impostor, genuine
    scores = np.concatenate([attack, bona_fide])
    y_attack = np.r_[np.ones(attack.size), np.zeros(bona_fide.size)]
    thr = candidate_thresholds(scores)
    c = error_curves(bona_fide, attack, Meaning.ATTACK, thr)  # good = bona fide, bad = attack
    fpr, tpr, sk_thr = roc_curve(y_attack, scores, drop_intermediate=False)
    # strictness order for attack scores = descending threshold: identical order to sklearn's
    np.testing.assert_array_equal(c.thresholds[1:], sk_thr[1:])
    np.testing.assert_allclose(c.good_err[0][1:], fpr[1:], rtol=0, atol=TOL)  # BPCER = bona fide flagged
    np.testing.assert_allclose(c.bad_err[0][1:], 1 - tpr[1:], rtol=0, atol=TOL)  # APCER = attacks passed
    assert abs(roc_auc(c)[0] - roc_auc_score(y_attack, scores)) < TOL
    assert abs(average_precision(c)[0] - average_precision_score(y_attack, scores)) < TOL


@pytest.mark.parametrize(("name", "genuine", "impostor"), CASES, ids=[c[0] for c in CASES])
def test_average_precision_with_similarity_scores(
    name: str, genuine: np.ndarray, impostor: np.ndarray
) -> None:
    """Fraud classifier declaring similarity (high = legit): AP with fraud positive uses the negated score."""
    legit, fraud = genuine, impostor
    scores = np.concatenate([legit, fraud])
    y_fraud = np.r_[np.zeros(legit.size), np.ones(fraud.size)]
    c = error_curves(legit, fraud, Meaning.SIMILARITY, candidate_thresholds(scores))
    assert abs(average_precision(c)[0] - average_precision_score(y_fraud, -scores)) < TOL


@pytest.mark.parametrize(("name", "genuine", "impostor"), CASES, ids=[c[0] for c in CASES])
def test_curves_and_eer_match_pyeer(name: str, genuine: np.ndarray, impostor: np.ndarray) -> None:
    thr = candidate_thresholds(np.concatenate([genuine, impostor]))
    c = error_curves(genuine, impostor, Meaning.SIMILARITY, thr)
    p_thr, p_fmr, p_fnmr = calculate_roc(genuine.copy(), impostor.copy())
    np.testing.assert_array_equal(p_thr, thr[:-1])
    np.testing.assert_allclose(c.bad_err[0][:-1], p_fmr, rtol=0, atol=TOL)
    np.testing.assert_allclose(c.good_err[0][:-1], p_fnmr, rtol=0, atol=TOL)
    ours = equal_error_rate(c.bad_err, c.good_err)
    if np.any(p_fmr - p_fnmr <= 0):
        _, low, high, eer = get_eer_values(p_fmr, p_fnmr)
        assert abs(ours.value[0] - eer) < TOL
        assert abs(ours.low[0] - low) < TOL and abs(ours.high[0] - high) < TOL
    else:
        # pyeer's curve lacks the reject-all point, so its curves never cross and it returns EER = 1 with
        # a warning. Ours crosses at the added point; the EER is then the smaller of the two neighbours.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert get_eer_values(p_fmr, p_fnmr)[3] == 1
        assert 0 <= ours.value[0] <= 0.5


def test_all_equal_scores_give_half_eer() -> None:
    c = error_curves(
        np.full(5, 0.3), np.full(7, 0.3), Meaning.SIMILARITY, candidate_thresholds(np.full(12, 0.3))
    )
    e = equal_error_rate(c.bad_err, c.good_err)
    assert e.value[0] == 0.5 and e.low[0] == 0.0 and e.high[0] == 1.0
    assert roc_auc(c)[0] == 0.5


@pytest.mark.parametrize("empty", ["genuine", "impostor"])
def test_one_class_empty(empty: str) -> None:
    """sklearn warns and returns NaN for the empty class's rate; we return NaN and no EER."""
    other = np.array([0.1, 0.5, 0.5, 0.9])
    g = np.empty(0) if empty == "genuine" else other
    m = other if empty == "genuine" else np.empty(0)
    thr = candidate_thresholds(np.concatenate([g, m]))
    c = error_curves(g, m, Meaning.SIMILARITY, thr)
    y = np.r_[np.ones(g.size), np.zeros(m.size)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fpr, tpr, _ = roc_curve(y, np.concatenate([g, m]), drop_intermediate=False)
    if empty == "genuine":
        assert np.all(np.isnan(c.good_err)) and np.all(np.isnan(tpr))
        np.testing.assert_allclose(c.bad_err[0][:-1][::-1], fpr[1:], atol=TOL)
    else:
        assert np.all(np.isnan(c.bad_err)) and np.all(np.isnan(fpr))
        np.testing.assert_allclose(1 - c.good_err[0][:-1][::-1], tpr[1:], atol=TOL)
    assert np.isnan(equal_error_rate(c.bad_err, c.good_err).value[0])
    with warnings.catch_warnings():  # pyeer divides by the empty class's size
        warnings.simplefilter("ignore")
        p_thr, p_fmr, p_fnmr = calculate_roc(g.copy(), m.copy())
    np.testing.assert_array_equal(p_thr, thr[:-1])
    np.testing.assert_array_equal(np.isnan(p_fmr), np.isnan(c.bad_err[0][:-1]))
    np.testing.assert_array_equal(np.isnan(p_fnmr), np.isnan(c.good_err[0][:-1]))
    if empty == "genuine":
        np.testing.assert_allclose(c.bad_err[0][:-1], p_fmr, rtol=0, atol=TOL)
    else:
        np.testing.assert_allclose(c.good_err[0][:-1], p_fnmr, rtol=0, atol=TOL)


def test_fnmr_at_fmr_matches_sklearn_reading() -> None:
    """FNMR at FMR <= t equals 1 - TPR at the first sklearn point (least strict) whose FPR <= t."""
    rng = np.random.default_rng(3)
    g, m = np.round(rng.normal(2, 1, 3000), 2), np.round(rng.normal(0, 1, 40000), 2)
    scores = np.concatenate([g, m])
    y = np.r_[np.ones(g.size), np.zeros(m.size)]
    c = error_curves(g, m, Meaning.SIMILARITY, candidate_thresholds(scores))
    fpr, tpr, thr = roc_curve(y, scores, drop_intermediate=False)
    for target in (1e-1, 1e-2, 1e-3, 1e-4):
        ok = np.flatnonzero(fpr <= target)
        k = ok[-1]  # sklearn runs strict -> lenient: the last feasible point is the least strict
        idx = first_at_most(c.bad_err, target)
        assert abs(take(c.good_err, idx)[0] - (1 - tpr[k])) < TOL
        assert c.thresholds[idx[0]] == thr[k]


def test_weighted_path_equals_unweighted_path() -> None:
    rng = np.random.default_rng(5)
    values = np.round(rng.normal(0, 1, 500), 1)
    values[:7] = -np.inf
    values[7:12] = np.inf
    thr = candidate_thresholds(values)
    plain = count_below(values, thr)
    weighted = count_below(values, thr, np.ones((3, values.size)))
    np.testing.assert_array_equal(weighted[0], plain[0])
    brute = np.array([np.sum(values < t) for t in thr], dtype=float)
    np.testing.assert_array_equal(plain[0], brute)
    w = rng.integers(0, 3, (2, values.size)).astype(float)
    brute_w = np.array([[np.sum(w[r][values < t]) for t in thr] for r in range(2)])
    np.testing.assert_allclose(count_below(values, thr, w), brute_w, atol=TOL)


def _classification_set(p_fraud: np.ndarray, fraud: np.ndarray, meaning: Meaning) -> ScoredSet:
    n = p_fraud.size
    scores = p_fraud if meaning == Meaning.ATTACK else 1 - p_fraud
    return ScoredSet(
        task=Task.CLASSIFICATION,
        meaning=meaning,
        ids=np.array([str(i) for i in range(n)], dtype=object),
        scores=scores,
        fta=np.zeros(n, dtype=bool),
        good=~fraud,
        subject_a=np.arange(n),
        subject_b=np.arange(n),
        subjects=tuple(str(i) for i in range(n)),
        species=np.full(n, "", dtype=object),
    )


@pytest.mark.parametrize("meaning", [Meaning.ATTACK, Meaning.SIMILARITY])
def test_calibration_and_brier_match_sklearn(meaning: Meaning) -> None:
    rng = np.random.default_rng(11)
    p = rng.beta(2, 5, 2000)
    fraud = rng.random(2000) < p
    ss = _classification_set(p, fraud, meaning)
    rel = classification.reliability(ss, 0.95)
    assert rel is not None
    prob_true, prob_pred = calibration_curve(fraud.astype(int), p, n_bins=10, strategy="uniform")
    np.testing.assert_allclose([b["observed"] for b in rel["bins"]], prob_true, atol=TOL)
    np.testing.assert_allclose([b["mean_predicted"] for b in rel["bins"]], prob_pred, atol=TOL)
    from openidv.eval.metrics.common import Options, make_plan

    stats = classification.curve_stats(ss, make_plan(ss, Options()))
    assert abs(stats["brier"][0] - brier_score_loss(fraud.astype(int), p)) < TOL
    oriented = p if meaning == Meaning.ATTACK else -(1 - p)
    assert abs(stats["roc_auc"][0] - roc_auc_score(fraud, oriented)) < TOL
    assert abs(stats["pr_auc"][0] - average_precision_score(fraud, oriented)) < TOL


def _mixed_set(task: Task, meaning: Meaning, seed: int = 0) -> ScoredSet:
    rng = np.random.default_rng(seed)
    n = 900
    good = rng.random(n) < 0.4
    scores = np.round(np.where(good, rng.normal(1, 1, n), rng.normal(-1, 1, n)), 1)
    if meaning == Meaning.ATTACK:
        scores = -scores
    fta = rng.random(n) < 0.03
    subjects = 60
    a = rng.integers(0, subjects, n).astype(np.intp)
    b = a if task != Task.VERIFICATION else np.where(good, a, (a + 1) % subjects).astype(np.intp)
    species = np.where(good, "", np.where(rng.random(n) < 0.5, "print", "replay")).astype(object)
    return ScoredSet(
        task=task,
        meaning=meaning,
        ids=np.array([str(i) for i in range(n)], dtype=object),
        scores=np.where(fta, np.nan, scores),
        fta=fta,
        good=good,
        subject_a=a,
        subject_b=b,
        subjects=tuple(str(i) for i in range(subjects)),
        species=species if task == Task.PAD else np.full(n, "", dtype=object),
        slices={"band": np.where(rng.random(n) < 0.5, "x", "y").astype(object)},
    )


@pytest.mark.parametrize(
    ("task", "meaning"),
    [
        (Task.VERIFICATION, Meaning.SIMILARITY),
        (Task.VERIFICATION, Meaning.ATTACK),
        (Task.PAD, Meaning.ATTACK),
        (Task.PAD, Meaning.SIMILARITY),
        (Task.CLASSIFICATION, Meaning.ATTACK),
    ],
)
def test_bootstrap_path_with_unit_weights_reproduces_the_point_estimate(task: Task, meaning: Meaning) -> None:
    """Every replicate runs the weighted code path; with every weight 1 it must give the point estimate."""
    from openidv.eval.metrics import choose_operating_point, curve_stats, plan_for, threshold_stats
    from openidv.eval.metrics.common import Options

    ss = _mixed_set(task, meaning)
    options = Options(targets=(0.2, 0.05))
    plan = plan_for(ss, options)
    point = curve_stats(ss, plan, None)
    choose_operating_point(ss, plan, point, options)
    point.update(threshold_stats(ss, plan, None))
    ones = np.ones((2, ss.n))
    weighted = curve_stats(ss, plan, ones)
    weighted.update(threshold_stats(ss, plan, ones))
    assert set(point) == set(weighted)
    for name, value in point.items():
        np.testing.assert_allclose(weighted[name], np.repeat(value, 2), rtol=0, atol=TOL, err_msg=name)
