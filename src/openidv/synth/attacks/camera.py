"""The capturing phone camera, applied to bona fide and attack images alike.

Every sample, whatever its species, passes through the same randomised camera: scene lighting (gain,
colour temperature, a soft gradient), optics (slight defocus or motion blur), sensor noise (signal-dependent
shot noise plus read noise, in linear light) and JPEG compression. Applying the same distribution to bona
fide images keeps a model from learning "went through the simulator" instead of the attack itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from openidv.imageio import UInt8Array

F32 = npt.NDArray[np.float32]


def to_float(bgr: UInt8Array) -> F32:
    return np.asarray(bgr, dtype=np.float32) / 255.0


def to_uint8(img: npt.NDArray[np.floating]) -> UInt8Array:
    return np.asarray(np.clip(np.rint(np.asarray(img) * 255.0), 0, 255), dtype=np.uint8)


def srgb_to_linear(x: F32) -> F32:
    out: F32 = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)
    return out


def linear_to_srgb(x: F32) -> F32:
    x = np.clip(x, 0.0, 1.0)
    out: F32 = np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)
    return out


@dataclass(frozen=True)
class CameraSettings:
    """One random draw of the camera; recorded in the manifest's slice columns."""

    gain: float
    warmth: float
    gradient: float
    blur_sigma: float
    motion_px: int
    noise: float
    jpeg_quality: int

    @property
    def lighting(self) -> str:
        if self.gain < 0.8:
            return "dim"
        return "bright" if self.gain > 1.15 else "normal"

    @property
    def quality(self) -> str:
        return "low" if self.jpeg_quality < 75 or self.noise > 0.02 else "high"


def draw_camera(rng: np.random.Generator) -> CameraSettings:
    return CameraSettings(
        gain=float(rng.uniform(0.65, 1.3)),
        warmth=float(rng.uniform(-0.08, 0.08)),
        gradient=float(rng.uniform(0.0, 0.25)),
        blur_sigma=float(rng.choice([0.0, 0.0, 0.5, 0.9, 1.3])),
        motion_px=int(rng.choice([0, 0, 0, 3, 5])),
        noise=float(rng.uniform(0.004, 0.03)),
        jpeg_quality=int(rng.integers(60, 96)),
    )


def lighting(img: F32, cam: CameraSettings, rng: np.random.Generator) -> F32:
    """Scene illumination in linear light: exposure gain, colour temperature and a soft side gradient."""
    h, w = img.shape[:2]
    lin = srgb_to_linear(img)
    theta = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = ((xs / w - 0.5) * np.cos(theta) + (ys / h - 0.5) * np.sin(theta)).astype(np.float32)
    field = cam.gain * (1.0 + cam.gradient * 2 * ramp)
    tint = np.array([1.0 - cam.warmth, 1.0, 1.0 + cam.warmth], dtype=np.float32)  # BGR: warm = more red
    out: F32 = lin * field[:, :, None] * tint
    return linear_to_srgb(out)


def optics(img: F32, cam: CameraSettings, rng: np.random.Generator) -> F32:
    out = img
    if cam.blur_sigma > 0:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), cam.blur_sigma), dtype=np.float32)
    if cam.motion_px > 1:
        kernel = np.zeros((cam.motion_px, cam.motion_px), dtype=np.float32)
        kernel[cam.motion_px // 2, :] = 1.0 / cam.motion_px
        angle = float(rng.uniform(0, 180))
        rot = cv2.getRotationMatrix2D(((cam.motion_px - 1) / 2, (cam.motion_px - 1) / 2), angle, 1.0)
        kernel = np.asarray(cv2.warpAffine(kernel, rot, (cam.motion_px, cam.motion_px)), dtype=np.float32)
        kernel /= max(float(kernel.sum()), 1e-6)
        out = np.asarray(cv2.filter2D(out, -1, kernel), dtype=np.float32)
    return np.asarray(out, dtype=np.float32)


def sensor_noise(img: F32, cam: CameraSettings, rng: np.random.Generator) -> F32:
    """Shot noise grows with the signal, read noise does not (Poisson-Gaussian model, linear light)."""
    lin = srgb_to_linear(img)
    sigma = np.sqrt(cam.noise**2 * np.clip(lin, 0, 1) + (cam.noise / 3) ** 2)
    noisy = lin + sigma * rng.standard_normal(lin.shape).astype(np.float32)
    return linear_to_srgb(noisy.astype(np.float32))


def jpeg(img: UInt8Array, quality: int) -> UInt8Array:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 BGR image
        return img
    return np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), dtype=np.uint8)


def render(scene: F32, cam: CameraSettings, rng: np.random.Generator) -> UInt8Array:
    """What the sensor records of ``scene`` (float BGR in 0..1): lighting, optics, noise; before JPEG."""
    img = lighting(scene, cam, rng)
    img = optics(img, cam, rng)
    img = sensor_noise(img, cam, rng)
    return to_uint8(img)


def jpeg_bytes(img: UInt8Array, quality: int) -> bytes:
    """The phone's JPEG file, written as is (no second compression)."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 BGR image
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


def capture(scene: F32, cam: CameraSettings, rng: np.random.Generator) -> UInt8Array:
    """What the phone stores of ``scene``: ``render`` then JPEG, decoded back to pixels."""
    return jpeg(render(scene, cam, rng), cam.jpeg_quality)
