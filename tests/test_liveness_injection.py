"""Injection and replay: virtual cameras, repeated timestamps, resubmitted selfies (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import Engine, func, select

from openidv.checks.liveness.injection import CaptureMetadata, InjectionCheck, analyse_capture, timing_signals
from openidv.checks.liveness.replay import MemoryCaptureIndex, SqlCaptureIndex, configure_capture_index
from openidv.evidence import Evidence
from openidv.imageio import load_image
from openidv.store.db import Base, make_engine
from openidv.store.liveness_tables import LIVENESS_TABLES, CaptureHash


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
    params = InjectionCheck.params_schema
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


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    Base.metadata.create_all(eng, tables=list(LIVENESS_TABLES))
    yield eng
    eng.dispose()


def test_resubmitted_selfie_is_replayed_capture(engine: Engine, shared_data: Path) -> None:
    index = SqlCaptureIndex(engine)
    configure_capture_index(index)
    try:
        check = InjectionCheck()
        first_path = shared_data / "faces/rose_leslie/rose2.jpg"
        first = check.run(Evidence(selfie=load_image(first_path), metadata={"reference": "verification-1"}))
        assert first.reason_codes == () and first.details["replay_checked"]
        other = check.run(Evidence(selfie=load_image(shared_data / "faces/obama/obama2.jpg")))
        assert "REPLAYED_CAPTURE" not in other.reason_codes
        # the same selfie again, re-encoded and resized, sent by someone else
        again = check.run(Evidence(selfie=load_image(reencode(first_path, 70, 0.8))))
        assert "REPLAYED_CAPTURE" in again.reason_codes
        assert again.details["replay_matches"][0]["reference"] == "verification-1"
        with index._sessions() as s:
            assert s.scalar(select(func.count()).select_from(CaptureHash)) == 2  # the replay is not re-added
    finally:
        configure_capture_index(None)


def test_rendered_image_without_sensor_noise_is_flagged() -> None:
    flat = np.tile(np.linspace(30, 220, 320, dtype=np.float32), (240, 1))
    arr = np.repeat(flat[:, :, None], 3, axis=2).astype(np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(arr).save(buf, format="PNG")
    report = analyse_capture([load_image(buf.getvalue())], index=MemoryCaptureIndex())
    assert "no_sensor_noise" in {s.name for s in report.signals}
