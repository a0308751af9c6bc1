"""Motion-gated neural detection (Frigate's idea): the network runs only where something moves.

Every frame goes through the cheap motion detector. The neural detector then runs on the
region that holds the moving blobs (cropped, padded, so small distant vehicles are seen larger),
on the whole frame every ``full_every_s`` seconds (so vehicles that stop stay detected), and not
at all on frames where nothing moves. Between full passes, the last full pass's detections
that lie away from any motion are carried over.
"""

from __future__ import annotations

import numpy as np
import supervision as sv

from yingyan.perception.detector import Detector
from yingyan.perception.motion import MotionDetector


class GatedDetector:
    """``update(image) -> sv.Detections``; ``neural_calls`` counts how often the network ran."""

    def __init__(
        self,
        neural: Detector,
        fps: float,
        full_every_s: float = 2.0,
        pad_px: int = 32,
        motion: MotionDetector | None = None,
    ) -> None:
        self.neural = neural
        self.motion = motion or MotionDetector(fps=fps)
        self.full_every = max(round(full_every_s * fps), 1)
        self.pad_px = pad_px
        self.neural_calls = 0
        self._frames = 0
        self._static = sv.Detections.empty()

    def update(self, image: np.ndarray) -> sv.Detections:
        moving = self.motion.update(image)
        k = self._frames
        self._frames += 1
        if k % self.full_every == 0 or not self.motion.ready:  # no motion known yet: whole frames
            self.neural_calls += 1
            self._static = self.neural.update(image)
            return self._static
        still = np.asarray(moving.data.get("stationary", np.zeros(len(moving), bool)), dtype=bool)
        boxes = moving.xyxy[~still]
        if len(boxes) == 0:
            return self._static
        h, w = image.shape[:2]
        x1, y1 = np.maximum(boxes[:, :2].min(axis=0) - self.pad_px, 0).astype(int)
        x2, y2 = np.minimum(boxes[:, 2:].max(axis=0) + self.pad_px, [w, h]).astype(int)
        self.neural_calls += 1
        found = self.neural.update(np.ascontiguousarray(image[y1:y2, x1:x2]))
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
