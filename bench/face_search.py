"""1:N face search: exact (IndexFlatIP) against approximate FAISS indexes (pq_rerank, IVF-Flat, HNSW)
over galleries of 10k, 100k and 1M templates.

Prints JSON. The data, stated plainly: the real SFace embeddings of the shared photos
(../shared/data/faces, the enrolled photo of each identity in datasets/faces/samples.csv) sit in a gallery
filled up with *synthetic* identities, one template each, of two kinds (``--data``):

- ``random``: random unit vectors in 128-d. Nearly orthogonal (cosine ~ N(0, 1/128)), like unrelated
  faces to SFace, but with no structure at all: the hardest case for any approximate index (the true
  top 10 of a query are barely closer than the rest).
- ``anchored``: each synthetic identity at cosine 0.5 to one of the 17 real embeddings, so identities
  form clusters and lookalikes (cosine ~0.25) exist, as in real galleries; still synthetic.

Queries: the real probe photos of the shared set, plus synthetic mated probes (a template plus noise, at
cosine ~0.75 to it: the median genuine cosine of SFace on the shared photos) and synthetic non-mated
probes (new identities of the same kind), half and half.

For each size: build time and memory (resident-set growth) of each index, single-query latency (p50/p99,
one query at a time, as an API call searches) and queries per second, and recall@1 / recall@10 of each
approximate index against exact search (with ties: see ``recall``; plain id recall too):

- ``pq_rerank``, the gallery's choice: a fast-scan of every 4-bit PQ code, then exact re-ranking of the
  best candidates; a candidate-count sweep, and the time of one deletion (which re-encodes);
- IVF-Flat with an ``nprobe`` sweep;
- HNSW (``IndexHNSWFlat``, inner product, under an id map, as the gallery builds it) for several
  ``M`` / ``efConstruction`` with an ``efSearch`` sweep and, for the gallery's HNSW parameters, the same
  after erasing 10% / 25% of the templates in place (zeroed vectors excluded by an ``IDSelector``, as
  the gallery deletes) against exact search over the remaining ones.

Builds use every core (``--build-threads``), searches one thread. ``--indexes`` picks the kinds.

Usage: python bench/face_search.py [--sizes 10000,100000,1000000] [--queries 400] [--seed 0]
       [--data random,anchored] [--indexes pq_rerank,ivf,hnsw] [--hnsw 16:100,32:40,48:100]
       [--hnsw-large 48:100] [--pq-m 64] [--build-threads 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from openidv.checks.face.analysis import face_embedding, find_faces
from openidv.imageio import load_image
from openidv.services.face_index import (
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    PQ_CANDIDATES,
    PQ_M,
    FaceIndex,
    ivf_nlist,
    ivf_nprobe,
)

ROOT = Path(__file__).resolve().parents[1]
DIM = 128
GENUINE_COSINE = 0.75


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def unit(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    out: np.ndarray[Any, Any] = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return out


def real_embeddings() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """SFace embeddings of the shared photos: (enrolled templates, probes)."""
    manifest = ROOT / "datasets/faces/samples.csv"
    enrol: list[np.ndarray[Any, Any]] = []
    probes: list[np.ndarray[Any, Any]] = []
    with manifest.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            image = load_image((manifest.parent / row["path"]).resolve())
            face = find_faces(image).largest
            if face is None:
                continue
            (enrol if row["label"] == "enroll" else probes).append(face_embedding(image, face).vector)
    return np.asarray(enrol, np.float32), np.asarray(probes, np.float32)


def noisy(templates: np.ndarray[Any, Any], cosine: float, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """Unit vectors at about ``cosine`` to each template (random direction orthogonal to it)."""
    noise = rng.normal(size=templates.shape).astype(np.float32)
    noise -= (noise * templates).sum(axis=1, keepdims=True) * templates
    noise = unit(noise)
    return unit(cosine * templates + np.sqrt(1 - cosine**2) * noise)


def latencies(index: FaceIndex, queries: np.ndarray[Any, Any], k: int) -> dict[str, float]:
    times = []
    for q in queries:
        start = time.perf_counter()
        index.search(q[None, :], k)
        times.append((time.perf_counter() - start) * 1000)
    arr = np.asarray(times)
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 3),
        "p99_ms": round(float(np.percentile(arr, 99)), 3),
        "qps_single": round(1000 / float(arr.mean()), 1),
        "n_queries": len(times),
    }


def id_recall(truth: np.ndarray[Any, Any], got: np.ndarray[Any, Any], k: int) -> float:
    """Share of exact search's top-k ids that the approximate index returned (ties count as misses)."""
    hits = [len(set(t[:k]) & set(g[:k])) / k for t, g in zip(truth, got, strict=True)]
    return round(float(np.mean(hits)), 4)


def recall(
    truth_sims: np.ndarray[Any, Any], got_sims: np.ndarray[Any, Any], got: np.ndarray[Any, Any], k: int
) -> float:
    """Recall@k with ties (as ann-benchmarks counts it): the share of the k results that are at least as
    similar as exact search's k-th. The anchored set has exact ties (every synthetic identity is at
    cosine 0.5 to its anchor, so a real probe's top 10 are hundreds of equally near templates), where
    id recall would count an equally near answer as a miss. Both indexes store the floats, so the
    returned similarities are exact."""
    kth = truth_sims[:, k - 1 : k] - 1e-5
    ok = (got_sims[:, :k] >= kth) & (got[:, :k] >= 0)
    return round(float(ok.sum(axis=1).mean() / k), 4)


def recalls(
    truth: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]],
    got: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]],
    k: int,
) -> dict[str, float]:
    (t_sims, t_ids), (g_sims, g_ids) = truth, got
    return {
        "recall_at_1": recall(t_sims, g_sims, g_ids, 1),
        "recall_at_10": recall(t_sims, g_sims, g_ids, k),
        "id_recall_at_1": id_recall(t_ids, g_ids, 1),
        "id_recall_at_10": id_recall(t_ids, g_ids, k),
    }


def synthetic_identities(
    kind: str, count: int, anchors: np.ndarray[Any, Any], rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    """``random``: unit vectors with no structure. ``anchored``: each identity at cosine 0.5 to one of the
    real embeddings (so two synthetic identities of the same anchor sit at cosine ~0.25, the top of the
    real impostor range, and identities form as many clusters as there are real photos)."""
    if kind == "random":
        return unit(rng.normal(size=(count, DIM)).astype(np.float32))
    return noisy(anchors[rng.integers(0, len(anchors), count)], 0.5, rng)


def hnsw_configs(spec: str) -> list[tuple[int, int]]:
    """``"16:100,32:40"`` -> [(M, efConstruction), ...]."""
    out = []
    for item in spec.split(","):
        m, efc = item.split(":")
        out.append((int(m), int(efc)))
    return out


def built(make: Any, build_threads: int) -> tuple[Any, float, float]:
    """Build an index with ``build_threads`` FAISS threads: (index, seconds, resident growth in MB)."""
    gc.collect()
    faiss.omp_set_num_threads(build_threads)
    before = rss_mb()
    start = time.perf_counter()
    index = make()
    seconds = time.perf_counter() - start
    grown = rss_mb() - before
    faiss.omp_set_num_threads(1)
    return index, seconds, grown


def bench_hnsw(
    m: int,
    efc: int,
    ids: np.ndarray[Any, Any],
    vectors: np.ndarray[Any, Any],
    queries: np.ndarray[Any, Any],
    truth: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]],
    k: int,
    build_threads: int,
) -> tuple[FaceIndex, dict[str, Any]]:
    def make() -> FaceIndex:
        index = FaceIndex.hnsw(DIM, m=m, ef_construction=efc)
        index.index.add_with_ids(vectors, ids)  # straight, so build_threads holds
        return index

    index, seconds, grown = built(make, build_threads)
    sweep = []
    for ef in (32, 64, 128, 256, 512, 1024):
        index.ef_search = ef
        row: dict[str, Any] = {"ef_search": ef, **recalls(truth, index.search(queries, k), k)}
        row.update(latencies(index, queries, k))
        sweep.append(row)
    index.ef_search = HNSW_EF_SEARCH
    return index, {
        "index": "IndexIDMap(IndexHNSWFlat, inner product)",
        "M": m,
        "ef_construction": efc,
        "build_s": round(seconds, 3),
        "memory_mb": round(grown, 1),
        "ef_sweep": sweep,
    }


def bench_pq_rerank(
    ids: np.ndarray[Any, Any],
    vectors: np.ndarray[Any, Any],
    queries: np.ndarray[Any, Any],
    truth: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]],
    k: int,
    build_threads: int,
    seed: int,
    pq_m: int = PQ_M,
) -> tuple[FaceIndex, dict[str, Any]]:
    def make() -> FaceIndex:
        index = FaceIndex.pq_rerank(vectors, DIM, seed=seed, pq_m=pq_m)
        index.index.add_with_ids(vectors, ids)
        index.codes.add(vectors)
        return index

    index, seconds, grown = built(make, build_threads)
    sweep = []
    for candidates in (128, 256, 512, 1024, 2048, 4096):
        index.candidates = candidates
        row: dict[str, Any] = {"candidates": candidates, **recalls(truth, index.search(queries, k), k)}
        row.update(latencies(index, queries, k))
        sweep.append(row)
    index.candidates = PQ_CANDIDATES
    faiss.omp_set_num_threads(build_threads)
    start = time.perf_counter()
    index.remove([int(ids[len(ids) // 2])])  # erasure: remove the floats, encode the rest again
    delete_s = time.perf_counter() - start
    faiss.omp_set_num_threads(1)
    return index, {
        "index": f"pq_rerank: IndexPQFastScan (PQ{pq_m}x4, fast-scan) + exact re-rank on IndexFlatIP floats",
        "pq_m": pq_m,
        "build_s": round(seconds, 3),
        "memory_mb": round(grown, 1),
        "delete_one_s": round(delete_s, 3),
        "candidates_sweep": sweep,
    }


def bench_erasure(
    index: FaceIndex,
    exact: FaceIndex,
    ids: np.ndarray[Any, Any],
    queries: np.ndarray[Any, Any],
    k: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Erase 10%, then 25% of the templates in place and measure against exact search over the rest."""
    out = []
    order = rng.permutation(ids)
    for fraction in (0.10, 0.25):
        gone = order[: int(fraction * len(ids))]
        index.remove(gone.tolist())
        batch = faiss.IDSelectorBatch(np.ascontiguousarray(gone, dtype=np.int64))
        keep = faiss.IDSelectorNot(batch)
        params = faiss.SearchParameters()
        params.sel = keep
        truth = exact.index.search(queries, k, params=params)
        got = index.search(queries, k)
        assert not np.isin(got[1], gone).any(), "an erased template was returned"
        row: dict[str, Any] = {
            "erased_fraction": fraction,
            "ef_search": index.ef_search,
            **recalls(truth, got, k),
        }
        row.update(latencies(index, queries, k))
        out.append(row)
        print(json.dumps({"erasure": row}), file=sys.stderr, flush=True)
    return out


def bench_size(
    n: int,
    kind: str,
    real: np.ndarray[Any, Any],
    probes: np.ndarray[Any, Any],
    n_queries: int,
    seed: int,
    configs: list[tuple[int, int]],
    build_threads: int,
    indexes: set[str],
    pq_m: int = PQ_M,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    anchors = np.vstack([real, probes])
    synthetic = synthetic_identities(kind, n - len(real), anchors, rng)
    vectors = np.ascontiguousarray(np.vstack([real, synthetic]).astype(np.float32))
    del synthetic
    ids = np.arange(1, n + 1, dtype=np.int64)
    half = (n_queries - len(probes)) // 2
    mated_of = rng.choice(n, half, replace=False)
    mated = noisy(vectors[mated_of], GENUINE_COSINE, rng)
    queries = np.vstack([probes, mated, synthetic_identities(kind, half, anchors, rng)]).astype(np.float32)
    mated_slice = slice(len(probes), len(probes) + half)
    k = 10

    def make_exact() -> FaceIndex:
        index = FaceIndex.exact(DIM)
        index.index.add_with_ids(vectors, ids)
        return index

    exact, exact_build, exact_mem = built(make_exact, build_threads)
    truth = exact.search(queries, k)  # batched ground truth
    lat_exact = latencies(exact, queries[: min(len(queries), 200)], k)
    result: dict[str, Any] = {
        "size": n,
        "data": kind,
        "data_note": (
            "random unit vectors (no structure)"
            if kind == "random"
            else "anchored: synthetic identities at cosine 0.5 to the real SFace embeddings (clustered)"
        ),
        "real_templates": len(real),
        "queries": {"real_probes": len(probes), "synthetic_mated": half, "synthetic_non_mated": half},
        "exact": {
            "index": "IndexIDMap2(IndexFlatIP)",
            "build_s": round(exact_build, 3),
            "memory_mb": round(exact_mem, 1),
            "recall_at_1": 1.0,
            "recall_at_10": 1.0,
            **lat_exact,
        },
    }
    print(json.dumps({"size": n, "data": kind, "exact": result["exact"]}), file=sys.stderr, flush=True)

    if "pq_rerank" in indexes:
        pq, result["pq_rerank"] = bench_pq_rerank(ids, vectors, queries, truth, k, build_threads, seed, pq_m)
        _, top = pq.search(queries[mated_slice], 1)
        result["pq_rerank"]["mated_rank1_hit_rate"] = round(float(np.mean(top[:, 0] == ids[mated_of])), 4)
        print(
            json.dumps({"size": n, "data": kind, "pq_rerank": result["pq_rerank"]}),
            file=sys.stderr,
            flush=True,
        )
        del pq

    def make_ivf() -> FaceIndex:
        index = FaceIndex.ivf(vectors, DIM, seed=seed)
        index.index.add_with_ids(vectors, ids)
        return index

    if "ivf" not in indexes:
        return bench_hnsw_part(
            result,
            n,
            kind,
            ids,
            vectors,
            queries,
            truth,
            k,
            configs,
            build_threads,
            exact,
            rng,
            mated_slice,
            mated_of,
            indexes,
        )
    approx, ivf_build, ivf_mem = built(make_ivf, build_threads)
    ivf = faiss.extract_index_ivf(approx.index)
    nlist = int(ivf.nlist)
    default_nprobe = ivf_nprobe(nlist)
    sweep = []
    for nprobe in sorted({64, 256, 512, 1024, default_nprobe}):
        if nprobe > nlist:
            continue
        ivf.nprobe = nprobe
        row: dict[str, Any] = {"nprobe": nprobe, **recalls(truth, approx.search(queries, k), k)}
        row.update(latencies(approx, queries, k))
        sweep.append(row)
    result["ivf"] = {
        "index": "IndexIVFFlat (inner product), direct map for removal",
        "nlist": nlist,
        "nlist_rule": ivf_nlist(n),
        "build_s": round(ivf_build, 3),
        "memory_mb": round(ivf_mem, 1),
        "nprobe_sweep": sweep,
    }
    print(json.dumps({"size": n, "data": kind, "ivf": result["ivf"]}), file=sys.stderr, flush=True)
    del approx, ivf
    return bench_hnsw_part(
        result,
        n,
        kind,
        ids,
        vectors,
        queries,
        truth,
        k,
        configs,
        build_threads,
        exact,
        rng,
        mated_slice,
        mated_of,
        indexes,
    )


def bench_hnsw_part(
    result: dict[str, Any],
    n: int,
    kind: str,
    ids: np.ndarray[Any, Any],
    vectors: np.ndarray[Any, Any],
    queries: np.ndarray[Any, Any],
    truth: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]],
    k: int,
    configs: list[tuple[int, int]],
    build_threads: int,
    exact: FaceIndex,
    rng: np.random.Generator,
    mated_slice: slice,
    mated_of: np.ndarray[Any, Any],
    indexes: set[str],
) -> dict[str, Any]:
    if "hnsw" not in indexes:
        return result
    result["hnsw"] = []
    gallery_cfg = (HNSW_M, HNSW_EF_CONSTRUCTION)
    for m, efc in sorted(set(configs) | {gallery_cfg}, key=lambda c: c != gallery_cfg):
        index, hnsw_row = bench_hnsw(m, efc, ids, vectors, queries, truth, k, build_threads)
        if (m, efc) == gallery_cfg:
            hnsw_row["gallery_default"] = True
            _, top = index.search(queries[mated_slice], 1)
            hnsw_row["mated_rank1_hit_rate"] = round(float(np.mean(top[:, 0] == ids[mated_of])), 4)
            hnsw_row["after_erasure"] = bench_erasure(index, exact, ids, queries, k, rng)
        result["hnsw"].append(hnsw_row)
        print(json.dumps({"size": n, "data": kind, "hnsw": hnsw_row}), file=sys.stderr, flush=True)
        del index
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="random,anchored", help="synthetic data kinds: random, anchored")
    parser.add_argument(
        "--hnsw",
        default="16:100,32:40,32:100,48:100",
        help="HNSW M:efConstruction pairs below 1M (the gallery's own pair is always added)",
    )
    parser.add_argument("--hnsw-large", default=f"{HNSW_M}:{HNSW_EF_CONSTRUCTION}", help="the same at 1M+")
    parser.add_argument("--indexes", default="pq_rerank,ivf,hnsw", help="approximate kinds to measure")
    parser.add_argument("--pq-m", type=int, default=PQ_M, help="pq_rerank: 4-bit sub-quantisers")
    parser.add_argument("--build-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, help="also write the JSON here after each size")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)  # searches: one thread per query, as the gallery runs them
    real, probes = real_embeddings()
    cpu = platform.processor()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    report: dict[str, Any] = {
        "bench": "face_search",
        "machine": {
            "cpu": cpu,
            "cores": os.cpu_count(),
            "faiss": faiss.__version__,
            "faiss_search_threads": 1,
            "faiss_build_threads": args.build_threads,
            "load_average_at_start": list(os.getloadavg()),
        },
        "data": "real SFace embeddings of the shared photos + synthetic identities (see each result's data)",
        "results": [],
    }
    for kind in args.data.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            configs = hnsw_configs(args.hnsw_large if n >= 1_000_000 else args.hnsw)
            report["results"].append(
                bench_size(
                    n,
                    kind,
                    real,
                    probes,
                    args.queries,
                    args.seed,
                    configs,
                    args.build_threads,
                    set(args.indexes.split(",")),
                    args.pq_m,
                )
            )
            if args.out:
                args.out.write_text(json.dumps(report, indent=2) + "\n")
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
