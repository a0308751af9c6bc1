"""The alert path never stops silently: a database fault does not end the ingest, ``/healthz`` says
what fails and why, no channel waits on another, and messages given up on go out when their
channel returns. (The long faults with the real services are in ``test_faults.py``.)"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tests.service.conftest import Broker, LiveServer, free_port, make_runtime, serve
from tests.service.test_push import Terminal, publish
from yingyan.service import models as m
from yingyan.service.config import MqttConfig
from yingyan.service.push.mqtt import MqttPublisher


def test_a_database_error_while_storing_an_incident_delays_it_and_is_reported(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = live.runtime.store
    real = store.ingest_incident
    failures = {"left": 6}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise OperationalError("INSERT …", {}, sqlite3.OperationalError("database or disk is full"))
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "ingest_incident", flaky)
    terminal = Terminal(live, "off_east", "hand-1")
    seen: list[dict[str, Any]] = []

    async def scenario() -> None:
        listening = asyncio.create_task(terminal.listen(8.0, until=2))
        await asyncio.sleep(0.5)
        publish(live.runtime, 1)
        async with httpx.AsyncClient() as client:
            for _ in range(8):
                await asyncio.sleep(0.2)
                seen.append((await client.get(f"{live.http}/healthz")).json())
        publish(live.runtime, 2, camera="K1", position=20.0)  # the ingest thread is alive: this one comes too
        await listening

    asyncio.run(scenario())
    assert sorted(a["camera_id"] for a in terminal.alerts()) == ["K1", "K2"]
    ingest = [f for h in seen for f in h["faults"] if f["component"] == "ingest"]
    assert ingest and "database or disk is full" in ingest[0]["reason"], seen
    assert seen[0]["status"] == "degraded"
    final = httpx.get(f"{live.http}/healthz").json()
    assert final["status"] == "ok" and final["faults"] == []


def test_health_probes_a_write_so_a_locked_database_is_reported(tmp_path: Path) -> None:
    server = serve(make_runtime(tmp_path / "site", f"sqlite:///{tmp_path / 'locked.db'}"))
    try:
        assert httpx.get(f"{server.http}/healthz").json()["status"] == "ok"
        holder = sqlite3.connect(tmp_path / "locked.db", timeout=1)
        holder.execute("BEGIN EXCLUSIVE")  # another writer holds the file (a backup, a migration, a stuck tool)
        try:
            during = httpx.get(f"{server.http}/healthz", timeout=10).json()
        finally:
            holder.rollback()
            holder.close()
        assert during["status"] == "degraded" and during["database"] is False
        (fault,) = [f for f in during["faults"] if f["component"] == "database"]
        assert "locked" in fault["reason"]
        after = httpx.get(f"{server.http}/healthz").json()
        assert after["status"] == "ok" and after["database"] is True
    finally:
        server.stop()


class _Hanging(BaseHTTPRequestHandler):
    """A platform that takes the request and answers nothing until ``release`` is set."""

    release: threading.Event
    got: list[str]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.release.wait(30)
        self.got.append(self.headers["Idempotency-Key"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hanging_hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[dict[str, Any], threading.Event, list[str]]]:
    monkeypatch.setenv("YY_TEST_HOOK_KEY", "s3cret-key")
    release = threading.Event()
    handler = type("Hanging", (_Hanging,), {"release": release, "got": []})
    platform = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=platform.serve_forever, daemon=True).start()
    hook = {"name": "slow", "url": f"http://127.0.0.1:{platform.server_port}/hook", "secret_env": "YY_TEST_HOOK_KEY",
            "timeout_s": 3.0}  # fmt: skip
    yield hook, release, handler.got
    release.set()
    platform.shutdown()


def test_a_dead_broker_and_a_hanging_webhook_do_not_hold_up_the_terminals(
    tmp_path: Path, db_url: str, hanging_hook: tuple[dict[str, Any], threading.Event, list[str]]
) -> None:
    hook, release, got = hanging_hook
    service = {"mqtt": {"port": free_port(), "timeout_s": 5.0}, "webhooks": [hook]}  # nothing listens on that port
    server = serve(make_runtime(tmp_path / "site", db_url, service))
    try:
        terminal = Terminal(server, "disp_east", "desk-1")

        async def scenario() -> None:
            listening = asyncio.create_task(terminal.listen(12.0, until=6))
            await asyncio.sleep(0.5)
            for k in range(6):
                publish(server.runtime, k + 1, camera="K1" if k % 2 else "K2", position=100.0 * k)
                await asyncio.sleep(0.5)
            await listening

        asyncio.run(scenario())
        latencies = [m["received_at"] - a["decided_epoch"] for m in terminal.messages if m["type"] == "alerts"
                     for a in m["alerts"]]  # fmt: skip
        assert len(latencies) == 6 and max(latencies) < 0.5, latencies
        deadline = time.monotonic() + 6  # the webhook's requests time out after 3 s
        faults: dict[str, str] = {}
        while "webhook:slow" not in faults and time.monotonic() < deadline:
            faults = {f["component"]: f["reason"] for f in httpx.get(f"{server.http}/healthz").json()["faults"]}
            time.sleep(0.2)
        assert "not connected" in faults["mqtt"] and "ReadTimeout" in faults["webhook:slow"], faults
        # The platform answers again: what waited goes out within a few seconds.
        release.set()
        deadline = time.monotonic() + 8
        while len(set(got)) < 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(set(got)) == 6
    finally:
        server.stop()


def subscriber(broker: Broker, prefix: str, heard: list[str]) -> mqtt.Client:
    """A platform's subscriber with a session the broker keeps across its restarts (QoS 1)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{prefix}-sub", clean_session=False)
    client.reconnect_delay_set(1, 2)
    client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/#", qos=1)
    client.on_message = lambda _c, _u, msg: heard.append(json.loads(msg.payload)["alert"]["alert_id"])
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def test_messages_given_up_on_go_out_when_the_broker_returns(tmp_path: Path, db_url: str, broker: Broker) -> None:
    prefix = f"yy-return-{broker.port}"
    heard: list[str] = []
    broker.start()
    platform = subscriber(broker, prefix, heard)
    time.sleep(0.5)
    broker.stop()  # the broker is down when the alert is decided
    service = {"mqtt": {"port": broker.port, "topic_prefix": prefix}, "outbox_max_attempts": 1}
    server = serve(make_runtime(tmp_path / "site", db_url, service))
    try:
        publish(server.runtime)
        deadline = time.monotonic() + 10
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            health = httpx.get(f"{server.http}/healthz").json()
            if health["outbox_failed"] == 1:
                break
            time.sleep(0.2)
        assert health["outbox_failed"] == 1 and health["status"] == "degraded"  # given up, and said so
        broker.start()
        started = time.monotonic()
        while not heard and time.monotonic() - started < 10:
            time.sleep(0.1)
        assert len(heard) == 1 and time.monotonic() - started < 5.0
        time.sleep(0.5)
        health = httpx.get(f"{server.http}/healthz").json()
        assert health["outbox_failed"] == 0 and health["status"] == "ok", health
        with server.runtime.db.sessions() as s:
            assert [r.status for r in s.scalars(select(m.Outbox).where(m.Outbox.channel == "mqtt"))] == ["sent"]
    finally:
        server.stop()
        platform.loop_stop()
        platform.disconnect()


def test_two_services_on_one_broker_use_their_own_client_ids() -> None:
    config = MqttConfig()
    ids = {MqttPublisher(config).client_id for _ in range(2)}
    assert len(ids) == 2 and all(i.startswith("yingyan-") and len(i) <= 64 for i in ids)
