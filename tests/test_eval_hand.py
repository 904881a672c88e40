"""Hand-computed examples: APCER per species and BPCER, FNMR at an FMR target, EER, CMC and FNIR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openidv.eval.data import ScoredSet, Task
from openidv.eval.loading import scored_set
from openidv.eval.manifests import load_manifest
from openidv.eval.metrics import evaluate_set, pad
from openidv.eval.metrics.common import Options, make_plan
from openidv.eval.scores import align, read_scores
from openidv.eval.simple import eer, fnmr_at_fmr
from openidv.results import Meaning
from tests.test_eval_support import write_csv


def make_set(
    task: Task,
    meaning: Meaning,
    good: list[float | None],
    bad: list[float | None],
    species: list[str] | None = None,
) -> ScoredSet:
    """One subject per row; ``None`` is a failure to acquire."""
    values = [*good, *bad]
    n = len(values)
    fta = np.array([v is None for v in values])
    return ScoredSet(
        task=task,
        meaning=meaning,
        ids=np.array([f"r{i}" for i in range(n)], dtype=object),
        scores=np.array([np.nan if v is None else v for v in values], dtype=float),
        fta=fta,
        good=np.array([True] * len(good) + [False] * len(bad)),
        subject_a=np.arange(n),
        subject_b=np.arange(n),
        subjects=tuple(f"s{i}" for i in range(n)),
        species=np.array([""] * len(good) + (species or [""] * len(bad)), dtype=object),
    )


BONA_FIDE = [0.1, 0.2, 0.3, 0.4, 0.9, None]
ATTACKS = [0.8, 0.85, 0.35, 0.95, 0.6, 0.7, None]
SPECIES = ["print", "print", "print", "print", "screen_replay", "screen_replay", "print"]


def test_apcer_per_species_and_bpcer_at_a_threshold() -> None:
    """Attack score, flag when score >= 0.5: bona fide 0.9 flagged; print 0.35 passes; screen none passes."""
    ss = make_set(Task.PAD, Meaning.ATTACK, BONA_FIDE, ATTACKS, SPECIES)
    ev = evaluate_set(ss, Options(threshold=0.5, replicates=0))
    op = ev.metrics["operating_point"]
    assert op["bpcer"]["value"] == pytest.approx(1 / 5)
    assert op["apcer_per_species"]["print"]["value"] == pytest.approx(1 / 4)
    assert op["apcer_per_species"]["screen_replay"]["value"] == 0.0
    assert op["apcer_max"]["value"] == pytest.approx(1 / 4) and op["apcer_max"]["species"] == "print"
    assert op["apcer_pooled"]["value"] == pytest.approx(1 / 6)
    assert op["acer"]["value"] == pytest.approx((1 / 4 + 1 / 5) / 2)
    assert ev.metrics["bpnrr"]["value"] == pytest.approx(1 / 6)  # bona fide that failed to acquire
    assert ev.metrics["apnrr"]["value"] == pytest.approx(1 / 7)
    # exact binomial interval where no error was seen: [0, 1 - 0.025^(1/2)] for screen replay (n = 2)
    assert op["apcer_per_species"]["screen_replay"]["ci_high"] == pytest.approx(1 - 0.025 ** (1 / 2))


def test_bpcer_at_apcer_target_constrains_the_worst_species() -> None:
    """APCER max <= 0.25 needs no screen attack passing (t <= 0.6); the least strict such t is 0.6."""
    ss = make_set(Task.PAD, Meaning.ATTACK, BONA_FIDE, ATTACKS, SPECIES)
    plan = make_plan(ss, Options(targets=(0.25, 0.1)))
    stats = pad.curve_stats(ss, plan)
    assert stats["bpcer_at_apcer:2.5e-1"][0] == pytest.approx(1 / 5)
    assert stats["bpcer_at_apcer:2.5e-1#t"][0] == 0.6
    assert stats["achieved:2.5e-1"][0] == pytest.approx(1 / 4)
    # APCER max <= 0.1: no print attack may pass either -> t <= 0.35; BPCER(0.35) = {0.4, 0.9} = 2/5
    assert stats["bpcer_at_apcer:1e-1"][0] == pytest.approx(2 / 5)
    assert stats["bpcer_at_apcer:1e-1#t"][0] == 0.35
    # two screen-replay attacks cannot support any APCER target: the report says so instead of a number
    ev = evaluate_set(ss, Options(targets=(0.25,), replicates=0))
    item = ev.metrics["bpcer_at_apcer"]["2.5e-1"]
    assert item["value"] is None and item["supported"] is False and "screen_replay" in item["note"]
    assert set(item) >= {"value", "ci_low", "ci_high", "threshold", "n_bona_fide", "n_attack"}


def _fmr_set() -> ScoredSet:
    impostors: list[float | None] = [0.8, 0.7, 0.6, 0.5] + [0.0] * 2996 + [None]
    genuine: list[float | None] = [0.55, 0.65, 0.9, 0.95, 0.3, None]
    return make_set(Task.VERIFICATION, Meaning.SIMILARITY, genuine, impostors)


def test_fnmr_at_fmr_target_by_hand() -> None:
    """3,000 impostors: FMR <= 1e-3 allows 3 of them at or above t; 0.5 must be rejected -> t = 0.55."""
    ev = evaluate_set(_fmr_set(), Options(targets=(1e-2, 1e-3, 1e-4), replicates=0))
    m = ev.metrics
    at = m["fnmr_at_fmr"]["1e-3"]
    assert at["value"] == pytest.approx(1 / 5)  # the genuine 0.3 falls below 0.55
    assert at["threshold"] == 0.55
    assert at["fmr"]["value"] == pytest.approx(3 / 3000)
    assert (at["n_genuine"], at["n_impostor"]) == (5, 3000)
    # FMR <= 1e-2 lets all four high impostors through: t = 0.3 (lowest score above 0.0), FNMR = 0
    low = m["fnmr_at_fmr"]["1e-2"]
    assert low["value"] == 0.0 and low["threshold"] == 0.3
    assert low["ci_low"] == 0.0 and low["ci_high"] == pytest.approx(1 - 0.025 ** (1 / 5))  # exact binomial
    # 3,000 impostors cannot support FMR = 1e-4 (rule of three needs 29,956)
    assert m["fnmr_at_fmr"]["1e-4"]["value"] is None
    assert "29,956" in m["fnmr_at_fmr"]["1e-4"]["note"]
    # failures to acquire counted: the genuine FTA is a non-match, the impostor FTA is not a match
    incl = m["fnmr_at_fmr_incl_fta"]["1e-3"]
    assert incl["value"] == pytest.approx(2 / 6) and incl["threshold"] == 0.55
    assert (incl["n_genuine"], incl["n_impostor"]) == (6, 3001)
    assert m["fta"]["value"] == pytest.approx(2 / 3007)
    assert m["fta"]["genuine"]["value"] == pytest.approx(1 / 6)


def test_simple_helpers_by_hand() -> None:
    g, m = [0.9, 0.8, 0.5], [0.1, 0.5, 0.2, 0.85]
    assert eer(g, m) == pytest.approx(0.25)  # at t=0.5: FMR 2/4 and FNMR 0 -> mean 0.25
    value, threshold = fnmr_at_fmr(g, m, 0.25)
    assert (value, threshold) == (pytest.approx(1 / 3), 0.8)  # t must pass 0.5, and 0.85 may pass
    assert eer([0.1, 0.2], [0.8, 0.9], "attack") == 0.0  # attack scores: bona fide low, attacks high


def test_identification_cmc_and_fnir_by_hand(tmp_path: Path) -> None:
    rows = []
    scores = []
    table = {
        ("P1", "A"): {"A": 0.7, "B": 0.8, "C": 0.1},  # mate second: rank 2
        ("P2", "B"): {"A": 0.2, "B": 0.9, "C": 0.3},  # rank 1
        ("P3", "D"): {"A": 0.4, "B": 0.6, "C": 0.5},  # not enrolled: non-mated search, top 0.6
        ("P4", "C"): {"A": 0.5, "B": 0.5, "C": 0.5},  # ties rank the mate last: rank 3
    }
    n = 0
    for (probe, subject), candidates in table.items():
        for gallery, score in candidates.items():
            rows.append([f"r{n}", f"{probe}.jpg", f"G{gallery}.jpg", subject, gallery])
            scores.append([f"r{n}", score, "ok"])
            n += 1
    manifest = load_manifest(
        write_csv(tmp_path / "search.csv", ["id", "a", "b", "subject_a", "subject_b"], rows)
    )
    table_file = write_csv(tmp_path / "s.csv", ["id", "score", "status"], scores, ["meaning: similarity"])
    values, statuses, details = align(read_scores(table_file), manifest.ids, "s.csv")
    ss = scored_set(manifest, values, statuses, details, Meaning.SIMILARITY, Task.IDENTIFICATION).ss
    assert ss.n == 4 and int(ss.good.sum()) == 3
    assert ss.rank is not None and sorted(ss.rank[ss.good].tolist()) == [1.0, 2.0, 3.0]
    ev = evaluate_set(ss, Options(targets=(0.5,), ranks=(1, 2, 5), replicates=0))
    assert ev.metrics["cmc"]["1"]["value"] == pytest.approx(1 / 3)
    assert ev.metrics["cmc"]["2"]["value"] == pytest.approx(2 / 3)
    assert ev.metrics["cmc"]["5"]["value"] == pytest.approx(1.0)
    # FPIR <= 0.5 with one non-mated search (top 0.6): T must exceed 0.6 -> T = 0.7; mate 0.5 is missed
    assert ev.point["fnir_at_fpir:5e-1"][0] == pytest.approx(1 / 3)
    assert ev.point["fnir_at_fpir:5e-1#t"][0] == 0.7
    assert ev.metrics["fnir_at_fpir"]["5e-1"]["value"] is None  # one non-mated search supports nothing
