"""The architecture holds: layers, no cycles, services passed in, checks that write nothing, one judge.

Issue 9: these are the properties every new capability will copy, so they are tested, not just documented.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from openidv.checks.registry import check_names, create_check, get_check_class, params_model
from openidv.decision.policy import load_policy, parse_policy
from openidv.errors import ConfigurationError, PolicyError
from openidv.pipeline import Pipeline
from openidv.results import CheckResult, Meaning, Status

REPO_ROOT = Path(__file__).resolve().parents[1]
SRC = REPO_ROOT / "src" / "openidv"
#: packages that stand beside the product (they may keep process-level helpers, e.g. worker initialisers)
BESIDE = ("synth", "train", "eval")


def test_import_contracts_hold() -> None:
    """The layering of pyproject's [tool.importlinter] (also run by `make test` as lint-imports)."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "broken" not in result.stdout.lower() or "0 broken" in result.stdout.lower()


def test_loading_a_policy_loads_no_model_faiss_or_database_driver() -> None:
    code = (
        "import sys, json; from openidv.decision.policy import load_policy; load_policy(); "
        "heavy = ('faiss', 'sqlalchemy', 'cv2', 'onnxruntime', 'dlib', 'ai_edge_litert', 'rapidocr', "
        "'sklearn'); "
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def _product_modules() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] not in BESIDE]


def test_no_module_level_singletons_in_the_product() -> None:
    """Services are passed in; nothing in the product rebinds module state with `global`."""
    offenders = []
    for path in _product_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Global):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} global {', '.join(node.names)}")
            if isinstance(node, ast.FunctionDef) and node.name.startswith(("set_default_", "configure_")):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} def {node.name}")
    assert offenders == []


def test_every_builtin_check_declares_its_parameter_model_in_the_registry() -> None:
    for name in check_names():
        cls = get_check_class(name)
        assert cls.Params is params_model(name), name
        cls.Params()  # defaults alone are valid


@pytest.mark.parametrize(
    ("name", "service"),
    [
        ("face_duplicate", "face_gallery"),
        ("injection", "capture_index"),
        ("liveness_session", "liveness_sessions"),
    ],
)
def test_a_check_whose_service_is_missing_fails_at_construction(name: str, service: str) -> None:
    with pytest.raises(ConfigurationError, match=service):
        create_check(name)


def test_a_pipeline_without_the_services_its_policy_needs_refuses_to_build() -> None:
    with pytest.raises(ConfigurationError, match="face_gallery"):
        Pipeline(load_policy())


def test_check_parameters_are_typed_and_errors_name_the_key() -> None:
    raw: dict[str, Any] = {
        "version": "t",
        "checks": {"face_match": {"params": {"min_detection_score": "high"}}},
        "rules": [],
    }
    with pytest.raises(PolicyError, match=r"checks\.face_match\.params\.min_detection_score"):
        parse_policy(raw)
    raw["checks"]["face_match"]["params"] = {"backend": "arcface"}
    with pytest.raises(PolicyError, match=r"checks\.face_match\.params\.backend"):
        parse_policy(raw)
    check = create_check("face_match", {"min_detection_score": "0.7"})
    assert check.params.min_detection_score == pytest.approx(0.7)  # type: ignore[attr-defined]


def _result(check: str, score: float, meaning: Meaning) -> CheckResult:
    return CheckResult(check=check, version="1", status=Status.OK, score=score, meaning=meaning)


def test_one_judge_uses_the_operator_of_the_rule_that_reads_the_threshold() -> None:
    policy = load_policy()
    match = policy.threshold("face_match", "match").value
    below = policy.judge(_result("face_match", match - 1e-6, Meaning.SIMILARITY), "match")
    at = policy.judge(_result("face_match", match, Meaning.SIMILARITY), "match")
    assert below is not None and below.holds and below.op == "<" and "face-mismatch" in below.rules
    assert at is not None and not at.holds
    attack = policy.threshold("pad", "attack").value
    verdict = policy.judge_score("pad", "attack", attack)
    assert verdict.holds and verdict.op == ">="
    # the policy's own rules decide the same way
    assert (
        "FACE_MISMATCH"
        in policy.decide([_result("face_match", match - 1e-6, Meaning.SIMILARITY)]).reason_codes
    )
    assert (
        "FACE_MISMATCH" not in policy.decide([_result("face_match", match, Meaning.SIMILARITY)]).reason_codes
    )
    failed = CheckResult(
        check="face_match", version="1", status=Status.FAILED_TO_ACQUIRE, meaning=Meaning.SIMILARITY
    )
    assert policy.judge(failed, "match") is None
    with pytest.raises(PolicyError, match="no rule"):
        parse_policy(
            {
                "version": "t",
                "checks": {"face_match": {"thresholds": {"match": {"value": 0.5}}}},
                "rules": [],
            }
        ).judge_score("face_match", "match", 0.4)
