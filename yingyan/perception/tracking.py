"""Tracking: one ByteTrack (roboflow/trackers) per camera, driven by stream time.

Ids are unique within one camera and independent of every other camera's tracker; tracks
lost for longer than ``lost_s`` are dropped, so memory stays bounded on a stream that runs
for weeks.
"""

from __future__ import annotations

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker


class VehicleTracker:
    """Assigns ``tracker_id`` to detections; ``update(detections, time_s)`` is its one verb.

    >>> import numpy as np, supervision as sv
    >>> tracker = VehicleTracker()
    >>> box = sv.Detections(xyxy=np.array([[10.0, 10, 50, 40]]), confidence=np.array([0.9]), class_id=np.array([2]))
    >>> [tracker.update(box, t / 5).tracker_id.tolist() for t in range(3)]
    [[-1], [0], [0]]
    """

    def __init__(
        self, lost_s: float = 2.0, activation: float = 0.35, high_confidence: float = 0.4, min_iou: float = 0.1
    ) -> None:
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(int(round(lost_s * 30.0)), 1),  # the library counts 30 fps frames
            frame_rate=30.0,
            track_activation_threshold=activation,
            minimum_consecutive_frames=2,
            minimum_iou_threshold=min_iou,
            high_conf_det_threshold=high_confidence,
        )

    def update(self, detections: sv.Detections, time_s: float) -> sv.Detections:
        """Tracked detections at stream time ``time_s``; unconfirmed ones carry id -1."""
        tracked = self._tracker.update(detections, timestamp=time_s)
        if tracked.tracker_id is None:
            tracked.tracker_id = np.full(len(tracked), -1, dtype=int)
        return tracked

    @property
    def live_tracks(self) -> int:
        """Tracks held in memory (confirmed, tentative and briefly lost)."""
        return len(self._tracker.tracks)
