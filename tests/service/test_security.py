"""The service as an attacker tries it: guessing passwords, huge and odd requests, other sites'
pages, files that are not what they claim, evidence paths that lead out of the run."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.service.conftest import PASSWORD, LiveServer, engine_incident, make_runtime, serve
from yingyan.service import models as m
from yingyan.service.api import create_app
from yingyan.service.auth import LoginLimiter
from yingyan.service.runtime import ServiceRuntime


@pytest.fixture
def runtime(tmp_path: Path, db_url: str) -> ServiceRuntime:
    return make_runtime(tmp_path / "site", db_url)


@pytest.fixture
def client(runtime: ServiceRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), base_url="http://127.0.0.1:8080") as c:
        yield c


def bearer(client: TestClient, user: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def incident(runtime: ServiceRuntime, number: int = 1, **changes: object) -> str:
    return runtime.store.ingest_incident(runtime.run, engine_incident(number, **changes)).incident_id  # type: ignore[arg-type]


# -- logins ------------------------------------------------------------------------------------------


def test_failed_logins_from_one_address_do_not_lock_the_user_out_elsewhere(
    client: TestClient, runtime: ServiceRuntime
) -> None:
    attacker = TestClient(client.app, base_url="http://127.0.0.1:8080", client=("10.9.9.9", 4000))
    guess = {"username": "disp_east", "password": "guess"}
    for _ in range(5):
        assert attacker.post("/api/v1/auth/login", json=guess).status_code == 401
    refused = attacker.post("/api/v1/auth/login", json=guess)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 2  # a delay, not a lock
    # The dispatcher at their own desk logs in at once.
    assert client.post("/api/v1/auth/login", json={"username": "disp_east", "password": PASSWORD}).status_code == 200
    # From the attacker's address, the delay grows with every further failure.
    time.sleep(1.1)
    assert attacker.post("/api/v1/auth/login", json=guess).status_code == 401
    again = attacker.post("/api/v1/auth/login", json=guess)
    assert again.status_code == 429 and int(again.headers["Retry-After"]) == 2


def test_concurrent_guesses_are_each_counted_before_the_password_check(tmp_path: Path) -> None:
    server = serve(make_runtime(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite'}"))
    try:
        statuses: list[int] = []
        url = f"{server.http}/api/v1/auth/login"

        def guess(k: int) -> None:
            body = {"username": "disp_east", "password": f"wrong-{k}"}
            statuses.append(httpx.post(url, json=body, timeout=60).status_code)

        threads = [threading.Thread(target=guess, args=(k,)) for k in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Five reached Argon2 at once; later ones only as the growing delay (1 s, 2 s, …) let them.
        assert statuses.count(401) <= 7 and statuses.count(429) >= 23, statuses
    finally:
        server.stop()


def test_an_unknown_user_costs_the_same_work_as_a_known_one(client: TestClient) -> None:
    def timed(user: str) -> float:
        best = []
        for k in range(3):
            started = time.perf_counter()
            client.post("/api/v1/auth/login", json={"username": user, "password": f"wrong-{k}"})
            best.append(time.perf_counter() - started)
        return min(best)

    known, unknown = timed("off_east"), timed("nobody-here")
    assert unknown > 0.5 * known, (known, unknown)  # an unknown name answered in 4 ms told it apart


def test_the_login_limiter_forgets_and_bounds_its_keys() -> None:
    limiter = LoginLimiter(max_failures=2, window_s=0.2, max_delay_s=10)
    for k in range(1000):
        limiter.begin(f"user{k}", "10.0.0.1")
    time.sleep(0.25)
    assert limiter.begin("user0", "10.0.0.1") == 0.0
    assert len(limiter._failures) == 2  # the stale keys went


# -- requests ------------------------------------------------------------------------------------------


def test_a_huge_body_is_refused_before_it_is_read(client: TestClient) -> None:
    huge = b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'", "password": "x"}'
    response = client.post("/api/v1/auth/login", content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_pages_and_files_carry_security_headers_and_the_cookie_can_be_secure(
    tmp_path: Path, db_url: str
) -> None:
    runtime = make_runtime(tmp_path / "site", db_url, {"cookie_secure": "always"})
    with TestClient(create_app(runtime), base_url="http://127.0.0.1:8080") as client:
        for path in ("/console", "/terminal", "/static/common.js", "/healthz"):
            response = client.get(path)
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
            assert response.headers["x-frame-options"] == "DENY", path
        login = client.post("/api/v1/auth/login", json={"username": "off_east", "password": PASSWORD})
        cookie = login.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_changes_from_another_sites_page_are_refused(client: TestClient, runtime: ServiceRuntime) -> None:
    incident_id = incident(runtime)
    officer = bearer(client, "off_east")
    url = f"/api/v1/incidents/{incident_id}/actions"
    body = {"action": "acknowledge"}
    evil = client.post(url, json=body, headers={**officer, "Origin": "http://evil.example"})
    assert evil.status_code == 403 and "origin" in evil.json()["detail"]
    cross = client.post(url, json=body, headers={**officer, "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    login = client.post("/api/v1/auth/login", json={"username": "off_east", "password": PASSWORD},
                        headers={"Origin": "http://evil.example"})  # fmt: skip
    assert login.status_code == 403
    own = client.post(url, json=body, headers={**officer, "Origin": "http://127.0.0.1:8080"})
    assert own.status_code == 200 and own.json()["state"] == "acknowledged"


def test_a_terminal_socket_from_another_sites_page_is_refused(live: LiveServer) -> None:
    import asyncio

    import websockets

    async def attempt(origin: str) -> str:
        try:
            async with websockets.connect(live.ws, origin=origin) as socket:  # type: ignore[arg-type]
                await socket.send(json.dumps({"type": "hello", "token": "x", "terminal_id": "t"}))
                return str(json.loads(await socket.recv())["type"])
        except websockets.exceptions.InvalidStatus as error:
            return f"http {error.response.status_code}"

    assert asyncio.run(attempt("http://evil.example")) == "http 403"
    assert asyncio.run(attempt(f"http://127.0.0.1:{live.port}")) == "error"  # let in; then the bad token is said


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/auth/login", {"username": "off\u0000east", "password": "x" * 9}),
        ("post", "/api/v1/auth/login", {"username": "off_east", "password": "bad\ud800half"}),
        ("post", "/api/v1/incidents/{id}/actions", {"action": "note", "note": "nul \u0000 here"}),
        ("post", "/api/v1/incidents/{id}/actions", {"action": "report", "departments": ["tow\u0000"]}),
        ("get", "/api/v1/incidents/INC%00-1", None),
        ("get", "/api/v1/cameras/K2/states?since=2026-01-01T00:00:00%00", None),
    ],
)
def test_text_the_database_cannot_hold_is_refused_never_a_500(
    client: TestClient, runtime: ServiceRuntime, method: str, path: str, body: dict[str, object] | None
) -> None:
    headers = {**bearer(client, "disp_east"), "Content-Type": "application/json"}
    target = path.replace("{id}", incident(runtime))
    content = json.dumps(body).encode() if body is not None else None  # json.dumps escapes \u0000 and \ud800
    response = client.request(method, target, content=content, headers=headers)
    assert response.status_code == 422, response.text
    assert any(word in response.text for word in ("NUL", "surrogate", "unicode"))


def test_photos_are_checked_by_their_content(client: TestClient, runtime: ServiceRuntime) -> None:
    first, second = incident(runtime), incident(runtime, 2, camera="K1", position=20.0)
    officer = bearer(client, "off_east")
    html = b"<html><script>alert(document.cookie)</script></html>"
    as_png = client.post(f"/api/v1/incidents/{first}/photos", headers=officer,
                         files={"file": ("x.png", html, "image/png")})  # fmt: skip
    assert as_png.status_code == 415
    empty = client.post(f"/api/v1/incidents/{first}/photos", headers=officer,
                        files={"file": ("x.jpg", b"", "image/jpeg")})  # fmt: skip
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    _, jpeg = cv2.imencode(".jpg", np.full((40, 60, 3), 90, np.uint8))
    for incident_id in (first, second):  # the same photo sent for two incidents is evidence of both
        sent = client.post(f"/api/v1/incidents/{incident_id}/photos", headers=officer,
                           files={"file": ("scene.png", jpeg.tobytes(), "image/png")})  # fmt: skip
        assert sent.status_code == 200, sent.text
        (item,) = client.get(f"/api/v1/incidents/{incident_id}", headers=officer).json()["evidence"]
        assert item["media_type"] == "image/jpeg"  # by its content, not by what the upload claimed
        served = client.get(item["url"], headers=officer)
        assert served.headers["content-type"] == "image/jpeg" and served.headers["x-content-type-options"] == "nosniff"
    with runtime.db.sessions() as s:
        assert len(list(s.scalars(select(m.Evidence)))) == 2


def test_an_evidence_path_leading_out_of_the_run_is_not_taken(
    client: TestClient, runtime: ServiceRuntime, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.jpg"
    cv2.imwrite(str(secret), np.full((20, 20, 3), 7, np.uint8))
    camera_dir = runtime.data_dir / "cameras" / "K2" / "run-1"
    (camera_dir / "evidence").mkdir(parents=True)
    cv2.imwrite(str(camera_dir / "evidence" / "ok.jpg"), np.full((20, 20, 3), 9, np.uint8))
    escape = "../" * (len(camera_dir.parts) + 2) + "etc/passwd"
    evidence = {
        "snapshot": str(camera_dir / "evidence" / "ok.jpg"),
        "clip": str(camera_dir / escape),
        "frame": str(secret),
    }
    incident_id = incident(runtime, evidence=evidence)
    items = client.get(f"/api/v1/incidents/{incident_id}", headers=bearer(client, "admin")).json()["evidence"]
    assert [i["kind"] for i in items] == ["snapshot"]
    assert not list((runtime.data_dir / "evidence").rglob("*passwd*"))
