"""The ``graph`` check in the verification pipeline (issue 13): applicants join the identity graph with their
verification, linked applicants are explained, keys are pseudonymous and values sealed, investigators see
accounts through the API and the CLI, and erasure leaves no identifier behind. Real app, real stores
(SQLite and PostgreSQL), default policy; the identifiers are invented (SYNTHETIC)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from openidv.checks.identity_graph import applicant_fields, face_keys
from openidv.cli import app as cli_app
from openidv.evidence import ApplicantData, DeclaredData, Evidence
from openidv.results import CheckResult, Meaning, Status
from openidv.store.graph_tables import GraphIdentifierValue, GraphLink
from openidv.store.repository import Store

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
EMAIL = "anna.eriksson+kyc@gmail.com"


def applicant(n: int, **extra: Any) -> dict[str, Any]:
    """A SYNTHETIC applicant: own email and IP, one device shared by every call (a device farm)."""
    return {
        "email": f"farm.worker{n}@example.com",
        "ip": f"198.51.100.{n}",
        "device_id": "dev-farm-7",
        **extra,
    }


def store_threshold() -> float:
    """The default policy's ring threshold (the model card's operating point)."""
    from openidv.decision.policy import load_policy

    return load_policy(None).checks["graph"].thresholds["ring"].value


def graph_of(body: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in body["checks"] if c["check"] == "graph")


def test_applicants_sharing_a_device_are_linked_explained_and_flagged(api_client: Any) -> None:
    client, store, headers = api_client
    bodies = []
    for n in range(3):
        made = client.post(
            "/v1/verifications",
            json={"mrz": TD3, "applicant": applicant(n), "subject_id": f"farm-{n}"},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        bodies.append(made.json())
    first, third = graph_of(bodies[0]), graph_of(bodies[2])
    threshold = store_threshold()
    assert first["score"] < threshold and first["details"]["linked_accounts"] == 0
    assert third["meaning"] == "attack" and third["score"] >= threshold
    assert "GRAPH_SHARED_DEVICE" in third["reason_codes"]
    # the policy flags the ring at its threshold and says so in the decision
    assert "GRAPH_RING_MEMBER" in bodies[2]["reason_codes"] and bodies[2]["decision"] != "approve"
    details = third["details"]
    assert details["ring"]["members"] == ["farm-0", "farm-1", "farm-2"]
    # the applicant's own identifiers are shown as sent (canonical); the shared device names every link
    assert "device:dev-farm-7" in details["identifiers"]
    assert all("device:dev-farm-7" in link["shared"] for link in details["links"])

    # stored keys are pseudonyms: no device id, email or IP in clear in the link table
    with store.transaction() as session:
        keys = list(session.scalars(select(GraphLink.key)))
        sealed = list(session.scalars(select(GraphIdentifierValue.value_sealed)))
    assert keys and all(k.partition(":")[0] in {"email", "ip", "ip24", "device", "document"} for k in keys)
    assert not any("dev-farm-7" in k or "example.com" in k or "198.51" in k for k in keys)
    assert sealed and not any(b"dev-farm-7" in blob for blob in sealed)

    # an investigator reads the account with the clear values behind the keys
    seen = client.get("/v1/graph/accounts/farm-1", headers=headers)
    assert seen.status_code == 200, seen.text
    view = seen.json()
    assert set(view["ring"]["members"]) == {"farm-0", "farm-1", "farm-2"}
    assert "dev-farm-7" in view["values"].values() and "farm.worker1@example.com" in view["values"].values()
    assert "GRAPH_SHARED_DEVICE" in view["reasons"]
    assert client.get("/v1/graph/accounts/nobody", headers=headers).status_code == 404


def test_rejected_applicants_join_the_graph_but_unstored_ones_do_not(api_client: Any) -> None:
    client, _, headers = api_client
    expired = client.post(
        "/v1/verifications",
        json={"mrz": TD3, "applicant": applicant(1), "subject_id": "r-1"},
        headers=headers,
    )
    assert expired.json()["decision"] == "reject"  # the specimen passport expired in 2012
    assert client.get("/v1/graph/accounts/r-1", headers=headers).status_code == 200
    # a request refused for its input never reaches the graph
    bad = client.post(
        "/v1/verifications",
        json={"mrz": TD3, "applicant": {"email": "not-an-email"}, "subject_id": "r-2"},
        headers=headers,
    )
    assert bad.status_code == 422 and "email" in bad.text
    assert client.get("/v1/graph/accounts/r-2", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "two@@example.com"),
        ("phone", "12"),
        ("ip", "999.1.1.1"),
        ("country", "GBR"),
        ("device_id", "has space"),
        ("national_id", "\u0000"),
        ("unknown", "x"),
    ],
)
def test_malformed_applicant_fields_are_a_422_naming_the_field(
    api_client: Any, field: str, value: str
) -> None:
    client, _, headers = api_client
    answer = client.post("/v1/verifications", json={"mrz": TD3, "applicant": {field: value}}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_multipart_applicant_field_is_read_and_checked(api_client: Any) -> None:
    client, _, headers = api_client
    fields = {"mrz": (None, TD3), "applicant": (None, json.dumps(applicant(5))), "subject_id": (None, "m-1")}
    ok = client.post("/v1/verifications", files=fields, headers=headers)
    assert ok.status_code == 201, ok.text
    assert "device:dev-farm-7" in graph_of(ok.json())["details"]["identifiers"]
    bad = client.post(
        "/v1/verifications",
        files={"mrz": (None, TD3), "applicant": (None, '{"email": "nope"}')},
        headers=headers,
    )
    assert bad.status_code in (400, 422) and "applicant" in bad.json()["detail"]


def test_erasing_a_subject_removes_its_links_and_the_values_nobody_else_holds(api_client: Any) -> None:
    client, store, headers = api_client
    for n in range(2):
        made = client.post(
            "/v1/verifications",
            json={
                "mrz": TD3,
                "applicant": applicant(n, email=EMAIL if n == 0 else None),
                "subject_id": f"e-{n}",
            },
            headers=headers,
        )
        assert made.status_code == 201, made.text
    with store.transaction() as session:
        before = session.execute(select(GraphIdentifierValue)).all()
    assert client.delete("/v1/subjects/e-0", headers=headers).status_code == 204
    assert client.get("/v1/graph/accounts/e-0", headers=headers).status_code == 404
    with store.transaction() as session:
        links = list(session.scalars(select(GraphLink.account_id)))
        after = session.execute(select(GraphIdentifierValue)).all()
    assert set(links) == {"e-1"}
    # e-0's own email and IP went; the /24, device and document that e-1 still holds stay
    assert len(after) == len(before) - 2
    survivor = client.get("/v1/graph/accounts/e-1", headers=headers).json()
    assert (
        "anna.eriksson@gmail.com" not in json.dumps(survivor) and "dev-farm-7" in survivor["values"].values()
    )


def test_document_and_face_keys_come_from_the_checks_that_read_them() -> None:
    mrz = CheckResult(
        check="mrz",
        version="1",
        status=Status.OK,
        score=1.0,
        meaning=Meaning.SIMILARITY,
        details={"fields": {"document_number": "L898902C3", "issuer": "UTO"}},
    )
    duplicate = CheckResult(
        check="face_duplicate",
        version="1",
        status=Status.OK,
        score=0.9,
        meaning=Meaning.ATTACK,
        details={"matches": [{"subject_id": "enrolled-9", "similarity": 0.9}]},
    )
    evidence = Evidence(
        declared=DeclaredData(surname="Eriksson", document_number="X1"),
        applicant=ApplicantData(document_issuer="SWE"),
        subject_id="s-1",
    )
    fields = applicant_fields(evidence, {"mrz": mrz})
    assert (fields["document_number"], fields["document_issuer"]) == ("L898902C3", "UTO")
    assert applicant_fields(evidence, {})["document_number"] == "X1"  # declared, with the applicant's issuer
    assert face_keys(evidence, {"face_duplicate": duplicate}) == ["face:s-1", "face:enrolled-9"]
    assert face_keys(evidence, {}) == []


def test_the_device_checks_fingerprint_links_when_the_caller_sends_no_device_id() -> None:
    device = CheckResult(
        check="device",
        version="1",
        status=Status.OK,
        score=0.0,
        meaning=Meaning.ATTACK,
        details={"device_id": "dev_5f1c"},
    )
    plain = Evidence(declared=DeclaredData(surname="Eriksson"))
    assert applicant_fields(plain, {"device": device})["device_id"] == "dev_5f1c"
    failed = device.model_copy(update={"status": Status.FAILED_TO_ACQUIRE, "details": {"device_id": None}})
    assert "device_id" not in applicant_fields(plain, {"device": failed})
    called = Evidence(applicant=ApplicantData(device_id="caller-device-7"))
    assert applicant_fields(called, {"device": device})["device_id"] == "caller-device-7"  # the caller's wins


def test_cli_show_draws_the_neighbourhood_and_refuses_a_bad_file_type(tmp_path: Path) -> None:
    runner = CliRunner()
    population = tmp_path / "population"
    made = runner.invoke(
        cli_app, ["synth", "identities", "--n", "300", "--out", str(population), "--seed", "3"]
    )
    assert made.exit_code == 0, made.output
    assert runner.invoke(cli_app, ["graph", "ingest", str(population / "applicants.jsonl")]).exit_code == 0
    rings = json.loads(runner.invoke(cli_app, ["graph", "rings", "--json"]).output)
    farm = next(r for r in rings if any(s["kind"] == "device" for s in r["shared"]))
    assert all(s["value"] for s in farm["shared"])  # the investigator sees the clear values
    picture = tmp_path / "ring.png"
    shown = runner.invoke(cli_app, ["graph", "show", farm["members"][0], "--out", str(picture)])
    assert shown.exit_code == 0, shown.output
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
    assert "device" in shown.output and "ring" in shown.output
    wrong = runner.invoke(cli_app, ["graph", "show", farm["members"][0], "--out", str(tmp_path / "ring.gif")])
    assert wrong.exit_code == 2 and not (tmp_path / "ring.gif").exists()


def test_a_store_restart_finds_the_pseudonymous_graph_again(api_client: Any, tmp_path: Path) -> None:
    from openidv.services.graph_service import GraphService
    from openidv.settings import Settings

    client, store, headers = api_client
    for n in range(2):
        client.post(
            "/v1/verifications",
            json={"mrz": TD3, "applicant": applicant(n), "subject_id": f"p-{n}"},
            headers=headers,
        )
    again = GraphService.from_store(Store(store.engine), Settings(data_dir=tmp_path))
    assert again.neighbourhood("p-1").ring is not None
    assert again.key_of("device:dev-farm-7") in again.graph().keys_of("p-0")


def test_purge_removes_graph_accounts_past_their_retention(api_client: Any, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from openidv.services.subjects import SubjectService
    from openidv.settings import Settings

    client, store, headers = api_client
    for n in range(2):
        made = client.post(
            "/v1/verifications",
            json={"mrz": TD3, "applicant": applicant(n), "subject_id": f"old-{n}"},
            headers=headers,
        )
        assert made.status_code == 201, made.text
    graph = client.app.state.services.identity_graph  # type: ignore[attr-defined]
    subjects = SubjectService(store, None, graph)
    keep = Settings(data_dir=tmp_path, retention_verifications_days=0, retention_graph_days=30)
    assert subjects.purge(keep, dry_run=True).graph_accounts == 0
    later = datetime.now(UTC) + timedelta(days=31)
    assert subjects.purge(keep, dry_run=True, now=later).graph_accounts == 2
    report = subjects.purge(keep, now=later)
    assert report.graph_accounts == 2
    assert client.get("/v1/graph/accounts/old-0", headers=headers).status_code == 404  # gone from memory too
    with store.transaction() as session:
        assert list(session.scalars(select(GraphLink.key))) == []
        assert list(session.scalars(select(GraphIdentifierValue.key))) == []
