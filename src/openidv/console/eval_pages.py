"""Evaluation pages: the reports of ``eval run`` and ``vendors benchmark`` (headline figures with their
intervals, the operating point, fairness per slice, DET and score figures) and the regression gate's
history, read from the folders in ``OPENIDV_EVAL_DIRS`` (``openidv.console.eval_catalog``)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import FileResponse, Response

from openidv.console.auth import ConsoleRefusal, ConsoleUser
from openidv.console.eval_catalog import EvalCatalog
from openidv.console.render import render
from openidv.console.routes import router as console_router

router = console_router  # one router: the guard test walks every console route


def get_catalog(request: Request) -> EvalCatalog:
    catalog: EvalCatalog = request.app.state.eval_catalog
    return catalog


def rate(metric: object) -> str:
    """``0.012 [0.004, 0.031] (n=400)``; a figure the data cannot support says so."""
    if not isinstance(metric, dict):
        return "—"
    value = metric.get("value")
    n = metric.get("n") or metric.get("n_genuine") or metric.get("n_bona_fide")
    if value is None:
        return "not supported by the data" + (f" (n={n})" if n else "")
    low, high = metric.get("ci_low"), metric.get("ci_high")
    interval = (
        f" [{low:.4g}, {high:.4g}]" if isinstance(low, int | float) and isinstance(high, int | float) else ""
    )
    return f"{value:.4g}{interval}" + (f" (n={n})" if n else "")


@router.get("/evaluation")
def evaluation(request: Request, user: ConsoleUser) -> Response:
    catalog = get_catalog(request)
    return render(
        request,
        "evaluation.html",
        {
            "reports": catalog.reports(),
            "history": catalog.gate_history(),
            "roots": [str(r) for r in catalog.roots],
            "rate": rate,
        },
    )


@router.get("/evaluation/{report_id}")
def evaluation_report(request: Request, user: ConsoleUser, report_id: str) -> Response:
    found = get_catalog(request).report(report_id)
    if found is None:
        raise ConsoleRefusal(404, "No such report (it may have been moved or deleted).")
    entry, report = found
    metrics = report.get("metrics") or {}
    headline = {k: v for k, v in metrics.items() if isinstance(v, dict) and "value" in v}
    targets = {
        k: v
        for k, v in metrics.items()
        if isinstance(v, dict) and "value" not in v and k != "operating_point"
    }
    return render(
        request,
        "eval_report.html",
        {
            "entry": entry,
            "report": report,
            "headline": headline,
            "targets": targets,
            "operating_point": metrics.get("operating_point") or {},
            "fairness": report.get("fairness") or {},
            "figures": report.get("figures") or {},
            "rate": rate,
        },
    )


@router.get("/evaluation/{report_id}/figures/{name}")
def evaluation_figure(request: Request, user: ConsoleUser, report_id: str, name: str) -> Response:
    path = get_catalog(request).figure(report_id, name)
    if path is None:
        raise ConsoleRefusal(404, "No such figure.")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-store"})
