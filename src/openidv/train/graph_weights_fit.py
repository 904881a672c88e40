"""Learning ``weight(kind, degree)`` from training populations (issue 13 point 3: hubs by a learned weight).

For every identifier held by 2..``hub_cap`` accounts, the share of its holder pairs that belong together
(the same group of the synthetic population: one person with a second account, a household, an office, a
dorm, or one ring). Averaged per kind and log-degree bucket (each identifier one observation), shrunk
towards the kind's mean (``PRIOR`` pseudo-identifiers, so a bucket seen a handful of times is not trusted
alone), then made non-increasing in degree by isotonic regression: an identifier cannot become *more*
telling by being shared more. Past the largest degree seen in training the weight halves per doubling.
Carrier NAT addresses, kiosks, offices and dorms get low weights because the data shows their holders are
mostly unrelated, not because a list says so.

Why "belong together" and not "same fraud ring": the link weight decides which accounts are *related*;
whether a related group is a fraud ring is the model's question (``openidv.services.graph_scoring``). A
weight that only counted rings would cut a person's honest second account from its first and, worse,
cut the face-reuse and document-reuse rings whose identifiers innocent second accounts also share.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from openidv.services.graph_weights import LearnedWeights, degree_bucket, kind_of
from openidv.train.graph_eval import LabelledGraph

#: pseudo-identifiers of the prior (the kind's mean) in each bucket
PRIOR = 5.0
#: buckets learned: degree 2 .. 1023 (the default hub cap is 1,000)
BUCKETS = 9


def pair_statistics(pops: Sequence[LabelledGraph], hub_cap: int = 1000) -> dict[tuple[str, int], list[float]]:
    """(kind, bucket) -> [identifiers, sum of their same-group pair shares, holder pairs]."""
    stats: dict[tuple[str, int], list[float]] = {}
    for pop in pops:
        group = dict(zip(pop.accounts, pop.group, strict=True))
        for key, holders in pop.graph.identifiers().items():
            d = len(holders)
            if d < 2 or d > hub_cap:
                continue
            pairs = d * (d - 1) / 2
            together = sum(c * (c - 1) / 2 for c in Counter(group[a] for a in holders).values())
            cell = stats.setdefault((kind_of(key), min(degree_bucket(d), BUCKETS)), [0.0, 0.0, 0.0])
            cell[0] += 1
            cell[1] += together / pairs
            cell[2] += pairs
    return stats


def fit_weights(pops: Sequence[LabelledGraph], hub_cap: int = 1000) -> tuple[LearnedWeights, dict[str, Any]]:
    """The learned weights and a report (per kind and bucket: identifiers seen, raw share, learned weight)."""
    from sklearn.isotonic import IsotonicRegression  # type: ignore[import-untyped]

    stats = pair_statistics(pops, hub_cap)
    kinds = sorted({k for k, _ in stats})
    rows: list[tuple[float, ...]] = []
    report: dict[str, Any] = {}
    for kind in kinds:
        cells = {b: stats[(kind, b)] for b in range(1, BUCKETS + 1) if (kind, b) in stats}
        n_all = sum(c[0] for c in cells.values())
        prior = sum(c[1] for c in cells.values()) / n_all
        seen = sorted(cells)
        x = np.array(seen, dtype=np.float64)
        y = np.array([(cells[b][1] + PRIOR * prior) / (cells[b][0] + PRIOR) for b in seen])
        w = np.array([cells[b][0] + PRIOR for b in seen])
        fitted = IsotonicRegression(increasing=False, y_min=0.0, y_max=1.0).fit(x, y, sample_weight=w)
        smooth = fitted.predict(x)
        row = []
        for b in range(1, BUCKETS + 1):
            # a bucket between seen ones takes the nearest seen one below it; past the largest degree seen
            # the weight halves per doubling of degree (one group among d holders: ~1/d), since a degree
            # never seen in training earns no trust
            below = [i for i, s in enumerate(seen) if s <= b]
            value = float(smooth[below[-1] if below else 0])
            if b > seen[-1]:
                value = float(smooth[-1]) * 0.5 ** (b - seen[-1])
            row.append(round(value, 4))
        rows.append(tuple(row))
        report[kind] = {
            str(b): {
                "degrees": f"{2**b}-{2 ** (b + 1) - 1}" if b > 1 else "2-3",
                "identifiers": int(cells[b][0]) if b in cells else 0,
                "raw_share_together": round(cells[b][1] / cells[b][0], 4) if b in cells else None,
                "weight": row[b - 1],
            }
            for b in range(1, BUCKETS + 1)
        }
    return LearnedWeights(tuple(kinds), tuple(rows)), report
