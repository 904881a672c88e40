"""Training recipe for the document forgery model (``openidv train document-forensics``), seeded.

Data: a synthetic set from ``openidv.synth`` (generated here, or an existing folder with a manifest), bona
fide documents and the forgery species that leave traces in the pixels. The two species that only
consistency can see (``mrz_viz_mismatch``, ``barcode_mismatch``: a counterfeit printed whole, with no pixel
trace) are left out. A seeded, subject-blind split keeps a held-out part for the numbers in the model card.
Everything here is synthetic: the card says so, and says what that means.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import multiprocessing
import platform
import tempfile
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from openidv.checks.document.analysis import measure_signals
from openidv.checks.document.forensics import FEATURES
from openidv.checks.document.forensics_model import (
    GENUINE,
    MODEL_ID,
    ForensicsModel,
    artifact_path,
    card_path,
    transform,
)
from openidv.checks.document.photo_check import document_evidence
from openidv.checks.document.reader import read_document
from openidv.models import sha256_file

CONSISTENCY_ONLY = ("mrz_viz_mismatch", "barcode_mismatch")
TRAIN_DEGRADATIONS = ("clean", "clean", "blur", "noise", "jpeg", "light", "glare", "motion", "lowres")


def _signals_row(args: tuple[str, str, str]) -> dict[str, Any] | None:
    folder, path, species = args
    evidence = document_evidence([Path(folder) / path])
    assert evidence.document_image is not None
    reading = read_document(evidence.document_image, evidence.document_back, ocr=False)
    measured = measure_signals(reading)
    if measured is None:
        return None
    return {"path": path, "species": species or GENUINE, **measured[1]}


def signals_table(manifest: Path, workers: int = 2) -> list[dict[str, Any]]:
    """Signals for every row of a synthetic manifest (rows where no document was found are dropped)."""
    lines = [line for line in manifest.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(lines))
    jobs = [
        (str(manifest.parent), r["path"], r.get("species", ""))
        for r in rows
        if r.get("species", "") not in CONSISTENCY_ONLY
    ]
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            out = pool.map(_signals_row, jobs, chunksize=4)
    else:
        out = [_signals_row(j) for j in jobs]
    return [r for r in out if r is not None]


def fit(
    rows: Sequence[dict[str, Any]],
    seed: int,
    c: float = 1.0,
    features: Sequence[str] = FEATURES,
    model_id: str = MODEL_ID,
) -> ForensicsModel:
    """Balanced multinomial logistic regression over signed-log ``features``; ``genuine`` sorts first."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    classes = sorted({r["species"] for r in rows})
    x = transform(np.array([[float(r[f]) for f in features] for r in rows]))
    y = np.array([classes.index(r["species"]) for r in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced", random_state=seed)
    clf.fit((x - mean) / scale, y)
    coef, intercept = np.asarray(clf.coef_, dtype=np.float64), np.asarray(clf.intercept_, dtype=np.float64)
    if len(classes) == 2:  # sklearn keeps one row for two classes: the softmax of (0, w.x + b) is the same
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    return ForensicsModel(
        features=tuple(features),
        classes=tuple(classes),
        mean=mean,
        scale=scale,
        coef=coef,
        intercept=intercept,
        meta={},
        model_id=model_id,
    )


def write_card(folder: Path, model_id: str, card: dict[str, Any]) -> None:
    """The model card beside the artifact, headed by the recipe that wrote it and what it was trained on."""
    card_path(folder, model_id).write_text(
        f"# Model card: written by `openidv train {model_id}`. Trained on SYNTHETIC data only.\n"
        + yaml.safe_dump(card, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )


def detection_at(bona: Sequence[float], attack: Sequence[float], bpcer: float) -> dict[str, Any]:
    """Attack detection rate (1 - APCER) at the threshold that rejects at most ``bpcer`` of bona fide."""
    b = np.sort(np.asarray(bona))
    if len(b) == 0 or len(attack) == 0:
        return {"detection": None, "threshold": None, "n_bona_fide": len(b), "n_attack": len(attack)}
    threshold = float(np.quantile(b, 1 - bpcer, method="higher"))
    detected = float(np.mean(np.asarray(attack) > threshold))
    return {
        "detection": round(detected, 4),
        "threshold": round(threshold, 6),
        "bpcer_achieved": round(float(np.mean(b > threshold)), 4),
        "n_bona_fide": len(b),
        "n_attack": len(attack),
    }


def held_out_metrics(model: ForensicsModel, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    probs = [model.probabilities(r) for r in rows]
    bona = [i for i, r in enumerate(rows) if r["species"] == GENUINE]
    out: dict[str, Any] = {}
    overall = [1 - p[GENUINE] for p in probs]
    for species in sorted({r["species"] for r in rows} - {GENUINE}):
        att = [i for i, r in enumerate(rows) if r["species"] == species]
        own = [p.get(species, 0.0) for p in probs]
        out[species] = {
            "species_score": {
                f"bpcer_{int(t * 100)}pct": detection_at([own[i] for i in bona], [own[i] for i in att], t)
                for t in (0.01, 0.05)
            },
            "overall_score": {
                f"bpcer_{int(t * 100)}pct": detection_at(
                    [overall[i] for i in bona], [overall[i] for i in att], t
                )
                for t in (0.01, 0.05)
            },
        }
    return out


def _split(
    rows: Sequence[dict[str, Any]], seed: int, test_fraction: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    train, test = [], []
    for species in sorted({r["species"] for r in rows}):
        group = [r for r in rows if r["species"] == species]
        order = rng.permutation(len(group))
        cut = round(len(group) * test_fraction)
        test += [group[i] for i in order[:cut]]
        train += [group[i] for i in order[cut:]]
    return train, test


def train_document_forensics(
    out_dir: Path | None = None,
    *,
    n: int = 360,
    seed: int = 0,
    data: Path | None = None,
    workers: int = 2,
    test_fraction: float = 0.3,
) -> dict[str, Any]:
    """Generate (or read) a synthetic set, fit the model, write the artifact and its card; return the card."""
    from openidv.synth.dataset import generate_documents

    with tempfile.TemporaryDirectory(prefix="openidv-docs-") as tmp:
        if data is None:
            manifest = generate_documents(
                Path(tmp),
                n,
                seed=seed,
                forgeries=True,
                as_of=date(2026, 1, 1),
                degradations=TRAIN_DEGRADATIONS,
                rotate_fraction=0.1,
                workers=workers,
            )
        else:
            manifest = data / "manifest.csv" if data.is_dir() else data
        rows = signals_table(manifest, workers)
    train, test = _split(rows, seed, test_fraction)
    model = fit(train, seed)
    metrics = held_out_metrics(model, test)
    counts = {s: sum(1 for r in rows if r["species"] == s) for s in sorted({r["species"] for r in rows})}
    version = datetime.now(UTC).strftime("%Y.%m.%d")
    model = dataclasses.replace(
        model, meta={"version": version, "seed": seed, "trained_on": "synthetic documents only"}
    )
    folder = out_dir or artifact_path().parent
    folder.mkdir(parents=True, exist_ok=True)
    artifact_path(folder).write_text(json.dumps(model.to_json(), indent=1), encoding="utf-8")
    card = {
        "id": MODEL_ID,
        "version": version,
        "sha256": sha256_file(artifact_path(folder)),
        "licence": "Apache-2.0 (trained in-house; no third-party weights)",
        "kind": "multinomial logistic regression over measured forensic signals "
        "(openidv.checks.document.forensics)",
        "training_data": {
            "source": "SYNTHETIC ONLY: documents generated by openidv.synth "
            "(fictional issuers UTO, Jefferson, Acadia) "
            "with portraits from shared/data/faces; forgeries simulated by openidv.synth.forgeries",
            "seed": seed,
            "documents_generated": n if data is None else None,
            "rows_by_class": counts,
            "degradations": list(dict.fromkeys(TRAIN_DEGRADATIONS)),
            "split": f"seeded stratified split, {int(test_fraction * 100)}% held out",
            "n_train": len(train),
            "n_test": len(test),
        },
        "held_out_metrics": {
            "note": "detection rate of each species at the score threshold that rejects at most "
            "1% / 5% of held-out "
            "bona fide documents; synthetic data, small samples: read the counts",
            "by_species": metrics,
        },
        "intended_use": "a review signal for forged documents in openidv's document checks, "
        "and a baseline to beat",
        "limits": [
            "trained on synthetic documents and simulated forgeries only: it has never seen a real document, "
            "a real forgery, or a real phone camera; expect much lower detection and more "
            "false alarms on real data",
            "knows only the templates in openidv/checks/document/templates_data; other designs look like "
            "template mismatches",
            "species that leave no pixel trace (MRZ or barcode re-encoded) are left to document_consistency",
            "re-tune policy thresholds on your own labelled documents before relying on it",
        ],
        "environment": {"python": platform.python_version(), "machine": platform.machine()},
    }
    write_card(folder, MODEL_ID, card)
    from openidv.checks.document.forensics_model import load_model

    load_model.cache_clear()
    return card
