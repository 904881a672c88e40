"""``openidv graph ingest|rings|show``: add applicants to the identity graph, list rings, show one account.

Input of ``ingest`` is JSON lines, one applicant a line: ``account_id``, ``created_at`` (ISO 8601 with a
zone; optional, default now), and either ``identifiers`` (normalised keys such as ``"phone:+14155550100"``)
or the raw applicant fields a verification request carries (``email``, ``phone`` with ``country``,
``address``, ``ip``, ``device_id``, ``national_id``, ``document_number`` with ``document_issuer``,
``face_id``; the lines of ``openidv synth identities``), which are normalised here
(``openidv.checks.graph.identifiers``); a field that cannot be normalised is left out and counted, the rest
of the line is kept. Optionally ``verification_id``. The whole file is checked before anything is written:
a bad line exits 2 naming the line, and the store is left as it was.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from openidv.checks.graph.identifiers import identifiers_of
from openidv.cli.common import fail, friendly_errors, print_json
from openidv.errors import InvalidInput
from openidv.services.graph_service import GraphService
from openidv.settings import Settings
from openidv.store.graph_repository import AccountRecord, GraphRepository
from openidv.store.repository import Store
from openidv.tenancy import DEFAULT_TENANT, validate_tenant

graph_app = typer.Typer(
    help="Identity graph: add applicants, list fraud rings, show an account's neighbourhood.",
    no_args_is_help=True,
)

Tenant = Annotated[str, typer.Option("--tenant", "-t", help="The tenant whose graph it is.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _service(settings: Settings) -> GraphService:
    store = Store.from_settings(settings)
    return GraphService(GraphRepository(store.engine))


def parse_applicant(line: str) -> tuple[AccountRecord, list[str]]:
    """One JSON line -> an account record and the raw fields that could not be normalised; InvalidInput says
    what is wrong with the line itself."""
    try:
        item: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not JSON ({exc.msg})") from None
    if not isinstance(item, dict):
        raise InvalidInput("expected a JSON object")
    account_id = item.get("account_id")
    if not isinstance(account_id, str):
        raise InvalidInput("account_id: a string is required")
    problems: list[str] = []
    identifiers = item.get("identifiers")
    if identifiers is None:  # raw applicant fields: normalise them
        found, problems = identifiers_of(item)
        identifiers = [identifier.key for identifier in found]
    if not isinstance(identifiers, list) or not all(isinstance(k, str) for k in identifiers):
        raise InvalidInput("identifiers: a list of 'kind:value' strings is required")
    created_raw = item.get("created_at")
    created = datetime.now(UTC)
    if created_raw is not None:
        if not isinstance(created_raw, str):
            raise InvalidInput("created_at: an ISO 8601 string")
        try:
            created = datetime.fromisoformat(created_raw.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"created_at: not an ISO 8601 time: {created_raw[:40]!r}") from None
        if created.tzinfo is None:
            raise InvalidInput("created_at: give a time zone (e.g. 'Z' or '+00:00')")
    verification = item.get("verification_id")
    if verification is not None and (not isinstance(verification, str) or len(verification) > 36):
        raise InvalidInput("verification_id: a string of at most 36 characters")
    return AccountRecord(account_id, tuple(identifiers), created, verification), problems


def read_applicants(path: Path) -> tuple[list[AccountRecord], int]:
    """Every applicant of a JSON-lines file (blank lines skipped) and how many raw fields could not be
    normalised; InvalidInput names the first bad line."""
    records: list[AccountRecord] = []
    dropped = 0
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record, problems = parse_applicant(line)
            except InvalidInput as exc:
                raise InvalidInput(f"{path.name} line {number}: {exc}") from None
            records.append(record)
            dropped += len(problems)
    return records, dropped


@graph_app.command("ingest")
@friendly_errors
def ingest_command(
    file: Annotated[
        Path, typer.Argument(help="JSON lines: account_id, created_at, identifiers or raw applicant fields.")
    ],
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """Add the applicants of FILE to the identity graph (idempotent: adding a file again changes nothing)."""
    validate_tenant(tenant)
    try:
        records, dropped = read_applicants(file)
    except UnicodeDecodeError:
        fail(f"{file}: not UTF-8 text")
    new = _service(Settings.from_env()).add_many(records, tenant=tenant)
    left_out = f"; {dropped} field(s) could not be normalised and were left out" if dropped else ""
    typer.echo(f"ingested {len(records)} applicant(s), {new} new account(s), tenant {tenant}{left_out}")


@graph_app.command("rings")
@friendly_errors
def rings_command(
    min_size: Annotated[int, typer.Option("--min-size", min=2, help="Smallest ring listed.")] = 2,
    as_json: AsJson = False,
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """List rings: groups of accounts bound by shared identifiers, highest score first."""
    validate_tenant(tenant)
    rings = _service(Settings.from_env()).rings(tenant=tenant, min_size=min_size)
    if as_json:
        print_json([r.to_dict() for r in rings])
        return
    if not rings:
        typer.echo("no rings")
    for ring in rings:
        shared = ", ".join(f"{s.key} x{s.members}" for s in ring.shared[:3])
        typer.echo(
            f"{ring.ring_id}  score {ring.score:.2f}  size {ring.size}  density {ring.density:.2f}  {shared}"
        )


@graph_app.command("show")
@friendly_errors
def show_command(
    account: Annotated[str, typer.Argument(help="The account id.")],
    as_json: AsJson = False,
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """Show an account's neighbourhood (linked accounts within two hops, and why) and its ring."""
    validate_tenant(tenant)
    view = _service(Settings.from_env()).neighbourhood(account, tenant=tenant)
    if as_json:
        print_json(view.to_dict())
        return
    n = view.neighbourhood
    typer.echo(f"{n.account_id}  created {n.created_at.isoformat()}")
    for info in n.identifiers:
        note = " (hub: links nobody)" if info.hub else ""
        typer.echo(f"  {info.key}  held by {info.degree}, weight {info.weight:g}{note}")
    for x in n.neighbours:
        via = f" via {x.via}" if x.via else ""
        typer.echo(f"  hop {x.hops}: {x.account_id}{via}  weight {x.weight:g}  shares {', '.join(x.shared)}")
    if view.ring is not None:
        typer.echo(f"  ring {view.ring.ring_id}: {view.ring.size} members, score {view.ring.score:.2f}")
