"""The OpenAPI contract against the real app: schemathesis generates requests from ``/openapi.json`` and
checks every answer against the documented responses (status, content type, body shape; no 5xx), in-process
through ASGI, on a throw-away SQLite store with an API key holding every scope.

Every error response is documented as ``application/problem+json`` (``openidv.api.openapi_problems``); the
static test below checks the document, the schemathesis run checks the app answers what it documents.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from openidv.api.app import create_app
from openidv.api.auth import PUBLIC_ROUTES, ROUTE_SCOPES, SESSION_TOKEN_ROUTES
from openidv.api.openapi_problems import PROBLEM_REF, expected_errors
from openidv.api.problems import PROBLEM_JSON
from openidv.settings import Settings
from openidv.store.repository import Store

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance  # noqa: E402

#: Not checked: ``positive_data_acceptance`` (a schema-valid request must be accepted). JSON Schema cannot say
#: "a decodable photo with a face" or "an MRZ with valid check digits", so schema-valid uploads are rightly
#: refused with a 422. ``ignored_auth`` takes the real key the test sends for a generated one; the
#: authorisation of every route is tested by tests/test_route_authz.py instead. Every other check of
#: schemathesis runs (no 5xx, documented status, content type, headers and body shape; invalid data refused
#: with a 4xx).

#: examples per operation and mode: the whole run stays within a minute or two on a shared 2-core machine;
#: ``OPENIDV_CONTRACT_EXAMPLES=1000`` for a long run (docs/reliability.md)
EXAMPLES = int(os.environ.get("OPENIDV_CONTRACT_EXAMPLES", "50"))


@pytest.fixture(scope="module")
def contract_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    data_dir: Path = tmp_path_factory.mktemp("contract")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OPENIDV_ENCRYPTION_KEY", base64.b64encode(b"c" * 32).decode())
        store = Store.from_url(f"sqlite:///{data_dir / 'openidv.sqlite3'}")
        app = create_app(Settings(data_dir=data_dir), store=store)
        _, key = store.create_api_key("contract")
        with TestClient(app):  # runs the lifespan once around the whole module
            yield app, key
        store.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(contract_app: tuple[FastAPI, str]) -> Any:
    app, _ = contract_app
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_error_response_is_documented_as_problem_json(contract_app: tuple[FastAPI, str]) -> None:
    app, _ = contract_app
    document = app.openapi()
    assert document["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
    operations = [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    assert len(operations) >= 10
    for path, method, operation in operations:
        responses = operation["responses"]
        errors = {int(s) for s in responses if s.isdigit() and int(s) >= 400}
        assert expected_errors(path, method, operation) <= errors, (method, path)
        assert {500, 503} <= errors, (method, path)
        for status in errors:
            content = responses[str(status)]["content"]
            assert content == {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}, (method, path, status)
        for status, response in responses.items():  # no body-less success but 204 (and /metrics' text)
            if status.startswith("2") and status != "204" and path != "/metrics":
                assert response.get("content"), (method, path, status)
        if (method.upper(), path) in SESSION_TOKEN_ROUTES:  # the telemetry session's token, no scopes
            assert operation["security"] == [{"sessionToken": []}], (method, path)
            assert {401, 404, 409, 410, 413, 422} <= errors, (method, path)
        elif path.startswith("/v1"):
            assert operation["security"] == [{"apiKey": []}], (method, path)
            assert {401, 403, 404} <= errors, (method, path)
    assert "HTTPValidationError" not in str([op["responses"] for _, _, op in operations]), (
        "FastAPI's 422 shape is never sent; the app answers problem+json"
    )


#: every operation of the app: the keyed routes and the public ones (a new route joins by its scope entry)
OPERATIONS = sorted({*ROUTE_SCOPES, *PUBLIC_ROUTES, *SESSION_TOKEN_ROUTES}, key=lambda r: (r[1], r[0]))


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_documented_response_holds(
    api_schema: Any, contract_app: tuple[FastAPI, str], method: str, path: str, mode: str
) -> None:
    """Valid requests (``positive``) and invalid ones (``negative``): every answer is documented, has the
    documented shape and content type, no 5xx, and every error is problem+json."""
    _, key = contract_app
    operation = api_schema[path][method]
    if mode == "negative" and not (operation.definition.raw.get("parameters") or operation.body):
        pytest.skip("nothing to send wrong: the operation takes no parameters and no body")
    strategy = operation.as_strategy(generation_mode=GenerationMode(mode))

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests every run: a failure here is reproducible
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def exchange(case: Any) -> None:
        # the generated credentials (the document names the bearer scheme) give way to a real key
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        case.headers["Authorization"] = f"Bearer {key}"
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance, ignored_auth])
        if response.status_code >= 400:
            content_type = {k.lower(): v for k, v in response.headers.items()}["content-type"]
            assert content_type[0].startswith(PROBLEM_JSON), response.text

    exchange()
