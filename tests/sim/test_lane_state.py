"""The lane-state definitions on hand-made trajectories, where every answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from yingyan.sim.camera import MeasurementZone
from yingyan.sim.groundtruth import congestion_episodes, lane_state, row_geometry
from yingyan.sim.scenario import Checkpoint, Network
from yingyan.sim.traffic import Trajectories, VehicleInfo

ZONE = MeasurementZone(lo_m=1000.0, hi_m=1100.0, downstream_m=1100.0, counting_m=1050.0)
NET = Network(lanes=2, lane_width_m=3.5, speed_limit_kmh=60)
CAMERA = Checkpoint(id="K", position_m=1120.0)
STEP = 0.1
DURATION = 60.0


def _trajectories(vehicles: list[tuple[float, float, float]]) -> Trajectories:
    """Vehicles 4.5 m long driving forward: (start front position, speed m/s, lateral y)."""
    n_steps = int(DURATION / STEP)
    times = np.arange(n_steps) * STEP
    cols: dict[str, list[float]] = {k: [] for k in ("vid", "x", "y", "angle", "speed", "signals")}
    offsets = [0]
    for t in times:
        for i, (x0, v, y) in enumerate(vehicles):
            cols["vid"].append(i)
            cols["x"].append(x0 + v * t)
            cols["y"].append(y)
            cols["angle"].append(90.0)
            cols["speed"].append(v)
            cols["signals"].append(0)
        offsets.append(len(cols["vid"]))
    info = tuple(VehicleInfo(f"v{i}", "car", 4.5, 1.8, 1.5, "sedan") for i in range(len(vehicles)))
    return Trajectories(
        step_s=STEP,
        times=times,
        offsets=np.asarray(offsets),
        vid=np.asarray(cols["vid"], np.int32),
        x=np.asarray(cols["x"]),
        y=np.asarray(cols["y"]),
        angle=np.asarray(cols["angle"]),
        speed=np.asarray(cols["speed"]),
        signals=np.asarray(cols["signals"], np.int32),
        vehicles=info,
        incidents=(),
    )


def _rows(traj: Trajectories) -> dict[int, dict[str, object]]:
    rows = lane_state(traj, row_geometry(traj, NET), CAMERA, ZONE, NET, interval_s=60.0, duration_s=DURATION)
    return {int(str(r["lane"])): r for r in rows}


def test_steady_stream_gives_exact_count_flow_speed_density_and_occupancy() -> None:
    # Lane 1 (inner, y = -1.75): three cars at 10 m/s, 30 m apart, crossing the line at 1050 m.
    traj = _trajectories([(1000.0 - k * 30.0, 10.0, -1.75) for k in range(3)])
    lane1 = _rows(traj)[1]
    assert lane1["count"] == 3 and lane1["flow_vph"] == 180.0
    assert lane1["speed_time_mean_kmh"] == pytest.approx(36.0)
    assert lane1["speed_space_mean_kmh"] == pytest.approx(36.0)
    # Each car spends 10 s on the 100 m stretch: density = 30 veh·s / (0.1 km × 60 s).
    assert lane1["density_vpkm"] == pytest.approx(5.0, rel=0.02)
    # Each 4.5 m body covers the line for 0.45 s: 1.35 s of 60 s.
    assert lane1["occupancy_pct"] == pytest.approx(100 * 1.35 / 60, abs=0.5)
    assert lane1["headway_s"] == pytest.approx(3.0)
    assert lane1["queue_m"] == 0.0 and lane1["level"] == 1  # 36 km/h on an arterial: 基本畅通
    assert _rows(traj)[2]["count"] == 0 and math.isnan(float(str(_rows(traj)[2]["speed_space_mean_kmh"])))


def test_queue_runs_from_the_stopped_head_to_the_last_slow_vehicle_close_behind() -> None:
    # Lane 2 (kerb, y = -5.25): a stopped car at 1080 m, one stopped 2 m behind it, one creeping
    # up 4 m behind that, and a car standing 50 m further back (another platoon, not joined).
    traj = _trajectories([(1080.0, 0.0, -5.25), (1073.5, 0.0, -5.25), (1065.0, 0.05, -5.25), (1010.0, 0.0, -5.25)])
    lane2 = _rows(traj)[2]
    # Queue: front of the head (1080) back to the rear of the third car, sampled once a second.
    expected = np.mean([1080.0 - (1065.0 + 0.05 * t - 4.5) for t in range(60)])
    assert lane2["queue_m"] == pytest.approx(expected, abs=0.1)
    assert lane2["stopped"] == 4
    assert lane2["level"] == 4  # almost no movement: 严重拥堵


def test_congestion_episode_needs_a_sustained_slowdown() -> None:
    bins = np.full(60, 50.0)
    bins[10:12] = 5.0  # 20 s dip: no episode
    bins[30:45] = 8.0  # 150 s jam
    episodes = congestion_episodes(bins, threshold_kmh=30.0, duration_s=600.0)
    assert [(e.start_s, e.end_s) for e in episodes] == [(300.0, 450.0)]
    still = np.concatenate([np.full(10, 50.0), np.full(50, 5.0)])
    (open_ended,) = congestion_episodes(still, threshold_kmh=30.0, duration_s=600.0)
    assert open_ended.start_s == 100.0 and open_ended.end_s is None


def test_a_vehicle_jittering_across_the_line_counts_once() -> None:
    # A measured position that wobbles ±0.6 m around the counting line while the car creeps.
    traj = _trajectories([(1052.0, 0.02, -1.75)])
    wobble = 0.6 * np.sign(np.sin(np.arange(len(traj.x)) * 0.7))
    jittery = Trajectories(
        step_s=traj.step_s, times=traj.times, offsets=traj.offsets, vid=traj.vid, x=traj.x + wobble, y=traj.y,
        angle=traj.angle, speed=traj.speed, signals=traj.signals, vehicles=traj.vehicles, incidents=(),
    )  # fmt: skip
    assert _rows(jittery)[1]["count"] == 1
