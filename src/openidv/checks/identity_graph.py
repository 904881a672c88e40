"""``graph``: is this applicant part of a ring of accounts that share devices, documents, faces or contacts?

The applicant's identifiers (email, phone, address, IP and /24, device id, national id, document number and
issuer, face) are normalised (``openidv.checks.graph.identifiers``) and scored against the tenant's identity
graph as if the applicant were already in it: the ``identity_graph`` service links them to the accounts
that share those identifiers, finds the ring they would belong to and scores it. The score means
``attack`` (higher: more likely a member of a fraud ring); the policy flags it at
``checks.graph.thresholds.ring``. Reason codes name what the links are made of (``GRAPH_SHARED_DEVICE``,
``GRAPH_FACE_REUSE``, ``GRAPH_DOCUMENT_REUSE``, ``GRAPH_VELOCITY``, ``GRAPH_RING_MEMBER``); the details
name the ring's members and the shared identifiers (as pseudonymous keys: the clear values are for
investigators, ``GET /v1/graph/accounts/{id}``).

The document comes from what the ``mrz`` or ``document_read`` check read (their issuer and number win over
declared ones); faces come from ``face_duplicate``: every enrolled subject it matched at the policy's
``duplicate`` threshold is a face the applicant shares (``face:<subject>``), and the applicant's own subject
is its own face; without a device id from the caller, the ``device`` check's fuzzy-matched device id links
accounts on one device. So this check runs after those four (``after``).

Scoring writes nothing. The applicant joins the graph through a follow-up (``AddToGraph``) applied in the
transaction that stores the verification, rejected applicants included (``on_reject``): a ring's declined
attempts are what links its next ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from openidv.checks.base import Check, CheckParams, FollowUp
from openidv.checks.graph.identifiers import identifiers_of
from openidv.checks.identity_graph_params import GraphParams
from openidv.checks.mrz_reading import DOCUMENT_CHECKS, mrz_field_sets
from openidv.checks.services import IDENTITY_GRAPH
from openidv.evidence import ApplicantData, Evidence
from openidv.results import CheckResult, Meaning, Status

#: the check whose result names the applicant's face (the document: ``mrz_reading.DOCUMENT_CHECKS``)
FACE_CHECK = "face_duplicate"
#: the device check's stable device id (fuzzy-matched fingerprint) links accounts when the caller sends none
DEVICE_CHECK = "device"


class GraphFinding(Protocol):
    """What the graph says about one applicant."""

    @property
    def score(self) -> float: ...

    @property
    def reasons(self) -> tuple[str, ...]: ...

    def to_dict(self) -> dict[str, Any]: ...


class GraphLookup(Protocol):
    """The read-only assessment the ``graph`` check asks of the ``identity_graph`` service."""

    def assess(
        self,
        keys: Sequence[str],
        *,
        account_id: str | None,
        created_at: datetime,
        applicant: Mapping[str, Any] | None,
        tenant: str,
    ) -> GraphFinding: ...


@dataclass(frozen=True)
class AddToGraph(FollowUp):
    """Add the applicant (``account_id``, or the verification's id when None) with its identifier keys;
    ``applicant`` holds the fields the ring model's facts are derived from (only the facts are kept)."""

    service: ClassVar[str] = IDENTITY_GRAPH
    on_reject: ClassVar[bool] = True

    account_id: str | None
    keys: tuple[str, ...]
    created_at: datetime
    applicant: Mapping[str, Any] | None = None


def applicant_fields(evidence: Evidence, prior: Mapping[str, CheckResult]) -> dict[str, Any]:
    """The raw fields the graph links on, from the request and from what other checks read."""
    fields: dict[str, Any] = dict(evidence.applicant.fields()) if evidence.applicant else {}
    declared = evidence.declared
    if declared is not None and declared.document_number:
        fields.setdefault("document_number", declared.document_number)
    number, issuer = _document_read(prior)
    if number and issuer:
        fields["document_number"], fields["document_issuer"] = number, issuer
    if "device_id" not in fields:
        device = prior.get(DEVICE_CHECK)
        if device is not None and device.status == Status.OK and device.details.get("device_id"):
            fields["device_id"] = str(device.details["device_id"])
    return fields


def applicant_problems(applicant: ApplicantData) -> list[str]:
    """Why fields of ``applicant`` cannot be linked on (a malformed email, an impossible phone number...),
    one line each; the API refuses such a request. An issuer alone is fine: the number may be declared."""
    _, problems = identifiers_of(applicant.fields())
    return [p for p in problems if not p.startswith("document_issuer: given without")]


def fact_fields(evidence: Evidence) -> dict[str, Any]:
    """The fields the ring model's facts come from: names, birth date, national-id issue date (the graph
    service turns them into facts and keyed name tokens; it stores none of them)."""
    fields: dict[str, Any] = {}
    if evidence.declared is not None:
        declared = evidence.declared
        fields.update({"surname": declared.surname, "given_names": declared.given_names})
        if declared.birth_date is not None:
            fields["birth_date"] = declared.birth_date.isoformat()
    if evidence.applicant is not None and evidence.applicant.national_id_issued is not None:
        fields["national_id_issued"] = evidence.applicant.national_id_issued.isoformat()
    return fields


def _document_read(prior: Mapping[str, CheckResult]) -> tuple[str | None, str | None]:
    """Document number and issuer as the MRZ (either check) read them, when it did."""
    for fields in mrz_field_sets(prior):
        if fields.get("document_number") and fields.get("issuer"):
            return str(fields["document_number"]), str(fields["issuer"])
    return None, None


def face_keys(evidence: Evidence, prior: Mapping[str, CheckResult]) -> list[str]:
    """``face:<subject>`` for the applicant's own subject and every subject ``face_duplicate`` matched at the
    policy's duplicate threshold (its disclosed matches are exactly those)."""
    result = prior.get(FACE_CHECK)
    if result is None or result.status != Status.OK:
        return []
    subjects = [str(m["subject_id"]) for m in result.details.get("matches") or [] if m.get("subject_id")]
    own = [evidence.subject_id] if evidence.subject_id else []
    return [f"face:{s}" for s in dict.fromkeys([*own, *subjects])]


class GraphCheck(Check):
    name: ClassVar[str] = "graph"
    version: ClassVar[str] = "1.0.0"
    meaning: ClassVar[Meaning] = Meaning.ATTACK
    Params: ClassVar[type[CheckParams]] = GraphParams
    needs: ClassVar[tuple[str, ...]] = (IDENTITY_GRAPH,)
    after: ClassVar[tuple[str, ...]] = (*DOCUMENT_CHECKS, FACE_CHECK, DEVICE_CHECK)

    @property
    def graph(self) -> GraphLookup:
        lookup: GraphLookup = self.services[IDENTITY_GRAPH]
        return lookup

    def applies_to(self, evidence: Evidence) -> bool:
        """Anything the graph can link on: applicant details, declared data, an MRZ, a selfie's face, or the
        device the collector fingerprinted."""
        return any(evidence.has(f) for f in ("applicant", "declared", "mrz_text", "selfie", "telemetry"))

    def run(self, evidence: Evidence) -> CheckResult:
        return self.run_after(evidence, {})

    def run_after(self, evidence: Evidence, prior: Mapping[str, CheckResult]) -> CheckResult:
        identifiers, problems = identifiers_of(applicant_fields(evidence, prior))
        keys = list(dict.fromkeys([*(i.key for i in identifiers), *face_keys(evidence, prior)]))
        details: dict[str, Any] = {"identifiers": keys, "problems": problems}
        if not keys:
            details["note"] = "nothing to link on: no usable identifier"
            return self.result(Status.OK, 0.0, (), details)
        created_at = datetime.now(UTC)
        finding = self.graph.assess(
            keys,
            account_id=evidence.subject_id,
            created_at=created_at,
            applicant=fact_fields(evidence),
            tenant=evidence.tenant_id,
        )
        details.update(finding.to_dict())
        details["created_at"] = created_at.isoformat()
        return self.result(Status.OK, round(float(finding.score), 6), finding.reasons, details)

    def follow_ups(self, evidence: Evidence, result: CheckResult) -> Sequence[FollowUp]:
        keys = result.details.get("identifiers")
        if result.status != Status.OK or not keys:
            return ()
        created = result.details.get("created_at")
        created_at = datetime.fromisoformat(created) if isinstance(created, str) else datetime.now(UTC)
        return (
            AddToGraph(evidence.subject_id, tuple(str(k) for k in keys), created_at, fact_fields(evidence)),
        )
