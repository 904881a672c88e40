"""Injection and replay: virtual cameras, repeated timestamps, resubmitted selfies (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import Engine, func, select

from openidv.checks.base import FollowUp
from openidv.checks.liveness.injection import (
    CaptureMetadata,
    InjectionCheck,
    analyse_capture,
    exif_summary,
    timing_signals,
)
from openidv.checks.liveness.params import InjectionParams
from openidv.checks.liveness.replay import RecordCapture
from openidv.checks.services import CAPTURE_INDEX
from openidv.errors import ConfigurationError
from openidv.evidence import Evidence
from openidv.imageio import load_image
from openidv.services.captures import MemoryCaptureIndex, SqlCaptureIndex
from openidv.store.liveness_tables import CaptureHash


def reencode(path: Path, quality: int, scale: float = 1.0) -> bytes:
    with PILImage.open(path) as im:
        rgb = im.convert("RGB")
        if scale != 1.0:
            rgb = rgb.resize((int(rgb.width * scale), int(rgb.height * scale)))
        buf = io.BytesIO()
        rgb.save(buf, format="JPEG", quality=quality)
        return buf.getvalue()


def test_virtual_camera_label_is_flagged(shared_data: Path) -> None:
    image = load_image(shared_data / "faces/biden/biden2.jpg")
    meta = CaptureMetadata(device_label="OBS Virtual Camera", device_model="iPhone 14", platform="web")
    report = analyse_capture([image], metadata=meta)
    assert report.codes == ("INJECTION_SUSPECTED",)
    assert [s.name for s in report.signals] == ["virtual_camera"]
    honest = analyse_capture([image], metadata=CaptureMetadata(device_label="FaceTime HD Camera"))
    assert honest.codes == ()


def test_identical_out_of_order_and_too_regular_timestamps() -> None:
    params = InjectionParams()
    assert [s.name for s in timing_signals([0.0, 66.7, 66.7, 133.4], params)] == ["timestamps_identical"]
    assert [s.name for s in timing_signals([0.0, 66.7, 50.0, 133.4], params)] == ["timestamps_out_of_order"]
    regular = [i * 66.666 for i in range(20)]
    assert [s.name for s in timing_signals(regular, params)] == ["timestamps_too_regular"]
    jittered = [i * 66.666 + (i % 4) * 0.9 for i in range(20)]
    assert timing_signals(jittered, params) == []


def test_implausible_stream_and_emulator() -> None:
    report = analyse_capture(
        [], metadata=CaptureMetadata(width=7680, height=4320, fps=240, device_model="sdk_gphone64_x86_64")
    )
    assert {s.name for s in report.signals} == {"implausible_stream", "emulator"}


def run_and_record(
    check: InjectionCheck, evidence: Evidence, index: SqlCaptureIndex, reference: str
) -> tuple[str, ...]:
    """What the verification layer does: run the check, then apply its follow-ups under a reference."""
    result = check.run(evidence)
    for follow_up in check.follow_ups(evidence, result):
        index.apply_follow_up(follow_up, reference=reference, session=None)
    return result.reason_codes


def test_resubmitted_selfie_is_replayed_capture(engine: Engine, shared_data: Path) -> None:
    index = SqlCaptureIndex(engine)
    check = InjectionCheck({CAPTURE_INDEX: index})
    first_path = shared_data / "faces/rose_leslie/rose2.jpg"
    first = check.run(Evidence(selfie=load_image(first_path)))
    assert first.reason_codes == () and first.details["replay_checked"]
    assert run_and_record(check, Evidence(selfie=load_image(first_path)), index, "verification-1") == ()
    other = Evidence(selfie=load_image(shared_data / "faces/obama/obama2.jpg"))
    assert "REPLAYED_CAPTURE" not in run_and_record(check, other, index, "verification-2")
    # the same selfie again, re-encoded and resized, sent by someone else
    again_evidence = Evidence(selfie=load_image(reencode(first_path, 70, 0.8)))
    again = check.run(again_evidence)
    assert "REPLAYED_CAPTURE" in again.reason_codes
    assert again.details["replay_matches"][0]["reference"] == "verification-1"
    assert check.follow_ups(again_evidence, again) == ()  # a replay is not remembered again
    with index._sessions() as s:
        assert s.scalar(select(func.count()).select_from(CaptureHash)) == 2


def test_run_writes_nothing_and_the_follow_up_records(shared_data: Path) -> None:
    """The same selfie checked twice is no replay until the first verification's follow-up is applied."""
    index = MemoryCaptureIndex()
    check = InjectionCheck({CAPTURE_INDEX: index})
    path = shared_data / "faces/biden/biden2.jpg"
    evidence = Evidence(selfie=load_image(path))
    first = check.run(evidence)
    second = check.run(Evidence(selfie=load_image(path)))
    # the first request was never stored (rejected, failed): it left no trace
    assert first.reason_codes == () and second.reason_codes == ()
    follow_ups = check.follow_ups(evidence, first)
    assert len(follow_ups) == 1 and isinstance(follow_ups[0], RecordCapture)
    assert follow_ups[0].service == CAPTURE_INDEX and follow_ups[0].kind == "selfie"
    index.apply_follow_up(follow_ups[0], reference="verification-1", session=None)
    third = check.run(Evidence(selfie=load_image(path)))
    assert third.reason_codes == ("REPLAYED_CAPTURE",)
    assert third.details["replay_matches"][0]["reference"] == "verification-1"
    # the applicant's own liveness session is not a replay of itself
    own = check.run(Evidence(selfie=load_image(path), liveness_session_id="verification-1"))
    assert own.reason_codes == ()


def test_follow_up_goes_through_the_callers_transaction(engine: Engine, shared_data: Path) -> None:
    index = SqlCaptureIndex(engine)
    check = InjectionCheck({CAPTURE_INDEX: index})
    evidence = Evidence(selfie=load_image(shared_data / "faces/obama/obama1.jpg"))
    (follow_up,) = check.follow_ups(evidence, check.run(evidence))
    with index._sessions() as s:
        with s.begin():
            index.apply_follow_up(follow_up, reference="rolled-back", session=s)
            s.rollback()  # the verification's transaction failed: the capture is not remembered
        assert s.scalar(select(func.count()).select_from(CaptureHash)) == 0
    assert "REPLAYED_CAPTURE" not in check.run(evidence).reason_codes


def test_replay_off_and_missing_index() -> None:
    with pytest.raises(ConfigurationError, match="capture_index"):
        InjectionCheck()
    image = load_image(reencode_array())
    check = InjectionCheck({CAPTURE_INDEX: MemoryCaptureIndex()}, check_replay=False)
    evidence = Evidence(selfie=image)
    result = check.run(evidence)
    assert not result.details["replay_checked"]
    assert check.follow_ups(evidence, result) == ()
    assert all(
        not isinstance(f, FollowUp)
        for f in InjectionCheck({CAPTURE_INDEX: MemoryCaptureIndex()}, record_captures=False).follow_ups(
            evidence, result
        )
    )


def reencode_array() -> bytes:
    rng = np.random.default_rng(3)
    arr = np.clip(rng.normal(128, 20, (120, 160, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def test_rendered_image_without_sensor_noise_is_flagged() -> None:
    flat = np.tile(np.linspace(30, 220, 320, dtype=np.float32), (240, 1))
    arr = np.repeat(flat[:, :, None], 3, axis=2).astype(np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(arr).save(buf, format="PNG")
    report = analyse_capture([load_image(buf.getvalue())], index=MemoryCaptureIndex())
    assert "no_sensor_noise" in {s.name for s in report.signals}


def test_an_editing_tool_in_exif_is_a_weak_signal_not_an_injection(shared_data: Path) -> None:
    """Real press photos are saved by Photoshop: that alone must not send a real person to review."""
    from openidv.library.liveness import check_liveness

    photos = sorted(p for p in (shared_data / "faces").rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    edited = [p for p in photos if "photoshop" in exif_summary(p.read_bytes()).get("Software", "").lower()]
    assert edited, "the shared photos include some saved by Photoshop"
    check = InjectionCheck({CAPTURE_INDEX: MemoryCaptureIndex()})
    for path in edited:
        evidence = check.evidence_from_files([path])
        result = check.run(evidence)
        assert "CAPTURE_EDITED" in result.reason_codes and "INJECTION_SUSPECTED" not in result.reason_codes
        assert result.score == 0.0
        assert check.follow_ups(evidence, result)  # still remembered for replay detection
    verdict = check_liveness(edited[0])
    assert "CAPTURE_EDITED" in verdict.reason_codes and "INJECTION_SUSPECTED" not in verdict.reason_codes
