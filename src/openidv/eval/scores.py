"""Score files: ``id, score, status`` per manifest row, and the score's meaning.

The meaning is stated once in a header comment (``# meaning: similarity``) or in a ``meaning`` column;
nobody guesses a direction. Status is ``ok`` or ``failed_to_acquire`` (``error`` is accepted too: our own
cache writes it for rows whose check raised). Further header comments (``# check: face_match``,
``# version: 1.2``) name what produced the scores. ``openidv eval run`` writes the same format as
``scores.csv`` in its output folder, with a ``cache_key`` column so a re-run reuses unchanged rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from openidv.errors import InvalidInput
from openidv.eval.data import FloatArray
from openidv.eval.manifests import blank, duplicated_ids, first_problem, read_table
from openidv.results import Meaning, Status

HEADER_KEYS = ("meaning", "check", "version", "params")


@dataclass(frozen=True)
class ScoreTable:
    """Scores of one run, aligned by ``ids``; ``scores`` is NaN where the status is not ``ok``."""

    ids: list[str]
    scores: FloatArray
    status: list[Status]
    meaning: Meaning
    check: str | None = None
    version: str | None = None
    params: str | None = None
    details: list[str] = field(default_factory=list)
    cache_keys: list[str] = field(default_factory=list)

    def index(self) -> dict[str, int]:
        return {ident: i for i, ident in enumerate(self.ids)}


def _header(path: Path) -> dict[str, str]:
    header: dict[str, str] = {}
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                stripped = line.strip()
                if not stripped.startswith("#"):
                    break
                key, sep, value = stripped.lstrip("#").partition(":")
                if sep and key.strip().lower() in HEADER_KEYS:
                    header[key.strip().lower()] = value.strip()
    except UnicodeDecodeError:
        raise InvalidInput(f"scores {path}: not UTF-8 text") from None
    return header


def _meaning(text: str, where: str) -> Meaning:
    try:
        return Meaning(text.strip().lower())
    except ValueError:
        raise InvalidInput(f"{where}: unknown meaning {text!r}; use similarity or attack") from None


def read_scores(path: str | Path) -> ScoreTable:
    """Read and validate a score file (CSV with optional ``#`` header, Parquet, or JSON Lines)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"scores {path}: no such file")
    header = _header(path) if path.suffix.lower() not in {".parquet", ".pq"} else {}
    frame = read_table(path, "scores")
    for col in ("id", "score", "status"):
        if col not in frame.columns:
            raise InvalidInput(
                f"scores {path.name}: missing column {col!r}; a score file has id, score, status"
            )
    if len(frame) == 0:
        raise InvalidInput(f"scores {path.name}: no rows")

    def where(row: int, col: str) -> str:
        return f"{path.name} row {row + 1} (id={frame['id'].iat[row]}), column {col}"

    meaning: Meaning | None = (
        _meaning(header["meaning"], f"{path.name} header") if "meaning" in header else None
    )
    if "meaning" in frame.columns:
        for row, text in enumerate(frame["meaning"].tolist()):
            this = _meaning(str(text), where(row, "meaning"))
            if meaning is None:
                meaning = this
            elif this != meaning:
                raise InvalidInput(
                    f"{where(row, 'meaning')}: meaning {this.value!r} differs from {meaning.value!r}"
                )
    if meaning is None:
        raise InvalidInput(
            f"scores {path.name}: the score's meaning is not stated; add a header line "
            "'# meaning: similarity' (or attack) or a meaning column"
        )

    ids = [str(v) for v in frame["id"].tolist()]
    status_text = frame["status"].astype(str).str.strip().str.lower()
    known = {st.value: st for st in Status}
    score_text = frame["score"].astype(str).str.strip()
    parsed = pd.to_numeric(score_text, errors="coerce").to_numpy(dtype=np.float64)
    is_ok = np.asarray(status_text.eq(Status.OK.value).to_numpy(), dtype=bool)
    spelled_nan = np.asarray(score_text.str.lower().isin(["nan", "+nan", "-nan"]).to_numpy(), dtype=bool)
    not_number = is_ok & np.isnan(parsed) & ~spelled_nan
    not_finite = is_ok & ~not_number & ~np.isfinite(parsed)
    dup, first_of = duplicated_ids(frame["id"].astype(str))
    raw_status = frame["status"].tolist()
    raw_score = frame["score"].tolist()
    first_problem(
        [
            (blank(frame, "id"), lambda row: f"{where(row, 'id')}: empty id"),
            (
                dup,
                lambda row: (
                    f"{where(row, 'id')}: duplicate id {ids[row]!r} (first at row {first_of(row) + 1})"
                ),
            ),
            (
                ~np.asarray(status_text.isin(list(known)).to_numpy(), dtype=bool),
                lambda row: (
                    f"{where(row, 'status')}: unknown status {raw_status[row]!r}; use ok or failed_to_acquire"
                ),
            ),
            (not_number, lambda row: f"{where(row, 'score')}: {raw_score[row]!r} is not a number"),
            (not_finite, lambda row: f"{where(row, 'score')}: score {raw_score[row]!r} is not finite"),
        ]
    )
    scores = np.where(is_ok, parsed, np.nan)
    statuses = [known[t] for t in status_text.tolist()]
    details = [str(v) for v in frame["detail"].tolist()] if "detail" in frame.columns else [""] * len(ids)
    keys = [str(v) for v in frame["cache_key"].tolist()] if "cache_key" in frame.columns else []
    check = header.get("check") or _single(frame, "check")
    version = header.get("version") or _single(frame, "version")
    return ScoreTable(
        ids=ids,
        scores=scores,
        status=statuses,
        meaning=meaning,
        check=check or None,
        version=version or None,
        params=header.get("params"),
        details=details,
        cache_keys=keys,
    )


def _single(frame: pd.DataFrame, column: str) -> str | None:
    if column not in frame.columns:
        return None
    values = {str(v) for v in frame[column].tolist() if str(v)}
    return values.pop() if len(values) == 1 else None


def write_scores(path: str | Path, table: ScoreTable) -> None:
    """Write ``table`` as CSV with a header comment stating the meaning (and what produced the scores).

    Scores are written with 17 significant digits, so they read back bit for bit.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    frame = pd.DataFrame(
        {
            "id": table.ids,
            "score": table.scores,
            "status": [st.value for st in table.status],
            "detail": table.details or [""] * len(table.ids),
        }
    )
    if table.cache_keys:
        frame["cache_key"] = table.cache_keys
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write(f"# meaning: {table.meaning.value}\n")
        for key, value in (("check", table.check), ("version", table.version), ("params", table.params)):
            if value:
                fh.write(f"# {key}: {value}\n")
        frame.to_csv(fh, index=False, na_rep="", float_format="%.17g", lineterminator="\n")
    tmp.replace(path)


def align(table: ScoreTable, ids: Sequence[str], source: str) -> tuple[FloatArray, list[Status], list[str]]:
    """Scores, statuses and details in manifest order; every manifest row needs exactly one score row."""
    have = pd.Index(table.ids)
    want = pd.Index(list(ids))
    extra = np.flatnonzero(want.get_indexer(have) < 0)
    if extra.size:
        row = int(extra[0])
        raise InvalidInput(f"{source} row {row + 1} (id={table.ids[row]}), column id: id not in the manifest")
    order = np.asarray(have.get_indexer(want), dtype=np.intp)
    missing = np.flatnonzero(order < 0)
    if missing.size:
        more = f" and {missing.size - 1} more" if missing.size > 1 else ""
        raise InvalidInput(f"{source}: no score for manifest id {ids[int(missing[0])]!r}{more}")
    details = table.details or [""] * len(table.ids)
    return table.scores[order], [table.status[i] for i in order], [details[i] for i in order]
