"""``yingyan demo``: the whole loop on a laptop with no cameras and no servers.

The default network is simulated with its incident (the simulation and its videos are kept in
``OUT/sim`` and reused by a later run of the same scenario), then served as a site: every
camera's pipeline runs on its rendered video as a live camera sends it (``--speed`` × real
time), the incident engine over them, and the service with a fresh SQLite database in
``OUT/service`` (a second run starts clean), with demo users whose passwords are printed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.progress import Progress

from yingyan.service.auth import add_user
from yingyan.service.preflight import ServeOptions
from yingyan.service.runtime import ServiceRuntime
from yingyan.service.workflow import Role
from yingyan.sim.library import resolve_scenario
from yingyan.sim.runner import RunOptions, run_scenario


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: Role
    districts: tuple[str, ...]
    supervisor: bool = False
    note: str = ""


DEMO_USERS = (
    DemoUser("dispatcher", "demo-dispatcher", Role.DISPATCHER, ("default",), True, "指挥中心值班员 / dispatcher"),
    DemoUser("officer", "demo-officer", Role.OFFICER, ("default",), False, "执勤民警 / officer on the road"),
    DemoUser(
        "officer_north",
        "demo-officer-north",
        Role.OFFICER,
        ("north",),
        False,
        "另一辖区的民警：什么也看不到 / another district: sees nothing",
    ),
    DemoUser("admin", "demo-admin", Role.ADMIN, ("*",), False, "管理员 / administrator"),
)


def simulate(
    out: Path,
    scenario_ref: str,
    seed: int,
    duration_s: float | None,
    progress: Progress | None = None,
    fps: float = ServeOptions().fps,
) -> Path:
    """The scenario's run in ``out/sim``, its cameras rendered at the rate the service analyses
    (``fps``: a frame rendered and never analysed is time spent for nothing); reused when it is there
    for the same scenario, seed, length and rate."""
    scenario = resolve_scenario(scenario_ref)
    sim = out / "sim"
    manifest = sim / "manifest.json"
    if manifest.exists():
        done = json.loads(manifest.read_text(encoding="utf-8"))
        wanted = duration_s if duration_s is not None else scenario.duration_s
        if (
            (done.get("scenario"), done.get("seed"), float(done.get("duration_s", -1))) == (scenario.name, seed, wanted)
            and all(float(c.get("fps", 0)) == fps for c in done["cameras"])
            and all((sim / "cameras" / c["id"] / "video.mp4").exists() for c in done["cameras"])
        ):
            return sim
    run_scenario(scenario, sim, RunOptions(seed=seed, duration_s=duration_s, fps=fps, force=True), progress=progress)
    return sim


def demo_site(out: Path, sim: Path, host: str, port: int) -> Path:
    """The simulated run as a site served by a fresh service in ``out/service``."""
    service = out / "service"
    if service.exists():
        shutil.rmtree(service)  # a second run starts clean
    service.mkdir(parents=True)
    site = yaml.safe_load((sim / "site.yaml").read_text(encoding="utf-8"))
    for cam in site["cameras"]:
        cam["source"], cam["calibration"] = (
            str((sim / cam["source"]).resolve()),
            str((sim / cam["calibration"]).resolve()),
        )
    site["service"] = {
        "data_dir": str(service.resolve()), "host": host, "port": port,
        "districts": [{"id": "default", "name": "示范辖区 Demo district"}, {"id": "north", "name": "北区 North"}],
    }  # fmt: skip
    path = service / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def add_demo_users(runtime: ServiceRuntime) -> tuple[DemoUser, ...]:
    with runtime.db.sessions.begin() as s:
        for u in DEMO_USERS:
            add_user(s, u.username, u.password, u.role, list(u.districts), display_name=u.note, supervisor=u.supervisor)
    return DEMO_USERS
