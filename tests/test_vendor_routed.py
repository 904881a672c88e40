"""The ``vendor_router`` service ``Services.open`` builds (``openidv.vendors.routed``): the full router over
two simulated vendors on loopback HTTP, through the real Verifier and store. A vendor in an outage is failed
over (both calls audited, sealed); a decline from the chosen vendor is final (the other is never called)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from openidv.decision.policy import Outcome
from openidv.services.container import Services
from openidv.services.verifier import Verifier
from openidv.store.db import make_engine
from openidv.store.repository import Store
from openidv.store.vendor_call_store import calls_of
from openidv.vendors.routed import RoutedVendors, router_from_file
from openidv.vendors.simulated import SimulatedVendorServer
from tests.test_vendor_checks import faces, vendor_config, vendor_policy


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, SimulatedVendorServer]]:
    with (
        SimulatedVendorServer("budget", vendor_config(), port=0) as budget,
        SimulatedVendorServer("premium", vendor_config(), port=0) as premium,
    ):
        yield {"budget": budget, "premium": premium}


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store(make_engine(sqlite_url))
    yield s
    s.engine.dispose()


@pytest.fixture
def routed(
    tmp_path: Path, servers: dict[str, SimulatedVendorServer], store: Store
) -> Iterator[RoutedVendors]:
    vendors = {}
    for name, cost in (("budget", 0.2), ("premium", 0.9)):
        config = vendor_config().model_dump(mode="json")
        config.update(endpoint=servers[name].url, cost_per_call=cost, retries=0)
        vendors[name] = config
    path = tmp_path / "vendors.yaml"
    path.write_text(yaml.safe_dump({"vendors": vendors}), encoding="utf-8")
    service = router_from_file(path, lambda: store.keyring)
    yield service
    service.router.close()
    service.runtime.close()


def test_an_outage_fails_over_to_the_next_vendor_and_both_calls_are_audited(
    routed: RoutedVendors, servers: dict[str, SimulatedVendorServer], store: Store, shared_data: Path
) -> None:
    servers["budget"].outage(30)
    try:
        record = Verifier(vendor_policy(), Services(vendor_router=routed), store).verify(
            faces(shared_data, "obama/obama1.jpg", "obama/obama2.jpg")
        )
    finally:
        servers["budget"].outage(0)
    assert record.decision.outcome == Outcome.APPROVE
    (result,) = record.checks
    routing = result.details["routing"]
    assert result.details["vendor"] == "premium" and routing["reason"] == "failover"
    assert [f["vendor"] for f in routing["failover_from"]] == ["budget"]
    calls = {c.vendor: c for c in calls_of(store, record.id)}
    assert set(calls) == {"budget", "premium"}
    assert calls["budget"].fault is not None and calls["premium"].decision == "pass"


def test_a_decline_is_final_and_never_sent_to_another_vendor(
    routed: RoutedVendors, store: Store, shared_data: Path
) -> None:
    record = Verifier(vendor_policy(), Services(vendor_router=routed), store).verify(
        faces(shared_data, "obama/obama1.jpg", "biden/biden1.jpg")
    )
    assert record.decision.outcome == Outcome.REJECT and "VENDOR_DECLINED" in record.decision.reason_codes
    (result,) = record.checks
    assert result.details["vendor"] == "budget"  # the cheaper of two equals
    assert result.details["routing"]["reason"] == "cheapest_eligible"
    assert [c.vendor for c in calls_of(store, record.id)] == ["budget"]


def test_the_status_route_shows_circuits_and_drift(routed: RoutedVendors, api_client: Any) -> None:
    """``GET /v1/vendors/status`` through the real app: 404 without vendors, then each vendor's circuit."""
    client, _, headers = api_client
    response = client.get("/v1/vendors/status", headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    services = client.app.state.services
    client.app.state.services = replace(services, vendor_router=routed)
    try:
        body = client.get("/v1/vendors/status", headers=headers).json()
    finally:
        client.app.state.services = services
    assert set(body["vendors"]) == {"budget", "premium"}
    assert body["vendors"]["budget"]["circuit"]["state"] in {"closed", "open", "half_open"}
    assert body["vendors"]["premium"]["cost_per_call"] == pytest.approx(0.9)
    assert body["drift"]["alerts"] == [] and isinstance(body["drift"]["monitors"], list)


def test_a_vendor_outage_mid_load_loses_no_verification(
    routed: RoutedVendors, servers: dict[str, SimulatedVendorServer], store: Store, shared_data: Path
) -> None:
    """40 verifications from 8 threads; the cheaper vendor goes down after the first few. Every one ends
    stored and decided: answered by a vendor (failed over when needed) or sent to review, never lost."""
    from concurrent.futures import ThreadPoolExecutor

    verifier = Verifier(vendor_policy(), Services(vendor_router=routed), store)
    pairs = [("obama/obama1.jpg", "obama/obama2.jpg"), ("obama/obama1.jpg", "biden/biden1.jpg")]

    def one(i: int) -> Any:
        if i == 6:
            servers["budget"].outage(30)
        selfie, document = pairs[i % 2]
        return verifier.verify(faces(shared_data, selfie, document))

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            records = list(pool.map(one, range(40)))
    finally:
        servers["budget"].outage(0)
    assert len({r.id for r in records}) == 40
    for record in records:
        assert record.decision.outcome in (Outcome.APPROVE, Outcome.REJECT, Outcome.REVIEW)
        (result,) = record.checks
        assert result.status.value == "ok" or "VENDOR_UNAVAILABLE" in record.decision.reason_codes
        assert calls_of(store, record.id), record.id  # every attempt is on the audit trail
    vendors = {r.checks[0].details.get("vendor") for r in records}
    assert "premium" in vendors  # the outage was failed over
