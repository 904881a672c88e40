"""Figures for the report (matplotlib, PNG): DET, score histograms, per-species and per-slice bars, ROC,
reliability, CMC. Every figure states its sample size and draws intervals where it shows a rate.

The DET curve uses normal-deviate (probit) axes, as in the biometrics literature (Martin et al., 1997):
straight lines for normal score distributions, and the low-error region is readable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from scipy.special import ndtri

from openidv.eval.data import FloatArray, ScoredSet, Task

DPI = 110
TICKS = np.array([1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 5e-2, 0.2, 0.5, 0.8, 0.95])
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def _pct(x: float) -> str:
    if x >= 0.01:
        return f"{x * 100:.3g}%"
    return f"{x * 100:.2g}%"


def _probit(x: FloatArray, floor: float) -> FloatArray:
    return np.asarray(ndtri(np.clip(x, floor, 1 - 1e-12)), dtype=np.float64)


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def det(
    path: Path,
    ss: ScoredSet,
    curves: Mapping[str, FloatArray],
    metrics: Mapping[str, Any],
    title: str,
    confidence: float = 0.95,
) -> Path | None:
    """DET curve on probit axes, with the target operating points and their intervals."""
    if "bad_err" not in curves:
        return None
    v = ss.vocabulary
    n_good = int(np.sum(ss.good & ~ss.fta))
    n_bad = int(np.sum(~ss.good & ~ss.fta))
    floor = 0.5 / max(1, max(n_good, n_bad))
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    x, y = curves["bad_err"], curves["good_err"]
    pad = "worst:bad_err" in curves
    ax.plot(
        _probit(x, floor),
        _probit(y, floor),
        color=COLOURS[0],
        lw=1.8 if not pad else 1.2,
        label="all attack species pooled" if pad else "acquired rows",
    )
    if pad:
        ax.plot(
            _probit(curves["worst:bad_err"], floor),
            _probit(curves["worst:good_err"], floor),
            color=COLOURS[2],
            lw=1.8,
            label="APCER of the worst species (targets)",
        )
    if "incl_fta:bad_err" in curves and ss.fta.any():
        xi, yi = curves["incl_fta:bad_err"], curves["incl_fta:good_err"]
        ax.plot(
            _probit(xi, floor),
            _probit(yi, floor),
            color=COLOURS[0],
            lw=1.2,
            ls="--",
            label="failures to acquire counted",
        )
    eer = metrics.get("eer") or {}
    if eer.get("value") is not None:
        e = eer["value"]
        ax.plot(
            _probit(np.array([e]), floor),
            _probit(np.array([e]), floor),
            "o",
            color=COLOURS[3],
            label=f"EER {_pct(e)} [{_pct(eer['ci_low'])}, {_pct(eer['ci_high'])}]",
        )
    targets = {} if ss.task == Task.CLASSIFICATION else (metrics.get(v.at_target) or {})
    for key, item in targets.items():
        if item.get("value") is None:
            continue
        constrained = item.get(v.bad_err) or {}
        cx = constrained.get("value") if constrained.get("value") is not None else float(key)
        val, low, high = item["value"], item["ci_low"], item["ci_high"]
        px = _probit(np.array([cx]), floor)
        py = _probit(np.array([val]), floor)
        ax.errorbar(
            px,
            py,
            yerr=[py - _probit(np.array([low]), floor), _probit(np.array([high]), floor) - py],
            fmt="s",
            color=COLOURS[1],
            ms=4,
            capsize=3,
        )
        ax.annotate(
            f"{v.bad_err.upper()}={key}: {_pct(val)}",
            (px[0], py[0]),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=7,
        )
    ticks = TICKS[floor <= TICKS]
    pos = _probit(ticks, floor)
    labels = [_pct(t) for t in ticks]
    ax.set_xticks(pos, labels, rotation=45, fontsize=8)
    ax.set_yticks(pos, labels, fontsize=8)
    lo = _probit(np.array([floor]), floor)[0] - 0.2
    ax.set_xlim(lo, _probit(np.array([0.5]), floor)[0] + 0.6)
    ax.set_ylim(lo, _probit(np.array([0.95]), floor)[0] + 0.3)
    ax.set_xlabel(f"{v.bad_err.upper()} ({v.bad} accepted), normal-deviate scale")
    ax.set_ylabel(f"{v.good_err.upper()} ({v.good} rejected), normal-deviate scale")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(
        f"{title}\nDET: n_{v.good}={n_good:,}, n_{v.bad}={n_bad:,}; "
        f"squares: targets with {confidence:.0%} intervals",
        fontsize=9,
    )
    return _save(fig, path)


def histogram(path: Path, ss: ScoredSet, threshold: float | None, title: str) -> Path | None:
    """Score distributions per class (per attack species for PAD), with the operating threshold."""
    ok = ~ss.fta
    finite = ss.scores[ok & np.isfinite(ss.scores)]
    if finite.size == 0:
        return None
    v = ss.vocabulary
    groups: list[tuple[str, FloatArray]] = [(v.good, ss.scores[ss.good & ok])]
    if ss.task == Task.PAD:
        for sp in sorted({str(s) for s in ss.species[~ss.good].tolist() if s}):
            groups.append((f"{v.bad}: {sp}", ss.scores[~ss.good & ok & (ss.species == sp)]))
    else:
        groups.append((v.bad, ss.scores[~ss.good & ok]))
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        hi = lo + 1.0
    bins = np.linspace(lo, hi, 60).tolist()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (name, vals) in enumerate(groups):
        vals = vals[np.isfinite(vals)]
        if vals.size == 0:
            continue
        ax.hist(
            vals,
            bins=bins,
            density=True,
            histtype="stepfilled",
            alpha=0.35,
            color=COLOURS[i % len(COLOURS)],
            label=f"{name} (n={vals.size:,})",
        )
        ax.hist(vals, bins=bins, density=True, histtype="step", color=COLOURS[i % len(COLOURS)])
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color="k", ls="--", lw=1, label=f"operating threshold {threshold:.4g}")
    ax.set_yscale("log")
    ax.set_xlabel(
        f"score ({ss.meaning.value}: higher = more likely "
        f"{'genuine' if ss.meaning.value == 'similarity' else 'attack/fraud'})"
    )
    ax.set_ylabel("density (log)")
    n_fta = int(ss.fta.sum())
    ax.set_title(f"{title}\nscore distributions; {n_fta:,} failures to acquire not shown", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def bars(
    path: Path,
    panels: Mapping[str, tuple[Sequence[str], Sequence[Mapping[str, Any]]]],
    title: str,
) -> Path | None:
    """One panel per rate (each on its own scale): a bar per group, interval whiskers, errors/n below.

    ``panels`` maps a panel title to (group names, rate entries with value, ci_low, ci_high, errors, n).
    """
    panels = {k: v for k, v in panels.items() if v[0]}
    if not panels:
        return None
    widest = max(len(names) for names, _ in panels.values())
    fig, axes = plt.subplots(
        1, len(panels), figsize=(max(4.2, 0.75 * widest + 2.2) * len(panels), 4.4), squeeze=False
    )
    for i, (label, (names, items)) in enumerate(panels.items()):
        ax = axes[0][i]
        x = np.arange(len(names))
        vals = np.array([_or_nan(it.get("value")) for it in items])
        lows = np.array([_or_nan(it.get("ci_low")) for it in items])
        highs = np.array([_or_nan(it.get("ci_high")) for it in items])
        err = np.vstack([np.nan_to_num(vals - lows), np.nan_to_num(highs - vals)])
        ax.bar(x, np.nan_to_num(vals), 0.6, yerr=err, capsize=3, color=COLOURS[i % len(COLOURS)], alpha=0.85)
        ticks = [
            f"{n}\n{it.get('errors', '?')}/{it.get('n', '?')}" if it.get("n") is not None else n
            for n, it in zip(names, items, strict=True)
        ]
        ax.set_xticks(x, ticks, fontsize=7, rotation=0 if len(names) < 6 else 45)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: _pct(y)))
        ax.set_title(label, fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title + "\n(labels: group, errors/n)", fontsize=9)
    return _save(fig, path)


def _or_nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


def roc(
    path: Path, curves: Mapping[str, FloatArray], auc: Mapping[str, Any], n_good: int, n_bad: int, title: str
) -> Path | None:
    """ROC for a fraud classifier: frauds caught against legit flagged."""
    if "bad_err" not in curves:
        return None
    fig, ax = plt.subplots(figsize=(5.4, 5.0))
    ax.plot(curves["good_err"], 1 - curves["bad_err"], color=COLOURS[0], lw=1.8)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("FPR (legit flagged)")
    ax.set_ylabel("recall (fraud flagged)")
    value = auc.get("value")
    ci = f"{auc.get('ci_low'):.3f}-{auc.get('ci_high'):.3f}" if auc.get("ci_low") is not None else "n/a"
    ax.set_title(
        f"{title}\nROC: AUC {value:.4f} [{ci}], n_legit={n_good:,}, n_fraud={n_bad:,}"
        if value is not None
        else title,
        fontsize=9,
    )
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def reliability_plot(
    path: Path, calibration: Mapping[str, Any], brier: Mapping[str, Any] | None, title: str
) -> Path | None:
    bins = calibration.get("bins") or []
    if not bins:
        return None
    fig, ax = plt.subplots(figsize=(5.4, 5.0))
    pred = np.array([b["mean_predicted"] for b in bins])
    obs = np.array([b["observed"] for b in bins])
    low = np.array([b["ci_low"] for b in bins])
    high = np.array([b["ci_high"] for b in bins])
    ax.errorbar(pred, obs, yerr=[obs - low, high - obs], fmt="o-", color=COLOURS[0], capsize=3)
    for b in bins:
        ax.annotate(
            f"n={b['n']}",
            (b["mean_predicted"], b["observed"]),
            textcoords="offset points",
            xytext=(4, -10),
            fontsize=6,
        )
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("mean predicted P(fraud)")
    ax.set_ylabel("observed fraud rate")
    extra = ""
    if brier and brier.get("value") is not None:
        extra = f", Brier {brier['value']:.4f} [{brier['ci_low']:.4f}, {brier['ci_high']:.4f}]"
    ax.set_title(
        f"{title}\nreliability, n={calibration.get('n', 0):,}{extra}; bars: exact binomial", fontsize=9
    )
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def cmc(
    path: Path,
    cmc_metrics: Mapping[str, Mapping[str, Any]],
    n_mated: int,
    title: str,
    confidence: float = 0.95,
) -> Path | None:
    if not cmc_metrics:
        return None
    ranks = np.array([int(k) for k in cmc_metrics])
    vals = np.array(
        [cmc_metrics[k]["value"] if cmc_metrics[k]["value"] is not None else np.nan for k in cmc_metrics]
    )
    low = np.array(
        [cmc_metrics[k]["ci_low"] if cmc_metrics[k]["ci_low"] is not None else np.nan for k in cmc_metrics]
    )
    high = np.array(
        [cmc_metrics[k]["ci_high"] if cmc_metrics[k]["ci_high"] is not None else np.nan for k in cmc_metrics]
    )
    fig, ax = plt.subplots(figsize=(5.4, 4.2))
    ax.errorbar(
        ranks,
        vals,
        yerr=[np.nan_to_num(vals - low), np.nan_to_num(high - vals)],
        fmt="o-",
        capsize=3,
        color=COLOURS[0],
    )
    ax.set_xscale("log")
    ax.set_xticks(ranks, [str(r) for r in ranks])
    ax.set_xlabel("rank")
    ax.set_ylabel("identification rate")
    ax.set_title(f"{title}\nCMC, n_mated_searches={n_mated:,}; bars: {confidence:.0%} intervals", fontsize=9)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)
