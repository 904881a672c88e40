"""``openidv eval run``: score a manifest with a registered check (or read a score file), then report.

Scoring goes through the same path as production: ``create_check(name, params)`` with the policy's
params, ``check.evidence_from_files(paths)`` per row, ``run_check_safely`` for the result. Scores are
cached in ``OUT/scores.csv`` keyed by (check, version, params, row id, each file's path, size and mtime);
a re-run rescores only rows whose key changed, and always rescores rows that errored.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openidv.checks.base import Check
from openidv.checks.registry import create_check
from openidv.decision.policy import load_policy
from openidv.errors import ConfigurationError, InvalidInput, OpenIDVError
from openidv.eval.data import Task
from openidv.eval.loading import Loaded, scored_set
from openidv.eval.manifests import Manifest, load_manifest
from openidv.eval.metrics import Evaluation, evaluate_set
from openidv.eval.metrics.common import Options
from openidv.eval.report import build_report, write_report
from openidv.eval.scores import ScoreTable, align, read_scores, write_scores
from openidv.pipeline import run_check_safely
from openidv.results import Meaning, Status

SCORES_FILE = "scores.csv"
REPORT_FILE = "report.json"
#: write the cache at least this often while scoring, so an interrupted run resumes
CACHE_FLUSH_S = 10.0

Progress = Callable[[int, int], None]


def evaluation_services() -> dict[str, object]:
    """Services for scoring a data set: an empty in-memory capture index (checks only read it, so every
    sample is judged as a first capture). A check that needs a face gallery must be given one."""
    from openidv.checks.services import CAPTURE_INDEX
    from openidv.services.captures import MemoryCaptureIndex

    return {CAPTURE_INDEX: MemoryCaptureIndex()}


def params_for(check: str, policy: str | Path | None) -> dict[str, Any]:
    """The check's params from the policy (``checks.<name>.params``), or none when it is not configured."""
    loaded = load_policy(policy, warn=False)
    config = loaded.checks.get(check)
    return dict(config.params) if config else {}


def policy_warnings(policy: str | Path | None) -> tuple[str, ...]:
    """One line per threshold of the policy forced to a target its data cannot support (``unsupported``)."""
    return tuple(load_policy(policy, warn=False).unsupported_warnings())


def cache_key(check: Check, params_text: str, row_id: str, files: list[Path]) -> str:
    parts: list[Any] = [check.name, check.version, params_text, row_id]
    for f in files:
        try:
            st = f.stat()
            parts.append([str(f), st.st_size, st.st_mtime_ns])
        except OSError:
            parts.append([str(f), None, None])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def _read_cache(path: Path) -> dict[str, tuple[str, float, Status, str]]:
    if not path.is_file():
        return {}
    try:
        table = read_scores(path)
    except OpenIDVError:
        return {}  # an unreadable cache is only a cache: rescore
    if not table.cache_keys:
        return {}
    details = table.details or [""] * len(table.ids)
    return {
        ident: (table.cache_keys[i], float(table.scores[i]), table.status[i], details[i])
        for i, ident in enumerate(table.ids)
    }


def score_manifest(
    manifest: Manifest,
    check_name: str,
    params: dict[str, Any],
    out_dir: Path,
    progress: Progress | None = None,
    services: Mapping[str, object] | None = None,
) -> tuple[ScoreTable, int]:
    """Score every row with the check (reusing the cache); returns the table and how many rows were reused.

    ``services`` are those the check needs (e.g. a capture index for ``injection``); checks write nothing,
    so scoring a data set never changes them.
    """
    try:
        check = create_check(check_name, params, services)
    except KeyError as exc:
        raise InvalidInput(str(exc.args[0])) from None
    except (ValueError, ConfigurationError) as exc:
        raise InvalidInput(str(exc)) from None
    manifest.check_files()
    params_text = json.dumps(check.params.model_dump(mode="json"), sort_keys=True, default=str)
    cache_path = out_dir / SCORES_FILE
    cache = _read_cache(cache_path)
    ids = manifest.ids
    n = len(ids)
    scores = np.full(n, np.nan)
    statuses: list[Status] = [Status.ERROR] * n
    details = [""] * n
    keys = [""] * n
    meaning = check.meaning
    reused = 0
    last_flush = time.monotonic()
    for row, ident in enumerate(ids):
        files = manifest.files(row)
        key = cache_key(check, params_text, ident, files)
        keys[row] = key
        hit = cache.get(ident)
        if hit and hit[0] == key and hit[2] != Status.ERROR:
            _, scores[row], statuses[row], details[row] = hit
            reused += 1
        else:
            scores[row], statuses[row], details[row] = _score_row(check, manifest, row, files)
        if progress:
            progress(row + 1, n)
        if time.monotonic() - last_flush > CACHE_FLUSH_S:
            write_scores(
                cache_path,
                _table(
                    check,
                    params_text,
                    meaning,
                    ids[: row + 1],
                    scores[: row + 1],
                    statuses[: row + 1],
                    details[: row + 1],
                    keys[: row + 1],
                ),
            )
            last_flush = time.monotonic()
    table = _table(check, params_text, meaning, ids, scores, statuses, details, keys)
    return table, reused


def _table(
    check: Check,
    params_text: str,
    meaning: Meaning,
    ids: list[str],
    scores: np.ndarray[Any, np.dtype[np.float64]],
    statuses: list[Status],
    details: list[str],
    keys: list[str],
) -> ScoreTable:
    return ScoreTable(
        ids=list(ids),
        scores=np.asarray(scores, dtype=np.float64),
        status=list(statuses),
        meaning=meaning,
        check=check.name,
        version=check.version,
        params=params_text,
        details=list(details),
        cache_keys=list(keys),
    )


def _score_row(check: Check, manifest: Manifest, row: int, files: list[Path]) -> tuple[float, Status, str]:
    try:
        evidence = check.evidence_from_files(files)
    except NotImplementedError:
        raise InvalidInput(f"check {check.name!r} cannot be evaluated from dataset files") from None
    except Exception as exc:  # a file the check cannot read is this row's error, not the run's
        return (
            float("nan"),
            Status.ERROR,
            f"evidence_from_files: {type(exc).__name__}: {' '.join(str(exc).split())}",
        )
    result = run_check_safely(check, evidence, operator_view=True)
    if result.meaning != check.meaning:
        raise InvalidInput(
            f"{manifest.where(row)}: check {check.name!r} returned meaning {result.meaning.value}, "
            f"declared {check.meaning.value}"
        )
    if result.status == Status.OK:
        if result.score is None or not np.isfinite(result.score):
            return float("nan"), Status.ERROR, f"status ok without a finite score ({result.score!r})"
        return float(result.score), Status.OK, ";".join(result.reason_codes)
    detail = str(result.details.get("error", "")) or ";".join(result.reason_codes)
    return float("nan"), result.status, " ".join(detail.split())


@dataclass(frozen=True)
class RunResult:
    report: dict[str, Any]
    report_path: Path
    evaluation: Evaluation
    reused: int
    #: the policy's unsupported thresholds, one line each (printed by ``openidv eval run`` on every run)
    warnings: tuple[str, ...] = ()


def evaluate(
    manifest: str | Path,
    out_dir: str | Path,
    *,
    check: str | None = None,
    scores: str | Path | None = None,
    policy: str | Path | None = None,
    task: Task | None = None,
    options: Options | None = None,
    html: bool = True,
    progress: Progress | None = None,
    bootstrap_progress: Progress | None = None,
    services: Mapping[str, object] | None = None,
) -> RunResult:
    """Score (or read scores for) a manifest, compute every metric, write the report; the Python API."""
    if (check is None) == (scores is None):
        raise InvalidInput("give exactly one of --check NAME or --scores FILE")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    m = load_manifest(manifest)
    reused = 0
    # the policy is used when it configures the check (or is named): say every time what it cannot support
    warnings = policy_warnings(policy) if check is not None or policy is not None else ()
    if check is not None:
        table, reused = score_manifest(
            m, check, params_for(check, policy), out, progress, services or evaluation_services()
        )
        source = f"check {check}"
        check_info: dict[str, Any] | None = {
            "name": table.check,
            "version": table.version,
            "params": json.loads(table.params or "{}"),
        }
    else:
        assert scores is not None
        table = read_scores(scores)
        source = str(Path(scores).resolve())
        check_info = {"name": table.check, "version": table.version, "params": None} if table.check else None
    values, statuses, details = align(table, m.ids, f"scores {Path(scores).name if scores else SCORES_FILE}")
    write_scores(out / SCORES_FILE, table)
    loaded = scored_set(m, values, statuses, details, table.meaning, task)
    ev = evaluate_set(loaded.ss, options, skipped_slices=loaded.skipped_slices, progress=bootstrap_progress)
    inputs = {
        "manifest": str(m.path),
        "manifest_kind": m.kind.value,
        "manifest_sha256": m.sha256,
        "scores": SCORES_FILE,
        "scores_source": source,
        "scores_sha256": hashlib.sha256((out / SCORES_FILE).read_bytes()).hexdigest(),
    }
    report = build_report(ev, inputs=inputs, check=check_info, errors=loaded.errors, n_rows=loaded.n_rows)
    path = write_report(ev, report, out, html_report=html)
    return RunResult(report, path, ev, reused, warnings)


# ------------------------------------------------------------------------------------ reading reports


def read_report(path: str | Path) -> tuple[dict[str, Any], Path]:
    """Load ``report.json`` (given the file or its folder); returns it and the folder."""
    p = Path(path)
    if p.is_dir():
        p = p / REPORT_FILE
    if not p.is_file():
        raise InvalidInput(f"report {path}: no such file (expected a report.json or the folder holding it)")
    try:
        report = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"report {p}: not valid JSON ({exc})") from None
    if not isinstance(report, dict) or not str(report.get("schema", "")).startswith("openidv.eval.report/"):
        raise InvalidInput(f"report {p}: not an openidv evaluation report (no schema key)")
    return report, p.parent


def options_of(report: dict[str, Any], **overrides: Any) -> Options:
    """The options a report was made with (so a comparison or a tuning uses the same settings)."""
    from openidv.eval.targets import parse_target

    o = report.get("options") or {}
    op = o.get("operating_point")
    base = Options(
        targets=tuple(float(t) for t in o["targets"]) if o.get("targets") else None,
        operating_point=parse_target(op) if op else None,
        threshold=o.get("threshold"),
        confidence=float(o.get("confidence", 0.95)),
        replicates=int(o.get("replicates", 1000)),
        seed=int(o.get("seed", 0)),
        unit=o.get("unit", "subject"),
        slices=tuple(o["slices"]) if o.get("slices") is not None else None,
        fairness_max_ratio=float(o.get("fairness_max_ratio", 1.5)),
        ranks=tuple(int(r) for r in o.get("ranks", (1, 5, 10, 20))),
    )
    return Options(**{**base.__dict__, **{k: v for k, v in overrides.items() if v is not None}})


def reload(report: dict[str, Any], folder: Path) -> tuple[Loaded, Manifest]:
    """Rebuild the scored set a report was computed on, from its manifest and ``scores.csv``."""
    inputs = report.get("inputs") or {}
    manifest_path = Path(str(inputs.get("manifest", "")))
    if not manifest_path.is_file():
        raise InvalidInput(
            f"report {folder / REPORT_FILE}: its manifest {manifest_path} is not there any more"
        )
    scores_path = folder / str(inputs.get("scores", SCORES_FILE))
    if not scores_path.is_file():
        raise InvalidInput(
            f"report {folder / REPORT_FILE}: no {scores_path.name} beside it; keep the whole output folder"
        )
    m = load_manifest(manifest_path)
    if inputs.get("manifest_sha256") and inputs["manifest_sha256"] != m.sha256:
        raise InvalidInput(
            f"report {folder / REPORT_FILE}: manifest {manifest_path} changed since the report was made"
        )
    table = read_scores(scores_path)
    values, statuses, details = align(table, m.ids, f"scores {scores_path}")
    loaded = scored_set(m, values, statuses, details, table.meaning, Task(report["task"]))
    return loaded, m
