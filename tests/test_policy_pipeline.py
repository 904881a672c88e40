from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from openidv.checks.registry import register_check, unregister_check
from openidv.decision.policy import load_policy, parse_policy, write_threshold
from openidv.errors import PolicyError
from openidv.evidence import Evidence
from openidv.pipeline import Pipeline
from openidv.results import Outcome, Status
from tests.checks_for_tests import MetadataScoreCheck, RaisingCheck, SlowCheck


@pytest.fixture(autouse=True)
def test_checks() -> Iterator[None]:
    for cls in (MetadataScoreCheck, RaisingCheck, SlowCheck):
        register_check(cls, replace=True)
    yield
    for cls in (MetadataScoreCheck, RaisingCheck, SlowCheck):
        unregister_check(cls.name)


def policy_dict() -> dict:  # type: ignore[type-arg]
    return {
        "version": "t1",
        "checks": {
            "test_metadata_score": {"thresholds": {"accept": {"value": 0.5, "target": "fmr=1e-2"}}},
            "test_raising": {},
        },
        "rules": [
            {
                "name": "low-score",
                "when": {"check": "test_metadata_score", "score": {"op": "<", "threshold": "accept"}},
                "outcome": "reject",
                "reason_code": "DECLARED_NAME_MISMATCH",
            },
            {"name": "errors", "when": {"status": "error"}, "outcome": "review"},
        ],
    }


def test_raising_check_becomes_error_result_and_a_decision(caplog: pytest.LogCaptureFixture) -> None:
    policy = parse_policy(policy_dict())
    with caplog.at_level(logging.ERROR, logger="openidv.pipeline"):
        run = Pipeline(policy).run(Evidence(metadata={"score": 0.9}))
    by_check = {r.check: r for r in run.results}
    assert by_check["test_raising"].status == Status.ERROR
    assert by_check["test_raising"].reason_codes == ("CHECK_ERROR",)
    # the exception's text goes to the server log with an error id, never into the (stored) result
    details = by_check["test_raising"].details
    assert "corrupted" not in str(details) and "RuntimeError" not in str(details)
    assert details["error_id"] in caplog.text and "model file corrupted" in caplog.text
    assert by_check["test_metadata_score"].status == Status.OK
    assert run.decision.outcome == Outcome.REVIEW
    assert "CHECK_ERROR" in run.decision.reason_codes
    assert all(r.latency_ms >= 0 for r in run.results)


def test_threshold_rule_rejects_below_and_most_severe_wins() -> None:
    policy = parse_policy(policy_dict())
    run = Pipeline(policy).run(Evidence(metadata={"score": 0.2}))
    assert run.decision.outcome == Outcome.REJECT
    assert run.decision.reason_codes[0] == "DECLARED_NAME_MISMATCH"
    assert {f.rule for f in run.decision.fired_rules} == {"low-score", "errors"}
    assert run.decision.policy_version == "t1"


def test_checks_run_concurrently_and_timeout_becomes_error() -> None:
    raw = {"version": "t", "checks": {"test_slow": {}, "test_metadata_score": {}}, "rules": []}
    policy = parse_policy(raw)
    run = Pipeline(policy, timeout_s=0.05).run(Evidence(metadata={"score": 1.0}))
    slow = next(r for r in run.results if r.check == "test_slow")
    assert slow.status == Status.ERROR and slow.reason_codes == ("CHECK_TIMEOUT",)


def test_check_without_its_evidence_does_not_run_and_missing_rule_fires() -> None:
    raw = policy_dict()
    raw["rules"].append(
        {"name": "need-score", "when": {"check": "test_metadata_score", "missing": True}, "outcome": "review"}
    )
    policy = parse_policy(raw)
    run = Pipeline(policy).run(Evidence())
    assert [r.check for r in run.results] == ["test_raising"]
    assert "CHECK_NOT_APPLICABLE" in run.decision.reason_codes


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p["checks"].update({"no_such_check": {}}), "checks.no_such_check: unknown check"),
        (lambda p: p["rules"][0]["when"]["score"].update({"op": "=>"}), "bad operator '=>'"),
        (lambda p: p["rules"][0]["when"]["score"].update({"threshold": "nope"}), "missing threshold 'nope'"),
        (
            lambda p: p["checks"]["test_metadata_score"]["thresholds"]["accept"].pop("value"),
            "missing threshold value",
        ),
        (lambda p: p["rules"][0].update({"outcome": "maybe"}), "unknown outcome 'maybe'"),
        (lambda p: p["rules"][0].update({"reason_code": "NOT_A_CODE"}), "unknown reason code 'NOT_A_CODE'"),
        (lambda p: p.pop("version"), "version: missing"),
        (lambda p: p["rules"][1]["when"].update({"colour": "red"}), "rules[1].when.colour: unknown key"),
        (
            lambda p: p["checks"]["test_metadata_score"].update({"params": {"bogus": 1}}),
            "params.bogus: unknown parameter",
        ),
    ],
)
def test_policy_validation_messages(mutate, message) -> None:  # type: ignore[no-untyped-def]
    raw = policy_dict()
    mutate(raw)
    with pytest.raises(PolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_policy(raw)


def test_default_policy_loads() -> None:
    policy = load_policy()
    assert policy.version
    assert "mrz" in policy.checks


def test_write_threshold_bumps_version_and_keeps_file_valid(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy_dict()))
    policy = write_threshold(
        path,
        "test_metadata_score",
        "accept",
        0.61,
        target="fmr=1e-3",
        achieved={"fmr": 0.001},
        source="r.json",
    )
    assert policy.threshold("test_metadata_score", "accept").value == pytest.approx(0.61)
    assert policy.threshold("test_metadata_score", "accept").target == "fmr=1e-3"
    assert policy.version.startswith("t1+tuned.")
    assert load_policy(path).version == policy.version


def test_no_evidence_is_never_approved() -> None:
    policy = parse_policy(policy_dict())
    decision = policy.decide([])
    assert decision.outcome == Outcome.REVIEW and decision.reason_codes == ("NO_EVIDENCE",)
