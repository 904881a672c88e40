"""``eval run`` end to end with a real (tiny) registered check: scoring, cache, report, HTML, tuning."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from openidv.cli import app
from openidv.decision.policy import load_policy
from openidv.errors import InvalidInput
from openidv.eval.metrics.common import Options
from openidv.eval.runner import evaluate
from openidv.eval.scores import read_scores
from openidv.eval.thresholds import tune
from tests.test_eval_support import (
    NumberFileCheck,
    comparison_files,
    number_checks,
    verification_scores,
    write_csv,
)

__all__ = ["number_checks"]  # the fixture, used by name

STABLE_TARGET_KEYS = {"value", "ci_low", "ci_high", "threshold", "n_genuine", "n_impostor"}


def policy_file(path: Path, offset: float = 0.0) -> Path:
    """A policy whose rules read the thresholds tuning writes (a threshold no rule reads is refused)."""
    initial = {"value": 0.5, "target": "initial", "source": "test"}
    raw = {
        "version": "test-1",
        "checks": {
            "eval_test_number": {"params": {"offset": offset}, "thresholds": {"accept": initial}},
            "eval_test_attack": {"params": {"offset": 0.0}, "thresholds": {"attack": initial}},
        },
        "rules": [
            {
                "name": "number-low",
                "when": {"check": "eval_test_number", "score": {"op": "<", "threshold": "accept"}},
                "outcome": "reject",
            },
            {
                "name": "attack-high",
                "when": {"check": "eval_test_attack", "score": {"op": ">=", "threshold": "attack"}},
                "outcome": "reject",
            },
        ],
    }
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.usefixtures("number_checks")
def test_check_route_caches_scores_and_writes_the_report(tmp_path: Path) -> None:
    manifest = comparison_files(tmp_path / "data", subjects=30, fta=(4,), boom=(9,))
    policy = policy_file(tmp_path / "policy.yaml")
    out = tmp_path / "out"
    options = Options(replicates=60)
    first = evaluate(manifest, out, check="eval_test_number", policy=policy, options=options)
    rows = first.report["counts"]["rows"]
    errors = first.report["counts"]["error"]
    assert NumberFileCheck.runs == rows and first.reused == 0
    assert errors > 0 and first.report["errors"]["rows"][0]["detail"] == "RuntimeError: model exploded"
    assert first.report["counts"]["failed_to_acquire"] > 0
    # stable keys other tools read
    m = first.report["metrics"]
    assert {"value", "ci_low", "ci_high", "threshold"} <= set(m["eer"])
    assert set(m["fnmr_at_fmr"]) == {"1e-2", "1e-3", "1e-4", "1e-5", "1e-6"}
    for item in m["fnmr_at_fmr"].values():
        assert set(item) >= STABLE_TARGET_KEYS
    assert m["fnmr_at_fmr"]["1e-6"]["value"] is None  # a few hundred impostors cannot support 1e-6
    assert first.report["check"] == {"name": "eval_test_number", "version": "1.0", "params": {"offset": 0.0}}
    assert first.report["meaning"] == "similarity" and "score >= threshold" in first.report["decision_rule"]
    assert first.report["fairness"]["columns"]["age_band"]["slices"].keys() == {"old", "young"}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "FNMR AT FMR" in html and "age_band" in html
    for name in first.report["figures"].values():
        assert (out / name).read_bytes()[:4] == b"\x89PNG"

    # a re-run reuses every cached score except the rows that errored
    NumberFileCheck.runs = 0
    second = evaluate(manifest, out, check="eval_test_number", policy=policy, options=options)
    assert second.reused == rows - errors and NumberFileCheck.runs == errors
    assert second.report["metrics"]["eer"] == first.report["metrics"]["eer"]

    # a changed file rescores only the rows that use it
    sample = tmp_path / "data" / "samples" / "s000_0.txt"
    sample.write_text("5.0\n")
    stamp = time.time() + 5
    os.utime(sample, (stamp, stamp))
    NumberFileCheck.runs = 0
    third = evaluate(manifest, out, check="eval_test_number", policy=policy, options=options)
    uses = sum(1 for line in manifest.read_text().splitlines() if "samples/s000_0.txt" in line)
    assert NumberFileCheck.runs == errors + uses and third.reused == rows - errors - uses

    # other params from the policy: everything is rescored, and the params reach the check
    NumberFileCheck.runs = 0
    fourth = evaluate(
        manifest,
        out,
        check="eval_test_number",
        policy=policy_file(tmp_path / "p2.yaml", 0.25),
        options=options,
    )
    assert fourth.reused == 0 and NumberFileCheck.runs == rows
    before, after = read_scores(tmp_path / "out" / "scores.csv"), first.evaluation.ss
    assert before.params == '{"offset": 0.25}'
    assert np.nanmax(before.scores) == pytest.approx(np.nanmax(after.scores) + 0.25)


@pytest.mark.usefixtures("number_checks")
def test_attack_detection_with_an_attack_check(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(300):
        label, species = ("bona_fide", "") if i < 200 else ("attack", "print" if i % 2 else "screen_replay")
        value = (
            rng.normal(0.2, 0.1)
            if label == "bona_fide"
            else rng.normal(0.7 if species == "print" else 0.9, 0.1)
        )
        (tmp_path / f"x{i}.txt").write_text(f"{value}\n")
        rows.append([f"x{i}", f"x{i}.txt", f"p{i // 2}", label, species, "ios" if i % 3 else "android"])
    manifest = write_csv(tmp_path / "pad.csv", ["id", "path", "subject", "label", "species", "device"], rows)
    run = evaluate(
        manifest,
        tmp_path / "out",
        check="eval_test_attack",
        policy=policy_file(tmp_path / "p.yaml"),
        options=Options(replicates=50),
    )
    m = run.report["metrics"]
    assert run.report["task"] == "pad" and run.report["meaning"] == "attack"
    item = m["bpcer_at_apcer"]["1e-1"]
    assert {"value", "ci_low", "ci_high", "threshold", "n_bona_fide", "n_attack"} <= set(item)
    assert item["value"] is not None and item["n_attack"] == 100
    assert m["bpcer_at_apcer"]["1e-2"]["value"] is None  # 50 attacks per species cannot support 1e-2
    op = m["operating_point"]
    assert set(op["apcer_per_species"]) == {"print", "screen_replay"}
    assert op["apcer_max"]["value"] >= op["apcer_per_species"]["screen_replay"]["value"]
    assert "secondary" in op["acer"]["note"]
    assert "apcer_species" in run.report["figures"]


def test_fraud_classifier_from_a_score_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    rows, scores = [], []
    for i in range(1500):
        fraud = rng.random() < 0.2
        p = float(np.clip(rng.beta(5, 2) if fraud else rng.beta(2, 5), 0, 1))
        rows.append(
            [f"t{i}", f"t{i}.json", f"u{i}", "fraud" if fraud else "legit", "", "web" if i % 2 else "app"]
        )
        scores.append([f"t{i}", repr(p), "ok"])
    manifest = write_csv(tmp_path / "m.csv", ["id", "path", "subject", "label", "species", "channel"], rows)
    score_file = write_csv(
        tmp_path / "vendor.csv", ["id", "score", "status"], scores, ["meaning: attack", "check: vendor_fraud"]
    )
    run = evaluate(manifest, tmp_path / "out", scores=score_file, options=Options(replicates=50))
    m = run.report["metrics"]
    assert run.report["task"] == "classification"
    assert (
        0.8 < m["roc_auc"]["value"] < 1
        and m["roc_auc"]["ci_low"] < m["roc_auc"]["value"] < m["roc_auc"]["ci_high"]
    )
    assert m["pr_auc"]["positive"] == "fraud"
    assert (
        m["recall_at_fpr"]["1e-1"]["value"] is not None and m["recall_at_fpr"]["1e-1"]["fpr"]["value"] <= 0.1
    )
    assert len(m["calibration"]["bins"]) == 10 and m["brier"]["value"] < 0.25
    assert {"roc", "reliability"} <= set(run.report["figures"])
    assert run.report["check"]["name"] == "vendor_fraud"


def test_identification_from_exhaustive_comparisons(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    rows, scores = [], []
    n = 0
    for probe in range(120):
        subject = f"p{probe}" if probe < 80 else f"stranger{probe}"
        for g in range(40):
            gallery = f"p{g * 2}"
            mated = gallery == subject
            rows.append([f"r{n}", f"probe{probe}.jpg", f"gallery{g}.jpg", subject, gallery])
            scores.append([f"r{n}", repr(float(rng.normal(2.5 if mated else 0.0, 1.0))), "ok"])
            n += 1
    manifest = write_csv(tmp_path / "search.csv", ["id", "a", "b", "subject_a", "subject_b"], rows)
    score_file = write_csv(tmp_path / "s.csv", ["id", "score", "status"], scores, ["meaning: similarity"])
    from openidv.eval.data import Task

    run = evaluate(
        manifest,
        tmp_path / "out",
        scores=score_file,
        task=Task.IDENTIFICATION,
        options=Options(replicates=40),
    )
    m = run.report["metrics"]
    assert run.report["counts"]["searches"] == 120
    assert m["searches"] == {
        "mated": 40,
        "non_mated": 80,
        "worst_mate_rank": m["searches"]["worst_mate_rank"],
    }
    assert 0.5 < m["cmc"]["1"]["value"] <= m["cmc"]["5"]["value"] <= m["cmc"]["20"]["value"] <= 1
    assert m["fnir_at_fpir"]["1e-1"]["value"] is not None  # 80 non-mated searches support FPIR = 0.1
    assert "cmc" in run.report["figures"]


@pytest.mark.usefixtures("number_checks")
def test_cli_run_then_tune_writes_the_policy(tmp_path: Path) -> None:
    manifest, score_file = verification_scores(tmp_path / "data", subjects=120, impostors=4000)
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "eval",
            "run",
            "--manifest",
            str(manifest),
            "--scores",
            str(score_file),
            "--out",
            str(out),
            "--replicates",
            "50",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "FNMR @ FMR=1e-3" in result.stdout and "report:" in result.stdout
    policy = policy_file(tmp_path / "policy.yaml")
    result = runner.invoke(
        app,
        [
            "thresholds",
            "tune",
            "--report",
            str(out),
            "--target",
            "fmr=1e-3",
            "--policy",
            str(policy),
            "--replicates",
            "50",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("threshold ") and "FMR" in result.stdout and "FNMR" in result.stdout
    loaded = load_policy(policy)
    th = loaded.threshold("eval_test_number", "accept")
    report = json.loads((out / "report.json").read_text())
    on_curve = report["metrics"]["fnmr_at_fmr"]["1e-3"]["threshold"]
    scores = read_scores(out / "scores.csv").scores
    assert th.achieved["threshold_on_curve"] == on_curve
    assert np.array_equal(scores >= th.value, scores >= on_curve)  # same decisions on every evaluated row
    assert th.value == round(th.value, 6)  # stored exactly by the policy file
    assert th.target == "fmr=1e-3" and th.source == str((out / "report.json").resolve())
    assert th.achieved["fmr"]["value"] <= 1e-3 and th.achieved["fmr"]["n"] == 4000
    assert th.achieved["fnmr"]["ci_low"] <= th.achieved["fnmr"]["value"] <= th.achieved["fnmr"]["ci_high"]
    assert th.achieved["n_genuine"] == 360 and th.achieved["supported"] is True
    assert loaded.version.startswith("test-1+tuned.")
    # a target the impostor count cannot support is refused (exit 2) unless asked for
    result = runner.invoke(
        app, ["thresholds", "tune", "--report", str(out), "--target", "fmr=1e-4", "--policy", str(policy)]
    )
    assert result.exit_code == 2 and "29,956" in result.stderr
    # a rate that does not belong to this task
    result = runner.invoke(
        app, ["thresholds", "tune", "--report", str(out), "--target", "apcer=0.01", "--policy", str(policy)]
    )
    assert result.exit_code == 2 and "fmr=<rate>" in result.stderr
    # --check and --name choose the policy entry; an unknown check is a clear error
    result = runner.invoke(
        app,
        [
            "thresholds",
            "tune",
            "--report",
            str(out),
            "--target",
            "fmr=1e-2",
            "--policy",
            str(policy),
            "--check",
            "no_such_check",
        ],
    )
    assert result.exit_code == 2 and "no_such_check" in result.stderr
    # a threshold that no rule reads would change no decision: refused, naming the rules that exist
    result = runner.invoke(
        app,
        [
            *("thresholds", "tune", "--report", str(out), "--target", "fmr=1e-3"),
            *("--policy", str(policy), "--name", "accept_typo", "--replicates", "50"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "no rule" in result.stderr and "number-low" in result.stderr
    assert load_policy(policy).version == loaded.version  # nothing written


def test_tune_dry_run_and_attack_default_name(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    rows, scores = [], []
    for i in range(2000):
        attack = i >= 1000
        rows.append(
            [f"x{i}", f"x{i}.png", f"p{i}", "attack" if attack else "bona_fide", "print" if attack else ""]
        )
        scores.append([f"x{i}", repr(float(rng.normal(2 if attack else 0, 1))), "ok"])
    manifest = write_csv(tmp_path / "m.csv", ["id", "path", "subject", "label", "species"], rows)
    sf = write_csv(
        tmp_path / "s.csv", ["id", "score", "status"], scores, ["meaning: attack", "check: vendor_pad"]
    )
    evaluate(manifest, tmp_path / "out", scores=sf, options=Options(replicates=30), html=False)
    tuned = tune(tmp_path / "out", "apcer=0.01", dry_run=True, replicates=30)
    assert tuned.name == "attack" and tuned.policy is None and tuned.check == "vendor_pad"
    assert tuned.achieved["apcer"]["value"] <= 0.01 and set(tuned.achieved["rates"]) == {"apcer", "bpcer"}
    with pytest.raises(InvalidInput, match="tuned with apcer=<rate>"):
        tune(tmp_path / "out", "fmr=1e-3", dry_run=True)
