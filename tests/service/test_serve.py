"""`yingyan serve` in the embedded default: the site's cameras analysed live (files paced as
cameras send them, here 4× real time), the incident engine over them, the service pushing the
stall to a terminal, with its evidence, the traffic states and the cameras' health."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
import yaml

from tests.service.conftest import PASSWORD, serve
from yingyan.eval.evaluate import EVAL_START
from yingyan.service.auth import add_user
from yingyan.service.runtime import ServeOptions, ServiceRuntime
from yingyan.service.workflow import Role

pytestmark = pytest.mark.slow


def _site(sim: Path, folder: Path) -> Path:
    """The simulated run's site file, its paths made absolute, the service's data under ``folder``."""
    site = yaml.safe_load((sim / "site.yaml").read_text(encoding="utf-8"))
    for cam in site["cameras"]:
        cam["source"], cam["calibration"] = str(sim / cam["source"]), str(sim / cam["calibration"])
    site["service"] = {"data_dir": str(folder / "data")}
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site), encoding="utf-8")
    return path


def test_serve_analyses_the_cameras_live_and_pushes_the_stall(short_stall_eval: Path, tmp_path: Path) -> None:
    scenario = short_stall_eval / "short-stall"
    options = ServeOptions(cameras=True, speed=4.0, start=EVAL_START, baseline=scenario / "baseline.json")
    runtime = ServiceRuntime(_site(scenario / "seed-1" / "sim", tmp_path), options)
    with runtime.db.sessions.begin() as s:
        add_user(s, "officer", PASSWORD, Role.OFFICER, ["default"])
    server = serve(runtime)
    try:
        token = httpx.post(f"{server.http}/api/v1/auth/login", json={"username": "officer", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        health_seen: list[dict[str, Any]] = []

        async def terminal() -> list[tuple[dict[str, Any], float]]:
            got = []
            async with websockets.connect(server.ws) as socket:
                hello = {"type": "hello", "token": token.json()["token"], "terminal_id": "hand-1"}
                await socket.send(json.dumps(hello))
                deadline = time.monotonic() + 150
                while time.monotonic() < deadline and not got:
                    try:
                        message = json.loads(await asyncio.wait_for(socket.recv(), 2.0))
                    except TimeoutError:
                        health_seen.append(httpx.get(f"{server.http}/healthz").json())
                        continue
                    if message["type"] == "alerts":
                        got += [(a, time.time()) for a in message["alerts"]]
                        await socket.send(
                            json.dumps({"type": "received", "alert_ids": [a["alert_id"] for a, _ in got]})
                        )
            return got

        alerts = asyncio.run(terminal())
        assert len(alerts) == 1, alerts
        alert, received = alerts[0]
        assert alert["cause"] == "stopped_vehicle" and alert["camera_id"] == "K2"
        assert received - alert["decided_epoch"] < 2.0
        # While it ran, the health page saw both cameras connected, analysing at about 5 fps × 4.
        running = [h for h in health_seen if all(c["state"] == "connected" for c in h["cameras"])]
        assert running, health_seen[-1:] if health_seen else "no health seen"
        assert all(c["fps_out"] > 5 for c in running[-1]["cameras"])
        metrics = httpx.get(f"{server.http}/metrics").text
        assert 'yingyan_camera_fps_out{camera="K2"}' in metrics
        detail = httpx.get(f"{server.http}/api/v1/incidents/{alert['incident_id']}", headers=headers).json()
        snapshot = next(e for e in detail["evidence"] if e["kind"] == "snapshot")
        image = httpx.get(f"{server.http}{snapshot['url']}", headers=headers)
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        states = httpx.get(f"{server.http}/api/v1/cameras/K1/states", headers=headers).json()
        assert len(states) >= 2 and all(s["flow_vph"] is not None for s in states)
    finally:
        server.stop()
