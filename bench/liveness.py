"""Liveness benchmark: PAD per backbone, the fusion and the previous model; deepfake; active verification.

    python bench/liveness.py [--n 220] [--seed 77]

Prints one JSON object. For each PAD scorer (the three backbones alone at their published rule, the
Silent-Face pair as upstream reads it, the fused ``liveness-pad-v2`` at the policy's threshold, and the
previous ``liveness-pad-v1`` at its own former policy threshold):
- latency beyond face detection, p50 / p99 (the detection is shared with the face checks and timed apart);
- APCER per species on SIMULATED attacks (openidv synth attacks, seed given: new renders of the same few real
  people), BPCER on the simulated bona fide of that set, and BPCER on the REAL bona fide photos
  (../shared/data/faces, every 5th frame of the video), each apart, with exact 95% intervals;
- the sensitivity of each backbone to the face box (the backbones were trained with other detectors): the
  change of P(live) on the real photos when our YuNet box is scaled by 0.9 / 1.1 or shifted by 10%.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from openidv.checks.face.analysis import find_faces  # noqa: E402
from openidv.checks.liveness.active import verify_track  # noqa: E402
from openidv.checks.liveness.backbones import BACKBONES, backbone_input, logits, softmax  # noqa: E402
from openidv.checks.liveness.deepfake import DeepfakeCheck  # noqa: E402
from openidv.checks.liveness.pad import PadCheck  # noqa: E402
from openidv.checks.liveness.params import PAD_V1_MODEL_ID  # noqa: E402
from openidv.decision.policy import crosses, load_policy  # noqa: E402
from openidv.eval.bootstrap import clopper_pearson  # noqa: E402
from openidv.evidence import Evidence  # noqa: E402
from openidv.imageio import Image, load_image  # noqa: E402
from openidv.synth.attacks.dataset import generate  # noqa: E402
from openidv.train.liveness_fusion import V1_POLICY_THRESHOLD, real_bona_fide  # noqa: E402

SPECIES = ("print", "screen_replay", "mask")


def rate(errors: int, n: int) -> dict[str, Any]:
    if n == 0:
        return {"value": None, "n": 0}
    low, high = clopper_pearson(errors, n, 0.95)
    return {"value": round(errors / n, 4), "errors": errors, "n": n, "ci95": [round(low, 4), round(high, 4)]}


def error_rates(
    scores: dict[str, list[float]], threshold: float, flags: Callable[[float], bool] | None = None
) -> dict[str, Any]:
    """BPCER (simulated and real bona fide apart) and APCER per species; ``flags(score)`` says "attack"."""
    attack = flags or (lambda score: crosses(score, ">=", threshold))
    out: dict[str, Any] = {"threshold": round(threshold, 6)}
    for bona in ("bona_fide_simulated", "bona_fide_real"):
        values = scores.get(bona, [])
        out[f"bpcer_{bona.split('_')[-1]}"] = rate(sum(attack(s) for s in values), len(values))
    out["apcer"] = {
        k: rate(sum(not attack(s) for s in scores.get(k, [])), len(scores.get(k, []))) for k in SPECIES
    }
    values = [v["value"] for v in out["apcer"].values() if v["value"] is not None]
    out["apcer_max"] = max(values) if values else None
    return out


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def box_sensitivity(samples: list[tuple[Image, tuple[float, float, float, float]]]) -> dict[str, Any]:
    """|P(live) change| per backbone when the box is scaled 0.9/1.1 or shifted 10% of its size."""
    out: dict[str, Any] = {}
    for b in BACKBONES:
        deltas: list[float] = []
        flips = 0
        for image, (x, y, w, h) in samples:
            base = float(softmax(logits(b, backbone_input(image.bgr, (x, y, w, h), b)))[0][b.live_index])
            variants = [
                (x + 0.05 * w, y + 0.05 * h, 0.9 * w, 0.9 * h),
                (x - 0.05 * w, y - 0.05 * h, 1.1 * w, 1.1 * h),
                (x + 0.1 * w, y, w, h),
                (x - 0.1 * w, y, w, h),
                (x, y + 0.1 * h, w, h),
                (x, y - 0.1 * h, w, h),
            ]
            for box in variants:
                p = float(softmax(logits(b, backbone_input(image.bgr, box, b)))[0][b.live_index])
                deltas.append(abs(p - base))
                flips += (p < 0.5) != (base < 0.5)
        out[b.short] = {
            "median_abs_change": round(float(np.median(deltas)), 4),
            "p95_abs_change": round(float(np.percentile(deltas, 95)), 4),
            "max_abs_change": round(float(np.max(deltas)), 4),
            "decision_flips_at_0.5": f"{flips}/{len(deltas)}",
        }
    return out


def active_benchmark(frames_n: int = 45) -> dict[str, Any]:
    from tests.liveness_helpers import scripted_track

    track = scripted_track(
        [("turn_left", 500.0), ("blink", 1200.0), ("smile", 2000.0)], total_ms=frames_n * 66.7
    )
    start = time.perf_counter()
    for _ in range(20):
        verify_track(track, ["turn_left", "blink", "smile"])
    verifier_ms = (time.perf_counter() - start) * 1000 / 20
    out: dict[str, Any] = {"frames": len(track.frames), "verifier_only_ms": round(verifier_ms, 2)}
    video = ROOT.parent / "shared/data/video/short_hamilton_clip.mp4"
    try:
        from openidv.checks.liveness.session_analysis import observe_track

        capture = cv2.VideoCapture(str(video))
        images: list[Image] = []
        stamps: list[float] = []
        while len(images) < frames_n:
            ok, frame = capture.read()
            if not ok:
                break
            images.append(Image.from_array(frame))
            stamps.append(len(stamps) * 33.37)
        capture.release()
        observe_track(images[:2], stamps[:2])  # load the landmarker and the face models
        start = time.perf_counter()
        real = observe_track(images, stamps)
        verify_track(real, ["turn_left", "blink", "smile"])
        out["real_frames_full_ms"] = round((time.perf_counter() - start) * 1000, 1)
        out["real_frames_note"] = (
            f"{len(images)} frames of shared/data/video (640x360): MediaPipe FaceLandmarker on "
            "every frame, YuNet+SFace on every 3rd, then the verifier"
        )
    except Exception as exc:  # the landmarker is optional for the bench: report why it did not run
        out["real_frames_error"] = f"{type(exc).__name__}: {exc}"
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=220)
    parser.add_argument("--seed", type=int, default=77)
    args = parser.parse_args()
    policy = load_policy()
    fused = PadCheck(**policy.checks["pad"].params)
    previous = PadCheck(**{**policy.checks["pad"].params, "model": PAD_V1_MODEL_ID})
    deepfake = DeepfakeCheck(**policy.checks["deepfake"].params)
    pad_threshold = policy.threshold("pad", "attack").value
    scorers = [b.short for b in BACKBONES] + ["silent_face_pair", "fusion_v2", "previous_v1"]
    scores: dict[str, dict[str, list[float]]] = {k: {} for k in scorers}
    ms: dict[str, list[float]] = {k: [] for k in [*scorers, "detect", "deepfake"]}
    df_scores: dict[str, list[float]] = {}
    no_face = {"simulated": 0, "real": 0}
    real_boxes: list[tuple[Image, tuple[float, float, float, float]]] = []

    def score(image: Image, kind: str) -> bool:
        t0 = time.perf_counter()
        face = find_faces(image, min_score=0.6).largest
        ms["detect"].append((time.perf_counter() - t0) * 1000)
        if face is None:
            return False
        evidence = Evidence(selfie=image)
        for name, check in (("fusion_v2", fused), ("previous_v1", previous)):
            t0 = time.perf_counter()
            result = check.run(evidence)
            ms[name].append((time.perf_counter() - t0) * 1000)
            if result.score is not None:
                scores[name].setdefault(kind, []).append(result.score)
        live = {}
        for b in BACKBONES:
            t0 = time.perf_counter()
            live[b.short] = float(softmax(logits(b, backbone_input(image.bgr, face.box, b)))[0][b.live_index])
            ms[b.short].append((time.perf_counter() - t0) * 1000)
            scores[b.short].setdefault(kind, []).append(1.0 - live[b.short])
        ms["silent_face_pair"].append(ms["minifasnet_v2"][-1] + ms["minifasnet_v1se"][-1])
        pair = 1.0 - (live["minifasnet_v2"] + live["minifasnet_v1se"]) / 2
        scores["silent_face_pair"].setdefault(kind, []).append(pair)
        if kind == "bona_fide_real":
            real_boxes.append((image, face.box))
        return True

    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate(args.n, Path(tmp) / "set", seed=args.seed, workers=2)
        rows = list(csv.DictReader(ln for ln in manifest.read_text().splitlines() if not ln.startswith("#")))
        for row in rows:
            kind = row["species"] or "bona_fide_simulated"
            image = load_image(manifest.parent / row["path"])
            if kind == "deepfake" or kind == "bona_fide_simulated":
                face = find_faces(image, min_score=0.6).largest
                if face is not None:
                    t0 = time.perf_counter()
                    d = deepfake.run(Evidence(selfie=image))
                    ms["deepfake"].append((time.perf_counter() - t0) * 1000)
                    if d.score is not None:
                        df_scores.setdefault("bona_fide" if kind != "deepfake" else "deepfake", []).append(
                            d.score
                        )
            if kind != "deepfake" and not score(image, kind):
                no_face["simulated"] += 1
    real = real_bona_fide(ROOT.parent / "shared/data")
    for sample in real:
        if not score(sample.image, "bona_fide_real"):
            no_face["real"] += 1
    published = {
        b.short: error_rates(scores[b.short], 0.5)
        | {"rule": "P(live) < 0.5 (softmax argmax of live vs rest)"}
        for b in BACKBONES
    }
    published["silent_face_pair"] = error_rates(scores["silent_face_pair"], 0.5) | {
        "rule": "mean P(real) of the two networks < 0.5 (upstream sums both softmaxes and takes the argmax)"
    }
    result: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": __import__("os").cpu_count(),
            "gpu": None,
        },
        "data": {
            "simulated": f"openidv synth attacks seed {args.seed}, n {len(rows)} (SIMULATED)",
            "simulated_counts": {k: len(v) for k, v in scores["fusion_v2"].items() if k != "bona_fide_real"},
            "real_bona_fide": f"{len(real)} real images: ../shared/data/faces + every 5th video frame",
            "no_face_found": no_face,
        },
        "latency_ms_beyond_detection": {
            k: {"p50": pct(ms[k], 50), "p99": pct(ms[k], 99), "n": len(ms[k])} for k in [*scorers, "deepfake"]
        },
        "face_detect_ms": {"p50": pct(ms["detect"], 50), "p99": pct(ms["detect"], 99)},
        "pad": {
            **published,
            "fusion_v2_at_policy_threshold": error_rates(
                scores["fusion_v2"], pad_threshold, lambda s: policy.judge_score("pad", "attack", s).holds
            ),
            "previous_v1_at_its_former_policy_threshold": error_rates(
                scores["previous_v1"], V1_POLICY_THRESHOLD
            ),
        },
        "deepfake_at_policy_threshold": {
            "bpcer": rate(
                sum(
                    policy.judge_score("deepfake", "attack", s).holds for s in df_scores.get("bona_fide", [])
                ),
                len(df_scores.get("bona_fide", [])),
            ),
            "apcer": rate(
                sum(
                    not policy.judge_score("deepfake", "attack", s).holds
                    for s in df_scores.get("deepfake", [])
                ),
                len(df_scores.get("deepfake", [])),
            ),
        },
        "box_sensitivity_real_bona_fide": box_sensitivity(real_boxes),
        "active": active_benchmark(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
