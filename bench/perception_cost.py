"""Perception cost per camera: decoding alone versus decode + detect + track, on one core.

Run: .venv/bin/python bench/perception_cost.py [--seconds S]
Clips: ../shared/videos (640x360-class, real) and a 1280x720 simulator clip made on the fly.
Analysis at 5 fps. Prints, per clip and back-end, the CPU seconds per second of video and
the cameras one core could carry in real time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
from rich.console import Console
from rich.table import Table

from yingyan.perception.gating import GatedDetector
from yingyan.perception.motion import MotionDetector
from yingyan.perception.onnx import OnnxDetector
from yingyan.perception.tracking import VehicleTracker
from yingyan.sim.library import load_builtin
from yingyan.sim.runner import RunOptions, run_scenario
from yingyan.sources import FrameReader, SourceConfig

SHARED = Path(__file__).resolve().parents[2] / "shared"


def cost(clip: Path, seconds: float, backend: str) -> tuple[float, float]:
    """(CPU s per video s, video s measured) for one clip and back-end."""
    detector = None
    if backend == "motion":
        detector = MotionDetector(fps=5)
    elif backend == "onnx":
        detector = OnnxDetector(SHARED / "models" / "yolox_nano_416.onnx", threads=1)
    elif backend == "gated onnx":
        detector = GatedDetector(OnnxDetector(SHARED / "models" / "yolox_nano_416.onnx", threads=1), fps=5)
    tracker = VehicleTracker()
    cpu0 = time.process_time()
    last = 0.0
    with FrameReader(SourceConfig(uri=str(clip), fps=5, queue_size=4)) as reader:
        for frame in reader:
            if frame.time_s > seconds:
                break
            last = frame.time_s
            if detector is not None:
                tracker.update(detector.update(frame.image), frame.time_s)
    return (time.process_time() - cpu0) / max(last, 1e-6), last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="video seconds per measurement")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    clips = [SHARED / "videos" / name for name in ("two_lane_street.mp4", "urban_multilane_dusk.mp4")]
    with tempfile.TemporaryDirectory() as tmp:
        run = run_scenario(
            load_builtin("free-flow"),
            Path(tmp) / "hd",
            RunOptions(duration_s=args.seconds + 2, size=(1280, 720), fps=25, workers=1),
        )
        clips.append(run / "cameras" / "K1" / "video.mp4")
        table = Table(title=f"Perception cost on one core, analysis at 5 fps ({args.seconds:.0f} s of each clip)")
        for col in ("clip", "size", "back-end", "CPU s per video s", "cameras per core"):
            table.add_column(col, justify="right")
        for clip in clips:
            probe = cv2.VideoCapture(str(clip))
            w, h = int(probe.get(cv2.CAP_PROP_FRAME_WIDTH)), int(probe.get(cv2.CAP_PROP_FRAME_HEIGHT))
            size = f"{w}x{h} @ {probe.get(cv2.CAP_PROP_FPS):.0f} fps"
            probe.release()
            for backend in ("decode only", "motion", "onnx", "gated onnx"):
                c, _ = cost(clip, args.seconds, backend)
                name = clip.name if "cameras" not in str(clip) else "sim free-flow K1"
                table.add_row(name, size, backend, f"{c:.3f}", f"{1 / c:.1f}")
        Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
