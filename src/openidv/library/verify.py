"""``openidv.verify``: the whole pipeline for one applicant, as plain as a function call.

It goes through the same ``Verifier`` as the HTTP API (same checks, services, policy and store), so the same
files give the same decision either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from openidv.api.schemas import normalise_mrz_text
from openidv.checks.base import format_validation_error
from openidv.decision.policy import Policy, load_policy
from openidv.errors import InvalidInput
from openidv.evidence import ApplicantData, DeclaredData, Evidence
from openidv.imageio import DOCUMENT_LIMITS, SELFIE_LIMITS, ImageLike, as_image
from openidv.services import Verifier
from openidv.services.telemetry_sessions import TelemetrySessions
from openidv.settings import Settings
from openidv.store.repository import Store
from openidv.verification import VerificationRecord


def verify(
    *,
    selfie: ImageLike | None = None,
    document: ImageLike | None = None,
    document_back: ImageLike | None = None,
    mrz: str | None = None,
    declared: DeclaredData | Mapping[str, Any] | None = None,
    subject_id: str | None = None,
    liveness_session_id: str | None = None,
    as_of: date | None = None,
    applicant: ApplicantData | Mapping[str, Any] | None = None,
    session_id: str | None = None,
    policy: Policy | str | Path | None = None,
    store: Store | None = None,
    verifier: Verifier | None = None,
    save: bool = True,
) -> VerificationRecord:
    """Verify one applicant: ``openidv.verify(selfie="me.jpg", document="passport.jpg")``.

    Images are paths, encoded bytes, PIL images or numpy arrays (RGB). ``declared`` is what the applicant
    typed (``surname``, ``given_names``, ``birth_date``, ...); ``applicant`` the contact and device details
    the identity graph links by (``email``, ``phone``, ``ip``, ``device_id``, ...). Without a ``verifier``,
    one is opened on the deployment's store (``OPENIDV_DATABASE_URL``, or the embedded SQLite under
    ``OPENIDV_DATA_DIR``) and policy, and the verification is stored there like one made through the API
    (``save=False`` only decides). Build ``openidv.Verifier.open()`` once and pass it when verifying many
    applicants. ``session_id`` names a telemetry session (``POST /v1/sessions``) in the store: its device
    attributes and behaviour events become the evidence's ``telemetry``.
    """
    evidence = _evidence(
        selfie, document, document_back, mrz, declared, subject_id, liveness_session_id, as_of, applicant
    )
    if verifier is not None:
        if policy is not None or store is not None:
            raise InvalidInput("give either verifier or policy/store, not both")
        return verifier.verify(_with_telemetry(evidence, session_id, verifier.store), save=save)
    settings = Settings.from_env()
    loaded = policy if isinstance(policy, Policy) else load_policy(policy or settings.policy_path)
    own_store = store is None
    opened = Verifier.open(settings, policy=loaded, store=store)
    try:
        return opened.verify(_with_telemetry(evidence, session_id, opened.store), save=save)
    finally:
        if own_store and opened.store is not None:
            opened.store.engine.dispose()


def _with_telemetry(evidence: Evidence, session_id: str | None, store: Store | None) -> Evidence:
    """The evidence with the telemetry session's telemetry (``InvalidInput`` naming ``session_id``)."""
    if session_id is None:
        return evidence
    if store is None:
        raise InvalidInput("session_id: telemetry sessions live in a store; this verifier has none")
    telemetry = TelemetrySessions(store).telemetry(
        session_id, tenant=evidence.tenant_id, subject_id=evidence.subject_id
    )
    return evidence.model_copy(update={"telemetry": telemetry})


def _evidence(
    selfie: ImageLike | None,
    document: ImageLike | None,
    document_back: ImageLike | None,
    mrz: str | None,
    declared: DeclaredData | Mapping[str, Any] | None,
    subject_id: str | None,
    liveness_session_id: str | None,
    as_of: date | None,
    applicant: ApplicantData | Mapping[str, Any] | None = None,
) -> Evidence:
    mrz_text = None
    if mrz is not None:
        try:
            mrz_text = normalise_mrz_text(mrz)
        except ValueError as exc:
            raise InvalidInput(f"mrz: {exc}") from None
    images = {  # the same per-field pixel caps as the API's form
        "selfie": None if selfie is None else as_image(selfie, name="selfie", limits=SELFIE_LIMITS),
        "document_image": None
        if document is None
        else as_image(document, name="document", limits=DOCUMENT_LIMITS),
        "document_back": None
        if document_back is None
        else as_image(document_back, name="document_back", limits=DOCUMENT_LIMITS),
    }
    try:
        return Evidence(
            **images,
            mrz_text=mrz_text,
            declared=DeclaredData.model_validate(declared) if isinstance(declared, Mapping) else declared,
            applicant=ApplicantData.model_validate(applicant)
            if isinstance(applicant, Mapping)
            else applicant,
            subject_id=subject_id,
            liveness_session_id=liveness_session_id,
            as_of=as_of,
        )
    except ValidationError as exc:
        raise InvalidInput(format_validation_error(exc)) from None
