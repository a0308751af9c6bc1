"""Traffic-state accuracy of `yingyan analyze` against simulator ground truth.

Run: .venv/bin/python bench/state_accuracy.py [--detector motion|onnx|gated] [--duration S] [--out DIR]
Simulates each scenario (640x360, 10 fps), analyses every camera at 5 fps, and prints the
errors per scenario and overall: count error %, space-mean speed MAE, queue MAE, occupancy
error (goals of issue 3: ≤ 5 %, ≤ 3 km/h, ≤ 15 m, ≤ 5 points).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from rich.console import Console
from rich.table import Table

from yingyan.calibration import CameraCalibration
from yingyan.perception.analyze import analyze
from yingyan.perception.backends import SHIPPED_MODEL
from yingyan.perception.detector import Detector
from yingyan.perception.gating import GatedDetector
from yingyan.perception.motion import MotionDetector
from yingyan.perception.onnx import OnnxDetector
from yingyan.sim.library import load_builtin
from yingyan.sim.runner import RunOptions, run_scenario
from yingyan.sources import SourceConfig
from yingyan.traffic.score import TABLE_COLUMNS, read_lane_states, score

MODEL = SHIPPED_MODEL  # YOLOX-nano, inside the package


def detector_for(name: str, fps: float) -> Detector:
    if name == "motion":
        return MotionDetector(fps=fps)
    if name == "onnx":
        return OnnxDetector(MODEL)
    return GatedDetector(OnnxDetector(MODEL), fps=fps)


def analyse_camera(job: tuple[Path, Path, str, float]) -> None:
    """Analyse one simulated camera (run in a worker process)."""
    cam, out, detector, fps = job
    analyze(
        SourceConfig(uri=str(cam / "video.mp4"), fps=fps),
        CameraCalibration.load(cam / "calibration.json"),
        detector_for(detector, fps),
        out,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--detector", default="motion", choices=["motion", "onnx", "gated"])
    parser.add_argument("--duration", type=float, default=None, help="seconds of each scenario (default: all)")
    parser.add_argument("--scenarios", nargs="+", default=["free-flow", "corridor-peak", "night-stall"])
    parser.add_argument("--fps", type=float, default=5.0, help="analysis rate (default 5)")
    parser.add_argument("--jobs", type=int, default=2, help="cameras analysed in parallel (default 2)")
    parser.add_argument("--out", type=Path, default=None, help="keep runs and analyses here")
    args = parser.parse_args()
    console = Console()
    title = f"Lane state from video ({args.detector}) against ground truth, 640x360, analysed at {args.fps:g} fps"
    table = Table(title=title)
    for col in ("scenario", *TABLE_COLUMNS):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        truth_all: dict[tuple[str, float], dict[str, str]] = {}
        pred_all: dict[tuple[str, float], dict[str, str]] = {}
        for name in args.scenarios:
            run = root / f"{name}-run"
            if not (run / "manifest.json").exists():
                run_scenario(load_builtin(name), run, RunOptions(seed=1, duration_s=args.duration, force=True))
            cams = sorted((run / "cameras").iterdir())
            jobs = [(cam, root / f"{name}-{args.detector}" / cam.name, args.detector, args.fps) for cam in cams]
            with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
                list(pool.map(analyse_camera, jobs))
            truth = read_lane_states(run / "cameras")
            pred = read_lane_states(root / f"{name}-{args.detector}")
            overall, _ = score(truth, pred)
            truth_all |= {(f"{name}/{k[0]}", k[1]): v for k, v in truth.items()}
            pred_all |= {(f"{name}/{k[0]}", k[1]): v for k, v in pred.items()}
            table.add_row(name, *overall.cells())
            console.print(f"{name}: done")
        overall, _ = score(truth_all, pred_all)
        table.add_row("all", *overall.cells())
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
