"""Thresholds a security team can defend: published operating points, unsupported targets, face defaults."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from openidv.checks.face.embed import similarity_from_cosine
from openidv.cli import app
from openidv.decision.policy import load_policy, parse_policy
from openidv.decision.provenance import threshold_table
from openidv.errors import PolicyError
from openidv.eval.samplesize import required_trials
from openidv.eval.thresholds import subjects_needed
from openidv.operating_points import PUBLISHED_OPERATING_POINTS, published_operating_point
from tests.test_eval_runner import policy_file
from tests.test_eval_support import comparison_files, number_checks, verification_scores

__all__ = ["number_checks"]  # the fixture, used by name

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ the default policy's face thresholds


def test_default_face_threshold_is_not_looser_than_the_published_operating_point() -> None:
    policy = load_policy()
    backend = policy.params("face_match").get("backend", "sface")
    point = published_operating_point(str(backend))  # the registry, not a copy of its numbers
    match = policy.threshold("face_match", "match")
    assert match.value >= point.similarity
    # the recorded source is that published point, with its reference
    assert match.source_kind == "published" and match.status == "published"
    assert match.origin["backend"] == backend and match.origin["published_similarity"] == point.similarity
    assert point.reference.split()[0] in str(match.origin["reference"])
    # FMR 1e-4 or lower, and the owned data is said not to support it, with the counts it would need
    rate = float(str(match.target).split("=")[1])
    assert rate <= 1e-4
    assert match.achieved["supported"] is False
    assert match.achieved["needed"]["trials"] == required_trials(rate) > match.achieved["n_impostor"]


def test_duplicate_threshold_is_never_looser_than_the_match_threshold() -> None:
    policy = load_policy()
    match = policy.threshold("face_match", "match")
    duplicate = policy.threshold("face_duplicate", "duplicate")
    assert duplicate.value >= match.value
    # its target is an FPIR stated for a gallery size, with the expected FPIR at other sizes
    assert str(duplicate.target).startswith("fpir=") and duplicate.extra["target_gallery_size"] > 0
    sizes = [row["gallery_size"] for row in duplicate.extra["fpir_by_gallery_size"]]
    assert sizes == [1_000, 10_000, 100_000, 1_000_000]
    for row in duplicate.extra["fpir_by_gallery_size"]:
        for name, source in duplicate.extra["fpir_sources"].items():
            expected = -math.expm1(row["gallery_size"] * math.log1p(-source["fmr"]))
            assert row[name] == pytest.approx(expected, rel=2e-3, abs=1e-12)


def test_face_thresholds_carry_target_data_and_rates_with_intervals() -> None:
    rows = {f"{r.check}.{r.threshold}": r for r in threshold_table(load_policy())}
    for key in ("face_match.match", "face_duplicate.duplicate"):
        row = rows[key]
        assert row.target and row.data == "real" and row.counts["subjects"] == 6
        assert row.source_kind == "published" and row.published and "0.363" in row.published
        assert row.rates and all(
            {"value", "ci_low", "ci_high", "n"} <= {k for k, v in e.items() if v is not None}
            for e in row.rates.values()
        )
    assert rows["face_match.match"].counts == {"n_genuine": 33, "n_impostor": 103, "subjects": 6}


def test_published_points_map_exactly_to_our_score_and_agree_with_the_model_cards() -> None:
    sface = published_operating_point("sface")
    assert sface.cosine == 0.363 and sface.exact
    assert sface.similarity == pytest.approx(similarity_from_cosine(0.363), abs=1e-6)
    assert sface.similarity >= similarity_from_cosine(0.363)  # rounded up: never looser
    assert sface.evidences_fmr == pytest.approx(1e-3)  # 3,000 LFW impostor pairs: rule of three
    dlib = published_operating_point("dlib")
    assert not dlib.exact and 0.9 < dlib.cosine < 0.93
    for point in PUBLISHED_OPERATING_POINTS.values():
        card = yaml.safe_load((ROOT / "models" / _card(point.model_id)).read_text(encoding="utf-8"))
        published = card["published_operating_point"]
        assert published["similarity"] == point.similarity and published["cosine"] == point.cosine
        assert published["reference"] == point.reference
    with pytest.raises(Exception, match="no published operating point"):
        published_operating_point("arcface")


def _card(model_id: str) -> str:
    return {
        "face-embed-sface-2021dec-int8bq": "face-embed-sface-2021dec.yaml",
        "face-embed-dlib-resnet-v1": "face-embed-dlib-resnet-v1.yaml",
    }[model_id]


# ------------------------------------------------------------------ validation on load


def _policy_with(threshold: dict[str, object]) -> dict[str, object]:
    return {
        "version": "t-1",
        "checks": {"face_match": {"thresholds": {"match": threshold}}},
        "rules": [
            {
                "name": "face-mismatch",
                "when": {"check": "face_match", "score": {"op": "<", "threshold": "match"}},
                "outcome": "reject",
            }
        ],
    }


def test_a_published_source_needs_its_reference_and_status_must_agree() -> None:
    source = {"kind": "published", "model": "SFace", "dataset": "LFW", "protocol": "10-fold"}
    with pytest.raises(
        PolicyError, match=r"checks\.face_match\.thresholds\.match: source: .*needs reference"
    ):
        parse_policy(_policy_with({"value": 0.7, "target": "fmr=1e-4", "source": source}))
    ok = parse_policy(_policy_with({"value": 0.7, "source": {**source, "reference": "https://x"}}))
    assert ok.threshold("face_match", "match").status == "published"
    with pytest.raises(PolicyError, match=r"source\.kind"):
        parse_policy(_policy_with({"value": 0.7, "source": {"kind": "guessed"}}))
    with pytest.raises(PolicyError, match=r"status: supported, but achieved\.supported is false"):
        parse_policy(_policy_with({"value": 0.7, "status": "supported", "achieved": {"supported": False}}))
    with pytest.raises(PolicyError, match="status"):
        parse_policy(_policy_with({"value": 0.7, "status": "fine"}))
    # a threshold set from one backend's published point cannot serve another backend
    dlib = _policy_with({"value": 0.96, "source": {**source, "reference": "https://x", "backend": "sface"}})
    dlib["checks"]["face_match"]["params"] = {"backend": "dlib"}  # type: ignore[index]
    with pytest.raises(PolicyError, match=r"set from backend 'sface'.*params\.backend is 'dlib'"):
        parse_policy(dlib)
    # an older record without status: a forced (supported: false) tuning reads as unsupported
    old = parse_policy(_policy_with({"value": 0.7, "source": "r.json", "achieved": {"supported": False}}))
    assert old.threshold("face_match", "match").unsupported and old.unsupported_warnings()


# ------------------------------------------------------------------ tune: refuse, or record as unsupported


def test_subjects_needed_rule() -> None:
    assert subjects_needed(required_trials(1e-4)) == 246  # 246 * 245 / 2 = 30,135 >= 29,956
    assert subjects_needed(1) == 2 and subjects_needed(3) == 3
    for n in (10, 299, 2995, 29956):
        s = subjects_needed(n)
        assert s * (s - 1) // 2 >= n > (s - 1) * (s - 2) // 2


def evaluated(folder: Path, subjects: int, impostors: int) -> Path:
    """An evaluation report (through the CLI) of a synthetic score set with this many people and impostor
    comparisons; its folder."""
    manifest, score_file = verification_scores(folder / "data", subjects=subjects, impostors=impostors)
    out = folder / "out"
    run = [*("eval", "run", "--manifest", str(manifest), "--scores", str(score_file), "--out", str(out))]
    assert CliRunner().invoke(app, [*run, "--replicates", "30", "--quiet", "--no-html"]).exit_code == 0
    return out


@pytest.mark.usefixtures("number_checks")
def test_tune_refuses_an_unsupported_target_with_the_counts_it_needs(tmp_path: Path) -> None:
    out = evaluated(tmp_path, subjects=120, impostors=4000)
    runner = CliRunner()
    policy = policy_file(tmp_path / "policy.yaml")
    before = policy.read_text(encoding="utf-8")
    tune = ["thresholds", "tune", "--report", str(out), "--policy", str(policy), "--replicates", "30"]
    result = runner.invoke(app, [*tune, "--target", "fmr=1e-4"])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and "29,956 impostor comparisons from at least 246 people" in line
    assert "this set has 4,000 impostor comparisons from 120 people" in line and "--allow-unsupported" in line
    assert policy.read_text(encoding="utf-8") == before  # nothing written
    # enough comparisons but too few people is refused too (FMR 1e-3: 2,995 comparisons, 78 people)
    few_out = evaluated(tmp_path / "few", subjects=40, impostors=4000)
    result = runner.invoke(app, [*tune[:3], str(few_out), *tune[4:], "--target", "fmr=1e-3"])
    assert (
        result.exit_code == 2
        and "from at least 78 people" in result.stderr
        and "from 40 people" in result.stderr
    )


@pytest.mark.usefixtures("number_checks")
def test_a_forced_target_is_recorded_unsupported_and_every_eval_run_warns(tmp_path: Path) -> None:
    out = evaluated(tmp_path, subjects=120, impostors=4000)
    runner = CliRunner()
    policy = policy_file(tmp_path / "policy.yaml")
    result = runner.invoke(
        app,
        [
            *("thresholds", "tune", "--report", str(out), "--policy", str(policy)),
            *("--target", "fmr=1e-4", "--allow-unsupported", "--replicates", "30", "--data", "synthetic"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("UNSUPPORTED (forced) threshold") and "UNSUPPORTED" in result.stderr
    raw = yaml.safe_load(policy.read_text(encoding="utf-8"))
    entry = raw["checks"]["eval_test_number"]["thresholds"]["accept"]
    assert entry["status"] == "unsupported" and entry["achieved"]["supported"] is False
    assert "29,956" in entry["reason"] and entry["achieved"]["needed"]["subjects"] == 246
    assert entry["achieved"]["subjects"] == 120 and entry["achieved"]["data"] == "synthetic"
    loaded = load_policy(policy, warn=False)
    assert [(c, n) for c, n, _ in loaded.unsupported_thresholds()] == [("eval_test_number", "accept")]
    # every eval run that uses this policy says so on stderr, naming the threshold
    data = comparison_files(tmp_path / "files", subjects=12)
    for attempt in range(2):
        result = runner.invoke(
            app,
            [
                *("eval", "run", "--manifest", str(data), "--check", "eval_test_number"),
                *("--policy", str(policy), "--out", str(tmp_path / "run"), "--replicates", "20"),
                *("--quiet", "--no-html"),
            ],
        )
        assert result.exit_code == 0, (attempt, result.output)
        assert "warning:" in result.stderr and "checks.eval_test_number.thresholds.accept" in result.stderr
        assert "UNSUPPORTED" in result.stderr
    # policy explain flags it
    result = runner.invoke(app, ["policy", "explain", "--policy", str(policy)])
    assert result.exit_code == 0 and "UNSUPPORTED" in result.stdout
    payload = json.loads(runner.invoke(app, ["policy", "explain", "--policy", str(policy), "--json"]).stdout)
    accept = next(r for r in payload["thresholds"] if r["threshold"] == "accept")
    assert (
        accept["status"] == "unsupported"
        and accept["source_kind"] == "tuned"
        and accept["data"] == "synthetic"
    )


def test_load_policy_logs_unsupported_thresholds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = _policy_with({"value": 0.7, "target": "fmr=1e-4", "status": "unsupported", "source": "r.json"})
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with caplog.at_level("WARNING", logger="openidv.policy"):
        load_policy(path)
    assert "checks.face_match.thresholds.match" in caplog.text and "UNSUPPORTED" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="openidv.policy"):
        load_policy()  # the packaged policy has no unsupported threshold
    assert caplog.text == ""


def test_policy_explain_prints_the_source_and_the_fpir_table() -> None:
    result = CliRunner().invoke(app, ["policy", "explain"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "source" in out and "published" in out and "tuned" in out
    assert "published operating point" in out and "cosine >= 0.363" in out
    assert "expected FPIR by gallery size" in out and "1,000,000" in out
    assert "UNSUPPORTED" not in out


def test_every_threshold_a_rule_reads_carries_target_data_and_rates_with_intervals() -> None:
    for row in threshold_table(load_policy()):
        if not row.rules:
            continue  # decides nothing (document_forensics, document_tampered_field)
        where = f"{row.check}.{row.threshold}"
        assert row.target, where
        assert row.data in ("real", "synthetic"), where
        assert row.counts, where
        assert row.status in ("supported", "unsupported", "published"), where
        with_interval = [
            e for e in row.rates.values() if e.get("ci_low") is not None and e.get("ci_high") is not None
        ]
        assert len(with_interval) >= 2, where
