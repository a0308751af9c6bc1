"""Alert push as terminals and other systems receive it: WebSocket, real MQTT, signed webhooks,
catch-up after a reconnect, resends, folding of repeats, escalation."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import websockets
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from tests.service.conftest import PASSWORD, LiveServer, engine_incident, make_runtime, serve, service_or_skip
from yingyan.bus import IncidentReport
from yingyan.service import models as m
from yingyan.service.push.webhook import verify
from yingyan.service.runtime import ServiceRuntime


def token(server: LiveServer, user: str) -> str:
    response = httpx.post(f"{server.http}/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    response.raise_for_status()
    return str(response.json()["token"])


def publish(runtime: ServiceRuntime, number: int = 1, run_key: str | None = None, revision: int = 1,
            **changes: Any) -> None:  # fmt: skip
    """An incident report on the bus, as the engine publishes it."""
    runtime.bus.publish(IncidentReport(engine_incident(number, **changes), revision, run_key or runtime.run.run_key))


class Terminal:
    """A terminal over a real WebSocket: what it received, and receipts sent back (or not)."""

    def __init__(self, server: LiveServer, user: str, terminal_id: str, receipts: bool = True) -> None:
        self.url, self.token, self.terminal_id, self.receipts = server.ws, token(server, user), terminal_id, receipts
        self.messages: list[dict[str, Any]] = []

    async def listen(self, seconds: float, until: int | None = None) -> list[dict[str, Any]]:
        """Connect, receive for ``seconds`` (or until ``until`` alerts came), disconnect; the alerts received."""
        async with websockets.connect(self.url) as socket:
            await socket.send(json.dumps({"type": "hello", "token": self.token, "terminal_id": self.terminal_id}))
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    raw = await asyncio.wait_for(socket.recv(), timeout=max(deadline - time.monotonic(), 0.01))
                except TimeoutError:
                    break
                message = json.loads(raw)
                message["received_at"] = time.time()
                self.messages.append(message)
                if message["type"] == "alerts" and self.receipts:
                    ids = [a["alert_id"] for a in message["alerts"]]
                    await socket.send(json.dumps({"type": "received", "alert_ids": ids}))
                if until is not None and len(self.alerts()) >= until:
                    await asyncio.sleep(0.3)  # let the receipt reach the server
                    break
        return self.alerts()

    def alerts(self, kind: str = "alerts") -> list[dict[str, Any]]:
        if kind == "alerts":
            return [a for msg in self.messages if msg["type"] == "alerts" for a in msg["alerts"]]
        return [msg["alert"] for msg in self.messages if msg["type"] == kind]


def test_an_alert_reaches_the_districts_terminals_within_a_second_and_its_receipt_is_recorded(
    live: LiveServer,
) -> None:
    east, west = Terminal(live, "off_east", "hand-1"), Terminal(live, "off_west", "hand-9")

    async def scenario() -> None:
        listening = asyncio.gather(east.listen(3.0, until=1), west.listen(3.0))
        await asyncio.sleep(0.8)  # both connected
        publish(live.runtime)
        await listening

    asyncio.run(scenario())
    (alert,) = east.alerts()
    assert alert["camera_id"] == "K2" and alert["cause"] == "stopped_vehicle" and alert["district"] == "east"
    latency = east.messages[-1]["received_at"] - alert["decided_epoch"]
    assert 0 <= latency < 1.0, latency
    assert west.alerts() == []  # another district's terminal hears nothing of it
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with live.runtime.db.sessions() as s:
            delivery = s.scalar(select(m.Delivery).where(m.Delivery.terminal_id == "hand-1"))
            if delivery is not None and delivery.received_at is not None:
                break
        time.sleep(0.1)
    assert delivery is not None and delivery.received_at is not None
    assert "yingyan_alert_latency_seconds_count 1.0" in httpx.get(f"{live.http}/metrics").text


def test_a_terminal_that_reconnects_gets_what_it_missed_once_and_repeats_are_folded(live: LiveServer) -> None:
    terminal = Terminal(live, "off_east", "hand-2")
    publish(live.runtime, 1)
    first = asyncio.run(terminal.listen(3.0, until=1))
    assert [a["incident_id"] for a in first] == [first[0]["incident_id"]]
    # Offline: a second incident; the first one reported again by the engine (a later revision),
    # and once more by an engine that restarted (another run, the same stopped vehicle).
    publish(live.runtime, 2, camera="K1", position=20.0)
    publish(live.runtime, 1, revision=2, severity=3)
    publish(live.runtime, 7, run_key="restarted-engine", position=533.0)
    time.sleep(1.5)
    again = asyncio.run(Terminal(live, "off_east", "hand-2").listen(3.0))
    assert [a["camera_id"] for a in again] == ["K1"]  # only what it had not received
    with live.runtime.db.sessions() as s:
        incidents = list(s.scalars(select(m.Incident)))
        alerts = {a.incident_id: a for a in s.scalars(select(m.Alert))}
    assert len(incidents) == 2 and len(alerts) == 2
    folded = alerts[first[0]["incident_id"]]
    assert folded.folded == 1 and folded.severity == 3


def test_an_alert_a_terminal_does_not_confirm_is_sent_again(tmp_path: Path, db_url: str) -> None:
    server = serve(make_runtime(tmp_path / "site", db_url, {"resend_s": 1.0}))
    try:
        silent = Terminal(server, "off_east", "hand-3", receipts=False)

        async def scenario() -> None:
            listening = silent.listen(4.0)
            await asyncio.sleep(0.5)
            publish(server.runtime)
            await listening

        asyncio.run(scenario())
        ids = [a["alert_id"] for a in silent.alerts()]
        assert len(ids) >= 2 and len(set(ids)) == 1  # the same alert again, until it is confirmed
    finally:
        server.stop()


@pytest.fixture
def mqtt_prefix() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """A subscriber on the local Mosquitto, on a topic prefix of this test's own."""
    service_or_skip("127.0.0.1", 1883, "Mosquitto")
    prefix = f"yy-test-{uuid.uuid4().hex[:8]}"
    received: list[tuple[str, dict[str, Any]]] = []
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{prefix}-sub")
    client.on_connect = lambda c, *_: (c.subscribe(f"{prefix}/#", qos=1), ready.set())
    client.on_message = lambda _c, _u, msg: received.append((msg.topic, json.loads(msg.payload)))
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    assert ready.wait(5)
    time.sleep(0.3)
    yield prefix, received
    client.loop_stop()
    client.disconnect()


def test_alerts_go_out_over_real_mqtt_by_district_and_severity(
    tmp_path: Path, db_url: str, mqtt_prefix: tuple[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    prefix, received = mqtt_prefix
    server = serve(make_runtime(tmp_path / "site", db_url, {"mqtt": {"topic_prefix": prefix}}))
    try:
        publish(server.runtime, severity=3)
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.1)
        assert received, "no MQTT message"
        topic, body = received[0]
        assert topic == f"{prefix}/alerts/east/3" and body["type"] == "alert"
        assert body["alert"]["cause"] == "stopped_vehicle" and body["alert"]["camera_id"] == "K2"
        assert httpx.get(f"{server.http}/healthz").json()["mqtt"] is True
    finally:
        server.stop()


class _Receiver(BaseHTTPRequestHandler):
    """A platform that receives webhooks: answers 500 to the first ``fail`` requests."""

    log: list[tuple[dict[str, str], bytes]]
    fail: list[int]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.log.append((dict(self.headers), body))
        status = 500 if self.fail[0] > 0 else 200
        self.fail[0] -= 1
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhooks_are_signed_and_retried_until_delivered(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YY_TEST_HOOK_KEY", "s3cret-key")
    handler = type("Receiver", (_Receiver,), {"log": [], "fail": [1]})
    platform = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=platform.serve_forever, daemon=True).start()
    hook = {
        "name": "platform",
        "url": f"http://127.0.0.1:{platform.server_port}/hook",
        "secret_env": "YY_TEST_HOOK_KEY",
    }
    server = serve(make_runtime(tmp_path / "site", db_url, {"webhooks": [hook]}))
    try:
        publish(server.runtime)
        deadline = time.monotonic() + 10
        while len(handler.log) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(handler.log) == 2, "the failed delivery was not retried"
        headers, body = handler.log[-1]
        assert verify(b"s3cret-key", headers["X-Yingyan-Timestamp"], body, headers["X-Yingyan-Signature"])
        assert not verify(b"other-key", headers["X-Yingyan-Timestamp"], body, headers["X-Yingyan-Signature"])
        assert headers["Idempotency-Key"].startswith("ALR-") and json.loads(body)["alert"]["district"] == "east"
        with server.runtime.db.sessions() as s:
            row = s.scalar(select(m.Outbox).where(m.Outbox.channel == "webhook:platform"))
            assert row is not None and row.status == "sent" and row.attempts == 2 and "500" in row.last_error
    finally:
        server.stop()
        platform.shutdown()


def test_an_alert_nobody_acknowledges_goes_to_the_supervisor_and_the_next_channel(
    tmp_path: Path, db_url: str, mqtt_prefix: tuple[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    prefix, received = mqtt_prefix
    service = {
        "mqtt": {"topic_prefix": prefix},
        "escalation": {"after_s": 5, "repeat": 1, "channels": ["websocket", "mqtt"]},
    }
    server = serve(make_runtime(tmp_path / "site", db_url, service))
    try:
        supervisor, officer = Terminal(server, "disp_east", "desk-1"), Terminal(server, "off_east", "hand-4")

        async def scenario() -> None:
            listening = asyncio.gather(supervisor.listen(8.5), officer.listen(8.5))
            await asyncio.sleep(0.5)
            publish(server.runtime)
            await listening

        asyncio.run(scenario())
        assert [e["escalation"] for e in supervisor.alerts("escalation")] == [1]
        assert officer.alerts("escalation") == []  # an officer who is no supervisor is not the next level
        assert [t for t, _ in received] == [f"{prefix}/alerts/east/2", f"{prefix}/escalations/east"]
        with server.runtime.db.sessions() as s:
            notes = [st.note for st in s.scalars(select(m.Step).where(m.Step.action == "note"))]
        assert any(n.startswith("escalation 1") for n in notes)
    finally:
        server.stop()


def test_repeated_engine_reports_do_not_alert_twice(live: LiveServer) -> None:
    incident = engine_incident()
    for revision in (1, 2, 3):
        live.runtime.bus.publish(IncidentReport(replace(incident, lanes_blocked=revision), revision, "run"))
    terminal = Terminal(live, "disp_east", "desk-2")
    alerts = asyncio.run(terminal.listen(2.5))
    assert len(alerts) == 1
