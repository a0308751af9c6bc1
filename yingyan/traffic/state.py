"""Per-lane traffic state from vehicle observations: one set of definitions for all.

The simulator's ground truth and the camera measurements both reduce to
:class:`Observations` — where each vehicle was, on which lane, how fast, at regular sample
times — and are turned into the same ``lane_state.csv`` rows here, so that scoring one against
the other compares like with like. Definitions are in ``docs/formats.md``.

Positions are *travel coordinates*: metres along the direction of travel (larger is further
downstream) of the vehicle's front bumper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from yingyan.traffic.levels import LevelThresholds, congestion_level, traffic_index

STOPPED_MPS = 5.0 / 3.6  # slower than 5 km/h counts as stopped
QUEUE_HEAD_MPS = 10.0 / 3.6  # a vehicle slower than 10 km/h heads a queue
QUEUE_MEMBER_MPS = 15.0 / 3.6  # queued vehicles creep: members may move up to 15 km/h
QUEUE_GAP_M = 20.0  # a gap longer than this ends the queue
MAX_SPEED_MPS = 70.0  # 250 km/h: faster steps are measurement leaps, not vehicles

LANE_STATE_COLUMNS: tuple[str, ...] = (
    "camera_id", "lane_id", "lane", "direction", "interval_start_s", "interval_s", "count", "flow_vph",
    "speed_time_mean_kmh", "speed_space_mean_kmh", "density_vpkm", "occupancy_pct", "queue_m", "stopped",
    "headway_s", "level", "traffic_index",
)  # fmt: skip


@dataclass(frozen=True)
class Observations:
    """Vehicles sampled every ``dt_s`` seconds: one row per vehicle per sample."""

    dt_s: float
    t: np.ndarray  # sample time, s
    vehicle: np.ndarray  # vehicle (track) id
    lane: np.ndarray  # lane number, 0 = on no measured lane
    front: np.ndarray  # travel coordinate of the front bumper, m
    speed: np.ndarray  # m/s along the direction of travel
    length: np.ndarray  # vehicle length, m

    @property
    def centre(self) -> np.ndarray:
        return np.asarray(self.front - self.length / 2)

    @property
    def rear(self) -> np.ndarray:
        return np.asarray(self.front - self.length)


@dataclass(frozen=True)
class Stretch:
    """The measured stretch in travel coordinates, with its counting line."""

    lo_m: float  # upstream end
    hi_m: float  # downstream end (head of a queue)
    counting_m: float


@dataclass(frozen=True)
class LaneSet:
    """The lanes measured by one camera and how their state is judged."""

    camera_id: str
    direction: str
    lane_ids: dict[int, str]  # lane number -> lane id
    thresholds: LevelThresholds
    free_flow_kmh: float


def lane_state(
    obs: Observations, lanes: LaneSet, stretch: Stretch, interval_s: float, duration_s: float
) -> list[dict[str, object]]:
    """One row per lane per interval (columns :data:`LANE_STATE_COLUMNS`)."""
    dt = obs.dt_s
    centre = obs.centre
    in_zone = (centre >= stretch.lo_m) & (centre < stretch.hi_m)
    crossings = _line_crossings(obs, stretch.counting_m)
    covers = (obs.rear <= stretch.counting_m) & (obs.front >= stretch.counting_m)
    queues = _queue_samples(obs, stretch, sorted(lanes.lane_ids))
    n_intervals = math.ceil(duration_s / interval_s - 1e-9)
    zone_len = stretch.hi_m - stretch.lo_m
    rows: list[dict[str, object]] = []
    for k in range(n_intervals):
        t0, t1 = k * interval_s, min((k + 1) * interval_s, duration_s)
        span = t1 - t0
        in_time = (obs.t >= t0 - 1e-9) & (obs.t < t1 - 1e-9)
        for lane, lid in sorted(lanes.lane_ids.items()):
            on_lane = obs.lane == lane
            sel = in_zone & on_lane & in_time
            tts = float(np.count_nonzero(sel)) * dt
            ttd = float(np.sum(np.maximum(obs.speed[sel], 0.0))) * dt
            cross = [(t, v) for (t, ln, v) in crossings if ln == lane and t0 - 1e-9 <= t < t1 - 1e-9]
            sms = ttd / tts * 3.6 if tts > 0 else math.nan
            tms = float(np.mean([v for _, v in cross])) * 3.6 if cross else math.nan
            occupied = np.unique(obs.t[covers & on_lane & in_time])
            times = sorted(t for t, _ in cross)
            headway = float(np.mean(np.diff(times))) if len(times) >= 2 else math.nan
            q = [s[lane] for ts, s in queues if t0 - 1e-9 <= ts < t1 - 1e-9]
            rows.append({
                "camera_id": lanes.camera_id, "lane_id": lid, "lane": lane, "direction": lanes.direction,
                "interval_start_s": t0, "interval_s": span, "count": len(cross), "flow_vph": len(cross) * 3600.0 / span,
                "speed_time_mean_kmh": tms, "speed_space_mean_kmh": sms,
                "density_vpkm": tts / (zone_len * span) * 1000.0, "occupancy_pct": 100.0 * len(occupied) * dt / span,
                "queue_m": float(np.mean([a for a, _ in q])) if q else 0.0,
                "stopped": int(max((b for _, b in q), default=0)), "headway_s": headway,
                "level": int(congestion_level(sms, lanes.thresholds)),
                "traffic_index": traffic_index(sms, lanes.free_flow_kmh),
            })  # fmt: skip
    return rows


def _line_crossings(obs: Observations, line_m: float) -> list[tuple[float, int, float]]:
    """(time, lane, speed) of each vehicle's centre crossing the counting line downstream.

    A vehicle counts once, at its first crossing on a measured lane: a measured position that
    jitters around the line while the vehicle creeps past must not count it again.
    """
    order = np.lexsort((obs.t, obs.vehicle))
    vid = obs.vehicle[order]
    pos = obs.centre[order]
    hit = (vid[1:] == vid[:-1]) & (pos[:-1] < line_m) & (pos[1:] >= line_m)
    # Only crossings on a measured lane, by a step a vehicle can make (far from a camera, or
    # past a rough calibration's horizon, measured positions leap about and cross any line).
    step = np.abs(np.diff(pos)) <= MAX_SPEED_MPS * np.diff(obs.t[order]) + 5.0
    hit &= (obs.lane[order][1:] != 0) & step
    idx = order[1:][hit]
    _, first = np.unique(obs.vehicle[idx], return_index=True)
    idx = idx[np.sort(first)]
    return [(float(obs.t[i]), int(obs.lane[i]), float(obs.speed[i])) for i in idx]


def _queue_samples(
    obs: Observations, stretch: Stretch, lanes: list[int]
) -> list[tuple[float, dict[int, tuple[float, float]]]]:
    """About once a second: per lane (queue length m, stopped vehicles)."""
    times = np.unique(obs.t)
    if len(times) == 0:
        return []
    every = max(round(1.0 / obs.dt_s), 1)
    order = np.argsort(obs.t, kind="stable")
    starts = np.searchsorted(obs.t[order], times[::every], side="left")
    ends = np.searchsorted(obs.t[order], times[::every], side="right")
    centre, front, rear = obs.centre, obs.front, obs.rear
    out: list[tuple[float, dict[int, tuple[float, float]]]] = []
    for t, a, b in zip(times[::every], starts, ends, strict=True):
        rows = order[a:b]
        rows = rows[(centre[rows] >= stretch.lo_m) & (centre[rows] < stretch.hi_m)]
        sample: dict[int, tuple[float, float]] = {}
        for lane in lanes:
            members = rows[obs.lane[rows] == lane]
            members = members[np.argsort(-front[members])]  # most downstream first
            speeds = obs.speed[members]
            stopped = float(np.count_nonzero(speeds < STOPPED_MPS))
            heads = np.nonzero(speeds < QUEUE_HEAD_MPS)[0]
            if len(heads) == 0:
                sample[lane] = (0.0, stopped)
                continue
            h = int(heads[0])
            head_front = min(float(front[members[h]]), stretch.hi_m)
            tail = h
            for j in range(h + 1, len(members)):
                if speeds[j] >= QUEUE_MEMBER_MPS or rear[members[j - 1]] - front[members[j]] > QUEUE_GAP_M:
                    break
                tail = j
            tail_rear = max(float(rear[members[tail]]), stretch.lo_m)
            sample[lane] = (max(head_front - tail_rear, 0.0), stopped)
        out.append((float(t), sample))
    return out
