"""The console's evaluation and audit pages over HTTP with the real app: reports written by the real
``eval run`` (SYNTHETIC scores), the gate history written by ``eval compare --history``, and the audit
log of the tenant only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openidv.api.app import create_app
from openidv.cli import app as cli_app
from openidv.eval.metrics.common import Options
from openidv.eval.runner import evaluate
from openidv.services.console_accounts import ConsoleAccounts
from openidv.settings import Settings
from openidv.store.repository import Store
from tests.test_console_auth import BASE, PASSWORD, sign_in
from tests.test_eval_support import verification_scores


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    manifest, scores = verification_scores(root / "data", subjects=60, impostors=600)
    _, worse = verification_scores(root / "data", subjects=60, impostors=600, shift=1.0, name="worse.csv")
    evaluate(manifest, root / "face-v1", scores=scores, options=Options(replicates=20), html=True)
    evaluate(manifest, root / "face-v2", scores=worse, options=Options(replicates=20), html=False)
    result = CliRunner().invoke(
        cli_app,
        [
            "eval",
            "compare",
            str(root / "face-v1"),
            str(root / "face-v2"),
            "--replicates",
            "50",
            "--history",
            str(root / "gate-history.jsonl"),
            "--label",
            "face v2 candidate",
        ],
    )
    assert result.exit_code == 1, result.output  # the shifted candidate regressed
    return root


@pytest.fixture
def client(tmp_path: Path, eval_dir: Path) -> Iterator[tuple[TestClient, ConsoleAccounts, Store]]:
    store = Store.from_url(f"sqlite:///{tmp_path / 'openidv.sqlite3'}")
    settings = Settings(data_dir=tmp_path, eval_dirs=(eval_dir, tmp_path / "missing"))
    app = create_app(settings, store=store)
    with TestClient(app, base_url=BASE, follow_redirects=False) as c:
        yield c, app.state.console_accounts, store
    store.engine.dispose()


def test_reports_and_gate_history_are_browsable(client: tuple[TestClient, ConsoleAccounts, Store]) -> None:
    c, accounts, _ = client
    accounts.create_user("ana", "analyst", PASSWORD)
    assert sign_in(c, "ana", PASSWORD).status_code == 303
    page = c.get("/console/evaluation")
    assert page.status_code == 200
    assert page.text.count('href="/console/evaluation/') == 2  # both reports
    assert "face v2 candidate" in page.text and ">FAIL<" in page.text
    link = re.search(r'href="(/console/evaluation/[0-9a-f]{20})">[^<]*face-v1', page.text)
    assert link, page.text
    report = c.get(link.group(1))
    assert report.status_code == 200
    assert "Operating point" in report.text and "(n=" in report.text
    figure = re.search(r'src="(/console/evaluation/[0-9a-f]{20}/figures/[a-z_]+\.png)"', report.text)
    assert figure, "the DET figure is shown"
    png = c.get(figure.group(1))
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    # only listed figures, never a path out of the report's folder
    base = figure.group(1).rsplit("/", 1)[0]
    for name in ("report.json", "..%2F..%2Fetc%2Fpasswd", "scores.csv"):
        assert c.get(f"{base}/{name}").status_code == 404
    assert c.get("/console/evaluation/" + "0" * 20).status_code == 404


def test_the_audit_page_shows_the_tenants_entries(client: tuple[TestClient, ConsoleAccounts, Store]) -> None:
    c, accounts, store = client
    accounts.create_user("ana", "analyst", PASSWORD)
    store.create_tenant("other")
    accounts.create_user("bob-of-other", "analyst", PASSWORD, tenant="other")
    assert sign_in(c, "ana", PASSWORD).status_code == 303
    page = c.get("/console/audit")
    assert page.status_code == 200
    assert "console.user_created" in page.text and "console.signed_in" in page.text
    assert "bob-of-other" not in page.text  # another tenant's entries are not shown
    assert "Check the whole chain" not in page.text  # analysts do not run the chain check
    only = c.get("/console/audit", params={"action": "console.user_created"})
    assert "console.signed_in" not in only.text and "console.user_created" in only.text


def test_a_supervisor_checks_the_chain(client: tuple[TestClient, ConsoleAccounts, Store]) -> None:
    c, accounts, _ = client
    accounts.create_user("sue", "supervisor", PASSWORD)
    assert sign_in(c, "sue", PASSWORD).status_code == 303
    page = c.get("/console/audit", params={"verify": "1"})
    assert page.status_code == 200
    assert re.search(r'id="chain-status">Chain check: intact', page.text), page.text
