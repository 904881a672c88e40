"""Top-level commands: verify, serve, tenants, keys, audit."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from openidv.api.schemas import normalise_mrz_text
from openidv.cli.common import fail, friendly_errors, print_json
from openidv.decision.policy import load_policy
from openidv.decision.reason_codes import describe
from openidv.evidence import DeclaredData, Evidence
from openidv.services import Verifier
from openidv.settings import Settings
from openidv.store.repository import Store
from openidv.tenancy import DEFAULT_TENANT, SCOPES, parse_scopes
from openidv.verification import VerificationRecord

keys_app = typer.Typer(
    help="Create, list, rotate and revoke API keys (only a key's hash is stored).", no_args_is_help=True
)
tenants_app = typer.Typer(
    help="Create and list tenants (every API key and its data belong to one).", no_args_is_help=True
)


def open_store() -> Store:
    return Store.from_settings(Settings.from_env())


def _read_mrz(mrz: str | None, mrz_file: Path | None) -> str:
    if (mrz is None) == (mrz_file is None):
        fail("give the MRZ either as --mrz TEXT or as --mrz-file FILE")
    text = mrz if mrz is not None else mrz_file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    try:
        return normalise_mrz_text(text.replace("\\n", "\n"))
    except ValueError as exc:
        fail(f"mrz: {exc}")


@friendly_errors
def verify_command(
    mrz: Annotated[str | None, typer.Option(help="MRZ lines joined by newlines (or '\\n').")] = None,
    mrz_file: Annotated[Path | None, typer.Option(help="A text file holding the MRZ lines.")] = None,
    surname: Annotated[str | None, typer.Option(help="Declared surname.")] = None,
    given_names: Annotated[str, typer.Option(help="Declared given names.")] = "",
    birth_date: Annotated[str | None, typer.Option(help="Declared date of birth, YYYY-MM-DD.")] = None,
    as_of: Annotated[str | None, typer.Option(help="Judge expiry and age on this date (YYYY-MM-DD).")] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Policy YAML (default: $OPENIDV_POLICY or built-in).")
    ] = None,
    store: Annotated[bool, typer.Option("--store/--no-store", help="Record it in the database.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Verify one applicant from an MRZ and declared data; prints the decision with reason codes."""
    text = _read_mrz(mrz, mrz_file)
    declared = None
    if surname is not None:
        declared = DeclaredData(
            surname=surname, given_names=given_names, birth_date=_date(birth_date, "birth-date")
        )
    elif birth_date is not None:
        fail("--birth-date needs --surname too")
    evidence = Evidence(mrz_text=text, declared=declared, as_of=_date(as_of, "as-of"))
    settings = Settings.from_env()
    # lookups (galleries, accepted captures) use the deployment's database; --store also records the result
    verifier = Verifier.open(settings, policy=load_policy(policy or settings.policy_path))
    record = verifier.verify(evidence, save=store, actor="cli")
    if as_json:
        print_json(record.to_api())
    else:
        print_record(record)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--{option}: {value!r} is not a date in the form YYYY-MM-DD")


def print_record(record: VerificationRecord, console: Console | None = None) -> None:
    console = console or Console()
    colour = {"approve": "green", "review": "yellow", "reject": "red"}[record.decision.outcome.value]
    console.print(
        f"[bold {colour}]{record.decision.outcome.value.upper()}[/]  verification {record.id}  "
        f"policy {record.decision.policy_version}  {record.latency_ms:.1f} ms"
    )
    table = Table("check", "status", "score (meaning)", "reason codes", "ms")
    for c in record.checks:
        score = "-" if c.score is None else f"{c.score:.3f} ({c.meaning.value})"
        table.add_row(c.check, c.status.value, score, ", ".join(c.reason_codes) or "-", f"{c.latency_ms:.2f}")
    console.print(table)
    for code in record.decision.reason_codes:
        console.print(f"  [bold]{code}[/]: {describe(code)}")


@friendly_errors
def serve_command(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    log_format: Annotated[
        str | None,
        typer.Option(
            help="json (one object per line, with the request id) or text; default OPENIDV_LOG_FORMAT."
        ),
    ] = None,
) -> None:
    """Run the HTTP API (OpenAPI at /openapi.json, docs at /docs; /healthz, /readyz, /metrics) and the
    review console at /console (accounts: `openidv users create`)."""
    import logging.config

    import uvicorn

    from openidv.api.app import create_app
    from openidv.api.logs import log_config

    settings = Settings.from_env()
    chosen = (log_format or settings.log_format).lower()
    if chosen not in ("json", "text"):
        fail(f"--log-format must be json or text, not {chosen!r}")
    logs = log_config(chosen, settings.log_level)
    logging.config.dictConfig(logs)
    # migrate, and fail fast with a clear message (no audit key, no database) before binding the port
    open_store().audit.keyring.current  # noqa: B018
    # uvicorn applies the same logging in every worker; its access log is off: openidv.access writes one
    # line per request with the request id and the route template (never the raw path or the query string)
    options: dict[str, object] = {"host": host, "port": port, "log_config": logs, "access_log": False}
    if workers > 1:
        # each worker dies with the master (openidv.api.worker), so a killed master leaves no orphans
        if settings.metrics_enabled:
            _share_metrics_between_workers()
        factory = "openidv.api.worker:create_worker_app"
        uvicorn.run(factory, factory=True, workers=workers, **options)  # type: ignore[arg-type]
    else:
        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]


def _share_metrics_between_workers() -> None:
    """Give the workers a fresh, private directory for multiprocess metrics (``openidv.api.observability``),
    removed when the master exits; an operator's own ``PROMETHEUS_MULTIPROC_DIR`` is kept as it is."""
    import atexit
    import shutil
    import tempfile

    from openidv.api.observability import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        return
    directory = tempfile.mkdtemp(prefix="openidv-metrics-")  # 0700, new for every master
    os.environ[MULTIPROC_ENV] = directory
    atexit.register(shutil.rmtree, directory, True)


@tenants_app.command("create")
@friendly_errors
def tenants_create(name: Annotated[str, typer.Argument(help="The tenant's name, e.g. acme.")]) -> None:
    """Create a tenant; then `openidv keys create --tenant NAME ...`."""
    typer.echo(f"created tenant {open_store().create_tenant(name)}")


@tenants_app.command("list")
@friendly_errors
def tenants_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List tenants."""
    tenants = open_store().list_tenants()
    if as_json:
        print_json(tenants)
        return
    for t in tenants:
        typer.echo(t)


def _days(days: float | None, option: str) -> timedelta | None:
    if days is None:
        return None
    if not 0 < days <= 36_500:
        fail(f"{option} must be a number of days above 0 (at most 36500)")
    return timedelta(days=days)


@keys_app.command("create")
@friendly_errors
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    tenant: Annotated[str, typer.Option(help="The tenant the key (and all it creates) belongs to.")] = (
        DEFAULT_TENANT
    ),
    scopes: Annotated[
        str | None, typer.Option(help=f"Comma-separated scopes (default: all): {', '.join(SCOPES)}.")
    ] = None,
    expires_in: Annotated[
        float | None, typer.Option("--expires-in", help="Days until the key expires (default: never).")
    ] = None,
) -> None:
    """Create an API key. The key is printed once, alone on the last line; only its hash is stored."""
    if not name.strip() or len(name) > 100:
        fail("--name must be 1 to 100 characters")
    info, key = open_store().create_api_key(
        name.strip(), tenant=tenant, scopes=parse_scopes(scopes), expires_in=_days(expires_in, "--expires-in")
    )
    expiry = f", expires {info.expires_at.isoformat()}" if info.expires_at else ""
    typer.echo(
        f"created API key {info.id} ({info.name}, tenant {info.tenant_id}, scopes {','.join(info.scopes)}"
        f"{expiry}); store it now, it will not be shown again:",
        err=False,
    )
    typer.echo(key)


@keys_app.command("rotate")
@friendly_errors
def keys_rotate(
    key: Annotated[str, typer.Argument(help="Key id or its prefix.")],
    grace: Annotated[
        float, typer.Option(help="Days the old key keeps working, while clients move to the new one.")
    ] = 7,
    expires_in: Annotated[
        float | None, typer.Option("--expires-in", help="Days until the new key expires (default: never).")
    ] = None,
) -> None:
    """Replace a key without downtime: a new key with the same tenant, name and scopes is printed (once,
    on the last line), and the old one expires after --grace days."""
    store = open_store()
    if any(k.revoked_at for k in store.list_api_keys() if key in (k.id, k.prefix)):
        fail(f"{key} is revoked; create a new key with `openidv keys create` instead")
    old = store.expire_api_key(key, _days(grace, "--grace") or timedelta(0))
    info, new_key = store.create_api_key(
        old.name, tenant=old.tenant_id, scopes=old.scopes, expires_in=_days(expires_in, "--expires-in")
    )
    typer.echo(
        f"rotated {old.id}: it expires {old.expires_at.isoformat() if old.expires_at else 'never'}; "
        f"new API key {info.id} (tenant {info.tenant_id}); store it now, it will not be shown again:"
    )
    typer.echo(new_key)


@keys_app.command("list")
@friendly_errors
def keys_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
) -> None:
    """List API keys (id, name, tenant, scopes, prefix, created, expires, revoked)."""
    keys = open_store().list_api_keys(tenant)
    if as_json:
        print_json([k.__dict__ for k in keys])
        return
    table = Table("id", "name", "tenant", "scopes", "prefix", "created", "expires", "revoked")
    for k in keys:
        table.add_row(
            k.id,
            k.name,
            k.tenant_id,
            ",".join(k.scopes),
            k.prefix,
            k.created_at.isoformat(),
            k.expires_at.isoformat() if k.expires_at else "-",
            k.revoked_at.isoformat() if k.revoked_at else "-",
        )
    Console().print(table)


@keys_app.command("revoke")
@friendly_errors
def keys_revoke(key: Annotated[str, typer.Argument(help="Key id or its prefix.")]) -> None:
    """Revoke an API key; requests with it get 401 from now on."""
    info = open_store().revoke_api_key(key)
    typer.echo(f"revoked {info.id} ({info.name})")


@friendly_errors
def demo_command(
    out: Annotated[Path, typer.Option(help="Folder for decisions.json and the SQLite database.")] = Path(
        "demo-output"
    ),
) -> None:
    """Run synthetic sample applicants through the whole pipeline and print the decisions."""
    from openidv.demo import run_demo

    rows = run_demo(out)
    wrong = [r["applicant"] for r in rows if r["decision"] != r["expected"]]
    if wrong:
        fail(f"demo decisions differ from the expected ones for: {', '.join(wrong)}", code=1)
