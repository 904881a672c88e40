"""Tune the 1:N duplicate threshold of a policy on the labelled split in datasets/faces.

``checks.face_match.thresholds.match`` (1:1) is written by the evaluation layer::

    openidv eval run --manifest datasets/faces/pairs.csv --check face_match --out docs/face-eval/pairs
    openidv thresholds tune --report docs/face-eval/pairs --target fmr=1e-2 --check face_match \
        --name match --policy src/openidv/decision/default_policy.yaml --allow-unsupported

This script sets ``checks.face_duplicate.thresholds.duplicate`` from the 1:N split of ``samples.csv``, where
each probe is also searched against the enrolled photos of *other* identities (leave-identity-out): 13
non-mated searches, where the fixed split that ``openidv eval run --task identification`` reads
(``search.csv``) has only 2. It prints the 1:1 threshold by the same rule as a cross-check
(``--write-match`` writes it too, for a policy without an evaluation report). It writes with
``openidv.decision.policy.write_threshold``. The rule is the usual one: the lowest threshold whose
observed false-match (false-positive identification) rate is at most the target, i.e. a threshold just
above the ``floor(target * n) + 1``-th highest impostor score. Errors at a candidate threshold are
counted by the policy's own judge (``Policy.judge_score``, with the operator of the rule that reads the
threshold), never by a comparison written here.

The default policy no longer takes its face thresholds from here: they come from the embedder's published
operating point (scripts/set_face_thresholds.py, docs/policy.md). This script refuses to write a target the
counts cannot support unless --allow-unsupported, which records the entry as ``status: unsupported``.

Be honest about what this can support: ../shared/data/faces gives 33 genuine and 103 impostor pairs and 13
non-mated searches. At fmr=1e-2 a single impostor pair decides the threshold, and even zero observed
false matches in 103 pairs only bounds the FMR below about 2.9% (95%, rule of three). The achieved rates
and their 95% Clopper-Pearson upper bounds are written next to the threshold. Retune on your own data.

    python scripts/tune_face_thresholds.py [--policy FILE] [--backend sface] [--fmr 1e-2] [--fpir 1e-2]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from openidv.checks.face.analysis import face_embedding, find_faces  # noqa: E402
from openidv.checks.face.embed import cosine, similarity_from_cosine  # noqa: E402
from openidv.checks.face.match import FaceMatchCheck  # noqa: E402
from openidv.decision.policy import (  # noqa: E402
    Policy,
    Threshold,
    default_policy_path,
    load_policy,
    write_threshold,
)
from openidv.eval.bootstrap import clopper_pearson  # noqa: E402
from openidv.eval.samplesize import required_trials  # noqa: E402
from openidv.evidence import Evidence  # noqa: E402
from openidv.imageio import Image, load_image  # noqa: E402
from openidv.results import Status  # noqa: E402


def upper95(errors: int, n: int) -> float:
    """The upper end of the two-sided 95% Clopper-Pearson interval of ``errors / n``."""
    return clopper_pearson(errors, n, 0.95)[1]


def with_threshold(policy: Policy, check: str, name: str, value: float) -> Policy:
    """``policy`` with ``checks.<check>.thresholds.<name>`` set to ``value`` (a candidate, in memory)."""
    cfg = policy.checks[check]
    thresholds = {**cfg.thresholds, name: Threshold(value=value)}
    checks = {**policy.checks, check: dataclasses.replace(cfg, thresholds=thresholds)}
    return dataclasses.replace(policy, checks=checks)


def count_holding(policy: Policy, check: str, name: str, scores: Iterable[float]) -> int:
    """How many scores make the rule reading ``checks.<check>.thresholds.<name>`` fire."""
    return sum(1 for s in scores if policy.judge_score(check, name, s).holds)


def threshold_for(bad_scores: list[float], target: float) -> float:
    """Lowest threshold with at most floor(target * n) bad scores accepted at it.

    Scores carry six decimals, so the threshold is the next six-decimal value above the deciding score.
    """
    ordered = sorted(bad_scores, reverse=True)
    allowed = math.floor(target * len(ordered) + 1e-9)
    if allowed >= len(ordered):
        return round(min(ordered), 6)
    return round(math.floor(ordered[allowed] * 1e6 + 1e-6) / 1e6 + 1e-6, 6)


def read(manifest: Path) -> list[dict[str, str]]:
    with manifest.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=Path, default=ROOT / "datasets/faces/pairs.csv")
    parser.add_argument("--samples", type=Path, default=ROOT / "datasets/faces/samples.csv")
    parser.add_argument("--policy", type=Path, default=default_policy_path())
    parser.add_argument("--backend", default=None, help="default: the policy's face_match backend")
    parser.add_argument("--fmr", default="1e-2", help="target false-match rate (default 1e-2)")
    parser.add_argument("--fpir", default="1e-2", help="target false-positive identification rate")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument(
        "--allow-unsupported",
        action="store_true",
        help="write even when the counts cannot support the target (recorded as status: unsupported)",
    )
    parser.add_argument(
        "--write-match",
        action="store_true",
        help="also write face_match.match (normally written by `openidv thresholds tune`, see docs/face.md)",
    )
    args = parser.parse_args()

    fmr, fpir = float(args.fmr), float(args.fpir)
    policy = load_policy(args.policy)
    params = policy.params("face_match")
    if args.backend:
        params["backend"] = args.backend
    check = FaceMatchCheck(**params)
    backend = check.params.backend
    images: dict[Path, Image] = {}

    def image(base: Path, rel: str) -> Image:
        path = (base.parent / rel).resolve()
        if path not in images:
            images[path] = load_image(path)
        return images[path]

    # ---- 1:1
    rows = read(args.pairs)
    batch = [
        Evidence(selfie=image(args.pairs, r["a"]), document_image=image(args.pairs, r["b"])) for r in rows
    ]
    results = check.run_batch(batch)
    genuine, impostor, fta = [], [], 0
    for row, result in zip(rows, results, strict=True):
        if result.status != Status.OK or result.score is None:
            fta += 1
            continue
        (genuine if row["subject_a"] == row["subject_b"] else impostor).append(result.score)
    t_match = threshold_for(impostor, fmr)
    at_match = with_threshold(policy, "face_match", "match", t_match)
    # the rule reading "match" fires on a mismatch: a false match is an impostor it does not fire on
    false_matches = len(impostor) - count_holding(at_match, "face_match", "match", impostor)
    false_non_matches = count_holding(at_match, "face_match", "match", genuine)
    achieved_match = {
        "fmr": round(false_matches / len(impostor), 6),
        "fmr_upper_95": round(upper95(false_matches, len(impostor)), 6),
        "fnmr": round(false_non_matches / len(genuine), 6),
        "fnmr_upper_95": round(upper95(false_non_matches, len(genuine)), 6),
        "n_genuine": len(genuine),
        "n_impostor": len(impostor),
        "failed_to_acquire": fta,
        "max_impostor": round(max(impostor), 6),
        "min_genuine": round(min(genuine), 6),
    }
    print(f"face_match ({backend}): threshold {t_match:.6f} for fmr={args.fmr}: {achieved_match}")

    # ---- 1:N (non-mated searches: each probe against the enrolled photos of other identities)
    samples = read(args.samples)
    gallery, probes = [], []
    for r in samples:
        img = image(args.samples, r["path"])
        face = find_faces(img, min_score=check.params.min_detection_score).largest
        if face is None:
            continue
        vec = face_embedding(img, face, backend).vector
        (gallery if r["label"] == "enroll" else probes).append((r["subject"], vec))
    non_mated, mated = [], []
    for subject, vec in probes:
        others = [similarity_from_cosine(cosine(vec, g)) for s, g in gallery if s != subject]
        mates = [similarity_from_cosine(cosine(vec, g)) for s, g in gallery if s == subject]
        non_mated.append(max(others))
        if mates:
            mated.append(max(mates))
    t_dup = threshold_for(non_mated, fpir)
    at_dup = with_threshold(policy, "face_duplicate", "duplicate", t_dup)
    # the rule reading "duplicate" fires on a duplicate: a false positive is a non-mated search it fires on
    false_positives = count_holding(at_dup, "face_duplicate", "duplicate", non_mated)
    misses = len(mated) - count_holding(at_dup, "face_duplicate", "duplicate", mated)
    achieved_dup = {
        "fpir": round(false_positives / len(non_mated), 6),
        "fpir_upper_95": round(upper95(false_positives, len(non_mated)), 6),
        "fnir": round(misses / len(mated), 6),
        "fnir_upper_95": round(upper95(misses, len(mated)), 6),
        "n_mated_searches": len(mated),
        "n_non_mated_searches": len(non_mated),
        "gallery_size": len(gallery),
        "max_non_mated": round(max(non_mated), 6),
        "min_mated": round(min(mated), 6),
    }
    print(f"face_duplicate ({backend}): threshold {t_dup:.6f} for fpir={args.fpir}: {achieved_dup}")
    supported = {
        "match": len(impostor) >= required_trials(fmr),
        "duplicate": len(non_mated) >= required_trials(fpir),
    }
    achieved_match["supported"], achieved_dup["supported"] = supported["match"], supported["duplicate"]
    if args.dry_run:
        return
    writing = ["match", "duplicate"] if args.write_match else ["duplicate"]
    short = [n for n in writing if not supported[n]]
    if short and not args.allow_unsupported:
        raise SystemExit(
            f"error: {', '.join(short)}: fmr={args.fmr} needs {required_trials(fmr):,} impostor pairs (has "
            f"{len(impostor)}), fpir={args.fpir} needs {required_trials(fpir):,} non-mated searches (has "
            f"{len(non_mated)}) (rule of three, 95%); the default policy's face thresholds come from the "
            "published operating point (scripts/set_face_thresholds.py); pass --allow-unsupported to write "
            "anyway (recorded as status: unsupported)"
        )

    header = _leading_comments(args.policy)
    source = f"scripts/tune_face_thresholds.py; backend {backend}"
    if args.write_match:
        write_threshold(
            args.policy,
            "face_match",
            "match",
            t_match,
            target=f"fmr={args.fmr}",
            achieved=achieved_match,
            source=f"datasets/faces/pairs.csv; {source}",
            status="supported" if supported["match"] else "unsupported",
        )
    if "face_duplicate" in load_policy(args.policy).checks:
        write_threshold(
            args.policy,
            "face_duplicate",
            "duplicate",
            t_dup,
            target=f"fpir={args.fpir}",
            achieved=achieved_dup,
            source=f"datasets/faces/samples.csv (leave-identity-out non-mated searches); {source}",
            status="supported" if supported["duplicate"] else "unsupported",
        )
    _restore_comments(args.policy, header)
    print(f"wrote {args.policy}")


def _leading_comments(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    head = []
    for line in lines:
        if not line.startswith("#"):
            break
        head.append(line)
    return "".join(head)


def _restore_comments(path: Path, header: str) -> None:
    """write_threshold re-serialises the YAML; keep the file's leading comment block."""
    text = path.read_text(encoding="utf-8")
    if header and not text.startswith(header):
        path.write_text(header + text, encoding="utf-8")


if __name__ == "__main__":
    main()
