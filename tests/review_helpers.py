"""Verifications whose decision a test chooses, through the real pipeline, policy and store.

``test_metadata_score`` (tests/checks_for_tests.py) reads its score from the evidence: below 0.3 the test
policy rejects, below 0.7 it sends to review, otherwise it approves. The ``mrz`` check runs too, so stored
results carry a country and a document format like real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from openidv.checks.registry import register_check, unregister_check
from openidv.decision.policy import Policy, parse_policy
from openidv.evidence import Evidence
from openidv.imageio import as_image
from openidv.services import Services, Verifier
from openidv.store.repository import Store
from openidv.verification import VerificationRecord
from tests.checks_for_tests import MetadataScoreCheck

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
REVIEW, REJECT, APPROVE = 0.5, 0.1, 0.9


def review_policy_dict() -> dict[str, Any]:
    return {
        "version": "review-t1",
        "checks": {
            "test_metadata_score": {
                "thresholds": {
                    "accept": {"value": 0.7, "target": "fmr=1e-2"},
                    "reject": {"value": 0.3, "target": "fmr=1e-4"},
                }
            },
            "mrz": {},
        },
        "rules": [
            {
                "name": "low-score",
                "when": {"check": "test_metadata_score", "score": {"op": "<", "threshold": "reject"}},
                "outcome": "reject",
                "reason_code": "DECLARED_NAME_MISMATCH",
            },
            {
                "name": "unsure",
                "when": {"check": "test_metadata_score", "score": {"op": "<", "threshold": "accept"}},
                "outcome": "review",
                "reason_code": "FACE_MISMATCH",
            },
        ],
    }


def review_policy() -> Policy:
    return parse_policy(review_policy_dict())


@pytest.fixture
def metadata_check() -> Iterator[None]:
    register_check(MetadataScoreCheck, replace=True)
    yield
    unregister_check(MetadataScoreCheck.name)


def selfie_pixels(seed: int = 0) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, size=(48, 64, 3), dtype=np.uint8)


def verifier_for(store: Store) -> Verifier:
    return Verifier(review_policy(), Services(), store)


def verify(
    verifier: Verifier,
    score: float,
    *,
    tenant: str = "default",
    subject_id: str | None = None,
    selfie: bool = True,
) -> VerificationRecord:
    evidence = Evidence(
        metadata={"score": score},
        mrz_text=TD3,
        selfie=as_image(selfie_pixels()) if selfie else None,
        tenant_id=tenant,
        subject_id=subject_id,
    )
    return verifier.verify(evidence, actor="test")
