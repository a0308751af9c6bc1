"""The API as the console and terminals use it: login, the incident loop, reports, evidence, errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import PASSWORD, engine_incident, make_runtime
from yingyan.service.api import create_app
from yingyan.service.runtime import ServiceRuntime


@pytest.fixture
def runtime(tmp_path: Path, db_url: str) -> ServiceRuntime:
    return make_runtime(tmp_path / "site", db_url)


@pytest.fixture
def client(runtime: ServiceRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def login(client: TestClient, user: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def ingest(runtime: ServiceRuntime, **kwargs: object) -> str:
    result = runtime.store.ingest_incident(runtime.run, engine_incident(**kwargs))  # type: ignore[arg-type]
    return result.incident_id


def test_the_whole_loop_from_alert_to_close_with_its_report(client: TestClient, runtime: ServiceRuntime) -> None:
    incident_id = ingest(runtime)
    officer, dispatcher = login(client, "off_east"), login(client, "disp_east")
    listed = client.get("/api/v1/incidents", headers=officer).json()
    assert [i["id"] for i in listed] == [incident_id] and listed[0]["state"] == "alerted"
    steps = [
        (officer, {"action": "acknowledge"}),
        (officer, {"action": "confirm", "note": "看到了，一辆白色货车停在快车道"}),
        (dispatcher, {"action": "dispatch", "unit": "交警三中队 警车 023"}),
        (officer, {"action": "arrive"}),
        (officer, {"action": "clear", "note": "拖车已拖离"}),
        (dispatcher, {"action": "report", "departments": ["tow", "road"]}),
        (dispatcher, {"action": "close"}),
    ]
    for who, body in steps:
        response = client.post(f"/api/v1/incidents/{incident_id}/actions", json=body, headers=who)
        assert response.status_code == 200, (body, response.text)
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=dispatcher).json()
    assert detail["state"] == "closed"
    assert [s["action"] for s in detail["steps"]] == [
        "detect", "alert", "acknowledge", "confirm", "dispatch", "arrive", "clear", "report", "close",
    ]  # fmt: skip
    assert [s["actor"] for s in detail["steps"]][2:] == ["off_east"] * 2 + ["disp_east", "off_east", "off_east"] + [
        "disp_east"
    ] * 2
    assert detail["kpis"]["time_to_acknowledge_s"] is not None and detail["kpis"]["roadway_clearance_s"] is not None
    report = client.get(f"/api/v1/incidents/{incident_id}/report", headers=dispatcher).json()
    assert {d["code"] for d in report["departments"]} == {"tow", "road"}
    assert any("dispatch" in t["what"] for t in report["timeline"])
    page = client.get(f"/api/v1/incidents/{incident_id}/report.html", headers=dispatcher)
    assert page.status_code == 200 and "交通事件处置报告" in page.text and "交警三中队 警车 023" in page.text
    english = client.get(f"/api/v1/incidents/{incident_id}/report.html?lang=en", headers=dispatcher)
    assert "Traffic incident report" in english.text and "Tow and clearance" in english.text


def test_refusals_say_why_and_change_nothing(client: TestClient, runtime: ServiceRuntime) -> None:
    incident_id = ingest(runtime)
    officer, viewer = login(client, "off_east"), login(client, "viewer_east")
    wrong_state = client.post(f"/api/v1/incidents/{incident_id}/actions", json={"action": "close"}, headers=officer)
    assert wrong_state.status_code == 403  # an officer may never close
    dispatcher = login(client, "disp_east")
    early = client.post(f"/api/v1/incidents/{incident_id}/actions", json={"action": "close"}, headers=dispatcher)
    assert early.status_code == 409 and "alerted" in early.json()["detail"]
    no_reason = client.post(f"/api/v1/incidents/{incident_id}/actions", json={"action": "dismiss"}, headers=dispatcher)
    assert no_reason.status_code == 409 and "reason" in no_reason.json()["detail"]
    read_only = client.post(f"/api/v1/incidents/{incident_id}/actions", json={"action": "acknowledge"}, headers=viewer)
    assert read_only.status_code == 403
    bad = client.post(f"/api/v1/incidents/{incident_id}/actions", json={"action": "teleport"}, headers=dispatcher)
    assert bad.status_code == 422 and "action" in bad.json()["detail"]
    unknown_field = client.post(f"/api/v1/incidents/{incident_id}/actions", json={"action": "note", "x": 1},
                                headers=dispatcher)  # fmt: skip
    assert unknown_field.status_code == 422
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=dispatcher).json()
    assert detail["state"] == "alerted" and [s["action"] for s in detail["steps"]] == ["detect", "alert"]


def test_another_district_sees_nothing_of_an_incident(client: TestClient, runtime: ServiceRuntime) -> None:
    incident_id = ingest(runtime)
    west = login(client, "disp_west")
    assert client.get("/api/v1/incidents", headers=west).json() == []
    assert client.get(f"/api/v1/incidents/{incident_id}", headers=west).status_code == 404
    assert client.get(f"/api/v1/incidents/{incident_id}/report.html", headers=west).status_code == 404
    act = client.post(f"/api/v1/incidents/{incident_id}/actions", json={"action": "acknowledge"}, headers=west)
    assert act.status_code == 404
    assert [c["id"] for c in client.get("/api/v1/cameras", headers=west).json()] == ["K3"]
    # The liaison of the tow service sees it only once it is reported to them.
    liaison, dispatcher = login(client, "liaison_tow"), login(client, "disp_east")
    assert client.get(f"/api/v1/incidents/{incident_id}", headers=liaison).status_code == 404
    for body in ({"action": "confirm"}, {"action": "dispatch", "unit": "U1"}, {"action": "arrive"}, {"action": "clear"},
                 {"action": "report", "departments": ["tow"]}):  # fmt: skip
        assert client.post(f"/api/v1/incidents/{incident_id}/actions", json=body, headers=dispatcher).status_code == 200
    assert client.get(f"/api/v1/incidents/{incident_id}", headers=liaison).json()["actions"] == ["note"]
    answer = {"action": "note", "note": "拖车 15 分钟到"}
    assert client.post(f"/api/v1/incidents/{incident_id}/actions", json=answer, headers=liaison).status_code == 200


def test_evidence_is_served_only_to_who_may_see_its_incident(
    client: TestClient, runtime: ServiceRuntime, tmp_path: Path
) -> None:
    camera_dir = runtime.data_dir / "cameras" / "K2" / "run-1"  # where this run's camera side writes
    (camera_dir / "evidence").mkdir(parents=True)
    image = np.full((90, 160, 3), 120, np.uint8)
    cv2.imwrite(str(camera_dir / "evidence" / "ev1.jpg"), image)
    snapshot = str(camera_dir / "evidence" / "ev1.jpg")
    incident_id = ingest(runtime, evidence={"snapshot": snapshot})
    east, west = login(client, "off_east"), login(client, "off_west")
    (item,) = client.get(f"/api/v1/incidents/{incident_id}", headers=east).json()["evidence"]
    assert item["status"] == "stored" and item["media_type"] == "image/jpeg"
    got = client.get(item["url"], headers=east)
    assert got.status_code == 200 and got.content[:2] == b"\xff\xd8"
    assert client.get(item["url"], headers=west).status_code == 404
    client.cookies.clear()  # the test client keeps the last login's cookie, as a browser would
    assert client.get(item["url"]).status_code == 401
    # An officer adds a photo from the scene.
    _, photo = cv2.imencode(".jpg", image)
    files = {"file": ("scene.jpg", photo.tobytes(), "image/jpeg")}
    added = client.post(f"/api/v1/incidents/{incident_id}/photos", files=files, data={"note": "现场"}, headers=east)
    assert added.status_code == 200
    kinds = [e["kind"] for e in client.get(f"/api/v1/incidents/{incident_id}", headers=east).json()["evidence"]]
    assert sorted(kinds) == ["photo", "snapshot"]
    not_image = {"file": ("x.txt", b"hello", "text/plain")}
    assert client.post(f"/api/v1/incidents/{incident_id}/photos", files=not_image, headers=east).status_code == 415


def test_logins_wrong_passwords_limits_logout_and_disabled_users(client: TestClient, runtime: ServiceRuntime) -> None:
    assert client.get("/api/v1/incidents").status_code == 401
    wrong = client.post("/api/v1/auth/login", json={"username": "off_east", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong user name or password"
    headers = login(client, "off_east")
    assert client.get("/api/v1/me", headers=headers).json()["role"] == "officer"
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get("/api/v1/me").status_code == 401  # its cookie went with it
    # Five failures for one user: the sixth attempt is refused even with the right password.
    for _ in range(5):
        client.post("/api/v1/auth/login", json={"username": "disp_east", "password": "guess"})
    limited = client.post("/api/v1/auth/login", json={"username": "disp_east", "password": PASSWORD})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    # A disabled user's session stops working at once.
    session = login(client, "viewer_east")
    from sqlalchemy import select

    from yingyan.service import models as m

    with runtime.db.sessions.begin() as s:
        s.scalar(select(m.User).where(m.User.username == "viewer_east")).disabled = True  # type: ignore[union-attr]
    assert client.get("/api/v1/me", headers=session).status_code == 401


def test_errors_are_short_messages_never_traces(client: TestClient) -> None:
    headers = login(client, "admin")
    for response in (
        client.get("/api/v1/incidents?limit=0", headers=headers),
        client.get("/api/v1/kpis?since=yesterday", headers=headers),
        client.post("/api/v1/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}),
        client.get("/api/v1/incidents/../../etc/passwd", headers=headers),
    ):
        assert 400 <= response.status_code < 500
        body = response.json()
        assert set(body) == {"detail"} and "Traceback" not in body["detail"]


def test_health_and_metrics_report_the_service(client: TestClient, runtime: ServiceRuntime) -> None:
    ingest(runtime)
    health = client.get("/healthz").json()
    assert health["database"] is True and {c["camera_id"] for c in health["cameras"]} == {"K1", "K2", "K3"}
    assert all(c["stale"] for c in health["cameras"])  # no camera pipeline runs in this test
    deadline = time.monotonic() + 5
    while client.get("/healthz").json()["outbox_pending"] and time.monotonic() < deadline:
        time.sleep(0.1)
    text = client.get("/metrics").text
    assert 'yingyan_incidents{state="alerted"} 1.0' in text
    assert 'yingyan_push_sent_total{channel="websocket",kind="alert"} 1.0' in text
    assert "yingyan_alert_latency_seconds_bucket" in text


def test_kpis_count_dismissals_per_camera_day(client: TestClient, runtime: ServiceRuntime) -> None:
    from yingyan.incidents.engine import LaneInterval

    states = [LaneInterval("K2", "K2-L1", "east", 60.0 * k, 60.0, 900.0, 45.0, 20.0, 0) for k in range(720)]
    runtime.store.ingest_lane_states(runtime.run, states, [{} for _ in states])  # half a day watched
    first = ingest(runtime)
    ingest(runtime, number=2, camera="K1", position=20.0)
    dispatcher = login(client, "disp_east")
    body = {"action": "dismiss", "reason": "阴影误报"}
    assert client.post(f"/api/v1/incidents/{first}/actions", json=body, headers=dispatcher).status_code == 200
    window = {"since": runtime.run.at(0).isoformat(), "until": runtime.run.at(86400).isoformat()}  # the run's day
    kpis = client.get("/api/v1/kpis", params=window, headers=dispatcher).json()
    assert kpis["incidents"] == 2 and kpis["alerted"] == 2
    assert kpis["false_alarms"]["K2"]["dismissed"] == 1
    assert kpis["false_alarms"]["K2"]["camera_days"] == pytest.approx(0.5)
    assert kpis["false_alarms"]["K2"]["per_camera_day"] == pytest.approx(2.0)
    assert kpis["false_alarms"]["K2"]["reasons"] == {"阴影误报": 1}


def test_no_password_token_or_key_reaches_the_logs(
    client: TestClient, runtime: ServiceRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    client.post("/api/v1/auth/login", json={"username": "off_east", "password": "my-wrong-Secret-9"})
    token = login(client, "off_east")["Authorization"].split()[1]
    client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    ingest(runtime)
    logged = caplog.text
    assert "failed login for 'off_east'" in logged  # the attempt is logged…
    assert "my-wrong-Secret-9" not in logged and PASSWORD not in logged and token not in logged  # …its secrets not


def test_json_logs_carry_the_ids_of_what_they_are_about() -> None:
    import json
    import logging

    from yingyan.service.logs import JsonFormatter

    record = logging.LogRecord("yingyan.x", logging.WARNING, __file__, 1, "alert %s decided", ("ALR-1",), None)
    record.incident_id, record.camera_id = "INC-20261201-0001", "K2"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "alert ALR-1 decided" and line["level"] == "warning"
    assert line["incident_id"] == "INC-20261201-0001" and line["camera_id"] == "K2" and "alert_id" not in line
