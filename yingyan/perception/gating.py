"""Motion-gated neural detection (Frigate's idea): the network runs only where something moves.

The gate must cost far less than the network it saves, so it is a plain frame difference on
a small copy of the frame (160 px wide, well under a millisecond), not a background model. The
neural detector then runs on the region that holds what changed since the last analysed frame
(cropped, padded, and at the whole frame's scale when the detector can), on the whole frame
every ``full_every_s`` seconds (so vehicles that stop stay detected), and not at all on frames
where nothing moves. Between full passes, the last
full pass's detections that no motion has touched since are carried over.
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
        x1, y1 = np.maximum(boxes[:, :2].min(axis=0) - self.pad_px, 0).astype(int)
        x2, y2 = np.minimum(boxes[:, 2:].max(axis=0) + self.pad_px, [w, h]).astype(int)
        crop = np.ascontiguousarray(image[y1:y2, x1:x2])
        found = self._run(crop, scale, (origin[0] + int(x1), origin[1] + int(y1)))
        static = self._static
        if len(static) == 0:
            return found
        xyxy = static.xyxy - np.array([*origin, *origin], dtype=np.float32)
        outside = (xyxy[:, 2] < x1) | (xyxy[:, 0] > x2) | (xyxy[:, 3] < y1) | (xyxy[:, 1] > y2)
        # What moved since the full pass is found in the crop (or has left): only what never
        # moved stays carried over, else a vehicle found moving would leave a ghost behind it.
        carried = static[np.nonzero(outside)[0]]
        assert isinstance(carried, sv.Detections)
        self._static = carried
        return sv.Detections.merge([found, carried]) if len(carried) else found
