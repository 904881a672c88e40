"""The regression gate: identical runs pass (exit 0); a planted regression fails (exit 1) naming the gate."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openidv.cli import app
from openidv.errors import InvalidInput
from openidv.eval.gate import compare, parse_gates
from openidv.eval.metrics.common import Options
from openidv.eval.runner import evaluate
from tests.test_eval_support import verification_scores

GATES = """
confidence: 0.95
replicates: 200
gates:
  - name: fnmr-at-fmr-1e-2
    metric: fnmr_at_fmr
    at: 1e-2
    max_increase: 0.005     # FNMR may not rise by more than half a point
  - name: eer
    metric: eer
    max_increase: 0.01
  - name: auc
    metric: roc_auc
    max_decrease: 0.01
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Baseline, an identical candidate, and a candidate whose odd subjects' genuine scores dropped by 1."""
    root = tmp_path_factory.mktemp("gate")
    manifest, base_scores = verification_scores(root / "data", subjects=200, impostors=5000)
    _, same_scores = verification_scores(root / "data", subjects=200, impostors=5000, name="same.csv")
    _, worse_scores = verification_scores(
        root / "data", subjects=200, impostors=5000, shift=1.0, name="worse.csv"
    )
    options = Options(replicates=40)
    out = {}
    for name, scores in (("base", base_scores), ("same", same_scores), ("worse", worse_scores)):
        evaluate(manifest, root / name, scores=scores, options=options, html=False)
        out[name] = root / name
    (root / "gates.yaml").write_text(GATES)
    out["gates"] = root / "gates.yaml"
    return out


def test_identical_runs_pass(runs: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        app, ["eval", "compare", str(runs["base"]), str(runs["same"]), "--gate", str(runs["gates"])]
    )
    assert result.exit_code == 0, result.output
    assert "result: PASS (3 gate(s))" in result.stdout
    assert "paired: the same 5,600 rows of 200 subjects" in result.stdout


def test_planted_regression_fails_naming_the_gate(runs: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        app,
        ["eval", "compare", str(runs["base"]), str(runs["worse"]), "--gate", str(runs["gates"]), "--json"],
    )
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["passed"] is False and body["paired"] is True
    assert "fnmr-at-fmr-1e-2" in body["failed"] and "eer" in body["failed"]
    gate = next(g for g in body["gates"] if g["name"] == "fnmr-at-fmr-1e-2")
    assert gate["worsening"] > 0.05 and gate["upper_bound"] > gate["margin"]
    assert gate["p_worse_than_margin"] > 0.95
    assert gate["mcnemar"]["baseline_only"] > gate["mcnemar"]["candidate_only"]
    assert gate["mcnemar"]["p_value"] < 1e-6
    assert "exceeds the margin by" in gate["reason"]
    assert "error: gate(s) failed: fnmr-at-fmr-1e-2" in result.stderr


def test_default_gates_and_a_real_process(runs: dict[str, Path]) -> None:
    """The command a CI pipeline calls: exit status 1 with the failed gate named, no gates file needed."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "openidv",
            "eval",
            "compare",
            str(runs["base"]),
            str(runs["worse"]),
            "--replicates",
            "60",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "FAIL fnmr_at_fmr@1e-2" in proc.stdout and "what changed:" in proc.stdout
    assert "gate(s) failed" in proc.stderr


def test_unpaired_when_the_manifests_differ(runs: dict[str, Path], tmp_path: Path) -> None:
    manifest, scores = verification_scores(tmp_path / "other", subjects=200, impostors=5000, seed=1)
    evaluate(manifest, tmp_path / "other_run", scores=scores, options=Options(replicates=20), html=False)
    result = compare(runs["base"], tmp_path / "other_run", runs["gates"], replicates=60)
    assert result.paired is False
    assert all(r.mcnemar is None for r in result.results)
    assert "unpaired" in result.text()


def test_a_moved_report_folder_keeps_working(runs: dict[str, Path], tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(runs["same"], moved)
    assert compare(runs["base"], moved, runs["gates"], replicates=50).passed


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"gates": [{"metric": "fnmr", "max_increase": 0.01}]}, "gates[0].metric: unknown metric 'fnmr'"),
        (
            {"gates": [{"metric": "fnmr_at_fmr", "max_increase": 0.01}]},
            "gates[0].at: fnmr_at_fmr needs an operating point",
        ),
        (
            {"gates": [{"metric": "roc_auc", "max_increase": 0.01}]},
            "gates[0].max_increase: higher roc_auc is better",
        ),
        ({"gates": [{"metric": "eer"}]}, "gates[0]: give exactly one of margin, max_increase, max_decrease"),
        ({"gates": []}, "needs a non-empty 'gates:' list"),
        ({"gates": [{"metric": "eer", "margin": 0.1}], "confidnce": 0.9}, "confidnce: unknown key"),
    ],
)
def test_bad_gate_files(raw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_gates(raw, "gates.yaml")
    assert message in str(err.value)


def test_bad_gate_file_exits_2(runs: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "g.yaml"
    bad.write_text("gates:\n  - metric: bpcer_at_apcer\n    at: 0.01\n    max_increase: 0.01\n")
    result = CliRunner().invoke(
        app, ["eval", "compare", str(runs["base"]), str(runs["same"]), "--gate", str(bad)]
    )
    assert result.exit_code == 2
    assert "does not apply to a verification evaluation" in result.stderr


def test_a_gate_the_data_cannot_support_fails_with_the_reason(runs: dict[str, Path], tmp_path: Path) -> None:
    gates = tmp_path / "g.yaml"
    gates.write_text("gates:\n  - metric: fnmr_at_fmr\n    at: 1e-4\n    max_increase: 0.01\n")
    result = compare(runs["base"], runs["same"], gates, replicates=50)
    assert not result.passed
    assert "cannot be evaluated" in result.results[0].reason and "29,956" in result.results[0].reason


def test_sample_size_command() -> None:
    result = CliRunner().invoke(
        app, ["eval", "sample-size", "--rate", "1e-4", "--what", "impostor comparisons"]
    )
    assert result.exit_code == 0
    assert "29,956 impostor comparisons with no error" in result.stdout
    bad = CliRunner().invoke(app, ["eval", "sample-size", "--rate", "2"])
    assert bad.exit_code == 2 and "rate" in bad.stderr


def test_history_keeps_every_verdict_in_order(runs: dict[str, Path], tmp_path: Path) -> None:
    from openidv.gate_history import read_history

    history = tmp_path / "gate-history.jsonl"
    base, gates = str(runs["base"]), str(runs["gates"])
    for candidate, label, code in (("same", "retrain-1", 0), ("worse", "retrain-2", 1)):
        result = CliRunner().invoke(
            app,
            [
                "eval",
                "compare",
                base,
                str(runs[candidate]),
                "--gate",
                gates,
                "--history",
                str(history),
                "--label",
                label,
            ],
        )
        assert result.exit_code == code, result.output
    with history.open("a") as fh:
        fh.write('{"half a line')  # a torn write from elsewhere is skipped, not fatal
    entries = list(read_history(history))
    assert [(e["label"], e["passed"]) for e in entries] == [("retrain-1", True), ("retrain-2", False)]
    assert entries[1]["failed"] and "fnmr-at-fmr-1e-2" in entries[1]["failed"]
    assert "worse" in entries[1]["candidate"] and len(entries[1]["gates"]) == 3
    missing = CliRunner().invoke(
        app, ["eval", "compare", base, str(runs["same"]), "--history", str(tmp_path / "nope" / "h.jsonl")]
    )
    assert missing.exit_code == 2 and "does not exist" in missing.output
