"""``openidv liveness check``, ``openidv synth attacks``, ``openidv train pad`` and ``train deepfake``.

Heavy imports happen inside the commands, so ``openidv --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openidv.cli.common import friendly_errors, print_json

liveness_app = typer.Typer(
    help="Liveness: passive presentation-attack and deepfake checks on a selfie.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")]
PolicyOpt = Annotated[
    Path | None, typer.Option("--policy", help="Policy file (default: $OPENIDV_POLICY or the packaged one).")
]


@liveness_app.command("check")
@friendly_errors
def liveness_check_command(
    selfie: Annotated[Path, typer.Argument(help="The selfie (JPEG, PNG, WebP or BMP).")],
    as_json: JsonOpt = False,
    policy: PolicyOpt = None,
) -> None:
    """Passive liveness of one selfie: presentation attack (print, screen, mask), face swap, capture."""
    from openidv.library.liveness import check_liveness

    report = check_liveness(selfie, policy=policy)
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    typer.echo(f"{report.verdict.upper()}: {', '.join(report.reason_codes) or 'no liveness finding'}")
    for r in report.results:
        score = "-" if r["score"] is None else f"{r['score']:.4f}"
        thr = r.get("threshold")
        where = f" (threshold {thr:.4f})" if isinstance(thr, float) else ""
        typer.echo(
            f"  {r['check']:<10} {r['status']:<18} score {score} [{r['meaning']}]{where} "
            f"{' '.join(r['reason_codes'])}"
        )
    typer.echo(
        f"policy {report.policy_version}; PAD: backbones trained on real attacks, threshold set on SIMULATED "
        "attacks; deepfake: SIMULATED only (docs/liveness.md)"
    )


@friendly_errors
def synth_attacks_command(
    n: Annotated[int, typer.Option("--n", help="Number of samples to generate.")] = 200,
    out: Annotated[Path, typer.Option("--out", help="Output folder (images/ and manifest.csv).")] = Path(
        "datasets/attacks"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Seed; the same seed gives the same set.")] = 0,
    kinds: Annotated[
        str, typer.Option("--kinds", help="Comma-separated: bona_fide,print,screen_replay,mask,deepfake.")
    ] = "bona_fide,print,screen_replay,mask,deepfake",
    workers: Annotated[int, typer.Option("--workers", help="Processes rendering in parallel.")] = 1,
) -> None:
    """Simulated presentation attacks and face swaps from real faces, with a samples manifest."""
    from openidv.synth.attacks.dataset import generate

    manifest = generate(
        n, out, seed=seed, kinds=[k.strip() for k in kinds.split(",") if k.strip()], workers=workers
    )
    typer.echo(f"wrote {n} samples and {manifest} (SIMULATED attacks from real bona fide photos)")


def _train(
    kind: str,
    out: Path,
    seed: int,
    n: int,
    manifest: Path | None,
    data: Path | None,
    install: bool,
    as_json: bool,
) -> None:
    from openidv.train.liveness import train_deepfake, train_pad
    from openidv.train.liveness_fusion import train_pad_fusion

    recipe = {"pad": train_pad, "pad-fusion": train_pad_fusion}.get(kind, train_deepfake)
    trained = recipe(
        out,
        seed=seed,
        n=n,
        manifest=manifest,
        work=data,
        install=install,
        progress=lambda msg: typer.echo(msg, err=True),
    )
    if as_json:
        print_json({"artifact": str(trained.artifact), "card": str(trained.card), **trained.summary})
        return
    typer.echo(f"wrote {trained.artifact} and {trained.card} (sha256 {trained.sha256})")
    typer.echo(
        f"out-of-fold scores for the evaluation layer: {trained.oof_scores} (manifest {trained.manifest})"
    )
    if install:
        typer.echo(
            f"installed into openidv/checks/liveness/weights; set SHA256[{trained.model_id!r}] in "
            f"openidv/checks/liveness/artifacts.py to {trained.sha256}"
        )


ModelsOut = Annotated[Path, typer.Option("--out", help="Where the artifact and model card go.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for data generation and training.")]
ManifestOpt = Annotated[
    Path | None, typer.Option("--manifest", help="Train on this samples manifest instead of generating one.")
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Folder for the generated set (default openidv-data/liveness/<kind>-seed<seed>)."
    ),
]
InstallOpt = Annotated[bool, typer.Option("--install", help="Also copy the artifact into the package.")]


@friendly_errors
def train_pad_command(
    out: ModelsOut = Path("models"),
    seed: SeedOpt = 0,
    n: Annotated[int, typer.Option("--n", help="Simulated samples to generate.")] = 900,
    manifest: ManifestOpt = None,
    data: DataOpt = None,
    install: InstallOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Train the passive PAD model (seeded) into models/ with its model card."""
    _train("pad", out, seed, n, manifest, data, install, as_json)


@friendly_errors
def train_pad_fusion_command(
    out: ModelsOut = Path("models"),
    seed: SeedOpt = 2,
    n: Annotated[int, typer.Option("--n", help="Simulated samples to generate.")] = 600,
    manifest: ManifestOpt = None,
    data: DataOpt = None,
    install: InstallOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Train the default PAD model (liveness-pad-v2): logistic fusion of the real-attack backbones."""
    _train("pad-fusion", out, seed, n, manifest, data, install, as_json)


@friendly_errors
def train_deepfake_command(
    out: ModelsOut = Path("models"),
    seed: SeedOpt = 0,
    n: Annotated[int, typer.Option("--n", help="Simulated samples to generate.")] = 600,
    manifest: ManifestOpt = None,
    data: DataOpt = None,
    install: InstallOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Train the face-swap detector (seeded) into models/ with its model card."""
    _train("deepfake", out, seed, n, manifest, data, install, as_json)
