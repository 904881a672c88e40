"""Gradient-boosted trees evaluated in numpy from plain JSON (format ``openidv-trees-v1``): no pickle.

The trees are scikit-learn's ``HistGradientBoostingClassifier`` exported by
``openidv.train.graph_trees_export`` node for node: a numeric split sends a value to the left child when
``x <= threshold``, a missing value (NaN) the way training chose; the raw score is the baseline plus each
tree's leaf value, added in tree order as scikit-learn adds them, then the logistic function (scipy's
``expit``, as scikit-learn). So the probabilities equal scikit-learn's bit for bit (tested), and loading
the model runs no code.

A base module (beside ``openidv.telemetry``), so checks may use it: the identity-graph ring model
(``openidv.services.graph_scoring``, which still imports it as ``openidv.services.graph_trees``) and the
behaviour check's bot model (``openidv.checks.device``) share one evaluator.

All trees are walked together, one depth level per numpy step, so one account costs about ``max_depth``
vector operations whatever the number of trees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Trees:
    """A boosted ensemble of binary trees, flattened: node arrays shared by all trees, ``roots`` per tree."""

    features: tuple[str, ...]
    baseline: float
    roots: IntArray
    feature: IntArray
    threshold: FloatArray
    missing_left: BoolArray
    left: IntArray
    right: IntArray
    value: FloatArray
    leaf: BoolArray
    depth: int

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Trees:
        feature: list[int] = []
        threshold: list[float] = []
        missing: list[bool] = []
        left: list[int] = []
        right: list[int] = []
        value: list[float] = []
        leaf: list[bool] = []
        roots: list[int] = []
        for tree in raw["trees"]:
            offset = len(feature)
            roots.append(offset)
            is_leaf = [bool(v) for v in tree["leaf"]]
            feature.extend(int(v) for v in tree["feature"])
            threshold.extend(float(v) for v in tree["threshold"])
            missing.extend(bool(v) for v in tree["missing_left"])
            # a leaf points at itself, so walking past it stays put
            left.extend(
                i + offset if lf else int(v) + offset
                for i, (v, lf) in enumerate(zip(tree["left"], is_leaf, strict=True))
            )
            right.extend(
                i + offset if lf else int(v) + offset
                for i, (v, lf) in enumerate(zip(tree["right"], is_leaf, strict=True))
            )
            value.extend(float(v) for v in tree["value"])
            leaf.extend(is_leaf)
        return cls(
            features=tuple(raw["features"]),
            baseline=float(raw["baseline"]),
            roots=np.array(roots, dtype=np.int64),
            feature=np.array(feature, dtype=np.int64),
            threshold=np.array(threshold, dtype=np.float64),
            missing_left=np.array(missing, dtype=bool),
            left=np.array(left, dtype=np.int64),
            right=np.array(right, dtype=np.int64),
            value=np.array(value, dtype=np.float64),
            leaf=np.array(leaf, dtype=bool),
            depth=int(raw["max_depth"]),
        )

    def raw(self, x: FloatArray) -> FloatArray:
        """Raw scores (log-odds) of rows ``x`` (shape ``(n, features)``)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != len(self.features):
            raise ValueError(f"expected {len(self.features)} features, got {x.shape[1]}")
        node = np.broadcast_to(self.roots, (x.shape[0], self.roots.shape[0])).copy()
        rows = np.arange(x.shape[0])[:, None]
        for _ in range(self.depth):
            values = x[rows, self.feature[node]]
            nan = np.isnan(values)
            go_left = np.where(nan, self.missing_left[node], values <= self.threshold[node])
            node = np.where(go_left, self.left[node], self.right[node])
        leaves = self.value[node]
        start = np.full((x.shape[0], 1), self.baseline)
        # sequential sums in tree order: the additions scikit-learn makes, in its order
        return np.asarray(np.add.accumulate(np.hstack([start, leaves]), axis=1)[:, -1], dtype=np.float64)

    def probability(self, x: FloatArray) -> FloatArray:
        """P(positive class) of rows ``x``: the logistic function of the raw score."""
        return np.asarray(expit(self.raw(x)), dtype=np.float64)
