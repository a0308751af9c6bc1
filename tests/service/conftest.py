"""Fixtures of the service tests: a small site, both databases, users of every role, a live server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from sqlalchemy import create_engine, text

from tests.traffic.test_meter import _calibration
from yingyan.incidents.engine import Incident
from yingyan.service.api import create_app
from yingyan.service.auth import add_user
from yingyan.service.runtime import ServeOptions, ServiceRuntime
from yingyan.service.workflow import Role

PG_ROOT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = "correct horse battery"

# user name -> (role, districts, department, supervisor)
USERS: dict[str, tuple[Role, list[str], str | None, bool]] = {
    "admin": (Role.ADMIN, [], None, False),
    "disp_east": (Role.DISPATCHER, ["east"], None, True),
    "off_east": (Role.OFFICER, ["east"], None, False),
    "liaison_tow": (Role.LIAISON, ["east"], "tow", False),
    "viewer_east": (Role.VIEWER, ["east"], None, False),
    "disp_west": (Role.DISPATCHER, ["west"], None, False),
    "off_west": (Role.OFFICER, ["west"], None, False),
    "liaison_west": (Role.LIAISON, ["west"], "tow", False),
    "viewer_west": (Role.VIEWER, ["west"], None, False),
}


def service_or_skip(host: str, port: int, what: str) -> None:
    """Skip when a local service is not there (a user's laptop); fail in CI, where it must be."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return
    except OSError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} at {host}:{port} is not reachable: CI must run it")
        pytest.skip(f"{what} at {host}:{port} not running (CI runs it)")


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema of the local PostgreSQL (skips where there is none; CI has it), dropped after."""
    service_or_skip("127.0.0.1", 5432, "PostgreSQL")
    schema = f"yy_{uuid.uuid4().hex[:10]}"
    root = create_engine(PG_ROOT)
    with root.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield schema
    finally:
        with root.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        root.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test on a fresh SQLite file and on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    with pg_schema() as schema:
        yield f"{PG_ROOT}?options=-csearch_path%3D{schema}"


def write_site(folder: Path, service: dict[str, Any] | None = None) -> Path:
    """A site of three checkpoints 500 m apart on one road: K1, K2 in district east, K3 in west."""
    folder.mkdir(parents=True, exist_ok=True)
    cameras = []
    for i, (cam_id, district) in enumerate((("K1", "east"), ("K2", "east"), ("K3", "west"))):
        calibration = _calibration().model_copy(update={"camera_id": cam_id})
        (folder / f"{cam_id}.json").write_text(calibration.model_dump_json(indent=1), encoding="utf-8")
        cameras.append(
            {
                "id": cam_id,
                "name": f"人民路 {cam_id}",
                "source": f"{cam_id}.mp4",
                "calibration": f"{cam_id}.json",
                "position_m": 500.0 * i,
                "direction": "east",
                "district": district,
            }
        )
    site = {
        "name": "test-site",
        "cameras": cameras,
        "links": [
            {"upstream": "K1", "downstream": "K2", "distance_m": 500},
            {"upstream": "K2", "downstream": "K3", "distance_m": 500},
        ],
        "service": {
            "data_dir": "data",
            "districts": [{"id": "east", "name": "城东"}, {"id": "west", "name": "城西"}],
            **(service or {}),
        },
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    return path


def add_users(runtime: ServiceRuntime) -> None:
    with runtime.db.sessions.begin() as s:
        for name, (role, districts, department, supervisor) in USERS.items():
            add_user(s, name, PASSWORD, role, districts, department, supervisor=supervisor)


def make_runtime(folder: Path, db_url: str, service: dict[str, Any] | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(write_site(folder, service), ServeOptions(db_url=db_url, cameras=False))
    add_users(runtime)
    return runtime


def engine_incident(
    number: int = 1,
    camera: str = "K2",
    cause: str = "stopped_vehicle",
    alert_s: float | None = 40.0,
    position: float = 530.0,
    **changes: Any,
) -> Incident:
    """An incident as the engine reports it."""
    incident = Incident(
        id=f"INC-{number:04d}",
        type=cause,
        cause=cause,
        abnormal=True,
        camera_ids=(camera,),
        source_camera_id=camera,
        source_segment=camera,
        source_position_m=position,
        start_s=30.0,
        alert_s=alert_s,
        end_s=None,
        severity=2,
        lanes_blocked=1,
        event_ids=(),
        evidence={},
        timeline=((30.0, f"{cause} seen"),),
    )
    return replace(incident, **changes)


@dataclass
class LiveServer:
    """The API on a real port (uvicorn in a thread), for WebSocket and HTTP clients."""

    runtime: ServiceRuntime
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/terminal"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(runtime: ServiceRuntime, ws: str = "websockets-sansio") -> LiveServer:
    port = free_port()
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_config=None, ws=ws, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return LiveServer(runtime, port, server, thread)


@pytest.fixture
def live(tmp_path: Path, db_url: str) -> Iterator[LiveServer]:
    server = serve(make_runtime(tmp_path / "site", db_url))
    yield server
    server.stop()


class Broker:
    """A Mosquitto of the test's own on a free port, stopped and started again as the test says
    (persistent sessions: a subscriber with a session keeps its messages across a restart)."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if binary is None:
            if os.environ.get("CI") == "true":
                pytest.fail("mosquitto is not installed: CI must have it")
            pytest.skip("mosquitto not installed (CI has it)")
        self.binary = binary
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {folder}/\nlog_dest none\n",
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the test's mosquitto did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    own = Broker(tmp_path / "broker")
    yield own
    own.stop()
