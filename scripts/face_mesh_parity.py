"""Parity of face_mesh.py (ai-edge-litert) against mediapipe's FaceLandmarker on real frames and photos.

Needs mediapipe (installed --no-deps) beside ai-edge-litert; prints per-source summaries and writes JSON.

    PYTHONPATH=src python scripts/face_mesh_parity.py [--every 3] [--out parity.json]
    PYTHONPATH=src python scripts/face_mesh_parity.py --record tests/data/face_mesh_reference.json

``--record`` stores mediapipe's outputs on a few images (RECORDED) for tests/test_face_mesh.py, which then
checks parity without mediapipe installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from openidv.checks.liveness.face_mesh import FaceMesh
from openidv.checks.liveness.landmarker import LANDMARKER, pose_degrees
from openidv.models import model_path

#: images whose mediapipe outputs tests/test_face_mesh.py keeps: clip frames (small, turning faces), photos
RECORDED = (
    "video:112",  # jaw open
    "video:165",
    "video:210",  # turned 29 degrees
    "faces:alex_lacamoire/alex1.jpg",  # smiling
    "faces:group/two_people.jpg",  # eyes half closed
    "faces:group/kit_with_rose.jpg",  # small face
    "faces:obama/obama2.jpg",
    "turned:obama/obama4.jpg",  # two detections, rotated crop
)
USED = ("eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight", "jawOpen")


def _mediapipe() -> tuple[object, object]:
    import mediapipe as mp  # type: ignore[import-untyped]
    from mediapipe.tasks.python import BaseOptions, vision  # type: ignore[import-untyped]

    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path(LANDMARKER.id))),
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
        num_faces=1,
        running_mode=vision.RunningMode.IMAGE,
    )
    return mp, vision.FaceLandmarker.create_from_options(options)


def frames(shared: Path, every: int) -> list[tuple[str, np.ndarray]]:
    out: list[tuple[str, np.ndarray]] = []
    capture = cv2.VideoCapture(str(shared / "video/short_hamilton_clip.mp4"))
    i = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if i % every == 0:
            out.append((f"video:{i}", cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
        i += 1
    capture.release()
    for path in sorted((shared / "faces").rglob("*.jp*g")):
        image = cv2.imread(str(path))
        if image is not None:
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            out.append((f"faces:{path.relative_to(shared / 'faces')}", rgb))
    # the same photos turned a quarter (np.rot90, counter-clockwise): the rotated crop's hardest case
    out += [
        (f"turned:{name[6:]}", np.ascontiguousarray(np.rot90(rgb)))
        for name, rgb in out
        if name[:6] == "faces:"
    ]
    return out


def record(shared: Path, out: Path) -> None:
    """mediapipe's landmarks (pixels), blendshapes and pose on the RECORDED images, as JSON."""
    mp, reference = _mediapipe()
    found = dict(frames(shared, 1))
    rows = []
    for name in RECORDED:
        rgb = found[name]
        h, w = rgb.shape[:2]
        ref = reference.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)))  # type: ignore[attr-defined]
        rows.append(
            {
                "image": name,
                "landmarks": [[round(p.x * w, 2), round(p.y * h, 2)] for p in ref.face_landmarks[0]],
                "blendshapes": {c.category_name: round(c.score, 5) for c in ref.face_blendshapes[0]},
                "pose": [
                    round(v, 3) for v in pose_degrees(np.asarray(ref.facial_transformation_matrixes[0]))
                ],
            }
        )
    reference.close()  # type: ignore[attr-defined]
    note = "mediapipe==1.2.2 FaceLandmarker (IMAGE mode, one face), shared/data: scripts/face_mesh_parity.py"
    out.write_text(json.dumps({"source": note, "images": rows}, separators=(",", ":")) + "\n")


def compare(shared: Path, every: int) -> list[dict[str, object]]:
    mp, reference = _mediapipe()
    ours = FaceMesh(model_path(LANDMARKER.id))
    rows: list[dict[str, object]] = []
    for name, rgb in frames(shared, every):
        h, w = rgb.shape[:2]
        ref = reference.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)))  # type: ignore[attr-defined]
        got = ours.process(rgb)
        row: dict[str, object] = {
            "frame": name,
            "mp_face": bool(ref.face_landmarks),
            "our_face": got is not None,
        }
        if ref.face_landmarks and got is not None:
            pts = np.array([[p.x * w, p.y * h] for p in ref.face_landmarks[0]])
            mine = got.landmarks[:, :2] * np.array([w, h])
            eyes = np.linalg.norm(pts[[33, 133]].mean(0) - pts[[362, 263]].mean(0))
            err = np.linalg.norm(pts - mine, axis=1)
            shapes = {c.category_name: c.score for c in ref.face_blendshapes[0]}
            ref_pose = pose_degrees(np.asarray(ref.facial_transformation_matrixes[0]))
            our_pose = pose_degrees(got.matrix)
            row.update(
                eye_px=round(float(eyes), 1),
                lm_mean_px=round(float(err.mean()), 2),
                lm_mean_rel=round(float(err.mean() / eyes), 4),
                lm_max_rel=round(float(err.max() / eyes), 4),
                shapes={k: [round(shapes[k], 4), round(got.blendshapes[k], 4)] for k in USED},
                shape_max_all=round(max(abs(shapes[k] - got.blendshapes[k]) for k in shapes), 4),
                pose_mp=[round(v, 2) for v in ref_pose],
                pose_ours=[round(v, 2) for v in our_pose],
            )
        rows.append(row)
    reference.close()  # type: ignore[attr-defined]
    return rows


def summary(rows: list[dict[str, object]]) -> None:
    for source in ("video", "faces", "turned"):
        sel = [r for r in rows if str(r["frame"]).startswith(source)]
        both = [r for r in sel if "lm_mean_rel" in r]
        agree = sum(r["mp_face"] == r["our_face"] for r in sel)
        print(f"{source}: {len(sel)} images, face in both {len(both)}, detection agrees {agree}/{len(sel)}")
        if not both:
            continue
        rel = np.array([r["lm_mean_rel"] for r in both], dtype=float)
        px = np.array([r["lm_mean_px"] for r in both], dtype=float)
        print(f"  landmarks mean error {px.mean():.2f} px; over the eye distance:", end=" ")
        print(f"median {np.median(rel):.4f} p95 {np.percentile(rel, 95):.4f} max {rel.max():.4f}")
        for k in USED:
            d = np.array([abs(r["shapes"][k][0] - r["shapes"][k][1]) for r in both])  # type: ignore[index]
            print(f"  {k:16s} |diff| mean {d.mean():.4f} p95 {np.percentile(d, 95):.4f} max {d.max():.4f}")
        allmax = np.array([r["shape_max_all"] for r in both], dtype=float)
        print(
            f"  any blendshape   |diff| max per image: median {np.median(allmax):.4f} max {allmax.max():.4f}"
        )
        for i, axis in enumerate(("yaw", "pitch", "roll")):
            d = np.array([abs(r["pose_mp"][i] - r["pose_ours"][i]) for r in both])  # type: ignore[index]
            print(
                f"  {axis:5s} |diff| deg mean {d.mean():.3f} p95 {np.percentile(d, 95):.3f} max {d.max():.3f}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data")
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--record", type=Path, help="write mediapipe's outputs on RECORDED images here")
    args = parser.parse_args()
    if args.record:
        record(args.shared, args.record)
        return 0
    rows = compare(args.shared, args.every)
    summary(rows)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
