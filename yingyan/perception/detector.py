"""The detector interface every back-end implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import supervision as sv


class Detector(Protocol):
    """What a detector back-end offers: ``update(image) -> sv.Detections`` (BGR image, its own pixels)."""

    def update(self, image: np.ndarray) -> sv.Detections: ...
