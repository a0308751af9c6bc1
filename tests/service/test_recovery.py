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


def test_a_kill_in_a_burst_sends_no_terminal_an_alert_twice(tmp_path: Path) -> None:
    """``kill -9`` in a burst of 400 alerts: after the restart every alert decided reaches every terminal
    once (terminals say in their hello what they hold); the webhook platform may see a message again
    (at least once, with its Idempotency-Key), no more than were in flight."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.service.test_faults import RecordingTerminal
    from tests.web.conftest import ARTIFACTS

    os.environ["YY_BURST_HOOK_KEY"] = "burst-key"
    keys: list[str] = []

    class Platform(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()
            keys.append(self.headers["Idempotency-Key"])

        def log_message(self, *args: object) -> None:
            pass

    platform = ThreadingHTTPServer(("127.0.0.1", 0), Platform)
    threading.Thread(target=platform.serve_forever, daemon=True).start()
    hook = {"name": "platform", "url": f"http://127.0.0.1:{platform.server_port}/hook",
            "secret_env": "YY_BURST_HOOK_KEY"}  # fmt: skip
    site = write_site(tmp_path / "site", {"webhooks": [hook]})
    database = open_database(f"sqlite:///{tmp_path / 'site' / 'data' / 'yingyan.db'}")
    with database.sessions.begin() as s:
        s.add(m.District(id="east", name="城东"))
        s.flush()
        for user in ("disp_east", "off_east"):
            role, districts, _, _ = USERS[user]
            add_user(s, user, PASSWORD, role, districts)
    database.dispose()
    port = free_port()
    command = [sys.executable, "-m", "tests.service.burst_server", str(site), str(port)]
    cwd = Path(__file__).resolve().parents[2]

    class Live:  # what RecordingTerminal needs of a server
        http, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/api/v1/terminal"

    first = subprocess.Popen([*command, "1", "400", "0.01"], cwd=cwd)
    terminals: list[RecordingTerminal] = []
    try:
        _wait_up(port, first)
        terminals = [RecordingTerminal(Live, "disp_east", "desk-1"), RecordingTerminal(Live, "off_east", "hand-1")]  # type: ignore[arg-type]
        for terminal in terminals:
            terminal.start()
        deadline = time.monotonic() + 60
        while min(len(t.arrivals) for t in terminals) < 120 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)  # mid-burst: some alerts received, some sent, some only decided
        first.wait(timeout=10)
        killed_with = [len(t.arrivals) for t in terminals]
        # Without a fault nothing goes out twice: a row the dispatcher read as pending while a lane marked it sent
        # once went out again (up to 9 repeats in a burst, before any kill).
        assert len(keys) == len(set(keys)), ("repeated before the kill", len(keys) - len(set(keys)))
        assert all(n < 400 for n in killed_with), killed_with
        second = subprocess.Popen([*command, "1", "0", "0"], cwd=cwd)  # the same service, restarted
        try:
            _wait_up(port, second)
            engine = create_engine(f"sqlite:///{tmp_path / 'site' / 'data' / 'yingyan.db'}")
            with Session(engine) as s:
                decided = set(s.scalars(select(m.Alert.id)))
            engine.dispose()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(
                {a for a, _, _ in t.arrivals} >= decided for t in terminals
            ):
                time.sleep(0.2)
            deadline = time.monotonic() + 30
            while len(set(keys)) < len(decided) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            second.send_signal(signal.SIGINT)
            try:
                second.wait(timeout=30)
            finally:
                if second.poll() is None:
                    second.kill()
        for terminal in terminals:
            ids = [a for a, _, _ in terminal.arrivals]
            assert set(ids) == decided, (terminal.terminal_id, len(set(ids)), len(decided))
            assert len(ids) == len(set(ids)), (terminal.terminal_id, len(ids) - len(set(ids)), "sent twice")
        assert set(keys) == decided
        record = {"fault": "kill -9 in a burst of 400", "alerts decided before the kill": len(decided),
                  "received by the terminals at the kill": killed_with, "terminal duplicates": 0,
                  "webhook repeats": len(keys) - len(set(keys))}  # fmt: skip
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / "faults.json"
        kept = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        path.write_text(json.dumps({**kept, "kill -9": record}, indent=1, ensure_ascii=False), encoding="utf-8")
        # At most what was in flight at the kill: each of the webhook lane's 4 workers holds one row from its
        # request until its "sent" is committed.
        assert len(keys) - len(set(keys)) <= 4, len(keys) - len(set(keys))
    finally:
        for terminal in terminals:
            terminal.stop()
        if first.poll() is None:
            first.kill()
        platform.shutdown()
