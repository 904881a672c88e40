"""The in-house document forgery model: a multinomial logistic regression over the measured signals
(``forensics.FEATURES``), trained by ``openidv train document-forensics`` on *synthetic* forgeries only.

The artifact is plain JSON (no pickle: loading it runs no code) at ``models/document-forensics.json`` beside
its model card ``models/document-forensics.yaml``; its sha256 is written into the card by the training
recipe and checked on load. ``$OPENIDV_MODELS_DIR`` points elsewhere.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from openidv.errors import ConfigurationError
from openidv.models import sha256_file

FloatArray = npt.NDArray[np.float64]
MODEL_ID = "document-forensics"
GENUINE = "genuine"


def models_dir() -> Path:
    """``$OPENIDV_MODELS_DIR``, else the repository's ``models/`` (a checkout, where training writes), else
    the copy an installed wheel carries as ``openidv/_models`` (a symlink to ``models/`` in the repository).
    """
    env = os.environ.get("OPENIDV_MODELS_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[4] / "models"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parents[2] / "_models"


def artifact_path(folder: Path | None = None, model_id: str = MODEL_ID) -> Path:
    return (folder or models_dir()) / f"{model_id}.json"


def card_path(folder: Path | None = None, model_id: str = MODEL_ID) -> Path:
    return (folder or models_dir()) / f"{model_id}.yaml"


def transform(values: FloatArray) -> FloatArray:
    """Signed log: the signals are ratios and energies spanning orders of magnitude."""
    return np.sign(values) * np.log1p(np.abs(values))


@dataclass(frozen=True)
class ForensicsModel:
    features: tuple[str, ...]
    classes: tuple[str, ...]
    mean: FloatArray
    scale: FloatArray
    coef: FloatArray  # classes x features
    intercept: FloatArray
    meta: dict[str, Any]
    model_id: str = MODEL_ID

    def probabilities(self, signals: dict[str, float]) -> dict[str, float]:
        x = np.array([float(signals.get(f, 0.0)) for f in self.features])
        z = (transform(x) - self.mean) / self.scale
        logits = self.coef @ z + self.intercept
        logits -= logits.max()
        p = np.exp(logits)
        p /= p.sum()
        return {c: round(float(v), 6) for c, v in zip(self.classes, p, strict=True)}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.model_id,
            "features": list(self.features),
            "classes": list(self.classes),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "meta": self.meta,
        }


def from_json(raw: dict[str, Any]) -> ForensicsModel:
    return ForensicsModel(
        features=tuple(raw["features"]),
        classes=tuple(raw["classes"]),
        mean=np.asarray(raw["mean"], dtype=np.float64),
        scale=np.asarray(raw["scale"], dtype=np.float64),
        coef=np.asarray(raw["coef"], dtype=np.float64),
        intercept=np.asarray(raw["intercept"], dtype=np.float64),
        meta=dict(raw.get("meta") or {}),
        model_id=str(raw.get("id") or MODEL_ID),
    )


@functools.cache
def load_model(folder: str | None = None, model_id: str = MODEL_ID) -> ForensicsModel:
    """The trained model, its sha256 checked against the model card; ConfigurationError when absent."""
    base = Path(folder) if folder else None
    path, card = artifact_path(base, model_id), card_path(base, model_id)
    if not path.is_file():
        raise ConfigurationError(f"model {model_id} not found at {path}; run `openidv train {model_id}`")
    if card.is_file():
        expected = (yaml.safe_load(card.read_text(encoding="utf-8")) or {}).get("sha256")
        actual = sha256_file(path)
        if expected and expected != actual:
            raise ConfigurationError(f"{path}: sha256 {actual} does not match its model card ({expected})")
    return from_json(json.loads(path.read_text(encoding="utf-8")))
