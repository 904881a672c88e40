"""Everything held on one person (a subject id, within one tenant): export it, erase it, and purge by age.

``SubjectService.export`` gathers the subject's verifications (opened: evidence summary and check details
as stored), gallery enrolments (where and when, never the template), the liveness sessions their
verifications used and the telemetry sessions (device attributes and counts) linked to the subject when a
verification of theirs read them. ``erase`` removes all of it: templates through the face gallery service
(which rewrites its encrypted index files without them), then verifications, check results, decisions,
capture fingerprints and linked sessions in one transaction with their audit entries, then the telemetry
sessions (with their own audit entry). The audit log records
``verification.erased`` per verification (reason only) and one ``subject.erased`` whose subject is a keyed
hash of the tenant and subject id, with counts: it proves the erasure without keeping who was erased.
openidv stores no images (only digests and perceptual hashes), so there are no image files to remove.

Human review cases go with their verification (their trail with the reviewers' free-text reasons and
their images); the images of decided cases go earlier, ``OPENIDV_RETENTION_CASE_MEDIA_DAYS`` after the
decision (the case and its decision stay until the verification goes).

Audit copies of vendor calls (``vendor_calls``) go with their verification (erasure and verification
retention) and by their own age (``OPENIDV_RETENTION_VENDOR_CALLS_DAYS``).

``purge`` enforces the retention settings (``OPENIDV_RETENTION_*_DAYS``): the same erasure by age, with
reason ``retention``; ``dry_run`` only counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from openidv.checks.device.fingerprint import account_key
from openidv.errors import InvalidInput
from openidv.services.device_reputation import DeviceReputation
from openidv.services.face_gallery import GalleryService
from openidv.services.graph_service import GraphService
from openidv.services.telemetry_sessions import TelemetrySessions
from openidv.settings import Settings
from openidv.store import privacy
from openidv.store.case_store import export_cases, purge_case_media, purge_held_media
from openidv.store.graph_repository import GraphRepository, StoredAccount
from openidv.store.job_queue import purge_finished_jobs
from openidv.store.repository import Store
from openidv.store.vendor_call_store import purge_vendor_calls
from openidv.store.webhook_store import purge_settled_events
from openidv.tenancy import DEFAULT_TENANT

PURGE_BATCH = 200


def validate_subject_id(subject_id: str) -> str:
    """As a verification's ``subject_id`` is validated (``openidv.evidence``): 1-200 characters, no control
    characters; taken as given (not stripped), so it finds exactly what was stored under it."""
    if (
        not isinstance(subject_id, str)
        or not subject_id.strip()
        or len(subject_id) > 200
        or any(ord(c) < 32 or ord(c) == 127 for c in subject_id)
    ):
        raise InvalidInput("subject_id: 1-200 printable characters")
    return subject_id


@dataclass(frozen=True)
class ErasureReport:
    verifications: int
    templates: int
    liveness_sessions: int
    captures: int
    #: identity-graph accounts (``account_id`` = the subject id) removed with their links
    graph_accounts: int = 0
    #: browser collector sessions (device attributes, behaviour events) linked to the subject
    telemetry_sessions: int = 0
    #: devices in the device-reputation store whose account lists held the subject (removed from them)
    devices: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _graph_export(account: StoredAccount | None, values: dict[str, str]) -> dict[str, Any] | None:
    """The subject's identity-graph account: when it was added, the identifier keys it links by (keyed
    pseudonyms) and the value behind each, which is the subject's own data."""
    if account is None:
        return None
    return {
        "account_id": account.account_id,
        "created_at": account.created_at.isoformat(),
        "identifiers": [{"key": k, "value": values.get(k)} for k in account.keys],
        "verification_id": account.verification_id,
    }


@dataclass(frozen=True)
class PurgeReport:
    dry_run: bool
    verifications: int
    templates: int
    liveness_sessions: int
    cutoffs: dict[str, str | None]
    #: finished async jobs and settled webhook events, kept as long as verifications
    jobs: int = 0
    webhook_events: int = 0
    #: identity-graph accounts (with their links and the identifier values only they held)
    graph_accounts: int = 0
    telemetry_sessions: int = 0
    #: audit copies of external vendor calls (``OPENIDV_RETENTION_VENDOR_CALLS_DAYS``)
    vendor_calls: int = 0
    #: images of decided review cases (``OPENIDV_RETENTION_CASE_MEDIA_DAYS`` after the decision)
    case_media: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SubjectService:
    """Export, erasure and retention over one store, its face galleries (``gallery`` None: no galleries in
    this deployment) and its identity graph (``graph``: the service whose in-memory graph must forget the
    subject too; None: the graph tables only)."""

    def __init__(
        self,
        store: Store,
        gallery: GalleryService | None,
        graph: GraphService | None = None,
        devices: DeviceReputation | None = None,
    ) -> None:
        self.store = store
        self.devices = devices
        self.gallery = gallery
        self.graph_repository = (
            graph.repository if graph else GraphRepository(self.store.engine, lambda: store.keyring)
        )
        self.graph = graph
        self.telemetry = TelemetrySessions(store)

    def export(self, subject_id: str, *, tenant: str = DEFAULT_TENANT) -> dict[str, Any]:
        subject_id = validate_subject_id(subject_id)
        verifications = privacy.export_verifications(self.store, tenant, subject_id)
        sessions = privacy.linked_sessions(self.store, [v["id"] for v in verifications])
        return {
            "subject_id": subject_id,
            "tenant": tenant,
            "exported_at": datetime.now(UTC).isoformat(),
            "verifications": verifications,
            "gallery_enrolments": privacy.export_enrolments(self.store.engine, tenant, subject_id),
            "liveness_sessions": privacy.export_sessions(self.store.engine, tenant, sessions),
            "graph_account": self._graph_account(subject_id, tenant),
            "devices": self._devices_of(subject_id, tenant),
            "telemetry_sessions": self.telemetry.export_subject(subject_id, tenant=tenant),
            "review_cases": export_cases(self.store, tenant, [v["id"] for v in verifications]),
        }

    def _graph_account(self, subject_id: str, tenant: str) -> dict[str, Any] | None:
        account = self.graph_repository.get(subject_id, tenant)
        values = {} if account is None else self.graph_repository.reveal(list(account.keys), tenant)
        return _graph_export(account, values)

    def _devices_of(self, subject_id: str, tenant: str) -> list[str] | None:
        """Device ids that saw the subject (None: this service was given no device store)."""
        account = account_key(subject_id, tenant)
        if self.devices is None or account is None:
            return None
        return self.devices.devices_of(account, tenant=tenant)

    def erase(self, subject_id: str, *, tenant: str = DEFAULT_TENANT, actor: str = "system") -> ErasureReport:
        """Erase everything held on the subject; idempotent (a second call erases nothing, and says so).
        The device store goes first: if Redis cannot be reached the erasure fails before anything else is
        erased, and a retry does all of it."""
        subject_id = validate_subject_id(subject_id)
        devices = 0
        account = account_key(subject_id, tenant)
        if self.devices is not None and account is not None:
            references = privacy.subject_verification_ids(self.store, tenant, subject_id)
            devices = self.devices.erase_account(account, [str(r) for r in references], tenant=tenant)
        templates = 0
        if self.gallery is not None:
            for name in privacy.galleries_holding(self.store.engine, tenant, subject_id):
                templates += self.gallery.delete_subject(name, subject_id, tenant=tenant)
        if self.graph is not None:
            graph_accounts = int(self.graph.erase(subject_id, tenant=tenant))
        else:
            graph_accounts = int(self.graph_repository.erase(subject_id, tenant) is not None)
        ids = privacy.subject_verification_ids(self.store, tenant, subject_id)
        subject_hash = self.store.keyring.keyed_hash("subject", f"{tenant}\x00{subject_id}")
        erased = privacy.erase_verifications(
            self.store,
            ids,
            reason="subject_erasure",
            actor=actor,
            subject_entry=(
                subject_hash,
                {"tenant": tenant, "templates": templates, "graph_accounts": graph_accounts},
            ),
        )
        telemetry = self.telemetry.erase_subject(subject_id, tenant=tenant, actor=actor)
        privacy.checkpoint(self.store.engine)
        return ErasureReport(
            erased.verifications,
            templates,
            erased.liveness_sessions,
            erased.captures,
            graph_accounts,
            telemetry,
            devices,
        )

    def purge(self, settings: Settings, *, dry_run: bool = False, now: datetime | None = None) -> PurgeReport:
        """Erase what is older than its retention period (``Settings.retention_*_days``; 0 keeps it)."""
        now = now or datetime.now(UTC)
        cut = {
            "verifications": _cutoff(now, settings.retention_verifications_days),
            "templates": _cutoff(now, settings.retention_templates_days),
            "liveness_sessions": _cutoff(now, settings.retention_liveness_days),
            "graph_accounts": _cutoff(now, settings.retention_graph_days),
            "telemetry_sessions": _cutoff(now, settings.retention_telemetry_days),
            "vendor_calls": _cutoff(now, settings.retention_vendor_calls_days),
            "case_media": _cutoff(now, settings.retention_case_media_days),
        }
        verifications = templates = sessions = 0
        if (before := cut["verifications"]) is not None:
            if dry_run:
                verifications = privacy.count_expired_verifications(self.store, before)
            else:
                while ids := privacy.expired_verifications(self.store, before, PURGE_BATCH):
                    erased = privacy.erase_verifications(self.store, ids, reason="retention", actor="purge")
                    verifications += erased.verifications
        if (before := cut["templates"]) is not None and self.gallery is not None:
            expired = privacy.expired_templates(self.store.engine, before)
            templates = len(expired)
            if not dry_run:
                for tenant, name, face_id in expired:
                    self.gallery.delete(name, face_id, tenant=tenant)
        if (before := cut["liveness_sessions"]) is not None:
            expired_sessions = privacy.expired_sessions(self.store.engine, before)
            sessions = len(expired_sessions)
            if not dry_run:
                privacy.erase_sessions(self.store, expired_sessions, reason="retention", actor="purge")
        graph_accounts = 0
        if (before := cut["graph_accounts"]) is not None:
            graph_accounts = self._purge_graph(before, dry_run)
        telemetry = 0
        if (before := cut["telemetry_sessions"]) is not None:
            telemetry = self.telemetry.purge(before, dry_run=dry_run)
        vendor_calls = 0
        if (before := cut["vendor_calls"]) is not None:
            vendor_calls = purge_vendor_calls(self.store, before, dry_run=dry_run)
        case_media = 0
        if (before := cut["case_media"]) is not None:
            case_media = purge_case_media(self.store, before, dry_run=dry_run)
        # images held for a contest go when their hold ends, whatever the retention settings
        case_media += purge_held_media(self.store, now, dry_run=dry_run)
        jobs = events = 0
        if (before := cut["verifications"]) is not None:
            jobs = purge_finished_jobs(self.store, before, dry_run=dry_run)
            events = purge_settled_events(self.store, before, dry_run=dry_run)
        if not dry_run:
            privacy.checkpoint(self.store.engine)
        return PurgeReport(
            dry_run,
            verifications,
            templates,
            sessions,
            {k: v.isoformat() if v else None for k, v in cut.items()},
            jobs,
            events,
            graph_accounts,
            telemetry,
            vendor_calls,
            case_media,
        )

    def _purge_graph(self, before: datetime, dry_run: bool) -> int:
        """Erase graph accounts added before ``before``, through the graph service when there is one (so
        its in-memory graph forgets them too)."""
        if dry_run:
            return self.graph_repository.count_expired(before)
        erased = 0
        while expired := self.graph_repository.expired(before, PURGE_BATCH):
            for tenant, account in expired:
                if self.graph is not None:
                    self.graph.erase(account, tenant=tenant)
                else:
                    self.graph_repository.erase(account, tenant)
                erased += 1
        return erased


def _cutoff(now: datetime, days: int) -> datetime | None:
    return now - timedelta(days=days) if days > 0 else None
