"""SFace's dangling graph inputs are dropped in memory (OpenCV 5 refuses the file as shipped), and
nothing else in the file changes."""

from __future__ import annotations

import numpy as np
import pytest

from openidv.checks.face.embed import get_embedder
from openidv.errors import ConfigurationError
from openidv.models import SFACE, YUNET, model_path
from openidv.onnx_wire import graph_inputs, strip_dangling_inputs


def test_sface_keeps_only_its_image_input() -> None:
    shipped = model_path(SFACE.id).read_bytes()
    assert len(graph_inputs(shipped)) > 100  # every weight is listed as an input
    cleaned = strip_dangling_inputs(shipped)
    assert graph_inputs(cleaned) == ["data"]
    # only input entries were removed: the cleaned file is the shipped one minus those bytes
    assert 0 < len(shipped) - len(cleaned) < 20_000


def test_a_clean_model_is_returned_unchanged() -> None:
    yunet = model_path(YUNET.id).read_bytes()
    assert graph_inputs(yunet) == ["input"]
    assert strip_dangling_inputs(yunet) == yunet


@pytest.mark.parametrize("blob", [b"", b"\xff\xff\xff", b"\x3a\x05abc", b"\x0f"])
def test_bytes_that_are_not_onnx_are_refused(blob: bytes) -> None:
    with pytest.raises(ConfigurationError, match="not an ONNX model"):
        strip_dangling_inputs(blob)


def test_the_cleaned_sface_embeds_a_face_crop() -> None:
    rng = np.random.default_rng(0)
    chip = rng.integers(0, 255, (112, 112, 3), dtype=np.uint8)
    embedder = get_embedder("sface")
    vectors = embedder.embed_chips([chip, chip])
    assert vectors.shape == (2, 128)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[1])
