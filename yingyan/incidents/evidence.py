"""Evidence of an event: a snapshot with the boxes drawn, and a clip from before to after it.

The clip's start comes from a ring buffer of the last seconds of analysed frames, so nothing
is decoded twice; the recorder keeps writing each open clip for a few seconds after the alert.
Files are named by event id under ``DIR/evidence/``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from yingyan.calibration import CameraCalibration
from yingyan.incidents.events import Event
from yingyan.video import VideoWriter


@dataclass
class _Clip:
    writer: VideoWriter
    until_s: float


class EvidenceRecorder:
    """``update(time_s, image, events) -> events``: the raised events, with their evidence files named."""

    def __init__(
        self, out: Path, calibration: CameraCalibration, fps: float, before_s: float = 5.0, after_s: float = 5.0
    ) -> None:
        self.folder = out / "evidence"
        self.calibration = calibration
        self.fps = fps
        self.after_s = after_s
        self._ring: deque[tuple[float, np.ndarray]] = deque(maxlen=max(int(round(before_s * fps)), 1))
        self._clips: dict[str, _Clip] = {}
        self._evidence: dict[str, dict[str, str]] = {}  # open events' files, for their end report

    def update(
        self,
        time_s: float,
        image: np.ndarray,
        events: list[Event],
        boxes: list[tuple[np.ndarray, int]] | None = None,
    ) -> list[Event]:
        """Record this frame; start evidence for each newly raised event (``boxes``: this frame's tracked
        boxes with their track ids, drawn on the snapshot)."""
        h, w = image.shape[:2]
        even = image[: h - h % 2, : w - w % 2]  # H.264 in 4:2:0 needs even sides
        self._ring.append((time_s, even))
        for key, clip in list(self._clips.items()):
            clip.writer.write(even)
            if time_s >= clip.until_s:
                clip.writer.close()
                del self._clips[key]
        out = []
        for event in events:
            if event.end_s is not None:
                out.append(replace(event, evidence=self._evidence.pop(event.id, {})))
                continue
            self.folder.mkdir(parents=True, exist_ok=True)
            snapshot = self.folder / f"{event.id}.jpg"
            cv2.imwrite(str(snapshot), self._snapshot(image, event, boxes or []))
            clip_path = self.folder / f"{event.id}.mp4"
            writer = VideoWriter(clip_path, even.shape[1], even.shape[0], fps=self.fps, crf=26)
            for _, frame in self._ring:
                writer.write(frame)
            self._clips[event.id] = _Clip(writer, time_s + self.after_s)
            evidence = {"snapshot": f"evidence/{snapshot.name}", "clip": f"evidence/{clip_path.name}"}
            self._evidence[event.id] = evidence
            out.append(replace(event, evidence=evidence))
        return out

    def _snapshot(self, image: np.ndarray, event: Event, boxes: list[tuple[np.ndarray, int]]) -> np.ndarray:
        """The frame with the tracked boxes (the event's own in red), its place marked and its type written."""
        canvas = image.copy()
        for box, track in boxes:
            x1, y1, x2, y2 = (int(round(float(v))) for v in box)
            mine = track in event.track_ids
            colour = (0, 0, 255) if mine else (0, 200, 0)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 2 if mine else 1, cv2.LINE_AA)
            cv2.putText(canvas, f"#{track}", (x1, max(y1 - 3, 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1)
        x, y = (int(v) for v in self.calibration.road_to_image(np.array([event.position]))[0])
        cv2.circle(canvas, (x, y), 18, (0, 0, 255), 2, cv2.LINE_AA)
        label = f"{event.type.value} {event.lane_id or ''} t={event.alert_s:.1f}s"
        cv2.putText(canvas, label, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 255), 2, cv2.LINE_AA)
        return canvas

    def close(self) -> None:
        """Finish every open clip (end of the stream)."""
        for clip in self._clips.values():
            clip.writer.close()
        self._clips.clear()
