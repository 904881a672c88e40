"""Export a fitted scikit-learn ``HistGradientBoostingClassifier`` to the ``openidv-trees-v1`` JSON trees
that ``openidv.services.graph_trees.Trees`` evaluates in numpy.

Reads the fitted predictors (``_predictors``, ``_baseline_prediction``): private attributes of the pinned
scikit-learn (1.9.1), so a test checks that the exported trees reproduce ``predict_proba`` exactly, and the
export refuses what it does not understand (categorical splits, several trees per iteration).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_BIG = float(np.finfo(np.float64).max)


def export_trees(model: Any, features: tuple[str, ...]) -> dict[str, Any]:
    """A fitted ``HistGradientBoostingClassifier``'s trees as JSON-able lists, baseline, feature names."""
    predictors: list[list[Any]] = model._predictors
    if any(len(iteration) != 1 for iteration in predictors):
        raise ValueError("only binary classifiers (one tree per iteration) are exported")
    if model.n_features_in_ != len(features):
        raise ValueError("feature names do not match the model")
    trees = []
    depth = 0
    for (predictor,) in predictors:
        nodes = predictor.nodes
        if np.any(nodes["is_categorical"]):
            raise ValueError("categorical splits are not exported")
        leaf = nodes["is_leaf"].astype(bool)
        # a split of "every value left, missing right" has threshold +inf; strict JSON has no infinity, and
        # the largest float sends every finite value the same way (features are finite or NaN)
        threshold = np.clip(np.where(leaf, 0.0, nodes["num_threshold"]), -_BIG, _BIG)
        if np.any(np.isnan(threshold)):
            raise ValueError("a split threshold is NaN")
        depth = max(depth, int(nodes["depth"].max()))
        trees.append(
            {
                "feature": [
                    int(v) if not lf else 0 for v, lf in zip(nodes["feature_idx"], leaf, strict=True)
                ],
                "threshold": [float(v) for v in threshold],
                "missing_left": [int(v) for v in nodes["missing_go_to_left"]],
                "left": [int(v) for v in nodes["left"]],
                "right": [int(v) for v in nodes["right"]],
                "value": [float(v) if lf else 0.0 for v, lf in zip(nodes["value"], leaf, strict=True)],
                "leaf": [int(v) for v in leaf],
            }
        )
    return {
        "features": list(features),
        "baseline": float(np.asarray(model._baseline_prediction).ravel()[0]),
        "link": "logistic",
        "max_depth": depth,
        "trees": trees,
    }
