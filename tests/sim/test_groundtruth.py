"""The ground truth itself: what happened on the road is what the files say."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from shapely.geometry import Point, Polygon

from tests.conftest import load_manifest
from yingyan.calibration import CameraCalibration
from yingyan.sim.library import load_builtin
from yingyan.sim.runner import RunOptions, run_scenario


def _lane_state(run: Path, camera: str) -> list[dict[str, str]]:
    with (run / "cameras" / camera / "lane_state.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _max_queue(rows: list[dict[str, str]], t0: float, t1: float) -> float:
    return max((float(r["queue_m"]) for r in rows if t0 <= float(r["interval_start_s"]) < t1), default=0.0)


def test_stall_is_recorded_where_and_when_the_vehicle_really_stopped(stall_truth: Path) -> None:
    (incident,) = load_manifest(stall_truth)["incidents"]
    assert incident["type"] == "stall"
    # The simulator acts at 150 s; the car brakes normally, so it is at rest a few seconds later.
    assert 150.0 <= incident["trigger_s"] < incident["start_s"] < 150.0 + 40.0
    assert abs(incident["position_m"] - 1850.0) < 15.0
    assert incident["end_s"] is None  # the 600 s stall outlasts this 600 s recording
    assert incident["vehicle_ids"] and incident["camera_ids"] == []  # between cameras: no camera sees it


def test_queue_grows_upstream_after_the_stall(stall_truth: Path) -> None:
    k3 = _lane_state(stall_truth, "K3")  # the first checkpoint upstream of the stall
    before = _max_queue(k3, 0, 150)
    after = _max_queue(k3, 300, 600)
    assert before < 10.0
    lo, hi = next(c["measured_m"] for c in load_manifest(stall_truth)["cameras"] if c["id"] == "K3")
    assert after > 0.7 * (hi - lo)  # most of the measured stretch is queued
    speeds_after = [float(r["speed_space_mean_kmh"]) for r in k3 if float(r["interval_start_s"]) >= 360]
    assert max(speeds_after) < 20.0
    assert all(int(r["level"]) >= 3 for r in k3 if float(r["interval_start_s"]) >= 360)


def test_upstream_congestion_begins_later_the_farther_the_camera(stall_truth: Path) -> None:
    manifest = load_manifest(stall_truth)
    (incident,) = manifest["incidents"]
    spread = incident["congestion"]
    assert "K4" not in spread  # downstream of the stall traffic flows freely
    positions = {c["id"]: c["position_m"] for c in manifest["cameras"]}
    reached = sorted(spread, key=lambda cam: -positions[cam])  # nearest upstream first
    assert reached[:2] == ["K3", "K2"]
    onsets = [spread[cam]["start_s"] for cam in reached]
    assert onsets == sorted(onsets) and len(set(onsets)) == len(onsets)
    assert onsets[0] > incident["start_s"]
    assert all(c["cause"] == "I1" for c in manifest["congestion"])


def test_checkpoint_graph_lists_neighbours_with_distances(stall_truth: Path) -> None:
    cams = {c["id"]: c for c in load_manifest(stall_truth)["cameras"]}
    assert cams["K2"]["upstream"] == [{"camera_id": "K1", "distance_m": 300.0}]
    assert cams["K2"]["downstream"] == [{"camera_id": "K3", "distance_m": 300.0}]
    assert cams["K1"]["upstream"] == [] and cams["K4"]["downstream"] == []
    assert cams["K1"]["video"] is None  # ground truth only


def test_peak_has_recurrent_congestion_and_no_incident(peak_truth: Path) -> None:
    manifest = load_manifest(peak_truth)
    assert manifest["incidents"] == []
    episodes = manifest["congestion"]
    assert episodes, "the lane drop must congest at the peak"
    assert all(ep["cause"] == "recurrent" and ep["abnormal"] is False for ep in episodes)
    # The queue starts at the bottleneck and spreads upstream.
    first = {}
    for ep in episodes:
        first.setdefault(ep["camera_id"], ep["start_s"])
    assert first["K3"] < first["K2"]
    assert "K4" not in first  # past the bottleneck traffic is free


def test_lane_state_columns_and_units(stall_truth: Path) -> None:
    rows = _lane_state(stall_truth, "K1")
    assert {r["lane_id"] for r in rows} == {"K1-L1", "K1-L2"}
    assert len(rows) == 2 * 10  # two lanes, ten 60 s intervals in 600 s
    early = [r for r in rows if float(r["interval_start_s"]) < 300]
    for r in early:
        count = int(r["count"])
        assert float(r["flow_vph"]) == count * 60.0
        assert 35.0 < float(r["speed_space_mean_kmh"]) < 75.0
        assert 0.0 <= float(r["occupancy_pct"]) < 40.0
        # flow ≈ density × speed holds for a steady stream (fundamental relation), within noise.
        q = float(r["density_vpkm"]) * float(r["speed_space_mean_kmh"])
        assert 0.5 * q < float(r["flow_vph"]) + 120 and float(r["flow_vph"]) < 1.5 * q + 120
    total = sum(int(r["count"]) for r in early)
    assert 150 < total < 260  # 2300 veh/h offered: about 190 in 5 minutes


@pytest.fixture(scope="module")
def incident_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Ground truth of the crash, lane-closure and illegal-parking scenarios (first 420 s)."""
    base = tmp_path_factory.mktemp("incidents")
    return {
        name: run_scenario(load_builtin(name), base / name, RunOptions(seed=5, duration_s=420, render=False))
        for name in ("crash-junction", "lane-closure", "kerb-illegal-parking")
    }


def test_crash_brings_two_vehicles_to_rest_and_backs_up_the_approach(incident_runs: dict[str, Path]) -> None:
    (crash,) = load_manifest(incident_runs["crash-junction"])["incidents"]
    assert crash["type"] == "crash" and len(crash["vehicle_ids"]) == 2
    assert crash["trigger_s"] >= 180.0 and crash["start_s"] - crash["trigger_s"] < 12.0  # a hard brake, then the hit
    assert 1010.0 - 80.0 < crash["position_m"] <= 1010.0
    assert crash["camera_ids"] == ["K2"]
    assert crash["congestion"]["K2"]["start_s"] >= crash["start_s"] - 10.0


def test_lane_closure_is_recorded_and_congests_upstream(incident_runs: dict[str, Path]) -> None:
    manifest = load_manifest(incident_runs["lane-closure"])
    (closure,) = manifest["incidents"]
    assert (closure["start_s"], closure["position_m"], closure["length_m"], closure["lane"]) == (
        120.0,
        1520.0,
        120.0,
        2,
    )
    assert closure["vehicle_ids"] == [] and "K3" in closure["camera_ids"]
    assert set(closure["congestion"]) & {"K1", "K2", "K3"}
    assert "K4" not in closure["congestion"]  # downstream of the works


def test_illegal_parking_lies_in_the_no_parking_zone_of_the_camera_that_sees_it(incident_runs: dict[str, Path]) -> None:
    run = incident_runs["kerb-illegal-parking"]
    (parking,) = load_manifest(run)["incidents"]
    assert parking["type"] == "illegal_parking" and parking["lane"] == 2  # the kerb lane
    cal = CameraCalibration.load(run / "cameras" / "K2" / "calibration.json")
    (zone,) = cal.zones
    assert zone.kind == "no_parking"
    spot = Point(parking["position_m"], -5.25)  # centre of the kerb lane
    assert Polygon(zone.polygon_road).contains(spot)
    assert parking["camera_ids"] == ["K2"]
    assert CameraCalibration.load(run / "cameras" / "K1" / "calibration.json").zones == []
