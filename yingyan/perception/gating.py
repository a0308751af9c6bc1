"""Motion-gated neural detection (Frigate's idea): the network runs only where something moves.

The gate must cost far less than the network it saves, so it is a plain frame difference on
a small copy of the frame (160 px wide, well under a millisecond), not a background model. The
neural detector then runs on the region that holds what changed since the last analysed frame
(cropped, padded, and at the whole frame's scale when the detector can), on the whole frame
every ``full_every_s`` seconds (so vehicles that stop stay detected), and not at all on frames
where nothing moves. Between full passes, the last
full pass's detections that lie away from any motion are carried over.
"""

from __future__ import annotations

import cv2
import numpy as np
import supervision as sv

from yingyan.perception.detector import Detector, ScaledDetector

GATE_WIDTH = 160  # pixels across of the small copy the gate compares
GATE_LEVEL = 18  # levels of change (in any colour channel) that count as motion
GATE_MIN_PIXELS = 3  # changed pixels (of the small copy) in one place that count as something moving


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

    def update(self, image: np.ndarray) -> sv.Detections:
        changed = self.gate.update(image)
        k = self._frames
        self._frames += 1
        if k % self.full_every == 0:
            self.neural_calls += 1
            self._static = self.neural.update(image)
            return self._static
        if not changed:
            return self._static
        boxes = np.asarray(changed, dtype=np.float64)
        h, w = image.shape[:2]
        x1, y1 = np.maximum(boxes[:, :2].min(axis=0) - self.pad_px, 0).astype(int)
        x2, y2 = np.minimum(boxes[:, 2:].max(axis=0) + self.pad_px, [w, h]).astype(int)
        self.neural_calls += 1
        crop = np.ascontiguousarray(image[y1:y2, x1:x2])
        if isinstance(self.neural, ScaledDetector):
            # The crop at the whole frame's scale: a vehicle looks as it does in a full pass, and
            # a network that takes any input size costs in proportion to the crop's area.
            found = self.neural.detect(crop, self.neural.scale_for(image.shape))
        else:
            found = self.neural.update(crop)
        if len(found):
            found.xyxy = found.xyxy + np.array([x1, y1, x1, y1], dtype=np.float32)
        static = self._static
        if len(static) == 0:
            return found
        xyxy = static.xyxy
        outside = (xyxy[:, 2] < x1) | (xyxy[:, 0] > x2) | (xyxy[:, 3] < y1) | (xyxy[:, 1] > y2)
        carried = static[np.nonzero(outside)[0]]
        assert isinstance(carried, sv.Detections)
        return sv.Detections.merge([found, carried]) if len(carried) else found
