"""Small trained classifiers stored as plain JSON: standardisation + multinomial logistic regression.

Why JSON and not pickle/joblib: loading a pickle runs code chosen by whoever wrote the file, so a model file
would be an attack surface; a JSON file holds only numbers and names, is a few KB, diffable, and is checked
by sha256 through the model registry before use. Inference is a few lines of numpy, so scikit-learn is needed
only for training (``openidv.train.liveness_training.fit_linear``).

Why a linear model: with a few hundred simulated samples from a handful of real people, a linear model on
measured features generalises to unseen subjects and species more predictably than a tree ensemble, and its
weights can be read (see the model card's top features).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from openidv.errors import ConfigurationError

FORMAT = "openidv-linear-v1"
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LinearModel:
    """``p = softmax(W @ ((x - mean) / scale) + b)`` over ``classes``; ``classes[0]`` is bona fide."""

    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    mean: F64
    scale: F64
    coef: F64  # (n_classes, n_features)
    intercept: F64  # (n_classes,)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        k, d = len(self.classes), len(self.feature_names)
        if (
            self.coef.shape != (k, d)
            or self.intercept.shape != (k,)
            or self.mean.shape != (d,)
            or self.scale.shape != (d,)
        ):
            raise ConfigurationError(f"model shapes do not agree: {k} classes, {d} features")

    def probabilities(self, x: F64) -> F64:
        """Class probabilities for a feature matrix ``(n, d)`` (or one vector)."""
        arr = np.atleast_2d(np.asarray(x, dtype=np.float64))
        z = ((arr - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out: F64 = e / e.sum(axis=1, keepdims=True)
        return out

    def attack_score(self, x: F64) -> F64:
        """1 - P(bona fide): the ``attack`` score in 0..1."""
        out: F64 = 1.0 - self.probabilities(x)[:, 0]
        return out

    def to_json(self) -> str:
        payload = {
            "format": FORMAT,
            "classes": list(self.classes),
            "feature_names": list(self.feature_names),
            "mean": [float(f"{v:.8g}") for v in self.mean],
            "scale": [float(f"{v:.8g}") for v in self.scale],
            "coef": [[float(f"{v:.8g}") for v in row] for row in self.coef],
            "intercept": [float(f"{v:.8g}") for v in self.intercept],
            "meta": self.meta,
        }
        return json.dumps(payload, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "model") -> LinearModel:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ConfigurationError(f"{where}: not an {FORMAT} model file")
        try:
            return cls(
                classes=tuple(str(c) for c in raw["classes"]),
                feature_names=tuple(str(n) for n in raw["feature_names"]),
                mean=np.asarray(raw["mean"], dtype=np.float64),
                scale=np.asarray(raw["scale"], dtype=np.float64),
                coef=np.asarray(raw["coef"], dtype=np.float64),
                intercept=np.asarray(raw["intercept"], dtype=np.float64),
                meta=dict(raw.get("meta") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"{where}: malformed model file ({exc})") from None

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        return cls.from_json(path.read_text(encoding="utf-8"), str(path))
