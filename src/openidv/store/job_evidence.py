"""A queued job's evidence as bytes, and back, exactly: the worker must judge what the API received.

Images are kept as their decoded pixels (zlib-compressed, lossless) with the facts about their decoding
(format, size, EXIF orientation, scale), so the checks see the same ``Image`` the API decoded and
the verification's digests match a synchronous one. The bytes are encrypted by the queue before storage.

Layout: ``b"OJE1" | header length (4 bytes, big-endian) | JSON header | image blobs``.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import numpy as np

from openidv.errors import InvalidInput
from openidv.evidence import Evidence
from openidv.imageio import Image

MAGIC = b"OJE1"
_LEN = struct.Struct(">I")


def pack_evidence(evidence: Evidence) -> bytes:
    images: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    offset = 0
    plain: dict[str, Any] = {}
    for name in Evidence.model_fields:
        value = getattr(evidence, name)
        if isinstance(value, Image):
            blob = zlib.compress(value.pixels.tobytes(), 1)
            images.append(
                {
                    "field": name,
                    "offset": offset,
                    "length": len(blob),
                    "shape": list(value.pixels.shape),
                    "source": value.source,
                    "format": value.format,
                    "source_size": list(value.source_size),
                    "orientation": value.orientation,
                    "scale": value.scale,
                }
            )
            blobs.append(blob)
            offset += len(blob)
        elif value is not None:
            plain[name] = value
    header = json.dumps(
        {
            "evidence": Evidence.model_validate(plain).model_dump(mode="json", exclude_none=True),
            "images": images,
        }
    ).encode("utf-8")
    return MAGIC + _LEN.pack(len(header)) + header + b"".join(blobs)


def unpack_evidence(data: bytes) -> Evidence:
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _LEN.size:
        raise InvalidInput("not a packed evidence blob")
    (length,) = _LEN.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + _LEN.size
    header = json.loads(data[start : start + length])
    body = memoryview(data)[start + length :]
    values: dict[str, Any] = dict(header["evidence"])
    for meta in header["images"]:
        raw = zlib.decompress(body[meta["offset"] : meta["offset"] + meta["length"]])
        pixels = np.frombuffer(raw, dtype=np.uint8).reshape(meta["shape"])
        values[meta["field"]] = Image(
            pixels=pixels,
            source=meta["source"],
            format=meta["format"],
            source_size=(int(meta["source_size"][0]), int(meta["source_size"][1])),
            orientation=int(meta["orientation"]),
            scale=float(meta["scale"]),
        )
    return Evidence.model_validate(values)
