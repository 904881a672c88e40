"""``openidv face``: compare two photos, and enroll / search / delete in a named 1:N gallery."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from openidv.cli.common import fail, friendly_errors, print_json
from openidv.tenancy import DEFAULT_TENANT

face_app = typer.Typer(
    help="Face biometrics: 1:1 compare, 1:N galleries (enroll, search, delete), biometric key.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")]
PolicyOpt = Annotated[
    Path | None, typer.Option("--policy", help="Policy file (default: $OPENIDV_POLICY or the packaged one).")
]


@face_app.command("compare")
@friendly_errors
def compare_command(
    image_a: Annotated[Path, typer.Argument(help="First photo (e.g. the selfie).")],
    image_b: Annotated[Path, typer.Argument(help="Second photo (e.g. the document image).")],
    as_json: JsonOpt = False,
    backend: Annotated[
        str | None, typer.Option("--backend", help="Embedding backend: sface or dlib (default: policy's).")
    ] = None,
    policy: PolicyOpt = None,
) -> None:
    """Compare the largest face in A with the largest face in B, at the policy's tuned threshold."""
    from openidv.library.faces import compare_faces

    result = compare_faces(image_a, image_b, policy=policy, backend=backend)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    if result.similarity is None:
        typer.echo(f"no comparison: {', '.join(result.reason_codes)} (failed to acquire)")
    else:
        if result.match is None:
            verdict = f"no decision ({result.threshold_note})"
        else:
            op = ">=" if result.match else "<"
            verdict = (
                f"{'MATCH' if result.match else 'NO MATCH'} (similarity {op} threshold "
                f"{result.threshold:.4f}, target {result.target or 'not stated'})"
            )
        typer.echo(
            f"similarity {result.similarity:.4f} ({result.meaning.value}; "
            f"cosine {result.cosine:.4f}): {verdict}"
        )
    for label, side in zip(("A", "B"), result.faces, strict=True):
        typer.echo(_describe_side(label, side))
    typer.echo(
        f"backend {result.backend}, policy {result.policy_version}, total {result.timings_ms['total']:.1f} ms"
    )


def _describe_side(label: str, side: dict[str, Any]) -> str:
    image = side["image"]
    head = f"{label}: {image['source']} {image['width']}x{image['height']}, {side['face_count']} face(s)"
    quality = side.get("quality")
    if not quality:
        return head
    failures = side.get("quality_failures") or []
    verdict = "quality ok" if not failures else "quality: " + ", ".join(failures)
    return (
        f"{head}; inter-eye {quality['inter_eye_px']:.0f} px, yaw {quality['yaw']:.0f}, "
        f"pitch {quality['pitch']:.0f}, roll {quality['roll']:.0f}, "
        f"sharpness {quality['sharpness']:.0f}; {verdict}"
    )


@face_app.command("init-key")
@friendly_errors
def init_key_command(
    print_only: Annotated[
        bool, typer.Option("--print", help="Print a key for OPENIDV_ENCRYPTION_KEY; write no file.")
    ] = False,
) -> None:
    """Create the AES-256 key that encrypts face templates at rest (<data dir>/keys/biometric.key)."""
    from openidv.crypto import key_file_path, new_key_b64, write_key_file

    if print_only:
        typer.echo(new_key_b64())
        return
    path = write_key_file(key_file_path())
    typer.echo(f"wrote {path} (mode 0600); back it up: templates encrypted with it are unreadable without it")


# ------------------------------------------------------------------------------------ galleries

GalleryOpt = Annotated[str, typer.Option("--gallery", "-g", help="Gallery name.")]
TenantOpt = Annotated[str, typer.Option("--tenant", help="The tenant whose galleries to use.")]


def _service(tenant: str = DEFAULT_TENANT) -> Any:
    """The gallery service on the deployment's database (schema upgraded) and data folder; ``tenant``
    must exist."""
    from openidv.services.face_gallery import GalleryService
    from openidv.settings import Settings
    from openidv.store.gallery_tables import create_gallery_tables
    from openidv.store.repository import Store

    settings = Settings.from_env()
    store = Store.from_settings(settings)
    create_gallery_tables(store.engine)
    if tenant not in store.list_tenants():
        fail(f"no tenant {tenant!r}; create it with `openidv tenants create {tenant}`")
    return GalleryService.from_settings(settings, engine=store.engine)


@face_app.command("enroll")
@friendly_errors
def enroll_command(
    image: Annotated[Path, typer.Argument(help="Photo; its largest face is enrolled.")],
    gallery: GalleryOpt,
    subject: Annotated[str, typer.Option("--subject", "-s", help="Who this face belongs to.")],
    allow_duplicate: Annotated[
        bool, typer.Option("--allow-duplicate", help="Enrol even if enrolled under another subject.")
    ] = False,
    allow_low_quality: Annotated[
        bool, typer.Option("--allow-low-quality", help="Enrol even if the quality checks fail.")
    ] = False,
    as_json: JsonOpt = False,
    tenant: TenantOpt = DEFAULT_TENANT,
) -> None:
    """Enrol a face in a gallery (refused when already enrolled under another subject)."""
    from openidv.imageio import load_image
    from openidv.services.face_gallery import DuplicateFace

    photo = load_image(image)
    try:
        result = _service(tenant).enroll(
            gallery,
            subject,
            photo,
            allow_duplicate=allow_duplicate,
            allow_low_quality=allow_low_quality,
            tenant=tenant,
            actor="cli",
        )
    except DuplicateFace as exc:
        if as_json:
            print_json({"error": str(exc), "duplicates": [m.model_dump() for m in exc.matches]})
        fail(str(exc), code=1)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    typer.echo(f"enrolled face {result.face_id} for subject {result.subject_id!r} in gallery {gallery!r}")
    for match in result.duplicates:
        typer.echo(
            f"  note: also similar to subject {match.subject_id!r} "
            f"(face {match.face_id}, {match.similarity:.4f})"
        )


@face_app.command("search")
@friendly_errors
def search_command(
    image: Annotated[Path, typer.Argument(help="Photo to search with (its largest face).")],
    gallery: GalleryOpt,
    k: Annotated[int, typer.Option("--k", "-k", help="How many results.")] = 5,
    as_json: JsonOpt = False,
    tenant: TenantOpt = DEFAULT_TENANT,
) -> None:
    """The k most similar enrolled faces, with the policy's duplicate threshold."""
    from openidv.imageio import load_image

    service = _service(tenant)
    result = service.search(gallery, load_image(image), k, tenant=tenant)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    limit = (
        f"threshold {result.threshold:.4f} ({result.target})"
        if result.threshold is not None
        else "no threshold"
    )
    typer.echo(f"gallery {gallery!r}: {result.gallery_size} templates, {result.index_kind} index; {limit}")
    backend = service.info(gallery, tenant=tenant).backend
    for rank, match in enumerate(result.matches, start=1):
        verdict = service.judge_duplicate(backend, match.similarity)
        same = verdict is not None and verdict.holds
        flag = "  <- same person" if same else ""
        typer.echo(
            f"{rank:>3}. face {match.face_id} subject {match.subject_id!r} "
            f"similarity {match.similarity:.4f}{flag}"
        )


@face_app.command("delete")
@friendly_errors
def delete_command(
    gallery: GalleryOpt,
    face_id: Annotated[int | None, typer.Argument(help="Template id to erase.")] = None,
    subject: Annotated[
        str | None, typer.Option("--subject", help="Erase every template of this subject.")
    ] = None,
    tenant: TenantOpt = DEFAULT_TENANT,
) -> None:
    """Erase a template (or all of a subject's) for good."""
    if (face_id is None) == (subject is None):
        fail("give either a FACE_ID or --subject")
    service = _service(tenant)
    if face_id is not None:
        service.delete(gallery, face_id, tenant=tenant, actor="cli")
        typer.echo(f"deleted face {face_id} from gallery {gallery!r}")
    else:
        assert subject is not None
        count = service.delete_subject(gallery, subject, tenant=tenant, actor="cli")
        typer.echo(f"deleted {count} template(s) of subject {subject!r} from gallery {gallery!r}")


@face_app.command("galleries")
@friendly_errors
def galleries_command(as_json: JsonOpt = False, tenant: TenantOpt = DEFAULT_TENANT) -> None:
    """List a tenant's galleries with their size, backend and index kind."""
    infos = _service(tenant).galleries(tenant=tenant)
    if as_json:
        print_json([i.model_dump() for i in infos])
        return
    for info in infos:
        typer.echo(f"{info.name}: {info.size} templates, {info.backend}, {info.index_kind} index")
