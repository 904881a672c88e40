"""Gate history: one JSON line per ``eval compare --history FILE`` run, so a team can see when a model or
a vendor last passed or failed its regression gate (the console's evaluation pages list these files).

Why a JSON-lines file beside the reports rather than a table: the gate runs in CI and on laptops where
no openidv database exists; the file travels with the reports it names. Each line is complete on its own
(``schema`` ``openidv.eval.gate-history/1``), appended with one ``write`` of a line under an exclusive
``flock``, so concurrent CI jobs cannot interleave halves of two lines.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openidv.errors import InvalidInput

SCHEMA = "openidv.eval.gate-history/1"
#: the name the console looks for under its evaluation folders
FILE_NAME = "gate-history.jsonl"


def history_entry(comparison: dict[str, Any], *, label: str | None = None) -> dict[str, Any]:
    """What one line keeps of a comparison (``Comparison.as_dict()``): verdict, runs, every gate."""
    return {
        "schema": SCHEMA,
        "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "label": label,
        "passed": bool(comparison["passed"]),
        "failed": list(comparison.get("failed") or []),
        "baseline": comparison["baseline"],
        "candidate": comparison["candidate"],
        "paired": comparison.get("paired"),
        "rows": comparison.get("rows"),
        "subjects": comparison.get("subjects"),
        "confidence": comparison.get("confidence"),
        "gates_source": comparison.get("gates_source"),
        "gates": comparison.get("gates") or [],
    }


def append_history(path: Path, entry: dict[str, Any]) -> None:
    """Append one line; the folder must exist (a typo in ``--history`` should not create folders)."""
    if not path.parent.is_dir():
        raise InvalidInput(f"--history: folder {path.parent} does not exist")
    line = (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
    finally:
        os.close(fd)


def read_history(path: Path) -> Iterator[dict[str, Any]]:
    """Every readable entry, oldest first; a line that is not an entry (truncated, foreign) is skipped."""
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and entry.get("schema") == SCHEMA:
                yield entry
