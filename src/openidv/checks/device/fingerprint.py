"""Device identity: a stable device id from fuzzy matching of the browser's attributes.

Why fuzzy: a browser update changes the user agent's version, a new font appears, languages are reordered;
an exact hash of all attributes would call the same phone a new device after every update. So:

- attributes split into **stable** ones (canvas / WebGL / audio hashes, WebGL renderer, screen, cores,
  memory, platform, timezone, fonts, touch points, browser and OS family) that make the signature, and
  **volatile** ones (the browser's version, the languages' order) that are left out;
- each stable attribute is kept only as a short keyed digest (BLAKE2b keyed by the tenant): no raw value
  is stored, and the same device has unrelated digests in two tenants;
- candidates are found by **band keys** (LSH style): each band is the digest of a few stable attributes,
  so a device whose one attribute changed still shares the other bands with its stored signature;
- the best candidate whose weighted attribute similarity is at least ``min_similarity``, that agrees on
  every attribute an update never changes (``FIXED_ATTRIBUTES``: cores, memory, platform, timezone, touch
  points, browser family) and whose font sets overlap by ``min_font_overlap``, is the device; otherwise a
  new id is minted from the signature (keyed, deterministic: two concurrent first sightings
  of one device mint the same id).

Everything here is pure; the store of known devices is the ``device_reputation`` service's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from openidv.checks.device.useragent import parse_user_agent
from openidv.telemetry import DeviceAttributes

#: weight of each stable attribute in the similarity (fonts compare by Jaccard overlap)
ATTRIBUTE_WEIGHTS: Mapping[str, float] = {
    "canvas": 3.0,
    "webgl_hash": 3.0,
    "audio": 2.0,
    "webgl_renderer": 2.0,
    "webgl_vendor": 1.0,
    "screen": 2.0,
    "cores": 1.0,
    "memory": 1.0,
    "platform": 1.0,
    "timezone": 1.0,
    "fonts": 2.0,
    "touch_points": 1.0,
    "family": 1.0,
}
#: LSH bands: a band's key exists when all its attributes are present; any shared band makes a candidate
BANDS: tuple[tuple[str, ...], ...] = (
    ("canvas", "webgl_hash"),
    ("audio", "webgl_renderer"),
    ("screen", "cores", "memory", "platform"),
    ("canvas", "timezone", "fonts"),
    ("webgl_renderer", "screen", "timezone"),
    ("audio", "fonts", "touch_points"),
)
ID_PREFIX = "dev_"
#: attributes no browser update changes: two look-alike machines (same model, same canvas and WebGL
#: renderings) that differ in one of them are two devices, however similar the rest (bench/device.py)
FIXED_ATTRIBUTES: tuple[str, ...] = ("cores", "memory", "platform", "timezone", "touch_points", "family")

#: one stable attribute's digest, or the sorted digests of a set (fonts)
Value = str | tuple[str, ...]
Signature = Mapping[str, Value]


def _digest(tenant: str, *parts: str) -> str:
    h = hashlib.blake2b(digest_size=8, key=tenant.encode("utf-8")[:64], person=b"openidv-device")
    h.update("\x1f".join(parts).encode("utf-8"))
    return h.hexdigest()


def _screen(width: int, height: int, ratio: float | None) -> str:
    """Long side x short side (orientation does not matter) and the pixel ratio."""
    return f"{max(width, height)}x{min(width, height)}@{ratio or ''}"


def _raw_stable(device: DeviceAttributes) -> dict[str, str | tuple[str, ...]]:
    ua = parse_user_agent(device.user_agent)
    screen = device.screen
    raw: dict[str, str | tuple[str, ...] | None] = {
        "canvas": device.canvas_hash,
        "webgl_hash": device.webgl_hash,
        "audio": device.audio_hash,
        "webgl_renderer": device.webgl_renderer,
        "webgl_vendor": device.webgl_vendor,
        "screen": None if screen is None else _screen(screen.width, screen.height, screen.pixel_ratio),
        "cores": None if device.hardware_concurrency is None else str(device.hardware_concurrency),
        "memory": None if device.device_memory is None else str(device.device_memory),
        "platform": device.platform,
        "timezone": device.timezone,
        "fonts": tuple(sorted(set(device.fonts))) or None,
        "touch_points": None if device.max_touch_points is None else str(device.max_touch_points),
        "family": None if ua is None else ua.family,
    }
    return {k: v for k, v in raw.items() if v not in (None, "")}


def signature_of(device: DeviceAttributes, tenant: str) -> dict[str, Value]:
    """The keyed digests of the stable attributes that are present (volatile ones are left out)."""
    out: dict[str, Value] = {}
    for name, value in _raw_stable(device).items():
        if isinstance(value, tuple):
            out[name] = tuple(sorted(_digest(tenant, name, v) for v in value))
        else:
            out[name] = _digest(tenant, name, value)
    return out


def band_keys(signature: Signature, tenant: str) -> list[str]:
    """One key per band whose attributes are all present."""
    keys = []
    for index, band in enumerate(BANDS):
        if all(name in signature for name in band):
            parts = [f"{name}={_flat(signature[name])}" for name in band]
            keys.append(f"b{index}:{_digest(tenant, *parts)}")
    return keys


def _flat(value: Value) -> str:
    return ",".join(value) if isinstance(value, tuple) else value


def similarity(a: Signature, b: Signature, weights: Mapping[str, float] = ATTRIBUTE_WEIGHTS) -> float:
    """Weighted share of agreeing attributes over those present in either (0..1); sets by Jaccard."""
    total = agree = 0.0
    for name, weight in weights.items():
        x, y = a.get(name), b.get(name)
        if x is None and y is None:
            continue
        total += weight
        if x is None or y is None:
            continue
        if isinstance(x, str | bytes) or isinstance(y, str | bytes):
            agree += weight if x == y else 0.0
        else:
            sx, sy = set(x), set(y)
            agree += weight * (len(sx & sy) / len(sx | sy) if sx | sy else 1.0)
    return agree / total if total else 0.0


@dataclass(frozen=True)
class Match:
    device_id: str
    similarity: float
    known: bool  # False: no candidate was close enough, the id is newly minted


def account_key(subject_id: str | None, tenant: str) -> str | None:
    """The keyed digest under which a device's accounts are counted: no subject id is stored in clear."""
    return None if subject_id is None else "acct_" + _digest(tenant, "account", subject_id)


def mint_device_id(signature: Signature, tenant: str) -> str:
    parts = [f"{name}={_flat(signature[name])}" for name in sorted(signature)]
    return ID_PREFIX + _digest(tenant, "id", *parts) + _digest(tenant, "id2", *parts)[:8]


def compatible(
    a: Signature, b: Signature, fixed: Sequence[str] = FIXED_ATTRIBUTES, min_font_overlap: float = 0.6
) -> bool:
    """Could ``b`` be ``a`` after an update? Every fixed attribute present in both agrees, and the font sets
    (an update adds or drops a font or two, never swaps the set) overlap by ``min_font_overlap`` (Jaccard)."""
    if any(name in a and name in b and a[name] != b[name] for name in fixed):
        return False
    fa, fb = a.get("fonts"), b.get("fonts")
    if isinstance(fa, tuple) and isinstance(fb, tuple) and (fa or fb):
        sa, sb = set(fa), set(fb)
        return len(sa & sb) / len(sa | sb) >= min_font_overlap
    return True


def match_device(
    signature: Signature,
    candidates: Iterable[tuple[str, Signature]],
    *,
    tenant: str,
    min_similarity: float,
    fixed: Sequence[str] = FIXED_ATTRIBUTES,
    min_font_overlap: float = 0.6,
) -> Match:
    """The best compatible candidate at ``min_similarity`` or above (ties: the lower id, so the answer is
    stable); else a newly minted id."""
    best: tuple[float, str] | None = None
    for device_id, stored in candidates:
        if not compatible(signature, stored, fixed, min_font_overlap):
            continue
        score = similarity(signature, stored)
        if score >= min_similarity and (best is None or (score, _neg(device_id)) > (best[0], _neg(best[1]))):
            best = (score, device_id)
    if best is not None:
        return Match(best[1], round(best[0], 4), True)
    return Match(mint_device_id(signature, tenant), 1.0, False)


def _neg(device_id: str) -> Sequence[int]:
    return [-ord(c) for c in device_id]
