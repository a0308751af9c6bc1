"""Look only where the lanes are: the region of a frame that a camera's calibration measures.

A checkpoint camera sees more than its lanes (verges, the other carriageway, sky); detection
there costs time and measures nothing. The region is the bounding box of the lanes and zones
plus, around every lane corner, the box a truck standing there would fill (a tall vehicle
on the far lane reaches above the lane's polygon in the image).
"""

from __future__ import annotations

import numpy as np
import supervision as sv

from yingyan.calibration import CameraCalibration
from yingyan.perception.classes import TRUCK
from yingyan.perception.detector import ScaledDetector
from yingyan.traffic.footprint import FootprintLocator

FALLBACK_MARGIN = 0.15  # of the frame's height, around the lanes, when the camera cannot be recovered


def lanes_region(calibration: CameraCalibration, margin_px: int = 8) -> tuple[int, int, int, int]:
    """``(x1, y1, x2, y2)`` in image pixels holding every measured lane, zone and the vehicles on them."""
    w, h = calibration.image_size
    polygons = [lane.polygon_image for lane in calibration.lanes] + [zone.polygon_image for zone in calibration.zones]
    corners = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons])
    locator = FootprintLocator(calibration)
    if locator.camera is not None:
        road = calibration.image_to_road(corners)
        trucks = locator.predicted_boxes(road, np.full(len(road), TRUCK))
        finite = np.isfinite(trucks).all(axis=1)
        points = np.concatenate([corners, trucks[finite].reshape(-1, 2)])
        extra = float(margin_px)
    else:
        points = corners
        extra = FALLBACK_MARGIN * h
    x1, y1 = np.clip(points.min(axis=0) - extra, 0, [w, h])
    x2, y2 = np.clip(points.max(axis=0) + extra, 0, [w, h])
    if x2 - x1 < 32 or y2 - y1 < 32:
        return (0, 0, w, h)
    return (int(x1), int(y1), int(np.ceil(x2)), int(np.ceil(y2)))


class RegionDetector:
    """``update(image) -> sv.Detections``: ``detector`` run on a fixed region, at the whole frame's scale."""

    def __init__(self, detector: ScaledDetector, region: tuple[int, int, int, int]) -> None:
        self.detector = detector
        self.region = region

    def update(self, image: np.ndarray) -> sv.Detections:
        x1, y1, x2, y2 = self.region
        scale = self.detector.scale_for(image.shape)
        return self.detector.detect(image[y1:y2, x1:x2], scale, (x1, y1))
