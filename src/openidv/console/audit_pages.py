"""The audit-log page: the newest entries of the signed-in user's tenant (``openidv.store.audit_list``),
filtered by subject or action, and, for supervisors and admins on request, a check of the whole chain
(``Store.verify_audit_chain``: every MAC, the rows each ``verification.created`` entry covers, the
signed checkpoints)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.responses import Response

from openidv.console.auth import ConsoleUser
from openidv.console.render import render
from openidv.console.routes import router
from openidv.store.audit_list import recent_entries
from openidv.store.repository import Store

PAGE = 200


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    text: str


def _chain(store: Store) -> ChainStatus:
    report = store.verify_audit_chain()
    if report.ok:
        return ChainStatus(True, f"{report.entries:,} entries, head {report.head_hash[:16]}…")
    return ChainStatus(False, f"entry {report.first_bad_seq}: {report.problem}")


@router.get("/audit")
def audit_page(
    request: Request,
    user: ConsoleUser,
    subject: str | None = None,
    action: str | None = None,
    verify: bool = False,
) -> Response:
    store: Store = request.app.state.store
    subject = (subject or "").strip()[:100] or None
    action = (action or "").strip()[:64] or None
    with store.transaction() as session:
        entries = recent_entries(
            session,
            tenant=user.tenant,
            subject=subject,
            action_prefix=action,
            limit=PAGE,
            system=user.has_role("admin"),
        )
    chain = _chain(store) if verify and user.has_role("supervisor") else None
    return render(
        request,
        "audit.html",
        {"entries": entries, "subject": subject, "action": action, "chain": chain},
    )
