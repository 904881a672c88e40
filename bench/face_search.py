"""1:N face search: exact (IndexFlatIP) against approximate (IVF-Flat) FAISS galleries of 10k, 100k, 1M.

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

For each size: build time and memory of both indexes, single-query latency (p50/p99, one query at a
time, as an API call searches) and queries per second, and recall@1 / recall@10 of the approximate index
against exact search, with an ``nprobe`` sweep. Threads: FAISS's default (all cores).

Usage: python bench/face_search.py [--sizes 10000,100000,1000000] [--queries 400] [--seed 0]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
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
from openidv.checks.face.gallery import FaceIndex, ivf_nlist, ivf_nprobe
from openidv.imageio import load_image

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
    enrol, probes = [], []
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


def recall(truth: np.ndarray[Any, Any], got: np.ndarray[Any, Any], k: int) -> float:
    hits = [len(set(t[:k]) & set(g[:k])) / k for t, g in zip(truth, got, strict=True)]
    return round(float(np.mean(hits)), 4)


def synthetic_identities(
    kind: str, count: int, anchors: np.ndarray[Any, Any], rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    """``random``: unit vectors with no structure. ``anchored``: each identity at cosine 0.5 to one of the
    real embeddings (so two synthetic identities of the same anchor sit at cosine ~0.25, the top of the
    real impostor range, and identities form as many clusters as there are real photos)."""
    if kind == "random":
        return unit(rng.normal(size=(count, DIM)).astype(np.float32))
    return noisy(anchors[rng.integers(0, len(anchors), count)], 0.5, rng)


def bench_size(
    n: int, kind: str, real: np.ndarray[Any, Any], probes: np.ndarray[Any, Any], n_queries: int, seed: int
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    anchors = np.vstack([real, probes])
    synthetic = synthetic_identities(kind, n - len(real), anchors, rng)
    vectors = np.vstack([real, synthetic]).astype(np.float32)
    ids = np.arange(1, n + 1, dtype=np.int64)
    half = (n_queries - len(probes)) // 2
    mated_of = rng.choice(n, half, replace=False)
    mated = noisy(vectors[mated_of], GENUINE_COSINE, rng)
    queries = np.vstack([probes, mated, synthetic_identities(kind, half, anchors, rng)]).astype(np.float32)
    k = 10

    before = rss_mb()
    start = time.perf_counter()
    exact = FaceIndex.exact(DIM)
    exact.add(ids, vectors)
    exact_build = time.perf_counter() - start
    exact_mem = rss_mb() - before
    _, truth = exact.search(queries, k)  # batched ground truth
    lat_exact = latencies(exact, queries[: min(len(queries), 200)], k)

    before = rss_mb()
    start = time.perf_counter()
    approx = FaceIndex.ivf(vectors, DIM, seed=seed)
    trained = time.perf_counter()
    approx.add(ids, vectors)
    approx_build = time.perf_counter() - start
    approx_mem = rss_mb() - before
    ivf = faiss.extract_index_ivf(approx.index)
    nlist = int(ivf.nlist)
    default_nprobe = ivf_nprobe(nlist)

    sweep = []
    for nprobe in sorted({16, 64, 128, 256, 512, 1024, default_nprobe}):
        if nprobe > nlist:
            continue
        ivf.nprobe = nprobe
        _, got = approx.search(queries, k)
        row = {"nprobe": nprobe, "recall_at_1": recall(truth, got, 1), "recall_at_10": recall(truth, got, k)}
        row.update(latencies(approx, queries, k))
        sweep.append(row)
    ivf.nprobe = default_nprobe
    chosen = next(r for r in sweep if r["nprobe"] == default_nprobe)
    # mated probes: is the enrolled template found first?
    _, top = approx.search(queries[len(probes) : len(probes) + half], 1)
    mated_hit = float(np.mean(top[:, 0] == ids[mated_of]))
    del exact, approx
    return {
        "size": n,
        "data": kind,
        "real_templates": len(real),
        "queries": {"real_probes": len(probes), "synthetic_mated": half, "synthetic_non_mated": half},
        "exact": {
            "index": "IndexIDMap2(IndexFlatIP)",
            "build_s": round(exact_build, 3),
            "memory_mb": round(exact_mem, 1),
            **lat_exact,
        },
        "approx": {
            "index": "IndexIVFFlat (inner product), direct map for removal",
            "nlist": nlist,
            "nprobe": default_nprobe,
            "train_s": round(trained - start, 3),
            "build_s": round(approx_build, 3),
            "memory_mb": round(approx_mem, 1),
            "recall_at_1": chosen["recall_at_1"],
            "recall_at_10": chosen["recall_at_10"],
            "mated_rank1_hit_rate": round(mated_hit, 4),
            "p50_ms": chosen["p50_ms"],
            "p99_ms": chosen["p99_ms"],
            "qps_single": chosen["qps_single"],
            "nprobe_sweep": sweep,
        },
        "ivf_nlist_rule": ivf_nlist(n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="random,anchored", help="synthetic data kinds: random, anchored")
    parser.add_argument("--threads", type=int, default=1, help="FAISS threads (1: one query per core)")
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
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
            "faiss_threads": faiss.omp_get_max_threads(),
        },
        "data": "real SFace embeddings of the shared photos + synthetic identities (see each result's data)",
        "results": [],
    }
    for kind in args.data.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            report["results"].append(bench_size(n, kind, real, probes, args.queries, args.seed))
            print(json.dumps(report["results"][-1]), file=sys.stderr, flush=True)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
