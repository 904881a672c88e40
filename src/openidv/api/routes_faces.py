"""HTTP routes for 1:N face galleries, and the helper that turns an uploaded file into an ``Image``.

Wiring (in the app): the app builds its services once and puts them on ``app.state.services``; the
routes read ``app.state.services.face_gallery`` (the same ``GalleryService`` that ``face_duplicate``
searches inside verifications)::

    from openidv.api.routes_faces import router as faces_router

    app.state.services = services                 # has .face_gallery, a GalleryService
    app.include_router(faces_router, dependencies=[Depends(require_api_key)])

Routes (multipart/form-data uploads; errors are problem+json through ``openidv.api.problems``):

- ``POST /v1/galleries/{name}/faces``: fields ``image`` (file), ``subject_id``, ``allow_duplicate``
  (default false). 201 with the face id and quality; 409 when the face is already enrolled under another
  subject (the body lists ``duplicates``); 422 when no face is found or its quality is too low.
- ``POST /v1/galleries/{name}/search``: fields ``image`` (file), ``k`` (1-100, default 5). The top ``k``
  with similarities and the policy's duplicate threshold and target.
- ``DELETE /v1/galleries/{name}/faces/{face_id}``: 204; the template is erased for good. 404 if unknown.
- ``GET /v1/galleries/{name}``: size, backend, index kind.

Galleries belong to the caller's tenant (names are per tenant): another tenant's gallery or face is a 404,
and a search only ever sees the caller's tenant's templates.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from openidv.api.auth import Caller
from openidv.errors import ConfigurationError, InvalidInput
from openidv.imageio import DEFAULT_LIMITS, SELFIE_LIMITS, Image, load_image
from openidv.services.face_gallery import (
    MAX_FACE_ID,
    MAX_K,
    DuplicateFace,
    EnrollResult,
    GalleryInfo,
    GalleryService,
    SearchResult,
    validate_gallery_name,
)

PROBLEM_JSON = "application/problem+json"

router = APIRouter(prefix="/v1/galleries", tags=["galleries"])


def get_gallery_service(request: Request) -> GalleryService:
    """The gallery service the app built (``app.state.services.face_gallery``); an error when it has none."""
    services = getattr(request.app.state, "services", None)
    service = getattr(services, "face_gallery", None)
    if service is None:
        raise ConfigurationError(
            "the app has no face gallery service: "
            "set app.state.services (with .face_gallery) when building it"
        )
    gallery: GalleryService = service
    return gallery


async def image_from_upload(
    upload: UploadFile | None, *, field: str = "image", max_bytes: int | None = None
) -> Image:
    """Read an uploaded file through ``openidv.imageio``; any problem is ``InvalidInput`` naming the field."""
    if upload is None:
        raise InvalidInput(f"{field}: missing; send the photo as a multipart file field named {field!r}")
    limit = max_bytes or DEFAULT_LIMITS.max_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"{field}: over the {limit}-byte limit for one image")
    if not data:
        raise InvalidInput(f"{field}: the uploaded file is empty")
    label = f"{field} ({upload.filename})" if upload.filename else field
    # gallery photos are only searched for faces, like selfies: the same pixel cap
    image: Image = await run_in_threadpool(lambda: load_image(data, name=label, limits=SELFIE_LIMITS))
    return image


ServiceDep = Annotated[GalleryService, Depends(get_gallery_service)]
GalleryName = Annotated[str, Path(min_length=1, max_length=100, description="Gallery name")]
#: face ids are 64-bit signed integers in the store; a larger number is a 422, never a database error
FaceId = Annotated[int, Path(ge=1, le=MAX_FACE_ID, description="Face id, as returned by enrolment")]
#: no control characters (NUL above all, which PostgreSQL cannot store)
_PLAIN_TEXT = r"^[^\x00-\x1f\x7f]+$"


def _gallery(name: str) -> str:
    return validate_gallery_name(name)


@router.post(
    "/{name}/faces",
    status_code=201,
    response_model=EnrollResult,
    responses={409: {"description": "The face is already enrolled under another subject"}},
)
async def enroll_face(
    name: GalleryName,
    service: ServiceDep,
    key: Caller,
    image: Annotated[UploadFile, File(description="The photo; its largest face is enrolled")],
    subject_id: Annotated[str, Form(min_length=1, max_length=200, pattern=_PLAIN_TEXT)],
    allow_duplicate: Annotated[bool, Form()] = False,
) -> Any:
    """Enrol a face; refuses (409) a face already enrolled under another subject."""
    photo = await image_from_upload(image)
    try:
        result = await run_in_threadpool(
            lambda: service.enroll(
                _gallery(name),
                subject_id,
                photo,
                allow_duplicate=allow_duplicate,
                tenant=key.tenant_id,
                actor=f"api_key:{key.id}",
            )
        )
    except DuplicateFace as exc:
        return JSONResponse(
            {
                "type": "https://openidv.dev/problems/409",
                "title": "Conflict",
                "status": 409,
                "detail": str(exc),
                "reason_code": "FACE_DUPLICATE_IDENTITY",
                "duplicates": [m.model_dump() for m in exc.matches],
            },
            status_code=409,
            media_type=PROBLEM_JSON,
        )
    return JSONResponse(
        result.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/v1/galleries/{name}/faces/{result.face_id}"},
    )


@router.post("/{name}/search", response_model=SearchResult)
async def search_faces(
    name: GalleryName,
    service: ServiceDep,
    key: Caller,
    image: Annotated[UploadFile, File(description="The photo to search with (its largest face)")],
    k: Annotated[int, Form(ge=1, le=MAX_K)] = 5,
) -> SearchResult:
    """The top ``k`` enrolled faces by similarity, with the policy's duplicate threshold."""
    photo = await image_from_upload(image)
    result: SearchResult = await run_in_threadpool(
        lambda: service.search(_gallery(name), photo, k, tenant=key.tenant_id)
    )
    return result


@router.delete("/{name}/faces/{face_id}", status_code=204, response_class=Response)
async def delete_face(name: GalleryName, face_id: FaceId, service: ServiceDep, key: Caller) -> Response:
    """Erase one template for good (right to erasure)."""
    await run_in_threadpool(
        lambda: service.delete(_gallery(name), face_id, tenant=key.tenant_id, actor=f"api_key:{key.id}")
    )
    return Response(status_code=204)


@router.get("/{name}", response_model=GalleryInfo)
async def gallery_info(name: GalleryName, service: ServiceDep, key: Caller) -> GalleryInfo:
    info: GalleryInfo = await run_in_threadpool(lambda: service.info(_gallery(name), tenant=key.tenant_id))
    return info
