"""Find the document in a photo and rectify it to a flat, upright, fixed-resolution image.

The document is the largest convex, four-cornered region that stands out from its surroundings: an Otsu
split of the smoothed brightness first (documents are lighter than most surfaces they lie on), then edges
as a fallback. A photo that is the document itself (a flatbed scan, a crop) is recognised by its aspect
ratio when no region is found. The quadrilateral is warped to the ID-1 (85.6 x 54 mm) or TD3 (125 x 88 mm)
shape, whichever its sides fit, at ``PPMM`` pixels per millimetre. Upside-down documents are turned by
``orient`` (the header band is at the top on every template).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

UInt8Array = npt.NDArray[Any]  # OpenCV's stubs type every array loosely
FloatArray = npt.NDArray[Any]
PPMM = 10.0
FAMILIES = {"id1": (85.6, 54.0), "td3": (125.0, 88.0)}
WORK_SIDE = 800  # localisation runs on a copy at most this long
MIN_AREA_FRACTION = 0.08


@dataclass(frozen=True)
class Located:
    """A rectified document: BGR pixels, the family (``id1`` or ``td3``), and its corners in the photo."""

    image: UInt8Array
    family: str
    corners: FloatArray  # TL, TR, BR, BL in photo pixels
    method: str  # region | edges | whole
    rotated_180: bool = False
    area_fraction: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "family": self.family,
            "corners": [[round(float(x), 1), round(float(y), 1)] for x, y in self.corners],
            "method": self.method,
            "rotated_180": self.rotated_180,
            "area_fraction": round(self.area_fraction, 4),
        }


def order_corners(points: FloatArray) -> FloatArray:
    """TL, TR, BR, BL with the long side horizontal (a document photographed sideways is turned)."""
    pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # clockwise in image coordinates, starting anywhere
    start = int(np.argmin(pts.sum(axis=1)))
    pts = np.roll(pts, -start, axis=0)
    top = np.linalg.norm(pts[1] - pts[0]) + np.linalg.norm(pts[2] - pts[3])
    side = np.linalg.norm(pts[3] - pts[0]) + np.linalg.norm(pts[2] - pts[1])
    if side > top:
        pts = np.roll(pts, -1, axis=0)
    return pts


def _intersect(p1: FloatArray, p2: FloatArray, q1: FloatArray, q2: FloatArray) -> FloatArray | None:
    d1, d2 = p2 - p1, q2 - q1
    denom = d1[0] * d2[1] - d1[1] * d2[0]
    if abs(denom) < 1e-9:
        return None
    t = ((q1[0] - p1[0]) * d2[1] - (q1[1] - p1[1]) * d2[0]) / denom
    return np.asarray(p1 + t * d1, dtype=np.float64)


def _quad_from_contour(contour: npt.NDArray[Any]) -> FloatArray | None:
    """The four longest sides of the simplified hull, extended to meet: a corner cut off by glare or a dark
    header on a dark table is restored by its two sides' intersection."""
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    poly = cv2.approxPolyDP(hull, 0.008 * perimeter, True).reshape(-1, 2).astype(np.float64)
    if len(poly) < 4:
        return None
    if len(poly) == 4:
        return poly
    edges = [(poly[i], poly[(i + 1) % len(poly)]) for i in range(len(poly))]
    lengths = [float(np.linalg.norm(b - a)) for a, b in edges]
    keep = sorted(np.argsort(lengths)[-4:])
    corners = []
    for i in range(4):
        a1, a2 = edges[keep[i]]
        b1, b2 = edges[keep[(i + 1) % 4]]
        point = _intersect(a1, a2, b1, b2)
        if point is None:
            return None
        corners.append(point)
    quad = np.array(corners)
    if cv2.contourArea(quad.astype(np.float32)) > 1.3 * cv2.contourArea(hull):
        return cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float64)
    return quad


def _best_quad(mask: UInt8Array) -> tuple[FloatArray, float] | None:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    total = mask.shape[0] * mask.shape[1]
    best: tuple[FloatArray, float] | None = None
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:3]:
        area = cv2.contourArea(contour)
        if area < MIN_AREA_FRACTION * total:
            break
        quad = _quad_from_contour(contour)
        if quad is None:
            continue
        quad_area = cv2.contourArea(quad.astype(np.float32))
        solidity = area / max(1.0, quad_area)
        touches = (
            (quad.min() < 2)
            or (quad[:, 0].max() > mask.shape[1] - 3)
            or (quad[:, 1].max() > mask.shape[0] - 3)
        )
        if solidity > 0.85 and not touches and _plausible(quad):
            best = (quad, area / total)
            break
    return best


def _plausible(quad: FloatArray) -> bool:
    """A document's sides have a ratio between a square and ~1.9:1 (ID-1 is 1.59, TD3 1.42)."""
    q = order_corners(quad)
    top = (np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2
    side = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
    return bool(side > 0 and 1.15 < top / side < 1.95)


def _background_distance(small: UInt8Array) -> UInt8Array:
    """Pixels unlike the frame's border (the surface the document lies on), as a 0/255 mask."""
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (0, 0), 3), cv2.COLOR_BGR2LAB).astype(np.float64)
    h, w = lab.shape[:2]
    k = max(2, int(0.04 * min(h, w)))
    border = np.concatenate(
        [
            lab[:k].reshape(-1, 3),
            lab[-k:].reshape(-1, 3),
            lab[:, :k].reshape(-1, 3),
            lab[:, -k:].reshape(-1, 3),
        ]
    )
    mean = border.mean(axis=0)
    cov = np.cov(border.T) + np.eye(3) * 4.0
    diff = lab.reshape(-1, 3) - mean
    dist = np.sqrt(np.einsum("ij,jk,ik->i", diff, np.linalg.inv(cov), diff)).reshape(h, w)
    return np.asarray((dist > 4.5) * 255, dtype=np.uint8)


def find_document(bgr: UInt8Array) -> Located | None:
    """Locate and rectify the document, or None when the photo holds no document-like region."""
    h, w = bgr.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(bgr, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    blurred = cv2.GaussianBlur(grey, (0, 0), 3)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
    found: tuple[FloatArray, float] | None = None
    method = "region"
    if blurred.std() > 8:
        _, bright = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        mask = cv2.bitwise_or(bright, _background_distance(small))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=2)
        found = _best_quad(mask)
    if found is None:
        method = "edges"
        edges = cv2.Canny(blurred, 20, 60)
        edges = cv2.dilate(edges, kernel)
        filled = np.zeros_like(edges)
        contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(filled, contours, -1, 255, thickness=cv2.FILLED)
        found = _best_quad(cv2.erode(filled, kernel))
    if found is None:
        return _whole_image(bgr)
    quad, fraction = found
    corners = order_corners(quad / scale)
    return rectify(bgr, corners, method, fraction)


def _family(corners: FloatArray) -> str:
    top = float(np.linalg.norm(corners[1] - corners[0]) + np.linalg.norm(corners[2] - corners[3])) / 2
    side = float(np.linalg.norm(corners[3] - corners[0]) + np.linalg.norm(corners[2] - corners[1])) / 2
    ratio = top / max(1e-6, side)
    return "td3" if ratio < 1.5 else "id1"


def rectify(
    bgr: UInt8Array, corners: FloatArray, method: str, fraction: float, family: str | None = None
) -> Located:
    """Warp the quadrilateral to a family's shape (guessed from the sides' ratio when not given)."""
    family = family or _family(corners)
    width_mm, height_mm = FAMILIES[family]
    out_w, out_h = round(width_mm * PPMM), round(height_mm * PPMM)
    dst = np.array([[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), dst)
    flat = cv2.warpPerspective(bgr, matrix, (out_w, out_h), flags=cv2.INTER_AREA)
    return Located(flat, family, corners, method, area_fraction=fraction)


def _whole_image(bgr: UInt8Array) -> Located | None:
    """A scan or a tight crop: the photo is the document when its shape is a document's."""
    h, w = bgr.shape[:2]
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float64)
    ordered = order_corners(corners)
    if not _plausible(ordered) or min(h, w) < 200:
        return None
    if np.std(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)) < 10:  # a blank frame is not a document
        return None
    return rectify(bgr, ordered, "whole", 1.0)


def orient(located: Located) -> Located:
    """Turn the document upright: every template has its dark header band at the top."""
    grey = cv2.cvtColor(located.image, cv2.COLOR_BGR2GRAY).astype(np.float64)
    band = max(4, grey.shape[0] // 12)
    top, bottom = grey[:band].mean(), grey[-band:].mean()
    if bottom + 25 < top:
        return Located(
            np.ascontiguousarray(located.image[::-1, ::-1]),
            located.family,
            np.roll(located.corners, 2, axis=0),
            located.method,
            rotated_180=True,
            area_fraction=located.area_fraction,
        )
    return located


def turned(located: Located) -> Located:
    """The same document turned by 180 degrees (a second try when the first orientation reads nothing)."""
    return Located(
        np.ascontiguousarray(located.image[::-1, ::-1]),
        located.family,
        np.roll(located.corners, 2, axis=0),
        located.method,
        rotated_180=not located.rotated_180,
        area_fraction=located.area_fraction,
    )
