"""Camera event detection against simulator ground truth (issue 4): every camera's `yingyan detect`.

Run: .venv/bin/python bench/event_detection.py [--duration S] [--out DIR] [--scenarios ...]
Simulates each scenario (640x360, 10 fps, seed 1; reused when DIR already holds the run),
runs the camera pipeline with the event detectors (motion, 5 fps, default rules) on every
camera, matches the raised events to the run's incidents by place and time
(`yingyan.eval.matching`), and prints per scenario and overall: incidents, detected, alerts,
false alarms per camera-hour, time to detect (median, p90), onset RMSE, cause accuracy, S4.
These are camera events, before any incident engine joins them across cameras.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from rich.console import Console
from rich.table import Table

from yingyan.calibration import CameraCalibration
from yingyan.eval import Alert, Scores, score_alerts, truth_from_manifest
from yingyan.incidents import CameraEvents
from yingyan.perception.analyze import analyze
from yingyan.perception.motion import MotionDetector
from yingyan.sim.library import load_builtin
from yingyan.sim.runner import RunOptions, run_scenario
from yingyan.sources import SourceConfig

DEFAULT = ["free-flow", "corridor-peak", "night-stall", "dusk-rain-stall", "crash-junction", "kerb-illegal-parking"]


def detect_camera(job: tuple[Path, Path]) -> list[dict[str, object]]:
    """Run one camera's pipeline with its event detectors (in a worker process); the raised events."""
    cam, out = job
    calibration = CameraCalibration.load(cam / "calibration.json")
    analyze(
        SourceConfig(uri=str(cam / "video.mp4"), fps=5.0), calibration, MotionDetector(fps=5.0), out,
        events=CameraEvents(calibration),
    )  # fmt: skip
    lines = (out / "events.jsonl").read_text(encoding="utf-8").splitlines() if (out / "events.jsonl").exists() else []
    return [e for e in (json.loads(line) for line in lines) if e["end_s"] is None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of each scenario (default 600)")
    parser.add_argument("--scenarios", nargs="+", default=DEFAULT)
    parser.add_argument("--jobs", type=int, default=2, help="cameras analysed in parallel (default 2)")
    parser.add_argument("--out", type=Path, default=None, help="keep runs and detections here")
    args = parser.parse_args()
    console = Console(width=160)
    table = Table(title=f"Camera events against ground truth (motion, 5 fps, default rules, {args.duration:.0f} s)")
    cols = ("scenario", "incidents", "detected", "alerts", "false", "FA / cam-h", "TTD med s", "TTD p90 s",
            "onset RMSE s", "cause", "S4")  # fmt: skip
    for col in cols:
        table.add_column(col, justify="right")
    total: Scores | None = None
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        for name in args.scenarios:
            run = root / f"{name}-run"
            if not (run / "manifest.json").exists():
                run_scenario(load_builtin(name), run, RunOptions(seed=1, duration_s=args.duration, force=True))
            manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
            cams = sorted((run / "cameras").iterdir())
            jobs = [(cam, root / f"{name}-events" / cam.name) for cam in cams]
            with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
                found = list(pool.map(detect_camera, jobs))
            alerts = [
                Alert(str(e["camera_id"]), str(e["type"]), float(e["position_m"][0]), float(e["start_s"]),  # type: ignore[index]
                      float(e["alert_s"]))  # type: ignore[arg-type]
                for events in found for e in events
            ]  # fmt: skip
            duration = float(manifest["duration_s"])
            scores = score_alerts(alerts, truth_from_manifest(manifest), len(cams) * duration / 3600.0, duration)
            for alert in alerts:
                console.print(f"  {name}: {alert}")
            d = scores.as_dict()
            table.add_row(name, *(str(d[k]) for k in ("incidents", "detected", "alerts", "false_alarms",
                          "false_alarms_per_camera_hour", "ttd_median_s", "ttd_p90_s", "onset_rmse_s",
                          "cause_accuracy", "s4")))  # fmt: skip
            total = scores if total is None else total + scores
        if total is not None:
            d = total.as_dict()
            table.add_row("all", *(str(d[k]) for k in ("incidents", "detected", "alerts", "false_alarms",
                          "false_alarms_per_camera_hour", "ttd_median_s", "ttd_p90_s", "onset_rmse_s",
                          "cause_accuracy", "s4")))  # fmt: skip
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
