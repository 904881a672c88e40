"""Reports: ``report.json`` (stable keys other tools read), ``report.html`` and PNG figures.

Stable keys: ``metrics.eer`` and ``metrics.fnmr_at_fmr`` (verification) or ``metrics.bpcer_at_apcer``
(attack detection), each target written like ``"1e-3"`` and mapping to ``{"value", "ci_low", "ci_high",
"threshold", "n_genuine", "n_impostor"}`` (``n_bona_fide``, ``n_attack`` for attacks); ``value`` is null
where the counts cannot support the target. ``check.name`` records the check, so threshold tuning knows
which policy entry to write. The HTML is self-contained (figures embedded as base64; the PNGs are also
written beside it).
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from openidv.eval import plots
from openidv.eval.data import Task, decision_rule
from openidv.eval.metrics import Evaluation
from openidv.results import MEANING_TEXT

SCHEMA = "openidv.eval.report/1"
MAX_LISTED_ERRORS = 100


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json_safe(v) for v in value.tolist()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if np.isfinite(f) else None
    return value


def build_report(
    ev: Evaluation,
    *,
    inputs: Mapping[str, Any],
    check: Mapping[str, Any] | None,
    errors: list[dict[str, str]],
    n_rows: int,
) -> dict[str, Any]:
    """The report as a JSON-ready dict."""
    ss = ev.ss
    v = ss.vocabulary
    counts = {
        "rows": n_rows,
        "ok": int(np.sum(~ss.fta)),
        "failed_to_acquire": int(np.sum(ss.fta)),
        "error": len(errors),
        v.n_good: int(np.sum(ss.good)),
        v.n_bad: int(np.sum(~ss.good)),
        "subjects": len(ss.subjects),
    }
    if ss.task == Task.IDENTIFICATION:
        counts["searches"] = ss.n
    curves = {
        "det": {
            "x": v.bad_err,
            "y": v.good_err,
            "thresholds": ev.curves.get("thresholds", np.empty(0)),
            "x_values": ev.curves.get("bad_err", np.empty(0)),
            "y_values": ev.curves.get("good_err", np.empty(0)),
            "note": "a plottable sample of the curve on acquired rows, in strictness order",
        }
    }
    report = {
        "schema": SCHEMA,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "task": ss.task.value,
        "check": dict(check) if check else None,
        "meaning": ss.meaning.value,
        "meaning_text": MEANING_TEXT[ss.meaning],
        "decision_rule": decision_rule(ss.meaning),
        "classes": {"good": v.good, "bad": v.bad, "good_error": v.good_err, "bad_error": v.bad_err},
        "inputs": dict(inputs),
        "counts": counts,
        "errors": {
            "count": len(errors),
            "excluded_from_rates": True,
            "note": "rows whose check raised: excluded from every rate, listed here (first 100)",
            "rows": errors[:MAX_LISTED_ERRORS],
        },
        "options": ev.options.as_dict(),
        "bootstrap": {
            "unit": ev.options.unit,
            "replicates": ev.options.replicates,
            "confidence": ev.options.confidence,
            "seed": ev.options.seed,
            "method": (
                "percentile bootstrap resampling subjects (impostor pairs weighted by both subjects' draws), "
                "widened to the exact binomial (Clopper-Pearson) interval of the observed counts"
            ),
        },
        "metrics": ev.metrics,
        "fairness": ev.fairness,
        "curves": curves,
        "figures": {},
    }
    safe: dict[str, Any] = _json_safe(report)
    return safe


def write_figures(ev: Evaluation, report: Mapping[str, Any], out_dir: Path) -> dict[str, str]:
    """Draw every figure this task has; returns name -> file name (relative to ``out_dir``)."""
    ss = ev.ss
    m = report["metrics"]
    check = report.get("check") or {}
    title = f"{check.get('name', 'scores')} {check.get('version') or ''}".strip() + f" ({ss.task.value})"
    made: dict[str, Path | None] = {}
    conf = ev.options.confidence
    if ss.task == Task.CLASSIFICATION:
        n_good, n_bad = int(np.sum(ss.good & ~ss.fta)), int(np.sum(~ss.good & ~ss.fta))
        made["roc"] = plots.roc(out_dir / "roc.png", ev.curves, m.get("roc_auc") or {}, n_good, n_bad, title)
        if m.get("calibration"):
            made["reliability"] = plots.reliability_plot(
                out_dir / "reliability.png", m["calibration"], m.get("brier"), title
            )
    else:
        made["det"] = plots.det(out_dir / "det.png", ss, ev.curves, m, title, conf)
    made["histogram"] = plots.histogram(out_dir / "scores.png", ss, ev.plan.op_threshold, title)
    op = m.get("operating_point") or {}
    if ss.task == Task.PAD and op.get("apcer_per_species"):
        names = list(op["apcer_per_species"])
        made["apcer_species"] = plots.bars(
            out_dir / "apcer_species.png",
            {
                "APCER per species": (names, list(op["apcer_per_species"].values())),
                "BPCER": (["bona fide"], [op["bpcer"]]),
            },
            f"{title}\nat {op['label']} (threshold {op['threshold']:.4g}); whiskers: {conf:.0%} intervals",
        )
    if ss.task == Task.IDENTIFICATION:
        made["cmc"] = plots.cmc(
            out_dir / "cmc.png", m.get("cmc") or {}, int(np.sum(ss.good & ~ss.fta)), title, conf
        )
    fair = report.get("fairness") or {}
    for i, (column, data) in enumerate((fair.get("columns") or {}).items()):
        if i >= 8:
            break
        names = list(data["slices"])
        series = {rate.upper(): (names, [data["slices"][n][rate] for n in names]) for rate in fair["rates"]}
        made[f"fairness_{i}"] = plots.bars(
            out_dir / f"fairness_{i}.png",
            series,
            f"{title}\n{column}: rates at {fair['operating_point']} (threshold {fair['threshold']:.4g}); "
            f"whiskers: {conf:.0%} intervals",
        )
    return {name: path.name for name, path in made.items() if path is not None}


# ----------------------------------------------------------------------------------------------- HTML


def _pct(x: Any) -> str:
    if x is None:
        return "n/a"
    x = float(x)
    if x == 0:
        return "0%"
    if x >= 0.001:
        return f"{x * 100:.3g}%"
    return f"{x * 100:.2g}%"


def _num(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.6g}"


def _plain(x: Any) -> str:
    return f"{float(x):.4f}"


def _rate(e: Mapping[str, Any] | None, *, plain: bool = False) -> str:
    if not e or e.get("value") is None:
        return "n/a"
    fmt = _plain if plain else _pct
    ci = f" [{fmt(e['ci_low'])}, {fmt(e['ci_high'])}]" if e.get("ci_low") is not None else ""
    return f"<b>{fmt(e['value'])}</b>{ci}"


def _n(e: Mapping[str, Any] | None) -> str:
    if not e or e.get("n") is None:
        return ""
    return f"{e.get('errors', '?')}/{e['n']:,}"


def _table(head: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = []
    for i, r in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>")
    return f"<table><thead><tr>{h}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _targets_table(report: Mapping[str, Any], key: str) -> str:
    classes = report["classes"]
    items = report["metrics"].get(key) or {}
    if not items:
        return ""
    good, bad = classes["good"], classes["bad"]
    constrained = "fpr" if key.startswith("recall") else classes["bad_error"]
    value_name = key.split("_at_")[0]
    rows = []
    for target, it in items.items():
        rows.append(
            [
                f"{constrained.upper()} = {html.escape(target)}",
                _rate(it) if it.get("value") is not None else "—",
                _rate(it.get(constrained)),
                "" if it.get("threshold") is None else f"{it['threshold']:.6g}",
                f"{it.get('n_' + good, 0):,}",
                f"{it.get('n_' + bad, 0):,}",
                html.escape(it.get("note") or ""),
            ]
        )
    return _table(
        [
            "target",
            value_name.upper(),
            f"achieved {constrained.upper()}",
            "threshold",
            f"n {good}",
            f"n {bad}",
            "note",
        ],
        rows,
    )


def _fairness_html(fair: Mapping[str, Any] | None, report: Mapping[str, Any]) -> str:
    if not fair:
        return "<p>No slice columns in the manifest (add e.g. age_band, sex, country, device).</p>"
    classes = report["classes"]
    r_bad, r_good = fair["rates"][0], fair["rates"][1]
    parts = [
        f"<p>All slices at one global threshold <b>{fair['threshold']:.6g}</b> "
        f"({html.escape(fair['operating_point'])}). "
        f"Ratio = worst slice / geometric mean of slices; flagged above {fair['max_ratio']:g}.</p>"
    ]
    for column, data in fair["columns"].items():
        flagged = {(f["slice"], f["rate"]) for f in data["flagged"]}
        rows, row_classes = [], []
        for name, it in data["slices"].items():
            rows.append(
                [
                    html.escape(name),
                    f"{it.get('n_' + classes['good'], 0):,}",
                    f"{it.get('n_' + classes['bad'], 0):,}",
                    _rate(it[r_bad]),
                    _rate(it[r_good]),
                    _rate(it["fta"]),
                ]
            )
            row_classes.append("flag" if any((name, r) in flagged for r in fair["rates"]) else "")
        ratio = data["ratio_worst_to_geomean"]
        ratio_txt = ", ".join(
            f"{r.upper()}: {_rate(ratio[r], plain=True)} (worst: {html.escape(str(data['worst'].get(r)))})"
            for r in fair["rates"]
        )
        parts.append(f"<h3>{html.escape(column)}</h3>")
        parts.append(
            _table(
                [
                    "slice",
                    f"n {classes['good']}",
                    f"n {classes['bad']}",
                    r_bad.upper(),
                    r_good.upper(),
                    "FTA",
                ],
                rows,
                row_classes,
            )
        )
        parts.append(f"<p class='small'>worst/geomean ratio {ratio_txt}</p>")
    if fair.get("skipped_columns"):
        skipped = "; ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in fair["skipped_columns"].items())
        parts.append(f"<p class='small'>Not sliced: {skipped}</p>")
    return "".join(parts)


def _headline(report: Mapping[str, Any]) -> str:
    m = report["metrics"]
    task = report["task"]
    rows: list[list[str]] = []
    eer = m.get("eer")
    if eer:
        rows.append(
            [
                "EER",
                _rate(eer),
                f"interval of the crossing [{_pct(eer.get('low'))}, {_pct(eer.get('high'))}], "
                f"threshold {_num(eer.get('threshold'))}",
            ]
        )
    if m.get("roc_auc"):
        rows.append(["ROC AUC", _rate(m["roc_auc"], plain=True), ""])
    if m.get("pr_auc"):
        rows.append(["PR AUC (average precision, fraud positive)", _rate(m["pr_auc"], plain=True), ""])
    if m.get("brier"):
        rows.append(["Brier score", _rate(m["brier"], plain=True), "lower is better"])
    fta = m.get("fta")
    if isinstance(fta, dict) and "value" in fta:
        rows.append(["FTA rate", _rate(fta), _n(fta)])
    for key in ("apnrr", "bpnrr"):
        if m.get(key):
            rows.append([key.upper(), _rate(m[key]), _n(m[key])])
    if task == "identification" and m.get("cmc"):
        for k, it in m["cmc"].items():
            rows.append([f"CMC rank {k}", _rate(it), ""])
    return _table(["metric", f"value [{report['bootstrap']['confidence']:.0%} interval]", "notes"], rows)


def _operating_point(report: Mapping[str, Any]) -> str:
    op = report["metrics"].get("operating_point")
    if not op:
        return "<p>No operating point.</p>"
    rows = []
    for name, it in op.items():
        if name in ("label", "threshold"):
            continue
        if name == "apcer_per_species":
            for sp, e in it.items():
                rows.append([f"APCER {html.escape(sp)}", _rate(e), _n(e)])
            continue
        note = html.escape(it.get("note", "")) if isinstance(it, dict) else ""
        label = name.upper().replace("_INCL_FTA", " (failures to acquire counted)")
        rows.append([html.escape(label), _rate(it), _n(it) + (f" {note}" if note else "")])
    return f"<p>Threshold <b>{op['threshold']:.6g}</b> ({html.escape(op['label'])}).</p>" + _table(
        ["rate", "value [interval]", "errors/n"], rows
    )


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left}
th{background:#f4f4f4}tr.flag td{background:#fde8e8}.small{font-size:.85em;color:#555}
.box{background:#f8f8fb;border:1px solid #e2e2ea;padding:.6em 1em;border-radius:6px}
figure{display:inline-block;margin:.5em;vertical-align:top}figure img{max-width:520px;border:1px solid #eee}
"""


def render_html(report: Mapping[str, Any], out_dir: Path) -> str:
    """A readable, self-contained page: summary, headline rates, targets, operating point, slices, figures."""
    check = report.get("check") or {}
    who = f"{check.get('name')} {check.get('version') or ''}" if check else "score file"
    counts = report["counts"]
    inputs = report["inputs"]
    classes = report["classes"]
    task = report["task"]
    at_key = {
        "verification": "fnmr_at_fmr",
        "identification": "fnir_at_fpir",
        "pad": "bpcer_at_apcer",
        "classification": "recall_at_fpr",
    }[task]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>openidv evaluation: {html.escape(who)}</title><style>{CSS}</style></head><body>",
        f"<h1>openidv evaluation: {html.escape(who)} — {html.escape(task)}</h1>",
        "<div class='box'>",
        f"<p><b>Score meaning:</b> {html.escape(report['meaning'])} ({html.escape(report['meaning_text'])}). "
        f"<b>Decision rule:</b> {html.escape(report['decision_rule'])}.</p>",
        f"<p><b>Manifest:</b> {html.escape(str(inputs.get('manifest')))} "
        f"(sha256 {html.escape(str(inputs.get('manifest_sha256', ''))[:12])}…); "
        f"<b>scores:</b> {html.escape(str(inputs.get('scores_source')))}</p>",
        f"<p><b>Rows:</b> {counts['rows']:,} — ok {counts['ok']:,}, "
        f"failed to acquire {counts['failed_to_acquire']:,}, "
        f"errors {counts['error']:,} (excluded from rates); "
        f"{classes['good']} {counts['n_' + classes['good']]:,}, "
        f"{classes['bad']} {counts['n_' + classes['bad']]:,}; subjects {counts['subjects']:,}.</p>",
        f"<p class='small'>Intervals: {report['bootstrap']['confidence']:.0%}, "
        f"{html.escape(report['bootstrap']['method'])}; "
        f"{report['bootstrap']['replicates']:,} replicates, seed {report['bootstrap']['seed']}.</p>",
        "</div>",
        "<h2>Headline</h2>",
        _headline(report),
        f"<h2>{html.escape(at_key.replace('_', ' ').upper())}</h2>",
        _targets_table(report, at_key),
    ]
    if report["metrics"].get(f"{at_key}_incl_fta"):
        parts += [
            "<h3>with failures to acquire counted as errors</h3>",
            _targets_table(report, f"{at_key}_incl_fta"),
        ]
    parts += ["<h2>Operating point</h2>", _operating_point(report)]
    parts += ["<h2>Fairness (per slice)</h2>", _fairness_html(report.get("fairness"), report)]
    parts.append("<h2>Figures</h2>")
    for name, file in (report.get("figures") or {}).items():
        data = base64.b64encode((out_dir / file).read_bytes()).decode("ascii")
        parts.append(
            f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"
            f"<figcaption class='small'>{html.escape(file)}</figcaption></figure>"
        )
    errs = report["errors"]
    if errs["count"]:
        rows = [[html.escape(e["id"]), html.escape(e["detail"])] for e in errs["rows"]]
        parts += [
            f"<h2>Errors ({errs['count']:,} rows, excluded from every rate)</h2>",
            _table(["id", "detail"], rows),
        ]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(ev: Evaluation, report: dict[str, Any], out_dir: Path, *, html_report: bool = True) -> Path:
    """Write figures, ``report.json`` and ``report.html`` into ``out_dir``; returns the JSON path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if html_report:
        report["figures"] = write_figures(ev, report, out_dir)
    path = out_dir / "report.json"
    tmp = path.with_name("report.json.tmp")
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    if html_report:
        (out_dir / "report.html").write_text(render_html(report, out_dir), encoding="utf-8")
    return path
