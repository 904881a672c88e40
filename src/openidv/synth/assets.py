"""Where the generator finds portraits; nothing here downloads anything.

Portraits come from the shared real-face folder (``<repo root>/../shared/data/faces``, or
``$OPENIDV_SHARED_DATA/faces``, or an explicit folder). Fonts are the product's
(``openidv.checks.document.specimen.fonts``): the reader renders template references with them.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from openidv.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[3]


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
