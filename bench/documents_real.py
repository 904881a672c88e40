"""MRZ reading on REAL document pages we have no template for, against peers, in the same run.

Prints JSON. The pages are the ICAO Doc 9303 specimen passport page (TD3) and travel document (TD2) in
``../shared/data/documents`` (PNG and JPEG; scanned by others, MIT-licensed from PassportEye's tests), each
in the robustness variants of ``tests/document_variants.py`` (rotations, +/-15 degree skew, perspective, 30%
scale, blur, JPEG 30, a light ramp): 44 images. For each image and each reader: exact read (both lines equal
the manifest's) and the time. Readers:

- openidv ``find_mrz`` (template-free band search + PP-OCR recogniser + check-digit correction);
- PassportEye 2.2.2 (MIT; Tesseract ``eng`` underneath), raw, and with our MRZ-aware correction of its lines;
- fastmrz 2.1.2 (an ONNX MRZ segmenter + Tesseract with ``mrz.traineddata``);
- a naive whole-image RapidOCR pass (detect + classify + recognise; consecutive lines of an MRZ's length).

Peers are installed in the bench environment only (``make bench``); Tesseract from Debian
(``apt-get install tesseract-ocr``). A peer that cannot run says why in the JSON.

Usage: python bench/documents_real.py
"""

from __future__ import annotations

import csv
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.document_variants import VARIANTS  # noqa: E402

from openidv.checks.document.capture_model import attack_score, load_capture_model  # noqa: E402
from openidv.checks.document.capture_signals import measure_capture  # noqa: E402
from openidv.checks.document.mrz import read_mrz  # noqa: E402
from openidv.checks.document.mrz_finder import find_mrz  # noqa: E402
from openidv.checks.document.mrz_ocr import _clean, correct  # noqa: E402
from openidv.decision.policy import load_policy  # noqa: E402
from openidv.imageio import load_image  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "documents"
FORMATS = {(3, 30): "TD1", (2, 36): "TD2", (2, 44): "TD3"}


def cases() -> list[tuple[str, str, np.ndarray, tuple[str, ...]]]:  # type: ignore[type-arg]
    out = []
    with (SHARED / "manifest.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            page = np.ascontiguousarray(load_image(SHARED / row["file"]).bgr)
            want = (row["mrz_line_1"], row["mrz_line_2"])
            for name, variant in VARIANTS.items():
                out.append((row["file"], name, variant(page), want))
    return out


def corrected(text: str, want: tuple[str, ...]) -> tuple[str, ...]:
    """A peer's raw lines after our MRZ-aware correction (separates finding + OCR from correction)."""
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) != len(want):
        return ()
    fmt = FORMATS[(len(want), len(want[0]))]
    fixed, _ = correct([_clean(line, len(want[0])) for line in lines], fmt)
    return tuple(fixed.split("\n"))


def as_lines(text: str) -> tuple[str, ...]:
    return tuple(line for line in text.replace(" ", "").split("\n") if line)


def passporteye() -> Callable[[Path], str] | str:
    try:
        from passporteye import read_mrz as pe_read  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}: {exc}"

    def run(path: Path) -> str:
        found = pe_read(str(path))
        return str(found.aux.get("text", "")) if found is not None else ""

    return run


def fastmrz() -> Callable[[Path], str] | str:
    try:
        from fastmrz import FastMRZ  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}: {exc}"
    reader = FastMRZ()

    def run(path: Path) -> str:
        return str(reader.get_details(str(path), ignore_parse=True))

    return run


def naive_rapidocr() -> Callable[[Path], str] | str:
    try:
        from rapidocr import RapidOCR
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}: {exc}"
    engine = RapidOCR(
        params={"Global.log_level": "error", "EngineConfig.onnxruntime.intra_op_num_threads": 2}
    )

    def run(path: Path) -> str:
        result = engine(str(path), use_cls=True)
        texts = [str(t).replace(" ", "") for t in (result.txts or ())]
        for i in range(len(texts) - 1):
            for size in (3, 2):
                group = texts[i : i + size]
                if len(group) == size and len({len(t) for t in group}) == 1 and len(group[0]) in (30, 36, 44):
                    return "\n".join(group)
        return ""

    return run


def measure(
    name: str, reader: Callable[[Path], str] | str, files: list[tuple[Path, tuple[str, ...], str]]
) -> dict[str, Any]:
    if isinstance(reader, str):
        return {"status": reader}
    exact = fixed = 0
    times: list[float] = []
    misses: list[str] = []
    problem = None
    for path, want, label in files:
        start = time.perf_counter()
        try:
            text = reader(path)
        except Exception as exc:  # a peer that crashes on an image has not read it
            text, problem = "", f"{type(exc).__name__}: {str(exc)[:160]}"
        times.append((time.perf_counter() - start) * 1000)
        ok = as_lines(text) == want or read_mrz(text).lines == want
        exact += ok
        fixed += ok or corrected(text, want) == want
        if not ok:
            misses.append(label)
    out: dict[str, Any] = {
        "exact": exact,
        "exact_rate": round(exact / len(files), 4),
        "with_our_correction": fixed,
        "ms_median": round(statistics.median(times), 1),
        "ms_p90": round(sorted(times)[int(0.9 * (len(times) - 1))], 1),
        "missed": misses,
    }
    if problem:
        out["last_error"] = problem
    return out


def capture_check(images: list[tuple[str, str, np.ndarray, tuple[str, ...]]]) -> dict[str, object]:  # type: ignore[type-arg]
    """The template-free screen-recapture model on the real pages' variants (all genuine): how many it would
    send to review at the policy's threshold, and its time per image (signals and model, no reading)."""
    model = load_capture_model()
    threshold = float(load_policy().checks["document_capture"].thresholds["attack"].value)
    scores, times = [], []
    for _, _, image, _ in images:
        start = time.perf_counter()
        scores.append(attack_score(model.probabilities(measure_capture(np.ascontiguousarray(image)))))
        times.append((time.perf_counter() - start) * 1000)
    return {
        "what": "REAL pages, genuine variants: document_capture false alarms at the policy threshold",
        "threshold": threshold,
        "false_alarms": sum(s > threshold for s in scores),
        "n": len(scores),
        "max_score": max(scores),
        "ms_median": round(statistics.median(times), 1),
        "peer": "none: no open library detects screen recapture of documents",
    }


def main() -> None:
    warnings.simplefilter("ignore")
    images = cases()
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, (page, variant, image, want) in enumerate(images):
            path = Path(tmp) / f"{i:03d}.png"
            cv2.imwrite(str(path), image)
            files.append((path, want, f"{page}:{variant}"))
        find_mrz(images[0][2])  # load the recogniser once, as a server would

        def ours(path: Path) -> str:
            finding = find_mrz(np.ascontiguousarray(load_image(path).bgr))
            return finding.read.text if finding is not None and finding.read.result.valid else ""

        results = {
            "openidv": measure("openidv", ours, files),
            "passporteye_2.2.2": measure("passporteye", passporteye(), files),
            "fastmrz_2.1.2": measure("fastmrz", fastmrz(), files),
            "naive_rapidocr_whole_image": measure("rapidocr", naive_rapidocr(), files),
        }
    print(
        json.dumps(
            {
                "what": "MRZ exact read on the REAL ICAO specimen pages (TD3, TD2; PNG, JPEG) x 11 variants",
                "n_images": len(images),
                "variants": sorted(VARIANTS),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                },
                "readers": results,
                "document_capture": capture_check(images),
                "note": "times include decoding the PNG; openidv's recogniser is warm, peers load lazily",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
