"""Each forgery species on a seeded set is caught by the check meant for it; genuine documents pass.

The forensic checks' thresholds come from the packaged policy (tuned by scripts/evaluate_documents.py on a
separate synthetic set); the consistency species are caught by reason codes, which need no threshold.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from openidv.checks.registry import create_check
from openidv.decision.policy import Policy, load_policy
from openidv.results import CheckResult
from tests.documents_data import evidence, forgery_set, rows

FORENSIC = {
    "portrait_substitution": "document_portrait_substitution",
    "screen_recapture": "document_screen_recapture",
    "print_scan": "document_print_scan",
    "missing_security": "document_security_features",
}
#: copy-move is the weakest detector (docs/documents.md): a copied value is caught by its own check or,
#: when it overwrites a field that another source states, by consistency
COPY_MOVE = "document_copy_move"
CONSISTENCY = {
    "mrz_viz_mismatch": {"DOC_MRZ_VIZ_MISMATCH"},
    "barcode_mismatch": {"DOC_BARCODE_MISMATCH"},
    "edited_text": {"DOC_MRZ_VIZ_MISMATCH", "DOC_BARCODE_MISMATCH"},
}


@functools.cache
def _results() -> dict[str, dict[str, Any]]:
    folder = forgery_set().parent
    out: dict[str, dict[str, Any]] = {}
    names = ["document_consistency", COPY_MOVE, *FORENSIC.values()]
    checks = [create_check(n) for n in names]
    for row in rows(forgery_set()):
        ev = evidence(folder / row["path"])
        out[row["id"]] = {"row": row, **{c.name: c.run(ev) for c in checks}}
    return out


@functools.cache
def _policy() -> Policy:
    return load_policy()


def _attack(result: CheckResult) -> bool:
    """The policy's verdict on a forensic score (``Policy.judge``, the rule's own operator)."""
    verdict = _policy().judge(result, "attack")
    return verdict is not None and verdict.holds


def test_each_forgery_species_is_caught_by_its_check() -> None:
    missed = []
    for doc in _results().values():
        species = doc["row"]["species"]
        if species in FORENSIC:
            result = doc[FORENSIC[species]]
            if not _attack(result):
                missed.append((species, result.score))
        elif species == "copy_move":
            by_check = _attack(doc[COPY_MOVE])
            by_consistency = bool(
                {"DOC_MRZ_VIZ_MISMATCH", "DOC_BARCODE_MISMATCH"}
                & set(doc["document_consistency"].reason_codes)
            )
            if not (by_check or by_consistency):
                missed.append((species, doc[COPY_MOVE].score))
        elif species in CONSISTENCY:
            codes = set(doc["document_consistency"].reason_codes)
            if not codes & CONSISTENCY[species]:
                missed.append((species, sorted(codes)))
    assert not missed, missed


def test_genuine_documents_pass() -> None:
    flagged = []
    for doc in _results().values():
        if doc["row"]["label"] != "bona_fide":
            continue
        if doc["document_consistency"].reason_codes:
            flagged.append(("consistency", doc["document_consistency"].reason_codes))
        for check in (*FORENSIC.values(), COPY_MOVE):
            if _attack(doc[check]):
                flagged.append((check, doc[check].score))
    assert not flagged, flagged


def test_forensic_scores_state_their_meaning() -> None:
    doc = next(iter(_results().values()))
    for check in FORENSIC.values():
        assert doc[check].meaning.value == "attack"
        assert "synthetic" in doc[check].details["score_method"]


def test_train_command_writes_a_verified_artifact_and_an_honest_card(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from openidv.checks.document.forensics_model import card_path, load_model
    from openidv.cli import app

    args = ["train", "document-forensics", "--data", str(forgery_set()), "--out", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    card = yaml.safe_load(card_path(tmp_path).read_text())
    assert "SYNTHETIC" in card["training_data"]["source"]
    assert any("synthetic" in limit for limit in card["limits"])
    model = load_model(str(tmp_path))
    assert model.classes[0] == "copy_move" and "genuine" in model.classes


def test_shipped_model_matches_its_card() -> None:
    from openidv.checks.document.forensics_model import card_path, load_model

    card = yaml.safe_load(card_path().read_text())
    assert card["sha256"] and "SYNTHETIC" in card["training_data"]["source"]
    assert load_model().features
