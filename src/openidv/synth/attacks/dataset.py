"""Generate a labelled, seeded set of bona fide selfies and simulated attacks, with a samples manifest.

Each row of ``manifest.csv`` follows the evaluation layer's samples format (``id, path, subject, label,
species``) plus slice columns (``source_kind, lighting, camera_quality, variant, framing``). ``subject``
is the person the image shows (for a swap, the person whose face was pasted; for a mask, the person
printed on it). Sample ``i`` is drawn from its own generator seeded by ``(seed, i)``, so a set is
reproducible and any sample can be regenerated alone.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from openidv.errors import InvalidInput
from openidv.synth.attacks.camera import F32, draw_camera, jpeg_bytes, render
from openidv.synth.attacks.mask import mask_attack
from openidv.synth.attacks.printing import print_attack
from openidv.synth.attacks.screen import screen_attack
from openidv.synth.attacks.sources import FaceSource, face_sources, selfie_crop, transform_points
from openidv.synth.attacks.swap import swap_attack

BONA_FIDE = "bona_fide"
PRINT, SCREEN, MASK, DEEPFAKE = "print", "screen_replay", "mask", "deepfake"
SPECIES = (PRINT, SCREEN, MASK, DEEPFAKE)
PRESENTATION_SPECIES = (PRINT, SCREEN, MASK)
#: share of each kind in a generated set (bona fide first); a repeating schedule, so any n is balanced
MIX = ((BONA_FIDE, 8), (PRINT, 4), (SCREEN, 4), (MASK, 3), (DEEPFAKE, 3))
ALL_KINDS = tuple(k for k, _ in MIX)
SIZE = (360, 480)  # width, height of a selfie frame
MANIFEST_COLUMNS = (
    "id",
    "path",
    "subject",
    "label",
    "species",
    "source",
    "source_kind",
    "lighting",
    "camera_quality",
    "variant",
    "framing",
)


@dataclass(frozen=True)
class Sample:
    id: str
    kind: str  # bona_fide or a species
    subject: str
    source: str
    source_kind: str
    jpeg: bytes
    lighting: str
    camera_quality: str
    variant: str
    framing: str

    @property
    def label(self) -> str:
        return BONA_FIDE if self.kind == BONA_FIDE else "attack"

    def row(self, path: str) -> dict[str, str]:
        return {
            "id": self.id,
            "path": path,
            "subject": self.subject,
            "label": self.label,
            "species": "" if self.kind == BONA_FIDE else self.kind,
            "source": self.source,
            "source_kind": self.source_kind,
            "lighting": self.lighting,
            "camera_quality": self.camera_quality,
            "variant": self.variant,
            "framing": self.framing,
        }


def schedule(kinds: Sequence[str]) -> list[str]:
    wanted = [k for k, _ in MIX if k in kinds]
    unknown = sorted(set(kinds) - {k for k, _ in MIX})
    if unknown or not wanted:
        raise InvalidInput(
            f"unknown kind(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(k for k, _ in MIX)}"
        )
    slots = [
        ((j + 0.5) / count, order, k)
        for order, (k, count) in enumerate(MIX)
        if k in wanted
        for j in range(count)
    ]
    return [k for _, _, k in sorted(slots)]  # interleaved, so even a small n holds every kind


def _shot(source: FaceSource, rng: np.random.Generator) -> tuple[F32, np.ndarray]:
    crop, matrix = selfie_crop(source, rng, SIZE)
    return np.asarray(crop, dtype=np.float32) / 255.0, transform_points(matrix, source.landmarks)


def make_sample(index: int, seed: int, kind: str, sources: Sequence[FaceSource], prefix: str = "") -> Sample:
    """Render sample ``index`` of kind ``kind`` (deterministic in ``seed`` and ``index``)."""
    rng = np.random.default_rng([seed, index])
    src = sources[int(rng.integers(len(sources)))]
    face, pts = _shot(src, rng)
    scenery_src = sources[int(rng.integers(len(sources)))]
    scenery = np.asarray(scenery_src.image.bgr, dtype=np.float32) / 255.0
    scenery = np.asarray(cv2.resize(scenery, SIZE, interpolation=cv2.INTER_AREA), dtype=np.float32)
    subject, framing = src.subject, "live"
    variant: dict[str, str] = {}
    if kind == BONA_FIDE:
        scene = face
    elif kind == PRINT:
        scene, variant = print_attack(face, rng, scenery)
    elif kind == SCREEN:
        scene, variant = screen_attack(face, rng, scenery)
    elif kind in (MASK, DEEPFAKE):
        others = [s for s in sources if s.subject != src.subject]
        other = others[int(rng.integers(len(others)))]
        other_face, other_pts = _shot(other, rng)
        if kind == MASK:  # src wears a printed mask of `other`
            scene, variant = mask_attack(face, pts, other_face, other_pts, rng)
        else:  # `other`'s face swapped onto src's head
            scene, variant = swap_attack(face, pts, other_face, other_pts, rng)
        subject = other.subject
    else:
        raise InvalidInput(f"unknown kind {kind!r}")
    framing = variant.pop("framing", framing)
    cam = draw_camera(rng)
    data = jpeg_bytes(render(scene, cam, rng), cam.jpeg_quality)
    return Sample(
        id=f"{prefix}{kind}-{index:05d}",
        kind=kind,
        subject=subject,
        source=src.id,
        source_kind=src.kind,
        jpeg=data,
        lighting=cam.lighting,
        camera_quality=cam.quality,
        variant="/".join(f"{k}={v}" for k, v in sorted(variant.items())) or "-",
        framing=framing,
    )


_worker_sources: Sequence[FaceSource] = ()


def _init_worker(sources: Sequence[FaceSource]) -> None:
    global _worker_sources
    _worker_sources = sources


def _job(job: tuple[int, int, str]) -> Sample:
    return make_sample(job[0], job[1], job[2], _worker_sources)


def _run(jobs: list[tuple[int, int, str]], sources: Sequence[FaceSource], workers: int) -> Iterator[Sample]:
    """Samples in order; with ``workers`` > 1 rendered by forked processes (results do not depend on it)."""
    if workers <= 1 or len(jobs) < 8:
        for i, s, kind in jobs:
            yield make_sample(i, s, kind, sources)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(sources,)) as pool:
        yield from pool.imap(_job, jobs, chunksize=4)


def generate(
    n: int,
    out_dir: Path,
    *,
    seed: int = 0,
    kinds: Sequence[str] = ALL_KINDS,
    data_dir: Path | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``n`` samples to ``out_dir/images`` and ``out_dir/manifest.csv``; returns the manifest path."""
    if n < 1:
        raise InvalidInput("--n must be at least 1")
    if n > 100_000:
        raise InvalidInput("--n is limited to 100000 samples per set")
    plan = schedule(kinds)
    sources = face_sources(data_dir)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    jobs = [(i, seed, plan[i % len(plan)]) for i in range(n)]
    for done, sample in enumerate(_run(jobs, sources, workers), start=1):
        rel = f"images/{sample.id}.jpg"
        (out_dir / rel).write_bytes(sample.jpeg)
        rows.append(sample.row(rel))
        if progress:
            progress(done, n)
    manifest = out_dir / "manifest.csv"
    tmp = manifest.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        fh.write(
            f"# openidv synth attacks: simulated presentation attacks from real faces; seed={seed} n={n}\n"
        )
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(manifest)
    counts: dict[str, int] = {}
    for row in rows:
        key = row["species"] or BONA_FIDE
        counts[key] = counts.get(key, 0) + 1
    (out_dir / "README.json").write_text(
        json.dumps(
            {
                "generator": "openidv synth attacks",
                "seed": seed,
                "n": n,
                "counts": counts,
                "note": "SIMULATED attacks from real bona fide photos; not real presentation attacks",
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return manifest
