"""IANA timezone -> the countries that use it, from the tz database's own tables, read offline.

Sources, first found wins per file: ``/usr/share/zoneinfo`` (Debian's ``tzdata``), then the ``tzdata``
Python package. ``zone.tab`` gives each zone its one country; ``zone1970.tab`` lists every country whose
clocks have agreed with a zone since 1970 (``Europe/Berlin`` also serves Norway and Sweden), so a zone
maps to the union. A zone found in neither file maps to nothing: the signal then stays silent.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

SYSTEM_ZONEINFO = Path("/usr/share/zoneinfo")


def _read(name: str) -> str | None:
    path = SYSTEM_ZONEINFO / name
    if path.is_file():
        return path.read_text(encoding="utf-8")
    try:
        return resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return None


@functools.cache
def zone_countries() -> dict[str, frozenset[str]]:
    """Zone name -> ISO 3166 alpha-2 codes (empty when no table is installed)."""
    out: dict[str, set[str]] = {}
    for name in ("zone.tab", "zone1970.tab"):
        text = _read(name)
        for line in (text or "").splitlines():
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) >= 3:
                out.setdefault(cols[2], set()).update(c.strip().upper() for c in cols[0].split(","))
    return {zone: frozenset(codes) for zone, codes in out.items()}


def countries_of(zone: str) -> frozenset[str]:
    return zone_countries().get(zone, frozenset())
