"""``scorecard.html``: vendors (and the in-house check) side by side, one self-contained page, no CDN.

One table per capability: a row per (slice, headline metric), a column per entry, each cell
``value [ci_low, ci_high] (n)``, the best value of the row highlighted (lower is better for error rates,
higher for AUC and recall); under it the same for the error rates of each vendor's own decisions
(``at_vendor_decision``, vendors only). Then cost and latency per vendor.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

HEADLINES = {
    "verification": ("fnmr_at_fmr_1e-2", "eer", "roc_auc", "fmr", "fnmr", "fta"),
    "pad": ("recall_at_fpr_1e-2", "roc_auc", "apcer", "bpcer", "eer", "fta"),
    "classification": ("recall_at_fpr_1e-2", "roc_auc", "pr_auc", "fpr", "recall", "fta"),
}
HIGHER_IS_BETTER = ("roc_auc", "pr_auc", "recall")
#: the rates of ``at_vendor_decision`` per task, in the order shown
DECISION_RATES = {
    "verification": ("fmr", "fnmr", "review_rate"),
    "pad": ("apcer", "bpcer", "review_rate"),
    "classification": ("fpr", "recall", "review_rate"),
}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}h1{font-size:1.5em}
h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.88em}td,th{border:1px solid #ddd;padding:.3em .6em;
text-align:left}th{background:#f4f4f4}td.best{background:#e3f4e1;font-weight:600}.small{font-size:.85em;color:#555}
"""


def higher_is_better(metric: str) -> bool:
    return metric.startswith(HIGHER_IS_BETTER)


def cell(e: Mapping[str, Any] | None) -> str:
    if not e or e.get("value") is None:
        note = (e or {}).get("note")
        return f"<span class='small' title='{html.escape(str(note))}'>n/a</span>" if note else "n/a"
    ci = ""
    if e.get("ci_low") is not None and e.get("ci_high") is not None:
        ci = f" [{e['ci_low']:.4g}, {e['ci_high']:.4g}]"
    return f"{e['value']:.4g}{ci} <span class='small'>(n={e.get('n', '?')})</span>"


def _entries(card: Mapping[str, Any], capability: str) -> dict[str, Mapping[str, Any]]:
    """Entry label -> its evaluation (task, operating point...) with its ``slices``."""
    evaluations = card.get("evaluations", {})
    found: dict[str, Mapping[str, Any]] = {}
    for name, caps in card.get("vendors", {}).items():
        if capability in caps:
            found[name] = {**evaluations[name][capability], "slices": caps[capability]}
    house = card.get("in_house", {}).get(capability)
    if house:
        info = evaluations["in-house"][capability]
        found[f"in-house ({(info.get('check') or {}).get('name', 'check')})"] = {**info, "slices": house}
    return found


def _rows(
    slices: Mapping[str, Mapping[str, Mapping[str, Any]]],
    metrics: tuple[str, ...],
    highlight: tuple[str, ...],
) -> list[str]:
    """A row per (slice, metric) over entries (``slices``: entry -> slice key -> metrics); the best value of
    a row highlighted when ``metric`` is in ``highlight`` and there are several entries."""
    slice_keys: list[str] = []
    for by_key in slices.values():
        slice_keys += [k for k in by_key if k not in slice_keys]
    rows = []
    for key in slice_keys:
        for metric in metrics:
            values = {n: (by_key.get(key) or {}).get(metric) for n, by_key in slices.items()}
            known = {
                n: v["value"] for n, v in values.items() if isinstance(v, dict) and v.get("value") is not None
            }
            best = (max if higher_is_better(metric) else min)(known.values()) if known else None
            if metric not in highlight or len(slices) < 2:
                best = None
            cells = "".join(
                f"<td class='best'>{cell(v)}</td>"
                if best is not None and known.get(n) == best
                else f"<td>{cell(v)}</td>"
                for n, v in values.items()
            )
            rows.append(f"<tr><td>{html.escape(key)}</td><td>{html.escape(metric)}</td>{cells}</tr>")
    return rows


def decision_table(card: Mapping[str, Any], capability: str, task: str) -> str:
    """Per slice, the error rates of each vendor's own decisions (``at_vendor_decision``); empty when no
    vendor has them (the in-house check has no decisions of its own)."""
    blocks = {
        name: {k: (m.get("at_vendor_decision") or {}) for k, m in caps[capability].items()}
        for name, caps in card.get("vendors", {}).items()
        if capability in caps and any("at_vendor_decision" in m for m in caps[capability].values())
    }
    if not blocks:
        return ""
    metrics = DECISION_RATES.get(task, ())
    head = "".join(f"<th>{html.escape(n)}</th>" for n in blocks)
    rows = _rows(blocks, metrics, tuple(m for m in metrics if m != "review_rate"))
    return (
        "<h3>At each vendor's own decision</h3>"
        "<p class='small'>what a buyer of the vendor gets: the bad class passed, the good class not passed "
        "(review or decline), the share of answered rows sent to review; failures to acquire and faults "
        f"left out; exact Clopper-Pearson intervals ({card['confidence']:.0%}) treating rows as "
        "independent.</p>"
        f"<table><thead><tr><th>slice</th><th>rate</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def capability_table(card: Mapping[str, Any], capability: str) -> str:
    entries = _entries(card, capability)
    if not entries:
        return "<p>No entry was evaluated.</p>"
    task = next(iter(entries.values()))["task"]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in entries)
    metrics = HEADLINES.get(task, ())
    rows = _rows({n: e["slices"] for n, e in entries.items()}, metrics, metrics)
    ops = "; ".join(
        f"{html.escape(n)}: threshold {op.get('threshold')} ({html.escape(str(op.get('label')))})"
        for n, op in ((n, e["operating_point"]) for n, e in entries.items())
    )
    return (
        f"<p class='small'>task {html.escape(task)}; per-slice rates at each entry's overall "
        f"operating point: {ops}</p>"
        f"<table><thead><tr><th>slice</th><th>metric</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + decision_table(card, capability, task)
    )


def operations_table(card: Mapping[str, Any]) -> str:
    rows = []
    for name, ops in card.get("operations", {}).items():
        for capability, s in ops.items():
            if not isinstance(s, dict) or "calls" not in s:
                continue
            cost, lat = s["cost"], s["latency_ms"]
            faults = ", ".join(f"{k} {v}" for k, v in s["faults"].items()) or "none"
            per_call = "n/a" if cost["per_call"] is None else f"{cost['per_call']:.4g}"
            rows.append(
                f"<tr><td>{html.escape(name)}</td><td>{html.escape(capability)}</td><td>{s['calls']}</td>"
                f"<td>{s['answered']}</td><td>{html.escape(faults)}</td>"
                f"<td>{cost['total']:.4g} {html.escape(cost['currency'])}</td><td>{per_call}</td>"
                f"<td>{lat['p50']}</td><td>{lat['p95']}</td><td>{lat['p99']}</td></tr>"
            )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "vendor",
            "capability",
            "calls",
            "answered",
            "faults",
            "cost total",
            "cost per call",
            "p50 ms",
            "p95 ms",
            "p99 ms",
        )
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render(card: Mapping[str, Any]) -> str:
    """The whole page."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>openidv vendor scorecard</title>",
        f"<style>{CSS}</style></head><body><h1>openidv vendor scorecard</h1>",
        f"<p class='small'>{html.escape(card['created_at'])}; intervals {card['confidence']:.0%} "
        f"(subject bootstrap, {card['bootstrap']['replicates']} replicates, "
        f"seed {card['bootstrap']['seed']}, "
        "widened to the exact binomial interval for counted rates); best per row highlighted.</p>",
    ]
    for capability, m in card.get("manifests", {}).items():
        parts.append(f"<h2>{html.escape(capability)}</h2>")
        parts.append(f"<p class='small'>manifest {html.escape(m['path'])} ({m['rows']} rows)</p>")
        parts.append(capability_table(card, capability))
    parts += ["<h2>Cost and latency</h2>", operations_table(card)]
    if card.get("skipped"):
        items = "".join(
            f"<li>{html.escape(s['entry'])} / {html.escape(s['capability'])}: {html.escape(s['reason'])}</li>"
            for s in card["skipped"]
        )
        parts.append(f"<h2>Not evaluated</h2><ul>{items}</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
