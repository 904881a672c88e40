"""Bombs and polyglots sent to every route that takes a file: ``POST /v1/verifications`` (multipart), the
gallery enrolment and search, and the liveness frames. Each is a clear 4xx problem+json that stores nothing,
or, where the file is legitimately decodable (a PNG with a zip appended, a JPEG with a PHP payload after its
end), it is processed as the picture it is and nothing of the payload comes back.

Not repeated here (see tests/test_imageio.py and tests/test_issue12.py): the loader's own bomb and format
tests, the 1.6 KB WebP of 6300x6300 per field, the deeply nested ``declared`` field, NUL bytes in ids.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image as PILImage
from sqlalchemy import func, select

from openidv.api.app import create_app
from openidv.api.problems import PROBLEM_JSON
from openidv.services.liveness import LivenessConfig
from openidv.settings import Settings
from openidv.store.gallery_tables import FaceTemplate
from openidv.store.liveness_tables import CaptureHash, LivenessSession
from openidv.store.models import Verification
from openidv.store.repository import Store

# ------------------------------------------------------------------------------------------- hostile files


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _png_claiming(width: int, height: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _encoded(array: np.ndarray, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def header_bomb() -> bytes:
    """A few dozen bytes whose PNG header claims 100,000 x 100,000 pixels."""
    return _png_claiming(100_000, 100_000, zlib.compress(b"\x00" * 1001, 9))


def compressed_bomb() -> bytes:
    """A real, valid 6000x6000 grey PNG (36 megapixels, all of them decodable) in about 35 KB: over every
    per-field cap (selfie 16, document 24, liveness frames 2.1 megapixels) yet under the 40 MP default."""
    side = 6000
    return _png_claiming(side, side, zlib.compress(b"\x00" * ((side + 1) * side), 9))


def zip_bomb() -> bytes:
    """A zip that inflates to 50 MB of zeros, uploaded as if it were a photo."""
    return _zip({"photo.jpg": b"\x00" * 50_000_000})


def small_rgb(seed: int = 0, size: tuple[int, int] = (48, 64)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (*size, 3), dtype=np.uint8)


PHP = b"<?php system($_GET['c']); ?><script>alert(1)</script>"


def png_zip_polyglot() -> bytes:
    """A valid PNG with a zip archive (holding a PHP file) appended: both a picture and an archive."""
    data = _encoded(small_rgb(1), "PNG") + _zip({"shell.php": PHP})
    assert zipfile.is_zipfile(io.BytesIO(data))
    return data


def gif_zip_polyglot() -> bytes:
    return _encoded(small_rgb(2), "GIF") + _zip({"shell.php": PHP})


def jpeg_with_payload() -> bytes:
    return _encoded(small_rgb(3), "JPEG", quality=80) + PHP


def tiff() -> bytes:
    return _encoded(small_rgb(4), "TIFF")


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def svg() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>'


@dataclass(frozen=True)
class Hostile:
    make: Callable[[], bytes]
    content_type: str  # what the client claims
    #: a fragment of the 422's detail, or None when the file is a legitimate picture processed as such
    refused_with: str | None


HOSTILE: dict[str, Hostile] = {
    "png claiming 100000x100000": Hostile(header_bomb, "image/png", "limit"),
    "36 MP png in 35 KB": Hostile(compressed_bomb, "image/png", "megapixel limit"),
    "zip bomb as a photo": Hostile(zip_bomb, "image/jpeg", "not an image in a supported format"),
    "gif with a zip appended": Hostile(gif_zip_polyglot, "image/gif", "GIF images are not supported"),
    "tiff": Hostile(tiff, "image/tiff", "TIFF images are not supported"),
    "pdf claiming image/jpeg": Hostile(pdf, "image/jpeg", "not an image in a supported format"),
    "svg with a script": Hostile(svg, "image/svg+xml", "not an image in a supported format"),
    "png with a zip appended": Hostile(png_zip_polyglot, "image/png", None),
    "jpeg with a php payload appended": Hostile(jpeg_with_payload, "image/jpeg", None),
}
REFUSED = [name for name, h in HOSTILE.items() if h.refused_with]
DECODABLE = [name for name, h in HOSTILE.items() if not h.refused_with]


# --------------------------------------------------------------------------------------------- the app


@dataclass
class Api:
    client: TestClient
    store: Store
    headers: dict[str, str]

    def count(self, model: Any) -> int:
        with self.store.transaction() as session:
            return int(session.execute(select(func.count()).select_from(model)).scalar_one())

    def stored(self) -> tuple[int, int, int, int]:
        """Verifications, face templates, used liveness sessions, capture fingerprints."""
        with self.store.transaction() as session:
            used = session.execute(
                select(func.count()).select_from(LivenessSession).where(LivenessSession.used_at.is_not(None))
            ).scalar_one()
        return self.count(Verification), self.count(FaceTemplate), int(used), self.count(CaptureHash)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir: Path = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OPENIDV_ENCRYPTION_KEY", base64.b64encode(b"h" * 32).decode())
        store = Store.from_url(f"sqlite:///{data_dir / 'openidv.sqlite3'}")
        app = create_app(Settings(data_dir=data_dir), store=store)
        _, key = store.create_api_key("hostile")
        with TestClient(app) as client:
            yield Api(client, store, {"Authorization": f"Bearer {key}"})
        store.engine.dispose()


def _problem(response: Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, response.text
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code and "\n" not in body["detail"]
    return body


def verify(api: Api, field: str, data: bytes, content_type: str) -> Response:
    return api.client.post(
        "/v1/verifications", files={field: (f"upload.{field}", data, content_type)}, headers=api.headers
    )


def enrol(api: Api, data: bytes, content_type: str) -> Response:
    return api.client.post(
        "/v1/galleries/hostile/faces",
        files={"image": ("upload", data, content_type)},
        data={"subject_id": "h-1"},
        headers=api.headers,
    )


def search(api: Api, data: bytes, content_type: str) -> Response:
    return api.client.post(
        "/v1/galleries/hostile/search", files={"image": ("upload", data, content_type)}, headers=api.headers
    )


def liveness_frames(api: Api, frame: bytes) -> tuple[str, Response]:
    """A fresh session, then ``min_frames`` copies of ``frame`` as its frames."""
    session = api.client.post("/v1/liveness/sessions", headers=api.headers)
    assert session.status_code == 201, session.text
    body = {
        "nonce": session.json()["nonce"],
        "frames": [
            {"timestamp_ms": 66.0 * i, "image": base64.b64encode(frame).decode()}
            for i in range(LivenessConfig().min_frames)
        ],
    }
    answer = api.client.post(
        f"/v1/liveness/sessions/{session.json()['id']}/frames", json=body, headers=api.headers
    )
    return session.json()["id"], answer


# ------------------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("case", REFUSED)
def test_hostile_files_are_a_clear_422_on_every_upload_route_and_store_nothing(api: Api, case: str) -> None:
    hostile = HOSTILE[case]
    data = hostile.make()
    assert len(data) < 100_000, "a bomb is small on the wire"
    before = api.stored()
    for field in ("selfie", "document", "document_back"):
        detail = _problem(verify(api, field, data, hostile.content_type), 422)["detail"]
        assert detail.startswith(f"{field}:") and hostile.refused_with in detail, detail
    assert hostile.refused_with in _problem(enrol(api, data, hostile.content_type), 422)["detail"]
    assert hostile.refused_with in _problem(search(api, data, hostile.content_type), 422)["detail"]
    session_id, answer = liveness_frames(api, data)
    detail = _problem(answer, 422)["detail"]
    assert detail.startswith("frames[0].image:"), detail
    assert api.stored() == before
    # the refused submission left the session usable
    assert (
        api.client.get(f"/v1/liveness/sessions/{session_id}", headers=api.headers).json()["used_at"] is None
    )


def test_frames_within_the_api_limit_but_over_the_frame_cap_are_refused_from_the_header(api: Api) -> None:
    # 2000 x 1200 = 2.4 MP: under every verification field's cap, over the 2.1 MP frame cap
    frame = _png_claiming(2000, 1200, zlib.compress(b"\x00" * 2001 * 1200, 9))
    _, answer = liveness_frames(api, frame)
    assert "megapixel limit" in _problem(answer, 422)["detail"]


@pytest.mark.parametrize("case", DECODABLE)
def test_decodable_polyglots_are_processed_as_the_picture_and_the_payload_never_comes_back(
    api: Api, case: str
) -> None:
    hostile = HOSTILE[case]
    data = hostile.make()
    answer = verify(api, "selfie", data, hostile.content_type)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["decision"] in {"approve", "review", "reject"}
    assert all(c["status"] in {"ok", "failed_to_acquire", "error"} for c in body["checks"])
    assert b"php" not in answer.content and b"script" not in answer.content
    # a picture without a face: the gallery refuses it as such, not as a malformed upload
    refused = _problem(enrol(api, data, hostile.content_type), 422)["detail"]
    assert "face" in refused, refused
    stored = api.client.get(f"/v1/verifications/{body['id']}", headers=api.headers)
    assert stored.status_code == 200 and b"php" not in stored.content


def test_a_huge_json_verification_body_is_a_413_and_stores_nothing(api: Api) -> None:
    before = api.stored()
    padding = {"surname": "Eriksson", "notes": ["x" * 1000] * 200}  # ~200 KB, over the 64 KB JSON cap
    answer = api.client.post(
        "/v1/verifications", json={"mrz": None, "declared": padding}, headers=api.headers
    )
    _problem(answer, 413)
    assert api.stored() == before


@pytest.mark.parametrize("depth", [100, 5_000, 100_000])
def test_deeply_nested_json_is_refused_on_every_json_route(api: Api, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    headers = {**api.headers, "Content-Type": "application/json"}
    before = api.stored()
    answer = api.client.post("/v1/verifications", content='{"declared": ' + nested + "}", headers=headers)
    _problem(answer, 400, 413, 422)
    session = api.client.post("/v1/liveness/sessions", headers=api.headers).json()
    frames = '{"nonce": ' + json.dumps(session["nonce"]) + ', "frames": [], "capture": ' + nested + "}"
    answer = api.client.post(f"/v1/liveness/sessions/{session['id']}/frames", content=frames, headers=headers)
    _problem(answer, 400, 413, 422)
    assert api.stored() == before


def test_many_multipart_parts_are_refused_before_any_is_read(api: Api) -> None:
    files = [("selfie", (f"{i}.png", b"x", "image/png")) for i in range(50)]
    before = api.stored()
    _problem(api.client.post("/v1/verifications", files=files, headers=api.headers), 400, 422)
    assert api.stored() == before


def test_a_caller_supplied_field_name_is_shown_on_one_line(api: Api) -> None:
    """Fuzzing finding (fuzz/corpus/multipart/finding-unknown-field-newline.txt): an unknown form field whose
    name holds a newline came back verbatim, so the message was two lines (and could forge a log line); JSON
    keys in the JSON routes' 422s did the same."""
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="evil\nINFO forged line"\r\n\r\nx\r\n'
        b"--b0undary--\r\n"
    )
    headers = {**api.headers, "Content-Type": "multipart/form-data; boundary=b0undary"}
    answer = api.client.post("/v1/verifications", content=body, headers=headers)
    detail = _problem(answer, 422)["detail"]
    assert "unknown form field" in detail and "evil\\nINFO forged line" in detail
    json_headers = {**api.headers, "Content-Type": "application/json"}
    forged = '{"mrz": null, "a\\nINFO forged": 1, "declared": {"x\\ny": 1}}'
    answer = api.client.post("/v1/verifications", content=forged, headers=json_headers)
    body_422 = _problem(answer, 422)
    assert "a\\nINFO forged" in body_422["detail"] and "declared.x\\ny" in body_422["detail"]
    assert all("\n" not in e["field"] for e in body_422["errors"])
    session = api.client.post("/v1/liveness/sessions", headers=api.headers).json()
    frames = json.dumps({"nonce": session["nonce"], "frames": [], "capture": {"k" * 500 + "\n": 1}})
    answer = api.client.post(
        f"/v1/liveness/sessions/{session['id']}/frames", content=frames, headers=json_headers
    )
    assert "capture.kkk" in _problem(answer, 422)["detail"] and len(answer.json()["detail"]) < 300


def test_many_large_frames_are_refused_after_the_first_is_decoded(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding: 150 flat 1080p JPEGs (a 6.7 MB request, each frame within its own limits) were all decoded
    and held at once, about 930 MB per submission. The submission's pixels are capped in all, foreseen from
    the first frame, so the rest is never decoded."""
    from openidv.services import liveness

    decoded: list[str] = []
    real_load = liveness.load_image

    def counting_load(data: bytes, **kwargs: Any) -> Any:
        decoded.append(kwargs["name"])
        return real_load(data, **kwargs)

    monkeypatch.setattr(liveness, "load_image", counting_load)
    frame = _encoded(np.full((1080, 1920, 3), 120, np.uint8), "JPEG", quality=75)
    config = LivenessConfig()
    assert config.max_frames * 1920 * 1080 > config.max_total_pixels
    session = api.client.post("/v1/liveness/sessions", headers=api.headers).json()
    body = {
        "nonce": session["nonce"],
        "frames": [
            {"timestamp_ms": 66.0 * i, "image": base64.b64encode(frame).decode()}
            for i in range(config.max_frames)
        ],
    }
    before = api.stored()
    answer = api.client.post(f"/v1/liveness/sessions/{session['id']}/frames", json=body, headers=api.headers)
    assert "megapixel limit of one submission" in _problem(answer, 422)["detail"]
    assert decoded == ["frames[0].image"]
    assert api.stored() == before
