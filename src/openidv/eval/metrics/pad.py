"""Presentation-attack detection, ISO/IEC 30107-3: APCER per species, BPCER, BPCER at APCER targets.

* APCER is computed per attack species (PAI species) and the headline is the *maximum* over species: an
  attacker uses the species that works best. BPCER at an APCER target constrains that maximum, so the
  rarest species limits which targets the data can support (rule of three on its count).
* ACER (mean of APCER max and BPCER) is reported as a secondary figure only; the standard deprecates it
  as a headline because it mixes two costs that are never equal.
* APNRR / BPNRR are the non-response rates: attacks / bona fide presentations that failed to acquire.
  APCER and BPCER are computed on presentations that produced a score, as the standard defines them.
* EER is on all attacks pooled against bona fide presentations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from openidv.eval.curves import downsample, group_curves, roc_auc
from openidv.eval.data import BoolArray, FloatArray, ScoredSet
from openidv.eval.metrics import verification
from openidv.eval.metrics.common import (
    Options,
    Plan,
    Stats,
    W,
    at_target,
    cached_sums,
    entry,
    fraction,
    put_eer,
    put_rate,
    wcount,
)
from openidv.eval.targets import target_key


def species_counts(ss: ScoredSet, plan: Plan) -> dict[str, int]:
    """Acquired attack presentations per species (a species that never produced a score has 0)."""
    ok = ~ss.fta
    return {sp: int(np.sum(~ss.good & ok & (ss.species == sp))) for sp in plan.species}


def rarest_species(ss: ScoredSet, plan: Plan) -> tuple[str | None, int]:
    """The species with the fewest acquired presentations, among those with any (its count limits targets).

    A species whose every presentation failed to acquire has no APCER; its non-response shows in APNRR.
    """
    counts = {sp: n for sp, n in species_counts(ss, plan).items() if n > 0}
    if not counts:
        return None, 0
    name = min(counts, key=lambda s: counts[s])
    return name, counts[name]


def curve_stats(
    ss: ScoredSet, plan: Plan, weights: W = None, curves_out: dict[str, FloatArray] | None = None
) -> Stats:
    ok = ~ss.fta
    bad = ~ss.good & ok
    pooled = group_curves(
        plan.group(ss, "good", ss.good & ok), plan.group(ss, "bad", bad), ss.meaning, weights
    )
    out: Stats = {}
    put_eer(out, pooled)
    out["roc_auc"] = roc_auc(pooled)
    per_species = []
    for sp in plan.species:
        acc, n = plan.group(ss, f"species:{sp}", bad & (ss.species == sp)).accepted(ss.meaning, weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_species.append(
                np.where(n[:, None] > 0, acc / np.where(n[:, None] > 0, n[:, None], 1.0), np.nan)
            )
    apcer_max = worst_of(per_species) if per_species else None
    for tau in plan.targets:
        key = target_key(tau)
        at_target(
            out,
            pooled,
            tau,
            constrained=apcer_max,
            side="bad",
            report_name=f"bpcer_at_apcer:{key}",
            achieved_name=f"achieved:{key}",
        )
    put_rate(out, "fta", wcount(ss.fta, weights), wcount(np.ones(ss.n, dtype=bool), weights))
    put_rate(out, "bpnrr", *fraction(ss.fta, ss.good, weights))
    put_rate(out, "apnrr", *fraction(ss.fta, ~ss.good, weights))
    if curves_out is not None and weights is None:
        verification.keep_curves(curves_out, pooled, "")
        if apcer_max is not None and pooled.size:
            # the curve the APCER targets live on: APCER of the worst species against BPCER
            idx = downsample(apcer_max[0], pooled.good_err[0])
            curves_out["worst:bad_err"] = apcer_max[0][idx]
            curves_out["worst:good_err"] = pooled.good_err[0][idx]
    return out


def worst_of(rates: list[FloatArray]) -> FloatArray:
    """Element-wise maximum over species, ignoring species absent from a replicate (NaN)."""
    stacked = np.stack(rates)
    finite = np.isfinite(stacked)
    return np.where(finite.any(axis=0), np.max(np.where(finite, stacked, -np.inf), axis=0), np.nan)


def threshold_stats(
    ss: ScoredSet, threshold: float, weights: W = None, cache: dict[str, Any] | None = None
) -> Stats:
    species = sorted({str(s) for s in ss.species[~ss.good].tolist() if s})

    def masks() -> list[BoolArray]:
        accepted = ss.accepted(threshold)
        ok = ~ss.fta
        found = [~accepted & ss.good & ok, ss.good & ok, accepted & ~ss.good & ok, ~ss.good & ok]
        for sp in species:
            rows = ~ss.good & ok & (ss.species == sp)
            found += [accepted & rows, rows]
        return found

    sums = cached_sums(cache, f"op:{threshold!r}", weights, masks)
    out: Stats = {}
    put_rate(out, "op:bpcer", sums[0], sums[1])
    put_rate(out, "op:apcer", sums[2], sums[3])
    rates, errors, trials = [], [], []
    for i, sp in enumerate(species):
        k, n = sums[4 + 2 * i], sums[5 + 2 * i]
        put_rate(out, f"op:apcer:{sp}", k, n)
        rates.append(out[f"op:apcer:{sp}"])
        errors.append(k)
        trials.append(n)
    if rates:
        out["op:apcer_max"] = worst_of(rates)
        # the counts of the worst species carry the exact interval of the maximum
        stacked = np.where(np.isfinite(np.stack(rates)), np.stack(rates), -np.inf)
        worst = np.argmax(stacked, axis=0)
        cols_ = np.arange(worst.shape[0])
        out["op:apcer_max#k"] = np.stack(errors)[worst, cols_]
        out["op:apcer_max#n"] = np.stack(trials)[worst, cols_]
    else:
        out["op:apcer_max"] = out["op:apcer"]
    out["op:acer"] = (out["op:apcer_max"] + out["op:bpcer"]) / 2
    return out


def summarize(
    ss: ScoredSet,
    plan: Plan,
    point: Mapping[str, FloatArray],
    reps: Mapping[str, FloatArray],
    options: Options,
) -> dict[str, Any]:
    ok = ~ss.fta
    n_good, n_bad = float(np.sum(ss.good & ok)), float(np.sum(~ss.good & ok))
    counts = species_counts(ss, plan)
    rarest_name, rarest = rarest_species(ss, plan)
    metrics: dict[str, Any] = {"eer": verification.eer_entry(ss, point, reps, options, n_good, n_bad)}
    metrics["bpcer_at_apcer"] = verification.target_entries(
        ss,
        plan,
        point,
        reps,
        options,
        n_good=n_good,
        n_bad=n_bad,
        support_n=float(rarest),
        support_what=f"attack presentations of every species (rarest: {rarest_name})",
    )
    metrics["roc_auc"] = {
        **entry("roc_auc", point, reps, options.confidence),
        "n_bona_fide": int(n_good),
        "n_attack": int(n_bad),
    }
    metrics["species"] = counts
    metrics["apnrr"] = entry("apnrr", point, reps, options.confidence)
    metrics["bpnrr"] = entry("bpnrr", point, reps, options.confidence)
    metrics["fta"] = entry("fta", point, reps, options.confidence)
    if plan.op_threshold is not None:
        per_species = {sp: entry(f"op:apcer:{sp}", point, reps, options.confidence) for sp in plan.species}
        worst = max(per_species, key=lambda s: per_species[s]["value"] or 0.0) if per_species else None
        metrics["operating_point"] = {
            "label": plan.op_label,
            "threshold": plan.op_threshold,
            "apcer_per_species": per_species,
            "apcer_max": {**entry("op:apcer_max", point, reps, options.confidence), "species": worst},
            "apcer_pooled": entry("op:apcer", point, reps, options.confidence),
            "bpcer": entry("op:bpcer", point, reps, options.confidence),
            "acer": {
                **entry("op:acer", point, reps, options.confidence),
                "note": "secondary figure only (ISO/IEC 30107-3): mean of APCER max and BPCER",
            },
        }
    return metrics
