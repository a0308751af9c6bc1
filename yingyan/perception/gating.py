"""Motion-gated neural detection (Frigate's idea): the network runs only where something moves.

The gate must cost far less than the network it saves, so it is a plain frame difference on
a small copy of the frame (160 px wide, well under a millisecond), not a background model. The
neural detector then runs on the region that holds what changed since the last analysed frame
(cropped, padded to at least :data:`MIN_CROP_MODEL_PX` of the network's input each way, and at
the whole frame's scale when the detector can), on the whole frame every ``full_every_s``
seconds (so vehicles that stop stay detected), and not at all on frames where nothing moves.
Between passes, what was found where nothing has moved since is carried over.
"""

from __future__ import annotations

import cv2
import numpy as np
import supervision as sv

from yingyan.perception.detector import Detector, ScaledDetector

GATE_WIDTH = 160  # pixels across of the small copy the gate compares
GATE_LEVEL = 18  # levels of change (in any colour channel) that count as motion
GATE_MIN_PIXELS = 3  # changed pixels (of the small copy) in one place that count as something moving
MIN_CROP_MODEL_PX = 160  # the least side of a crop, in the network's input pixels (at the frame's scale)
MIN_INPUT_PX = 256  # a smaller crop is shown to the network enlarged to this, up to the camera's own pixels
EDGE_PX = 2.0  # a box this close to the crop's inner edge is cut by it
SAME_IOU = 0.3  # a carried box overlapping a fresh one this much is the same vehicle


class FrameDifferenceGate:
    """``update(image) -> list of boxes (x1, y1, x2, y2)`` in image pixels of what changed."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._kernel = np.ones((3, 3), np.uint8)

    def update(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        h, w = image.shape[:2]
        scale = w / GATE_WIDTH
        small = cv2.resize(image, (GATE_WIDTH, max(round(h / scale), 1)), interpolation=cv2.INTER_AREA)
        small = np.asarray(cv2.GaussianBlur(small, (3, 3), 0))
        previous, self._previous = self._previous, small
        if previous is None:
            return [(0, 0, w, h)]  # nothing to compare with: everything may be new
        # Largest change over the colour channels: a red car on grey asphalt has the road's grey level.
        changed = (cv2.absdiff(small, previous).max(axis=2) > GATE_LEVEL).astype(np.uint8)
        changed = np.asarray(cv2.dilate(changed, self._kernel), dtype=np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(changed, connectivity=8)
        return [
            (int(x * scale), int(y * scale), int((x + bw) * scale), int((y + bh) * scale))
            for x, y, bw, bh, area in stats[1:count]
            if area >= GATE_MIN_PIXELS
        ]


class GatedDetector:
    """``update(image) -> sv.Detections``; ``neural_calls`` counts how often the network ran."""

    def __init__(self, neural: Detector, fps: float, full_every_s: float = 2.0, pad_px: int = 32) -> None:
        self.neural = neural
        self.gate = FrameDifferenceGate()
        self.full_every = max(round(full_every_s * fps), 1)
        self.pad_px = pad_px
        self.neural_calls = 0
        self._frames = 0
        self._static = sv.Detections.empty()

    def scale_for(self, shape: tuple[int, ...]) -> float:
        """The network's scale for a whole frame of ``shape`` (1 when it cannot be told a scale)."""
        return self.neural.scale_for(shape) if isinstance(self.neural, ScaledDetector) else 1.0

    def update(self, image: np.ndarray) -> sv.Detections:
        return self.detect(image, self.scale_for(image.shape))

    def _run(self, image: np.ndarray, scale: float, origin: tuple[int, int]) -> sv.Detections:
        """The network on ``image`` (a region at ``origin``), at ``scale`` when it can be told one; frame pixels."""
        self.neural_calls += 1
        if isinstance(self.neural, ScaledDetector):
            # At the whole frame's scale: a vehicle looks as it does in a full pass, and a network
            # that takes any input size costs in proportion to the region's area.
            return self.neural.detect(image, scale, origin)
        found = self.neural.update(image)
        if len(found) and origin != (0, 0):
            found.xyxy = found.xyxy + np.array([*origin, *origin], dtype=np.float32)
        return found

    def detect(self, image: np.ndarray, scale: float, origin: tuple[int, int] = (0, 0)) -> sv.Detections:
        """Detections in ``image``, a region of the frame starting at ``origin`` (the same every frame)."""
        changed = self.gate.update(image)
        k = self._frames
        self._frames += 1
        if k % self.full_every == 0:
            self._static = self._run(image, scale, origin)
            return self._static
        if not changed:
            return self._static
        boxes = np.asarray(changed, dtype=np.float64)
        h, w = image.shape[:2]
        lo = boxes[:, :2].min(axis=0) - self.pad_px
        hi = boxes[:, 2:].max(axis=0) + self.pad_px
        # A small detector finds nothing in a crop that is little more than the car itself: give it
        # room round what moved, at least MIN_CROP_MODEL_PX of its own input each way.
        least = np.minimum(MIN_CROP_MODEL_PX / max(scale, 1e-6), [w, h])
        grow = np.maximum(least - (hi - lo), 0.0) / 2
        lo, hi = lo - grow, hi + grow
        shift = np.maximum(-lo, 0.0) - np.maximum(hi - [w, h], 0.0)  # slide back inside the frame
        lo, hi = lo + shift, hi + shift
        x1, y1 = np.maximum(lo, 0).astype(int)
        x2, y2 = np.minimum(np.ceil(hi), [w, h]).astype(int)
        crop = np.ascontiguousarray(image[y1:y2, x1:x2])
        # And look at a small crop larger than the whole frame's scale (at most the camera's own pixels):
        # a small detector given under MIN_INPUT_PX of input misses even a car it finds in the full pass.
        side = min(x2 - x1, y2 - y1)
        crop_scale = max(scale, min(MIN_INPUT_PX / max(side, 1), 1.0))
        found = self._run(crop, crop_scale, (origin[0] + int(x1), origin[1] + int(y1)))
        offset = np.array([*origin, *origin], dtype=np.float32)
        region = (int(x1), int(y1), int(x2), int(y2))
        if len(found):  # a box cut by the crop's edge (not the frame's) is part of something: not this pass's
            found = _subset(found, ~_cut(found.xyxy - offset, region, (w, h)))
        static = self._static
        if len(static):
            # Inside the crop the network has just looked again, and what motion touched has moved or
            # left; the rest was found where nothing has moved since: carried over (once, if found again).
            s = static.xyxy - offset
            inside = (s[:, 0] >= x1) & (s[:, 1] >= y1) & (s[:, 2] <= x2) & (s[:, 3] <= y2) & ~_cut(s, region, (w, h))
            moved = (
                (s[:, None, 0] < boxes[None, :, 2]) & (s[:, None, 2] > boxes[None, :, 0])
                & (s[:, None, 1] < boxes[None, :, 3]) & (s[:, None, 3] > boxes[None, :, 1])
            ).any(axis=1)  # fmt: skip
            keep = ~inside & ~moved
            if len(found):
                keep &= sv.box_iou_batch(static.xyxy, found.xyxy).max(axis=1) < SAME_IOU
            carried = _subset(static, keep)
            found = sv.Detections.merge([found, carried]) if len(carried) else found
        self._static = found  # what the crop found is carried over too, until motion touches it again
        return found


def _subset(detections: sv.Detections, mask: np.ndarray) -> sv.Detections:
    picked = detections[mask]
    assert isinstance(picked, sv.Detections)
    return picked


def _cut(xyxy: np.ndarray, region: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """Boxes that reach the region's edge where it is not the frame's: cut by the region, not whole in it."""
    x1, y1, x2, y2 = region
    w, h = size
    return np.asarray(
        ((xyxy[:, 0] <= x1 + EDGE_PX) & (x1 > 0)) | ((xyxy[:, 1] <= y1 + EDGE_PX) & (y1 > 0))
        | ((xyxy[:, 2] >= x2 - EDGE_PX) & (x2 < w)) | ((xyxy[:, 3] >= y2 - EDGE_PX) & (y2 < h))
    )  # fmt: skip
