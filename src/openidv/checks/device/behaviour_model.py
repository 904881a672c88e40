"""The packaged bot-versus-human model (``behaviour-bot-v1``): two boosted-tree ensembles in one JSON file
(format ``openidv-trees-v1``), one over pointer features, one over key-timing features, evaluated in numpy
(``openidv.trees``). Registered in the model registry with its sha256, checked on first load; loading runs
no code (no pickle). ``openidv train bot`` writes a new file and prints its sha256; a maintainer copies it
into ``models/`` and updates ``SHA256`` here and the model card."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openidv.errors import ConfigurationError
from openidv.models import ModelSpec, model_path, packaged_model
from openidv.trees import Trees

MODEL_ID = "behaviour-bot-v1"
FORMAT = "openidv-trees-v1"
SHA256 = "b7b2d72272e376ee551e3a41807ad856ecf5bb074a4be7e440e47d2298bd00da"


def spec() -> ModelSpec:
    """The registry entry (registered on first use)."""
    return packaged_model(
        MODEL_ID,
        SHA256,
        "bot versus human from pointer trajectories (real Balabit humans vs SYNTHETIC "
        "bots) and key timings (SYNTHETIC only): gradient-boosted trees",
    )


@dataclass(frozen=True)
class BehaviourModel:
    pointer: Trees
    typing: Trees
    model_id: str

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> BehaviourModel:
        if (
            not isinstance(raw, dict)
            or raw.get("format") != FORMAT
            or "pointer" not in raw
            or "typing" not in raw
        ):
            raise ConfigurationError(f"{where}: not a {FORMAT} behaviour model (pointer and typing trees)")
        return cls(
            Trees.from_dict(raw["pointer"]), Trees.from_dict(raw["typing"]), str(raw.get("id", MODEL_ID))
        )


def read_model(path: Path) -> BehaviourModel:
    """A model file without the sha256 check (for files just trained)."""
    return BehaviourModel.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))


@functools.cache
def load_model() -> BehaviourModel:
    """The packaged model, its sha256 checked by the registry (ConfigurationError when missing or changed)."""
    spec()
    return read_model(model_path(MODEL_ID))
