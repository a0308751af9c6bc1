"""Perception cost per camera: decoding alone versus the whole `yingyan analyze` pipeline, on one core.

Run: .venv/bin/python bench/perception_cost.py [--seconds S]
Clips: ../shared/videos (640x360-class, real; calibrations from tests/data/real_clips) and
free-flow simulator clips at 640x360 and 1280x720, 25 fps, made on the fly. The pipeline is
decode, detect, track, place on the road, lane state, tracks.jsonl: all of it.
Analysis at 5 fps. Prints, per clip and back-end, the CPU seconds per second of video and
the cameras one core could carry in real time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import av
import cv2
from clips import free_flow_clip, real_clips  # bench/clips.py
from rich.console import Console
from rich.table import Table

from yingyan.calibration import CameraCalibration
from yingyan.perception.analyze import analyze
from yingyan.perception.backends import SHIPPED_MODEL
from yingyan.perception.detector import Detector
from yingyan.perception.gating import GatedDetector
from yingyan.perception.motion import MotionDetector
from yingyan.perception.onnx import OnnxDetector
from yingyan.sources import FrameReader, SourceConfig


def detector_for(backend: str) -> Detector:
    model = SHIPPED_MODEL
    if backend == "motion":
        return MotionDetector(fps=5)
    if backend == "motion 480":
        return MotionDetector(fps=5, process_width=480)
    if backend == "onnx":
        return OnnxDetector(model, threads=1)
    return GatedDetector(OnnxDetector(model, threads=1), fps=5)


def cost(clip: Path, calibration: CameraCalibration, seconds: float, backend: str, fast: bool = False) -> float:
    """CPU s per video s of one clip: decoding alone, or the whole `yingyan analyze` pipeline."""
    cpu0 = time.process_time()
    last = 0.0
    if backend == "decode only":
        with FrameReader(SourceConfig(uri=str(clip), fps=5, queue_size=4, fast_decode=fast)) as reader:
            for frame in reader:
                if frame.time_s > seconds:
                    break
                last = frame.time_s
    else:
        with tempfile.TemporaryDirectory() as out:
            summary = analyze(
                SourceConfig(uri=str(clip), fps=5, queue_size=4, fast_decode=fast),
                calibration,
                detector_for(backend),
                Path(out),
            )
            last = summary.frames / 5.0
    return (time.process_time() - cpu0) / max(last, 1e-6)


def camera_bitrate_copy(src: Path, dst: Path, kbps: int) -> Path:
    """``src`` re-encoded as a camera streams it: H.264 at a constant ``kbps``, a key frame every 2 s."""
    with av.open(str(src)) as source, av.open(str(dst), "w") as sink:
        stream = sink.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = (
            source.streams.video[0].width,
            source.streams.video[0].height,
            "yuv420p",
        )
        stream.bit_rate = kbps * 1000
        stream.codec_context.time_base = Fraction(1, 25)
        stream.options = {
            "preset": "veryfast",
            "x264-params": f"nal-hrd=cbr:vbv-maxrate={kbps}:vbv-bufsize={2 * kbps}:keyint=50",
        }
        for i, frame in enumerate(source.decode(video=0)):
            frame.pts, frame.time_base = i, Fraction(1, 25)
            sink.mux(stream.encode(frame))
        sink.mux(stream.encode(None))
    return dst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="video seconds per measurement")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    real = [(clip, calibration) for _, clip, calibration in real_clips()]
    with tempfile.TemporaryDirectory() as tmp:
        clips = list(real)
        for sim_size in ((640, 360), (1280, 720)):
            clip, calibration = free_flow_clip(Path(tmp) / f"sim{sim_size[0]}", sim_size, args.seconds)
            clips.append((clip, calibration))
            if sim_size[0] >= 1280:
                # The renderer's flat shading compresses to ~0.3 Mbit/s; a 720p camera streams 2-4.
                camera_like = camera_bitrate_copy(clip, clip.parent / "video_2mbps.mp4", kbps=2000)
                clips.append((camera_like, calibration))
        title = f"Perception cost on one core, analysis at 5 fps (up to {args.seconds:.0f} s of each clip)"
        table = Table(title=title)
        for col in ("clip", "size", "back-end", "CPU s per video s", "× decode", "cameras per core"):
            table.add_column(col, justify="right")
        for clip, calibration in clips:
            probe = cv2.VideoCapture(str(clip))
            w, h = int(probe.get(cv2.CAP_PROP_FRAME_WIDTH)), int(probe.get(cv2.CAP_PROP_FRAME_HEIGHT))
            size = f"{w}x{h} @ {probe.get(cv2.CAP_PROP_FPS):.0f} fps"
            probe.release()
            name = clip.name if "cameras" not in str(clip) else f"sim free-flow K1 {w}x{h}"
            if clip.name.endswith("2mbps.mp4"):
                name += " at 2 Mbit/s"
            decode = cost(clip, calibration, args.seconds, "decode only")
            table.add_row(name, size, "decode only", f"{decode:.3f}", "1.0", f"{1 / decode:.1f}")
            for backend in ("motion", "onnx", "gated onnx"):
                c = cost(clip, calibration, args.seconds, backend)
                table.add_row(name, size, backend, f"{c:.3f}", f"{c / decode:.2f}", f"{1 / c:.1f}")
            if w >= 1280:  # the many-camera case: motion at 480 px, and gated onnx with fast decoding
                c = cost(clip, calibration, args.seconds, "motion 480")
                table.add_row(name, size, "motion at 480 px", f"{c:.3f}", f"{c / decode:.2f}", f"{1 / c:.1f}")
                fast_decode = cost(clip, calibration, args.seconds, "decode only", fast=True)
                c = cost(clip, calibration, args.seconds, "gated onnx", fast=True)
                table.add_row(name, size, "decode only, fast", f"{fast_decode:.3f}", "1.0", f"{1 / fast_decode:.1f}")
                table.add_row(name, size, "gated onnx, fast", f"{c:.3f}", f"{c / fast_decode:.2f}", f"{1 / c:.1f}")
        Console(width=140).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
