"""HTTP routes for everything held on one person, within the caller's tenant.

- ``GET /v1/subjects/{subject_id}`` (scope ``subjects:read``): the export (``openidv.services.subjects``):
  verifications with their evidence summary and check details, gallery enrolments (never templates),
  linked liveness sessions and telemetry sessions (device attributes and counts, never events); 404 when
  the tenant holds nothing on that subject.
- ``DELETE /v1/subjects/{subject_id}`` (scope ``subjects:erase``): erase all of it; 204, idempotent (a
  subject with nothing left is a 204 too, so a retried erasure succeeds). The audit log records the
  erasure with a keyed hash of the subject id and counts only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

from openidv.api.auth import Caller
from openidv.errors import NotFound
from openidv.services.subjects import SubjectService

router = APIRouter(prefix="/v1/subjects", tags=["subjects"])

SubjectId = Annotated[
    str, Path(min_length=1, max_length=200, description="The applicant's id in your system")
]


def get_subject_service(request: Request) -> SubjectService:
    services = getattr(request.app.state, "services", None)
    return SubjectService(
        request.app.state.store,
        getattr(services, "face_gallery", None),
        getattr(services, "identity_graph", None),
        getattr(services, "device_reputation", None),
    )


ServiceDep = Annotated[SubjectService, Depends(get_subject_service)]


@router.get("/{subject_id}", responses={404: {"description": "Nothing held on this subject"}})
async def export_subject(subject_id: SubjectId, key: Caller, service: ServiceDep) -> dict[str, Any]:
    """Everything held on the subject in the caller's tenant."""
    export = await run_in_threadpool(service.export, subject_id, tenant=key.tenant_id)
    held = ("verifications", "gallery_enrolments", "liveness_sessions", "telemetry_sessions")
    if not any(export[name] for name in held):
        raise NotFound("nothing is held on this subject")
    return export


@router.delete("/{subject_id}", status_code=204, response_class=Response)
async def erase_subject(subject_id: SubjectId, key: Caller, service: ServiceDep) -> Response:
    """Erase everything held on the subject in the caller's tenant (idempotent)."""
    await run_in_threadpool(service.erase, subject_id, tenant=key.tenant_id, actor=f"api_key:{key.id}")
    return Response(status_code=204)
