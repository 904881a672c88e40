"""The worked example of docs/architecture.md ("a `selfie_brightness` check"), run for real, so the page
stays true: a check with typed parameters, registered, configured by a policy, judged by a rule that reads
its threshold, evaluated from dataset files, and tuned."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import Field

from openidv.checks.base import Check, CheckParams
from openidv.checks.face.analysis import find_faces
from openidv.checks.registry import register_check, unregister_check
from openidv.decision.policy import load_policy, parse_policy
from openidv.errors import PolicyError
from openidv.eval.runner import evaluate
from openidv.evidence import Evidence
from openidv.pipeline import Pipeline
from openidv.results import CheckResult, Meaning, Outcome, Status


class SelfieBrightnessParams(CheckParams):
    min_detection_score: float = Field(0.8, ge=0, le=1)


class SelfieBrightnessCheck(Check):
    """Mean grey level of the selfie's face box: too dark a face is an unusable capture."""

    name = "selfie_brightness"
    version = "1.0.0"
    meaning = Meaning.SIMILARITY
    requires = ("selfie",)
    file_fields = ("selfie",)  # `openidv eval run --check selfie_brightness` reads a samples manifest
    Params = SelfieBrightnessParams
    params: SelfieBrightnessParams

    def run(self, evidence: Evidence) -> CheckResult:
        assert evidence.selfie is not None
        found = find_faces(evidence.selfie, min_score=self.params.min_detection_score)  # memoised per image
        if found.largest is None:
            return self.result(Status.FAILED_TO_ACQUIRE, None, ["FACE_NOT_FOUND"])
        x, y, w, h = (max(0, int(v)) for v in found.largest.box)
        grey = float(evidence.selfie.bgr[y : y + h, x : x + w].mean()) / 255
        return self.result(Status.OK, round(grey, 6), (), {"grey": grey})


POLICY: dict[str, Any] = {
    "version": "example-1",
    "checks": {
        "selfie_brightness": {
            "params": {"min_detection_score": 0.7},
            "thresholds": {"min": {"value": 0.2, "target": "initial", "source": "a published value"}},
        }
    },
    "rules": [
        {
            "name": "selfie-too-dark",
            "when": {"check": "selfie_brightness", "score": {"op": "<", "threshold": "min"}},
            "outcome": "review",
            "reason_code": "FACE_EXPOSURE",
        }
    ],
}


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    register_check(SelfieBrightnessCheck, replace=True)
    yield
    unregister_check("selfie_brightness")


def test_the_example_check_runs_in_a_policy_and_its_rule_decides(shared_data: Path) -> None:
    policy = parse_policy(POLICY)
    pipeline = Pipeline(policy)
    evidence = SelfieBrightnessCheck().evidence_from_files([shared_data / "faces" / "obama" / "obama1.jpg"])
    run = pipeline.run(evidence)
    (result,) = run.results
    assert result.status == Status.OK and 0 < (result.score or 0) < 1
    verdict = policy.judge(result, "min")
    assert verdict is not None and verdict.op == "<"
    assert run.decision.outcome == (Outcome.REVIEW if verdict.holds else Outcome.APPROVE)
    with pytest.raises(PolicyError, match=r"checks\.selfie_brightness\.params\.min_detection_score"):
        parse_policy({**POLICY, "checks": {"selfie_brightness": {"params": {"min_detection_score": 2}}}})


def test_the_example_check_is_evaluated_from_dataset_files(shared_data: Path, tmp_path: Path) -> None:
    rows = []
    for i, line in enumerate(csv.DictReader((shared_data / "faces" / "manifest.csv").open(encoding="utf-8"))):
        if line["faces"] == "1":
            rows.append([f"s{i}", str(shared_data / line["path"]), line["identity"], "bona_fide"])
    manifest = tmp_path / "samples.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "path", "subject", "label"])
        writer.writerows(rows[:8])
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    run = evaluate(manifest, tmp_path / "report", check="selfie_brightness", policy=policy_path, html=False)
    assert run.report["counts"]["rows"] == 8
    assert load_policy(policy_path).threshold("selfie_brightness", "min").value == 0.2
