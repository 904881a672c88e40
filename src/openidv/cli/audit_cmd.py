"""``openidv audit``: verify the keyed audit chain, manage its key, write checkpoints, seal legacy entries.

Exit codes: 0 intact, 1 tampering found, 2 bad input or configuration (no audit key, unreadable file).
"""

from __future__ import annotations

from typing import Annotated

import typer

from openidv.cli.common import friendly_errors, print_json
from openidv.settings import Settings
from openidv.store.audit_keys import init_key_file, rotate_key_file
from openidv.store.repository import Store

audit_app = typer.Typer(
    help="The audit log: verify its keyed chain, checkpoints and decision rows; manage its key.",
    no_args_is_help=True,
)


def _store() -> Store:
    return Store.from_settings(Settings.from_env())


@audit_app.command("verify")
@friendly_errors
def audit_verify(
    expect_head: Annotated[
        str | None, typer.Option(help="A head MAC recorded elsewhere: the log must end exactly there.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check every entry's HMAC and link, the signed checkpoints, and that each verification's decision and
    check rows are the audited ones; exit 1 on the first problem."""
    store = _store()
    report = store.verify_audit_chain(expect_head=expect_head)
    store.engine.dispose()
    if as_json:
        print_json(report.__dict__)
    else:
        legacy = f" ({report.legacy_entries} legacy, sealed)" if report.legacy_entries else ""
        summary = (
            f"{report.entries} entries{legacy}, {report.verifications_covered} verifications covered"
            f" ({report.verifications_erased} erased,"
            f" {report.verifications_legacy} legacy without row digests),"
            f" {report.checkpoints_checked} checkpoints checked ({report.checkpoint_file})"
        )
        if report.ok:
            typer.echo(f"audit log intact: {summary}, head {report.head_hash}")
        else:
            typer.echo(f"audit log TAMPERED: {report.problem}", err=True)
            typer.echo(f"checked before the problem: {summary}", err=True)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("init-key")
@friendly_errors
def audit_init_key(
    print_only: Annotated[
        bool, typer.Option("--print", help="Print a key for OPENIDV_AUDIT_KEY; write no file.")
    ] = False,
) -> None:
    """Create the audit key (<data dir>/keys/audit.key, 0600). Keep it away from the database's hosts and
    backups: whoever holds it and can write the database can rewrite the log."""
    from openidv.crypto import new_key_b64

    if print_only:
        typer.echo(new_key_b64())
        return
    path = init_key_file(Settings.from_env())
    typer.echo(f"wrote {path} (mode 0600); back it up apart from the database")


@audit_app.command("rotate-key")
@friendly_errors
def audit_rotate_key() -> None:
    """Retire the key file's key (kept in keys/audit-retired/ for verifying) and start a new segment."""
    settings = Settings.from_env()
    old, new = rotate_key_file(settings)
    store = _store()
    store.append_audit("audit.key_installed", payload={"key_id": new.key_id})
    store.engine.dispose()
    typer.echo(f"audit key {old.key_id} retired; new entries use {new.key_id}")


@audit_app.command("checkpoint")
@friendly_errors
def audit_checkpoint() -> None:
    """Write a signed checkpoint of the log's head to the checkpoint file now."""
    store = _store()
    cp = store.checkpoint_audit()
    store.engine.dispose()
    if cp is None:
        typer.echo("the audit log is empty: nothing to checkpoint")
    else:
        typer.echo(
            f"checkpoint: entry {cp.seq} (the {cp.n}th), MAC {cp.mac} -> {store.audit.checkpoints.path}"
        )


@audit_app.command("seal")
@friendly_errors
def audit_seal() -> None:
    """Append a keyed entry now; on a log written before the audit key, it first seals the legacy entries
    (their count and head hash), so they cannot change unnoticed from here on."""
    store = _store()
    store.append_audit("audit.sealed")
    store.engine.dispose()
    typer.echo("audit log sealed under the current audit key")
