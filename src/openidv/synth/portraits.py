"""Portraits for synthetic documents: real photos from the shared faces folder, cropped around the face
to the 35 x 45 passport-photo shape with the face detector, on a plain light backdrop tone."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from openidv.synth.assets import PortraitSource

ASPECT = 35 / 45  # width / height of an ICAO portrait


@functools.cache
def portrait_crop(path: Path) -> Image.Image:
    """The face of ``path`` cropped to a portrait (head and shoulders), as RGB; cached per file."""
    from openidv.checks.face.detect import detect_faces
    from openidv.imageio import load_image

    image = load_image(path)
    faces = detect_faces(image, min_score=0.6)
    rgb = Image.fromarray(image.rgb)
    if not faces:  # not expected for the shared photos; fall back to the centre of the photo
        w, h = rgb.size
        side = min(w, h)
        return rgb.crop(((w - side) // 2, 0, (w + side) // 2, side)).resize((350, 450))
    bx, by, bw, bh = faces[0].box
    cx, cy = bx + bw / 2, by + bh * 0.55
    crop_h = bh * 2.1
    crop_w = crop_h * ASPECT
    box = (cx - crop_w / 2, cy - crop_h * 0.5, cx + crop_w / 2, cy + crop_h * 0.5)
    # pad with the photo's edge colour where the crop leaves the photo
    arr = np.asarray(rgb)
    pad = int(max(crop_w, crop_h))
    padded = Image.fromarray(np.pad(arr, ((pad, pad), (pad, pad), (0, 0)), mode="edge"))
    shifted = (box[0] + pad, box[1] + pad, box[2] + pad, box[3] + pad)
    return padded.crop(shifted).resize((350, 450), Image.Resampling.LANCZOS)


def portrait_for(source: PortraitSource) -> Image.Image:
    return portrait_crop(source.path)
