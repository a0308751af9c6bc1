"""Detector back-ends by name, as configuration and the command line choose them."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from .detector import Detector

SHIPPED_MODEL = Path(__file__).parent / "models" / "yolox_nano_416.onnx"
"""YOLOX-nano (COCO, Apache-2.0), shipped inside the package: the model of ``onnx`` and ``gated`` unless one is
given (its origin and licence in ``models/README.md``)."""


class DetectorName(StrEnum):
    """Detector back-ends."""

    MOTION = "motion"
    ONNX = "onnx"
    GATED = "gated"


def make_detector(
    name: DetectorName, model: Path | None, fps: float, motion_width: int = 640, threads: int = 2
) -> Detector:
    """A detector: ``motion`` needs no weights; ``onnx`` and ``gated`` (motion-gated onnx) run ``model``, by default
    the shipped YOLOX-nano, on ``threads`` CPU threads (one where each pipeline has a core of its own: more
    threads than cores spin against each other)."""
    from .gating import GatedDetector
    from .motion import MotionDetector
    from .onnx import OnnxDetector

    if name in (DetectorName.ONNX, DetectorName.GATED):
        neural: Detector = OnnxDetector(model or SHIPPED_MODEL, threads=threads)
        return GatedDetector(neural, fps=fps) if name is DetectorName.GATED else neural
    return MotionDetector(fps=fps, process_width=motion_width)
