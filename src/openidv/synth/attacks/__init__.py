"""Simulated presentation attacks and deepfakes rendered from real bona fide faces (``synth attacks``).

Species: ``print`` (printed photo), ``screen_replay`` (face on a display), ``mask`` (paper cut-out mask),
``deepfake`` (face swap). Bona fide samples pass through the same simulated camera. These are simulations:
a model trained on them has not seen a real attack, and its numbers say so (docs/liveness.md).
"""

from openidv.synth.attacks.dataset import (
    BONA_FIDE,
    DEEPFAKE,
    MASK,
    PRESENTATION_SPECIES,
    PRINT,
    SCREEN,
    SPECIES,
    generate,
)

__all__ = ["BONA_FIDE", "DEEPFAKE", "MASK", "PRESENTATION_SPECIES", "PRINT", "SCREEN", "SPECIES", "generate"]
