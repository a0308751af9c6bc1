"""Detector back-ends by name, as configuration and the command line choose them."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from yingyan.errors import YingyanError

from .detector import Detector


class DetectorName(StrEnum):
    """Detector back-ends."""

    MOTION = "motion"
    ONNX = "onnx"
    GATED = "gated"


def make_detector(name: DetectorName, model: Path | None, fps: float, motion_width: int = 640) -> Detector:
    """A detector: ``motion`` needs no weights; ``onnx`` and ``gated`` (motion-gated onnx) need ``model``."""
    from .gating import GatedDetector
    from .motion import MotionDetector
    from .onnx import OnnxDetector

    if name in (DetectorName.ONNX, DetectorName.GATED):
        if model is None:
            raise YingyanError(f"--detector {name.value} needs --model PATH (an ONNX export of YOLOX or YOLOv8/11)")
        neural: Detector = OnnxDetector(model)
        return GatedDetector(neural, fps=fps) if name is DetectorName.GATED else neural
    return MotionDetector(fps=fps, process_width=motion_width)
