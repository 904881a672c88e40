"""Training recipes for the liveness models: ``openidv train pad`` and ``openidv train deepfake``.

Both follow one seeded path:
1. a simulated set (``openidv synth attacks``) is generated, or an existing samples manifest is read;
2. features are measured with exactly the code the checks run (``pad_vector`` / ``deepfake_vector``);
3. out-of-fold scores by leave-subjects-out cross-validation (no person is in both the training and the test
   part of a fold), which the evaluation layer turns into ISO/IEC 30107-3 numbers with intervals;
4. leave-one-species-out (PAD): for each species, a model trained without it scores it, so the card states
   how the model does on an attack kind it has never seen;
5. the final model is fitted on everything and written as JSON with a YAML model card.
Every number is on SIMULATED attacks and says so.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from openidv.checks.liveness.model import LinearModel
from openidv.errors import InvalidInput
from openidv.imageio import load_image

Progress = Callable[[str], None]
F64 = npt.NDArray[np.float64]


@dataclass
class FeatureSet:
    ids: list[str]
    kinds: list[str]  # bona_fide or the species
    subjects: list[str]
    x: F64
    names: list[str]
    not_acquired: list[str]


def read_manifest(path: Path) -> list[dict[str, str]]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.lstrip().startswith("#")]
    rows = list(csv.DictReader(lines))
    if not rows or not {"id", "path", "subject", "label"} <= set(rows[0]):
        raise InvalidInput(f"{path}: not a samples manifest (id, path, subject, label, species)")
    return rows


def kind_of(row: dict[str, str]) -> str:
    return "bona_fide" if row["label"] == "bona_fide" else (row.get("species") or "attack")


def extract(
    manifest: Path,
    kinds: Sequence[str],
    vector: Callable[[Any], tuple[F64, list[str]] | None],
    progress: Progress | None = None,
) -> FeatureSet:
    """Features of every manifest row of the wanted kinds; rows without a face are listed, not guessed."""
    rows = [r for r in read_manifest(manifest) if kind_of(r) in kinds]
    ids, ks, subjects, xs, missing = [], [], [], [], []
    names: list[str] = []
    for i, row in enumerate(rows):
        image = load_image(manifest.parent / row["path"])
        out = vector(image)
        if out is None:
            missing.append(row["id"])
            continue
        vec, names = out
        ids.append(row["id"])
        ks.append(kind_of(row))
        subjects.append(row["subject"])
        xs.append(vec)
        if progress and (i + 1) % 100 == 0:
            progress(f"features {i + 1}/{len(rows)}")
    if not xs:
        raise InvalidInput(f"{manifest}: no usable rows of kinds {', '.join(kinds)}")
    return FeatureSet(ids, ks, subjects, np.vstack(xs), names, missing)


def subject_folds(subjects: Sequence[str], k: int, seed: int) -> list[npt.NDArray[np.bool_]]:
    """Test masks of ``k`` folds that never split one subject across training and test."""
    people = sorted(set(subjects))
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(len(people)))
    k = max(2, min(k, len(people)))
    arr = np.asarray(subjects)
    return [np.isin(arr, [people[j] for j in order[f::k]]) for f in range(k)]


def out_of_fold(
    fs: FeatureSet,
    classes: tuple[str, ...],
    *,
    c: float,
    seed: int,
    folds: int,
    train_mask: npt.NDArray[np.bool_] | None = None,
) -> F64:
    """Attack scores for every row from models that never saw that row's subject."""
    y = np.array([classes.index(k) if k in classes else -1 for k in fs.kinds])
    scores = np.full(len(fs.ids), np.nan)
    allowed = np.ones(len(fs.ids), dtype=bool) if train_mask is None else train_mask
    for test in subject_folds(fs.subjects, folds, seed):
        train = ~test & allowed & (y >= 0)
        if len(set(y[train].tolist())) < 2:
            continue
        model = fit_linear(fs.x[train], y[train], classes, fs.names, c=c, seed=seed)
        scores[test] = model.attack_score(fs.x[test])
    return scores


def rate(errors: int, n: int) -> dict[str, Any]:
    """A rate with its exact (Clopper-Pearson) 95% interval and counts."""
    from openidv.eval.bootstrap import clopper_pearson

    if n == 0:
        return {"value": None, "errors": 0, "n": 0, "ci95": None}
    low, high = clopper_pearson(errors, n, 0.95)
    return {"value": round(errors / n, 4), "errors": errors, "n": n, "ci95": [round(low, 4), round(high, 4)]}


def threshold_at_bpcer(bona_scores: F64, bpcer: float) -> float:
    """The attack-score threshold that rejects about ``bpcer`` of the bona fide scores."""
    finite = np.sort(bona_scores[np.isfinite(bona_scores)])
    if finite.size == 0:
        return 0.5
    return float(np.quantile(finite, 1 - bpcer, method="higher")) + 1e-9


def operating_point(
    scores: F64, kinds: Sequence[str], threshold: float, species: Sequence[str]
) -> dict[str, Any]:
    k = np.asarray(kinds)
    ok = np.isfinite(scores)
    bona = ok & (k == "bona_fide")
    out: dict[str, Any] = {
        "threshold": round(threshold, 6),
        "bpcer": rate(int(np.sum(scores[bona] >= threshold)), int(bona.sum())),
    }
    apcer = {}
    for sp in species:
        sel = ok & (k == sp)
        apcer[sp] = rate(int(np.sum(scores[sel] < threshold)), int(sel.sum()))
    out["apcer"] = apcer
    values = [v["value"] for v in apcer.values() if v["value"] is not None]
    out["apcer_max"] = max(values) if values else None
    return out


def auc(bona: F64, attack: F64) -> float | None:
    """Probability that an attack scores above a bona fide presentation (ties count half)."""
    b, a = bona[np.isfinite(bona)], attack[np.isfinite(attack)]
    if b.size == 0 or a.size == 0:
        return None
    greater = (a[:, None] > b[None, :]).mean()
    ties = (a[:, None] == b[None, :]).mean()
    return round(float(greater + 0.5 * ties), 4)


def write_oof(out_dir: Path, manifest: Path, fs: FeatureSet, scores: F64, name: str, version: str) -> Path:
    """Out-of-fold scores as an evaluation-layer score file (rows without a face are failures to acquire)."""
    path = out_dir / f"{name}-oof-scores.csv"
    by_id = dict(zip(fs.ids, scores, strict=True))
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(f"# meaning: attack\n# check: {name}\n# version: {version}\n")
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", "score", "status"])
        for row in read_manifest(manifest):
            if row["id"] in by_id and np.isfinite(by_id[row["id"]]):
                writer.writerow([row["id"], repr(float(by_id[row["id"]])), "ok"])
            elif row["id"] in fs.not_acquired:
                writer.writerow([row["id"], "", "failed_to_acquire"])
    return path


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


SIMULATED_ONLY_HEADER = (
    "# Model card. Every number below is measured on SIMULATED attacks (openidv synth attacks),\n"
    "# not on real presentation attacks or real deepfakes.\n"
)


def write_artifacts(
    out_dir: Path,
    model_id: str,
    model: LinearModel,
    card: dict[str, Any],
    install_dir: Path | None,
    header: str = SIMULATED_ONLY_HEADER,
) -> tuple[Path, Path, str]:
    """Write ``<id>.json`` and its card ``<id>.yaml`` (with the sha256, under ``header``: what its numbers
    were measured on); maybe copy the JSON here."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = model.to_json()
    digest = sha256_text(text)
    artifact = out_dir / f"{model_id}.json"
    artifact.write_text(text, encoding="utf-8")
    card = {"model_id": model_id, "artifact": artifact.name, "sha256": digest, **card}
    card_path = out_dir / f"{model_id}.yaml"
    card_path.write_text(header + yaml.safe_dump(card, sort_keys=False, width=110), encoding="utf-8")
    if install_dir is not None:
        install_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifact, install_dir / artifact.name)
    return artifact, card_path, digest


def today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)


def fit_linear(
    x: F64,
    y: npt.NDArray[np.int_],
    classes: tuple[str, ...],
    names: list[str],
    *,
    c: float,
    seed: int,
    meta: dict[str, Any] | None = None,
    class_weight: str | None = "balanced",
) -> LinearModel:
    """Fit standardisation + L2 multinomial logistic regression with scikit-learn (training only)."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    clf = LogisticRegression(C=c, max_iter=4000, class_weight=class_weight, random_state=seed)
    clf.fit((x - mean) / scale, y)
    present = [int(k) for k in clf.classes_]
    coef = np.zeros((len(classes), x.shape[1]))
    intercept = np.full(len(classes), -30.0)  # a class absent from training gets ~zero probability
    if len(present) == 2:  # binary: scikit-learn keeps one row for the second class
        coef[present[1]], intercept[present[1]] = clf.coef_[0], clf.intercept_[0]
        coef[present[0]], intercept[present[0]] = 0.0, 0.0
    else:
        for row, k in enumerate(present):
            coef[k], intercept[k] = clf.coef_[row], clf.intercept_[row]
    return LinearModel(classes, tuple(names), mean, scale, coef, intercept, dict(meta or {}))
