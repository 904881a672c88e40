"""``openidv subjects export|erase``, ``openidv purge`` and ``openidv crypto rotate|status``: personal data
on request (export, erasure), by age (retention) and under a new master key (rotation)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from openidv.cli.common import fail, friendly_errors, print_json
from openidv.crypto import load_keyring, retire_key_file
from openidv.services.device_reputation import device_reputation_from
from openidv.services.face_gallery import GalleryService
from openidv.services.subjects import SubjectService
from openidv.settings import Settings
from openidv.store.repository import Store
from openidv.store.rotation import rotate_all
from openidv.tenancy import DEFAULT_TENANT, validate_tenant

subjects_app = typer.Typer(
    help="Export or erase everything held on one person (their subject id).", no_args_is_help=True
)
crypto_app = typer.Typer(
    help="Master keys of the encryption at rest: re-encrypt everything under a new key.", no_args_is_help=True
)

Tenant = Annotated[str, typer.Option("--tenant", "-t", help="The tenant whose data it is.")]


def _service(settings: Settings) -> SubjectService:
    store = Store.from_settings(settings)
    devices = device_reputation_from(
        settings.redis_url, prefix=settings.device_redis_prefix, retention_days=settings.retention_device_days
    )
    return SubjectService(store, GalleryService.from_settings(settings, engine=store.engine), devices=devices)


@subjects_app.command("export")
@friendly_errors
def export_command(
    subject_id: Annotated[str, typer.Argument(help="The applicant's id in your system.")],
    tenant: Tenant = DEFAULT_TENANT,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the JSON to this file (mode 0600), not stdout.")
    ] = None,
) -> None:
    """Print (or write) everything held on SUBJECT_ID as JSON: verifications, enrolments, sessions."""
    validate_tenant(tenant)
    payload = _service(Settings.from_env()).export(subject_id, tenant=tenant)
    if out is None:
        print_json(payload)
        return
    _write_private(out, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    typer.echo(
        f"wrote {out}: {len(payload['verifications'])} verification(s), "
        f"{len(payload['gallery_enrolments'])} enrolment(s), {len(payload['liveness_sessions'])} session(s)",
        err=True,
    )


@subjects_app.command("erase")
@friendly_errors
def erase_command(
    subject_id: Annotated[str, typer.Argument(help="The applicant's id in your system.")],
    tenant: Tenant = DEFAULT_TENANT,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Erase without asking.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Erase everything held on SUBJECT_ID (verifications, templates, sessions); the audit log keeps a
    keyed hash of the id and the counts."""
    validate_tenant(tenant)
    if not yes:
        if not sys.stdin.isatty():
            fail("erasure cannot be undone: pass --yes to erase without a prompt")
        typer.confirm(f"Erase everything held on {subject_id!r} in tenant {tenant!r}?", abort=True)
    report = _service(Settings.from_env()).erase(subject_id, tenant=tenant, actor="cli")
    if as_json:
        print_json(report.to_dict())
    else:
        typer.echo(
            f"erased {report.verifications} verification(s), {report.templates} template(s), "
            f"{report.liveness_sessions} liveness session(s), {report.captures} capture fingerprint(s)"
        )


@friendly_errors
def purge_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be erased; erase nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Erase data older than its retention period (OPENIDV_RETENTION_*_DAYS); run it daily from cron or a
    systemd timer."""
    settings = Settings.from_env()
    report = _service(settings).purge(settings, dry_run=dry_run)
    if as_json:
        print_json(report.to_dict())
        return
    verb = "would erase" if dry_run else "erased"
    typer.echo(
        f"{verb} {report.verifications} verification(s), {report.templates} template(s), "
        f"{report.liveness_sessions} liveness session(s), {report.jobs} finished async job(s), "
        f"{report.webhook_events} settled webhook event(s), "
        f"{report.graph_accounts} identity-graph account(s), {report.vendor_calls} vendor call record(s), "
        f"{report.case_media} review case image(s)"
    )


@crypto_app.command("rotate")
@friendly_errors
def rotate_command(
    new_key: Annotated[
        bool,
        typer.Option(
            "--new-key", help="First retire the key file to keys/old/ and write a new one (file-held keys)."
        ),
    ] = False,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Rows per transaction.")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Re-encrypt personal fields, face templates and gallery index files under the current master key.

    Resumable: each batch commits, and a rerun only touches what is not yet under the current key."""
    settings = Settings.from_env()
    if new_key:
        old_id, new_id = retire_key_file(settings)
        typer.echo(f"retired key {old_id}; the current key is now {new_id}", err=True)
    ring = load_keyring(settings)
    store = Store.from_settings(settings, keyring=ring)
    report = rotate_all(store.engine, ring, settings.data_dir / "galleries", batch=batch)
    done = {
        "verifications": report.verifications,
        "check_results": report.check_results,
        "templates": report.templates,
        "index_files": report.index_files,
    }
    payload = {
        "current_key_id": ring.key_ids[0],
        "re_encrypted": done,
        "found_by_key_id": report.seen_key_ids,
    }
    if as_json:
        print_json(payload)
    else:
        typer.echo(
            f"key {ring.key_ids[0]}: re-encrypted {done['verifications']} verification(s), "
            f"{done['check_results']} check result(s), {done['templates']} template(s), "
            f"{done['index_files']} index file(s)"
        )


@crypto_app.command("status")
@friendly_errors
def status_command() -> None:
    """The configured key ids (current first); rotate to move data off the old ones."""
    ring = load_keyring(Settings.from_env())
    print_json({"current_key_id": ring.key_ids[0], "old_key_ids": list(ring.key_ids[1:])})


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, atomically (an export holds personal data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
