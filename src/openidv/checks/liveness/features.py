"""Measured texture, colour and frequency features of a face, for the PAD and deepfake models.

Each family answers a physical question:
- colour LBP (rotation-invariant uniform, radii 1 and 2) in HSV and YCrCb: does the micro-texture look like
  skin under a camera, or like paper fibres, halftone dots or display pixels? (Boulkenafet et al. 2016);
- spectrum: are there isolated peaks (periodic halftone screens, subpixel grids, moire) and how is energy
  spread over frequency bands?
- specular highlights: glossy paper and glass make broad, desaturated highlights; skin makes small ones;
- sharpness and noise: re-captured media lose detail and change the noise, and a pasted face differs from
  the head around it;
- colour moments: prints shrink the gamut (raised blacks, lower saturation), displays shift the white point;
- straight lines: paper edges and bezels are long straight edges that faces and rooms rarely have there.
Inner-face versus surrounding-ring contrasts catch masks and face swaps, which change only the face.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import numpy.typing as npt

from openidv.checks.liveness.regions import F64, FaceRegions

LBP_BINS = 10  # riu2 with 8 neighbours: 9 uniform codes + 1 for the rest
SPECTRUM_BANDS = 8


def lbp_riu2(
    channel: npt.NDArray[np.floating] | npt.NDArray[np.uint8], radius: int, mask: npt.NDArray[np.bool_] | None
) -> F64:
    """Normalised histogram of rotation-invariant uniform LBP codes (P=8) over ``mask``."""
    img = np.asarray(channel, dtype=np.float32)
    r = radius
    centre = img[r:-r, r:-r]
    h, w = centre.shape
    offsets = ((0, r), (r, r), (r, 0), (r, -r), (0, -r), (-r, -r), (-r, 0), (-r, r))
    bits = [img[r + dy : r + dy + h, r + dx : r + dx + w] >= centre for dy, dx in offsets]
    ones = np.zeros((h, w), dtype=np.int32)
    transitions = np.zeros((h, w), dtype=np.int32)
    for i, b in enumerate(bits):
        ones += b
        transitions += b != bits[(i + 1) % 8]
    codes = np.where(transitions <= 2, ones, 9)
    sel = codes if mask is None else codes[mask[r:-r, r:-r]]
    hist = np.bincount(sel.reshape(-1), minlength=LBP_BINS)[:LBP_BINS].astype(np.float64)
    total = hist.sum()
    out: F64 = hist / total if total > 0 else hist
    return out


def colour_lbp(reg: FaceRegions) -> tuple[F64, list[str]]:
    hsv = cv2.cvtColor(reg.patch, cv2.COLOR_BGR2HSV)
    ycc = cv2.cvtColor(reg.patch, cv2.COLOR_BGR2YCrCb)
    feats, names = [], []
    for space, img in (("hsv", hsv), ("ycc", ycc)):
        for c in range(3):
            for radius in (1, 2):
                feats.append(lbp_riu2(np.asarray(img[:, :, c], dtype=np.uint8), radius, reg.inner))
                names += [f"lbp_{space}{c}_r{radius}_{b}" for b in range(LBP_BINS)]
    return np.concatenate(feats), names


def spectrum(gray: npt.NDArray[np.floating]) -> F64:
    """Band energy shares (8) and peak statistics (3) of a windowed 2D spectrum."""
    g = np.asarray(gray, dtype=np.float64)
    g = g - g.mean()
    h, w = g.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    mag = np.abs(np.fft.fftshift(np.fft.fft2(g * window)))
    logmag = np.log1p(mag)
    fy = (np.arange(h) - h // 2) / h
    fx = (np.arange(w) - w // 2) / w
    radius = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    power = mag**2
    total = power[radius > 0.01].sum() + 1e-12
    edges = np.linspace(0.01, 0.5, SPECTRUM_BANDS + 1)
    bands = [power[(radius >= lo) & (radius < hi)].sum() / total for lo, hi in itertools.pairwise(edges)]
    local = cv2.medianBlur(logmag.astype(np.float32), 5).astype(np.float64)
    excess = (logmag - local)[(radius > 0.12) & (radius < 0.5)]
    peaks = [
        float(excess.max()) if excess.size else 0.0,
        float(np.mean(excess > 1.5)) if excess.size else 0.0,
        float(np.percentile(excess, 99)) if excess.size else 0.0,
    ]
    return np.asarray(bands + peaks, dtype=np.float64)


def _gray(bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), dtype=np.float32)


def centre_crop(frame: npt.NDArray[np.uint8], side: int = 256) -> npt.NDArray[np.uint8]:
    h, w = frame.shape[:2]
    s = min(side, h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return np.ascontiguousarray(frame[y0 : y0 + s, x0 : x0 + s])


def _masked_stats(values: npt.NDArray[np.floating], mask: npt.NDArray[np.bool_]) -> tuple[float, float]:
    sel = values[mask] if mask.any() else values.reshape(-1)
    return float(sel.mean()), float(sel.std())


def region_stats(reg: FaceRegions) -> tuple[F64, list[str]]:
    """Colour, specular, sharpness and noise of the inner face and the ring around it, and their contrast."""
    hsv = cv2.cvtColor(reg.patch, cv2.COLOR_BGR2HSV).astype(np.float32) / 255.0
    ycc = cv2.cvtColor(reg.patch, cv2.COLOR_BGR2YCrCb).astype(np.float32) / 255.0
    gray = _gray(reg.patch) / 255.0
    lap = np.asarray(cv2.Laplacian(gray, cv2.CV_32F, ksize=3), dtype=np.float32)
    residual = gray - cv2.medianBlur((gray * 255).astype(np.uint8), 3).astype(np.float32) / 255.0
    vals: list[float] = []
    names: list[str] = []
    per: dict[str, dict[str, float]] = {}
    for label, mask in (("in", reg.inner), ("ring", reg.ring)):
        s_mean, s_std = _masked_stats(hsv[:, :, 1], mask)
        cr_mean, cr_std = _masked_stats(ycc[:, :, 1], mask)
        cb_mean, cb_std = _masked_stats(ycc[:, :, 2], mask)
        y = ycc[:, :, 0][mask] if mask.any() else ycc[:, :, 0].reshape(-1)
        _, lap_std = _masked_stats(lap, mask)
        _, noise = _masked_stats(residual, mask)
        _, g_std = _masked_stats(gray, mask)
        v, s = hsv[:, :, 2], hsv[:, :, 1]
        spec = (v > 0.88) & (s < 0.25) & mask
        per[label] = {
            "sat_mean": s_mean, "sat_std": s_std, "cr_mean": cr_mean, "cr_std": cr_std, "cb_mean": cb_mean,
            "cb_std": cb_std, "y_p1": float(np.percentile(y, 1)), "y_p99": float(np.percentile(y, 99)),
            "y_median": float(np.median(y)), "sharp": float(np.log(lap_std + 1e-4)),
            "sharp_rel": float(np.log(lap_std / (g_std + 1e-3) + 1e-4)), "noise": float(np.log(noise + 1e-4)),
            "specular": float(spec.sum() / max(int(mask.sum()), 1)),
        }  # fmt: skip
    for key in per["in"]:
        vals += [per["in"][key], per["ring"][key], per["in"][key] - per["ring"][key]]
        names += [f"in_{key}", f"ring_{key}", f"diff_{key}"]
    return np.asarray(vals, dtype=np.float64), names


def straight_lines(frame: npt.NDArray[np.uint8], box: tuple[int, int, int, int]) -> tuple[F64, list[str]]:
    """Long straight edges in the frame (paper edges, bezels), in total and outside the face box."""
    h, w = frame.shape[:2]
    scale = min(1.0, 480 / max(h, w))
    small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else frame
    edges = cv2.Canny(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), 60, 160)
    min_len = 0.25 * min(small.shape[:2])
    lines = cv2.HoughLinesP(edges, 1, np.pi / 180, 40, minLineLength=min_len, maxLineGap=4)
    n = 0 if lines is None else len(lines)
    x0, y0, x1, y1 = (v * scale for v in box)
    outside = 0
    longest = 0.0
    # OpenCV 4 returns (n, 1, 4), OpenCV 5 (n, 4)
    for seg in [] if lines is None else np.asarray(lines).reshape(-1, 4):
        ax, ay, bx, by = (float(v) for v in seg)
        longest = max(longest, float(np.hypot(bx - ax, by - ay)) / max(small.shape[:2]))
        mx, my = (ax + bx) / 2, (ay + by) / 2
        if not (x0 <= mx <= x1 and y0 <= my <= y1):
            outside += 1
    return np.asarray([min(n, 20) / 20, min(outside, 20) / 20, longest], dtype=np.float64), [
        "lines_all",
        "lines_outside_face",
        "line_longest",
    ]


def pad_features(reg: FaceRegions) -> tuple[F64, list[str]]:
    """The passive-PAD feature vector and its names (fixed order; the model file records the names)."""
    lbp, lbp_names = colour_lbp(reg)
    face_spec = spectrum(_gray(reg.patch))
    frame_spec = spectrum(_gray(centre_crop(reg.frame)))
    spec_names = [f"band{i}" for i in range(SPECTRUM_BANDS)] + ["peak_max", "peak_share", "peak_p99"]
    stats, stat_names = region_stats(reg)
    lines, line_names = straight_lines(reg.frame, reg.face_box)
    vec = np.concatenate([lbp, face_spec, frame_spec, stats, lines])
    names = (
        lbp_names
        + [f"face_{n}" for n in spec_names]
        + [f"frame_{n}" for n in spec_names]
        + stat_names
        + line_names
    )
    return vec, names


def boundary_profile(reg: FaceRegions) -> tuple[F64, list[str]]:
    """Edge strength and colour step along nested face-shaped contours, relative to their average.

    A pasted face leaves a contour where gradients and colour change more than elsewhere (the blending
    boundary); a real face has no such preferred contour.
    """
    patch = reg.patch
    ph, pw = patch.shape[:2]
    lab = cv2.cvtColor(patch, cv2.COLOR_BGR2LAB).astype(np.float32)
    gray = lab[:, :, 0]
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    grad = np.sqrt(gx * gx + gy * gy)
    ys, xs = np.nonzero(reg.inner)
    if xs.size == 0:
        return np.zeros(2 * 9 + 2), [f"bnd_grad_{i}" for i in range(9)] + [
            f"bnd_lab_{i}" for i in range(9)
        ] + ["bnd_grad_peak", "bnd_lab_peak"]
    cx, cy = xs.mean(), ys.mean()
    rx, ry = max(xs.max() - xs.min(), 2) / 2, max(ys.max() - ys.min(), 2) / 2
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    ell = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    levels = np.linspace(0.6, 1.6, 10)
    grads, steps = [], []
    for lo, hi in itertools.pairwise(levels):
        band = (ell >= lo) & (ell < hi)
        inside = (ell >= lo - 0.1) & (ell < lo)
        outside = (ell >= hi) & (ell < hi + 0.1)
        grads.append(float(grad[band].mean()) if band.any() else 0.0)
        if inside.any() and outside.any():
            steps.append(float(np.linalg.norm(lab[inside].mean(axis=0) - lab[outside].mean(axis=0))))
        else:
            steps.append(0.0)
    g = np.asarray(grads)
    s = np.asarray(steps)
    g_rel = g / (g.mean() + 1e-6)
    s_rel = s / (s.mean() + 1e-6)
    vec = np.concatenate([g_rel, s_rel, [g_rel.max(), s_rel.max()]])
    names = (
        [f"bnd_grad_{i}" for i in range(9)]
        + [f"bnd_lab_{i}" for i in range(9)]
        + ["bnd_grad_peak", "bnd_lab_peak"]
    )
    return np.asarray(vec, dtype=np.float64), names


def deepfake_features(reg: FaceRegions) -> tuple[F64, list[str]]:
    """The face-swap feature vector: blending boundary, inner-versus-surround contrasts, inner texture."""
    bnd, bnd_names = boundary_profile(reg)
    stats, stat_names = region_stats(reg)
    ycc = cv2.cvtColor(reg.patch, cv2.COLOR_BGR2YCrCb)
    luma = np.asarray(ycc[:, :, 0], dtype=np.uint8)
    lbp = np.concatenate([lbp_riu2(luma, r, reg.inner) for r in (1, 2)])
    lbp_names = [f"lbp_y_r{r}_{b}" for r in (1, 2) for b in range(LBP_BINS)]
    face_spec = spectrum(_gray(reg.patch))
    spec_names = [f"face_band{i}" for i in range(SPECTRUM_BANDS)] + [
        "face_peak_max",
        "face_peak_share",
        "face_peak_p99",
    ]
    vec = np.concatenate([bnd, stats, lbp, face_spec])
    return vec, bnd_names + stat_names + lbp_names + spec_names
