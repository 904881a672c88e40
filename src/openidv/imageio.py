"""The one safe image loader: every pixel that enters openidv comes through ``load_image``.

Untrusted bytes are checked before they are decoded:

- size in bytes (``ImageLimits.max_bytes``);
- format, from the file's own header, not its name (JPEG, PNG, WebP, BMP; MPO is a JPEG with extras);
- dimensions read from the header *before* decoding, so a decompression bomb (a few KB that claim
  gigapixels) is refused without allocating its pixels (``max_source_pixels``, ``max_side``);
- a JPEG larger than ``max_pixels`` but within ``max_source_pixels`` (a 50-megapixel phone photo) is
  decoded at 1/2, 1/4 or 1/8 scale by the JPEG decoder itself, never at full size; other formats above
  ``max_pixels`` are refused, since they cannot be reduced while decoding;
- each evidence field has its own pixel cap, by what the checks reading it need (``SELFIE_LIMITS``,
  ``DOCUMENT_LIMITS``): a 1.6 KB WebP claiming 6300x6300 is refused as a selfie before it is decoded;
- the decodes running at once share a memory budget (``DECODE_BUDGET``): each reserves its estimated peak
  before decoding and waits while the budget is spent, so many large uploads at once queue rather than
  multiply the process's memory;
- truncated or corrupt files, unknown formats and zero-sized images raise ``InvalidInput`` with one clear
  line; nothing else escapes.

Within ``cached_images()``, loading the same file content again returns the same ``Image`` object, so the
per-image work memoised on it (faces, embeddings) is done once per distinct image, not once per manifest
row (``face_match.evidence_from_files`` uses it for ``openidv eval run``). Only for work whose memo keys are
values: a key holding another image's ``id()`` could alias once that image is evicted and collected.

The EXIF orientation is applied, so the pixels are upright as a person would see them. The result is an
immutable ``Image`` holding an ``H x W x 3`` ``uint8`` array in BGR order (OpenCV's), plus where it came
from.
"""

from __future__ import annotations

import contextvars
import hashlib
import io
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from openidv.errors import InvalidInput

UInt8Array = npt.NDArray[np.uint8]
T = TypeVar("T")
_MEMO_GUARD = threading.Lock()

#: formats accepted, by the name Pillow reads from the file header (never the file name)
SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP"})
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})


@dataclass(frozen=True)
class ImageLimits:
    """What ``load_image`` accepts. Defaults suit selfies and document photos from phones."""

    #: largest encoded file, in bytes
    max_bytes: int = 25 * 1024 * 1024
    #: largest decoded image, in pixels; larger JPEGs are decoded at a reduced scale
    max_pixels: int = 40_000_000
    #: largest image the header may claim, in pixels; anything larger is refused as a likely bomb
    max_source_pixels: int = 200_000_000
    #: longest side the header may claim, in pixels
    max_side: int = 30_000


DEFAULT_LIMITS = ImageLimits()
#: a selfie is only searched for faces: detection runs on at most 640 px along the long side and embeddings
#: on aligned crops of 112-160 px, so megapixels beyond a phone photo add cost, not accuracy. 16 MP keeps
#: every ordinary phone photo whole (12 MP cameras give 4032x3024 = 12.2 MP, 16 MP ones 4608x3456), so face
#: scores of normal photos are unchanged; a larger JPEG is reduced while decoding, other formats refused.
SELFIE_LIMITS = ImageLimits(max_pixels=16_000_000)
#: a document photo is read (MRZ OCR, barcodes, the portrait, print forensics), where resolution helps; 24 MP
#: keeps a 20 MP camera's photo (5184x3888) whole and still costs less than half the general limit.
DOCUMENT_LIMITS = ImageLimits(max_pixels=24_000_000)
#: peak bytes per decoded pixel while decoding: Pillow's 4-byte pixels, the RGB array, the BGR copy and an
#: orientation copy
DECODE_BYTES_PER_PIXEL = 14


class DecodeBudget:
    """Bounds the memory that concurrent decodes hold at once. Each decode reserves its estimated peak in
    bytes and waits while the reservations would exceed ``max_bytes``; a decode larger than the whole budget
    runs alone. ``peak`` is the most ever reserved at once, ``waiting`` how many decodes wait now."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(1, int(max_bytes))
        self.in_use = 0
        self.peak = 0
        self.waiting = 0
        self._condition = threading.Condition()

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        with self._condition:
            self.waiting += 1
            try:
                while self.in_use and self.in_use + nbytes > self.max_bytes:
                    self._condition.wait()
            finally:
                self.waiting -= 1
            self.in_use += nbytes
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._condition:
                self.in_use -= nbytes
                self._condition.notify_all()


#: shared by every decode in the process: two documents and a selfie at their caps decode at once, more wait
DECODE_BUDGET = DecodeBudget(1024 * 1024 * 1024)


@dataclass(frozen=True, eq=False)
class Image:
    """An upright, decoded image: ``pixels`` is ``H x W x 3`` ``uint8`` in BGR order, read-only.

    Compared by identity, so per-image results (faces found, embeddings) can be cached against it.
    """

    pixels: UInt8Array
    source: str = "array"
    format: str = "RAW"
    #: (width, height) as stored in the file, before orientation and any reduction while decoding
    source_size: tuple[int, int] = (0, 0)
    #: the EXIF orientation tag that was applied (1 means none)
    orientation: int = 1
    #: decoded size / stored size: 1.0 unless a very large JPEG was reduced while decoding
    scale: float = 1.0
    #: per-image results (faces found, embeddings) computed once and shared by the checks of one request
    _cache: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _locks: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        px = self.pixels
        if not isinstance(px, np.ndarray) or px.dtype != np.uint8 or px.ndim != 3 or px.shape[2] != 3:
            raise InvalidInput("an image must be an H x W x 3 uint8 array")
        if px.shape[0] < 1 or px.shape[1] < 1:
            raise InvalidInput("the image has no pixels")
        if px.flags.writeable or not px.flags.c_contiguous:
            px = np.ascontiguousarray(px).copy()  # never share a buffer someone else can still write
            px.setflags(write=False)
            object.__setattr__(self, "pixels", px)
        if self.source_size == (0, 0):
            object.__setattr__(self, "source_size", (px.shape[1], px.shape[0]))

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def bgr(self) -> UInt8Array:
        """The pixels in BGR order (read-only view); what OpenCV expects."""
        return self.pixels

    @property
    def rgb(self) -> UInt8Array:
        """A contiguous RGB copy; what dlib and Pillow expect."""
        return _swap_channels(self.pixels)

    @classmethod
    def from_array(
        cls, array: npt.NDArray[Any], *, order: Literal["bgr", "rgb"] = "bgr", source: str = "array"
    ) -> Image:
        """Wrap an in-memory array (``H x W x 3`` uint8, or ``H x W`` grayscale); the pixels are copied."""
        arr = np.asarray(array)
        if arr.dtype != np.uint8:
            raise InvalidInput(f"image arrays must be uint8, not {arr.dtype}")
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        elif arr.ndim == 3 and arr.shape[2] == 4:
            arr = arr[:, :, :3]
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise InvalidInput(f"image arrays must be H x W x 3, not {arr.shape}")
        if order == "rgb":
            arr = arr[:, :, ::-1]
        arr = np.ascontiguousarray(arr).copy()
        arr.setflags(write=False)
        return cls(pixels=arr, source=source)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per image and key, shared by every check of one request.

        The checks of a verification run concurrently on the same ``Image``: the first caller computes while
        later callers with the same key wait on a per-key lock, so work such as face detection, embeddings or
        reading a document is never done twice. The one place that caches per-image results.
        """
        cache = self._cache
        if key in cache:
            hit: T = cache[key]
            return hit
        with _MEMO_GUARD:
            lock: threading.Lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in cache:
                cache[key] = compute()
            value: T = cache[key]
            return value

    def memoized(self, key: Hashable) -> bool:
        """True when ``memo`` already holds a value for ``key`` (batch helpers skip those)."""
        return key in self._cache

    def describe(self) -> dict[str, Any]:
        """Where the image came from and how it was decoded, for results' details."""
        return {
            "source": self.source,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "source_size": list(self.source_size),
            "orientation": self.orientation,
            "scale": self.scale,
        }


class ImageCache:
    """Decoded images by file content (sha256 of the encoded bytes, with the label and the limits), least
    recently used out once it holds more than ``max_images`` images or ``max_bytes`` of pixels;
    ``cached_images()`` makes ``load_image`` use one. ``hits`` and ``misses`` count lookups."""

    def __init__(self, max_images: int = 256, max_bytes: int = 1 << 30) -> None:
        self.max_images = max(1, int(max_images))
        self.max_bytes = max(1, int(max_bytes))
        self._images: OrderedDict[tuple[Any, ...], Image] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[Any, ...]) -> Image | None:
        with self._lock:
            image = self._images.get(key)
            if image is None:
                self.misses += 1
            else:
                self._images.move_to_end(key)
                self.hits += 1
            return image

    def put(self, key: tuple[Any, ...], image: Image) -> None:
        with self._lock:
            old = self._images.pop(key, None)
            if old is not None:
                self._bytes -= old.pixels.nbytes
            self._images[key] = image
            self._bytes += image.pixels.nbytes
            while len(self._images) > 1 and (
                len(self._images) > self.max_images or self._bytes > self.max_bytes
            ):
                _, dropped = self._images.popitem(last=False)
                self._bytes -= dropped.pixels.nbytes

    def __len__(self) -> int:
        return len(self._images)


_IMAGE_CACHE: contextvars.ContextVar[ImageCache | None] = contextvars.ContextVar(
    "openidv_image_cache", default=None
)


@contextmanager
def cached_images(cache: ImageCache | None = None) -> Iterator[ImageCache]:
    """Within the block, ``load_image`` returns the same ``Image`` for the same file content (and label and
    limits), so the work memoised on it is shared by every row that uses the image (see the module
    docstring for when that is safe). The bytes are still read and hashed each time: a file changed on
    disk is decoded again."""
    active = ImageCache() if cache is None else cache
    token = _IMAGE_CACHE.set(active)
    try:
        yield active
    finally:
        _IMAGE_CACHE.reset(token)


def load_image(
    source: str | Path | bytes | bytearray | memoryview | BinaryIO,
    *,
    limits: ImageLimits = DEFAULT_LIMITS,
    name: str | None = None,
) -> Image:
    """Read, check and decode one image. Raises ``InvalidInput`` with one line for anything unusable.

    ``source`` is a path, the encoded bytes, or a binary file object; ``name`` labels it in messages.
    Inside ``cached_images()``, the same content returns the same ``Image``.
    """
    data, label = _read_bytes(source, limits, name)
    if not data:
        raise InvalidInput(f"{label}: the file is empty")
    cache = _IMAGE_CACHE.get()
    if cache is None:
        return _load(data, label, limits)
    key = (hashlib.sha256(data).hexdigest(), label, limits)
    image = cache.get(key)
    if image is None:
        image = _load(data, label, limits)
        cache.put(key, image)
    return image


def _load(data: bytes, label: str, limits: ImageLimits) -> Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            pil = PILImage.open(io.BytesIO(data), formats=None)
            return _decode(pil, label, limits)
    except InvalidInput:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise InvalidInput(f"{label}: refused as a possible decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise InvalidInput(
            f"{label}: not an image in a supported format ({', '.join(sorted(SUPPORTED_FORMATS))})"
        ) from None
    except MemoryError:
        raise InvalidInput(f"{label}: too large to decode") from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError, IndexError, KeyError) as exc:
        # Pillow signals truncated and corrupt files with these; the message stays one line
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise InvalidInput(f"{label}: corrupt or truncated image ({detail})") from None


def _read_bytes(
    source: str | Path | bytes | bytearray | memoryview | BinaryIO, limits: ImageLimits, name: str | None
) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        label = name or "image"
    elif isinstance(source, str | Path):
        path = Path(source)
        label = name or str(path)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise InvalidInput(f"{label}: no such file") from None
        except OSError as exc:
            raise InvalidInput(f"{label}: cannot read ({exc.strerror})") from None
        if not path.is_file():
            raise InvalidInput(f"{label}: not a regular file")
        if size > limits.max_bytes:
            raise InvalidInput(f"{label}: {size} bytes is over the {limits.max_bytes}-byte limit")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"{label}: cannot read ({exc.strerror})") from None
    else:
        label = name or str(getattr(source, "name", "image"))
        data = source.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise InvalidInput(f"{label}: over the {limits.max_bytes}-byte limit")
    return data, label


def _decode(pil: PILImage.Image, label: str, limits: ImageLimits) -> Image:
    fmt = (pil.format or "").upper()
    if fmt not in SUPPORTED_FORMATS:
        raise InvalidInput(
            f"{label}: {fmt or 'unknown'} images are not supported; use one of "
            f"{', '.join(sorted(SUPPORTED_FORMATS - {'MPO'}))}"
        )
    width, height = pil.size
    if width < 1 or height < 1:
        raise InvalidInput(f"{label}: the image has no pixels ({width}x{height})")
    if max(width, height) > limits.max_side:
        raise InvalidInput(f"{label}: {width}x{height} has a side over the {limits.max_side}-pixel limit")
    pixels = width * height
    if pixels > limits.max_source_pixels:
        raise InvalidInput(
            f"{label}: {width}x{height} ({pixels / 1e6:.1f} megapixels) is over the "
            f"{limits.max_source_pixels / 1e6:g}-megapixel limit; refused as a possible decompression bomb"
        )
    scale = 1.0
    if pixels > limits.max_pixels:
        if fmt not in _JPEG_FORMATS:
            raise InvalidInput(
                f"{label}: {width}x{height} ({pixels / 1e6:.1f} megapixels) is over the "
                f"{limits.max_pixels / 1e6:g}-megapixel limit for {fmt} images"
            )
        # the JPEG decoder reduces by 1/2, 1/4 or 1/8 while decoding: memory stays bounded
        factor = 2 ** math.ceil(math.log2(math.sqrt(pixels / limits.max_pixels)))
        if factor > 8:
            raise InvalidInput(f"{label}: {width}x{height} is too large to reduce within the pixel limit")
        pil.draft("RGB", (math.ceil(width / factor), math.ceil(height / factor)))
        scale = pil.size[0] / width
        if pil.size[0] * pil.size[1] > limits.max_pixels:
            raise InvalidInput(f"{label}: {width}x{height} could not be reduced within the pixel limit")
    if getattr(pil, "n_frames", 1) > 1:
        pil.seek(0)  # animated WebP / multi-picture JPEG: the first frame is the picture
    with DECODE_BUDGET.reserve(pil.size[0] * pil.size[1] * DECODE_BYTES_PER_PIXEL):
        pil.load()
        orientation = _orientation(pil)
        upright = ImageOps.exif_transpose(pil) if orientation != 1 else pil
        rgb = upright.convert("RGB") if upright.mode != "RGB" else upright
        array = np.asarray(rgb, dtype=np.uint8)
        if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] < 1 or array.shape[1] < 1:
            raise InvalidInput(f"{label}: decoded to an unusable shape {array.shape}")
        bgr = _swap_channels(array)
        del array, rgb, upright
    bgr.setflags(write=False)
    return Image(
        pixels=bgr,
        source=label,
        format="JPEG" if fmt == "MPO" else fmt,
        source_size=(width, height),
        orientation=orientation,
        scale=round(scale, 6),
    )


def _swap_channels(array: UInt8Array) -> UInt8Array:
    """RGB <-> BGR as a new contiguous array: OpenCV's ``cvtColor`` is several times faster than numpy's
    reversed-stride copy on a large photo (2.4 vs 27 ms for 3.3 MP on the shared machine), same bytes."""
    import cv2  # lazily: importing openidv.imageio does not load OpenCV

    out: UInt8Array = np.asarray(cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_RGB2BGR), dtype=np.uint8)
    return out


def _orientation(pil: PILImage.Image) -> int:
    try:
        value = pil.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not sink an otherwise good picture
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def encode_jpeg(image: Image, quality: int = 90) -> bytes:
    """Encode an image as JPEG bytes (for tests, demos and thumbnails)."""
    buffer = io.BytesIO()
    PILImage.fromarray(image.rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


#: what the library verbs accept as an image: a path, encoded bytes, a binary file, a PIL image, a numpy
#: array (``H x W x 3`` uint8 in RGB order, as PIL, face_recognition and matplotlib give it, or ``H x W``
#: grayscale) or an ``Image``
ImageLike = Image | str | Path | bytes | bytearray | memoryview | BinaryIO | PILImage.Image | npt.NDArray[Any]


def as_image(value: ImageLike, *, name: str = "image", limits: ImageLimits = DEFAULT_LIMITS) -> Image:
    """Any ``ImageLike`` as an ``Image``; files and bytes go through ``load_image`` and its limits.

    numpy arrays are taken as RGB (the order of PIL, face_recognition and matplotlib); use
    ``Image.from_array(array, order="bgr")`` for OpenCV's order.
    """
    if isinstance(value, Image):
        return value
    if isinstance(value, np.ndarray):
        return Image.from_array(value, order="rgb", source=name)
    if isinstance(value, PILImage.Image):
        rgb = value.convert("RGB") if value.mode != "RGB" else value
        return Image.from_array(np.asarray(rgb, dtype=np.uint8), order="rgb", source=name)
    if isinstance(value, str | Path):
        return load_image(value, limits=limits)
    if isinstance(value, bytes | bytearray | memoryview) or hasattr(value, "read"):
        return load_image(value, limits=limits, name=name)
    raise InvalidInput(
        f"{name}: a {type(value).__name__} is not an image; pass a path, bytes, a PIL image or a numpy array"
    )
