"""The liveness models in the model registry: JSON files shipped inside this package, checked by sha256.

``openidv train pad`` / ``openidv train deepfake`` write a new artifact and its model card to ``models/``;
``--install`` also copies the artifact here (``openidv/checks/liveness/weights/``) and prints its sha256,
which then replaces the value below, so a changed file is never loaded silently. Training is seeded, so
re-running it on the same machine reproduces the same file and hash.
"""

from __future__ import annotations

import functools
from pathlib import Path

from openidv.checks.liveness.model import LinearModel
from openidv.checks.liveness.params import DEEPFAKE_MODEL_ID, PAD_MODEL_ID, PAD_V1_MODEL_ID
from openidv.models import ModelSpec, get_model, model_path, register_model

PACKAGE = "openidv.checks.liveness"
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

#: sha256 of the shipped artifacts (updated by a maintainer after `openidv train ... --install`)
SHA256 = {
    PAD_V1_MODEL_ID: "b7b0da4909434555875604ac508467f3c7a67f9caff61658b8908fdbd0e969cb",
    PAD_MODEL_ID: "e695ed784bfe1960816669c65a9cce0da80136aaf042885c5e183137f143abd2",
    DEEPFAKE_MODEL_ID: "c8d3751b279d2b96b12df20988e102da7dbc71d46c39864abbdaca8d73f8428f",
}


def _register(model_id: str, what: str) -> ModelSpec:
    try:
        return get_model(model_id)
    except Exception:  # not yet registered in this process
        return register_model(
            ModelSpec(
                id=model_id,
                package=PACKAGE,
                resource=f"weights/{model_id}.json",
                sha256=SHA256[model_id],
                licence="Apache-2.0",
                distribution="openidv",
                card=f"models/{model_id}.yaml",
                description=what,
            )
        )


PAD_SPEC = _register(
    PAD_MODEL_ID,
    "passive presentation-attack detector: logistic fusion of the live-class logits of three backbones "
    "trained by others on REAL print/replay attacks (Silent-Face MiniFASNetV2 + V1SE, faceplugin "
    "fr_liveness), fusion weights fitted on SIMULATED attacks with leave-subjects-out evaluation",
)
PAD_V1_SPEC = _register(
    PAD_V1_MODEL_ID,
    "passive presentation-attack detector: colour LBP, spectrum, specular, sharpness features + multinomial "
    "logistic regression, trained on SIMULATED attacks (print, screen replay, paper mask)",
)
DEEPFAKE_SPEC = _register(
    DEEPFAKE_MODEL_ID,
    "face-swap artifact detector: boundary, colour and frequency mismatch features + logistic regression, "
    "trained on SIMULATED swaps",
)


@functools.cache
def load_model(model_id: str) -> LinearModel:
    """The registry's verified file for ``model_id``, parsed once per process."""
    return LinearModel.load(model_path(model_id))
