"""Document check latency on 2-megapixel phone-like photos, and MRZ exact-read rate against PassportEye.

Prints JSON. Generates a seeded synthetic set (``openidv.synth``: TD3 passports and TD1 cards, clean and
degraded captures at 1632 x 1224 = 2.0 MP), then for each photo times the whole document check (every check
in ``DOCUMENT_CHECKS``, sharing one reading, run as the pipeline runs them) and each stage of the reading.
The peer, PassportEye (MIT; Tesseract underneath; bench environment only, never a dependency), reads the
MRZ of the same photos in the same run. Everything is synthetic: the numbers say how the parts behave on
our own renderings, not on real documents.

Usage: python bench/documents.py [--n 16] [--seed 42]
Peer setup (bench only): apt-get install tesseract-ocr; pip install --no-deps passporteye==2.2.2
pytesseract scikit-image imageio pdfminer.six
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

from openidv.checks.document.mrz import read_mrz
from openidv.checks.document.mrz_ocr import _clean, correct
from openidv.checks.registry import create_check
from openidv.evidence import Evidence
from openidv.imageio import load_image
from openidv.library.documents import DOCUMENT_CHECKS
from openidv.pipeline import Pipeline
from openidv.synth.dataset import generate_documents

AS_OF = date(2026, 1, 1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def corrected(text: str, want: tuple[str, ...]) -> tuple[str, ...]:
    """The peer's raw lines after our MRZ-aware correction (separates line finding + OCR from correction)."""
    fmt = {(3, 30): "TD1", (2, 36): "TD2", (2, 44): "TD3"}[(len(want), len(want[0]))]
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) != len(want):
        return ()
    fixed, _ = correct([_clean(line, len(want[0])) for line in lines], fmt, AS_OF)
    return tuple(fixed.split("\n"))


def peer_reader() -> Any:
    try:
        from passporteye import read_mrz as pe_read  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except Exception as exc:
        return f"PassportEye unavailable: {type(exc).__name__}: {exc}"
    return pe_read


def main() -> None:
    warnings.simplefilter("ignore")  # the peer's scikit-image calls are deprecated; keep the JSON readable
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    from openidv.decision.policy import load_policy

    policy = load_policy()
    checks = [create_check(n, policy.params(n)) for n in DOCUMENT_CHECKS]
    pipeline = Pipeline(policy, checks)
    peer = peer_reader()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_documents(
            Path(tmp),
            args.n,
            seed=args.seed,
            as_of=AS_OF,
            template_ids=["uto-passport", "uto-id-card"],
            degradations=("clean", "blur", "noise", "jpeg"),
        )
        folder = manifest.parent
        warm = load_image(folder / "doc00000_front.jpg")
        pipeline.run(Evidence(document_image=warm, as_of=AS_OF))  # load models once, as a server would
        totals: list[float] = []
        stages: dict[str, list[float]] = {}
        ours = theirs = theirs_corrected = peer_ms_total = 0
        peer_times: list[float] = []
        for i in range(args.n):
            truth = json.loads((folder / "truth" / f"doc{i:05d}.json").read_text())
            front = folder / truth["files"]["front"]
            back = folder / truth["files"]["back"] if "back" in truth["files"] else None
            start = time.perf_counter()
            evidence = Evidence(
                document_image=load_image(front),
                document_back=load_image(back) if back else None,
                as_of=AS_OF,
            )
            run = pipeline.run(evidence)
            totals.append((time.perf_counter() - start) * 1000)
            read = next(r for r in run.results if r.check == "document_read")
            reading = read.details.get("reading") or {}
            for stage, ms in (reading.get("timings_ms") or {}).items():
                stages.setdefault(stage, []).append(ms)
            ours += (reading.get("mrz") or {}).get("text") == truth["mrz"]
            if callable(peer):
                mrz_photo = back or front
                t0 = time.perf_counter()
                try:
                    found = peer(str(mrz_photo))
                    text = str(found.aux.get("text", "")) if found is not None else ""
                except Exception:
                    text = ""
                peer_times.append((time.perf_counter() - t0) * 1000)
                want = tuple(truth["mrz"].split("\n"))
                theirs += read_mrz(text, as_of=AS_OF).lines == want
                theirs_corrected += corrected(text, want) == want
        peer_ms_total = sum(peer_times)
    result = {
        "what": "document checks on synthetic 2.0 MP photos (TD3, TD1; clean/blur/noise/jpeg)",
        "n": args.n,
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "whole_document_check_ms": {
            "p50": pct(totals, 0.5),
            "p90": pct(totals, 0.9),
            "max": round(max(totals), 1),
        },
        "reading_stage_ms_p50": {k: pct(v, 0.5) for k, v in stages.items()},
        "mrz_exact_read": {"openidv": round(ours / args.n, 4), "n": args.n},
        "peer": {"name": "PassportEye", "status": peer if isinstance(peer, str) else "ok"},
    }
    if peer_times:
        result["mrz_exact_read"]["passporteye"] = round(theirs / args.n, 4)
        result["mrz_exact_read"]["passporteye_plus_our_correction"] = round(theirs_corrected / args.n, 4)
        result["peer"]["mrz_ms_p50"] = pct(peer_times, 0.5)
        result["peer"]["total_ms"] = round(peer_ms_total, 1)
        result["mrz_ms_ratio_openidv_to_peer"] = round(
            pct(stages.get("mrz", [0.0]), 0.5) / max(1e-6, pct(peer_times, 0.5)), 3
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
