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
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from openidv.checks.graph.identifiers import identifiers_of
from openidv.cli.common import fail, friendly_errors, print_json
from openidv.errors import InvalidInput
from openidv.services.graph_service import GraphService
from openidv.settings import Settings
from openidv.store.graph_repository import AccountRecord
from openidv.store.repository import Store
from openidv.tenancy import DEFAULT_TENANT, validate_tenant

graph_app = typer.Typer(
    help="Identity graph: add applicants, list fraud rings, show an account's neighbourhood.",
    no_args_is_help=True,
)

Tenant = Annotated[str, typer.Option("--tenant", "-t", help="The tenant whose graph it is.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _service(settings: Settings) -> GraphService:
    return GraphService.from_store(Store.from_settings(settings), settings)


#: an applicant's raw fields and time -> the ring model's facts (``GraphService.facts_of``)
FactsOf = Callable[[Mapping[str, Any], datetime], dict[str, Any]]


def parse_applicant(line: str, facts_of: FactsOf | None = None) -> tuple[AccountRecord, list[str]]:
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
    facts = facts_of(item, created) if facts_of is not None and item.get("identifiers") is None else None
    return AccountRecord(account_id, tuple(identifiers), created, verification, facts), problems


def read_applicants(path: Path, facts_of: FactsOf | None = None) -> tuple[list[AccountRecord], int]:
    """Every applicant of a JSON-lines file (blank lines skipped) and how many raw fields could not be
    normalised; InvalidInput names the first bad line."""
    records: list[AccountRecord] = []
    dropped = 0
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record, problems = parse_applicant(line, facts_of)
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
    service = _service(Settings.from_env())
    try:
        records, dropped = read_applicants(file, service.facts_of)
    except UnicodeDecodeError:
        fail(f"{file}: not UTF-8 text")
    new = service.add_many(records, tenant=tenant)
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
    service = _service(Settings.from_env())
    rings = service.rings(tenant=tenant, min_size=min_size)
    values = service.reveal(sorted({s.key for r in rings for s in r.shared}), tenant=tenant)
    if as_json:
        listed = [r.to_dict() for r in rings]
        for entry in listed:
            for shared in entry["shared"]:
                shared["value"] = values.get(shared["key"])
        print_json(listed)
        return
    if not rings:
        typer.echo("no rings")
    for ring in rings:
        shared = ", ".join(f"{s.kind} {values.get(s.key, s.key)} x{s.members}" for s in ring.shared[:3])
        typer.echo(
            f"{ring.ring_id}  score {ring.score:.2f}  size {ring.size}  density {ring.density:.2f}  {shared}"
        )


@graph_app.command("show")
@friendly_errors
def show_command(
    account: Annotated[str, typer.Argument(help="The account id.")],
    as_json: AsJson = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also draw the neighbourhood to this PNG, SVG or PDF file.")
    ] = None,
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """Show an account's neighbourhood (linked accounts within two hops, and why), its ring and graph score,
    with the clear values of its identifiers (you run this on your own deployment's data)."""
    validate_tenant(tenant)
    if out is not None and out.suffix.lower() not in (".png", ".svg", ".pdf"):
        fail(f"--out {out}: the file must end in .png, .svg or .pdf")
    view = _service(Settings.from_env()).describe(account, tenant=tenant, reveal=True)
    if out is not None:
        from openidv.cli.graph_draw import draw_neighbourhood  # matplotlib only when drawing

        draw_neighbourhood(view, out)
    if as_json:
        print_json(view)
        return
    values = view["values"]
    typer.echo(f"{view['account_id']}  created {view['created_at']}  graph score {view['graph_score']:.2f}")
    for info in view["identifiers"]:
        note = " (hub: links nobody)" if info["hub"] else ""
        shown = values.get(info["key"], info["key"])
        typer.echo(f"  {info['kind']} {shown}  held by {info['accounts']}, weight {info['weight']:g}{note}")
    for x in view["neighbours"]:
        via = f" via {x['via']}" if x["via"] else ""
        shares = ", ".join(f"{k.partition(':')[0]} {values.get(k, k)}" for k in x["shared"])
        typer.echo(f"  hop {x['hops']}: {x['account_id']}{via}  weight {x['weight']:g}  shares {shares}")
    if view["ring"] is not None:
        ring = view["ring"]
        typer.echo(f"  ring {ring['ring_id']}: {ring['size']} members, score {ring['score']:.2f}")
    if view["reasons"]:
        typer.echo(f"  reasons: {', '.join(view['reasons'])}")
    if out is not None:
        typer.echo(f"drew {out}")


# issue 13 point 2: batch entity resolution (Splink), in its own module
from openidv.cli.graph_resolve_cmd import resolve_command  # noqa: E402

graph_app.command("resolve")(resolve_command)
