"""One camera analysed end to end: source → detector → tracker → lane meter → files.

``analyze`` writes ``lane_state.csv`` (the simulator's columns), ``tracks.jsonl`` (one line per
analysed frame) and, when asked, ``overlay.mp4``: boxes, track ids, speeds, lanes and queues
drawn on every analysed frame.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import supervision as sv

from yingyan.bus.messages import CameraHealth, ClockTick, EventReport, LaneStateRecord, Message
from yingyan.calibration import CameraCalibration
from yingyan.incidents.detector import CameraEvents
from yingyan.incidents.evidence import EvidenceRecorder
from yingyan.sources import FrameReader, SourceConfig
from yingyan.tables import CsvTable, format_row
from yingyan.traffic.meter import LaneMeter, TrackPoint
from yingyan.traffic.state import LANE_STATE_COLUMNS
from yingyan.video import VideoWriter

from .detector import Detector, ScaledDetector
from .gating import GatedDetector
from .motion import MotionDetector
from .region import RegionDetector, far_region, lanes_region
from .tracking import VehicleTracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalysisSummary:
    """What an analysis run produced."""

    frames: int
    tracks: int
    rows: int
    out: Path
    events: int = 0  # lines written to events.jsonl (raised and ended)


def analyze(
    source: SourceConfig,
    calibration: CameraCalibration,
    detector: Detector,
    out: Path,
    interval_s: float = 60.0,
    render: bool = False,
    on_frame: Callable[[float], None] | None = None,
    events: CameraEvents | None = None,
    publish: Callable[[Message], object] | None = None,
    preview: Callable[[float, np.ndarray], object] | None = None,
    preview_every_s: float = 1.0,
) -> AnalysisSummary:
    """Analyse one camera's source into ``out``; returns counts of what was written.

    Lane-state rows are written as each interval completes, so a live stream that runs for
    days, or is stopped, keeps every finished interval on disk. With ``events``, the camera's
    event detectors run on every frame and ``events.jsonl`` gets a line each time an event is
    raised or ends, its evidence (snapshot, clip) under ``out/evidence``. With ``publish``, the
    camera publishes what it writes as it writes it (lane states, events), its stream clock each
    second and its source's health (the camera side of DESIGN.md's message boundary). With
    ``preview``, every ``preview_every_s`` of stream time it is handed the frame with the overlay
    drawn (boxes, ids, speeds, lanes, queues), for a live view.
    """
    out.mkdir(parents=True, exist_ok=True)
    fps = source.fps or 5.0
    if isinstance(detector, MotionDetector):
        detector.use_calibration(calibration)  # lamp pairs at night and shadow slivers need the camera's geometry
        if events is not None:
            events.stationary_after_s = detector.stationary_after_s
            events.marks_stationary = True  # its slow background model says what stands
    if isinstance(detector, ScaledDetector):
        # Detect only where the lanes are (and the vehicles on them): the rest measures nothing.
        region = lanes_region(calibration)
        # And closer where the lanes are far (1080p: most of the stretch), for a detector that keeps no state
        # between frames: the motion detector's background and the gate's frame difference follow one region.
        stateful = isinstance(detector, (MotionDetector, GatedDetector))
        far = None if stateful else far_region(calibration, detector)
        log.info("%s: detecting in %s of %s%s", calibration.camera_id, region, calibration.image_size,
                 f", the far lanes {far[0]} again at scale {far[1]:.2f}" if far else "")  # fmt: skip
        detector = RegionDetector(detector, region, far)
    tracker = VehicleTracker()
    meter = LaneMeter(calibration, interval_s=interval_s, dt_s=1.0 / fps)
    seen: set[int] = set()
    writer: VideoWriter | None = None
    table: CsvTable | None = None  # opened with the first frame: a source that fails leaves no files
    log_file = None
    events_file = None
    recorder = EvidenceRecorder(out, calibration, fps) if events is not None else None
    frames = 0
    reports = 0
    last_t = 0.0
    camera_id = calibration.camera_id
    next_tick = 0.0
    next_health = 0.0
    next_preview = 0.0
    try:
        with FrameReader(source, name=camera_id) as reader:
            for frame in reader:
                arrived = time.monotonic()
                if table is None:
                    table = CsvTable(out / "lane_state.csv", LANE_STATE_COLUMNS)
                    log_file = (out / "tracks.jsonl").open("w", encoding="utf-8")
                    if events is not None:
                        events_file = (out / "events.jsonl").open("w", encoding="utf-8")
                image = frame.image
                if tuple(image.shape[1::-1]) != tuple(calibration.image_size):
                    image = cv2.resize(image, calibration.image_size, interpolation=cv2.INTER_AREA)
                tracked = tracker.update(detector.update(image), frame.time_s)
                points = meter.update(tracked, frame.time_s)
                seen.update(p.track for p in points)
                show = preview is not None and frame.time_s >= next_preview
                queues = meter.queues(points) if (render or show or events is not None) else []
                assert log_file is not None
                log_file.write(json.dumps(_frame_record(frame.time_s, tracked, points)) + "\n")
                rows = meter.flush(frame.time_s)
                table.write(rows)
                if events is not None and recorder is not None and events_file is not None:
                    found = events.update(frame.time_s, points, queues)
                    boxes = _track_boxes(tracked, points) if found else None
                    for event in recorder.update(frame.time_s, image, found, boxes):
                        events_file.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
                        reports += 1
                        events_file.flush()  # an alert is not kept back in a buffer
                        if publish is not None:
                            publish(EventReport(event, str(out)))
                if publish is not None:
                    for row in rows:
                        publish(LaneStateRecord(camera_id, format_row(row)))
                    if frame.time_s >= next_tick:
                        publish(ClockTick(camera_id, frame.time_s))
                        next_tick = frame.time_s + 1.0
                    if arrived >= next_health:
                        publish(_health(camera_id, reader, frame.time_s, time.monotonic() - arrived))
                        next_health = arrived + 1.0
                if show and preview is not None:
                    preview(frame.time_s, _overlay(image, tracked, points, calibration, queues))
                    next_preview = frame.time_s + preview_every_s
                if render:
                    if writer is None:
                        writer = VideoWriter(out / "overlay.mp4", image.shape[1], image.shape[0], fps=fps, crf=23)
                    writer.write(_overlay(image, tracked, points, calibration, queues))
                frames += 1
                last_t = frame.time_s
                if on_frame is not None:
                    on_frame(frame.time_s)
        if table is not None:
            rows = meter.finish(last_t + 1.0 / fps)
            table.write(rows)
            if publish is not None:
                for row in rows:
                    publish(LaneStateRecord(camera_id, format_row(row)))
                publish(ClockTick(camera_id, last_t + 1.0 / fps))
    finally:
        for handle in (writer, table, log_file, events_file, recorder):
            if handle is not None:
                handle.close()
    return AnalysisSummary(frames=frames, tracks=len(seen), rows=table.rows if table else 0, out=out, events=reports)


def _health(camera_id: str, reader: FrameReader, time_s: float, lag_s: float) -> CameraHealth:
    h = reader.health()
    wall = None if h.last_frame_age_s is None else time.time() - h.last_frame_age_s
    return CameraHealth(
        camera_id, time_s, h.state.value, h.fps_in, h.fps_out, h.dropped_queue, h.reconnects, lag_s, wall, h.error or ""
    )


def _confirmed(tracked: sv.Detections) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the detections with a tracker id, and their stationary flags."""
    ids = tracked.tracker_id if tracked.tracker_id is not None else np.full(len(tracked), -1)
    still = np.asarray(tracked.data.get("stationary", np.zeros(len(tracked), bool)), dtype=bool)
    keep = np.nonzero(ids >= 0)[0]
    return keep, still[keep]


def _track_boxes(tracked: sv.Detections, points: list[TrackPoint]) -> list[tuple[np.ndarray, int]]:
    """Each confirmed track's box with its (stitched) id."""
    keep, _ = _confirmed(tracked)
    return [(tracked.xyxy[i], p.track) for i, p in zip(keep, points, strict=True)]


def _frame_record(t: float, tracked: sv.Detections, points: list[TrackPoint]) -> dict[str, object]:
    """One line of tracks.jsonl: every confirmed track (stitched id) with its box and road place."""
    keep, still = _confirmed(tracked)
    objects = []
    for i, p, is_still in zip(keep, points, still, strict=True):
        objects.append({
            "id": p.track,
            "class_id": p.class_id,
            "box": [round(float(v), 1) for v in tracked.xyxy[i]],
            "road": [round(p.road[0], 2), round(p.road[1], 2)],
            "lane": p.lane,
            "speed_kmh": round(p.speed * 3.6, 1),
            "stationary": bool(is_still),
        })  # fmt: skip
    return {"t_s": round(t, 3), "tracks": objects}


def _overlay(
    image: np.ndarray,
    tracked: sv.Detections,
    points: list[TrackPoint],
    calibration: CameraCalibration,
    queues: list[tuple[str, np.ndarray, float]],
) -> np.ndarray:
    canvas = image.copy()
    for lane in calibration.lanes:
        poly = np.round(np.asarray(lane.polygon_image)).astype(np.int32)
        cv2.polylines(canvas, [poly], True, (255, 200, 0), 1, cv2.LINE_AA)
        x, y = poly[:, 0].mean(), poly[:, 1].max() - 5
        cv2.putText(
            canvas, lane.id, (int(x) - 15, int(y)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 200, 0), 1, cv2.LINE_AA
        )
    for line in calibration.counting_lines:
        (x1, y1), (x2, y2) = line.image
        cv2.line(canvas, (int(x1), int(y1)), (int(x2), int(y2)), (0, 255, 255), 1, cv2.LINE_AA)
    for _, segment, length in queues:  # standing queues: a thick orange bar along the lane
        a, b = (tuple(int(v) for v in q) for q in calibration.road_to_image(segment))
        cv2.line(canvas, a, b, (0, 140, 255), 3, cv2.LINE_AA)
        cv2.putText(canvas, f"queue {length:.0f} m", (b[0] + 4, b[1]), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 140, 255), 1)
    keep, still = _confirmed(tracked)
    for i, p, is_still in zip(keep, points, still, strict=True):
        colour = (0, 0, 255) if is_still else (0, 220, 0)
        x1, y1, x2, y2 = (int(v) for v in tracked.xyxy[i])
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 1, cv2.LINE_AA)
        label = f"#{p.track} {abs(p.speed) * 3.6:.0f}km/h"
        cv2.putText(canvas, label, (x1, max(y1 - 3, 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    return canvas
