"""``openidv vendors simulate``: three simulated vendors (vendors.yaml) and a labelled set to measure them on.

The vendors differ where real ones do: accuracy per country and document type, price, latency, error rate.
The manifest is an evaluation-layer samples manifest (``id, path, subject, label, species``) with the slice
columns the router and the benchmark read (``capability, country, document_type, channel``) and, for face
match rows, ``path_b`` (the document portrait the selfie is compared with). Its rows are:

- **liveness**: real face photos from the shared data (bona fide) and simulated print, screen-replay and mask
  attacks made from them (``openidv synth attacks``);
- **document**: the real ICAO specimen pages (bona fide) and synthetic documents, half of them forged
  (``openidv synth documents --forgeries``);
- **face_match**: pairs of real photos: the same person (bona fide) or two people (attack, ``impostor``).

Slices (country, channel) are drawn from the seed where the input has none of its own. Everything is seeded:
the same seed writes the same files.
"""

from __future__ import annotations

import csv
import itertools
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

COUNTRIES = ("GB", "DE", "FR", "US")
CHANNELS = ("web", "mobile")
COLUMNS = (
    "id",
    "path",
    "subject",
    "label",
    "species",
    "capability",
    "path_b",
    "country",
    "document_type",
    "channel",
)
REASON_CODES = {
    "doc.tampered": "DOC_TAMPERED_FIELD",
    "doc.font_mismatch": "DOC_FORGERY_SUSPECTED",
    "doc.screen_capture": "DOC_SCREEN_RECAPTURE",
    "face.mismatch": "FACE_MISMATCH",
    "liveness.spoof_print": "PAD_PRINT",
    "liveness.spoof_screen": "PAD_SCREEN_REPLAY",
    "liveness.mask": "PAD_MASK",
}


def vendors_yaml(base_port: int = 8701) -> dict[str, Any]:
    """Three vendors: a cheap fast generalist, a premium one strong on German ID cards and British
    passports, and a mid-priced one that is weak outside Europe and has a scheduled outage."""
    common = {"adapter": "simulated", "retries": 1, "backoff_s": 0.05, "reason_codes": REASON_CODES}
    return {
        "vendors": {
            "swiftid": {
                **common,
                "endpoint": f"http://127.0.0.1:{base_port}",
                "capabilities": ["document", "face_match", "liveness"],
                "timeout_s": 2.0,
                "cost_per_call": 0.35,
                "currency": "EUR",
                "circuit": {"failures": 5, "window_s": 30, "open_s": 15},
                "options": {
                    "seed": 1,
                    "accuracy": {
                        "default": {"tpr": 0.88, "tnr": 0.95},
                        "DE/id_card": {"tpr": 0.75, "tnr": 0.93},
                    },
                    "latency": {"median_ms": 60, "sigma": 0.3},
                    "error_rate": 0.02,
                },
            },
            "veritas": {
                **common,
                "endpoint": f"http://127.0.0.1:{base_port + 1}",
                "capabilities": ["document", "face_match", "liveness"],
                "timeout_s": 4.0,
                "cost_per_call": 1.10,
                "currency": "EUR",
                "circuit": {"failures": 5, "window_s": 30, "open_s": 20},
                "options": {
                    "seed": 2,
                    "accuracy": {
                        "default": {"tpr": 0.96, "tnr": 0.97},
                        "DE/id_card": {"tpr": 0.99, "tnr": 0.98},
                        "GB/passport": {"tpr": 0.98, "tnr": 0.99},
                    },
                    "latency": {"median_ms": 250, "sigma": 0.4},
                    "error_rate": 0.01,
                    "review_rate": 0.03,
                },
            },
            "eurocheck": {
                **common,
                "endpoint": f"http://127.0.0.1:{base_port + 2}",
                "capabilities": ["document", "liveness"],
                "countries": ["GB", "DE", "FR"],
                "timeout_s": 3.0,
                "cost_per_call": 0.60,
                "currency": "EUR",
                "circuit": {"failures": 3, "window_s": 20, "open_s": 10},
                "options": {
                    "seed": 3,
                    "accuracy": {
                        "default": {"tpr": 0.93, "tnr": 0.96},
                        "FR": {"tpr": 0.97, "tnr": 0.98},
                        "*/driver_licence": {"tpr": 0.80, "tnr": 0.94},
                    },
                    "latency": {"median_ms": 120, "sigma": 0.5},
                    "error_rate": 0.05,
                    "outages": [{"start_s": 600, "seconds": 60}],
                },
            },
        }
    }


@dataclass(frozen=True)
class SimulatedSet:
    vendors: Path
    manifest: Path
    rows: int
    by_capability: dict[str, int]


def _row(**values: Any) -> dict[str, str]:
    return {c: "" if values.get(c) is None else str(values[c]) for c in COLUMNS}


def _faces(shared: Path) -> list[tuple[str, Path]]:
    """(identity, photo) of the single-face real photos, partial and low-resolution copies left out."""
    faces = shared / "faces"
    rows = []
    with (faces / "manifest.csv").open(encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            if rec["identity"] and rec["faces"] == "1" and not rec["notes"]:
                rows.append((rec["identity"], shared / rec["path"]))
    return rows


def simulate(
    out: Path,
    *,
    shared: Path,
    seed: int = 0,
    documents: int = 24,
    attacks: int = 48,
    pairs: int = 60,
    base_port: int = 8701,
) -> SimulatedSet:
    """Write ``out/vendors.yaml`` and ``out/manifest.csv`` (with the images it names under ``out``)."""
    from openidv.synth.attacks.dataset import generate as generate_attacks
    from openidv.synth.dataset import generate_documents

    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    real = out / "real"
    real.mkdir(exist_ok=True)
    rows: list[dict[str, str]] = []

    def slice_() -> dict[str, str]:
        return {"country": rng.choice(COUNTRIES), "channel": rng.choice(CHANNELS)}

    def copy(src: Path, prefix: str) -> str:
        target = real / f"{prefix}-{src.name}"
        shutil.copyfile(src, target)
        return str(target.relative_to(out))

    faces = _faces(shared)
    # liveness: real photos (bona fide) and simulated attacks made from real photos
    for i, (identity, photo) in enumerate(faces):
        path = copy(photo, identity)
        rows.append(_row(id=f"live-real-{i:03d}", path=path, subject=identity, label="bona_fide",
                         capability="liveness", **slice_()))  # fmt: skip
    if attacks:
        manifest = generate_attacks(
            attacks, out / "attacks", seed=seed, kinds=["bona_fide", "print", "screen_replay", "mask"]
        )
        for rec in _read_manifest(manifest):
            rows.append(_row(id=f"live-{rec['id']}", path=f"attacks/{rec['path']}", subject=rec["subject"],
                             label=rec["label"], species=rec.get("species"), capability="liveness",
                             **slice_()))  # fmt: skip
    # documents: the real ICAO specimens (genuine specimen pages) and synthetic ones, half forged
    specimens = shared / "documents"
    with (specimens / "manifest.csv").open(encoding="utf-8") as f:
        for i, rec in enumerate(csv.DictReader(f)):
            kind = "passport" if rec["format"] == "TD3" else "id_card"
            rows.append(_row(id=f"doc-real-{i:03d}", path=copy(specimens / rec["file"], "specimen"),
                             subject="specimen-utopia", label="bona_fide", capability="document",
                             country="UTO", document_type=kind, channel=rng.choice(CHANNELS)))  # fmt: skip
    if documents:
        manifest = generate_documents(out / "documents", documents, seed=seed, forgeries=True)
        for rec in _read_manifest(manifest):
            label = "attack" if rec["label"] == "attack" else "bona_fide"
            rows.append(_row(id=f"doc-{rec['id']}", path=f"documents/{rec['path']}", subject=rec["subject"],
                             label=label, species=rec.get("species") if label == "attack" else None,
                             capability="document", document_type=rec.get("document_type"),
                             **slice_()))  # fmt: skip
    # face match: real pairs, genuine within an identity and impostors across identities
    by_identity: dict[str, list[Path]] = {}
    for identity, photo in faces:
        by_identity.setdefault(identity, []).append(photo)
    genuine = [(i, a, b) for i, ps in by_identity.items() for a, b in itertools.combinations(ps, 2)]
    impostor = [(f"{ia}|{ib}", a, b) for (ia, a), (ib, b) in itertools.combinations(faces, 2) if ia != ib]
    rng.shuffle(genuine)
    rng.shuffle(impostor)
    half = pairs // 2
    pair_subjects: dict[str, tuple[str, str]] = {}
    for n, (subject, a, b) in enumerate(genuine[:half] + impostor[: pairs - min(half, len(genuine))]):
        attack = "|" in subject
        rows.append(_row(id=f"face-{n:03d}", path=copy(a, "selfie"), path_b=copy(b, "portrait"),
                         subject=subject.split("|")[0], label="attack" if attack else "bona_fide",
                         species="impostor" if attack else None, capability="face_match",
                         document_type="passport", **slice_()))  # fmt: skip
        first, _, second = subject.partition("|")
        pair_subjects[f"face-{n:03d}"] = (first, second or first)
    manifest_path = out / "manifest.csv"
    with manifest_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    _write_eval_manifests(out, rows, pair_subjects)
    vendors_path = out / "vendors.yaml"
    vendors_path.write_text(
        "# simulated vendors (openidv vendors simulate); serve them with "
        "`openidv vendors serve-simulated --config vendors.yaml`\n"
        + yaml.safe_dump(vendors_yaml(base_port), sort_keys=False),
        encoding="utf-8",
    )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["capability"]] = counts.get(row["capability"], 0) + 1
    return SimulatedSet(vendors_path, manifest_path, len(rows), counts)


#: the evaluation layer's manifests, one per capability, that ``openidv vendors benchmark`` reads:
#: ``--manifest document=DIR/document.csv --manifest liveness=DIR/liveness.csv --manifest DIR/face_match.csv``
SLICES = ("country", "document_type", "channel")


def _write_eval_manifests(
    out: Path, rows: list[dict[str, str]], pair_subjects: dict[str, tuple[str, str]]
) -> None:
    samples = ("id", "path", "subject", "label", "species", *SLICES)
    for capability in ("document", "liveness"):
        with (out / f"{capability}.csv").open("w", newline="", encoding="utf-8") as f:
            samples_writer = csv.DictWriter(f, fieldnames=samples, extrasaction="ignore")
            samples_writer.writeheader()
            samples_writer.writerows(r for r in rows if r["capability"] == capability)
    with (out / "face_match.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("id", "a", "b", "subject_a", "subject_b", *SLICES))
        for r in rows:
            if r["capability"] == "face_match":
                first, second = pair_subjects[r["id"]]
                writer.writerow((r["id"], r["path"], r["path_b"], first, second, *(r[c] for c in SLICES)))


def _read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))
