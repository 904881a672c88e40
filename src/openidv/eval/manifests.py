"""Dataset manifests: the labelled rows an evaluation scores. CSV, Parquet or JSON Lines.

Other tools write these, so the column names are fixed (see docs/evaluation.md):

* comparisons (1:1, and 1:N when each probe ``a`` is compared with every gallery entry ``b``):
  ``id, a, b, subject_a, subject_b`` - genuine when the two subjects are equal;
* samples (attack detection, fraud classification): ``id, path, subject, label`` with ``label`` one of
  ``bona_fide``, ``attack``, ``legit``, ``fraud``, and ``species`` for attacks (``print``, ``screen_replay``).

Every other column is a slice attribute (age band, sex, country, document type, device...). Paths are
relative to the manifest's folder. Every problem is one ``InvalidInput`` line naming the file, the row
(1 = first data row) and the column.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openidv.errors import InvalidInput

COMPARISON_COLUMNS = ("id", "a", "b", "subject_a", "subject_b")
SAMPLE_COLUMNS = ("id", "path", "subject", "label")
PAD_LABELS = ("bona_fide", "attack")
FRAUD_LABELS = ("legit", "fraud")
LABELS = PAD_LABELS + FRAUD_LABELS
RESERVED = frozenset({*COMPARISON_COLUMNS, *SAMPLE_COLUMNS, "species"})
#: columns with more distinct values than this are identifiers, not slices
MAX_SLICE_VALUES = 50


class ManifestKind(StrEnum):
    COMPARISONS = "comparisons"
    SAMPLES = "samples"


def read_table(path: Path, what: str) -> pd.DataFrame:
    """Read CSV, Parquet or JSON Lines into a frame of strings (missing values as ``""``)."""
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            frame = pd.read_parquet(path)
            return _as_strings(frame)
        if suffix in {".jsonl", ".ndjson"}:
            return _read_jsonl(path, what)
        if suffix in {".csv", ".txt", ""}:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
            skip = 0
            while skip < len(lines) and lines[skip].lstrip().startswith("#"):
                skip += 1
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                skiprows=skip,
                skipinitialspace=True,
                encoding="utf-8-sig",
            )
            frame.columns = [str(c).strip() for c in frame.columns]
            return frame
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path}: no such file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} {path}: not UTF-8 text") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        message = " ".join(str(exc).split())
        raise InvalidInput(f"{what} {path.name}: cannot read it: {message}") from None
    raise InvalidInput(f"{what} {path}: unknown format {suffix!r}; use .csv, .parquet or .jsonl")


def _as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        out[str(col)] = [_to_str(v) for v in frame[col].tolist()]
    return out


def _to_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return repr(value)
    return str(value)


def _read_jsonl(path: Path, what: str) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{what} {path.name}: line {number}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InvalidInput(f"{what} {path.name}: line {number}: each line must be a JSON object")
        rows.append(obj)
    frame = pd.DataFrame(rows)
    return _as_strings(frame) if len(frame.columns) else pd.DataFrame(columns=["id"])


@dataclass(frozen=True)
class Manifest:
    """A validated manifest: its rows as strings, its kind, and where its files live."""

    path: Path
    kind: ManifestKind
    frame: pd.DataFrame
    sha256: str

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def ids(self) -> list[str]:
        return [str(v) for v in self.frame["id"].tolist()]

    def column(self, name: str) -> list[str]:
        return [str(v) for v in self.frame[name].tolist()]

    @property
    def slice_columns(self) -> list[str]:
        """Extra columns, in file order: each is an attribute to slice error rates by."""
        return [c for c in self.frame.columns if c not in RESERVED]

    @property
    def labels(self) -> set[str]:
        return set(self.column("label")) if self.kind == ManifestKind.SAMPLES else set()

    def files(self, row: int) -> list[Path]:
        """The files of one row, resolved against the manifest's folder (1 for samples, 2 for comparisons)."""
        cols = ("a", "b") if self.kind == ManifestKind.COMPARISONS else ("path",)
        return [self.base_dir / str(self.frame[c].iat[row]) for c in cols]

    def where(self, row: int, column: str | None = None) -> str:
        """``manifest.csv row 3 (id=x), column label`` - how every error names a place."""
        ident = str(self.frame["id"].iat[row]) if "id" in self.frame.columns else "?"
        place = f"{self.path.name} row {row + 1} (id={ident})"
        return f"{place}, column {column}" if column else place

    def check_files(self) -> None:
        """Every referenced file exists; needed when a check scores the files, not for a score file."""
        cols = ("a", "b") if self.kind == ManifestKind.COMPARISONS else ("path",)
        for col in cols:
            for row, rel in enumerate(self.column(col)):
                if not (self.base_dir / rel).is_file():
                    raise InvalidInput(f"{self.where(row, col)}: file not found: {rel}")


def detect_kind(columns: Sequence[str], path: Path) -> ManifestKind:
    cols = set(columns)
    if cols & {"a", "b", "subject_a", "subject_b"}:
        return ManifestKind.COMPARISONS
    if cols & {"path", "subject", "label"}:
        return ManifestKind.SAMPLES
    raise InvalidInput(
        f"manifest {path.name}: cannot tell its kind from columns {', '.join(columns) or '(none)'}; "
        f"comparisons need {', '.join(COMPARISON_COLUMNS)}; samples need {', '.join(SAMPLE_COLUMNS)}"
    )


def load_manifest(path: str | Path, *, check_files: bool = False) -> Manifest:
    """Read and validate a manifest; ``check_files`` also requires every referenced file to exist."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"manifest {path}: no such file")
    frame = read_table(path, "manifest")
    kind = detect_kind(list(frame.columns), path)
    manifest = Manifest(path=path.resolve(), kind=kind, frame=frame, sha256=_sha256(path))
    _validate(manifest)
    if check_files:
        manifest.check_files()
    return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def first_problem(problems: list[tuple[np.ndarray[Any, np.dtype[np.bool_]], Callable[[int], str]]]) -> None:
    """Raise for the earliest row any check flags (ties: the check listed first), as a row-by-row scan would.

    Checks are vectorised so a ten-million-row manifest is validated in seconds.
    """
    best: tuple[int, int] | None = None
    for order, (mask, _) in enumerate(problems):
        if mask.any():
            row = int(np.argmax(mask))
            if best is None or row < best[0]:
                best = (row, order)
    if best is not None:
        raise InvalidInput(problems[best[1]][1](best[0]))


def blank(frame: pd.DataFrame, column: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    return np.asarray(frame[column].astype(str).str.strip().eq("").to_numpy(), dtype=bool)


def duplicated_ids(ids: pd.Series) -> tuple[np.ndarray[Any, np.dtype[np.bool_]], Callable[[int], int]]:
    """Rows repeating an earlier id, and a function giving the row of the first occurrence."""
    dup = np.asarray(ids.duplicated(keep="first").to_numpy(), dtype=bool)
    values = ids.tolist()
    return dup, lambda row: values.index(values[row])


def _empty_value(m: Manifest, col: str) -> Callable[[int], str]:
    return lambda row: f"{m.where(row, col)}: empty value"


def _validate(m: Manifest) -> None:
    required = COMPARISON_COLUMNS if m.kind == ManifestKind.COMPARISONS else SAMPLE_COLUMNS
    for col in required:
        if col not in m.frame.columns:
            raise InvalidInput(
                f"manifest {m.path.name}: missing column {col!r}; a {m.kind.value} manifest needs "
                f"{', '.join(required)}"
            )
    if len(m.frame) == 0:
        raise InvalidInput(f"manifest {m.path.name}: no rows")
    for col in required:
        first_problem([(blank(m.frame, col), _empty_value(m, col))])
    dup, first_of = duplicated_ids(m.frame["id"].astype(str))
    first_problem(
        [
            (
                dup,
                lambda row: (
                    f"{m.where(row, 'id')}: duplicate id {m.ids[row]!r} (first at row {first_of(row) + 1})"
                ),
            )
        ]
    )
    if m.kind == ManifestKind.SAMPLES:
        _validate_labels(m)


def _validate_labels(m: Manifest) -> None:
    labels = np.asarray(m.frame["label"].astype(str).to_numpy(), dtype=object)
    unknown = ~np.isin(labels, LABELS)
    is_pad = np.isin(labels, PAD_LABELS)
    mixed = ~unknown & (is_pad != is_pad[0]) if not unknown[0] else np.zeros(labels.size, dtype=bool)
    attack = labels == "attack"
    if "species" in m.frame.columns:
        no_species = np.zeros(labels.size, dtype=bool)
        empty_species = attack & blank(m.frame, "species")
    else:
        no_species, empty_species = attack, np.zeros(labels.size, dtype=bool)
    first_problem(
        [
            (
                unknown,
                lambda row: (
                    f"{m.where(row, 'label')}: unknown label {labels[row]!r}; use {', '.join(LABELS)}"
                ),
            ),
            (
                mixed,
                lambda row: (
                    f"{m.where(row, 'label')}: label {labels[row]!r} mixes attack detection "
                    "(bona_fide/attack) with fraud classification (legit/fraud) in one manifest"
                ),
            ),
            (
                no_species,
                lambda row: (
                    f"manifest {m.path.name}: missing column 'species'; every attack row names its attack "
                    "species (e.g. print, screen_replay)"
                ),
            ),
            (empty_species, lambda row: f"{m.where(row, 'species')}: empty species for an attack"),
        ]
    )
