"""The detector interface every back-end implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import supervision as sv


class Detector(Protocol):
    """What a detector back-end offers: ``update(image) -> sv.Detections`` (BGR image, its own pixels)."""

    def update(self, image: np.ndarray) -> sv.Detections: ...


@runtime_checkable
class ScaledDetector(Protocol):
    """A detector that can look at a region of a frame at the scale it would see the whole frame."""

    def update(self, image: np.ndarray) -> sv.Detections: ...

    def scale_for(self, shape: tuple[int, ...]) -> float:
        """Model pixels per image pixel for a whole image of ``shape`` (h, w, ...)."""
        ...

    def detect(self, image: np.ndarray, scale: float, origin: tuple[int, int] = (0, 0)) -> sv.Detections:
        """Detections in ``image``, a region of a frame starting at ``origin``, seen at ``scale``; in frame pixels."""
        ...
