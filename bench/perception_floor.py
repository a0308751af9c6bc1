"""Where the `motion` pipeline's time goes, stage by stage, against decoding alone, on one core.

Run: .venv/bin/python bench/perception_floor.py [--seconds S]

Issue 3 asks the full `motion` pipeline to cost at most 1.5x decoding alone, which leaves half
of the decoding time for everything after the decoder. This bench measures, per clip, the CPU
time of decoding every frame, and then, on the frames kept for analysis at 5 fps (held in
memory, so that each stage is timed alone): one MOG2 update alone, the conversion to BGR, the
motion detector, the tracker (roboflow/trackers ByteTrack, which the issue requires) and the lane
meter. It prints each stage in ms per analysed frame beside the budget the goal leaves (0.5 x
decode), so one can see which stages alone already exceed it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import av
import cv2
import numpy as np
import supervision as sv
from clips import free_flow_clip, real_clips  # bench/clips.py
from rich.console import Console
from rich.table import Table

from yingyan.calibration import CameraCalibration
from yingyan.perception.motion import MotionDetector
from yingyan.perception.region import RegionDetector, lanes_region
from yingyan.perception.tracking import VehicleTracker
from yingyan.traffic.meter import LaneMeter

RATE = 5.0  # analysed frames per second


def _cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def stages(clip: Path, calibration: CameraCalibration, seconds: float) -> dict[str, float]:
    """CPU seconds of each stage over the first ``seconds`` of ``clip``, and the frames analysed."""
    kept: list[av.VideoFrame] = []
    start = time.process_time()
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        next_due = 0.0
        for frame in container.decode(stream):
            t = float(frame.time or 0.0)
            if t > seconds:
                break
            if t >= next_due - 1e-3:
                kept.append(frame)
                next_due += 1.0 / RATE
    decode = time.process_time() - start
    images: list[np.ndarray] = []
    convert = _cpu(lambda: images.extend(f.to_ndarray(format="bgr24") for f in kept))
    # The floor: one background-subtraction update (OpenCV's MOG2, as the design names it) of the
    # lanes' region at the detector's working size, nothing else.
    region = lanes_region(calibration)
    x0, y0, x1, y1 = region
    scale = MotionDetector(fps=RATE).scale_for(images[0].shape)  # as RegionDetector: the whole frame's scale
    size = (round((x1 - x0) * scale), round((y1 - y0) * scale))
    crops = [cv2.resize(image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA) for image in images]
    mog2 = cv2.createBackgroundSubtractorMOG2(history=50, varThreshold=25, detectShadows=True)
    one_mog2 = _cpu(lambda: [mog2.apply(crop) for crop in crops])
    motion = MotionDetector(fps=RATE)
    motion.use_calibration(calibration)
    detector = RegionDetector(motion, region)
    found: list[sv.Detections] = []
    detect = _cpu(lambda: found.extend(detector.update(image) for image in images))
    tracker = VehicleTracker()
    tracked: list[sv.Detections] = []
    track = _cpu(lambda: tracked.extend(tracker.update(d, i / RATE) for i, d in enumerate(found)))
    meter = LaneMeter(calibration, dt_s=1.0 / RATE)
    measure = _cpu(lambda: [meter.update(d, i / RATE) for i, d in enumerate(tracked)])
    return {"decode": decode, "convert": convert, "detect": detect, "track": track,
            "measure": measure, "mog2": one_mog2, "frames": float(len(kept))}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="video seconds per clip")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    clips = real_clips()
    with tempfile.TemporaryDirectory() as tmp:
        for size in ((640, 360), (1280, 720)):
            clip, calibration = free_flow_clip(Path(tmp) / f"sim{size[0]}", size, args.seconds)
            clips.append((f"sim free-flow K1 {size[0]}x{size[1]}", clip, calibration))
        title = f"The motion pipeline stage by stage, one core, {RATE:g} fps analysis (ms per analysed frame)"
        table = Table(title=title)
        for col in ("clip", "decode (all frames)", "budget 0.5x decode", "one MOG2 update", "to BGR", "motion detector",
                    "ByteTrack", "lane meter", "after decode", "x decode"):  # fmt: skip
            table.add_column(col, justify="right")
        for name, clip, calibration in clips:
            s = stages(clip, calibration, args.seconds)
            per = {k: 1000.0 * v / s["frames"] for k, v in s.items() if k != "frames"}
            after = per["convert"] + per["detect"] + per["track"] + per["measure"]
            cells = [per[k] for k in ("decode",)] + [0.5 * per["decode"]]
            cells += [per[k] for k in ("mog2", "convert", "detect", "track", "measure")]
            cells += [after, (per["decode"] + after) / per["decode"]]
            table.add_row(name, *(f"{c:.2f}" for c in cells))
        Console(width=160).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
