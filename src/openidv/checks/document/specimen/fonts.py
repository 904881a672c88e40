"""Fonts for specimen rendering; nothing here downloads anything.

OCR-B for the MRZ when Debian's ``fonts-ocr-b`` is installed, else DejaVu Sans Mono (shipped with matplotlib
and with Debian's ``fonts-dejavu-core``); DejaVu Sans for the rest.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import ImageFont

from openidv.errors import ConfigurationError

_OCRB = (
    "/usr/share/fonts/truetype/ocr-b/OCRB.ttf",
    "/usr/share/fonts/opentype/ocr-b/OCRB.otf",
    "/usr/share/fonts/truetype/fonts-ocr-b/OCRB.ttf",
)
_DEJAVU_DIRS = ("/usr/share/fonts/truetype/dejavu",)


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
