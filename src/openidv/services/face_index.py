"""The FAISS index of a 1:N face gallery: index kinds, erasure, and its bytes. No SQL, no policy.

Index kind. Exact inner-product search (``IndexFlatIP``) up to ``approx_threshold`` templates; above it
``APPROX_KIND``: ``pq_rerank`` (a SIMD scan of every template's 4-bit PQ code, then exact re-ranking of
the best ``PQ_CANDIDATES`` on the stored floats), chosen over HNSW and IVF-Flat because it alone kept
recall@10 at 0.99 with p99 under 20 ms at 1M templates on both random and clustered data; ``hnsw``
stays selectable. All measured with bench/face_search.py (docs/benchmarks.md).

Erasure. Exact and ``pq_rerank`` indexes remove the floats for real (and ``pq_rerank`` encodes its codes
again); an HNSW graph cannot drop a node, so its floats are zeroed in place, its id is filtered out of
every search, and the graph is rebuilt once erased nodes pass ``HNSW_COMPACT_FRACTION``.

Used by ``openidv.services.face_gallery``, which keeps it in step with the stored templates.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
from collections.abc import Iterable, Iterator
from typing import Any

import faiss
import numpy as np

from openidv.checks.face.embed import EMBEDDING_DIM, F32Array

#: galleries with at least this many templates use the approximate index. Measured with
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
#: FAISS threads (``OPENIDV_FAISS_THREADS``, default 1): each API request searches one query, and requests
#: run in parallel; on the 2-core machine one thread per query measured 3x faster than two at 1M
#: templates under load (67 vs 227 ms), since FAISS's OpenMP workers then contend with the request threads
FAISS_THREADS = max(1, int(os.environ.get("OPENIDV_FAISS_THREADS", "1") or 1))
faiss.omp_set_num_threads(FAISS_THREADS)
_FAISS: Any = faiss  # the SWIG module, for names its type stubs lack


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
