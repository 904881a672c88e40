"""``openidv synth documents``: a labelled, seeded set of document photos with a manifest and ground truth.

Layout of the output folder::

    manifest.csv          id,path,subject,label,species,document_type,template,degradation,rotated
    <id>_front.jpg        the photo ``openidv eval run`` scores (path column)
    <id>_back.jpg         the back, for documents that have one (found by the ``_front`` -> ``_back`` name)
    truth/<id>.json       what the generator wrote: data, printed values, MRZ, barcode, corners, forgery

``label`` is ``bona_fide`` or ``attack``; ``species`` names the forgery (empty for bona fide); ``subject`` is
the
identity whose face is on the document (the unit the evaluation layer resamples by).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from openidv.checks.document.specimen.document import contents_of, render_document
from openidv.checks.document.specimen.holder import random_document
from openidv.checks.document.template_spec import TemplateSpec, load_templates
from openidv.synth.assets import PortraitSource, portrait_sources
from openidv.synth.capture import DEGRADATIONS, capture
from openidv.synth.forgeries import SPECIES, Forged, forge
from openidv.synth.portraits import portrait_for

MANIFEST_COLUMNS = (
    "id",
    "path",
    "subject",
    "label",
    "species",
    "document_type",
    "template",
    "degradation",
    "rotated",
)


@dataclass(frozen=True)
class GeneratedDocument:
    id: str
    row: dict[str, str]
    truth: dict[str, Any]


def _template_for(species: str, templates: Sequence[TemplateSpec], rng: random.Random) -> TemplateSpec:
    if species == "barcode_mismatch":
        pool = [t for t in templates if t.iin]
    elif species == "mrz_viz_mismatch":
        pool = [t for t in templates if t.mrz_format]
    else:
        pool = list(templates)
    return rng.choice(pool or list(templates))


def plan_species(n: int, forgeries: bool, rng: random.Random, species: Sequence[str] = SPECIES) -> list[str]:
    """Half bona fide and half forgeries (species in turn) with ``forgeries``; all bona fide without."""
    if not forgeries:
        return [""] * n
    plan = ["" if i % 2 == 0 else species[(i // 2) % len(species)] for i in range(n)]
    rng.shuffle(plan)
    return plan


def generate_one(
    index: int,
    species: str,
    *,
    seed: int,
    as_of: date,
    degradation: str,
    rotate180: bool,
    portraits: Sequence[PortraitSource],
    templates: Sequence[TemplateSpec],
    out_dir: Path,
) -> GeneratedDocument:
    rng = random.Random(f"{seed}:{index}")
    nprng = np.random.default_rng([seed, index])
    spec = _template_for(species, templates, rng)
    source = rng.choice(list(portraits))
    portrait = portrait_for(source)
    data = random_document(spec, rng, as_of)
    contents = contents_of(data, spec)
    forged: Forged | None = None
    if species:
        others = [p for p in portraits if p.identity != source.identity] or list(portraits)
        forged = forge(
            species,
            spec,
            data,
            contents,
            portrait,
            rng,
            nprng,
            other_portrait=portrait_for(rng.choice(others)),
        )
        sides = forged.sides
    else:
        sides = render_document(spec, contents, portrait, rng)
    doc_id = f"doc{index:05d}"
    files: dict[str, str] = {}
    corners: dict[str, list[list[float]]] = {}
    for name, side in sides.items():
        pixels = forged.photos[name] if forged and name in forged.photos else side.array()
        shot = capture(pixels, nprng, degradation=degradation, rotate180=rotate180)
        rel = f"{doc_id}_{name}.jpg"
        (out_dir / rel).write_bytes(shot.jpeg)
        files[name] = rel
        corners[name] = np.round(shot.corners, 1).tolist()
    truth: dict[str, Any] = {
        "id": doc_id,
        "template": spec.id,
        "document_type": spec.document_type,
        "label": "attack" if species else "bona_fide",
        "species": species,
        "degradation": degradation,
        "rotated_180": rotate180,
        "as_of": as_of.isoformat(),
        "subject": source.identity,
        "portrait_source": str(source.path.name),
        "data": data.as_dict(),
        "printed": {name: side.printed for name, side in sides.items()},
        "mrz": next((s.mrz for s in sides.values() if s.mrz), None),
        "barcode_payload": next((s.barcode_payload for s in sides.values() if s.barcode_payload), None),
        "boxes": {name: {k: list(v) for k, v in side.boxes.items()} for name, side in sides.items()},
        "files": files,
        "corners": corners,
        "forgery": forged.detail if forged else None,
    }
    row = {
        "id": doc_id,
        "path": files["front"],
        "subject": source.identity,
        "label": truth["label"],
        "species": species,
        "document_type": spec.document_type,
        "template": spec.id,
        "degradation": degradation,
        "rotated": "yes" if rotate180 else "no",
    }
    return GeneratedDocument(doc_id, row, truth)


@dataclass(frozen=True)
class _Job:
    index: int
    species: str
    seed: int
    as_of: date
    degradation: str
    rotate180: bool
    portraits: tuple[PortraitSource, ...]
    templates: tuple[TemplateSpec, ...]
    out: Path


def _run_job(job: _Job) -> dict[str, str]:
    doc = generate_one(
        job.index,
        job.species,
        seed=job.seed,
        as_of=job.as_of,
        degradation=job.degradation,
        rotate180=job.rotate180,
        portraits=job.portraits,
        templates=job.templates,
        out_dir=job.out,
    )
    (job.out / "truth" / f"{doc.id}.json").write_text(json.dumps(doc.truth, indent=1), encoding="utf-8")
    return doc.row


def generate_documents(
    out_dir: str | Path,
    n: int,
    *,
    seed: int = 0,
    forgeries: bool = False,
    as_of: date | None = None,
    degradations: Sequence[str] = ("clean",),
    rotate_fraction: float = 0.0,
    species: Sequence[str] = SPECIES,
    faces_dir: Path | None = None,
    template_ids: Sequence[str] | None = None,
    workers: int = 1,
) -> Path:
    """Write ``n`` document photos, their ground truth and ``manifest.csv``; returns the manifest path."""
    for d in degradations:
        if d not in DEGRADATIONS:
            raise ValueError(f"unknown degradation {d!r}; use {', '.join(DEGRADATIONS)}")
    out = Path(out_dir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    as_of = as_of or date.today()
    all_templates = load_templates()
    templates = [all_templates[t] for t in template_ids] if template_ids else list(all_templates.values())
    portraits = portrait_sources(faces_dir)
    rng = random.Random(seed)
    plan = plan_species(n, forgeries, rng, species)
    jobs = [
        _Job(
            i,
            kind,
            seed,
            as_of,
            degradations[i % len(degradations)],
            rng.random() < rotate_fraction,
            tuple(portraits),
            tuple(templates),
            out,
        )
        for i, kind in enumerate(plan)
    ]
    if workers > 1 and n > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            rows = pool.map(_run_job, jobs, chunksize=2)
    else:
        rows = [_run_job(job) for job in jobs]
    manifest = out / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        fh.write(
            f"# synthetic documents: openidv synth documents --n {n} --seed {seed}"
            f"{' --forgeries' if forgeries else ''}; as_of {as_of.isoformat()}\n"
        )
        writer = csv.DictWriter(fh, fieldnames=list(MANIFEST_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return manifest
