"""1:N face galleries: FAISS search over encrypted templates, persisted and crash-consistent.

Storage. SQL (``openidv.store.gallery_tables``) is the source of truth: one row per template, its
embedding encrypted with AES-256-GCM (``openidv.crypto``). Each gallery also has an index file,
``<data dir>/galleries/gallery-<id>.faiss.enc``: the serialised FAISS index, encrypted as well (an index
holds the embeddings too), with the gallery *generation* it reflects in its header.

Consistency. Every enrolment or deletion commits its row change and a bump of
``face_galleries.generation`` in one transaction *first*, then updates the in-memory index and rewrites
the index file atomically (write, fsync, rename; for large galleries enrolments are batched into one
rewrite, see ``SNAPSHOT_EVERY``). Before answering, a service compares the generation in
SQL with its own; on a difference (another process wrote, or a crash fell between the SQL commit and the
file write) it reconciles the index with the rows: templates missing from the index are decrypted and
added, ids with no row are removed, and the file is rewritten. Searches also drop any hit whose row is
gone. So no template is ever served from the index without its row, and after any crash the next open
restores "same ids in SQL and index". Template ids are never reused.

Erasure. ``delete`` removes the row (and with it the encrypted template) and the vector from the index,
and rewrites the index file without it; nothing of the template remains in openidv's files beyond
encrypted pages the database has yet to reuse (run ``VACUUM`` on SQLite to reclaim them). Exact and
``pq_rerank`` indexes remove the floats for real (and ``pq_rerank`` encodes its codes again); an HNSW
graph cannot drop a node, so its floats are zeroed in place, its id is filtered out of every search, and
the graph is rebuilt once erased nodes pass ``HNSW_COMPACT_FRACTION`` (``FaceIndex``).

Index kind. Exact inner-product search (``IndexFlatIP``) up to ``approx_threshold`` templates; above it
``APPROX_KIND``: ``pq_rerank`` (a SIMD scan of every template's 4-bit PQ code, then exact re-ranking of
the best ``PQ_CANDIDATES`` on the stored floats), chosen over HNSW and IVF-Flat because it alone kept
recall@10 at 0.99 with p99 under 20 ms at 1M templates on both random and clustered data; ``hnsw``
stays selectable. All measured with bench/face_search.py (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, delete, func, inspect, select, update
from sqlalchemy.orm import Session

from openidv.checks.face.analysis import face_embedding, face_quality, find_faces
from openidv.checks.face.detect import DEFAULT_MAX_SIDE, DEFAULT_MIN_SCORE
from openidv.checks.face.embed import (
    DEFAULT_BACKEND,
    EMBEDDING_DIM,
    F32Array,
    get_embedder,
    similarity_from_cosine,
)
from openidv.checks.face.quality import QUALITY_PARAMS, judge_quality
from openidv.crypto import BiometricCipher, load_cipher
from openidv.decision.policy import Policy, load_policy
from openidv.errors import Conflict, InvalidInput, NotFound
from openidv.imageio import Image
from openidv.settings import Settings
from openidv.store.db import Base, make_engine
from openidv.store.gallery_tables import GALLERY_TABLES, FaceGallery, FaceTemplate

#: galleries with at least this many templates use the approximate (HNSW) index. Measured with
#: bench/face_search.py on the busy 2-core machine, one thread per query: exact search p99 7-9 ms at 100k
#: templates and 120-155 ms at 1M; below ~200k exact stays near the 20 ms budget and keeps recall 1.0
APPROX_THRESHOLD = 200_000
#: HNSW graph degree (``M``), build beam (``efConstruction``) and search beam (``efSearch``) for
#: ``approx_kind="hnsw"``: the best of M 16/32/48 x efConstruction 40/100 at 100k templates in
#: bench/face_search.py (recall@10 0.98 at efSearch 512 on random and clustered data; docs/benchmarks.md)
HNSW_M = 48
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 512
#: an HNSW index is rebuilt without its erased (zeroed) nodes once they are more than this share of it
HNSW_COMPACT_FRACTION = 0.10
#: the ``pq_rerank`` kind: every template's 4-bit product-quantised code (``PQ_M`` sub-quantisers of 16
#: centroids, ``PQ_M / 2`` bytes) is scanned with FAISS's SIMD fast-scan, and the best
#: ``PQ_CANDIDATES`` are re-ranked exactly on the stored floats. A brute-force scan, so its recall does
#: not depend on how the gallery clusters (HNSW and IVF both lose recall on clustered or unstructured
#: data, docs/benchmarks.md); ``PQ_CANDIDATES`` sets recall against latency
PQ_M = 64
PQ_CANDIDATES = 2048
PQ_TRAIN_SAMPLE = 16_384
#: the approximate kind galleries switch to at ``approx_threshold``: ``pq_rerank`` or ``hnsw``
APPROX_KIND = "pq_rerank"
APPROX_KINDS = ("pq_rerank", "hnsw")
MAX_K = 100
#: after an enrolment the index file is rewritten once at least ``size // SNAPSHOT_EVERY`` enrolments
#: are unsaved (every time below 10k templates, every 100th at 1M), so a large gallery does not rewrite
#: its whole file per enrolment; SQL keeps every template meanwhile and a restart reconciles from it.
#: Deletions always rewrite the file at once (erasure).
SNAPSHOT_EVERY = 10_000
#: FAISS threads (``OPENIDV_FAISS_THREADS``, default 1): each API request searches one query, and requests
#: run in parallel; on the 2-core machine one thread per query measured 3x faster than two at 1M
#: templates under load (67 vs 227 ms), since FAISS's OpenMP workers then contend with the request threads
FAISS_THREADS = max(1, int(os.environ.get("OPENIDV_FAISS_THREADS", "1") or 1))
faiss.omp_set_num_threads(FAISS_THREADS)
_FAISS: Any = faiss  # the SWIG module, for names its type stubs lack
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def validate_gallery_name(name: str) -> str:
    if not name or len(name) > 100 or not set(name) <= _NAME_CHARS or name.startswith("."):
        raise InvalidInput(
            f"gallery name {name!r}: use 1-100 letters, digits, '-', '_' or '.', not starting with '.'"
        )
    return name


# ------------------------------------------------------------------------------------------ the index


def ivf_nlist(n: int) -> int:
    """Number of IVF cells for ``n`` vectors: about 4 * sqrt(n), a power of two, with at least 39 training
    points per cell (FAISS's k-means minimum), at least 16 cells."""
    target = 4 * math.sqrt(max(1, n))
    cap = max(16, n // 39)
    nlist = 2 ** round(math.log2(max(1.0, target)))
    while nlist > cap and nlist > 16:
        nlist //= 2
    return int(max(16, nlist))


def ivf_nprobe(nlist: int) -> int:
    """Cells searched per query: an eighth of them. bench/face_search.py at 1M templates (nlist 4096):
    nprobe 512 gives p99 ~16-19 ms with recall@10 0.93 (clustered data) / 0.64 (random vectors) against
    exact search; recall@10 0.99 would need nprobe >= 1024 and ~30 ms p99 (docs/benchmarks.md). IVF is
    kept for the bench and for index files written before HNSW; new approximate indexes are HNSW."""
    return int(max(16, nlist // 8))


@contextlib.contextmanager
def _build_threads() -> Iterator[None]:
    """Use every core while building an index (rare, and the largest cost), then go back to
    ``FAISS_THREADS`` for searches. OpenMP keeps the setting per calling thread."""
    faiss.omp_set_num_threads(max(1, os.cpu_count() or 1))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(FAISS_THREADS)


class FaceIndex:
    """A FAISS inner-product index over L2-normalised embeddings with int64 ids: ``flat`` (exact),
    ``hnsw`` (approximate, the default above ``approx_threshold``) or ``ivf`` (IVF-Flat, older files).

    Erasure in an HNSW graph, which cannot remove nodes: the template's floats are overwritten with
    zeros in the index's own storage (so its biometric data is gone from memory and from every
    serialised copy, and it scores cosine 0 against anything), its id is excluded from every search
    (an ``IDSelector``), and the node stays as a waypoint of the graph until ``needs_compaction``
    (more than ``HNSW_COMPACT_FRACTION`` erased) calls for a rebuild. Erased nodes are recognised by
    their all-zero vector, so an index read back from bytes knows them without other state.

    Not thread-safe for writes on its own: ``GalleryService`` serialises access per gallery.
    """

    def __init__(
        self,
        index: Any,
        kind: str,
        dim: int,
        nprobe: int | None = None,
        ef_search: int | None = None,
        codes: Any = None,
        candidates: int | None = None,
    ) -> None:
        self.index = index
        self.kind = kind
        self.dim = dim
        self.nprobe = nprobe
        self.ef_search = ef_search or (HNSW_EF_SEARCH if kind == "hnsw" else None)
        self.codes = codes  # pq_rerank: the fast-scan PQ index, position-aligned with ``index``'s floats
        self.candidates = candidates or (PQ_CANDIDATES if kind == "pq_rerank" else None)
        self.erased: set[int] = set()
        self._selector: tuple[Any, ...] | None = None
        self._ids_cache: np.ndarray[Any, np.dtype[np.int64]] | None = None
        if kind == "ivf" and nprobe:
            faiss.extract_index_ivf(index).nprobe = nprobe
        if kind == "hnsw":
            self.erased = self._zero_rows()
            self._refresh_selector()

    @classmethod
    def exact(cls, dim: int = EMBEDDING_DIM) -> FaceIndex:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), "flat", dim)

    @classmethod
    def hnsw(
        cls,
        dim: int = EMBEDDING_DIM,
        m: int | None = None,
        ef_construction: int | None = None,
        ef_search: int | None = None,
    ) -> FaceIndex:
        """An empty HNSW graph (``IndexHNSWFlat``, inner product) under an id map."""
        inner = faiss.IndexHNSWFlat(dim, m or HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = ef_construction or HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = ef_search or HNSW_EF_SEARCH
        index = faiss.IndexIDMap(inner)  # keeps a reference to ``inner``
        return cls(index, "hnsw", dim, ef_search=ef_search or HNSW_EF_SEARCH)

    @classmethod
    def pq_rerank(
        cls,
        train: F32Array,
        dim: int = EMBEDDING_DIM,
        candidates: int | None = None,
        pq_m: int = PQ_M,
        seed: int = 0,
    ) -> FaceIndex:
        """An empty ``pq_rerank`` index: exact floats and ids (``IndexIDMap2(IndexFlatIP)``, which
        removes for real) plus a 4-bit fast-scan PQ over the same positions, trained on ``train``
        (a sample of at most ``PQ_TRAIN_SAMPLE``; padded with random unit vectors when tiny)."""
        rng = np.random.default_rng(seed)
        sample = np.asarray(train, dtype=np.float32).reshape(-1, dim)
        if len(sample) > PQ_TRAIN_SAMPLE:
            sample = sample[rng.choice(len(sample), PQ_TRAIN_SAMPLE, replace=False)]
        if len(sample) < 1024:  # k-means needs points; the re-ranking stays exact either way
            pad = rng.normal(size=(1024 - len(sample), dim)).astype(np.float32)
            sample = np.vstack([sample, pad / np.linalg.norm(pad, axis=1, keepdims=True)])
        codes = faiss.IndexPQFastScan(dim, pq_m, 4, faiss.METRIC_INNER_PRODUCT)
        codes.pq.cp.seed = seed
        with _build_threads():
            codes.train(np.ascontiguousarray(sample, dtype=np.float32))
        flat = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        return cls(flat, "pq_rerank", dim, codes=codes, candidates=candidates)

    @classmethod
    def ivf(
        cls,
        train: F32Array,
        dim: int = EMBEDDING_DIM,
        nlist: int | None = None,
        nprobe: int | None = None,
        seed: int = 0,
    ) -> FaceIndex:
        nlist = nlist or ivf_nlist(len(train))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        sample = train
        if len(train) > nlist * 64:
            rng = np.random.default_rng(seed)
            sample = train[rng.choice(len(train), nlist * 64, replace=False)]
        with _build_threads():
            index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        return cls(index, "ivf", dim, nprobe or ivf_nprobe(nlist))

    @classmethod
    def build(
        cls,
        ids: np.ndarray[Any, Any],
        vectors: F32Array,
        *,
        approx_threshold: int = APPROX_THRESHOLD,
        dim: int = EMBEDDING_DIM,
        approx_kind: str = APPROX_KIND,
    ) -> FaceIndex:
        """The right kind of index for this many templates, filled: exact below ``approx_threshold``,
        ``approx_kind`` (``pq_rerank`` or ``hnsw``) at or above it."""
        if approx_kind not in APPROX_KINDS:
            raise ValueError(f"approx_kind must be one of {APPROX_KINDS}, not {approx_kind!r}")
        if len(ids) < approx_threshold:
            index = cls.exact(dim)
        elif approx_kind == "hnsw":
            index = cls.hnsw(dim)
        else:
            index = cls.pq_rerank(vectors, dim)
        if len(ids):
            index.add(ids, vectors)
        return index

    @property
    def ntotal(self) -> int:
        """Templates the index answers with (erased HNSW nodes not counted)."""
        return int(self.index.ntotal) - len(self.erased)

    @property
    def stored(self) -> int:
        """Vectors the index holds, erased (zeroed) HNSW nodes included."""
        return int(self.index.ntotal)

    def add(self, ids: Iterable[int] | np.ndarray[Any, Any], vectors: F32Array) -> None:
        id_arr = np.ascontiguousarray(
            np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids), dtype=np.int64
        )
        vec = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(len(id_arr), self.dim))
        self._ids_cache = None
        with _build_threads() if len(id_arr) > 1000 else contextlib.nullcontext():
            self.index.add_with_ids(vec, id_arr)
            if self.codes is not None:
                self.codes.add(vec)

    def remove(self, ids: Iterable[int]) -> int:
        id_arr = np.asarray(sorted(set(ids)), dtype=np.int64)
        if not len(id_arr):
            return 0
        self._ids_cache = None
        if self.kind == "hnsw":
            return self._erase(id_arr)
        if self.kind == "pq_rerank":
            return self._remove_and_recode(id_arr)
        if self.kind == "ivf":  # the hashtable direct map removes by an explicit id array
            return int(self.index.remove_ids(faiss.IDSelectorArray(len(id_arr), faiss.swig_ptr(id_arr))))
        return int(self.index.remove_ids(faiss.IDSelectorBatch(id_arr)))

    def _remove_and_recode(self, id_arr: np.ndarray[Any, Any]) -> int:
        """``pq_rerank`` removal: zero the floats in place, remove them for real (the flat storage
        closes the gap), wipe the old PQ codes and encode the remaining floats again (about 4 s at 1M
        templates on 2 cores), so neither the template nor its code is left in the index."""
        id_map = self._id_map()
        positions = np.nonzero(np.isin(id_map, id_arr))[0]
        if not len(positions):
            return 0
        self._storage()[positions] = 0.0
        removed = int(self.index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(id_map[positions]))))
        self._ids_cache = None
        old = self.codes
        fresh = faiss.clone_index(old)
        fresh.reset()
        size = int(old.codes.size())
        if size:
            faiss.rev_swig_ptr(old.codes.get(), size)[:] = 0
        if self.index.ntotal:
            with _build_threads():
                fresh.add(np.ascontiguousarray(self._storage()))
        self.codes = fresh
        return removed

    def _storage(self) -> F32Array:
        """The float storage (HNSW graph's or the flat index's), as a writable view (no copy)."""
        inner: Any = faiss.downcast_index(self.index.index)
        storage: Any = inner if self.kind in ("flat", "pq_rerank") else faiss.downcast_index(inner.storage)
        n = int(storage.ntotal)
        if n == 0:
            return np.zeros((0, self.dim), np.float32)
        view: F32Array = faiss.rev_swig_ptr(storage.get_xb(), n * self.dim).reshape(n, self.dim)
        return view

    def _id_map(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        if self._ids_cache is None or len(self._ids_cache) != self.stored:
            self._ids_cache = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        return self._ids_cache

    def _zero_rows(self) -> set[int]:
        if self.stored == 0:
            return set()
        zero = ~self._storage().any(axis=1)
        return {int(i) for i in self._id_map()[zero]}

    def _erase(self, id_arr: np.ndarray[Any, Any]) -> int:
        """Overwrite the vectors of ``id_arr`` with zeros in place and exclude their ids from searches."""
        id_map = self._id_map()
        live = id_arr[~np.isin(id_arr, np.fromiter(self.erased, np.int64, len(self.erased)))]
        positions = np.nonzero(np.isin(id_map, live))[0]
        if not len(positions):
            return 0
        self._storage()[positions] = 0.0
        self.erased.update(int(i) for i in id_map[positions])
        self._refresh_selector()
        return len(positions)

    def needs_compaction(self, fraction: float | None = None) -> bool:
        """True when erased nodes exceed ``fraction`` (``HNSW_COMPACT_FRACTION``) of the graph."""
        bound = HNSW_COMPACT_FRACTION if fraction is None else fraction
        return self.kind == "hnsw" and len(self.erased) > bound * max(1, self.stored)

    def live(self) -> tuple[np.ndarray[Any, np.dtype[np.int64]], F32Array]:
        """Ids and vectors of the templates still served (HNSW): what a compaction rebuilds from."""
        id_map = self._id_map()
        keep = ~np.isin(id_map, np.fromiter(self.erased, np.int64, len(self.erased)))
        return id_map[keep], np.array(self._storage()[keep], dtype=np.float32)

    def _refresh_selector(self) -> None:
        """The search filter "not erased", rebuilt when the erased set changes (searches only read it)."""
        if not self.erased:
            self._selector = None
            return
        gone = np.fromiter(sorted(self.erased), np.int64, len(self.erased))
        batch = faiss.IDSelectorBatch(gone)
        self._selector = (gone, batch, faiss.IDSelectorNot(batch))

    def _search_params(self, k: int) -> Any:
        params = _FAISS.SearchParametersHNSW(efSearch=max(int(self.ef_search or HNSW_EF_SEARCH), k))
        if self._selector is not None:
            params.sel = self._selector[2]
        return params

    def search(self, queries: F32Array, k: int) -> tuple[F32Array, np.ndarray[Any, np.dtype[np.int64]]]:
        """Cosines and ids of the ``k`` nearest templates per query (id -1 where fewer exist)."""
        q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32).reshape(-1, self.dim))
        if self.ntotal == 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        k = min(k, self.ntotal)
        if self.kind == "pq_rerank":
            return self._search_rerank(q, k)
        if self.kind == "hnsw":
            params = self._search_params(k)
            sims, ids = self.index.search(q, k, params=params)
            return sims, ids
        sims, ids = self.index.search(q, k)
        return sims, ids

    def _search_rerank(self, q: F32Array, k: int) -> tuple[F32Array, np.ndarray[Any, np.dtype[np.int64]]]:
        kprime = min(max(int(self.candidates or PQ_CANDIDATES), k), self.stored)
        _, positions = self.codes.search(q, kprime)
        xb, id_map = self._storage(), self._id_map()
        sims = np.full((len(q), k), -np.inf, np.float32)
        ids = np.full((len(q), k), -1, np.int64)
        for row, (query, cand) in enumerate(zip(q, positions, strict=True)):
            cand = cand[cand >= 0]
            exact = xb[cand] @ query
            top = np.argsort(-exact, kind="stable")[:k]
            sims[row, : len(top)] = exact[top]
            ids[row, : len(top)] = id_map[cand[top]]
        return sims, ids

    def ids(self) -> set[int]:
        if self.ntotal == 0:
            return set()
        if self.kind in ("flat", "hnsw", "pq_rerank"):
            return {int(i) for i in self._id_map()} - self.erased
        invlists = self.index.invlists
        out: set[int] = set()
        for cell in range(self.index.nlist):
            size = invlists.list_size(cell)
            if size:
                ptr = invlists.get_ids(cell)
                out.update(int(i) for i in faiss.rev_swig_ptr(ptr, size))
        return out

    def to_bytes(self) -> bytes:
        main = bytes(faiss.serialize_index(self.index))
        if self.codes is None:
            return main
        return struct.pack(">Q", len(main)) + main + bytes(faiss.serialize_index(self.codes))

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        kind: str,
        dim: int,
        nprobe: int | None,
        ef_search: int | None = None,
        candidates: int | None = None,
    ) -> FaceIndex:
        codes = None
        if kind == "pq_rerank":
            (size,) = struct.unpack(">Q", data[:8])
            codes = faiss.deserialize_index(np.frombuffer(data[8 + size :], dtype=np.uint8))
            data = data[8 : 8 + size]
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        found = cls(index, kind, dim, nprobe, ef_search, codes=codes, candidates=candidates)
        if codes is not None and int(codes.ntotal) != found.stored:
            raise ValueError("pq_rerank index file: codes and floats disagree")
        return found


# ------------------------------------------------------------------------------------------ results


class GalleryMatch(BaseModel):
    model_config = ConfigDict(frozen=True)

    face_id: int
    subject_id: str
    similarity: float  # (1 + cosine) / 2, like face_match
    cosine: float


class GalleryInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    backend: str
    model_id: str
    size: int
    index_kind: str
    generation: int


class EnrollResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    gallery: str
    face_id: int
    subject_id: str
    quality: dict[str, Any]
    duplicates: list[GalleryMatch]
    duplicate_threshold: float | None
    duplicate_target: str | None


class SearchResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    gallery: str
    matches: list[GalleryMatch]
    threshold: float | None  # the policy's duplicate threshold: similarity >= threshold is "the same person"
    target: str | None
    gallery_size: int
    index_kind: str
    quality: dict[str, Any]
    timings_ms: dict[str, float]


class DuplicateFace(Conflict):
    """The face is already enrolled under another subject; ``matches`` says where."""

    def __init__(self, message: str, matches: list[GalleryMatch]) -> None:
        super().__init__(message)
        self.matches = matches


# ------------------------------------------------------------------------------------------ the service


@dataclass
class _Loaded:
    gallery_id: int
    name: str
    backend: str
    model_id: str
    dim: int
    generation: int
    index: FaceIndex
    lock: threading.RLock
    unsaved: int = 0


class GalleryService:
    """Named galleries on one database and one index folder. Thread-safe; several processes may share
    the database and folder (each reconciles by generation).
    """

    def __init__(
        self,
        engine: Engine,
        index_dir: Path,
        *,
        cipher: BiometricCipher | None = None,
        settings: Settings | None = None,
        demo: bool = False,
        policy: Policy | None = None,
        approx_threshold: int = APPROX_THRESHOLD,
        snapshot_every: int = SNAPSHOT_EVERY,
        compact_fraction: float = HNSW_COMPACT_FRACTION,
        approx_kind: str = APPROX_KIND,
    ) -> None:
        if approx_kind not in APPROX_KINDS:
            raise ValueError(f"approx_kind must be one of {APPROX_KINDS}, not {approx_kind!r}")
        self.engine = engine
        self.compact_fraction = compact_fraction
        self.approx_kind = approx_kind
        self.snapshot_every = snapshot_every
        self.index_dir = Path(index_dir)
        self._cipher = cipher
        self._settings = settings
        self._demo = demo
        self._policy = policy
        self.approx_threshold = approx_threshold
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        engine: Engine | None = None,
        demo: bool = False,
        ensure_schema: bool = False,
        policy: Policy | None = None,
    ) -> GalleryService:
        """A service on the deployment's database and ``<data dir>/galleries``; the key is read lazily."""
        settings = settings or Settings.from_env()
        engine = engine or make_engine(settings.resolved_database_url())
        if ensure_schema:
            create_gallery_tables(engine)
        return cls(engine, settings.data_dir / "galleries", settings=settings, demo=demo, policy=policy)

    # ---- configuration read lazily, so a service that never touches templates needs no key
    @property
    def cipher(self) -> BiometricCipher:
        if self._cipher is None:
            self._cipher = load_cipher(self._settings, demo=self._demo)
        return self._cipher

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            self._policy = load_policy(self._settings.policy_path if self._settings else None)
        return self._policy

    def _params(self, check: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
        cfg = self.policy.checks.get(check)
        return {**defaults, **(dict(cfg.params) if cfg else {})}

    def duplicate_threshold(self, backend: str) -> tuple[float | None, str | None]:
        """The policy's tuned 1:N threshold, when it was tuned for this backend."""
        cfg = self.policy.checks.get("face_duplicate")
        tuned = cfg.thresholds.get("duplicate") if cfg else None
        match_cfg = self.policy.checks.get("face_match")
        policy_backend = str((match_cfg.params if match_cfg else {}).get("backend", DEFAULT_BACKEND))
        if tuned is None or backend != policy_backend:
            return None, None
        return tuned.value, tuned.target

    # ---- galleries
    def create_gallery(self, name: str, backend: str | None = None) -> GalleryInfo:
        """Create a gallery (idempotent: an existing one is returned; its backend cannot change)."""
        validate_gallery_name(name)
        match_cfg = self.policy.checks.get("face_match")
        backend = backend or str((match_cfg.params if match_cfg else {}).get("backend", DEFAULT_BACKEND))
        embedder = get_embedder(backend)
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            row = session.scalar(select(FaceGallery).where(FaceGallery.name == name))
            if row is None:
                row = FaceGallery(
                    name=name,
                    backend=embedder.backend,
                    model_id=embedder.model_id,
                    dim=embedder.dim,
                    generation=0,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
            elif row.backend != embedder.backend:
                raise Conflict(f"gallery {name!r} holds {row.backend} templates, not {embedder.backend}")
        return self.info(name)

    def galleries(self) -> list[GalleryInfo]:
        with Session(self.engine) as session:
            names = list(session.scalars(select(FaceGallery.name).order_by(FaceGallery.name)))
        return [self.info(n) for n in names]

    def exists(self, name: str) -> bool:
        with Session(self.engine) as session:
            return session.scalar(select(FaceGallery.id).where(FaceGallery.name == name)) is not None

    def size(self, name: str) -> int:
        with Session(self.engine) as session:
            gid = session.scalar(select(FaceGallery.id).where(FaceGallery.name == name))
            if gid is None:
                return 0
            return int(session.scalar(select(func.count()).where(FaceTemplate.gallery_id == gid)) or 0)

    def info(self, name: str) -> GalleryInfo:
        loaded = self._sync(name)
        return GalleryInfo(
            name=loaded.name,
            backend=loaded.backend,
            model_id=loaded.model_id,
            size=loaded.index.ntotal,
            index_kind=loaded.index.kind,
            generation=loaded.generation,
        )

    # ---- enrol, search, delete
    def enroll(
        self,
        name: str,
        subject_id: str,
        image: Image,
        *,
        allow_duplicate: bool = False,
        allow_low_quality: bool = False,
        attributes: Mapping[str, Any] | None = None,
    ) -> EnrollResult:
        """Enrol the largest face of ``image`` for ``subject_id``.

        Raises ``InvalidInput`` when no face is found or its quality fails the policy (unless
        ``allow_low_quality``), and ``DuplicateFace`` (a ``Conflict``) when the face is already enrolled
        under another subject at or above the policy's duplicate threshold (unless ``allow_duplicate``).
        """
        subject_id = _subject(subject_id)
        if not self.exists(name):
            self.create_gallery(name)
        loaded = self._sync(name)
        vector, quality = self._embed(image, loaded.backend, check_quality=not allow_low_quality)
        threshold, target = self.duplicate_threshold(loaded.backend)
        with loaded.lock:
            loaded = self._sync(name)
            duplicates: list[GalleryMatch] = []
            if threshold is not None:
                hits = self._search_loaded(loaded, vector, k=10)
                duplicates = [h for h in hits if h.similarity >= threshold and h.subject_id != subject_id]
            if duplicates and not allow_duplicate:
                first = duplicates[0]
                raise DuplicateFace(
                    f"this face is already enrolled in gallery {name!r} as subject {first.subject_id!r} "
                    f"(face {first.face_id}, similarity {first.similarity:.4f} >= {threshold:.4f}, "
                    f"tuned for {target}); enrol with allow_duplicate to add it anyway",
                    duplicates,
                )
            face_id, generation = self._insert(loaded, subject_id, vector, quality, dict(attributes or {}))
            loaded.index.add([face_id], vector.reshape(1, -1))
            loaded.generation = generation
            self._maybe_upgrade(loaded)
            loaded.unsaved += 1
            if loaded.unsaved >= max(1, loaded.index.ntotal // self.snapshot_every):
                self._write_index(loaded)
        return EnrollResult(
            gallery=name,
            face_id=face_id,
            subject_id=subject_id,
            quality=quality,
            duplicates=duplicates,
            duplicate_threshold=threshold,
            duplicate_target=target,
        )

    def search(self, name: str, image: Image, k: int = 5) -> SearchResult:
        """The ``k`` most similar enrolled faces to the largest face in ``image``."""
        if not 1 <= k <= MAX_K:
            raise InvalidInput(f"k must be between 1 and {MAX_K}")
        if not self.exists(name):
            raise NotFound(f"no gallery named {name!r}")
        start = time.perf_counter()
        loaded = self._sync(name)
        vector, quality = self._embed(image, loaded.backend, check_quality=False)
        embedded = time.perf_counter()
        with loaded.lock:
            matches = self._search_loaded(loaded, vector, k)
            size, kind = loaded.index.ntotal, loaded.index.kind
        done = time.perf_counter()
        threshold, target = self.duplicate_threshold(loaded.backend)
        return SearchResult(
            gallery=name,
            matches=matches,
            threshold=threshold,
            target=target,
            gallery_size=size,
            index_kind=kind,
            quality=quality,
            timings_ms={
                "detect_embed": round((embedded - start) * 1000, 3),
                "search": round((done - embedded) * 1000, 3),
                "total": round((done - start) * 1000, 3),
            },
        )

    def search_vector(self, name: str, vector: F32Array, k: int = 5) -> list[GalleryMatch]:
        loaded = self._sync(name)
        with loaded.lock:
            return self._search_loaded(loaded, vector, k)

    def delete(self, name: str, face_id: int) -> None:
        """Remove one template for good (right to erasure): row, index entry and index file."""
        loaded = self._sync(name)
        with loaded.lock:
            with Session(self.engine) as session, session.begin():
                gone = getattr(
                    session.execute(
                        delete(FaceTemplate).where(
                            FaceTemplate.id == face_id, FaceTemplate.gallery_id == loaded.gallery_id
                        )
                    ),
                    "rowcount",
                    0,
                )
                if not gone:
                    raise NotFound(f"no face {face_id} in gallery {name!r}")
                generation = self._bump(session, loaded.gallery_id)
            self._after_delete(loaded, [face_id], generation)

    def delete_subject(self, name: str, subject_id: str) -> int:
        """Remove every template of one subject; returns how many."""
        loaded = self._sync(name)
        with loaded.lock:
            with Session(self.engine) as session, session.begin():
                ids = list(
                    session.scalars(
                        select(FaceTemplate.id).where(
                            FaceTemplate.gallery_id == loaded.gallery_id,
                            FaceTemplate.subject_id == subject_id,
                        )
                    )
                )
                if not ids:
                    return 0
                session.execute(delete(FaceTemplate).where(FaceTemplate.id.in_(ids)))
                generation = self._bump(session, loaded.gallery_id)
            self._after_delete(loaded, ids, generation)
            return len(ids)

    def check_consistency(self, name: str) -> dict[str, Any]:
        """Compare the rows, the in-memory index and the index file (for tests and operators)."""
        loaded = self._sync(name)
        with loaded.lock, Session(self.engine) as session:
            rows = set(
                session.scalars(select(FaceTemplate.id).where(FaceTemplate.gallery_id == loaded.gallery_id))
            )
            in_memory = loaded.index.ids()
            on_disk = self._read_index(loaded.gallery_id, loaded.dim)
            file_ids = on_disk[1].ids() if on_disk else set()
            return {
                "rows": len(rows),
                "index": len(in_memory),
                "file": len(file_ids),
                "file_generation": on_disk[0] if on_disk else None,
                "generation": loaded.generation,
                "consistent": rows == in_memory == file_ids,
            }

    # ---- internals
    def _embed(self, image: Image, backend: str, *, check_quality: bool) -> tuple[F32Array, dict[str, Any]]:
        detect = self._params(
            "face_quality", {"min_detection_score": DEFAULT_MIN_SCORE, "max_detect_side": DEFAULT_MAX_SIDE}
        )
        found = find_faces(
            image, min_score=float(detect["min_detection_score"]), max_side=int(detect["max_detect_side"])
        )
        face = found.largest
        if face is None:
            raise InvalidInput("no face found in the image (FACE_NOT_FOUND)")
        params = self._params("face_quality", QUALITY_PARAMS)
        report = face_quality(
            image,
            face,
            found.faces,
            other_face_min_relative_size=float(params["other_face_min_relative_size"]),
        )
        failures = judge_quality(report, params)
        if check_quality and failures:
            raise InvalidInput(f"the face's quality is too low to enrol: {', '.join(failures)}")
        quality = {**report.to_dict(), "failed": failures}
        return face_embedding(image, face, backend).vector, quality

    def _search_loaded(self, loaded: _Loaded, vector: F32Array, k: int) -> list[GalleryMatch]:
        sims, ids = loaded.index.search(vector.reshape(1, -1), k)
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], sims[0], strict=True) if i >= 0]
        if not pairs:
            return []
        with Session(self.engine) as session:
            subjects = {
                int(row[0]): str(row[1])
                for row in session.execute(
                    select(FaceTemplate.id, FaceTemplate.subject_id).where(
                        FaceTemplate.gallery_id == loaded.gallery_id,
                        FaceTemplate.id.in_([i for i, _ in pairs]),
                    )
                )
            }
        # a hit without its row was deleted by another process: never serve it
        return [
            GalleryMatch(
                face_id=i,
                subject_id=subjects[i],
                similarity=round(similarity_from_cosine(s), 6),
                cosine=round(float(np.clip(s, -1, 1)), 6),
            )
            for i, s in pairs
            if i in subjects
        ]

    def _insert(
        self,
        loaded: _Loaded,
        subject_id: str,
        vector: F32Array,
        quality: dict[str, Any],
        attributes: dict[str, Any],
    ) -> tuple[int, int]:
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            row = FaceTemplate(
                gallery_id=loaded.gallery_id,
                subject_id=subject_id,
                template=b"",
                quality=quality,
                attributes=attributes,
                created_at=now,
            )
            session.add(row)
            session.flush()
            row.template = self.cipher.encrypt(
                np.asarray(vector, dtype="<f4").tobytes(),
                _template_aad(loaded.gallery_id, row.id, loaded.backend),
            )
            generation = self._bump(session, loaded.gallery_id)
            return int(row.id), generation

    def _bump(self, session: Session, gallery_id: int) -> int:
        session.execute(
            update(FaceGallery)
            .where(FaceGallery.id == gallery_id)
            .values(generation=FaceGallery.generation + 1, updated_at=datetime.now(UTC))
        )
        return int(session.scalar(select(FaceGallery.generation).where(FaceGallery.id == gallery_id)) or 0)

    def _after_delete(self, loaded: _Loaded, ids: list[int], generation: int) -> None:
        loaded.index.remove(ids)
        loaded.generation = generation
        self._maybe_compact(loaded)
        self._write_index(loaded)

    def _maybe_upgrade(self, loaded: _Loaded) -> None:
        """Switch a gallery that grew past ``approx_threshold`` from exact search to HNSW (one rebuild)."""
        if loaded.index.kind == "flat" and loaded.index.ntotal >= self.approx_threshold:
            ids, vectors = self._all_rows(loaded)
            loaded.index = FaceIndex.build(
                ids,
                vectors,
                approx_threshold=self.approx_threshold,
                dim=loaded.dim,
                approx_kind=self.approx_kind,
            )

    def _maybe_compact(self, loaded: _Loaded) -> None:
        """Rebuild an HNSW index without its erased nodes once they pass ``compact_fraction`` (the
        rebuild is exact search again if the gallery shrank below ``approx_threshold``)."""
        if loaded.index.needs_compaction(self.compact_fraction):
            ids, vectors = loaded.index.live()
            loaded.index = FaceIndex.build(
                ids,
                vectors,
                approx_threshold=self.approx_threshold,
                dim=loaded.dim,
                approx_kind=self.approx_kind,
            )

    def _all_rows(
        self, loaded: _Loaded, only: set[int] | None = None
    ) -> tuple[np.ndarray[Any, Any], F32Array]:
        ids: list[int] = []
        vectors: list[F32Array] = []
        with Session(self.engine) as session:
            query = select(FaceTemplate.id, FaceTemplate.template).where(
                FaceTemplate.gallery_id == loaded.gallery_id
            )
            if only is not None:
                if not only:
                    return np.zeros(0, np.int64), np.zeros((0, loaded.dim), np.float32)
                query = query.where(FaceTemplate.id.in_(sorted(only)))
            for template_id, blob in session.execute(query.execution_options(yield_per=10_000)):
                raw = self.cipher.decrypt(blob, _template_aad(loaded.gallery_id, template_id, loaded.backend))
                ids.append(int(template_id))
                vectors.append(np.frombuffer(raw, dtype="<f4"))
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, loaded.dim), np.float32)
        return np.asarray(ids, np.int64), np.vstack(vectors).astype(np.float32)

    def _sync(self, name: str) -> _Loaded:
        """The gallery's index, reconciled with SQL when the generations differ."""
        with Session(self.engine) as session:
            row = session.scalar(select(FaceGallery).where(FaceGallery.name == name))
            if row is None:
                raise NotFound(f"no gallery named {name!r}")
            gallery_id, generation = row.id, row.generation
            meta = (row.backend, row.model_id, row.dim)
        with self._lock:
            loaded = self._loaded.get(name)
            if loaded is None or loaded.gallery_id != gallery_id:
                loaded = _Loaded(gallery_id, name, *meta, -1, FaceIndex.exact(meta[2]), threading.RLock())
                self._loaded[name] = loaded
        if loaded.generation == generation:
            return loaded
        with loaded.lock:
            if loaded.generation != generation:
                self._reconcile(loaded, generation)
        return loaded

    def _reconcile(self, loaded: _Loaded, generation: int) -> None:
        if loaded.generation < 0:  # first use in this process: start from the index file
            on_disk = self._read_index(loaded.gallery_id, loaded.dim)
            if on_disk is not None:
                file_generation, index = on_disk
                loaded.index = index
                if file_generation == generation:
                    loaded.generation = generation
                    return
        with Session(self.engine) as session:
            rows = set(
                session.scalars(select(FaceTemplate.id).where(FaceTemplate.gallery_id == loaded.gallery_id))
            )
            current = int(
                session.scalar(select(FaceGallery.generation).where(FaceGallery.id == loaded.gallery_id)) or 0
            )
        have = loaded.index.ids()
        stale, missing = have - rows, rows - have
        if loaded.index.kind == "flat" and len(rows) >= self.approx_threshold:
            ids, vectors = self._all_rows(loaded)
            loaded.index = FaceIndex.build(
                ids,
                vectors,
                approx_threshold=self.approx_threshold,
                dim=loaded.dim,
                approx_kind=self.approx_kind,
            )
        else:
            loaded.index.remove(stale)
            if missing:
                ids, vectors = self._all_rows(loaded, only=missing)
                loaded.index.add(ids, vectors)
            self._maybe_compact(loaded)
        loaded.generation = current
        self._write_index(loaded)

    # ---- the encrypted index file
    def _index_path(self, gallery_id: int) -> Path:
        return self.index_dir / f"gallery-{gallery_id}.faiss.enc"

    def _write_index(self, loaded: _Loaded) -> None:
        header = json.dumps(
            {
                "generation": loaded.generation,
                "kind": loaded.index.kind,
                "dim": loaded.dim,
                "nprobe": loaded.index.nprobe,
                "ef_search": loaded.index.ef_search,
                "candidates": loaded.index.candidates,
                "count": loaded.index.ntotal,
                "erased": len(loaded.index.erased),
                "backend": loaded.backend,
            }
        ).encode()
        payload = struct.pack(">I", len(header)) + header + loaded.index.to_bytes()
        blob = self.cipher.encrypt(payload, _index_aad(loaded.gallery_id))
        path = self._index_path(loaded.gallery_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(blob)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        loaded.unsaved = 0

    def flush(self) -> None:
        """Write every gallery's index file that has unsaved enrolments (e.g. at shutdown)."""
        for loaded in list(self._loaded.values()):
            with loaded.lock:
                if loaded.unsaved:
                    self._write_index(loaded)

    def _read_index(self, gallery_id: int, dim: int) -> tuple[int, FaceIndex] | None:
        path = self._index_path(gallery_id)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            payload = self.cipher.decrypt(blob, _index_aad(gallery_id))
            (size,) = struct.unpack(">I", payload[:4])
            header = json.loads(payload[4 : 4 + size])
            index = FaceIndex.from_bytes(
                payload[4 + size :],
                header["kind"],
                dim,
                header.get("nprobe"),
                header.get("ef_search"),
                header.get("candidates"),
            )
        except Exception:  # a torn or foreign file is rebuilt from SQL, never trusted
            return None
        return int(header["generation"]), index


def _subject(subject_id: str) -> str:
    subject_id = (subject_id or "").strip()
    if not subject_id or len(subject_id) > 200 or any(ord(c) < 32 for c in subject_id):
        raise InvalidInput("subject_id: 1-200 printable characters")
    return subject_id


def _template_aad(gallery_id: int, template_id: int, backend: str) -> bytes:
    return f"openidv-face-template:{gallery_id}:{template_id}:{backend}".encode()


def _index_aad(gallery_id: int) -> bytes:
    return f"openidv-gallery-index:{gallery_id}".encode()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def create_gallery_tables(engine: Engine) -> None:
    """Create the gallery tables where they are missing (deployments normally get them from the
    Alembic migrations; this serves tests, the demo and the CLI on a fresh SQLite file)."""
    existing = set(inspect(engine).get_table_names())
    missing = [t for t in GALLERY_TABLES if t.name not in existing]
    if missing:
        Base.metadata.create_all(engine, tables=missing)


# ------------------------------------------------------------------------------------------ default service

_default: GalleryService | None = None
_default_lock = threading.Lock()


def set_default_gallery_service(service: GalleryService | None) -> None:
    """Make ``service`` the one that ``face_duplicate`` and the API router use in this process."""
    global _default
    with _default_lock:
        _default = service


def get_default_gallery_service() -> GalleryService:
    """The process's gallery service; built from the environment's settings on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = GalleryService.from_settings()
        return _default
