"""An alert decided just before the service dies is delivered after the restart, exactly once.

The service runs as a user runs it (``yingyan serve``, a real process, a real port); a replay
of recorded camera output makes the engine decide an alert; a failure injected right after
the alert's transaction kills the process before anything is sent. Restarted (without the
replay), its outbox still holds the alert, and the terminal that connects receives it once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import websockets
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from tests.service.conftest import PASSWORD, USERS, free_port, service_or_skip, write_site
from yingyan.incidents.events import Event, EventType
from yingyan.service import models as m
from yingyan.service.auth import add_user
from yingyan.service.db import open_database


def _recorded_run(folder: Path) -> Path:
    """What `yingyan run` leaves for K2: a stopped vehicle raised 8 s into the stream."""
    camera = folder / "cameras" / "K2"
    camera.mkdir(parents=True)
    event = Event("K2-stopped_vehicle-t7-30", EventType.STOPPED_VEHICLE, "K2", "T-E1", 3.0, 8.0, (30.0, 1.75), (7,))
    (camera / "events.jsonl").write_text(json.dumps(event.to_json()) + "\n", encoding="utf-8")
    return folder


def _serve(site: Path, port: int, *extra: str, fault: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "YINGYAN_FAULT": "exit-after-alert-commit"} if fault else dict(os.environ)
    env.pop("YINGYAN_FAULT", None) if not fault else None
    command = [sys.executable, "-m", "yingyan.cli", "serve", "--config", str(site), "--port", str(port), *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the service did not come up")


def test_an_alert_decided_before_a_crash_arrives_once_after_the_restart(tmp_path: Path) -> None:
    service_or_skip("127.0.0.1", 1883, "Mosquitto")
    prefix = f"yy-recovery-{os.getpid()}-{int(time.time())}"
    heard: list[str] = []
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{prefix}-sub")
    subscriber.on_connect = lambda c, *_: c.subscribe(f"{prefix}/#", qos=1)
    subscriber.on_message = lambda _c, _u, msg: heard.append(json.loads(msg.payload)["alert"]["alert_id"])
    subscriber.connect("127.0.0.1", 1883)
    subscriber.loop_start()
    site = write_site(tmp_path / "site", {"mqtt": {"topic_prefix": prefix}})
    database = open_database(f"sqlite:///{tmp_path / 'site' / 'data' / 'yingyan.db'}")
    with database.sessions.begin() as s:
        role, districts, _, _ = USERS["off_east"]
        s.add(m.District(id="east", name="城东"))
        s.flush()
        add_user(s, "off_east", PASSWORD, role, districts)
    database.dispose()
    port = free_port()

    # 1. The alert is decided and committed; the process dies before it sends anything.
    crashing = _serve(site, port, "--replay", str(_recorded_run(tmp_path / "run")), "--speed", "4", fault=True)
    try:
        assert crashing.wait(timeout=90) == 70, crashing.stdout.read().decode() if crashing.stdout else ""
    finally:
        if crashing.poll() is None:
            crashing.kill()
    engine = create_engine(f"sqlite:///{tmp_path / 'site' / 'data' / 'yingyan.db'}")
    with Session(engine) as s:
        pending = s.scalars(select(m.Outbox).order_by(m.Outbox.channel)).all()
        assert [(p.channel, p.status) for p in pending] == [("mqtt", "pending"), ("websocket", "pending")]
        assert s.scalars(select(m.Delivery)).all() == []
        alert_id = pending[0].alert_id
    assert heard == []

    # 2. Restarted, without the replay: the terminal connects and gets the alert once.
    service = _serve(site, port, "--no-cameras")
    try:
        _wait_up(port, service)
        token = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/login",
                           json={"username": "off_east", "password": PASSWORD}).json()["token"]  # fmt: skip

        async def terminal() -> list[dict[str, object]]:
            got = []
            async with websockets.connect(f"ws://127.0.0.1:{port}/api/v1/terminal") as socket:
                await socket.send(json.dumps({"type": "hello", "token": token, "terminal_id": "hand-1"}))
                deadline = time.monotonic() + 5.0
                while time.monotonic() < deadline:
                    try:
                        message = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
                    except TimeoutError:
                        break
                    if message["type"] == "alerts":
                        got += message["alerts"]
                        ids = [a["alert_id"] for a in message["alerts"]]
                        await socket.send(json.dumps({"type": "received", "alert_ids": ids}))
            return got

        alerts = asyncio.run(terminal())
        assert [a["alert_id"] for a in alerts] == [alert_id]
        time.sleep(1.0)
        with Session(engine) as s:
            assert [p.status for p in s.scalars(select(m.Outbox))] == ["sent", "sent"]
            delivery = s.scalars(select(m.Delivery)).one()
            assert delivery.terminal_id == "hand-1" and delivery.received_at is not None
        assert heard == [alert_id]
    finally:
        service.send_signal(signal.SIGINT)
        try:
            assert service.wait(timeout=30) == 0
        finally:
            if service.poll() is None:
                service.kill()
        engine.dispose()
        subscriber.loop_stop()
        subscriber.disconnect()
