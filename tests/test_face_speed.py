"""Faster 1:1 (issue 11): per-image work done once per ``eval run`` with the same scores as scoring each
pair alone, and decoding that is faster but byte-identical. No timing assertions: the machines are shared
and noisy (bench/face_verify.py measures time)."""

from __future__ import annotations

import csv
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from openidv.checks.face.embed import F32Array, SFaceEmbedder
from openidv.checks.face.match import FaceMatchCheck
from openidv.eval.runner import evaluate
from openidv.eval.scores import read_scores
from openidv.imageio import Image, ImageCache, UInt8Array, cached_images, encode_jpeg, load_image

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "datasets" / "faces" / "pairs.csv"


@pytest.fixture(scope="module")
def faces_dir(shared_data: Path) -> Path:
    return shared_data / "faces"


def test_cached_images_share_one_image_per_content(tmp_path: Path, faces_dir: Path) -> None:
    src = faces_dir / "obama/obama1.jpg"
    assert load_image(src) is not load_image(src)  # no cache outside the block
    with cached_images() as cache:
        first = load_image(src)
        assert load_image(src) is first
        assert load_image(str(src)) is first
        other = load_image(faces_dir / "obama/obama2.jpg")
        assert other is not first
        # the same name with new content is decoded again, never served stale
        path = tmp_path / "photo.jpg"
        path.write_bytes(src.read_bytes())
        before = load_image(path)
        path.write_bytes(encode_jpeg(Image.from_array(np.full((40, 50, 3), 90, np.uint8)), 80))
        after = load_image(path)
        assert after is not before and after.width == 50
        assert (cache.hits, cache.misses) == (2, 4)
    assert load_image(src) is not first


def test_image_cache_evicts_least_recently_used() -> None:
    cache = ImageCache(max_images=2)
    images = [Image.from_array(np.full((8, 8, 3), i, np.uint8)) for i in range(3)]
    for i, image in enumerate(images):
        cache.put((i,), image)
        if i == 1:
            assert cache.get((0,)) is images[0]  # 0 is now the most recent: 1 goes first
    assert len(cache) == 2
    assert cache.get((1,)) is None and cache.get((0,)) is images[0] and cache.get((2,)) is images[2]
    small = ImageCache(max_images=10, max_bytes=images[0].pixels.nbytes * 2)
    for i, image in enumerate(images):
        small.put((i,), image)
    assert len(small) == 2 and small.get((0,)) is None


def _manifest(tmp_path: Path, faces_dir: Path) -> tuple[Path, int, int]:
    """Every pair of five photos of three people: 10 rows, 5 distinct images."""
    photos = [
        ("obama/obama1.jpg", "obama"),
        ("obama/obama2.jpg", "obama"),
        ("biden/biden1.jpg", "biden"),
        ("biden/biden2.jpg", "biden"),
        ("rose_leslie/rose1.jpg", "rose_leslie"),
    ]
    path = tmp_path / "pairs.csv"
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "a", "b", "subject_a", "subject_b"])
        for i, (a, sa) in enumerate(photos):
            for b, sb in photos[i + 1 :]:
                rows += 1
                writer.writerow([f"p{rows:02d}", str(faces_dir / a), str(faces_dir / b), sa, sb])
    return path, rows, len(photos)


def test_eval_run_embeds_each_distinct_image_once(
    tmp_path: Path, faces_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, rows, distinct = _manifest(tmp_path, faces_dir)
    calls: list[int] = []
    lock = threading.Lock()
    original = SFaceEmbedder.embed_chips

    def counting(self: SFaceEmbedder, chips: Sequence[UInt8Array]) -> F32Array:
        with lock:
            calls.append(len(chips))
        return original(self, chips)

    monkeypatch.setattr(SFaceEmbedder, "embed_chips", counting)
    evaluate(manifest, tmp_path / "out", check="face_match", html=False)
    assert sum(calls) == distinct  # 5 embeddings for 10 pairs, not 20

    # and the scores are those of scoring each pair on its own, from freshly decoded files
    table = read_scores(tmp_path / "out" / "scores.csv")
    scored = dict(zip(table.ids, table.scores, strict=True))
    assert len(scored) == rows
    check = FaceMatchCheck()
    with manifest.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            alone = check.run(check.evidence_from_files([Path(row["a"]), Path(row["b"])])).score
            assert alone is not None and scored[row["id"]] == pytest.approx(alone, abs=1e-9)


def test_decoded_pixels_are_pillows_exactly(faces_dir: Path) -> None:
    """The channel swap moved to OpenCV (faster on large photos); the bytes must not change at all."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    for path in sorted(faces_dir.glob("*/*")):
        image = load_image(path)
        with PILImage.open(path) as pil:
            reference = np.asarray(ImageOps.exif_transpose(pil).convert("RGB"))
        assert np.array_equal(image.bgr, reference[:, :, ::-1]), path
        assert np.array_equal(image.rgb, reference), path
        assert image.bgr.flags.c_contiguous and not image.bgr.flags.writeable
