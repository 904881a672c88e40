"""The ring model's artifact: one JSON file (``openidv-trees-v1``) with the learned hub weights and the trees.

Registered in the model registry like every shipped model: ``models/graph-ring-gbt-v1.json`` (the package
carries it as ``openidv/_models``, a link to ``models/``), its model card ``models/graph-ring-gbt-v1.yaml``,
and the sha256 below, checked on first load. ``openidv train graph`` writes a new artifact, card and report
into a folder and prints the sha256; a maintainer copies both files into ``models/`` and updates ``SHA256``,
so a changed file is never loaded silently. Plain JSON: loading it runs no code (no pickle).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from openidv.errors import ConfigurationError
from openidv.models import ModelSpec, model_path, packaged_model, sha256_file

MODEL_ID = "graph-ring-gbt-v1"
FORMAT = "openidv-trees-v1"
#: sha256 of the shipped artifact (updated by a maintainer after `openidv train graph`)
SHA256 = "f2a52579c521e13018c99e7b3d0d07cd8ed46617eaf7ec88d014c6867a7247ea"


def spec() -> ModelSpec:
    """The registry entry (registered on first use)."""
    return packaged_model(
        MODEL_ID,
        SHA256,
        "identity-graph ring model: learned hub weights + gradient-boosted trees over "
        "account, neighbourhood and ring features, trained on SYNTHETIC populations",
    )


def read_artifact(path: Path) -> dict[str, Any]:
    """Parse one artifact file (no sha256 check: for files just written, or checked by the caller)."""
    raw: Any = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ConfigurationError(f"{path}: not an {FORMAT} artifact")
    return raw


@functools.cache
def load_artifact() -> dict[str, Any]:
    """The packaged artifact, its sha256 checked by the registry (ConfigurationError when missing/changed)."""
    spec()
    return read_artifact(model_path(MODEL_ID))


def sha256_of(path: Path) -> str:
    return sha256_file(path)
