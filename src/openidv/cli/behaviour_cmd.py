"""``openidv behaviour score``, ``openidv train bot`` and ``openidv synth telemetry``: the bot-versus-human
behaviour check offline (docs/behaviour.md). Heavy imports happen inside the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openidv.cli.common import fail, friendly_errors, print_json

behaviour_app = typer.Typer(
    help="Behaviour: bot versus human from pointer and key telemetry.", no_args_is_help=True
)


@behaviour_app.command("score")
@friendly_errors
def behaviour_score_command(
    file: Annotated[Path, typer.Argument(help="One recorded session.")],
    fmt: Annotated[
        str,
        typer.Option("--format", help="openidv (telemetry JSON) or balabit (Balabit Mouse Dynamics CSV)."),
    ] = "openidv",
    as_json: Annotated[bool, typer.Option("--json", help="Print the behaviour CheckResult as JSON.")] = False,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="Policy file (default: $OPENIDV_POLICY or the packaged one)."),
    ] = None,
) -> None:
    """Score one recorded session offline: P(bot), with BOT_POINTER / BOT_TYPING where the policy's
    thresholds call a bot."""
    from openidv.checks.device.behaviour_check import BehaviourCheck
    from openidv.checks.device.telemetry_formats import FORMATS, read_telemetry
    from openidv.decision.policy import load_policy
    from openidv.errors import PolicyError

    if fmt not in FORMATS:
        fail(f"--format: unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if not file.is_file():
        fail(f"no such file: {file}")
    loaded = load_policy(policy)
    try:
        telemetry = read_telemetry(file, fmt)
    except ValueError as exc:
        fail(str(exc))
    check = BehaviourCheck(**loaded.params("behaviour"))
    result = check.score_telemetry(telemetry)

    def judge(name: str, score: float) -> bool:
        try:
            return loaded.judge_score("behaviour", name, score).holds
        except PolicyError:
            return False

    result = check.disclose(result, judge)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    score = "-" if result.score is None else f"{result.score:.4f}"
    typer.echo(
        f"behaviour {result.status} score {score} [{result.meaning}: P(bot)] "
        f"{' '.join(result.reason_codes) or 'no behaviour finding'} (policy {loaded.version})"
    )


@friendly_errors
def train_bot_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for the model file and the evaluation report.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bots, the trees and the bootstrap.")] = 0,
    data: Annotated[Path, typer.Option("--data", help="Balabit sessions, one folder per user.")] = Path(
        "../shared/data/mouse_sessions"
    ),
    n_train_bots: Annotated[
        int, typer.Option("--n-train-bots", min=6, help="Training bots per level and recorder.")
    ] = 150,
    n_test_bots: Annotated[
        int, typer.Option("--n-test-bots", min=10, help="Test bots per level and recorder.")
    ] = 200,
    replicates: Annotated[
        int, typer.Option("--replicates", min=0, help="Bootstrap replicates for ROC AUC.")
    ] = 200,
) -> None:
    """Train the bot-versus-human model (real Balabit humans, SYNTHETIC bots; held-out user 35) and write
    behaviour-bot-v1.json and behaviour-eval.json to OUT."""
    from openidv.train.bot import Recipe, train

    if not data.is_dir():
        fail(f"--data: no such folder: {data}")
    report = train(
        Recipe(
            data=data, seed=seed, n_train_bots=n_train_bots, n_test_bots=n_test_bots, replicates=replicates
        ),
        out,
        log=typer.echo,
    )
    typer.echo(
        f"bot threshold {report['pointer']['threshold']:.6f}, "
        f"typing threshold {report['typing']['threshold']:.6f}; "
        f"sha256 {report['sha256']} (humans REAL, bots and typing SYNTHETIC)"
    )


@friendly_errors
def synth_telemetry_command(
    out: Annotated[
        Path, typer.Option("--out", help="Output folder (one JSON file per session, labels.jsonl).")
    ],
    n: Annotated[int, typer.Option("--n", min=1, help="Sessions per level.")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Seed; the same seed gives the same sessions.")] = 0,
    levels: Annotated[
        str, typer.Option("--levels", help="Comma-separated: straight,bezier,replay,humanised.")
    ] = "straight,bezier,humanised",
    recorder: Annotated[
        str, typer.Option("--recorder", help="dense (browser-like) or balabit (~10 Hz).")
    ] = "dense",
    human_dir: Annotated[
        Path | None, typer.Option("--human-dir", help="Balabit sessions to replay (level replay).")
    ] = None,
    capture_flow: Annotated[
        bool,
        typer.Option(
            "--capture-flow/--no-capture-flow",
            help="Add a capture flow (steps, camera, captures) to each bot session (capture_session check).",
        ),
    ] = True,
) -> None:
    """SYNTHETIC bot sessions (pointer, typing and a capture flow) and SYNTHETIC human typing, with a labels
    manifest."""
    from openidv.checks.device.pointer_features import PointerStream
    from openidv.checks.device.telemetry_formats import read_balabit, windows
    from openidv.synth.telemetry import generate

    chosen = [lvl.strip() for lvl in levels.split(",") if lvl.strip()]
    humans = []
    if human_dir is not None:
        files = sorted(human_dir.rglob("session_*"))
        if not files:
            fail(f"--human-dir: no Balabit sessions under {human_dir}")
        try:
            humans = [
                PointerStream.from_telemetry(w) for f in files for w in windows(read_balabit(f), 60.0, 50)
            ]
        except ValueError as exc:
            fail(str(exc))
    try:
        manifest = generate(out, n, seed, chosen, humans, recorder, capture_flow)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"wrote {manifest} (SYNTHETIC sessions: bots of {', '.join(chosen)} and human typing)")
