"""`openidv policy explain`: every threshold with its target, the data it was set on, what it achieved."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from openidv.cli import app
from openidv.decision.policy import load_policy
from openidv.decision.provenance import threshold_table


def test_the_default_policy_explains_every_threshold() -> None:
    policy = load_policy()
    rows = {f"{r.check}.{r.threshold}": r for r in threshold_table(policy)}
    assert set(rows) == {f"{c}.{t}" for c, cfg in policy.checks.items() for t in cfg.thresholds}
    face = rows["face_match.match"]
    assert face.counts == {"n_genuine": 33, "n_impostor": 103, "subjects": 6}
    assert face.supported is False and face.rates["fmr"]["n"] == 103
    assert face.rules == ["face-mismatch"] and face.decision.startswith("reject when score <")
    assert rows["pad.attack"].data == "synthetic"
    assert rows["document_copy_move.attack"].decision.startswith("review when score >")


def test_cli_prints_the_table_and_json(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["policy", "explain"])
    assert result.exit_code == 0, result.output
    assert "face_match.match" in result.stdout and "supported" in result.stdout
    assert "does not support its target" in result.stdout
    result = runner.invoke(app, ["policy", "explain", "--json"])
    payload = json.loads(result.stdout)
    assert payload["policy_version"] == load_policy().version
    assert {"check", "threshold", "target", "data", "counts", "rates", "supported", "rules"} <= set(
        payload["thresholds"][0]
    )
    # a threshold that no rule reads says so
    raw = {"version": "x", "checks": {"pad": {"thresholds": {"attack": {"value": 0.5}}}}, "rules": []}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    result = runner.invoke(app, ["policy", "explain", "--policy", str(path), "--json"])
    assert json.loads(result.stdout)["thresholds"][0]["decision"] == "no rule reads it"
    # a bad policy file is exit 2 with one line
    path.write_text("version: [", encoding="utf-8")
    result = runner.invoke(app, ["policy", "explain", "--policy", str(path)])
    assert result.exit_code == 2 and "not valid YAML" in result.stderr
