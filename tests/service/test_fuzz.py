"""The API fuzzed from its own OpenAPI spec (schemathesis): whatever is sent, no 5xx comes back.

The service runs on a real port; for every operation in its spec, generated requests (valid
and invalid by the schema) are sent with an administrator's session, so that the handlers,
and not only the login check, meet the odd input (logout aside: it would end that session).
A longer run: ``bench/api_fuzz.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.service.conftest import PASSWORD, LiveServer, engine_incident, make_runtime, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("fuzz")
    live = serve(make_runtime(folder / "site", f"sqlite:///{folder / 'fuzz.db'}"))
    live.runtime.store.ingest_incident(live.runtime.run, engine_incident())
    yield live
    live.stop()


def fuzz(server: LiveServer, examples: int) -> list[str]:
    """Fuzz every operation; the failures found (method, path, status, body)."""
    token = httpx.post(f"{server.http}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    schema = schemathesis.openapi.from_url(f"{server.http}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/v1/auth/logout":
            continue  # it would end the session the rest of the run uses

        strategy = st.one_of(operation.as_strategy(mode) for mode in schemathesis.GenerationMode)

        @given(case=strategy)
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case) -> None:
            extra = {} if case.path == "/api/v1/auth/login" else headers
            response = case.call(base_url=server.http, headers={**(case.headers or {}), **extra})
            if response.status_code >= 500 or "Traceback" in response.text:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

        run()
    return failures


def test_no_request_gets_a_server_error(server: LiveServer) -> None:
    assert fuzz(server, examples=30) == []


def test_the_spec_names_every_route(server: LiveServer, tmp_path: Path) -> None:
    paths = set(httpx.get(f"{server.http}/openapi.json").json()["paths"])
    assert {"/api/v1/incidents", "/api/v1/incidents/{incident_id}/actions", "/api/v1/auth/login", "/healthz"} <= paths
