"""Identification (1:N): FNIR at FPIR targets and the CMC, from exhaustive comparisons.

A comparisons manifest becomes a 1:N evaluation when each probe (``a``) is compared with every gallery
entry (``b``); the rows of one probe are its candidate list. A search is *mated* when the probe's subject
is in the gallery. Following NIST FRVT 1:N:

* FNIR(T): mated searches whose mate scores below T (or whose mate was not scored);
* FPIR(T): non-mated searches whose best candidate scores at or above T;
* CMC(k): mated searches whose mate is at rank k or better. Ties are ranked pessimistically: a non-mate
  scoring equal to the mate ranks above it.

Scores are put in similarity orientation first (attack scores negated): ranking needs one. A search fails
to acquire only when none of its comparisons produced a score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from openidv.eval.data import BoolArray, FloatArray, IntArray, ScoredSet, StrArray, Task
from openidv.eval.metrics import verification
from openidv.eval.metrics.common import Options, Plan, Stats, W, entry, put_rate, wcount
from openidv.results import Meaning


def searches(
    ids: StrArray,
    probes: Sequence[str],
    subject_a: IntArray,
    subject_b: IntArray,
    subjects: tuple[str, ...],
    scores: FloatArray,
    fta: BoolArray,
    meaning: Meaning,
    slices: Mapping[str, StrArray],
) -> ScoredSet:
    """One row per probe: its mate's score (mated) or its best candidate's score (non-mated), and rank."""
    sim = scores if meaning == Meaning.SIMILARITY else -scores
    frame = pd.DataFrame(
        {
            "probe": list(probes),
            "subject": subject_a,
            "mated": subject_a == subject_b,
            "sim": np.where(fta, -np.inf, sim),
            "fta": fta,
        }
    )
    frame["mate_sim"] = np.where(frame["mated"], frame["sim"], -np.inf)
    frame["nonmate_sim"] = np.where(frame["mated"], -np.inf, frame["sim"])
    grouped = frame.groupby("probe", sort=False)
    per = grouped.agg(
        subject=("subject", "first"),
        mated=("mated", "any"),
        all_fta=("fta", "all"),
        mate=("mate_sim", "max"),
        top=("nonmate_sim", "max"),
    )
    mate_of_search = frame["probe"].map(per["mate"])
    ahead = (
        (~frame["mated"]) & (~frame["fta"]) & (frame["sim"] >= mate_of_search) & np.isfinite(mate_of_search)
    )
    per["ahead"] = ahead.groupby(frame["probe"], sort=False).sum()
    mated = per["mated"].to_numpy(dtype=bool)
    mate = per["mate"].to_numpy(dtype=np.float64)
    top = per["top"].to_numpy(dtype=np.float64)
    all_fta = per["all_fta"].to_numpy(dtype=bool)
    search_scores = np.where(mated, mate, top)
    search_scores = np.where(all_fta, np.nan, search_scores)
    rank = np.where(mated & np.isfinite(mate), 1.0 + per["ahead"].to_numpy(dtype=np.float64), np.inf)
    first_rows = grouped.head(1).index.to_numpy()
    subject = per["subject"].to_numpy(dtype=np.intp)
    return ScoredSet(
        task=Task.IDENTIFICATION,
        meaning=Meaning.SIMILARITY,
        ids=np.asarray(per.index.to_numpy(), dtype=object),
        scores=search_scores,
        fta=all_fta,
        good=mated,
        subject_a=subject,
        subject_b=subject,
        subjects=subjects,
        species=np.full(len(per), "", dtype=object),
        slices={k: v[first_rows] for k, v in slices.items()},
        rank=rank,
    )


def curve_stats(
    ss: ScoredSet, plan: Plan, weights: W = None, curves_out: dict[str, FloatArray] | None = None
) -> Stats:
    out = verification.curve_stats(ss, plan, weights, curves_out)
    assert ss.rank is not None
    mated_ok = ss.good & ~ss.fta
    for k in plan.ranks:
        put_rate(out, f"miss:{k}", wcount(mated_ok & (ss.rank > k), weights), wcount(mated_ok, weights))
    return out


threshold_stats = verification.threshold_stats


def summarize(
    ss: ScoredSet,
    plan: Plan,
    point: Mapping[str, FloatArray],
    reps: Mapping[str, FloatArray],
    options: Options,
) -> dict[str, Any]:
    metrics = verification.summarize(ss, plan, point, reps, options)
    metrics["cmc"] = {
        str(k): entry(f"miss:{k}", point, reps, options.confidence, flip=True) for k in plan.ranks
    }
    gallery = (
        int(np.max(ss.rank[np.isfinite(ss.rank)]))
        if ss.rank is not None and np.isfinite(ss.rank).any()
        else 0
    )
    metrics["searches"] = {
        "mated": int(np.sum(ss.good)),
        "non_mated": int(np.sum(~ss.good)),
        "worst_mate_rank": gallery,
    }
    return metrics
