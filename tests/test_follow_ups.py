"""Checks write nothing: a capture is remembered for replay detection only with a stored, not rejected,
verification, in the same transaction (issue 9). Through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from openidv.store import repository
from openidv.store.liveness_tables import CaptureHash
from openidv.store.repository import Store


def photo(shared_data: Path, name: str) -> tuple[str, bytes, str]:
    path = shared_data / "faces" / name
    return (path.name, path.read_bytes(), "image/jpeg")


def captures(store: Store) -> int:
    with store.transaction() as session:
        return int(session.execute(select(func.count()).select_from(CaptureHash)).scalar_one())


def injection_of(body: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in body["checks"] if c["check"] == "injection")


def test_rejected_and_failed_verifications_leave_no_capture_behind(
    api_client: Any, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, store, headers = api_client
    selfie = photo(shared_data, "obama/obama1.jpg")

    # rejected (another person's document): stored as a verification, but its selfie is not remembered
    rejected = client.post(
        "/v1/verifications",
        files={"selfie": selfie, "document": photo(shared_data, "biden/biden1.jpg")},
        headers=headers,
    )
    assert rejected.status_code == 201 and rejected.json()["decision"] == "reject"
    assert "REPLAYED_CAPTURE" not in rejected.json()["reason_codes"]
    assert captures(store) == 0

    # failed while storing: nothing of it is stored, the capture included
    def broken_append(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(repository.audit, "append", broken_append)
        with pytest.raises(RuntimeError, match="disk full"):
            client.post("/v1/verifications", files={"selfie": selfie}, headers=headers)
    assert captures(store) == 0

    # the same selfie now is a first capture; once that verification is stored, it is remembered
    first = client.post("/v1/verifications", files={"selfie": selfie}, headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["decision"] != "reject", body["reason_codes"]
    assert "REPLAYED_CAPTURE" not in body["reason_codes"]
    assert injection_of(body)["details"]["replay_matches"] == []
    assert captures(store) > 0

    # submitted again, by anyone: a replay of that committed verification
    again = client.post("/v1/verifications", files={"selfie": selfie}, headers=headers)
    assert again.status_code == 201
    assert again.json()["decision"] == "reject" and "REPLAYED_CAPTURE" in again.json()["reason_codes"]
    matches = injection_of(again.json())["details"]["replay_matches"]
    assert matches and matches[0]["reference"] == body["id"]
