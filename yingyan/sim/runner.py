"""One scenario run: simulate, render every camera, write the ground truth.

The run is written into a hidden sibling folder and renamed into place only when complete,
so a failed or interrupted run never leaves output that looks finished.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import cv2
import numpy as np
import yaml
from rich.progress import Progress, TaskID

from yingyan import __version__
from yingyan.config import validate_mapping
from yingyan.cost import StageClock
from yingyan.errors import YingyanError
from yingyan.sim.camera import MeasurementZone, PinholeCamera, camera_for, measurement_zone
from yingyan.sim.groundtruth import (
    Episode,
    RowGeometry,
    carriageway_speed_bins,
    congestion_episodes,
    lane_state,
    row_geometry,
)
from yingyan.sim.network import build_network
from yingyan.sim.outputs import calibration_for, spacetime_chart, write_site
from yingyan.sim.render import CameraRenderer
from yingyan.sim.scenario import Checkpoint, Direction, Scenario
from yingyan.sim.traffic import IncidentRecord, Trajectories, simulate
from yingyan.tables import write_csv
from yingyan.traffic.levels import default_thresholds
from yingyan.traffic.state import LANE_STATE_COLUMNS
from yingyan.video import VideoWriter

log = logging.getLogger(__name__)

BOX_COLUMNS = ("frame", "t_s", "vehicle_id", "class", "x1", "y1", "x2", "y2", "distance_m", "truncated")
SPACETIME_CELL_M = 25.0
# x264 preset of the cameras' videos: superfast encodes a rendered 720p frame in about half the time
# of veryfast at the same quality (CRF), for files about a fifth larger (bench/README.md, issue 17).
VIDEO_PRESET = "superfast"


@dataclass(frozen=True)
class RunOptions:
    """Overrides a user gives on the command line."""

    seed: int = 1
    duration_s: float | None = None
    fps: float | None = None
    size: tuple[int, int] | None = None
    render: bool = True
    force: bool = False
    workers: int = 0  # camera-rendering processes; 0 = one per CPU core (at most one per camera)


def apply_overrides(scenario: Scenario, options: RunOptions) -> Scenario:
    """The scenario with command-line overrides applied and validated again."""
    data = scenario.model_dump(mode="json")
    if options.duration_s is not None:
        data["duration_s"] = options.duration_s
    for cp in data["checkpoints"]:
        if options.fps is not None:
            cp["fps"] = options.fps
        if options.size is not None:
            cp["resolution"] = list(options.size)
    return validate_mapping(Scenario, data, f"scenario {scenario.name} with command-line overrides")


def sim_step_for(scenario: Scenario) -> float:
    """SUMO step: at most the scenario's step and an exact divisor of every camera's frame period."""
    fps = max(cp.fps for cp in scenario.checkpoints)
    period = 1.0 / fps
    return period / math.ceil(period / scenario.step_s - 1e-9)


@dataclass(frozen=True)
class _Camera:
    cp: Checkpoint
    camera: PinholeCamera
    zone: MeasurementZone


def run_scenario(scenario: Scenario, out: Path, options: RunOptions, progress: Progress | None = None) -> Path:
    """Run a scenario into ``out`` and return it; raises YingyanError on bad input."""
    scenario = apply_overrides(scenario, options)
    out = out.resolve()
    if out.exists() and not options.force:
        raise YingyanError(f"{out} already exists; choose another --out or pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        _run_into(scenario, tmp, options, progress)
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _task(progress: Progress | None, name: str, total: float) -> tuple[Progress | None, TaskID | None]:
    if progress is None:
        return None, None
    return progress, progress.add_task(name, total=total)


def _run_into(scenario: Scenario, out: Path, options: RunOptions, progress: Progress | None) -> None:
    clock = StageClock()  # what each stage cost: cost.json (the evaluation's report sums it)
    step_s = sim_step_for(scenario)
    bar, task = _task(progress, f"simulating {scenario.name} (steps)", 1.0)

    def on_step(done: int, total: int) -> None:
        if bar is not None and task is not None:
            bar.update(task, total=total, completed=done)

    with clock.stage("simulate"):
        built = build_network(scenario, out / "sumo")
        traj = simulate(scenario, built, options.seed, step_s, on_step)
        geo = row_geometry(traj, scenario.network)
    cams = []
    for cp in scenario.checkpoints:
        camera = camera_for(cp, scenario.network)
        cams.append(_Camera(cp, camera, measurement_zone(cp, camera, scenario.network)))
    (out / "scenario.yaml").write_text(
        yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    camera_entries = []
    episodes_by_camera: dict[str, list[Episode]] = {}
    thresholds = default_thresholds(scenario.network.road_class)
    for cam in cams:
        folder = out / "cameras" / cam.cp.id
        folder.mkdir(parents=True)
        calibration_for(scenario, cam.cp, cam.camera, cam.zone).save(folder / "calibration.json")
    if options.render:
        with clock.stage("render"):
            _render_all(scenario, cams, traj, out, options, progress)
    with clock.stage("truth"):
        for cam in cams:
            folder = out / "cameras" / cam.cp.id
            rows = lane_state(traj, geo, cam.cp, cam.zone, scenario.network, scenario.interval_s, scenario.duration_s)
            write_csv(folder / "lane_state.csv", LANE_STATE_COLUMNS, rows)
            bins = carriageway_speed_bins(traj, geo, cam.cp.watch, cam.zone.lo_m, cam.zone.hi_m, scenario.duration_s)
            episodes_by_camera[cam.cp.id] = congestion_episodes(bins, thresholds.basic_above, scenario.duration_s)
            camera_entries.append(_camera_entry(cam, cams, folder.relative_to(out), options.render))
        incidents = _incident_entries(scenario, traj, cams)
        congestion = _attribute(scenario, traj, cams, episodes_by_camera, incidents)
        write_site(out / "site.yaml", scenario, camera_entries)
        _spacetime(out, scenario, traj, geo, cams)
    manifest = {
        "format": "yingyan.sim/1",
        "generator": f"yingyan {__version__}",
        "scenario": scenario.name,
        "description": scenario.description,
        "seed": options.seed,
        "duration_s": scenario.duration_s,
        "sim_step_s": step_s,
        "interval_s": scenario.interval_s,
        "conditions": scenario.conditions.model_dump(mode="json"),
        "network": {
            "length_m": scenario.network.length_m,
            "lanes": scenario.network.lanes,
            "two_way": scenario.network.two_way,
            "road_class": scenario.network.road_class.value,
            "speed_limit_kmh": scenario.network.speed_limit_kmh,
            "lane_drop": scenario.network.lane_drop.model_dump() if scenario.network.lane_drop else None,
            "junction_m": scenario.network.cross_street.position_m if scenario.network.cross_street else None,
        },
        "cameras": camera_entries,
        "incidents": incidents,
        "congestion": congestion,
        "vehicles": len(traj.vehicles),
        "unexpected_collisions": traj.unexpected_collisions,
        "files": {
            "site": "site.yaml",
            "scenario": "scenario.yaml",
            "spacetime": ["spacetime_forward.png"] + (["spacetime_reverse.png"] if scenario.network.two_way else []),
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    # What each stage cost (CPU and wall seconds), beside the manifest, which stays the same for the same seed.
    (out / "cost.json").write_text(json.dumps(clock.as_dict(), indent=2), encoding="utf-8")


def _frames(scenario: Scenario, cam: _Camera) -> int:
    return int(math.floor(scenario.duration_s * cam.cp.fps + 1e-9))


_WorkerState = tuple[Scenario, list["_Camera"], Trajectories, Path, int, list["Synchronized[int]"]]
_WORKER_STATE: _WorkerState | None = None


def _init_worker(*state: object) -> None:
    """Runs once in each rendering process (spawned: OpenCV's thread pool does not survive a fork)."""
    global _WORKER_STATE
    _WORKER_STATE = state  # type: ignore[assignment]


def _render_in_child(index: int) -> None:
    assert _WORKER_STATE is not None
    scenario, cams, traj, out, seed, counters = _WORKER_STATE
    cam = cams[index]
    counter = counters[index]

    def tick(done: int) -> None:
        counter.value = done

    _render_camera(scenario, cam, traj, out / "cameras" / cam.cp.id, seed * 1009 + index, tick)


def _render_all(
    scenario: Scenario,
    cams: list[_Camera],
    traj: Trajectories,
    out: Path,
    options: RunOptions,
    progress: Progress | None,
) -> None:
    """Render every camera, in parallel processes where there are cores to spare."""
    workers = options.workers or (os.cpu_count() or 1)
    workers = max(1, min(workers, len(cams)))
    tasks = [_task(progress, f"rendering {cam.cp.id}", _frames(scenario, cam)) for cam in cams]
    if workers == 1:
        for index, cam in enumerate(cams):
            bar, task = tasks[index]

            def tick(done: int, bar: Progress | None = bar, task: TaskID | None = task) -> None:
                if bar is not None and task is not None:
                    bar.update(task, completed=done)

            _render_camera(scenario, cam, traj, out / "cameras" / cam.cp.id, options.seed * 1009 + index, tick)
        return
    ctx = multiprocessing.get_context("spawn")
    counters = [ctx.Value("i", 0) for _ in cams]
    state = (scenario, cams, traj, out, options.seed, counters)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=state) as pool:
        futures = [pool.submit(_render_in_child, i) for i in range(len(cams))]
        while not all(f.done() for f in futures):
            time.sleep(0.2)
            for (bar, task), counter in zip(tasks, counters, strict=True):
                if bar is not None and task is not None:
                    bar.update(task, completed=counter.value)
        for f in futures:
            f.result()
    for (bar, task), cam in zip(tasks, cams, strict=True):
        if bar is not None and task is not None:
            bar.update(task, completed=_frames(scenario, cam))


def _render_camera(
    scenario: Scenario, cam: _Camera, traj: Trajectories, folder: Path, seed: int, tick: Callable[[int], None]
) -> None:
    fps = cam.cp.fps
    n_frames = _frames(scenario, cam)
    cv2.setNumThreads(1)  # one camera per core: OpenCV's own threads would only contend
    renderer = CameraRenderer(scenario, cam.camera, traj, seed)
    boxes_file = (folder / "boxes.csv").open("w", encoding="utf-8")
    try:
        boxes_file.write(",".join(BOX_COLUMNS) + "\n")
        with VideoWriter(
            folder / "video.mp4",
            cam.camera.width,
            cam.camera.height,
            fps,
            crf=scenario.conditions.crf,
            preset=VIDEO_PRESET,
        ) as writer:
            for k in range(n_frames):
                t = k / fps
                step = traj.step_index(t)
                frame, boxes = renderer.render(step)
                writer.write(frame)
                t_s = float(traj.times[step])
                for b in boxes:
                    boxes_file.write(
                        f"{k},{t_s:.3f},{traj.vehicles[b.vehicle].sumo_id},{b.cls},{b.x1:.1f},{b.y1:.1f},{b.x2:.1f},{b.y2:.1f},{b.depth_m:.1f},{int(b.truncated)}\n"
                    )
                if k % 25 == 0:
                    tick(k + 1)
                if k == n_frames // 2:
                    cv2.imwrite(str(folder / "preview.png"), frame)
        tick(n_frames)
    finally:
        boxes_file.close()


def _camera_entry(cam: _Camera, cams: list[_Camera], folder: Path, rendered: bool) -> dict[str, object]:
    same = sorted((c for c in cams if c.cp.watch is cam.cp.watch), key=lambda c: c.cp.position_m)
    if cam.cp.watch is Direction.REVERSE:
        same.reverse()
    i = same.index(cam)
    up = [
        {"camera_id": c.cp.id, "distance_m": round(abs(cam.cp.position_m - c.cp.position_m), 2)}
        for c in same[:i][::-1][:1]
    ]
    down = [
        {"camera_id": c.cp.id, "distance_m": round(abs(c.cp.position_m - cam.cp.position_m), 2)}
        for c in same[i + 1 :][:1]
    ]
    return {
        "id": cam.cp.id,
        "video": str(folder / "video.mp4") if rendered else None,
        "calibration": str(folder / "calibration.json"),
        "boxes": str(folder / "boxes.csv") if rendered else None,
        "lane_state": str(folder / "lane_state.csv"),
        "position_m": cam.cp.position_m,
        "watch": cam.cp.watch.value,
        "facing": cam.cp.facing,
        "fps": cam.cp.fps,
        "resolution": [cam.camera.width, cam.camera.height],
        "height_m": cam.cp.height_m,
        "measured_m": [round(cam.zone.lo_m, 2), round(cam.zone.hi_m, 2)],
        "counting_line_m": round(cam.zone.counting_m, 2),
        "upstream": up,
        "downstream": down,
    }


def _sees(cam: _Camera, scenario: Scenario, rec: IncidentRecord) -> bool:
    w = scenario.network.lane_width_m
    lateral = (rec.lane - 0.5) * w
    y = -lateral if rec.direction is Direction.FORWARD else lateral
    xs = [rec.position_m] if rec.length_m == 0 else list(np.linspace(rec.position_m, rec.position_m + rec.length_m, 5))
    pts = np.array([[x, y, 0.0] for x in xs])
    pix, depth = cam.camera.project(pts)
    dist = np.hypot(pts[:, 0] - cam.camera.c[0], pts[:, 1] - cam.camera.c[1])
    inside = (
        (depth > 1)
        & (pix[:, 0] >= 0)
        & (pix[:, 0] < cam.camera.width)
        & (pix[:, 1] >= 0)
        & (pix[:, 1] < cam.camera.height)
    )
    return bool(np.any(inside & (dist <= cam.cp.view_m + 60.0)))


def _incident_entries(scenario: Scenario, traj: Trajectories, cams: list[_Camera]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for rec in traj.incidents:
        if rec.start_s is None:
            log.warning("incident %s never started (no suitable vehicle came by)", rec.id)
        out.append(
            {
                "id": rec.id,
                "type": rec.type.value,
                "direction": rec.direction.value,
                "lane": rec.lane,
                "position_m": round(rec.position_m, 2),
                "length_m": rec.length_m,
                "trigger_s": round(rec.trigger_s, 2),
                "start_s": None if rec.start_s is None else round(rec.start_s, 2),
                "end_s": None if rec.end_s is None else round(rec.end_s, 2),
                "vehicle_ids": list(rec.vehicles),
                "abnormal": True,
                "camera_ids": [c.cp.id for c in cams if rec.start_s is not None and _sees(c, scenario, rec)],
                "congestion": {},
            }
        )
    return out


def _attribute(
    scenario: Scenario,
    traj: Trajectories,
    cams: list[_Camera],
    episodes: dict[str, list[Episode]],
    incidents: list[dict[str, object]],
) -> list[dict[str, object]]:
    """Tie each camera's congestion episodes to the incident that caused them, else to recurrent congestion."""
    records = {r.id: r for r in traj.incidents}
    out = []
    for cam in cams:
        for ep in episodes[cam.cp.id]:
            cause = "recurrent"
            best: tuple[float, dict[str, object]] | None = None
            for entry in incidents:
                rec = records[str(entry["id"])]
                if rec.start_s is None or rec.direction is not cam.cp.watch:
                    continue
                upstream_end = cam.zone.lo_m if cam.cp.watch is Direction.FORWARD else -cam.zone.hi_m
                where = rec.position_m + rec.length_m if cam.cp.watch is Direction.FORWARD else -rec.position_m
                if upstream_end > where + 10.0:
                    continue  # the camera is downstream of the incident
                end = rec.end_s if rec.end_s is not None else scenario.duration_s
                if not rec.start_s - 30.0 <= ep.start_s <= end + 300.0:
                    continue
                distance = where - upstream_end
                if best is None or distance < best[0]:
                    best = (distance, entry)
            if best is not None:
                entry = best[1]
                cause = str(entry["id"])
                congestion = entry["congestion"]
                assert isinstance(congestion, dict)
                span = congestion.setdefault(cam.cp.id, {"start_s": ep.start_s, "end_s": ep.end_s})
                span["end_s"] = ep.end_s  # later episodes from the same cause extend the span
            out.append(
                {
                    "camera_id": cam.cp.id,
                    "start_s": ep.start_s,
                    "end_s": ep.end_s,
                    "cause": cause,
                    "abnormal": cause != "recurrent",
                }
            )
    return out


def _spacetime(out: Path, scenario: Scenario, traj: Trajectories, geo: RowGeometry, cams: list[_Camera]) -> None:
    directions = [Direction.FORWARD] + ([Direction.REVERSE] if scenario.network.two_way else [])
    n_cells = int(math.ceil(scenario.network.length_m / SPACETIME_CELL_M))
    for direction in directions:
        grid = np.stack(
            [
                carriageway_speed_bins(
                    traj, geo, direction, k * SPACETIME_CELL_M, (k + 1) * SPACETIME_CELL_M, scenario.duration_s
                )
                for k in range(n_cells)
            ],
            axis=1,
        )
        spacetime_chart(
            out / f"spacetime_{direction.value}.png",
            grid,
            SPACETIME_CELL_M,
            10.0,
            scenario.network.speed_limit_kmh,
            [(c.cp.id, c.cp.position_m) for c in cams if c.cp.watch is direction],
            [(r.id, r.position_m, r.start_s, r.end_s) for r in traj.incidents if r.direction is direction],
            f"{scenario.name}: {direction.value} carriageway, space-mean speed per {int(SPACETIME_CELL_M)} m x 10 s",
        )
