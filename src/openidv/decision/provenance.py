"""Where each threshold of a policy comes from: what it targets, the data it was set on, what it achieved.

A security team reviewing a policy asks of every threshold: which operating point, measured on how many
comparisons of how many people, real or synthetic, with what interval, and is that target supported by the
data at all. ``threshold_table`` answers from what tuning recorded in the policy file; ``openidv policy
explain`` prints it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from openidv.decision.policy import Policy

#: the sample counts tuning records, by the name a reader understands
COUNTS = {
    "n_genuine": "genuine pairs",
    "n_impostor": "impostor pairs",
    "n_bona_fide": "bona fide samples",
    "n_attack": "attack samples",
    "n_mated_searches": "mated searches",
    "n_non_mated_searches": "non-mated searches",
    "gallery_size": "gallery size",
    "subjects": "people",
    "n_ring_accounts": "fraud-ring accounts",
    "n_innocent_accounts": "innocent accounts",
}
_SYNTHETIC_WORDS = ("synthetic", "simulated")
_RATE_NAME = re.compile(r"^(fmr|fnmr|fpir|fnir|apcer|bpcer|fpr|tpr|recall)(_\w+)?$")


class ThresholdRow(BaseModel):
    """One threshold of one check, with its provenance."""

    model_config = ConfigDict(frozen=True)

    check: str
    threshold: str
    value: float
    rules: list[str]
    decision: str  # how the rules read it, e.g. "reject when score < 0.636543"
    target: str | None
    data: str  # "real", "synthetic" or "unknown" (as recorded by tuning, or stated in its source)
    counts: dict[str, int]
    rates: dict[str, dict[str, Any]]
    supported: bool | None  # does the data support the target (rule of three)? None: not recorded
    #: ``supported``, ``unsupported`` (forced: every consumer warns), ``published`` (from the model's
    #: published evaluation; owned data cannot verify the target), or None (not recorded)
    status: str | None
    source_kind: str  # tuned, published, hand or unknown
    note: str | None
    source: str | None
    tuned_at: str | None
    #: for a published source: the published rule, data set and reference, in one line
    published: str | None = None
    reason: str | None = None
    #: 1:N thresholds: expected FPIR per gallery size, one dict per size (``gallery_size`` and one rate per
    #: FMR source), and what each source is
    fpir_by_gallery_size: list[dict[str, Any]] | None = None
    fpir_sources: dict[str, Any] | None = None


def _data_kind(achieved: dict[str, Any], source: str | None) -> str:
    recorded = str(achieved.get("data", "")).lower()
    text = f"{recorded} {source or ''}".lower()
    if any(word in text for word in _SYNTHETIC_WORDS):
        return "synthetic"
    return "real" if recorded == "real" else "unknown"


def _rates(achieved: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in achieved.get("rates") or []:
        entry = achieved.get(name)
        if isinstance(entry, dict):
            out[str(name)] = {k: entry.get(k) for k in ("value", "ci_low", "ci_high", "errors", "n")}
    for key, value in achieved.items():  # older, flat records: fpir, fpir_upper_95, bpcer_on_tuning_rows
        flat = isinstance(value, int | float) and not isinstance(value, bool)
        if key not in out and flat and _RATE_NAME.match(str(key)):
            out[str(key)] = {"value": value}
    return out


def threshold_table(policy: Policy) -> list[ThresholdRow]:
    """Every threshold of the policy, in file order, with what tuning recorded about it."""
    rows = []
    for check, cfg in policy.checks.items():
        for name, threshold in cfg.thresholds.items():
            achieved = dict(threshold.achieved or {})
            rules = policy.rules_reading(check, name)
            decision = "; ".join(
                f"{r.outcome.value} when score {r.when.score_op} {threshold.value:g} ({r.name})"
                for r in rules
            )
            supported = achieved.get("supported")
            origin = dict(threshold.origin)
            published = None
            if threshold.source_kind == "published":
                published = (
                    f"{origin.get('published_rule')} (similarity {origin.get('published_similarity')}); "
                    f"{origin.get('model')} on {origin.get('dataset')}; {origin.get('reported')}; "
                    f"{origin.get('reference')}"
                )
            table = threshold.extra.get("fpir_by_gallery_size")
            sources = threshold.extra.get("fpir_sources")
            rows.append(
                ThresholdRow(
                    check=check,
                    threshold=name,
                    value=threshold.value,
                    rules=[r.name for r in rules],
                    decision=decision or "no rule reads it",
                    target=threshold.target,
                    data=_data_kind(achieved, threshold.source),
                    counts={k: int(achieved[k]) for k in COUNTS if isinstance(achieved.get(k), int | float)},
                    rates=_rates(achieved),
                    supported=supported if isinstance(supported, bool) else None,
                    status=threshold.status,
                    source_kind=threshold.source_kind,
                    note=achieved.get("note"),
                    source=threshold.source,
                    tuned_at=threshold.tuned_at,
                    published=published,
                    reason=threshold.extra.get("reason"),
                    fpir_by_gallery_size=[dict(r) for r in table] if isinstance(table, list) else None,
                    fpir_sources=dict(sources) if isinstance(sources, dict) else None,
                )
            )
    return rows
