"""The review queue and case pages of the console over HTTP (TestClient on https, the real app, the real
pipeline with a test check whose score the test picks), on SQLite and PostgreSQL: the queue page agrees
with ``GET /v1/cases``; claim, decide, escalate; four eyes on an override; CSRF on every action."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from openidv.api.app import create_app
from openidv.services import Verifier
from openidv.services.console_accounts import ConsoleAccounts
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.repository import Store
from openidv.tenancy import SCOPES
from tests.review_helpers import REJECT, REVIEW, metadata_check, review_policy, verify  # noqa: F401
from tests.test_console_auth import BASE, ORIGIN, PASSWORD, hidden, sign_in

pytestmark = pytest.mark.usefixtures("metadata_check")


@dataclass
class World:
    app_client: TestClient
    store: Store
    verifier: Verifier
    accounts: ConsoleAccounts
    base_url: str

    def browser(self, name: str, role: str) -> TestClient:
        """A second client with its own cookies, signed in as a new user ``name``."""
        self.accounts.create_user(name, role, PASSWORD)
        client = TestClient(self.app_client.app, base_url=BASE, follow_redirects=False)
        assert sign_in(client, name, PASSWORD).status_code == 303
        return client


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    store = Store(make_engine(database_url))
    app = create_app(Settings(data_dir=tmp_path), store=store, policy=review_policy())
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        yield World(client, store, app.state.verifier, app.state.console_accounts, BASE)
    store.engine.dispose()


def _post(client: TestClient, path: str, page_html: str, **form: str) -> object:
    return client.post(path, data={"csrf_token": hidden(page_html), **form}, headers=ORIGIN)


def test_the_queue_page_agrees_with_the_api(world: World) -> None:
    ids = [verify(world.verifier, REVIEW).id for _ in range(3)]
    verify(world.verifier, 0.95)  # approved: no case
    ana = world.browser("ana", "analyst")
    page = ana.get("/console/")
    assert page.status_code == 200
    shown = re.findall(r'data-case="([0-9a-f-]{36})"', page.text)
    _, key = world.store.create_api_key("reader", scopes=SCOPES)
    api = world.app_client.get("/v1/cases", headers={"Authorization": f"Bearer {key}"}).json()
    assert shown == [c["id"] for c in api["items"]] and len(shown) == 3
    assert {c["verification_id"] for c in api["items"]} == set(ids)
    assert page.text.count("FACE_MISMATCH") >= 3  # the reason code that sent each case
    filtered = ana.get("/console/", params={"reason_code": "DECLARED_NAME_MISMATCH"})
    assert "No case matches" in filtered.text
    bad = ana.get("/console/", params={"sla": "whenever"})
    assert bad.status_code == 400 and "Filter not understood" in bad.text


def test_claim_and_decide_sets_the_final_outcome_and_keeps_the_automated_one(world: World) -> None:
    record = verify(world.verifier, REVIEW)
    ana = world.browser("ana", "analyst")
    queue = ana.get("/console/")
    case_id = re.findall(r'data-case="([0-9a-f-]{36})"', queue.text)[0]
    page = ana.get(f"/console/cases/{case_id}")
    assert page.status_code == 200 and 'id="claim"' in page.text
    assert "test_metadata_score" in page.text and "for fmr=1e-2" in page.text  # threshold and its target
    # without the token: refused, nothing changes
    refused = ana.post(f"/console/cases/{case_id}/claim", data={}, headers=ORIGIN)
    assert refused.status_code == 403
    claimed = _post(ana, f"/console/cases/{case_id}/claim", page.text)
    assert claimed.status_code == 303  # type: ignore[attr-defined]
    page = ana.get(f"/console/cases/{case_id}?done=claimed")
    assert "You claimed this case." in page.text and 'id="decide-submit"' in page.text
    empty = _post(ana, f"/console/cases/{case_id}/decision", page.text, outcome="approve", reason="  ")
    assert empty.status_code == 400  # type: ignore[attr-defined]
    done = _post(
        ana, f"/console/cases/{case_id}/decision", page.text, outcome="approve", reason="documents fine"
    )
    assert done.status_code == 303  # type: ignore[attr-defined]
    page = ana.get(f"/console/cases/{case_id}")
    assert 'id="final-outcome">approve<' in page.text and "review-t1" in page.text
    stored = world.store.get_verification(record.id)
    assert stored.decision.outcome.value == "review"  # the automated decision stays as it was
    audit = ana.get("/console/audit", params={"subject": case_id})
    assert "case.decided" in audit.text and "case.claimed" in audit.text
    assert "documents fine" not in audit.text  # the log holds a keyed hash of the reason, not its text


def test_another_reviewer_cannot_decide_a_claimed_case_and_escalation_goes_to_supervisors(
    world: World,
) -> None:
    verify(world.verifier, REVIEW)
    ana, ben = world.browser("ana", "analyst"), world.browser("ben", "analyst")
    case_id = re.findall(r'data-case="([0-9a-f-]{36})"', ana.get("/console/").text)[0]
    page = ana.get(f"/console/cases/{case_id}")
    _post(ana, f"/console/cases/{case_id}/claim", page.text)
    other = ben.get(f"/console/cases/{case_id}")
    assert "Claimed by console:ana" in other.text and 'id="claim"' not in other.text
    stolen = _post(ben, f"/console/cases/{case_id}/claim", other.text)
    assert stolen.status_code == 409  # type: ignore[attr-defined]
    page = ana.get(f"/console/cases/{case_id}")
    _post(
        ana, f"/console/cases/{case_id}/decision", page.text, outcome="escalate", reason="unsure, please look"
    )
    assert "a supervisor decides it" in ben.get(f"/console/cases/{case_id}").text
    sue = world.browser("sue", "supervisor")
    page = sue.get(f"/console/cases/{case_id}")
    assert 'id="claim"' in page.text
    assert _post(sue, f"/console/cases/{case_id}/claim", page.text).status_code == 303  # type: ignore[attr-defined]


def test_overriding_a_reject_needs_a_second_supervisor(world: World) -> None:
    rejected = verify(world.verifier, REJECT)
    sue, sam, ana = (
        world.browser("sue", "supervisor"),
        world.browser("sam", "supervisor"),
        world.browser("ana", "analyst"),
    )
    queue = sue.get("/console/")
    assert "Open a case for any verification" in queue.text
    assert "Open a case for any verification" not in ana.get("/console/").text
    forbidden = _post(
        ana, "/console/cases", ana.get("/console/").text, verification_id=rejected.id, reason="x"
    )
    assert forbidden.status_code == 403  # type: ignore[attr-defined]
    opened = _post(sue, "/console/cases", queue.text, verification_id=rejected.id, reason="customer appeal")
    assert opened.status_code == 303  # type: ignore[attr-defined]
    case_url = opened.headers["location"].split("?")[0]  # type: ignore[attr-defined]
    page = sue.get(case_url)
    _post(sue, f"{case_url}/claim", page.text)
    page = sue.get(case_url)
    _post(sue, f"{case_url}/decision", page.text, outcome="approve", reason="appeal documents check out")
    page = sue.get(case_url)
    assert 'id="case-state">awaiting confirmation<' in page.text
    assert "another supervisor must confirm it" in page.text and 'id="confirm-submit"' not in page.text
    own = _post(sue, f"{case_url}/confirmation", page.text, accept="yes", reason="me again")
    assert own.status_code == 403  # type: ignore[attr-defined]
    analyst = _post(ana, f"{case_url}/confirmation", ana.get(case_url).text, accept="yes", reason="ok")
    assert analyst.status_code == 403  # type: ignore[attr-defined]
    page = sam.get(case_url)
    assert 'id="confirm-submit"' in page.text
    assert _post(sam, f"{case_url}/confirmation", page.text, accept="yes", reason="agreed").status_code == 303  # type: ignore[attr-defined]
    page = sam.get(case_url)
    assert 'id="final-outcome">approve<' in page.text and 'id="case-state">decided<' in page.text
    assert world.store.get_verification(rejected.id).decision.outcome.value == "reject"


def test_images_are_served_only_to_the_tenant_and_never_cached(world: World) -> None:
    verify(world.verifier, REVIEW)
    ana = world.browser("ana", "analyst")
    case_id = re.findall(r'data-case="([0-9a-f-]{36})"', ana.get("/console/").text)[0]
    # built by the queue page on first use
    cases = world.app_client.app.state.review_cases  # type: ignore[attr-defined]
    detail = cases.get_case("default", case_id)
    assert detail.media, "the selfie was kept for the reviewer"
    url = f"/console/cases/{case_id}/media/{detail.media[0].id}"
    image = ana.get(url)
    assert image.status_code == 200 and image.headers["cache-control"] == "no-store"
    assert image.content[:3] == b"\xff\xd8\xff"  # JPEG
    assert ana.get(f"/console/cases/{case_id}/media/nope").status_code == 404
    world.store.create_tenant("other")
    world.accounts.create_user("olga", "supervisor", PASSWORD, tenant="other")
    olga = TestClient(world.app_client.app, base_url=BASE, follow_redirects=False)
    assert sign_in(olga, "olga", PASSWORD, tenant="other").status_code == 303
    assert olga.get(url).status_code == 404 and olga.get(f"/console/cases/{case_id}").status_code == 404


def test_the_queue_shows_active_cases_unless_asked_for_all(world: World) -> None:
    verify(world.verifier, REVIEW)
    verify(world.verifier, REVIEW)
    ana = world.browser("ana", "analyst")
    first = re.findall(r'data-case="([0-9a-f-]{36})"', ana.get("/console/").text)[0]
    page = ana.get(f"/console/cases/{first}")
    _post(ana, f"/console/cases/{first}/claim", page.text)
    page = ana.get(f"/console/cases/{first}")
    _post(ana, f"/console/cases/{first}/decision", page.text, outcome="reject", reason="document altered")
    active = re.findall(r'data-case="([0-9a-f-]{36})"', ana.get("/console/").text)
    everything = re.findall(
        r'data-case="([0-9a-f-]{36})"', ana.get("/console/", params={"state": "all"}).text
    )
    decided = re.findall(
        r'data-case="([0-9a-f-]{36})"', ana.get("/console/", params={"state": "decided"}).text
    )
    assert first not in active and len(active) == 1
    assert set(everything) == {first, *active} and decided == [first]
