"""``openidv users create|list|disable|set-password``: the review console's accounts (docs/console.md).

Passwords are read from stdin only (``--password-stdin``), never from an argument: arguments end up in shell
history and in ``ps``. Each change is an audit entry (actor ``cli``).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from openidv.cli.common import fail, friendly_errors, print_json
from openidv.services.console_accounts import ROLES, ConsoleAccounts, ConsolePolicy
from openidv.settings import Settings
from openidv.store.repository import Store
from openidv.tenancy import DEFAULT_TENANT, validate_tenant

users_app = typer.Typer(
    help="Accounts of the review console (/console): analysts, supervisors and admins.", no_args_is_help=True
)

Tenant = Annotated[str, typer.Option("--tenant", "-t", help="The tenant the user belongs to.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from stdin (required: never an argument).")
]


def _accounts() -> ConsoleAccounts:
    settings = Settings.from_env()
    return ConsoleAccounts(Store.from_settings(settings), ConsolePolicy.from_settings(settings))


def _read_password(password_stdin: bool) -> str:
    if not password_stdin:
        fail("give the password on stdin with --password-stdin (never as an argument)")
    text = sys.stdin.read()
    return text[:-1] if text.endswith("\n") else text  # one trailing newline (echo, a file) is not part of it


@users_app.command("create")
@friendly_errors
def create_command(
    name: Annotated[str, typer.Option("--name", help="The name the person signs in with.")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")],
    password_stdin: PasswordStdin = False,
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """Create a console user; the password (at least 12 characters) is read from stdin."""
    validate_tenant(tenant)
    password = _read_password(password_stdin).rstrip("\r")
    info = _accounts().create_user(name, role, password, tenant=tenant, actor="cli")
    typer.echo(f"created console user {info.name} ({info.role}, tenant {info.tenant})")


@users_app.command("list")
@friendly_errors
def list_command(
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Only this tenant's users (default: all).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List console users (never their password hashes)."""
    if tenant is not None:
        validate_tenant(tenant)
    users = _accounts().list_users(tenant)
    if as_json:
        print_json([u.to_dict() for u in users])
        return
    if not users:
        typer.echo("no console users; create one with `openidv users create`")
    for u in users:
        status = f"disabled {u.disabled_at.isoformat()}" if u.disabled_at else "active"
        typer.echo(f"{u.tenant}\t{u.name}\t{u.role}\t{status}")


@users_app.command("disable")
@friendly_errors
def disable_command(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """Disable a user: it can no longer sign in, and its open sessions end now."""
    validate_tenant(tenant)
    info = _accounts().disable_user(name, tenant=tenant, actor="cli")
    typer.echo(f"disabled console user {info.name} (tenant {info.tenant}); its sessions have ended")


@users_app.command("set-password")
@friendly_errors
def set_password_command(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    password_stdin: PasswordStdin = False,
    tenant: Tenant = DEFAULT_TENANT,
) -> None:
    """Set a user's password (read from stdin); its open sessions end, and its sign-in lockout is lifted."""
    validate_tenant(tenant)
    password = _read_password(password_stdin).rstrip("\r")
    info = _accounts().set_password(name, password, tenant=tenant, actor="cli")
    typer.echo(
        f"set the password of console user {info.name} (tenant {info.tenant}); its sessions have ended"
    )
