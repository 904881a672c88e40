"""Camera-injection and replay signals: was this capture made by a real camera, live, for the first time?

Signals (each named in ``details.signals``; any one gives ``INJECTION_SUSPECTED``):
- ``virtual_camera`` / ``emulator``: the device or camera label names a virtual camera (OBS, ManyCam, ...)
  or an emulator (Android SDK, Genymotion, BlueStacks, ...), or the client SDK reports an emulator;
- ``implausible_stream``: a claimed resolution or frame rate no phone or webcam produces, or frames whose size
  differs from the claimed stream;
- ``timestamps_identical`` / ``timestamps_out_of_order`` / ``timestamps_too_regular``: frame times that
  repeat, go backwards, or are spaced more evenly than a real sensor clock allows (a file played into a
  virtual camera);
- ``frames_identical``: consecutive frames with the same perceptual hash and nearly equal pixels (a still
  image looped as video);
- ``no_sensor_noise``: the flattest parts of the image hold less noise than any camera sensor leaves
  (a rendered or digitally pasted image);
- ``exif_mismatch``: the photo's EXIF names another maker than the claimed device.

A weak signal, ``edited_software`` (the EXIF ``Software`` tag names an editing or encoding tool), gives
``CAPTURE_EDITED`` instead, which the default policy does not act on: a quarter of the real photos in the
shared data were saved by Photoshop (press photos), so on its own it says little; a policy may route it.
Replay: the perceptual hash of the capture is looked up in the index of accepted captures (the
``capture_index`` service, see ``replay.py``); a match is ``REPLAYED_CAPTURE``, whoever submitted the first
one. The check writes nothing: a capture without findings is remembered by its ``RecordCapture`` follow-up,
once the verification is stored.

The limits are policy parameters (``checks.injection.params``): engineering limits of real cameras, not
tuned score thresholds.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from openidv.checks.base import Check, FollowUp
from openidv.checks.liveness.params import InjectionParams
from openidv.checks.liveness.replay import CaptureLookup, Fingerprint, RecordCapture, sample_frames
from openidv.checks.services import CAPTURE_INDEX
from openidv.evidence import Evidence
from openidv.imageio import Image, UInt8Array, load_image
from openidv.results import CheckResult, Meaning, Status
from openidv.tenancy import DEFAULT_TENANT

VIRTUAL_CAMERA = re.compile(
    r"obs[- ]?(virtual|studio|cam)|virtual ?cam|manycam|snap ?camera|xsplit|splitcam|camtwist|v4l2 ?loopback|"
    r"droidcam|epoccam|iriun|e2esoft|vcam|youcam|fake ?(web)?cam|dummy|nvidia broadcast|mmhmm|camo\b|"
    r"altercam|webcamoid|chromacam|sparkocam",
    re.IGNORECASE,
)
EMULATOR = re.compile(
    r"android sdk built for|sdk_gphone|generic_x86|goldfish|ranchu|genymotion|bluestacks|\bnox\b|ldplayer|"
    r"memu|simulator|emulator|vbox",
    re.IGNORECASE,
)
EDITORS = re.compile(
    r"photoshop|gimp|lightroom|snapseed|faceapp|ffmpeg|lavc|lavf|deepfacelab|facefusion", re.IGNORECASE
)
#: the maker a claimed device model implies (lower-case prefixes of the model name)
MAKERS = {
    "iphone": "apple",
    "ipad": "apple",
    "pixel": "google",
    "galaxy": "samsung",
    "sm-": "samsung",
    "redmi": "xiaomi",
    "mi ": "xiaomi",
    "oneplus": "oneplus",
    "moto": "motorola",
    "huawei": "huawei",
}


class CaptureMetadata(BaseModel):
    """How the client says it captured (browser / mobile SDK): never trusted, only compared."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_label: str | None = Field(default=None, max_length=200, description="camera label (MediaDevices)")
    device_model: str | None = Field(
        default=None, max_length=100, description="claimed device, e.g. iPhone 14"
    )
    platform: str | None = Field(default=None, max_length=20, description="ios | android | web")
    emulator: bool | None = Field(default=None, description="the SDK's own emulator detection")
    width: int | None = Field(default=None, ge=1, le=100_000, description="claimed stream width, pixels")
    height: int | None = Field(default=None, ge=1, le=100_000, description="claimed stream height, pixels")
    fps: float | None = Field(default=None, gt=0, le=10_000, description="claimed frame rate")
    user_agent: str | None = Field(default=None, max_length=500)
    exif: dict[str, str] | None = Field(
        default=None, description="EXIF tags read at the edge (Make, Model, ...)"
    )


@dataclass(frozen=True)
class Signal:
    name: str
    detail: str
    #: a weak signal is reported (``CAPTURE_EDITED``) but is not an injection finding on its own
    weak: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.name, "detail": self.detail, **({"weak": True} if self.weak else {})}


def exif_summary(data: bytes) -> dict[str, str]:
    """Make, Model, Software and DateTimeOriginal from an image file's EXIF (metadata only, no pixels)."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(data)) as pil:
            exif = pil.getexif()
    except Exception:  # unreadable EXIF is simply absent; the pixels come through imageio
        return {}
    names = {0x010F: "Make", 0x0110: "Model", 0x0131: "Software", 0x9003: "DateTimeOriginal"}
    out = {}
    for tag, name in names.items():
        value = exif.get(tag)
        if value is None and tag == 0x9003:
            value = exif.get_ifd(0x8769).get(tag)
        if isinstance(value, str | bytes) and value:
            text = value.decode("latin-1", "replace") if isinstance(value, bytes) else value
            out[name] = text.strip("\x00 ")[:100]
    return out


def selfie_evidence(data: bytes, name: str = "selfie") -> Evidence:
    """Evidence of a selfie file: its pixels, and the EXIF it carries as capture metadata."""
    return Evidence(selfie=load_image(data, name=name), metadata={"capture": {"exif": exif_summary(data)}})


def noise_sigma(bgr: UInt8Array) -> float:
    """Sensor-noise level in grey levels: Immerkaer's (1996) estimator on the flattest 10% of 16x16 blocks."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    response = np.abs(cv2.filter2D(gray, -1, kernel))[1:-1, 1:-1]
    h, w = (response.shape[0] // 16) * 16, (response.shape[1] // 16) * 16
    if h == 0 or w == 0:
        return float("nan")
    blocks = response[:h, :w].reshape(h // 16, 16, w // 16, 16).mean(axis=(1, 3))
    level = gray[1 : 1 + h, 1 : 1 + w].reshape(h // 16, 16, w // 16, 16).mean(axis=(1, 3))
    usable = blocks[(level > 8) & (level < 247)]  # clipped areas hold no noise whatever the sensor
    if usable.size == 0:
        return float("nan")
    flat = np.quantile(usable, 0.1)
    return float(np.sqrt(np.pi / 2) * flat / 6)


def metadata_signals(
    meta: CaptureMetadata | None, frame_sizes: Sequence[tuple[int, int]], params: InjectionParams
) -> list[Signal]:
    out: list[Signal] = []
    if meta is None:
        return out
    label = " ".join(v for v in (meta.device_label, meta.device_model, meta.user_agent) if v)
    if meta.device_label and VIRTUAL_CAMERA.search(meta.device_label):
        out.append(Signal("virtual_camera", f"camera label {meta.device_label!r} names a virtual camera"))
    if meta.emulator or (label and EMULATOR.search(label)):
        out.append(Signal("emulator", "the client runs in an emulator"))
    if meta.fps is not None and not params.min_fps <= meta.fps <= params.max_fps:
        out.append(Signal("implausible_stream", f"{meta.fps:g} fps is outside what phone cameras stream"))
    if meta.width and meta.height:
        long_side, short_side = max(meta.width, meta.height), min(meta.width, meta.height)
        if long_side > params.max_stream_side or short_side < params.min_stream_side:
            out.append(
                Signal("implausible_stream", f"{meta.width}x{meta.height} is not a camera stream size")
            )
        elif meta.fps and meta.fps > 60 and long_side > 1920:
            out.append(
                Signal(
                    "implausible_stream",
                    f"{meta.width}x{meta.height} at {meta.fps:g} fps from a selfie camera",
                )
            )
        sizes = {tuple(sorted(s)) for s in frame_sizes}
        if sizes and sizes != {tuple(sorted((meta.width, meta.height)))}:
            out.append(
                Signal(
                    "implausible_stream",
                    f"frames are {sorted(sizes)} but the stream was {meta.width}x{meta.height}",
                )
            )
    exif = meta.exif or {}
    software = exif.get("Software", "")
    if software and EDITORS.search(software):
        out.append(
            Signal("edited_software", f"EXIF Software {software!r} is an editing or encoding tool", weak=True)
        )
    make = exif.get("Make", "").lower()
    claimed = (meta.device_model or "").lower()
    expected = next((maker for prefix, maker in MAKERS.items() if claimed.startswith(prefix)), None)
    if make and expected and expected not in make:
        out.append(
            Signal(
                "exif_mismatch",
                f"EXIF Make {exif.get('Make')!r} contradicts the claimed {meta.device_model!r}",
            )
        )
    return out


def timing_signals(timestamps_ms: Sequence[float], params: InjectionParams) -> list[Signal]:
    out: list[Signal] = []
    if len(timestamps_ms) < 2:
        return out
    deltas = np.diff(np.asarray(timestamps_ms, dtype=np.float64))
    if np.any(deltas == 0):
        out.append(Signal("timestamps_identical", f"{int(np.sum(deltas == 0))} frames share a timestamp"))
    if np.any(deltas < 0):
        out.append(Signal("timestamps_out_of_order", f"{int(np.sum(deltas < 0))} frames go back in time"))
    positive = deltas[deltas > 0]
    if positive.size >= 8 and float(np.std(positive)) < params.min_timestamp_jitter_ms:
        out.append(
            Signal("timestamps_too_regular", f"frame spacing varies by {float(np.std(positive)):.4f} ms")
        )
    return out


def frame_signals(frames: Sequence[Image], params: InjectionParams) -> list[Signal]:
    out: list[Signal] = []
    if len(frames) >= 2:
        same = 0
        for a, b in itertools.pairwise(frames):
            if a.pixels.shape == b.pixels.shape and Fingerprint.of_image(a).matches(
                Fingerprint.of_image(b), 0, 0
            ):
                mae = float(np.mean(np.abs(a.pixels.astype(np.int16) - b.pixels.astype(np.int16))))
                same += mae < params.identical_frame_mae
        share = same / (len(frames) - 1)
        if share > params.max_identical_frame_share:
            out.append(
                Signal(
                    "frames_identical", f"{same} of {len(frames) - 1} consecutive frame pairs are identical"
                )
            )
    if frames:
        sigmas = [noise_sigma(f.bgr) for f in frames[:: max(1, len(frames) // 5)]]
        sigma = float(np.nanmedian(sigmas)) if sigmas else float("nan")
        if np.isfinite(sigma) and sigma < params.min_noise_sigma:
            out.append(Signal("no_sensor_noise", f"noise {sigma:.3f} grey levels in the flattest areas"))
    return out


def replay_lookup(
    frames: Sequence[Image], index: CaptureLookup | None, tenant: str = DEFAULT_TENANT
) -> tuple[list[dict[str, Any]], list[Fingerprint]]:
    """Matches of the capture's frames (at most 5 sampled) among ``tenant``'s accepted captures, and their
    fingerprints."""
    if index is None or not frames:
        return [], []
    prints = [Fingerprint.of_image(f) for f in sample_frames(frames)]
    hits = []
    for fp in prints:
        m = index.find(fp, tenant=tenant)
        if m is not None:
            hits.append(
                {
                    "reference": m.reference,
                    "kind": m.kind,
                    "phash_distance": m.phash_distance,
                    "first_seen": m.created_at.isoformat(),
                }
            )
    return hits, prints


@dataclass(frozen=True)
class InjectionReport:
    signals: tuple[Signal, ...]
    replay: tuple[dict[str, Any], ...]
    replay_checked: bool
    #: the fingerprints that were looked up (empty when replay was not checked): what to remember later
    fingerprints: tuple[Fingerprint, ...] = field(default=(), compare=False)

    @property
    def strong(self) -> tuple[Signal, ...]:
        """The signals that are injection findings on their own."""
        return tuple(s for s in self.signals if not s.weak)

    @property
    def finding_codes(self) -> tuple[str, ...]:
        """The findings that fail a capture: injection signals, a replay (weak signals are not findings)."""
        return tuple(
            code
            for code, present in (("INJECTION_SUSPECTED", self.strong), ("REPLAYED_CAPTURE", self.replay))
            if present
        )

    @property
    def codes(self) -> tuple[str, ...]:
        """The findings, and ``CAPTURE_EDITED`` for a weak signal (reported; the policy decides)."""
        weak = ("CAPTURE_EDITED",) if len(self.strong) < len(self.signals) else ()
        return (
            self.finding_codes[:1] + weak + self.finding_codes[1:]
            if self.strong
            else weak + self.finding_codes
        )

    @property
    def score(self) -> float:
        """0 with no finding; each injection signal or a replay halves the remaining distance to 1 (weak
        signals do not count)."""
        return round(1.0 - 0.5 ** (len(self.strong) + (2 if self.replay else 0)), 6)

    def to_dict(self) -> dict[str, Any]:
        return {
            "signals": [s.to_dict() for s in self.signals],
            "replay_matches": list(self.replay),
            "replay_checked": self.replay_checked,
        }


def analyse_capture(
    frames: Sequence[Image],
    *,
    metadata: CaptureMetadata | None = None,
    timestamps_ms: Sequence[float] | None = None,
    params: InjectionParams | None = None,
    index: CaptureLookup | None = None,
    own_reference: str | None = None,
    tenant: str = DEFAULT_TENANT,
) -> InjectionReport:
    """Every injection and replay signal for one capture (a selfie or a session's frames). Writes nothing.

    Replay is looked up when ``index`` is given and the ``check_replay`` parameter is on; a match whose
    reference is ``own_reference`` (the applicant's own liveness session) is not a replay. Only ``tenant``'s
    captures are searched, so a match never names another tenant's verification or session.
    """
    p = params or InjectionParams()
    signals = metadata_signals(metadata, [(f.width, f.height) for f in frames], p)
    signals += timing_signals(list(timestamps_ms or []), p)
    signals += frame_signals(frames, p)
    use_index = index if p.check_replay else None
    hits, prints = replay_lookup(frames, use_index, tenant)
    # the best frame of the applicant's own liveness session is not a replay of someone else's capture
    hits = [h for h in hits if own_reference is None or h["reference"] != own_reference]
    return InjectionReport(tuple(signals), tuple(hits), use_index is not None, tuple(prints))


class InjectionCheck(Check):
    """Injection and replay signals of the selfie and its capture metadata (``metadata['capture']``)."""

    name = "injection"
    version = "1.0.0"
    meaning = Meaning.ATTACK
    requires = ("selfie",)
    Params = InjectionParams
    #: replay lookups; with ``check_replay`` off the index is still required but not asked
    needs = (CAPTURE_INDEX,)
    params: InjectionParams

    @property
    def capture_index(self) -> CaptureLookup:
        index: CaptureLookup = self.services[CAPTURE_INDEX]
        return index

    def run(self, evidence: Evidence) -> CheckResult:
        image = evidence.selfie
        if not isinstance(image, Image):
            raise ValueError("injection needs evidence.selfie")
        raw = evidence.metadata.get("capture")
        meta = CaptureMetadata.model_validate(raw) if isinstance(raw, dict) else None
        report = analyse_capture(
            [image],
            metadata=meta,
            params=self.params,
            index=self.capture_index,
            own_reference=evidence.liveness_session_id,
            tenant=evidence.tenant_id,
        )
        return self.result(Status.OK, report.score, report.codes, report.to_dict())

    def follow_ups(self, evidence: Evidence, result: CheckResult) -> Sequence[FollowUp]:
        """Remember a selfie without injection findings, so the same capture sent again is a replay."""
        image = evidence.selfie
        if not (self.params.record_captures and self.params.check_replay) or not isinstance(image, Image):
            return ()
        if result.status != Status.OK or {"INJECTION_SUSPECTED", "REPLAYED_CAPTURE"} & set(
            result.reason_codes
        ):
            return ()
        return (RecordCapture.of([Fingerprint.of_image(f) for f in sample_frames([image])], "selfie"),)

    def evidence_from_files(self, paths: Sequence[Path]) -> Evidence:
        return selfie_evidence(Path(paths[0]).read_bytes(), name=str(paths[0]))
