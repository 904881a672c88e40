"""The one safe image loader: formats, limits, decompression bombs, EXIF orientation, clear errors."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from openidv.errors import InvalidInput
from openidv.imageio import Image, ImageLimits, load_image


def _png_bytes(array: np.ndarray, **save: object) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format="PNG", **save)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _png_claiming(width: int, height: int, payload: bytes) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` grey pixels, with ``payload`` as its IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", payload)
        + _png_chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def faces_dir(shared_data: Path) -> Path:
    return shared_data / "faces"


def test_loads_jpeg_and_png_as_upright_bgr(faces_dir: Path) -> None:
    for rel in ("obama/obama1.jpg", "alex_lacamoire/alex3.png"):
        path = faces_dir / rel
        image = load_image(path)
        reference = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert image.pixels.shape == reference.shape
        assert image.pixels.dtype == np.uint8
        # same decoder family: pixels agree up to JPEG IDCT rounding
        assert np.abs(image.pixels.astype(int) - reference.astype(int)).mean() < 2.0
        assert image.source == str(path)
        assert image.format in {"JPEG", "PNG"}
        assert not image.pixels.flags.writeable


def test_exif_orientation_is_applied(faces_dir: Path) -> None:
    upright = load_image(faces_dir / "obama/obama6_small.jpg")
    rotated = PILImage.fromarray(np.ascontiguousarray(np.rot90(upright.rgb, k=1)))  # stored turned 90 degrees
    exif = PILImage.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buffer = io.BytesIO()
    rotated.save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    image = load_image(buffer.getvalue(), name="rotated.jpg")
    assert image.orientation == 6
    assert (image.width, image.height) == (upright.width, upright.height)
    assert image.source_size == (upright.height, upright.width)
    assert np.abs(image.pixels.astype(int) - upright.pixels.astype(int)).mean() < 6.0


def test_grey_and_alpha_images_become_three_channels() -> None:
    grey = load_image(_png_bytes(np.full((20, 30), 128, np.uint8)))
    rgba = load_image(_png_bytes(np.zeros((20, 30, 4), np.uint8)))
    assert grey.pixels.shape == (20, 30, 3)
    assert rgba.pixels.shape == (20, 30, 3)


def test_one_pixel_image_loads() -> None:
    image = load_image(_png_bytes(np.zeros((1, 1, 3), np.uint8)))
    assert (image.width, image.height) == (1, 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
        (b"%PDF-1.4 fake", "not an image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "not an image|corrupt"),
    ],
)
def test_bad_bytes_are_clear_errors(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_image(data, name="upload")


def test_truncated_jpeg_is_a_clear_error(faces_dir: Path) -> None:
    data = (faces_dir / "obama/obama4.jpg").read_bytes()
    with pytest.raises(InvalidInput, match="corrupt or truncated"):
        load_image(data[: len(data) // 2], name="half.jpg")


def test_unsupported_format_is_named() -> None:
    buffer = io.BytesIO()
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, format="GIF")
    with pytest.raises(InvalidInput, match="GIF images are not supported"):
        load_image(buffer.getvalue())


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(InvalidInput, match="not a regular file"):
        load_image(tmp_path)


def test_byte_limit(faces_dir: Path) -> None:
    with pytest.raises(InvalidInput, match="byte limit"):
        load_image(faces_dir / "obama/obama1.jpg", limits=ImageLimits(max_bytes=10_000))


def test_decompression_bomb_header_is_refused_before_decoding() -> None:
    # 100k x 100k pixels claimed in a file of a few dozen bytes: refused from the header alone
    bomb = _png_claiming(100_000, 100_000, zlib.compress(b"\x00" * 1000))
    assert len(bomb) < 200
    with pytest.raises(InvalidInput, match="limit"):
        load_image(bomb, name="bomb.png")


def test_real_compression_bomb_is_refused() -> None:
    # 25 megapixels of zeros compress to ~25 KB; with a 4-megapixel budget it is refused, not decoded
    side = 5000
    payload = zlib.compress(b"\x00" * ((side + 1) * side), 9)
    bomb = _png_claiming(side, side, payload)
    assert len(bomb) < 64_000
    with pytest.raises(InvalidInput, match="megapixel limit"):
        load_image(bomb, name="bomb.png", limits=ImageLimits(max_pixels=4_000_000))


def test_fifty_megapixel_jpeg_is_reduced_while_decoding() -> None:
    width, height = 8660, 5774  # 50.0 megapixels
    ramp = np.linspace(0, 255, width, dtype=np.uint8)
    array = np.broadcast_to(ramp[None, :, None], (height, width, 3))
    buffer = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(array)).save(buffer, format="JPEG", quality=50)
    del array
    image = load_image(buffer.getvalue(), name="50mp.jpg")
    assert image.source_size == (width, height)
    assert image.scale == pytest.approx(0.5, abs=0.01)
    assert image.width * image.height <= ImageLimits().max_pixels


def test_fifty_megapixel_png_is_refused() -> None:
    width, height = 8660, 5774
    bomb = _png_claiming(width, height, zlib.compress(b"\x00" * (width + 1), 9))
    with pytest.raises(InvalidInput, match="megapixel limit for PNG"):
        load_image(bomb, name="50mp.png")


def test_image_from_array_copies_and_orders_channels() -> None:
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 255  # red
    image = Image.from_array(rgb, order="rgb")
    assert image.pixels[0, 0].tolist() == [0, 0, 255]  # BGR
    rgb[..., 0] = 0
    assert image.pixels[0, 0, 2] == 255
    with pytest.raises(InvalidInput):
        Image.from_array(np.zeros((4, 5, 3), np.float32))
