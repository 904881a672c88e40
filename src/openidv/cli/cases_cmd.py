"""``openidv cases list|export``: the human review queue from a terminal, and decided cases as labelled
evaluation data (``openidv.services.review_export``; docs/review.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from openidv.cli.common import friendly_errors, print_json
from openidv.services.review_cases import ReviewCases
from openidv.services.review_export import export_labels
from openidv.settings import Settings
from openidv.store.repository import Store
from openidv.tenancy import DEFAULT_TENANT, validate_tenant

cases_app = typer.Typer(
    help="The human review queue: list cases, export decisions as labels.", no_args_is_help=True
)


@cases_app.command("list")
@friendly_errors
def list_command(
    tenant: Annotated[
        str, typer.Option("--tenant", "-t", help="The tenant whose queue it is.")
    ] = DEFAULT_TENANT,
    state: Annotated[
        str | None, typer.Option(help="open, claimed, escalated, awaiting_confirmation or decided.")
    ] = None,
    reason_code: Annotated[
        str | None, typer.Option("--reason-code", help="Cases with this reason code.")
    ] = None,
    assignee: Annotated[str | None, typer.Option(help="Cases claimed by this reviewer id.")] = None,
    sla: Annotated[str | None, typer.Option(help="breached, due_soon or ok (active cases only).")] = None,
    min_age_hours: Annotated[
        float | None, typer.Option("--min-age-hours", min=0, help="Cases open at least this long.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many cases.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the page as JSON.")] = False,
) -> None:
    """The queue, earliest due first."""
    validate_tenant(tenant)
    settings = Settings.from_env()
    cases = ReviewCases(Store.from_settings(settings), sla=timedelta(hours=settings.review_sla_hours))
    page = cases.list_cases(
        tenant,
        state=state,
        reason_code=reason_code,
        assignee=assignee,
        sla=sla,
        min_age=timedelta(hours=min_age_hours) if min_age_hours is not None else None,
        limit=limit,
    )
    if as_json:
        print_json({"items": [i.to_api() for i in page.items], "next_cursor": page.next_cursor})
        return
    if not page.items:
        typer.echo("no cases")
        return
    for c in page.items:
        typer.echo(
            f"{c.id}  {c.state:<21} {c.sla:<8} due {c.due_at:%Y-%m-%d %H:%M}  "
            f"{c.automated_outcome:<7} {c.final_outcome or '-':<7} {c.assignee or '-':<20} "
            f"{','.join(c.reason_codes)}"
        )


@cases_app.command("export")
@friendly_errors
def export_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for manifest.csv and scores/<check>.csv.")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Only this tenant's cases (default: every tenant).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was written as JSON.")] = False,
) -> None:
    """Decided cases as a labelled manifest (fraud = final reject) with each check's stored scores, for
    ``openidv eval run --manifest OUT/manifest.csv --scores OUT/scores/<check>.csv``."""
    if tenant is not None:
        validate_tenant(tenant)
    report = export_labels(Store.from_settings(Settings.from_env()), out, tenant=tenant)
    if as_json:
        print_json(report.to_dict())
        return
    labels = ", ".join(f"{n} {label}" for label, n in sorted(report.labels.items()))
    typer.echo(f"wrote {report.manifest}: {report.cases} decided case(s) ({labels})")
    for check, path in report.scores.items():
        typer.echo(f"  scores of {check}: {path}")
