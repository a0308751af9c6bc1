"""Replay an evaluation's recorded tracks through today's event detectors, without detecting again.

```bash
.venv/bin/python bench/replay_events.py FROM_OUT TO_OUT --detector onnx      # seconds per camera-hour
.venv/bin/yingyan eval SCENARIO... --detectors onnx --out TO_OUT              # scores the replayed events
```

An evaluation's cost is rendering and detection (``bench/eval_cost.py``); the event rules run on
what the tracker made of the video, which every camera writes to ``tracks.jsonl``. For each
``SCENARIO/seed-N/site-DETECTOR`` under ``FROM_OUT`` this links the scenario's simulation, its
history and baseline into ``TO_OUT``, rebuilds every frame's track points from ``tracks.jsonl``
(lane, carriageway and front as the lane meter places them, the small-box flag from the box)
and runs the camera's ``CameraEvents`` (with the site's rules) on them, writing
``cameras/K/events.jsonl`` (no evidence images) beside a copy of the camera's ``lane_state.csv``.
``yingyan eval`` on ``TO_OUT`` then keeps those cameras (``reuse``) and runs only the incident
engine and the scoring. Positions and speeds are those of ``tracks.jsonl`` (to 1 cm and
0.1 km/h); the motion detector's latency to call a blob stationary is the camera's own.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from yingyan.calibration import CameraCalibration
from yingyan.incidents.detector import CameraEvents
from yingyan.incidents.site_run import SiteRunOptions, camera_jobs
from yingyan.perception.motion import MotionDetector
from yingyan.site import load_site
from yingyan.traffic.meter import CLASS_LENGTH_M, LaneMeter, TrackPoint


def replay_camera(calibration: CameraCalibration, events: CameraEvents, tracks: Path, out: Path) -> int:
    """Run ``events`` over a camera's ``tracks.jsonl``; write its ``events.jsonl``; the reports written."""
    meter = LaneMeter(calibration)
    reports = 0
    with tracks.open(encoding="utf-8") as source, out.open("w", encoding="utf-8") as sink:
        for line in source:
            frame = json.loads(line)
            t = float(frame["t_s"])
            objects = frame["tracks"]
            boxes = np.array([o["box"] for o in objects], dtype=float).reshape(-1, 4)
            roads = np.array([o["road"] for o in objects], dtype=float).reshape(-1, 2)
            small = meter._small(boxes, roads)
            points = []
            for o, is_small in zip(objects, small, strict=True):
                u, v = o["road"]
                lane, direction = meter._lane_of(float(u), float(v))
                s = float(np.array([u, v]) @ meter._travel) + CLASS_LENGTH_M.get(int(o["class_id"]), 4.6) / 2
                points.append(TrackPoint(
                    t, int(o["id"]), int(o["class_id"]), (float(u), float(v)), lane, s, float(o["speed_kmh"]) / 3.6,
                    direction, bool(o["stationary"]), bool(is_small),
                ))  # fmt: skip
            for event in events.update(t, points, meter.queues(points)):
                sink.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
                reports += 1
    return reports


def replay_run(seed_folder: Path, site_name: str, to_seed: Path) -> None:
    """Replay one simulated seed's site run into ``to_seed``."""
    sim = seed_folder / "sim"
    to_seed.mkdir(parents=True, exist_ok=True)
    if not (to_seed / "sim").exists():
        (to_seed / "sim").symlink_to(sim.resolve())
    site = load_site(sim / "site.yaml")
    detector = site_name.removeprefix("site-").split("-")[0]
    for job in camera_jobs(site, sim, to_seed / site_name, SiteRunOptions()):
        recorded = seed_folder / site_name / "cameras" / job.camera_id
        job.out.mkdir(parents=True, exist_ok=True)
        calibration = CameraCalibration.load(job.calibration)
        events = CameraEvents(calibration, job.rules)
        if detector == "motion":  # as analyze() sets it for the motion detector
            events.stationary_after_s = MotionDetector(fps=job.fps).stationary_after_s
            events.marks_stationary = True
        shutil.copyfile(recorded / "lane_state.csv", job.out / "lane_state.csv")
        n = replay_camera(calibration, events, recorded / "tracks.jsonl", job.out / "events.jsonl")
        sys.stderr.write(f"{to_seed.parent.name} {to_seed.name} {job.camera_id}: {n} event reports\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="an evaluation's --out folder")
    parser.add_argument("target", type=Path, help="where the replayed runs go (then: yingyan eval ... --out TARGET)")
    parser.add_argument("--detector", default="onnx", help="which site-DETECTOR runs to replay")
    args = parser.parse_args()
    site_name = f"site-{args.detector}"
    for seed_folder in sorted(args.source.glob("*/seed-*")):
        if not (seed_folder / site_name / "incidents.jsonl").exists():
            continue  # not run with this detector, or still running
        scenario = seed_folder.parent
        target = args.target / scenario.name
        target.mkdir(parents=True, exist_ok=True)
        for shared in [*scenario.glob("history-*"), scenario / "baseline.json"]:
            if shared.exists() and not (target / shared.name).exists():
                (target / shared.name).symlink_to(shared.resolve())
        replay_run(seed_folder, site_name, target / seed_folder.name)


if __name__ == "__main__":
    main()
