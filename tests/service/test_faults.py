"""Faults with the real pieces, each during a burst of incidents: the SQLite file locked by another
writer, PostgreSQL's connections killed and the server unreachable, the data folder's disk full,
the MQTT broker down for a minute, a webhook that hangs.

For each: while it lasts ``/healthz`` says what fails and why; once it clears, alerting resumes by
itself within 5 s; every alert reaches every terminal, and none reaches a (user, terminal) twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import websockets
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, text

from tests.service.conftest import PG_ROOT, Broker, LiveServer, free_port, make_runtime, pg_schema, serve
from tests.service.test_push import publish, token
from tests.web.conftest import ARTIFACTS

pytestmark = pytest.mark.slow

RESUME_S = 5.0  # after a fault clears, what waited arrives within this


# -- the harness -------------------------------------------------------------------------------------


class RecordingTerminal:
    """A terminal as a handheld runs it: connected throughout (reconnecting after a drop, its hello
    listing what it holds), confirming every alert; each arrival recorded with its time."""

    def __init__(self, server: LiveServer, user: str, terminal_id: str) -> None:
        self.server, self.terminal_id = server, terminal_id
        self.token = token(server, user)
        self.arrivals: list[tuple[str, float, dict[str, Any]]] = []  # alert id, monotonic time, payload
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        self._thread.start()
        assert self.connected.wait(10), "the terminal did not connect"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                async with websockets.connect(self.server.ws, open_timeout=5) as ws:
                    have = sorted({a for a, _, _ in self.arrivals})
                    await ws.send(json.dumps({"type": "hello", "token": self.token, "terminal_id": self.terminal_id,
                                              "have": have}))  # fmt: skip
                    while not self._stop.is_set():
                        try:
                            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=0.2))
                        except TimeoutError:
                            continue
                        if message["type"] == "welcome":
                            self.connected.set()
                        if message["type"] == "alerts":
                            now = time.monotonic()
                            self.arrivals += [(a["alert_id"], now, a) for a in message["alerts"]]
                            ids = [a["alert_id"] for a in message["alerts"]]
                            await ws.send(json.dumps({"type": "received", "alert_ids": ids}))
            except (OSError, websockets.exceptions.WebSocketException, TimeoutError):
                await asyncio.sleep(1.0)


class HealthWatch:
    """``/healthz`` every half second: (monotonic time, answer or the error)."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.seen: list[tuple[float, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            at = time.monotonic()
            try:
                self.seen.append((at, httpx.get(f"{self.server.http}/healthz", timeout=8).json()))
            except httpx.HTTPError as error:
                self.seen.append((at, {"status": "unreachable", "faults": [], "error": str(error)}))

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def faults(self, since: float, until: float) -> list[dict[str, Any]]:
        return [f for at, h in self.seen if since <= at <= until for f in h.get("faults", [])]


def settled(server: LiveServer, seconds: float = RESUME_S) -> None:
    """Once the fault has cleared and what waited has gone out, the service says it is well again."""
    deadline = time.monotonic() + seconds
    while (health := httpx.get(f"{server.http}/healthz", timeout=10).json())["status"] != "ok":
        assert time.monotonic() < deadline, health
        time.sleep(0.2)


@dataclass
class Burst:
    """Incidents before, during and after a fault; what the terminals received; what /healthz said."""

    server: LiveServer
    terminals: list[RecordingTerminal] = field(default_factory=list)
    published: dict[float, float] = field(default_factory=dict)  # position (m) -> monotonic time published
    began: float = 0.0
    ended: float = 0.0
    number: int = 0

    def publish(self) -> None:
        self.number += 1
        position = 100.0 * self.number  # apart: each its own incident
        publish(self.server.runtime, self.number, position=position)
        self.published[position] = time.monotonic()

    def run(self, fault: Callable[[], contextlib.AbstractContextManager[None]], every_s: float = 0.5,
            health: HealthWatch | None = None) -> None:  # fmt: skip
        for _ in range(3):
            self.publish()
            time.sleep(0.3)
        self.wait(lambda: self.arrived_everywhere(), 10, "the alerts before the fault")
        with fault():
            self.began = time.monotonic()
            during = getattr(fault, "duration_s", 20.0)
            while time.monotonic() - self.began < during:
                self.publish()
                time.sleep(every_s)
        self.ended = time.monotonic()  # the fault has cleared
        for _ in range(3):
            self.publish()
            time.sleep(0.3)
        self.wait(lambda: self.arrived_everywhere(), 30, "every alert after the fault")

    def endure(
        self,
        fault: Callable[[], contextlib.AbstractContextManager[None]],
        component: str,
        says: str,
        every_s: float = 0.5,
        then: Callable[[], bool] | None = None,
        settle_s: float = 2.0,
    ) -> None:
        """The burst through the fault, /healthz watched: while it lasted (after ``settle_s`` to notice it) it
        named ``component`` with ``says`` in the reason; ``then``: what else must arrive after it."""
        with HealthWatch(self.server) as health:
            self.run(fault, every_s)
            if then is not None:
                self.wait(then, 30, "what waited on the failing part")
        reasons = [f["reason"] for f in health.faults(self.began + settle_s, self.ended) if f["component"] == component]
        assert reasons and all(says in r for r in reasons), health.seen

    def never_late(self, seconds: float = 1.0) -> None:
        """No terminal noticed the fault: each alert arrived within ``seconds`` of its publication."""
        for terminal in self.terminals:
            late = [at - self.published[a["position_m"]] for _, at, a in terminal.arrivals]
            assert max(late) < seconds, late

    @staticmethod
    def wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, f"{what} did not arrive in {seconds} s"
            time.sleep(0.1)

    def arrived_everywhere(self) -> bool:
        return all({a["position_m"] for _, _, a in t.arrivals} >= set(self.published) for t in self.terminals)

    def check(self, fault: str, **figures: float) -> None:
        """Every alert once per terminal; what was decided during the fault arrived within RESUME_S of its end.
        What was measured is kept in runs/test-artifacts/faults.json (the figures of the closing note)."""
        resumed = []
        for terminal in self.terminals:
            ids = [a for a, _, _ in terminal.arrivals]
            assert len(ids) == len(set(ids)) == len(self.published), (terminal.terminal_id, len(ids), len(set(ids)))
            last = max(at for _, at, a in terminal.arrivals if self.published[a["position_m"]] < self.ended)
            resumed.append(last - self.ended)
            assert last - self.ended <= RESUME_S, f"{terminal.terminal_id}: resumed {last - self.ended:.1f} s late"
        record = {"fault": fault, "fault_s": round(self.ended - self.began, 1), "alerts": len(self.published),
                  "terminals": len(self.terminals), "duplicates": 0,
                  "terminal_alerts_after_the_fault_within_s": round(max(resumed), 2),
                  **{k: round(v, 2) for k, v in figures.items()}}  # fmt: skip
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / "faults.json"
        kept = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        kept[fault] = record
        path.write_text(json.dumps(kept, indent=1, ensure_ascii=False), encoding="utf-8")


@pytest.fixture
def burst_of(request: pytest.FixtureRequest) -> Iterator[Callable[[LiveServer], Burst]]:
    started: list[Burst] = []

    def make(server: LiveServer) -> Burst:
        burst = Burst(server, [RecordingTerminal(server, "disp_east", "desk-1"),
                               RecordingTerminal(server, "off_east", "hand-1")])  # fmt: skip
        for terminal in burst.terminals:
            terminal.start()
        started.append(burst)
        return burst

    yield make
    for burst in started:
        for terminal in burst.terminals:
            terminal.stop()


def timed(duration_s: float) -> Callable[[Callable[[], Iterator[None]]], Callable[[], Any]]:
    """A fault's context manager, knowing how long the burst keeps it up."""

    def wrap(body: Callable[[], Iterator[None]]) -> Callable[[], Any]:
        manager = contextlib.contextmanager(body)
        manager.duration_s = duration_s  # type: ignore[attr-defined]
        return manager

    return wrap


# -- the faults --------------------------------------------------------------------------------------------


def test_sqlite_locked_by_another_writer_for_20_s(tmp_path: Path, burst_of: Callable[[LiveServer], Burst]) -> None:
    path = tmp_path / "service.db"
    server = serve(make_runtime(tmp_path / "site", f"sqlite:///{path}"))
    try:
        burst = burst_of(server)

        @timed(20.0)
        def locked() -> Iterator[None]:
            holder = sqlite3.connect(path, timeout=5)
            holder.execute("BEGIN EXCLUSIVE")  # a backup tool, a migration, an operator's sqlite3 shell
            try:
                yield
            finally:
                holder.rollback()
                holder.close()

        burst.endure(locked, "database", "locked")
        burst.check("sqlite locked 20 s")
        settled(server)
    finally:
        server.stop()


class TcpProxy:
    """A TCP path to a server that can be cut: every connection dropped and new ones refused, then restored."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.up()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._connections += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def test_postgresql_connections_killed_and_the_server_unreachable_for_20_s(
    tmp_path: Path, burst_of: Callable[[LiveServer], Burst]
) -> None:
    application = f"yy-fault-{uuid.uuid4().hex[:8]}"
    with pg_schema() as schema:
        root = create_engine(PG_ROOT)
        proxy = TcpProxy(("127.0.0.1", 5432))
        url = (f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test?application_name={application}"
               f"&options=-csearch_path%3D{schema}")  # fmt: skip
        server = serve(make_runtime(tmp_path / "site", url))
        try:
            burst = burst_of(server)

            @timed(20.0)
            def unreachable() -> Iterator[None]:
                with root.begin() as connection:  # the server ends the service's sessions (a restart, a failover)…
                    killed = connection.execute(
                        text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE application_name = :a"),
                        {"a": application},
                    ).scalar()  # fmt: skip
                assert killed, "the service had no connection to kill"
                proxy.down()  # …and cannot be reached at all for a while
                try:
                    yield
                finally:
                    proxy.up()

            burst.endure(unreachable, "database", "database postgresql", settle_s=3.0)
            burst.check("postgresql connections killed, server unreachable 20 s")
            settled(server)
        finally:
            server.stop()
            proxy.down()
            root.dispose()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MB tmpfs as the service's data folder (root and mount(8) needed; CI has both)."""
    folder = tmp_path / "site" / "data"
    folder.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip() or "mount failed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs for the disk-full test ({why}): CI runs as root")
        pytest.skip(f"cannot mount a tmpfs here ({why})")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_the_data_folders_disk_full_then_freed(
    tmp_path: Path, small_disk: Path, burst_of: Callable[[LiveServer], Burst]
) -> None:
    server = serve(make_runtime(tmp_path / "site", f"sqlite:///{small_disk / 'yingyan.db'}"))
    try:
        burst = burst_of(server)

        @timed(20.0)
        def full() -> Iterator[None]:
            filler = small_disk / "filler"
            with filler.open("wb") as out:
                with contextlib.suppress(OSError):
                    while True:
                        out.write(b"\0" * 65536)
                        out.flush()
            try:
                yield
            finally:
                filler.unlink()

        burst.endure(full, "database", "full")
        burst.check("data disk full 20 s")
        settled(server)
    finally:
        server.stop()
        server.runtime.db.dispose()


def test_the_mqtt_broker_down_for_60_s(tmp_path: Path, broker: Broker, burst_of: Callable[[LiveServer], Burst]) -> None:
    stack = contextlib.ExitStack()  # the PostgreSQL schema, dropped at the end
    prefix = f"yy-down-{broker.port}"
    heard: list[str] = []
    heard_at: dict[str, float] = {}

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        alert_id = json.loads(msg.payload)["alert"]["alert_id"]
        heard.append(alert_id)
        heard_at.setdefault(alert_id, time.monotonic())

    broker.start()
    platform = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{prefix}-sub", clean_session=False)
    platform.reconnect_delay_set(1, 2)
    platform.on_connect = lambda c, *_: c.subscribe(f"{prefix}/#", qos=1)
    platform.on_message = on_message
    platform.connect("127.0.0.1", broker.port)
    platform.loop_start()
    schema = stack.enter_context(pg_schema())
    url = f"{PG_ROOT}?options=-csearch_path%3D{schema}"
    server = serve(make_runtime(tmp_path / "site", url, {"mqtt": {"port": broker.port, "topic_prefix": prefix}}))
    try:
        burst = burst_of(server)

        @timed(60.0)
        def broker_down() -> Iterator[None]:
            broker.stop()
            try:
                yield
            finally:
                broker.start()

        burst.endure(broker_down, "mqtt", "not connected", every_s=2.0, settle_s=3.0,
                     then=lambda: len(set(heard)) >= burst.number)  # fmt: skip
        waited = [at for at in heard_at.values() if at > burst.began + 1]  # those that waited for the broker
        assert waited and max(waited) - burst.ended <= RESUME_S, max(waited) - burst.ended
        burst.check("mqtt broker down 60 s", mqtt_alerts_after_the_fault_within_s=max(waited) - burst.ended,
                    mqtt_repeats=len(heard) - len(set(heard)))  # fmt: skip
        burst.never_late()  # the terminals never noticed the broker
        settled(server)
    finally:
        server.stop()
        platform.loop_stop()
        platform.disconnect()
        stack.close()


def test_a_webhook_that_hangs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              burst_of: Callable[[LiveServer], Burst]) -> None:  # fmt: skip
    monkeypatch.setenv("YY_FAULT_HOOK_KEY", "k3y")
    hanging = threading.Event()
    delivered: list[str] = []
    delivered_at: dict[str, float] = {}

    class Platform(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            while hanging.is_set():  # holds the request, answering nothing
                time.sleep(0.05)
            self.send_response(200)
            self.end_headers()
            delivered.append(self.headers["Idempotency-Key"])
            delivered_at.setdefault(self.headers["Idempotency-Key"], time.monotonic())

        def log_message(self, *args: object) -> None:
            pass

    platform = ThreadingHTTPServer(("127.0.0.1", 0), Platform)
    threading.Thread(target=platform.serve_forever, daemon=True).start()
    hook = {"name": "platform", "url": f"http://127.0.0.1:{platform.server_port}/hook",
            "secret_env": "YY_FAULT_HOOK_KEY", "timeout_s": 2.0}  # fmt: skip
    server = serve(make_runtime(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite'}", {"webhooks": [hook]}))
    try:
        burst = burst_of(server)

        @timed(20.0)
        def hangs() -> Iterator[None]:
            hanging.set()
            try:
                yield
            finally:
                hanging.clear()

        burst.endure(hangs, "webhook:platform", "ReadTimeout", settle_s=4.0,
                     then=lambda: len(set(delivered)) >= burst.number)  # fmt: skip
        waited = [at for at in delivered_at.values() if at > burst.began + 1]
        assert waited and max(waited) - burst.ended <= RESUME_S, max(waited) - burst.ended
        burst.check("webhook hangs 20 s", webhook_alerts_after_the_fault_within_s=max(waited) - burst.ended,
                    webhook_repeats=len(delivered) - len(set(delivered)))  # fmt: skip
        burst.never_late()
        settled(server)
    finally:
        server.stop()
        platform.shutdown()
