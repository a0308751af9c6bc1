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
from yingyan.traffic.levels import default_thresholds
from yingyan.traffic.state import LaneSet, Observations, Stretch
from yingyan.traffic.state import lane_state as measure_lanes

EPISODE_BIN_S = 10.0
EPISODE_WINDOW_BINS = 6  # 60 s rolling window
EPISODE_MIN_S = 60.0


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


def observations(traj: Trajectories, geo: RowGeometry, direction: Direction) -> Observations:
    """The trajectories of one carriageway as observations in its travel coordinates."""
    d = _dir_code(direction)
    sign = 1.0 if direction is Direction.FORWARD else -1.0
    rows = geo.direction == d
    return Observations(
        dt_s=traj.step_s,
        t=traj.times[geo.step[rows]],
        vehicle=traj.vid[rows],
        lane=geo.lane[rows],
        front=geo.front[rows] * sign,
        speed=traj.speed[rows],
        length=geo.length[rows],
    )


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
    if cp.watch is Direction.FORWARD:
        stretch = Stretch(lo_m=zone.lo_m, hi_m=zone.hi_m, counting_m=zone.counting_m)
    else:
        stretch = Stretch(lo_m=-zone.hi_m, hi_m=-zone.lo_m, counting_m=-zone.counting_m)
    lanes = LaneSet(
        camera_id=cp.id,
        direction=cp.watch.value,
        lane_ids={n: lane_id(cp.id, n) for n in range(1, network.lanes + 1)},
        thresholds=default_thresholds(network.road_class),
        free_flow_kmh=network.speed_limit_kmh,
    )
    return measure_lanes(observations(traj, geo, cp.watch), lanes, stretch, interval_s, duration_s)


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
