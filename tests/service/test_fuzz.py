"""The API fuzzed from its own OpenAPI spec (schemathesis): whatever is sent, no 5xx comes back.

The service runs on a real port; for every operation in its spec, generated requests (valid
and invalid by the schema) are sent with an administrator's session, so that the handlers,
and not only the login check, meet the odd input (logout aside: it would end that session).
Beside them, hostile inputs the generator rarely makes, on SQLite and PostgreSQL: NUL characters
and unpaired surrogates in every path, query and body field, long strings, huge bodies, deeply
nested JSON, bytes that are not UTF-8. A longer run: ``bench/api_fuzz.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

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


HOSTILE_TEXT = [
    "\u0000", "a\u0000b", "\ud800", "x\udfffy", "é" * 3000, "../../../../etc/passwd", "%00", "' OR 1=1 --",
    "0001-01-01T00:00:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-14:00",  # the calendar's edges
]  # fmt: skip


def _hostile_bodies(schema: dict[str, Any]) -> list[bytes]:
    """Bodies for a JSON operation: each string field hostile in turn, and the hostile shapes."""
    properties = schema.get("properties", {})
    base = {name: "x" for name, prop in properties.items() if prop.get("type") == "string"}
    if "action" in properties:
        base["action"] = "note"
    bodies = []
    for name in base:
        for text in HOSTILE_TEXT:
            bodies.append(json.dumps({**base, name: text}).encode())  # escapes: \u0000, \ud800
    bodies += [
        json.dumps({**base, "departments": ["tow\u0000", "\ud800"]}).encode(),
        b"[" * 100_000 + b"]" * 100_000,  # deeply nested (within the size limit)
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"username": "' + b"a" * (3 * 1024 * 1024) + b'"}',  # huge: past the body limit
        b'{"username": "\xff\xfe\xfa", "password": "\xc3\x28xxxxxxxx"}',  # not UTF-8
        b"\x00" * 1000,
    ]
    return bodies


def hostile(server: LiveServer) -> tuple[int, list[str]]:
    """Hostile inputs to every operation of the spec; how many were sent, and the failures (5xx, traces)."""
    login = httpx.post(f"{server.http}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    spec = httpx.get(f"{server.http}/openapi.json").json()
    components = spec.get("components", {}).get("schemas", {})
    failures: list[str] = []
    sent = 0
    with httpx.Client(base_url=server.http, headers=auth, timeout=60) as client:
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                if path == "/api/v1/auth/logout":
                    continue
                params = operation.get("parameters", [])
                # path (with its query), query parameters (none: they are in the path), body, headers
                requests: list[tuple[str, dict[str, str], bytes | None, dict[str, str]]] = []
                for text in HOSTILE_TEXT:
                    target = path
                    for p in params:
                        if p["in"] == "path":
                            target = target.replace("{" + p["name"] + "}", quote(text.encode("utf-8", "surrogatepass")))
                    raw = text.encode("utf-8", "surrogatepass")  # an unpaired surrogate: bytes no UTF-8 decodes
                    names = [p["name"] for p in params if p["in"] == "query"]
                    for chosen in [names, *([[n] for n in names] if len(names) > 1 else [])]:  # all, and each alone
                        query = "&".join(f"{name}={quote(raw)}" for name in chosen)
                        requests.append((f"{target}?{query}" if query else target, {}, None, {}))
                target = path
                for p in params:
                    if p["in"] == "path":
                        target = target.replace("{" + p["name"] + "}", "INC-20260101-0001")
                body = operation.get("requestBody", {}).get("content", {})
                if "application/json" in body:
                    ref = body["application/json"]["schema"].get("$ref", "")
                    schema = components.get(ref.rsplit("/", 1)[-1], {})
                    for content in _hostile_bodies(schema):
                        requests.append((target, {}, content, {"Content-Type": "application/json"}))
                if "multipart/form-data" in body:
                    for content in (b"", b"<html><script>x</script></html>", b"\xff\xd8\xff" + b"\x00" * 5000):
                        files = {"file": ("a.jpg", content, "image/jpeg")}
                        sent += 1
                        response = client.post(target, files=files, data={"note": "\u0000"})
                        if response.status_code >= 500 or "Traceback" in response.text:
                            failures.append(f"POST {target} (photo) -> {response.status_code}: {response.text[:200]}")
                for target_path, query, content, headers in requests:
                    sent += 1
                    try:
                        response = client.request(method.upper(), target_path, params=query or None,
                                                  content=content, headers=headers)  # fmt: skip
                    except (httpx.RemoteProtocolError, httpx.ReadError):
                        continue  # the HTTP server refused the request line outright (too long): no handler ran
                    if response.status_code >= 500 or "Traceback" in response.text:
                        failures.append(f"{method.upper()} {target_path} {query} {(content or b'')[:60]!r} -> "
                                        f"{response.status_code}: {response.text[:200]}")  # fmt: skip
    return sent, failures


def test_no_request_gets_a_server_error(server: LiveServer) -> None:
    assert fuzz(server, examples=30) == []


def test_hostile_input_gets_no_server_error_on_either_database(live: LiveServer) -> None:
    live.runtime.store.ingest_incident(live.runtime.run, engine_incident())
    sent, failures = hostile(live)
    assert sent > 200 and failures == []


def test_the_spec_names_every_route(server: LiveServer, tmp_path: Path) -> None:
    paths = set(httpx.get(f"{server.http}/openapi.json").json()["paths"])
    assert {"/api/v1/incidents", "/api/v1/incidents/{incident_id}/actions", "/api/v1/auth/login", "/healthz"} <= paths
