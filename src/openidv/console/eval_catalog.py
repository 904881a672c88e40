"""The evaluation reports the console shows: every ``report.json`` of ``eval run`` (and of ``vendors
benchmark``) under the configured folders, its figures, and the regression gate's history files.

Why read files rather than import the evaluation layer: the console sits below it (it may not import
``openidv.eval``), and ``report.json`` is a stable contract (schema ``openidv.eval.report/1``,
docs/evaluation.md) that other tools read the same way. Reports are found by walking the folders (depth
and count bounded); a report is named by a digest of its path, so a URL never carries a path, and a
figure is served only when the report lists it and it resolves inside the report's folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openidv.gate_history import FILE_NAME as HISTORY_FILE
from openidv.gate_history import read_history

REPORT_FILE = "report.json"
REPORT_SCHEMA_PREFIX = "openidv.eval.report/"
#: folders deeper than this below a root are not searched (a root pointed at / must not walk the disk)
MAX_DEPTH = 6
MAX_REPORTS = 2000
#: headline figures, in the order a reader wants them, per task
HEADLINES: Mapping[str, tuple[str, ...]] = {
    "verification": ("eer", "roc_auc", "fta"),
    "pad": ("eer", "roc_auc", "fta"),
    "classification": ("roc_auc", "pr_auc", "eer", "fta"),
    "identification": ("eer", "fta"),
}


@dataclass(frozen=True)
class ReportEntry:
    """One report as the list shows it."""

    id: str
    folder: Path
    label: str  # the report's folder relative to its root, prefixed with the root's name
    created_at: str
    task: str
    check: str
    rows: int
    headline: tuple[tuple[str, Mapping[str, Any]], ...]
    operating_point: str | None


def _report_id(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:20]


def _walk(root: Path, name: str) -> Iterator[Path]:
    base = len(root.parts)
    for folder, dirs, files in os.walk(root, followlinks=False):
        depth = len(Path(folder).parts) - base
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < MAX_DEPTH else []
        if name in files:
            yield Path(folder) / name


def _load(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > 50_000_000:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not str(data.get("schema", "")).startswith(REPORT_SCHEMA_PREFIX):
        return None
    return data


def _entry(root: Path, path: Path, report: Mapping[str, Any]) -> ReportEntry:
    metrics = report.get("metrics") or {}
    task = str(report.get("task") or "")
    headline = tuple(
        (name, metrics[name])
        for name in HEADLINES.get(task, ("eer", "roc_auc"))
        if isinstance(metrics.get(name), Mapping)
    )
    check = report.get("check") or {}
    check_name = (
        f"{check.get('name', '?')} {check.get('version', '')}".strip()
        if isinstance(check, Mapping)
        else str(check)
    )
    rel = path.parent.relative_to(root)
    return ReportEntry(
        id=_report_id(path),
        folder=path.parent,
        label=f"{root.name}/{rel}" if str(rel) != "." else root.name,
        created_at=str(report.get("created_at") or ""),
        task=task,
        check=check_name,
        rows=int((report.get("counts") or {}).get("rows") or 0),
        headline=headline,
        operating_point=(metrics.get("operating_point") or {}).get("label"),
    )


class EvalCatalog:
    """The reports and gate histories under ``roots`` (read on each call: files change under us)."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [Path(r).resolve() for r in roots]

    def reports(self) -> list[ReportEntry]:
        """Every readable report, newest first."""
        out: list[ReportEntry] = []
        for root in self.roots:
            if not root.is_dir():
                continue
            for path in _walk(root, REPORT_FILE):
                report = _load(path)
                if report is not None:
                    out.append(_entry(root, path, report))
                if len(out) >= MAX_REPORTS:
                    break
        return sorted(out, key=lambda e: (e.created_at, e.label), reverse=True)

    def report(self, report_id: str) -> tuple[ReportEntry, dict[str, Any]] | None:
        for root in self.roots:
            if not root.is_dir():
                continue
            for path in _walk(root, REPORT_FILE):
                if _report_id(path) == report_id:
                    report = _load(path)
                    return (_entry(root, path, report), report) if report is not None else None
        return None

    def figure(self, report_id: str, name: str) -> Path | None:
        """A figure the report lists (``figures``), inside its folder; None otherwise."""
        found = self.report(report_id)
        if found is None:
            return None
        entry, report = found
        listed = {str(v) for v in (report.get("figures") or {}).values()}
        if name not in listed or not name.endswith(".png"):
            return None
        path = (entry.folder / name).resolve()
        if entry.folder.resolve() not in path.parents or not path.is_file():
            return None
        return path

    def gate_history(self, limit: int = 200) -> list[dict[str, Any]]:
        """Every gate verdict in the ``gate-history.jsonl`` files under the roots, newest first."""
        entries: list[dict[str, Any]] = []
        for root in self.roots:
            if not root.is_dir():
                continue
            for path in _walk(root, HISTORY_FILE):
                for entry in read_history(path):
                    entries.append({**entry, "file": f"{root.name}/{path.relative_to(root)}"})
        entries.sort(key=lambda e: str(e.get("at", "")), reverse=True)
        return entries[:limit]
