"""A reviewer's whole path in a real browser (headless Chromium via Playwright), on SQLite and PostgreSQL:
a demo applicant (a real selfie partly outside the frame, a SYNTHETIC passport page carrying a real
portrait of the same person) goes through the real pipeline and default policy to ``review``; an analyst
signs in, finds the case in the queue, claims it, sees both faces and the document with its findings,
decides, and finds the decision in the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openidv.api.app import create_app
from openidv.demo import FACE_CASES, passport_photo
from openidv.evidence import Evidence
from openidv.imageio import load_image
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.repository import Store
from tests.telemetry_helpers import serve
from tests.test_console_browser_auth import PASSWORD, browser  # noqa: F401  (fixture)

PARTIAL = next(case for case in FACE_CASES if "partly outside" in case[0])


def demo_applicant(shared_data: Path, out: Path) -> Evidence:
    _, expected, selfie, document, subject = PARTIAL
    assert expected == "review"
    faces = shared_data / "faces"
    return Evidence(
        selfie=load_image(faces / selfie, name=f"faces/{selfie}"),
        document_image=load_image(passport_photo(faces / document, out, 2), name=f"passport with {document}"),
        subject_id=subject,
    )


@pytest.fixture
def served(
    database_url: str,
    tmp_path: Path,
    shared_data: Path,
    browser: Any,  # noqa: F811
) -> Iterator[tuple[str, Any, Store, str]]:
    store = Store(make_engine(database_url))
    app = create_app(Settings(data_dir=tmp_path), store=store)
    record = app.state.verifier.verify(demo_applicant(shared_data, tmp_path / "docs"), actor="test")
    assert record.decision.outcome.value == "review", record.decision
    app.state.console_accounts.create_user("ana", "analyst", PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        with serve(app) as base:
            yield base, page, store, record.id
    finally:
        context.close()
        store.engine.dispose()
    assert not problems, problems


def test_an_analyst_claims_sees_both_faces_and_the_findings_decides_and_finds_it_audited(
    served: tuple[str, Any, Store, str],
) -> None:
    base, page, store, verification_id = served
    page.goto(f"{base}/console/sign-in")
    page.get_by_label("Name").fill("ana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Review queue"

    rows = page.locator("tr[data-case]")
    assert rows.count() == 1
    case_id = rows.first.get_attribute("data-case")
    row_text = rows.first.inner_text()
    assert "open" in row_text and "review" in row_text
    rows.first.get_by_role("link").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Claim this case").click()
    page.wait_for_load_state()
    assert "You claimed this case." in page.get_by_role("status").inner_text()
    assert page.locator("#assignee").inner_text() == "console:ana"

    # both faces, side by side, loaded (decoded by the browser), and the annotated document
    for kind in ("selfie_face", "document_portrait", "document_annotated"):
        image = page.locator(f'img[data-kind="{kind}"]')
        image.scroll_into_view_if_needed()
        assert image.evaluate("i => i.complete && i.naturalWidth > 0"), kind
    faces = page.locator("section.section-faces")
    match = faces.locator('tr[data-check="face_match"]')
    assert "higher means more alike" in match.inner_text()
    assert (
        "match: 0.725 (for fmr=1e-4; published" in match.inner_text()
    )  # the operating point of the threshold
    document = page.locator("section.section-document")
    assert document.locator('tr[data-check="document_consistency"]').count() == 1
    assert "green: outline of the document found" in document.inner_text()  # the drawing's legend

    page.get_by_label("Approve").check()
    page.get_by_label("Reason (kept with the case)").fill(
        "face partly out of frame but clearly the same person"
    )
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_load_state()
    assert page.locator("#final-outcome").inner_text() == "approve"
    assert page.locator("#case-state").inner_text() == "decided"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    page.wait_for_load_state()
    decided = page.locator('tr[data-action="case.decided"]')
    assert decided.count() == 1 and "console:ana" in decided.inner_text()
    assert (case_id or "")[:12] in decided.inner_text()
    # the API and the store agree: the automated decision stays, the human one is final
    stored = store.get_verification(verification_id)
    assert stored.decision.outcome.value == "review"
