"""Where the generator finds portraits and fonts; nothing here downloads anything.

Portraits come from the shared real-face folder (``<repo root>/../shared/data/faces``, or
``$OPENIDV_SHARED_DATA/faces``, or an explicit folder). Fonts: OCR-B for the MRZ when Debian's
``fonts-ocr-b`` is installed, else DejaVu Sans Mono (shipped with matplotlib and with Debian's
``fonts-dejavu-core``); DejaVu Sans for the rest.
"""

from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

from openidv.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[3]
_OCRB = (
    "/usr/share/fonts/truetype/ocr-b/OCRB.ttf",
    "/usr/share/fonts/opentype/ocr-b/OCRB.otf",
    "/usr/share/fonts/truetype/fonts-ocr-b/OCRB.ttf",
)
_DEJAVU_DIRS = ("/usr/share/fonts/truetype/dejavu",)


def shared_data_dir() -> Path:
    """``$OPENIDV_SHARED_DATA`` or ``<repo root>/../shared/data``."""
    env = os.environ.get("OPENIDV_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class PortraitSource:
    path: Path
    identity: str


#: notes in the shared manifest that make a photo unusable as a document portrait
_UNUSABLE = ("partial", "low resolution", "small image")


def portrait_sources(faces_dir: Path | None = None) -> list[PortraitSource]:
    """Single-person photos with an identity, from the shared faces manifest."""
    folder = faces_dir or shared_data_dir() / "faces"
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        raise ConfigurationError(
            f"no portrait photos: {manifest} not found; set OPENIDV_SHARED_DATA or pass a faces folder"
        )
    out = []
    with manifest.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            note = (row.get("notes") or "").lower()
            if row.get("identity") and row.get("faces") == "1" and not any(u in note for u in _UNUSABLE):
                path = folder.parent / row["path"]
                if not path.is_file():
                    path = folder / Path(row["path"]).relative_to("faces")
                out.append(PortraitSource(path, row["identity"]))
    if not out:
        raise ConfigurationError(f"no usable single-face photos listed in {manifest}")
    return out


def _font_file(name: str) -> str:
    for folder in _DEJAVU_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file():
            return str(candidate)
    try:
        import matplotlib

        candidate = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
        if candidate.is_file():
            return str(candidate)
    except ImportError:
        pass
    raise ConfigurationError(f"font {name} not found: install fonts-dejavu-core or matplotlib")


def ocrb_path() -> str | None:
    return next((p for p in _OCRB if Path(p).is_file()), None)


@functools.cache
def font(kind: str, size_px: int) -> ImageFont.FreeTypeFont:
    """``sans``, ``sans-bold``, ``serif-bold`` or ``mrz`` at a pixel size (cached)."""
    if kind == "mrz":
        path = ocrb_path() or _font_file("DejaVuSansMono.ttf")
    else:
        path = _font_file(
            {
                "sans": "DejaVuSans.ttf",
                "sans-bold": "DejaVuSans-Bold.ttf",
                "serif-bold": "DejaVuSerif-Bold.ttf",
            }[kind]
        )
    return ImageFont.truetype(path, size_px)
