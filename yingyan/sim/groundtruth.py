"""Exact ground truth from the simulated trajectories.

Per camera and lane and interval (definitions in ``docs/formats.md``):
count and flow at the counting line, time-mean (spot) speed at the line, space-mean speed
and density over the measured stretch (Edie's generalised definitions), time occupancy of
the counting line, time-mean queue length, stopped vehicles and mean headway. Congestion
episodes per camera come from the 60 s rolling space-mean speed over the whole carriageway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from yingyan.sim.camera import MeasurementZone
from yingyan.sim.scenario import Checkpoint, Direction, Network
from yingyan.sim.traffic import Trajectories
from yingyan.traffic.levels import congestion_level, default_thresholds, traffic_index

STOPPED_MPS = 5.0 / 3.6  # slower than 5 km/h counts as stopped
QUEUE_HEAD_MPS = 10.0 / 3.6  # a vehicle slower than 10 km/h heads a queue
QUEUE_MEMBER_MPS = 15.0 / 3.6  # queued vehicles creep: members may move up to 15 km/h
QUEUE_GAP_M = 20.0  # a gap longer than this ends the queue
EPISODE_BIN_S = 10.0
EPISODE_WINDOW_BINS = 6  # 60 s rolling window
EPISODE_MIN_S = 60.0

LANE_STATE_COLUMNS: tuple[str, ...] = (
    "camera_id",
    "lane_id",
    "lane",
    "direction",
    "interval_start_s",
    "interval_s",
    "count",
    "flow_vph",
    "speed_time_mean_kmh",
    "speed_space_mean_kmh",
    "density_vpkm",
    "occupancy_pct",
    "queue_m",
    "stopped",
    "headway_s",
    "level",
    "traffic_index",
)


def lane_id(camera_id: str, number: int) -> str:
    """Stable lane id of a camera's lane."""
    return f"{camera_id}-L{number}"


@dataclass(frozen=True)
class RowGeometry:
    """Per-row derived quantities of the trajectories."""

    step: np.ndarray
    direction: np.ndarray  # 0 forward, 1 reverse, -1 cross street
    lane: np.ndarray  # lane number (1 = innermost), 0 off the corridor
    centre: np.ndarray  # chainage of the vehicle centre
    front: np.ndarray  # chainage of the front bumper
    rear: np.ndarray  # chainage of the rear bumper
    length: np.ndarray


def row_geometry(traj: Trajectories, network: Network) -> RowGeometry:
    """Direction, lane and chainages of every recorded row."""
    n_steps = len(traj.times)
    step = np.repeat(np.arange(n_steps), np.diff(traj.offsets))
    a = np.mod(traj.angle, 360.0)
    direction = np.full(len(a), -1, np.int8)
    direction[(a >= 45) & (a < 135)] = 0
    direction[(a >= 225) & (a < 315)] = 1
    lengths = np.array([v.length_m for v in traj.vehicles])[traj.vid] if len(traj.vehicles) else np.zeros(0)
    w = network.lane_width_m
    lateral = np.where(direction == 0, -traj.y, traj.y)
    lane = np.clip(np.floor(lateral / w).astype(int) + 1, 1, network.lanes)
    lane = np.where(direction >= 0, lane, 0)
    sign = np.where(direction == 1, -1.0, 1.0)
    front = traj.x
    rear = traj.x - sign * lengths
    centre = traj.x - sign * lengths / 2
    return RowGeometry(step, direction, lane, centre, front, rear, lengths)


def _dir_code(direction: Direction) -> int:
    return 0 if direction is Direction.FORWARD else 1


def lane_state(
    traj: Trajectories,
    geo: RowGeometry,
    cp: Checkpoint,
    zone: MeasurementZone,
    network: Network,
    interval_s: float,
    duration_s: float,
) -> list[dict[str, object]]:
    """Ground-truth traffic state of each lane of a camera, per interval."""
    dt = traj.step_s
    d = _dir_code(cp.watch)
    sign = 1.0 if cp.watch is Direction.FORWARD else -1.0
    thresholds = default_thresholds(network.road_class)
    t_row = traj.times[geo.step]
    in_zone = (geo.direction == d) & (geo.centre >= zone.lo_m) & (geo.centre < zone.hi_m)
    crossings = _line_crossings(traj, geo, d, zone.counting_m, sign)
    n_intervals = int(math.ceil(duration_s / interval_s - 1e-9))
    zone_len = zone.hi_m - zone.lo_m
    rows: list[dict[str, object]] = []
    per_second = max(int(round(1.0 / dt)), 1)
    queue_samples = _queue_samples(traj, geo, d, zone, network.lanes, sign, per_second)
    covers = (
        (geo.direction == d)
        & (np.minimum(geo.front, geo.rear) <= zone.counting_m)
        & (np.maximum(geo.front, geo.rear) >= zone.counting_m)
    )
    for lane in range(1, network.lanes + 1):
        lane_rows = in_zone & (geo.lane == lane)
        lane_cover = covers & (geo.lane == lane)
        for k in range(n_intervals):
            t0, t1 = k * interval_s, min((k + 1) * interval_s, duration_s)
            span = t1 - t0
            sel = lane_rows & (t_row >= t0) & (t_row < t1)
            tts = float(np.count_nonzero(sel)) * dt
            ttd = float(np.sum(traj.speed[sel])) * dt
            cross = [(t, v) for (t, ln, v) in crossings if ln == lane and t0 <= t < t1]
            count = len(cross)
            sms = ttd / tts * 3.6 if tts > 0 else math.nan
            tms = float(np.mean([v for _, v in cross])) * 3.6 if cross else math.nan
            occ_steps = np.unique(geo.step[lane_cover & (t_row >= t0) & (t_row < t1)])
            times = sorted(t for t, _ in cross)
            headway = float(np.mean(np.diff(times))) if len(times) >= 2 else math.nan
            q = [(s[lane - 1], s[network.lanes + lane - 1]) for ts, s in queue_samples if t0 <= ts < t1]
            queue = float(np.mean([a for a, _ in q])) if q else 0.0
            stopped = int(max((b for _, b in q), default=0))
            level = congestion_level(sms, thresholds)
            rows.append(
                {
                    "camera_id": cp.id,
                    "lane_id": lane_id(cp.id, lane),
                    "lane": lane,
                    "direction": cp.watch.value,
                    "interval_start_s": t0,
                    "interval_s": span,
                    "count": count,
                    "flow_vph": count * 3600.0 / span,
                    "speed_time_mean_kmh": tms,
                    "speed_space_mean_kmh": sms,
                    "density_vpkm": tts / (zone_len * span) * 1000.0,
                    "occupancy_pct": 100.0 * len(occ_steps) * dt / span,
                    "queue_m": queue,
                    "stopped": stopped,
                    "headway_s": headway,
                    "level": int(level),
                    "traffic_index": traffic_index(sms, network.speed_limit_kmh),
                }
            )
    rows.sort(key=lambda r: (float(str(r["interval_start_s"])), int(str(r["lane"]))))
    return rows


def _line_crossings(
    traj: Trajectories, geo: RowGeometry, d: int, line_m: float, sign: float
) -> list[tuple[float, int, float]]:
    """(time, lane, speed) of each vehicle centre crossing the counting line in the travel direction."""
    order = np.lexsort((geo.step, traj.vid))
    vid = traj.vid[order]
    pos = geo.centre[order] * sign
    same = vid[1:] == vid[:-1]
    prev, cur = pos[:-1], pos[1:]
    hit = same & (prev < line_m * sign) & (cur >= line_m * sign) & (geo.direction[order][1:] == d)
    idx = order[1:][hit]
    return [(float(traj.times[geo.step[i]]), int(geo.lane[i]), float(traj.speed[i])) for i in idx]


def _queue_samples(
    traj: Trajectories, geo: RowGeometry, d: int, zone: MeasurementZone, lanes: int, sign: float, every: int
) -> list[tuple[float, list[float]]]:
    """Once a second: per lane queue length (m), then per lane the number of stopped vehicles."""
    out: list[tuple[float, list[float]]] = []
    for k in range(0, len(traj.times), every):
        rows = traj.rows(k)
        sel = (
            np.nonzero((geo.direction[rows] == d) & (geo.centre[rows] >= zone.lo_m) & (geo.centre[rows] < zone.hi_m))[0]
            + rows.start
        )
        lengths = [0.0] * lanes
        slow = [0.0] * lanes
        for lane in range(1, lanes + 1):
            members = sel[geo.lane[sel] == lane]
            if len(members) == 0:
                continue
            members = members[np.argsort(-geo.front[members] * sign)]  # most downstream first
            speeds = traj.speed[members]
            slow[lane - 1] = float(np.count_nonzero(speeds < STOPPED_MPS))
            heads = np.nonzero(speeds < QUEUE_HEAD_MPS)[0]
            if len(heads) == 0:
                continue
            h = int(heads[0])
            head_front = min(geo.front[members[h]] * sign, zone.downstream_m * sign)
            tail = h
            for j in range(h + 1, len(members)):
                gap = geo.rear[members[j - 1]] * sign - geo.front[members[j]] * sign
                if speeds[j] >= QUEUE_MEMBER_MPS or gap > QUEUE_GAP_M:
                    break
                tail = j
            tail_rear = max(geo.rear[members[tail]] * sign, min(zone.lo_m * sign, zone.hi_m * sign))
            lengths[lane - 1] = max(head_front - tail_rear, 0.0)
        out.append((float(traj.times[k]), lengths + slow))
    return out


def carriageway_speed_bins(
    traj: Trajectories, geo: RowGeometry, direction: Direction, lo_m: float, hi_m: float, duration_s: float
) -> np.ndarray:
    """Space-mean speed (km/h) of a stretch in 10 s bins; NaN where the stretch was empty."""
    d = _dir_code(direction)
    t_row = traj.times[geo.step]
    sel = (geo.direction == d) & (geo.centre >= lo_m) & (geo.centre < hi_m)
    n = int(math.ceil(duration_s / EPISODE_BIN_S))
    bins = np.clip((t_row[sel] // EPISODE_BIN_S).astype(int), 0, n - 1)
    tts = np.bincount(bins, minlength=n).astype(float)
    ttd = np.bincount(bins, weights=traj.speed[sel], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tts > 0, ttd / np.maximum(tts, 1) * 3.6, np.nan)


@dataclass(frozen=True)
class Episode:
    """A congestion episode at one camera."""

    start_s: float
    end_s: float | None


def congestion_episodes(speed_bins: np.ndarray, threshold_kmh: float, duration_s: float) -> list[Episode]:
    """Episodes where the 60 s rolling speed stays at or below ``threshold_kmh``."""
    n = len(speed_bins)
    w = EPISODE_WINDOW_BINS
    congested = np.zeros(n, bool)
    for k in range(n):
        window = speed_bins[k : min(k + w, n)]
        valid = window[~np.isnan(window)]
        congested[k] = len(valid) > 0 and float(np.mean(valid)) <= threshold_kmh
    raw: list[list[float]] = []
    k = 0
    while k < n:
        if congested[k]:
            j = k
            while j < n and congested[j]:
                j += 1
            # The window that first reads congested starts up to a minute early: begin the
            # episode at the first 10 s bin inside it that is itself at or below the threshold.
            first = k
            while first < min(k + w, n) - 1 and not (
                not np.isnan(speed_bins[first]) and speed_bins[first] <= threshold_kmh
            ):
                first += 1
            # Likewise the first window that reads free may still hold the jam's last bins.
            last = j
            for b in range(j, min(j + w, n)):
                if not np.isnan(speed_bins[b]) and speed_bins[b] <= threshold_kmh:
                    last = b + 1
            raw.append([first * EPISODE_BIN_S, last * EPISODE_BIN_S if j < n else math.inf])
            k = j
        else:
            k += 1
    merged: list[list[float]] = []
    for ep in raw:
        if merged and ep[0] - merged[-1][1] < EPISODE_MIN_S:
            merged[-1][1] = ep[1]
        else:
            merged.append(ep)
    out = []
    for s, e in merged:
        if e - s < EPISODE_MIN_S and math.isfinite(e):
            continue
        out.append(Episode(s, None if not math.isfinite(e) or e >= duration_s else e))
    return out
