"""Passive PAD backbones trained by others on REAL print and replay attacks, run with onnxruntime.

Three small networks, each shipped in ``weights/`` as ONNX, registered with its sha256 and licence in the
model registry (checked before the first load; no network at run time):

| id | source | input | live class |
|---|---|---|---|
| ``silent-face-minifasnet-v2`` | Silent-Face (Minivision), Apache-2.0; converted from PyTorch by
  ``scripts/convert_silent_face.py`` | face box scaled 2.7x, 80x80 | softmax index 1 |
| ``silent-face-minifasnet-v1se`` | the same, MiniFASNetV1SE | face box scaled 4.0x, 80x80 | softmax index 1 |
| ``faceplugin-fr-liveness`` | ``model/fr_liveness.onnx`` of the npm package
  ``faceplugin-face-recognition-js@0.0.1``, MIT, unchanged | face box scaled 2.7x, 128x128 | softmax index 0 |

Preprocessing is the upstream one (Silent-Face ``src/generate_patches.py`` ``CropImage`` and ``src/data_io/
functional.py`` ``to_tensor``; the package's ``lib/fr_liveness.js``): the face box is scaled around its centre
(less when the image is too small), shifted back inside the image, cropped, resized with bilinear
interpolation; BGR, values 0-255 as float32, NCHW. The box is our YuNet box (upstream used other detectors;
docs/liveness.md gives the measured sensitivity to the box).

Each backbone yields ``P(live)``, the softmax probability of its live class. The upstream Silent-Face
predictor sums the softmax of its two networks and calls the face real when class 1 wins; ``silent_face_live``
is that mean ``P(live)``.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from openidv.checks.face.detect import DetectedFace
from openidv.imageio import Image
from openidv.models import ModelSpec, get_model, model_path, register_model

PACKAGE = "openidv.checks.liveness"
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Backbone:
    """One network: its registry entry, its crop and its live class."""

    id: str
    short: str  # the name in results' details and fusion features
    sha256: str
    licence: str
    crop_scale: float
    size: int
    live_index: int
    description: str


BACKBONES: tuple[Backbone, ...] = (
    Backbone(
        id="silent-face-minifasnet-v2",
        short="minifasnet_v2",
        sha256="762faed826750ee8fcc0df5b0e0061cc6330c1e8b553ee941a1ab567c09d4a15",
        licence="Apache-2.0",
        crop_scale=2.7,
        size=80,
        live_index=1,
        description="Silent-Face MiniFASNetV2 passive PAD (trained by Minivision on real print/replay "
        "attacks), face box x2.7, 80x80 BGR 0-255; ONNX converted from the published PyTorch weights",
    ),
    Backbone(
        id="silent-face-minifasnet-v1se",
        short="minifasnet_v1se",
        sha256="724702b05dbad3714dc8fc4981064f8d98a4c51b7812826927d4819a7efe26d0",
        licence="Apache-2.0",
        crop_scale=4.0,
        size=80,
        live_index=1,
        description="Silent-Face MiniFASNetV1SE passive PAD (trained by Minivision on real print/replay "
        "attacks), face box x4.0, 80x80 BGR 0-255; ONNX converted from the published PyTorch weights",
    ),
    Backbone(
        id="faceplugin-fr-liveness",
        short="fr_liveness",
        sha256="afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d",
        licence="MIT",
        crop_scale=2.7,
        size=128,
        live_index=0,
        description="fr_liveness.onnx from the npm package faceplugin-face-recognition-js@0.0.1 (MIT; "
        "training data undocumented), face box x2.7, 128x128 BGR 0-255",
    ),
)
BY_SHORT = {b.short: b for b in BACKBONES}


def _register(b: Backbone) -> ModelSpec:
    try:
        return get_model(b.id)
    except Exception:  # not yet registered in this process
        return register_model(
            ModelSpec(
                id=b.id,
                package=PACKAGE,
                resource=f"weights/{b.id}.onnx",
                sha256=b.sha256,
                licence=b.licence,
                distribution="openidv",
                card=f"models/{b.id}.yaml",
                description=b.description,
            )
        )


SPECS = {b.id: _register(b) for b in BACKBONES}


def crop_box(
    width: int, height: int, box: tuple[float, float, float, float], scale: float
) -> tuple[int, int, int, int]:
    """Upstream crop: the box scaled by ``scale`` around its centre (by less when it would not fit), shifted
    back inside the image; ``(x0, y0, x1, y1)`` inclusive, as Silent-Face's ``CropImage._get_new_box``."""
    x, y, bw, bh = box
    bw, bh = max(bw, 1.0), max(bh, 1.0)
    scale = min((height - 1) / bh, (width - 1) / bw, scale)
    nw, nh = bw * scale, bh * scale
    cx, cy = x + bw / 2, y + bh / 2
    x0, y0, x1, y1 = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
    if x0 < 0:
        x1, x0 = x1 - x0, 0.0
    if y0 < 0:
        y1, y0 = y1 - y0, 0.0
    if x1 > width - 1:
        x0, x1 = x0 - (x1 - width + 1), float(width - 1)
    if y1 > height - 1:
        y0, y1 = y0 - (y1 - height + 1), float(height - 1)
    return max(int(x0), 0), max(int(y0), 0), int(x1), int(y1)


def backbone_input(bgr: npt.NDArray[np.uint8], box: tuple[float, float, float, float], b: Backbone) -> F32:
    """The ``(1, 3, size, size)`` float32 BGR 0-255 tensor for one backbone."""
    h, w = bgr.shape[:2]
    x0, y0, x1, y1 = crop_box(w, h, box, b.crop_scale)
    crop = cv2.resize(bgr[y0 : y1 + 1, x0 : x1 + 1], (b.size, b.size), interpolation=cv2.INTER_LINEAR)
    out: F32 = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32)
    return out


_session_lock = threading.Lock()


@functools.cache
def _session_for(model_id: str) -> Any:
    import onnxruntime as ort  # type: ignore[import-untyped]

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # tiny networks: one thread each; concurrent checks use the other cores
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model_path(model_id)), options, providers=["CPUExecutionProvider"])


def session(model_id: str) -> Any:
    """The process-wide onnxruntime session of a registered backbone (``run`` is thread-safe)."""
    with _session_lock:
        return _session_for(model_id)


def softmax(logits: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: npt.NDArray[np.float64] = e / e.sum(axis=-1, keepdims=True)
    return out


def logits(b: Backbone, x: F32) -> npt.NDArray[np.float32]:
    sess = session(b.id)
    out: npt.NDArray[np.float32] = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    return out


def backbone_live(image: Image, face: DetectedFace) -> dict[str, float]:
    """``P(live)`` of every backbone for one face, computed once per image and face."""

    def compute() -> dict[str, float]:
        out: dict[str, float] = {}
        for b in BACKBONES:
            probs = softmax(logits(b, backbone_input(image.bgr, face.box, b)))[0]
            out[b.short] = float(probs[b.live_index])
        return out

    return image.memo(("liveness.backbones", face), compute)


def silent_face_live(live: dict[str, float]) -> float:
    """The upstream Silent-Face reading: the mean ``P(real)`` of its two networks."""
    return (live["minifasnet_v2"] + live["minifasnet_v1se"]) / 2
