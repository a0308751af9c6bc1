"""Look only where the lanes are, and look closer where they are far: the regions of a frame that a
camera's calibration measures.

A checkpoint camera sees more than its lanes (verges, the other carriageway, sky); detection
there costs time and measures nothing. The region is the bounding box of the lanes and zones
plus, around every lane corner, the box a truck standing there would fill (a tall vehicle
on the far lane reaches above the lane's polygon in the image).

A small detector sees a whole 1280x720 or 1920x1080 frame shrunk to about 416 px wide, so a car
at the far end of a 150–250 m stretch is a few pixels tall to it and is never found. The *far*
region is where a car would be under :data:`SMALL_PX` tall at that scale; it is looked at a
second time, at up to the camera's own resolution (as much as fits the model's input), and the
two passes' detections are merged: the far pass owns what lies wholly inside its region.
"""

from __future__ import annotations

import cv2
import numpy as np
import supervision as sv

from yingyan.calibration import CameraCalibration
from yingyan.perception.classes import CAR, TRUCK
from yingyan.perception.detector import ScaledDetector
from yingyan.traffic.footprint import FootprintLocator

FALLBACK_MARGIN = 0.15  # of the frame's height, around the lanes, when the camera cannot be recovered
SMALL_PX = 24.0  # a car shorter than this in the model's input is often missed by a small COCO detector
FAR_GAIN = 1.5  # the far pass is worth its cost only if it sees the far region at least this much larger
SAMPLE_M = 2.0  # spacing of the road points sampled in the lanes
EDGE_PX = 2.0  # a far-pass box this close to its region's inner edge is cut by it
NMS_IOU = 0.5


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


def far_region(
    calibration: CameraCalibration, detector: ScaledDetector, margin_px: int = 8
) -> tuple[tuple[int, int, int, int], float] | None:
    """The region where a car on the measured lanes is under :data:`SMALL_PX` tall to ``detector`` seeing
    the whole frame, and the scale to look at it (at most the camera's own pixels, as much as fits the
    model's input); ``None`` when there is no such region or looking again would not show it larger."""
    locator = FootprintLocator(calibration)
    if locator.camera is None:
        return None
    w, h = calibration.image_size
    whole = detector.scale_for((h, w))
    points = np.concatenate([_inside(np.asarray(lane.polygon_road, dtype=np.float64)) for lane in calibration.lanes])
    if len(points) == 0:
        return None
    cars = locator.predicted_boxes(points, np.full(len(points), CAR))
    finite = np.isfinite(cars).all(axis=1)
    small = finite & ((cars[:, 3] - cars[:, 1]) * whole < SMALL_PX)
    if not small.any():
        return None
    x1, y1 = np.clip(cars[small, :2].min(axis=0) - margin_px, 0, [w, h])
    x2, y2 = np.clip(cars[small, 2:].max(axis=0) + margin_px, 0, [w, h])
    region = (int(x1), int(y1), int(np.ceil(x2)), int(np.ceil(y2)))
    if region[2] - region[0] < 16 or region[3] - region[1] < 16:
        return None
    scale = min(1.0, detector.scale_for((region[3] - region[1], region[2] - region[0])))
    return (region, scale) if scale >= FAR_GAIN * whole else None


def _inside(polygon: np.ndarray) -> np.ndarray:
    """Road points every :data:`SAMPLE_M` inside a polygon (metres)."""
    lo, hi = polygon.min(axis=0), polygon.max(axis=0)
    xs = np.arange(lo[0], hi[0] + SAMPLE_M, SAMPLE_M)
    ys = np.arange(lo[1], hi[1] + SAMPLE_M, SAMPLE_M)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    contour = polygon.astype(np.float32).reshape(-1, 1, 2)
    keep = [cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in grid]
    return grid[np.asarray(keep, dtype=bool)] if len(grid) else grid


class RegionDetector:
    """``update(image) -> sv.Detections``: ``detector`` run on a fixed region at the whole frame's scale,
    and, given ``far`` (a region and its scale, see :func:`far_region`), once more on that region."""

    def __init__(
        self,
        detector: ScaledDetector,
        region: tuple[int, int, int, int],
        far: tuple[tuple[int, int, int, int], float] | None = None,
    ) -> None:
        self.detector = detector
        self.region = region
        self.far = far

    def update(self, image: np.ndarray) -> sv.Detections:
        x1, y1, x2, y2 = self.region
        scale = self.detector.scale_for(image.shape)
        found = self.detector.detect(image[y1:y2, x1:x2], scale, (x1, y1))
        if self.far is None:
            return found
        (fx1, fy1, fx2, fy2), far_scale = self.far
        near = self.detector.detect(image[fy1:fy2, fx1:fx2], far_scale, (fx1, fy1))
        h, w = image.shape[:2]
        # A far-pass box cut by the region's edge (not the frame's) is part of a vehicle: the whole pass has it.
        b = near.xyxy
        cut = (
            ((b[:, 0] <= fx1 + EDGE_PX) & (fx1 > 0)) | ((b[:, 1] <= fy1 + EDGE_PX) & (fy1 > 0))
            | ((b[:, 2] >= fx2 - EDGE_PX) & (fx2 < w)) | ((b[:, 3] >= fy2 - EDGE_PX) & (fy2 < h))
        )  # fmt: skip
        near = _subset(near, ~cut)
        a = found.xyxy
        owned = (a[:, 0] >= fx1) & (a[:, 1] >= fy1) & (a[:, 2] <= fx2) & (a[:, 3] <= fy2)
        kept = _subset(found, ~owned)
        if len(kept) and len(near):  # a vehicle across the region's edge, found whole by both passes: once
            near = _subset(near, sv.box_iou_batch(near.xyxy, kept.xyxy).max(axis=1) <= NMS_IOU)
        return sv.Detections.merge([kept, near])


def _subset(detections: sv.Detections, mask: np.ndarray) -> sv.Detections:
    picked = detections[mask]
    assert isinstance(picked, sv.Detections)
    return picked
