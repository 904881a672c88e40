"""Real photos through the face checks, for ``make demo``: a genuine match, an impostor, a quality failure
and a duplicate identity found by the 1:N search, each decided by the default policy.

The 1:N case uses a throw-away gallery (a temporary SQLite file and index folder, a random in-memory key),
so the demo leaves no biometric data behind.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

from openidv.checks.base import Check
from openidv.checks.face.params import FaceDuplicateParams
from openidv.checks.registry import create_check
from openidv.checks.services import FACE_GALLERY
from openidv.crypto import BiometricCipher
from openidv.decision.policy import Policy, load_policy
from openidv.evidence import Evidence
from openidv.imageio import Image, load_image
from openidv.pipeline import Pipeline
from openidv.services.face_gallery import GalleryService
from openidv.store.audit import AuditLog
from openidv.store.db import make_engine
from openidv.store.gallery_tables import create_gallery_tables

FACE_CHECKS = ("face_quality", "document_portrait", "face_match", "face_duplicate")


def face_demo_rows(data_dir: str | Path, policy: Policy | None = None) -> list[dict[str, Any]]:
    """One row per case: what was compared, the decision, its reason codes, the scores and latency.

    ``data_dir`` is the shared data folder (the one holding ``faces/``).
    """
    faces = Path(data_dir) / "faces"
    policy = policy or load_policy()
    cache: dict[str, Image] = {}

    def photo(rel: str) -> Image:
        if rel not in cache:
            cache[rel] = load_image(faces / rel, name=f"faces/{rel}")
        return cache[rel]

    with tempfile.TemporaryDirectory(prefix="openidv-face-demo-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'demo.sqlite3'}")
        try:
            create_gallery_tables(engine)
            service = GalleryService(
                engine,
                Path(tmp) / "galleries",
                cipher=BiometricCipher(secrets.token_bytes(32)),
                policy=policy,
                audit_log=AuditLog.ephemeral(Path(tmp)),
            )
            gallery = FaceDuplicateParams.model_validate(policy.params("face_duplicate")).gallery
            for subject, rel in (
                ("customer-1001", "kit_harington/kit1.jpg"),
                ("customer-1002", "rose_leslie/rose1.jpg"),
                ("customer-1003", "lin_manuel_miranda/lin1.png"),
            ):
                service.enroll(gallery, subject, photo(rel))
            pipeline = Pipeline(policy, _checks(policy, service))
            cases = [
                ("genuine match", "obama/obama2.jpg", "obama/obama3.jpg", "applicant-2001"),
                ("impostor", "alex_lacamoire/alex1.jpg", "biden/biden1.jpg", "applicant-2002"),
                (
                    "quality failure (face partly outside the photo)",
                    "obama/obama7_partial.jpg",
                    "obama/obama1.jpg",
                    "applicant-2003",
                ),
                (
                    "duplicate identity (1:N: already enrolled as customer-1002)",
                    "rose_leslie/rose2.jpg",
                    "rose_leslie/rose1.jpg",
                    "applicant-2004",
                ),
            ]
            rows = []
            for case, selfie, document, subject in cases:
                run = pipeline.run(
                    Evidence(selfie=photo(selfie), document_image=photo(document), subject_id=subject)
                )
                by_check = {r.check: r for r in run.results}
                match = by_check.get("face_match")
                duplicate = by_check.get("face_duplicate")
                verdict = policy.judge(duplicate, "duplicate") if duplicate else None
                rows.append(
                    {
                        "case": case,
                        "selfie": f"faces/{selfie}",
                        "document": f"faces/{document}",
                        "outcome": run.decision.outcome.value,
                        "reason_codes": list(run.decision.reason_codes),
                        "similarity": match.score if match else None,
                        "match_threshold": policy.threshold("face_match", "match").value,
                        "match_target": policy.threshold("face_match", "match").target,
                        "duplicate_score": duplicate.score if duplicate else None,
                        "duplicate_of": (duplicate.details.get("matches") or [{}])[0].get("subject_id")
                        if duplicate and verdict is not None and verdict.holds
                        else None,
                        "latency_ms": run.latency_ms,
                    }
                )
            return rows
        finally:
            engine.dispose()


def _checks(policy: Policy, service: GalleryService) -> list[Check]:
    services = {FACE_GALLERY: service}
    return [create_check(name, policy.params(name), services) for name in FACE_CHECKS]
