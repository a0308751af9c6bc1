"""Lane measurements from tracked detections: image boxes → road positions → lane state.

A :class:`LaneMeter` per camera takes the tracked detections of each analysed frame
(``update``), places every vehicle on the road plane through the calibration, assigns it a
lane, and, once an interval is complete (``flush``), turns the observations into the same
lane-state rows as the simulator's ground truth (:mod:`yingyan.traffic.state`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import cv2
import numpy as np
import supervision as sv

from yingyan.calibration import CameraCalibration
from yingyan.traffic.footprint import CLASS_SIZE_M, FootprintLocator
from yingyan.traffic.levels import default_thresholds
from yingyan.traffic.state import (
    QUEUE_GAP_M,
    QUEUE_HEAD_MPS,
    QUEUE_MEMBER_MPS,
    LaneSet,
    Observations,
    Stretch,
    lane_state,
)
from yingyan.traffic.stitch import TrackStitcher, slope

# Typical lengths (m) by COCO class, for occupancy and queue extents.
CLASS_LENGTH_M: dict[int, float] = {cls: size[0] for cls, size in CLASS_SIZE_M.items()}
SPEED_WINDOW_S = 0.6  # half-width of the window over which a track's speed is fitted
MIN_TRACK_SAMPLES = 5  # a track seen in fewer frames ...
NEAR_LANES_M = 20.0  # tracks are stitched within this distance of the measured lanes
MIN_TRACK_SPAN_M = 10.0  # ... that moved less than this is a fragment (a split blob, a flicker), not a vehicle
SMALL_SHARE = 0.5  # a box narrower and lower than this share of a car's box at its place is a small object


@dataclass(frozen=True)
class TrackPoint:
    """One tracked vehicle in one analysed frame, placed on the road."""

    t: float
    track: int
    class_id: int
    road: tuple[float, float]  # centre of the footprint
    lane: int  # lane number within its carriageway, 0 = on no measured lane
    s: float  # front bumper along the first lane's direction of travel (m)
    speed: float = 0.0  # m/s along that direction over the last second or so (for display)
    direction: str = ""  # carriageway of the lane, "" when on no measured lane
    stationary: bool = False  # the detector saw it stand (the motion detector's slow model), where it says so
    small: bool = False  # its box is under half a car's width and height at its place (a cone, a fragment)


@dataclass(frozen=True)
class Carriageway:
    """The measured lanes of one direction of travel seen by the camera."""

    name: str
    travel: np.ndarray  # unit vector of travel on the road plane
    polygons: list[tuple[int, np.ndarray]]  # (lane number, road polygon)
    lanes: LaneSet
    stretch: Stretch


def carriageways(calibration: CameraCalibration) -> list[Carriageway]:
    """One :class:`Carriageway` per direction named in the calibration's lanes, in their order."""
    out: list[Carriageway] = []
    for name in dict.fromkeys(lane.direction for lane in calibration.lanes):
        lanes = [lane for lane in calibration.lanes if lane.direction == name]
        travel = np.asarray(lanes[0].travel, dtype=np.float64)
        travel = travel / np.linalg.norm(travel)
        polygons = [(lane.number, np.asarray(lane.polygon_road, np.float32)) for lane in lanes]
        s_values = np.concatenate([poly @ travel for _, poly in polygons])
        lo, hi = float(s_values.min()), float(s_values.max())
        counting = lo + 0.75 * (hi - lo)
        for line in calibration.counting_lines:
            if not line.lane_ids or {lane.id for lane in lanes} & set(line.lane_ids):
                counting = float(np.asarray(line.road, dtype=np.float64).mean(axis=0) @ travel)
                break
        lane_set = LaneSet(
            camera_id=calibration.camera_id,
            direction=name,
            lane_ids={lane.number: lane.id for lane in lanes},
            thresholds=default_thresholds(calibration.road_class),
            free_flow_kmh=calibration.speed_limit_kmh,
        )
        out.append(Carriageway(name, travel, polygons, lane_set, Stretch(lo_m=lo, hi_m=hi, counting_m=counting)))
    return out


class LaneMeter:
    """Per-lane traffic state of one camera from its tracked detections.

    ``update(tracked, time_s)`` records a frame and returns its track points;
    ``flush(until_s)`` returns the lane-state rows of every interval that ended by ``until_s``.
    A camera that sees both carriageways measures each in its own direction of travel.
    """

    def __init__(self, calibration: CameraCalibration, interval_s: float = 60.0, dt_s: float = 0.2) -> None:
        self.calibration = calibration
        self.interval_s = interval_s
        self.dt_s = dt_s
        self.carriageways = carriageways(calibration)
        self._travel = self.carriageways[0].travel
        self._across = np.array([-self._travel[1], self._travel[0]])
        self._locator = FootprintLocator(calibration)
        self._stitcher = TrackStitcher()
        corners = np.concatenate([poly for way in self.carriageways for _, poly in way.polygons])
        self._near_lo = corners.min(axis=0) - NEAR_LANES_M
        self._near_hi = corners.max(axis=0) + NEAR_LANES_M
        self._points: list[TrackPoint] = []
        self._next_interval = 0

    def _lane_of(self, u: float, v: float) -> tuple[int, str]:
        for way in self.carriageways:
            for number, poly in way.polygons:
                if cv2.pointPolygonTest(poly, (u, v), False) >= 0:
                    return number, way.name
        return 0, ""

    def update(self, tracked: sv.Detections, time_s: float) -> list[TrackPoint]:
        """Place this frame's confirmed tracks on the road and remember them.

        Returns one point per detection with a tracker id ≥ 0, in order; a track re-found after
        a short loss carries its earlier id (:class:`~yingyan.traffic.stitch.TrackStitcher`).
        """
        if len(tracked) == 0 or tracked.tracker_id is None:
            return []
        keep = tracked.tracker_id >= 0
        xyxy = tracked.xyxy[keep]
        ids = tracked.tracker_id[keep]
        classes = tracked.class_id[keep] if tracked.class_id is not None else np.full(len(ids), 2)
        still = np.asarray(tracked.data.get("stationary", np.zeros(len(tracked), bool)), dtype=bool)[keep]
        centres = self._locator.locate(xyxy, classes)
        small = self._small(xyxy, centres)
        # Stitch only near the measured lanes: far from them (and beyond a rough calibration's
        # horizon) road positions are too coarse to judge a track's motion, so tracker ids stand.
        near = np.all((centres >= self._near_lo) & (centres <= self._near_hi), axis=1)
        ids = ids.astype(int).copy()
        ids[near] = self._stitcher.update(time_s, ids[near], centres[near] @ self._travel, centres[near] @ self._across)
        points = []
        for (u, v), track, cls, is_still, is_small in zip(centres, ids, classes, still, small, strict=True):
            lane, direction = self._lane_of(float(u), float(v))
            s = float(np.array([u, v]) @ self._travel) + CLASS_LENGTH_M.get(int(cls), 4.6) / 2
            speed = self._stitcher.speed(int(track))
            place = (float(u), float(v))
            still_small = bool(is_still), bool(is_small)
            points.append(TrackPoint(time_s, int(track), int(cls), place, lane, s, speed, direction, *still_small))
        self._points.extend(points)
        return points

    def _small(self, xyxy: np.ndarray, centres: np.ndarray) -> np.ndarray:
        """Which boxes are too small for any car standing where they stand (cones, bollards, fragments)."""
        if self._locator.camera is None or len(xyxy) == 0:
            return np.zeros(len(xyxy), dtype=bool)
        car = self._locator.predicted_boxes(centres, np.full(len(centres), 2))
        width = (xyxy[:, 2] - xyxy[:, 0]) / np.maximum(car[:, 2] - car[:, 0], 1e-6)
        height = (xyxy[:, 3] - xyxy[:, 1]) / np.maximum(car[:, 3] - car[:, 1], 1e-6)
        return np.asarray((width < SMALL_SHARE) & (height < SMALL_SHARE), dtype=bool)

    def queues(self, points: list[TrackPoint]) -> list[tuple[str, np.ndarray, float]]:
        """Queues standing now, from one frame's points: (lane id, road segment head→tail (2, 2), metres).

        The same rule as the lane state's queue length: headed by a vehicle slower than
        10 km/h, followed by vehicles slower than 15 km/h with gaps of at most 20 m.
        """
        out: list[tuple[str, np.ndarray, float]] = []
        for way in self.carriageways:
            across = np.array([-way.travel[1], way.travel[0]])
            for number, poly in way.polygons:
                members = [p for p in points if p.direction == way.name and p.lane == number]
                if not members:
                    continue
                along = np.array([p.road for p in members]) @ way.travel
                lengths = np.array([CLASS_LENGTH_M.get(p.class_id, 4.6) for p in members])
                speeds = np.abs([p.speed for p in members])
                order = np.argsort(-along)
                heads = [i for i in order if speeds[i] < QUEUE_HEAD_MPS]
                if not heads:
                    continue
                head = heads[0]
                tail = head
                for i in order[list(order).index(head) + 1 :]:
                    gap = (along[tail] - lengths[tail] / 2) - (along[i] + lengths[i] / 2)
                    if speeds[i] >= QUEUE_MEMBER_MPS or gap > QUEUE_GAP_M:
                        break
                    tail = i
                front, rear = along[head] + lengths[head] / 2, along[tail] - lengths[tail] / 2
                w = float(np.mean(poly @ across))
                segment = np.array([front * way.travel + w * across, rear * way.travel + w * across])
                out.append((way.lanes.lane_ids[number], segment, float(front - rear)))
        return out

    def flush(self, until_s: float) -> list[dict[str, object]]:
        """Lane-state rows of the intervals that ended by ``until_s`` (speeds need 1 s of look-ahead)."""
        rows: list[dict[str, object]] = []
        while (self._next_interval + 1) * self.interval_s + SPEED_WINDOW_S <= until_s + 1e-9:
            rows += self._interval(self._next_interval, self.interval_s)
            self._next_interval += 1
        return rows

    def finish(self, end_s: float) -> list[dict[str, object]]:
        """Rows of every remaining interval, the last one possibly short."""
        rows = self.flush(end_s)
        start = self._next_interval * self.interval_s
        if end_s - start > 1e-6:
            rows += self._interval(self._next_interval, end_s - start)
            self._next_interval += 1
        return rows

    def _interval(self, k: int, span: float) -> list[dict[str, object]]:
        t0 = k * self.interval_s
        real = self._real_tracks()
        window = [
            p
            for p in self._points
            if p.track in real and t0 - 2 * SPEED_WINDOW_S <= p.t < t0 + span + 2 * SPEED_WINDOW_S
        ]
        rows: list[dict[str, object]] = []
        for way in self.carriageways:
            obs = self._observations(window, way)
            in_interval = (obs.t >= t0) & (obs.t < t0 + span)
            obs = Observations(obs.dt_s, obs.t[in_interval] - t0, obs.vehicle[in_interval], obs.lane[in_interval],
                               obs.front[in_interval], obs.speed[in_interval], obs.length[in_interval])  # fmt: skip
            rows += lane_state(obs, way.lanes, way.stretch, interval_s=span, duration_s=span)
        for row in rows:
            row["interval_start_s"] = t0
        # Forget what no later interval needs.
        self._points = [p for p in self._points if p.t >= t0 + span - 2 * SPEED_WINDOW_S]
        return rows

    def _real_tracks(self) -> set[int]:
        """Tracks seen long enough, or far enough, to be vehicles."""
        samples: dict[int, int] = defaultdict(int)
        lo: dict[int, float] = {}
        hi: dict[int, float] = {}
        for p in self._points:
            samples[p.track] += 1
            lo[p.track] = min(lo.get(p.track, p.s), p.s)
            hi[p.track] = max(hi.get(p.track, p.s), p.s)
        return {t for t, n in samples.items() if n >= MIN_TRACK_SAMPLES or hi[t] - lo[t] >= MIN_TRACK_SPAN_M}

    def _observations(self, points: list[TrackPoint], way: Carriageway) -> Observations:
        """Observations in ``way``'s direction of travel; lanes of other carriageways count as 0."""
        by_track: dict[int, list[TrackPoint]] = defaultdict(list)
        for p in points:
            by_track[p.track].append(p)
        t, vehicle, lane, front, speed, length = [], [], [], [], [], []
        for track, pts in by_track.items():
            times = np.array([p.t for p in pts])
            lengths = np.array([CLASS_LENGTH_M.get(p.class_id, 4.6) for p in pts])
            s = np.array([p.road for p in pts]) @ way.travel + lengths / 2
            for i, p in enumerate(pts):
                near = np.abs(times - p.t) <= SPEED_WINDOW_S
                v = slope(times[near], s[near])
                t.append(p.t)
                vehicle.append(track)
                lane.append(p.lane if p.direction == way.name else 0)
                front.append(float(s[i]))
                speed.append(v)
                length.append(float(lengths[i]))
        return Observations(
            dt_s=self.dt_s, t=np.asarray(t, float), vehicle=np.asarray(vehicle, int), lane=np.asarray(lane, int),
            front=np.asarray(front, float), speed=np.asarray(speed, float), length=np.asarray(length, float),
        )  # fmt: skip
