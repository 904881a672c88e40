"""MediaPipe's face pose matrix, recomputed: weighted Procrustes of the landmarks on the canonical face.

Active liveness's turn and look-up thresholds were tuned on the matrix MediaPipe's geometry pipeline
outputs, so this follows that pipeline step for step (perspective camera with a 63 degree vertical field of
view, origin at the top-left corner, two scale-estimation passes, then the final weighted orthogonal
Procrustes fit) rather than a generic solvePnP, whose angles would sit on a different scale. The canonical
face and the per-landmark weights come from ``geometry_pipeline_metadata_landmarks.binarypb`` inside the
same ``face_landmarker.task``.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

_VERTICAL_FOV_DEGREES = 63.0
_NEAR = 1.0
_VERTEX_FLOATS = 5  # VERTEX_PT: x, y, z, u, v


@dataclass(frozen=True)
class CanonicalFace:
    """Canonical metric landmarks (3 x 478) and the Procrustes weight of each landmark (478)."""

    points: np.ndarray
    weights: np.ndarray


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of one protobuf message: enough for the metadata's three messages."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def _float(bits: int) -> float:
    return float(struct.unpack("<f", bits.to_bytes(4, "little"))[0])


def parse_metadata(blob: bytes) -> CanonicalFace:
    """Canonical face from MediaPipe's GeometryPipelineMetadata (1: mesh, 2: weighted landmark refs)."""
    weights: dict[int, float] = {}
    vertices: list[float] = []
    for number, _, value in _fields(blob):
        if number == 2 and isinstance(value, bytes):
            ref = {n: v for n, _, v in _fields(value)}
            landmark, bits = ref.get(1, 0), ref.get(2, 0)
            assert isinstance(landmark, int) and isinstance(bits, int)
            weights[landmark] = _float(bits)
        elif number == 1 and isinstance(value, bytes):
            for n, wire, v in _fields(value):
                if n == 3 and wire == 2 and isinstance(v, bytes):  # packed floats
                    vertices.extend(struct.unpack(f"<{len(v) // 4}f", v))
                elif n == 3 and wire == 5 and isinstance(v, int):
                    vertices.append(_float(v))
    mesh = np.asarray(vertices, dtype=np.float64).reshape(-1, _VERTEX_FLOATS)[:, :3]
    w = np.zeros(len(mesh), dtype=np.float64)
    for landmark, weight in weights.items():
        w[landmark] = weight
    return CanonicalFace(points=mesh.T.copy(), weights=w)


def procrustes(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """4x4 similarity transform (scale x rotation, translation) taking ``source`` (3 x N) onto ``target``."""
    sqrt_w = np.sqrt(weights)
    ws = source * sqrt_w
    wt = target * sqrt_w
    total = float(np.sum(weights))
    centre = (ws * sqrt_w).sum(axis=1) / total
    centred = ws - np.outer(centre, sqrt_w)
    u, _, vt = np.linalg.svd(wt @ centred.T)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        u[:, 2] *= -1.0
    rotation = u @ vt
    scale = float(np.sum((rotation @ centred) * wt) / np.sum(centred * ws))
    rs = scale * rotation
    translation = ((wt - rs @ ws) * sqrt_w).sum(axis=1) / total
    out = np.eye(4)
    out[:3, :3] = rs
    out[:3, 3] = translation
    return out


def pose_matrix(landmarks: np.ndarray, width: int, height: int, face: CanonicalFace) -> np.ndarray:
    """MediaPipe's facial transformation matrix from normalised (x, y, z) landmarks of one frame.

    The canonical mesh has 468 points: the 10 iris points (468-477) take no part, as in MediaPipe.
    """
    height_at_near = 2.0 * _NEAR * math.tan(0.5 * math.radians(_VERTICAL_FOV_DEGREES))
    width_at_near = width * height_at_near / height
    screen = np.asarray(landmarks, dtype=np.float64)[: face.points.shape[1]].T.copy()
    screen[1] = 1.0 - screen[1]  # origin at the top-left corner
    screen *= np.array([[width_at_near], [height_at_near], [width_at_near]])
    screen[0] -= 0.5 * width_at_near
    screen[1] -= 0.5 * height_at_near
    depth_offset = float(screen[2].mean())

    def scale_of(points: np.ndarray) -> float:
        return float(np.linalg.norm(procrustes(face.points, points, face.weights)[:3, 0]))

    def unproject(scale: float) -> np.ndarray:
        out = screen.copy()
        out[2] = (out[2] - depth_offset + _NEAR) / scale
        out[0] = out[0] * out[2] / _NEAR
        out[1] = out[1] * out[2] / _NEAR
        out[2] *= -1.0
        return out

    first = screen.copy()
    first[2] *= -1.0
    first_scale = scale_of(first)
    second_scale = scale_of(unproject(first_scale))
    return procrustes(face.points, unproject(first_scale * second_scale), face.weights)
