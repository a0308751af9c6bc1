"""Perception: detectors (``update(image) -> supervision.Detections``), the one shared detection type."""

from supervision import Detections

from yingyan.perception.motion import MotionDetector
from yingyan.perception.onnx import ModelFamily, OnnxDetector
from yingyan.perception.tracking import VehicleTracker

__all__ = ["Detections", "ModelFamily", "MotionDetector", "OnnxDetector", "VehicleTracker"]
