"""The ring build on one machine and on Spark at N SYNTHETIC accounts: seconds per stage, counts, peak memory.

Each build is the real command (``openidv graph build APPLICANTS --out DIR --engine local|spark``) in its own
process, on a population made by ``openidv.synth.identities.generate`` (seeded); the two engines' links
and rings are checked equal (links as a set with weights, rings byte for byte). Everything measured here is
SYNTHETIC. ``bench/graph.py`` calls ``spark_build_figures(n)``.

Prints JSON. Usage: python bench/graph_spark.py [--n 100000 1000000] [--engines local spark]
[--master 'local[*]'] [--driver-memory 8g] [--no-check]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from openidv.synth.identities import generate


def _openidv() -> str:
    return str(Path(sys.executable).with_name("openidv"))


def _run(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak resident memory (MB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    out, err = child.stdout.read() if child.stdout else "", child.stderr.read() if child.stderr else ""
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"{' '.join(args)} exited {child.returncode}: {out[-500:]} {err[-2000:]}")
    return time.perf_counter() - start, int(usage.ru_maxrss / 1024)


def _same(left: Path, right: Path) -> bool:
    import pyarrow.parquet as pq

    def links(folder: Path) -> dict[tuple[str, str], tuple[float, tuple[str, ...]]]:
        rows = pq.read_table(folder / "links.parquet").to_pylist()
        return {(r["a"], r["b"]): (r["weight"], tuple(r["shared"])) for r in rows}

    rings_equal = (left / "rings.jsonl").read_bytes() == (right / "rings.jsonl").read_bytes()
    return rings_equal and links(left) == links(right)


#: the generator holds a population in memory (about 3 GB a million accounts): larger ones are made in chunks
CHUNK = 1_000_000


def _population(n: int, out: Path, seed: int) -> dict[str, Any]:
    """``n`` SYNTHETIC accounts in ``out/applicants.jsonl``; above ``CHUNK``, independent populations of
    ``CHUNK`` accounts (seeds ``seed``, ``seed + 1``, ...) written one after another, each chunk's account
    ids prefixed with its number so that none collide. Each chunk is a whole population (its own rings,
    families and offices); identifiers drawn from the same pools may link across chunks, as across regions."""
    if n <= CHUNK:
        generate(n, out, seed=seed)
        return {"chunks": 1}
    out.mkdir(parents=True, exist_ok=True)
    chunks = -(-n // CHUNK)
    with (out / "applicants.jsonl").open("w", encoding="utf-8", newline="\n") as sink:
        for k in range(chunks):
            part = out / f"chunk-{k}"
            generate(min(CHUNK, n - k * CHUNK), part, seed=seed + k)
            with (part / "applicants.jsonl").open(encoding="utf-8") as lines:
                for line in lines:
                    sink.write(line.replace('"account_id": "acc_', f'"account_id": "acc_{k:02d}', 1))
            shutil.rmtree(part)
    return {"chunks": chunks, "chunk_size": CHUNK, "chunk_seeds": [seed + k for k in range(chunks)]}


def spark_build_figures(
    n: int,
    *,
    engines: tuple[str, ...] = ("local", "spark"),
    master: str = "local[*]",
    driver_memory: str = "8g",
    seed: int = 1,
    check: bool = True,
) -> dict[str, Any]:
    """Build the rings of ``n`` SYNTHETIC accounts with each engine; stage seconds, counts, peak RSS."""
    work = Path(tempfile.mkdtemp(prefix="graph-spark-bench-"))
    try:
        start = time.perf_counter()
        made = _population(n, work / "population", seed)
        result: dict[str, Any] = {
            "data": "SYNTHETIC",
            "accounts": n,
            "seed": seed,
            "population": made,
            "generate_seconds": round(time.perf_counter() - start, 1),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared)",
        }
        applicants = str(work / "population" / "applicants.jsonl")
        for engine in engines:
            out = work / engine
            args = [_openidv(), "graph", "build", applicants, "--out", str(out), "--engine", engine]
            if engine == "spark":
                args += ["--master", master, "--driver-memory", driver_memory]
            wall, rss = _run(args)
            summary = json.loads((out / "summary.json").read_text())
            summary.update(wall_seconds=round(wall, 1), peak_rss_mb=rss)
            result[engine] = summary
        if check and {"local", "spark"} <= set(engines):
            result["same_links_and_rings"] = _same(work / "local", work / "spark")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--engines", nargs="+", default=["local", "spark"], choices=["local", "spark"])
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--no-check", action="store_true", help="Skip comparing the engines' outputs.")
    args = parser.parse_args()
    figures = [
        spark_build_figures(
            n,
            engines=tuple(args.engines),
            master=args.master,
            driver_memory=args.driver_memory,
            check=not args.no_check,
        )
        for n in args.n
    ]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
