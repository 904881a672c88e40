"""The ``behaviour`` check against its model card: held-out real humans pass, seeded bots of every level
are flagged at the rates the card states, the CLI scores recorded files, the model file is verified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from openidv import models
from openidv.checks.base import Judge
from openidv.checks.device.behaviour_check import BehaviourCheck, time_check
from openidv.checks.device.behaviour_model import MODEL_ID, SHA256, load_model, spec
from openidv.checks.device.pointer_features import POINTER_FEATURES, PointerStream, pointer_features
from openidv.checks.device.telemetry_formats import read_balabit, windows
from openidv.cli import app
from openidv.decision.policy import load_policy
from openidv.errors import ConfigurationError, PolicyError
from openidv.eval.bootstrap import clopper_pearson
from openidv.evidence import Evidence
from openidv.models import ModelSpec, model_path, register_model, sha256_file
from openidv.results import Status
from openidv.synth.telemetry import pointer_bot, replay_bot, to_telemetry, typing
from openidv.telemetry import Event, Telemetry
from openidv.train.bot import MIN_WINDOW_EVENTS, WINDOW_S

REPO = Path(__file__).resolve().parents[1]
CARD = yaml.safe_load((REPO / "models" / f"{MODEL_ID}.yaml").read_text())
runner = CliRunner()


@pytest.fixture(scope="module")
def policy() -> Any:
    return load_policy()


@pytest.fixture(scope="module")
def judge(policy: Any) -> Judge:
    def _judge(name: str, score: float) -> bool:
        try:
            return bool(policy.judge_score("behaviour", name, score).holds)
        except PolicyError:
            return False

    return _judge


@pytest.fixture(scope="module")
def held_out(shared_data: Path) -> list[PointerStream]:
    users = CARD["training_data"]["held_out_users"]
    return [
        PointerStream.from_telemetry(w)
        for u in users
        for f in sorted((shared_data / "mouse_sessions" / u).glob("session_*"))
        for w in windows(read_balabit(f), WINDOW_S, MIN_WINDOW_EVENTS)
    ]


def _scores(streams: list[PointerStream]) -> np.ndarray:
    x = np.array([pointer_features(s) for s in streams]).reshape(-1, len(POINTER_FEATURES))
    return load_model().pointer.probability(x)


def _consistent(count: int, n: int, stated: dict[str, Any]) -> bool:
    """Our sample's exact 95% interval overlaps the card's interval."""
    low, high = clopper_pearson(count, n, 0.95)
    return low <= stated["ci_high"] and high >= stated["ci_low"]


def test_policy_threshold_is_the_cards(policy: Any) -> None:
    assert policy.checks["behaviour"].thresholds["bot"].value == CARD["thresholds"]["bot"]["value"]
    assert policy.checks["behaviour"].thresholds["typing"].value == CARD["thresholds"]["typing"]["value"]


def test_held_out_humans_pass_at_the_cards_rate(held_out: list[PointerStream], policy: Any) -> None:
    stated = CARD["metrics"]["pointer"]["humans_flagged_at_threshold"]
    assert len(held_out) == stated["n"]
    threshold = policy.checks["behaviour"].thresholds["bot"].value
    flagged = int((_scores(held_out) >= threshold).sum())
    assert flagged == stated["errors"]  # the same windows and model: the same count
    assert flagged / len(held_out) <= stated["ci_high"]


@pytest.mark.parametrize("level", ["straight", "bezier", "humanised"])
@pytest.mark.parametrize("recorder", ["dense", "balabit"])
def test_generated_bots_are_flagged_at_the_cards_rate(level: str, recorder: str, policy: Any) -> None:
    rng = np.random.default_rng(20_000 + len(level) + len(recorder))  # a seed the card's test set did not use
    streams = [pointer_bot(level, rng, duration_s=45, recorder=recorder) for _ in range(30)]
    flagged = int((_scores(streams) >= policy.checks["behaviour"].thresholds["bot"].value).sum())
    stated = CARD["metrics"]["pointer"]["per_level"][f"{level}/{recorder}"]["detected_at_threshold"]
    assert _consistent(flagged, len(streams), stated), (flagged, stated)


def test_replayed_humans_are_flagged_at_the_cards_rate(held_out: list[PointerStream], policy: Any) -> None:
    rng = np.random.default_rng(20_003)
    streams = [replay_bot(held_out[int(rng.integers(len(held_out)))], rng) for _ in range(60)]
    flagged = int((_scores(streams) >= policy.checks["behaviour"].thresholds["bot"].value).sum())
    stated = CARD["metrics"]["pointer"]["per_level"]["replay/as_recorded"]["detected_at_threshold"]
    assert _consistent(flagged, len(streams), stated), (flagged, stated)


def test_check_discloses_bot_pointer_and_bot_typing(judge: Judge) -> None:
    rng = np.random.default_rng(5)
    check = BehaviourCheck()
    bot = to_telemetry(pointer_bot("straight", rng, duration_s=40), typing("constant", rng, 30))
    result = check.disclose(check.run(Evidence(telemetry=bot)), judge)
    assert result.status == Status.OK and result.meaning == "attack"
    assert {"BOT_POINTER", "BOT_TYPING"} <= set(result.reason_codes)
    assert result.details["pointer"]["features"]["turn_q50"]["value"] < 0.05  # straight segments
    human_typing = to_telemetry(None, typing("human", np.random.default_rng(1), 40))
    typed = check.disclose(check.run(Evidence(telemetry=human_typing)), judge)
    assert typed.status == Status.OK and "BOT_TYPING" not in typed.reason_codes


def test_too_few_events_is_failed_to_acquire() -> None:
    tel = Telemetry(events=(Event(t=0, type="move", x=1, y=1), Event(t=10, type="move", x=2, y=2)))
    result = BehaviourCheck().run(Evidence(telemetry=tel))
    assert result.status == Status.FAILED_TO_ACQUIRE and result.reason_codes == ("BEHAVIOUR_INSUFFICIENT",)
    assert BehaviourCheck().run(Evidence()).status == Status.FAILED_TO_ACQUIRE


def test_params_are_validated() -> None:
    with pytest.raises(ConfigurationError, match=r"checks\.behaviour\.params"):
        BehaviourCheck(min_pointer_events=0)


def test_model_sha256_is_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sha256_file(model_path(spec().id)) == SHA256 == CARD["sha256"]
    # the wrong entry must not outlive this test: /readyz checks every registered model
    monkeypatch.setattr(models, "_REGISTRY", dict(models._REGISTRY))
    monkeypatch.setattr(models, "_verified", dict(models._verified))
    wrong = ModelSpec(**{**spec().__dict__, "id": "behaviour-bot-test-wrong", "sha256": "0" * 64})
    register_model(wrong, replace=True)
    with pytest.raises(ConfigurationError, match="sha256"):
        model_path(wrong.id)


def test_latency_of_a_typical_session() -> None:
    rng = np.random.default_rng(2)
    tel = to_telemetry(pointer_bot("humanised", rng, duration_s=60), typing("human", rng, 40))
    timing = time_check(tel, repeats=30)
    assert timing["p50_ms"] < 50  # a loose bound for a shared CI box; docs/behaviour.md has the p99


def test_cli_scores_a_real_balabit_file(shared_data: Path) -> None:
    path = sorted((shared_data / "mouse_sessions" / "user35").glob("session_*"))[0]
    out = runner.invoke(app, ["behaviour", "score", str(path), "--format", "balabit", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["check"] == "behaviour" and result["meaning"] == "attack" and result["status"] == "ok"
    assert result["details"]["source"] == "balabit"


def test_cli_calls_a_bot_a_bot(tmp_path: Path) -> None:
    path = tmp_path / "bot.json"
    path.write_text(
        to_telemetry(pointer_bot("bezier", np.random.default_rng(8), duration_s=40)).model_dump_json()
    )
    out = runner.invoke(app, ["behaviour", "score", str(path), "--json"])
    assert out.exit_code == 0, out.output
    assert "BOT_POINTER" in json.loads(out.output)["reason_codes"]
    line = runner.invoke(app, ["behaviour", "score", str(path)])
    assert line.exit_code == 0 and "BOT_POINTER" in line.output


@pytest.mark.parametrize(
    ("content", "fmt"),
    [
        ("", "openidv"),
        ("", "balabit"),
        ("a,b,c\n1,2,3\n", "balabit"),
        ("{not json", "openidv"),
        ("{}", "xml"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path: Path, content: str, fmt: str) -> None:
    path = tmp_path / "in.txt"
    path.write_text(content)
    out = runner.invoke(app, ["behaviour", "score", str(path), "--format", fmt])
    assert out.exit_code == 2
    assert "error:" in out.output and "Traceback" not in out.output
    assert runner.invoke(app, ["behaviour", "score", str(tmp_path / "missing.json")]).exit_code == 2


def test_synth_telemetry_cli_is_seeded_and_labelled(tmp_path: Path) -> None:
    for name in ("a", "b"):
        args = ["synth", "telemetry", "--out", str(tmp_path / name), "--n", "2", "--seed", "3"]
        assert runner.invoke(app, args).exit_code == 0
    labels = [json.loads(line) for line in (tmp_path / "a" / "labels.jsonl").read_text().splitlines()]
    assert len(labels) == 8 and all(r["data"] == "SYNTHETIC" for r in labels)
    first = labels[0]["file"]
    assert (tmp_path / "a" / first).read_bytes() == (tmp_path / "b" / first).read_bytes()
    bad = runner.invoke(app, ["synth", "telemetry", "--out", str(tmp_path / "c"), "--levels", "replay"])
    assert bad.exit_code == 2


def test_evidence_from_files_reads_both_formats(shared_data: Path, tmp_path: Path) -> None:
    check = BehaviourCheck()
    real = sorted((shared_data / "mouse_sessions" / "user35").glob("session_*"))[0]
    assert check.evidence_from_files([real]).telemetry is not None
    path = tmp_path / "s.json"
    path.write_text(to_telemetry(None, typing("human", np.random.default_rng(0), 20)).model_dump_json())
    evidence = check.evidence_from_files([path])
    assert evidence.telemetry is not None and evidence.telemetry.source == "synthetic"


def test_trainer_runs_on_a_tiny_recipe(shared_data: Path, tmp_path: Path) -> None:
    """The recipe end to end on one session per user and a handful of bots (not the shipped model)."""
    from openidv.checks.device.behaviour_model import read_model
    from openidv.train.bot import Recipe, train

    data = tmp_path / "data"
    for user in ("user21", "user23", "user29", "user35"):
        (data / user).mkdir(parents=True)
        first = sorted((shared_data / "mouse_sessions" / user).glob("session_*"))[0]
        (data / user / first.name).symlink_to(first)
    recipe = Recipe(data=data, seed=1, n_train_bots=6, n_test_bots=10, n_typing=60, max_iter=10, replicates=5)
    report = train(recipe, tmp_path / "out", log=lambda _: None)
    assert report["sha256"] == sha256_file(tmp_path / "out" / f"{MODEL_ID}.json")
    assert set(report["pointer"]["test"]["unseen_level"]) == {"straight", "bezier", "humanised", "replay"}
    model = read_model(tmp_path / "out" / f"{MODEL_ID}.json")
    assert model.pointer.features == POINTER_FEATURES
    assert yaml.safe_load((tmp_path / "out" / f"{MODEL_ID}.yaml").read_text())["sha256"] == report["sha256"]


def test_pipeline_reviews_a_bot_with_the_channel_named(policy: Any) -> None:
    from openidv.pipeline import Pipeline

    pipeline = Pipeline(policy, checks=[BehaviourCheck()])
    rng = np.random.default_rng(4)
    pointer = pipeline.run(Evidence(telemetry=to_telemetry(pointer_bot("bezier", rng, 40))))
    assert pointer.decision.outcome == "review" and pointer.decision.reason_codes == ("BOT_POINTER",)
    keys = pipeline.run(Evidence(telemetry=to_telemetry(None, typing("constant", rng, 30))))
    assert keys.decision.outcome == "review" and keys.decision.reason_codes == ("BOT_TYPING",)


def test_synth_telemetry_sessions_carry_a_capture_flow_that_capture_session_reads(tmp_path: Path) -> None:
    """A crude script's session carries a scripted capture flow (flagged); the others a normal one."""
    import json

    from openidv.checks.device.telemetry_formats import read_openidv
    from openidv.checks.registry import create_check
    from openidv.decision.policy import load_policy
    from openidv.synth.telemetry import generate

    manifest = generate(tmp_path, 3, seed=11, levels=("straight", "bezier"))
    threshold = load_policy().threshold("capture_session", "anomaly").value
    check = create_check("capture_session")
    for row in map(json.loads, manifest.read_text().splitlines()):
        if row["label"] != "bot":
            continue
        result = check.run(Evidence(telemetry=read_openidv(tmp_path / row["file"])))
        assert result.score is not None
        assert (result.score >= threshold) == (row["capture_flow"] == "scripted"), row
