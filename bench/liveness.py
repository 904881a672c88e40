"""Liveness benchmark: passive check latency, active verification time, and APCER/BPCER per species with
intervals for our PAD/deepfake checks and, on the same images in the same run, the peer model
``fr_liveness.onnx`` from the npm package ``faceplugin-face-recognition-js@0.0.1`` (fetched here with
``npm pack``; never a dependency of openidv).

    python bench/liveness.py [--n 110] [--seed 77] [--no-peer]

Prints one JSON object. Every error rate is on SIMULATED attacks (openidv synth attacks, seed given), from the
same few real people the models were trained on: new images, not new people.

Peer preprocessing follows the package's own ``lib/fr_liveness.js``: the detection box scaled by 2.7 around
its centre (shifted inside the image), resized to 128x128, RGB values 0-255, NCHW; attack score =
``1 - softmax(output)[0]`` (the JS reports ``score_arr[0]`` as the liveness result). The peer gets our YuNet
box, since its own detector is another model; its threshold is 0.5 (its softmax's argmax) and, for a fair
comparison, also the threshold that gives it our BPCER.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import subprocess
import sys
import tarfile
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
from openidv.checks.liveness.deepfake import DeepfakeCheck  # noqa: E402
from openidv.checks.liveness.pad import PadCheck  # noqa: E402
from openidv.decision.policy import crosses, load_policy  # noqa: E402
from openidv.eval.bootstrap import clopper_pearson  # noqa: E402
from openidv.evidence import Evidence  # noqa: E402
from openidv.imageio import Image, load_image  # noqa: E402
from openidv.synth.attacks.dataset import generate  # noqa: E402

PEER = "faceplugin-face-recognition-js@0.0.1"


def fetch_peer(folder: Path) -> Path | None:
    try:
        subprocess.run(
            ["npm", "pack", PEER, "--silent"], cwd=folder, check=True, capture_output=True, timeout=120
        )
    except (OSError, subprocess.SubprocessError):
        return None
    tgz = next(folder.glob("*.tgz"), None)
    if tgz is None:
        return None
    with tarfile.open(tgz) as tar:
        member = tar.getmember("package/model/fr_liveness.onnx")
        tar.extract(member, folder, filter="data")
    return folder / "package/model/fr_liveness.onnx"


def peer_crop(image: Image, box: tuple[float, float, float, float]) -> np.ndarray:
    h, w = image.height, image.width
    x, y, bw, bh = box
    scale = min((h - 1) / bh, (w - 1) / bw, 2.7)
    nw, nh = bw * scale, bh * scale
    cx, cy = x + bw / 2, y + bh / 2
    x0, y0, x1, y1 = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
    if x0 < 0:
        x1, x0 = x1 - x0, 0
    if y0 < 0:
        y1, y0 = y1 - y0, 0
    if x1 > w - 1:
        x0, x1 = x0 - (x1 - w + 1), w - 1
    if y1 > h - 1:
        y0, y1 = y0 - (y1 - h + 1), h - 1
    crop = image.rgb[max(int(y0), 0) : int(y1), max(int(x0), 0) : int(x1)]
    resized = cv2.resize(crop, (128, 128))
    return np.ascontiguousarray(resized.transpose(2, 0, 1)[None].astype(np.float32))


def rate(errors: int, n: int) -> dict[str, Any]:
    if n == 0:
        return {"value": None, "n": 0}
    low, high = clopper_pearson(errors, n, 0.95)
    return {"value": round(errors / n, 4), "errors": errors, "n": n, "ci95": [round(low, 4), round(high, 4)]}


def error_rates(
    scores: dict[str, list[float]], threshold: float, flags: Callable[[float], bool] | None = None
) -> dict[str, Any]:
    """BPCER and APCER per species; ``flags(score)`` says "attack" (ours: the policy's judge; the peer's
    own scores: ``score >= threshold`` through the same comparison the policy uses)."""
    attack = flags or (lambda score: crosses(score, ">=", threshold))
    out: dict[str, Any] = {"threshold": round(threshold, 6)}
    bona = scores.get("bona_fide", [])
    out["bpcer"] = rate(sum(attack(s) for s in bona), len(bona))
    out["apcer"] = {
        k: rate(sum(not attack(s) for s in v), len(v)) for k, v in scores.items() if k != "bona_fide"
    }
    values = [v["value"] for v in out["apcer"].values() if v["value"] is not None]
    out["apcer_max"] = max(values) if values else None
    return out


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else float("nan")


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
    parser.add_argument("--n", type=int, default=110)
    parser.add_argument("--seed", type=int, default=77)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    policy = load_policy()
    pad, deepfake = PadCheck(**policy.checks["pad"].params), DeepfakeCheck(**policy.checks["deepfake"].params)
    thresholds = {
        "pad": policy.threshold("pad", "attack").value,
        "deepfake": policy.threshold("deepfake", "attack").value,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        peer_path = None if args.no_peer else fetch_peer(folder)
        session = None
        if peer_path is not None:
            import onnxruntime as ort  # type: ignore[import-untyped]

            session = ort.InferenceSession(str(peer_path), providers=["CPUExecutionProvider"])
        manifest = generate(args.n, folder / "set", seed=args.seed, workers=2)
        rows = list(csv.DictReader(ln for ln in manifest.read_text().splitlines() if not ln.startswith("#")))
        ours: dict[str, list[float]] = {}
        peer: dict[str, list[float]] = {}
        fta = {"ours": 0}
        detect_ms, pad_ms, deepfake_ms, peer_ms = [], [], [], []
        for row in rows:
            kind = row["species"] or "bona_fide"
            image = load_image(manifest.parent / row["path"])
            t0 = time.perf_counter()
            face = find_faces(image, min_score=0.6).largest
            detect_ms.append((time.perf_counter() - t0) * 1000)
            if face is None:
                fta["ours"] += 1
                continue
            evidence = Evidence(selfie=image)
            t0 = time.perf_counter()
            p = pad.run(evidence)
            pad_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            d = deepfake.run(evidence)
            deepfake_ms.append((time.perf_counter() - t0) * 1000)
            if kind in ("bona_fide", "deepfake") and d.score is not None:
                ours.setdefault(f"deepfake:{kind}", []).append(d.score)
            if kind != "deepfake" and p.score is not None:
                ours.setdefault(kind, []).append(p.score)
            if session is not None:
                x = peer_crop(image, face.box)
                t0 = time.perf_counter()
                logits = session.run(None, {session.get_inputs()[0].name: x})[0][0]
                peer_ms.append((time.perf_counter() - t0) * 1000)
                probs = np.exp(logits - logits.max())
                probs /= probs.sum()
                peer.setdefault(kind, []).append(float(1 - probs[0]))
        pad_scores = {k: v for k, v in ours.items() if not k.startswith("deepfake:")}
        df_scores = {k.split(":")[1]: v for k, v in ours.items() if k.startswith("deepfake:")}
        result: dict[str, Any] = {
            "machine": {
                "platform": platform.platform(),
                "python": platform.python_version(),
                "cpus": __import__("os").cpu_count(),
            },
            "data": {
                "generator": "openidv synth attacks (SIMULATED attacks from real photos)",
                "seed": args.seed,
                "n": len(rows),
                "no_face_found": fta["ours"],
            },
            "latency_ms": {
                "face_detect_p50": pct(detect_ms, 50),
                "pad_check_p50_beyond_detection": pct(pad_ms, 50),
                "pad_check_p95": pct(pad_ms, 95),
                "deepfake_check_p50_beyond_detection": pct(deepfake_ms, 50),
                "peer_fr_liveness_p50_inference_only": pct(peer_ms, 50) if peer_ms else None,
            },
            "ours": {
                "pad_at_policy_threshold": error_rates(
                    pad_scores, thresholds["pad"], lambda s: policy.judge_score("pad", "attack", s).holds
                ),
                "deepfake_at_policy_threshold": error_rates(
                    df_scores,
                    thresholds["deepfake"],
                    lambda s: policy.judge_score("deepfake", "attack", s).holds,
                ),
            },
            "active": active_benchmark(),
        }
        if peer:
            our_bpcer = result["ours"]["pad_at_policy_threshold"]["bpcer"]["value"] or 0.0
            bona = sorted(peer.get("bona_fide", []))
            matched = float(np.quantile(bona, 1 - our_bpcer, method="higher")) + 1e-9 if bona else 0.5
            result["peer_fr_liveness"] = {
                "package": PEER,
                "at_0.5": error_rates(peer, 0.5),
                "at_our_bpcer": error_rates(peer, matched),
                "note": "same images, our YuNet box, preprocessing as in the package's lib/fr_liveness.js",
            }
        else:
            result["peer_fr_liveness"] = {"skipped": "npm pack failed or --no-peer"}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
