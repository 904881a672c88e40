"""Face embeddings behind one interface, with two real backends chosen by configuration.

- ``sface`` (default): SFace 2021dec int8 (OpenCV Zoo, Apache-2.0), 128-d, on the canonical 112x112
  ArcFace-template crop, run by OpenCV's ``FaceRecognizerSF``. About 13 ms per face on one CPU core.
  OpenCV's DNN runs this int8 graph with batch size 1 only (a batched forward returned wrong embeddings:
  cosine -0.01 to the single-image result), so a batch is a loop over faces.
- ``dlib``: dlib's ResNet-29 (CC0), 128-d, on a 150x150 chip aligned by dlib's 5-point landmark
  predictor inside the detector's box. About 80 ms per face; batched through dlib's own batch API.

Every embedding is L2-normalised ``float32``, so both backends compare by cosine, and a gallery of one
backend is an inner-product index. ``similarity`` maps the cosine to 0..1 as ``(1 + cos) / 2`` (a rescaled
cosine, not a probability). Embeddings of different backends are never comparable; each template
records its backend.

Sessions come from bounded pools (``openidv.models.session_pool``), so any number of threads may embed
at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from openidv.checks.face.align import align_arcface
from openidv.checks.face.detect import DetectedFace
from openidv.errors import ConfigurationError
from openidv.imageio import Image, UInt8Array
from openidv.models import DLIB_RESNET, DLIB_SHAPE5, SFACE, SessionPool, model_path, session_pool
from openidv.onnx_wire import strip_dangling_inputs

F32Array = npt.NDArray[np.float32]

BACKENDS = ("sface", "dlib")
DEFAULT_BACKEND = "sface"
EMBEDDING_DIM = 128


class Embedder(Protocol):
    """Turns detected faces into L2-normalised embeddings."""

    backend: str
    model_id: str
    dim: int

    def chip(self, image: Image, face: DetectedFace) -> UInt8Array:
        """The aligned face crop this model expects."""
        ...

    def embed_chips(self, chips: Sequence[UInt8Array]) -> F32Array:
        """``(n, dim)`` L2-normalised embeddings, one row per chip."""
        ...


def _normalise(rows: npt.NDArray[Any]) -> F32Array:
    arr = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: F32Array = (arr / norms).astype(np.float32)
    return out


class SFaceEmbedder:
    backend = "sface"
    model_id = SFACE.id
    dim = EMBEDDING_DIM

    def _pool(self) -> SessionPool[Any]:
        return session_pool(self.model_id, self._load)

    def _load(self) -> Any:
        """From the verified file, without its dangling graph inputs (``openidv.onnx_wire``): OpenCV 5
        refuses the file as shipped; the weights and nodes are unchanged."""
        model = np.frombuffer(_sface_graph(self.model_id), dtype=np.uint8)
        return cv2.FaceRecognizerSF.create("onnx", model, np.zeros(0, dtype=np.uint8))

    def chip(self, image: Image, face: DetectedFace) -> UInt8Array:
        crop, _ = align_arcface(image, face.landmarks)
        return crop

    def embed_chips(self, chips: Sequence[UInt8Array]) -> F32Array:
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._pool().session() as session:
            rows = [np.asarray(session.feature(c)).reshape(-1) for c in chips]
        return _normalise(np.stack(rows))


class DlibEmbedder:
    backend = "dlib"
    model_id = DLIB_RESNET.id
    dim = EMBEDDING_DIM
    chip_size = 150
    chip_padding = 0.25

    def _dlib(self) -> Any:
        try:
            import dlib  # type: ignore[import-untyped]
        except ImportError:  # pragma: no cover - dlib-bin is a dependency
            raise ConfigurationError(
                "the dlib backend needs dlib-bin (pip install 'dlib-bin==20.0.1.post1')"
            ) from None
        return dlib

    def _shape_pool(self) -> SessionPool[Any]:
        dlib = self._dlib()
        return session_pool(DLIB_SHAPE5.id, lambda: dlib.shape_predictor(str(model_path(DLIB_SHAPE5.id))))

    def _net_pool(self) -> SessionPool[Any]:
        dlib = self._dlib()
        return session_pool(
            self.model_id, lambda: dlib.face_recognition_model_v1(str(model_path(self.model_id)))
        )

    def chip(self, image: Image, face: DetectedFace) -> UInt8Array:
        dlib = self._dlib()
        x, y, w, h = face.box
        rect = dlib.rectangle(round(x), round(y), round(x + w), round(y + h))
        rgb = image.rgb
        with self._shape_pool().session() as predictor:
            shape = predictor(rgb, rect)
        chip: UInt8Array = np.asarray(
            dlib.get_face_chip(rgb, shape, size=self.chip_size, padding=self.chip_padding), dtype=np.uint8
        )
        return chip  # RGB, as dlib's network expects

    def embed_chips(self, chips: Sequence[UInt8Array]) -> F32Array:
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._net_pool().session() as net:
            if len(chips) == 1:
                return _normalise(np.asarray([net.compute_face_descriptor(chips[0])]))
            return _normalise(np.asarray(net.compute_face_descriptor(list(chips))))


@cache
def _sface_graph(model_id: str) -> bytes:
    return strip_dangling_inputs(model_path(model_id).read_bytes())


@cache
def get_embedder(backend: str = DEFAULT_BACKEND) -> Embedder:
    """The embedder for a backend name (``sface`` or ``dlib``)."""
    if backend == "sface":
        return SFaceEmbedder()
    if backend == "dlib":
        return DlibEmbedder()
    raise ConfigurationError(
        f"unknown face embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}"
    )


def cosine(a: F32Array, b: F32Array) -> float:
    return float(np.clip(np.dot(a.reshape(-1), b.reshape(-1)), -1.0, 1.0))


def similarity_from_cosine(cos: float) -> float:
    """Map a cosine in [-1, 1] to the 0..1 similarity score that results carry."""
    return float(np.clip((1.0 + cos) / 2.0, 0.0, 1.0))


def cosine_from_similarity(similarity: float) -> float:
    return 2.0 * similarity - 1.0
