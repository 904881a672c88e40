"""``openidv document inspect`` and the document commands of ``openidv synth`` and ``openidv train``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from openidv.cli.common import fail, friendly_errors, print_json

document_app = typer.Typer(
    help="Identity documents: read, cross-check and look for forgery.", no_args_is_help=True
)


def inspect_document(
    front: Path, back: Path | None = None, *, as_of: date | None = None, annotate: Path | None = None
) -> dict[str, Any]:
    """``openidv.library.documents.inspect_document`` as the CLI prints it (with the paths and the PNG)."""
    from openidv.library.documents import inspect_document as inspect

    inspection = inspect(front, back, as_of=as_of)
    report: dict[str, Any] = {
        "front": str(front),
        "back": str(back) if back else None,
        **inspection.report.model_dump(mode="json"),
    }
    if annotate is not None:
        from openidv.checks.document.annotate import annotate_reading

        report["annotated_png"] = str(
            annotate_reading(inspection.evidence, inspection.reading(), report, annotate)
        )
    return report


@document_app.command("inspect")
@friendly_errors
def inspect_command(
    photo: Annotated[Path, typer.Argument(help="Photo of the document (the front, or the data page).")],
    back: Annotated[
        Path | None, typer.Option("--back", help="Photo of the back (ID cards, licences).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
    annotate: Annotated[
        Path | None,
        typer.Option("--annotate", help="Where to write the annotated PNG (default: <photo>.inspect.png)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Judge the document on this date (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Read a document photo: fields and their sources, consistency findings, forgery scores, timings."""
    when = None
    if as_of:
        try:
            when = date.fromisoformat(as_of)
        except ValueError:
            fail(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)")
    target = annotate or Path(photo.stem + ".inspect.png")
    report = inspect_document(photo, back, as_of=when, annotate=target)
    if as_json:
        print_json(report)
        return
    typer.echo(f"template: {report['template'] or 'none recognised'}")
    typer.echo("fields (source: value):")
    for key, sources in sorted(report["fields"].items()):
        typer.echo(f"  {key:<16} " + "  ".join(f"{s}={v!r}" for s, v in sources.items()))
    failed = [f for f in report["findings"] if not f["passed"]]
    typer.echo(f"consistency: {len(report['findings']) - len(failed)}/{len(report['findings'])} tests passed")
    for f in failed:
        typer.echo(f"  FAILED {f['test']} ({f['code']}): {f['values']}")
    typer.echo("scores:")
    for name, s in report["scores"].items():
        score = "-" if s["score"] is None else f"{s['score']:.4f}"
        codes = f" {', '.join(s['reason_codes'])}" if s["reason_codes"] else ""
        typer.echo(f"  {name:<32} {score:>7} ({s['meaning']}, {s['status']}){codes}")
    d = report["decision"]
    typer.echo(f"decision: {d['outcome']} {', '.join(d['reason_codes'])} (policy {d['policy_version']})")
    typer.echo("timings ms: " + ", ".join(f"{k} {v:.0f}" for k, v in report["timings_ms"].items()))
    typer.echo(f"annotated: {report.get('annotated_png')}")


@friendly_errors
def synth_documents_command(
    n: Annotated[int, typer.Option("--n", min=1, max=100_000, help="How many documents.")] = 20,
    out: Annotated[Path, typer.Option("--out", help="Output folder (manifest.csv, photos, truth/).")] = Path(
        "synth-documents"
    ),
    forgeries: Annotated[
        bool, typer.Option("--forgeries", help="Make half of them forgeries (every species).")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed writes the same set.")] = 0,
    degradations: Annotated[
        str, typer.Option("--degradations", help="Comma-separated capture conditions, used in turn.")
    ] = "clean",
    rotate_fraction: Annotated[
        float, typer.Option("--rotate-fraction", min=0.0, max=1.0, help="Share photographed upside down.")
    ] = 0.0,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Issue dates are drawn before this date (default today).")
    ] = None,
    faces: Annotated[
        Path | None, typer.Option("--faces", help="Folder of portrait photos with manifest.csv.")
    ] = None,
) -> None:
    """Generate labelled synthetic document photos with a manifest ``openidv eval run`` reads."""
    from openidv.synth.dataset import generate_documents

    when = date.fromisoformat(as_of) if as_of else None
    try:
        manifest = generate_documents(
            out,
            n,
            seed=seed,
            forgeries=forgeries,
            as_of=when,
            faces_dir=faces,
            degradations=tuple(d.strip() for d in degradations.split(",") if d.strip()),
            rotate_fraction=rotate_fraction,
        )
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"wrote {n} documents; manifest {manifest}")


@friendly_errors
def train_document_forensics_command(
    n: Annotated[
        int, typer.Option("--n", min=20, help="Synthetic documents to generate for training.")
    ] = 360,
    seed: Annotated[int, typer.Option("--seed", help="Seed for data, split and model.")] = 0,
    data: Annotated[
        Path | None, typer.Option("--data", help="Use this synthetic set (folder or manifest) instead.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for the artifact and card (default: models/).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes measuring signals.")] = 2,
) -> None:
    """Train the document forgery model on synthetic forgeries; writes the artifact and its model card."""
    from openidv.train.document_forensics import train_document_forensics

    card = train_document_forensics(out, n=n, seed=seed, data=data, workers=workers)
    typer.echo(
        f"trained {card['id']} {card['version']} on SYNTHETIC data: {card['training_data']['rows_by_class']}"
    )
    for species, m in card["held_out_metrics"]["by_species"].items():
        s = m["species_score"]
        typer.echo(
            f"  {species:<24} detection at BPCER 1%: {s['bpcer_1pct']['detection']}, "
            f"at 5%: {s['bpcer_5pct']['detection']} "
            f"(n attack {s['bpcer_5pct']['n_attack']}, n bona fide {s['bpcer_5pct']['n_bona_fide']})"
        )


@friendly_errors
def train_document_capture_command(
    pages: Annotated[
        list[Path],
        typer.Argument(
            help="Real document pages for the unseen-design test (../shared/data/documents/*.png)."
        ),
    ],
    n: Annotated[
        int, typer.Option("--n", min=20, help="Synthetic documents to generate for training.")
    ] = 360,
    seed: Annotated[int, typer.Option("--seed", help="Seed for data, split and model.")] = 11,
    data: Annotated[
        Path | None, typer.Option("--data", help="Use this synthetic set (folder with truth/) instead.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for the artifact and card (default: models/).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes generating and measuring.")] = 2,
    camera_photos: Annotated[
        Path | None,
        typer.Option("--camera-photos", help="Real camera photos with no document (false-alarm check)."),
    ] = None,
    write_policy: Annotated[
        Path | None, typer.Option("--write-policy", help="Write the threshold and its review rule here.")
    ] = None,
) -> None:
    """Train the template-free screen-recapture model on synthetic recaptures (prints and photocopies
    studied beside it); test on simulated captures of real pages of a design it never saw."""
    import tempfile

    from openidv.train.capture_forensics import generate_capture_set, install_threshold, train_capture_model

    for page in pages:
        if not page.is_file():
            fail(f"{page}: no such page image")
    with tempfile.TemporaryDirectory(prefix="openidv-capture-") as tmp:
        folder = data or generate_capture_set(Path(tmp), n, seed, workers)
        photos = sorted(camera_photos.rglob("*")) if camera_photos else []
        photos = [p for p in photos if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
        card = train_capture_model(folder, pages, out, camera_photos=photos, seed=seed, workers=workers)
    if write_policy is not None:
        install_threshold(write_policy, card)
    metrics = card["metrics"]
    typer.echo(
        f"trained {card['id']} {card['version']} on SYNTHETIC data: {card['training_data']['rows_by_class']}"
    )
    typer.echo(f"threshold {card['threshold']['value']} ({card['threshold']['chosen_at']})")
    for name, m in metrics.items():
        rates = {k: f"{v['errors']}/{v['n']}" for k, v in m.items() if isinstance(v, dict) and "errors" in v}
        typer.echo(f"  {name}: {rates}")
