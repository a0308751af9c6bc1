"""Lane meter: both carriageways of a camera measured in their own direction; counts that a person would agree with."""

from __future__ import annotations

import numpy as np
import supervision as sv

from yingyan.calibration import CameraCalibration, CountingLine, LaneCalibration
from yingyan.traffic.meter import LaneMeter

# A top-down camera: 10 px per metre, road y up the image. (Not a pinhole: positions are bottom centres.)
LINE_ROAD = ((30.0, 0.0), (30.0, 7.0))
LINE_IMAGE = ((300.0, 360.0), (300.0, 290.0))
H_IMAGE_TO_ROAD = [[0.1, 0.0, 0.0], [0.0, -0.1, 36.0], [0.0, 0.0, 1.0]]


def _calibration() -> CameraCalibration:
    def lane(lid: str, number: int, direction: str, travel: tuple[float, float], y0: float) -> LaneCalibration:
        road = [(0.0, y0), (60.0, y0), (60.0, y0 + 3.5), (0.0, y0 + 3.5)]
        return LaneCalibration(
            id=lid, number=number, direction=direction, travel=travel, polygon_road=road,
            polygon_image=[(10 * x, 360 - 10 * y) for x, y in road],
        )  # fmt: skip

    return CameraCalibration(
        camera_id="T",
        image_size=(640, 360),
        homography=H_IMAGE_TO_ROAD,
        lanes=[lane("T-E1", 1, "east", (1.0, 0.0), 0.0), lane("T-W1", 1, "west", (-1.0, 0.0), 3.5)],
        counting_lines=[CountingLine(id="T-C", lane_ids=["T-E1", "T-W1"], road=LINE_ROAD, image=LINE_IMAGE)],
    )


def _frame(vehicles: list[tuple[int, float, float]]) -> sv.Detections:
    """Detections of vehicles (track id, road x, road y of the box's bottom centre)."""
    if not vehicles:
        return sv.Detections.empty()
    xyxy = np.array([[10 * x - 20, 360 - 10 * y - 15, 10 * x + 20, 360 - 10 * y] for _, x, y in vehicles], np.float32)
    return sv.Detections(
        xyxy=xyxy,
        confidence=np.ones(len(vehicles), np.float32),
        class_id=np.full(len(vehicles), 2),
        tracker_id=np.array([v[0] for v in vehicles]),
    )


def test_each_carriageway_is_counted_and_timed_in_its_own_direction() -> None:
    meter = LaneMeter(_calibration(), interval_s=60.0, dt_s=0.2)
    rows = []
    for k in range(300):  # 60 s at 5 fps
        t = k * 0.2
        vehicles = []
        for n in range(6):  # eastbound at 15 m/s, one every 10 s
            x = 15.0 * (t - 10.0 * n)
            if 0.0 <= x <= 60.0:
                vehicles.append((100 + n, x, 1.75))
        for n in range(4):  # westbound at 10 m/s, one every 12 s
            x = 60.0 - 10.0 * (t - 12.0 * n)
            if 0.0 <= x <= 60.0:
                vehicles.append((200 + n, x, 5.25))
        meter.update(_frame(vehicles), t)
        rows += meter.flush(t)
    rows += meter.finish(60.0)
    by_lane = {r["lane_id"]: r for r in rows}
    assert {r["direction"] for r in rows} == {"east", "west"}
    east, west = by_lane["T-E1"], by_lane["T-W1"]
    # Eastbound vehicle n passes x = 30 at 2 + 10 n s; westbound at 3 + 12 n s: all inside the minute.
    assert east["count"] == 6 and west["count"] == 4
    assert abs(float(east["speed_space_mean_kmh"]) - 54.0) < 2.0  # type: ignore[arg-type]
    assert abs(float(west["speed_space_mean_kmh"]) - 36.0) < 2.0  # type: ignore[arg-type]


def test_a_track_that_leaps_across_the_line_off_the_lanes_does_not_use_up_its_count() -> None:
    """Far away (or past a rough calibration's horizon) a position leaps; the real crossing still counts."""
    meter = LaneMeter(_calibration(), interval_s=60.0, dt_s=0.2)
    for k in range(10):  # off the lanes, leaping back and forth over the line
        meter.update(_frame([(7, 30.0 + (-1) ** k * 400.0, 20.0)]), k * 0.2)
    for k in range(10, 40):  # then on the eastbound lane, passing the line once
        meter.update(_frame([(7, 15.0 + 3.0 * (k - 10), 1.75)]), k * 0.2)
    (east, west) = sorted(meter.finish(8.0), key=lambda r: str(r["lane_id"]))
    assert east["count"] == 1 and west["count"] == 0


def test_the_standing_queue_runs_from_the_stopped_head_to_the_last_queued_vehicle() -> None:
    meter = LaneMeter(_calibration(), interval_s=60.0, dt_s=0.2)
    points = []
    for k in range(10):  # three cars standing nose to tail, a fourth still driving 30 m behind
        t = k * 0.2
        queued = [(1, 50.0, 1.75), (2, 43.5, 1.75), (3, 37.0, 1.75)]
        points = meter.update(_frame([*queued, (4, 2.0 + 15.0 * t, 1.75)]), t)
    ((lane_id, segment, length),) = meter.queues(points)
    assert lane_id == "T-E1"
    # Bottom centres here are the footprints: the queue spans 50 + 2.3 back to 37 - 2.3 m.
    assert abs(length - 17.6) < 0.5
    assert abs(segment[0][0] - 52.3) < 0.5 and abs(segment[1][0] - 34.7) < 0.5


def test_a_box_too_small_for_any_car_where_it_stands_is_marked_small_and_a_far_car_is_not() -> None:
    """A cone (0.7 m wide, 0.75 m tall) near the camera and a car far away may be the same size in
    pixels; only the cone is too small for a car at its place."""
    from yingyan.sim.camera import camera_for, measurement_zone
    from yingyan.sim.library import load_builtin
    from yingyan.sim.outputs import calibration_for

    scenario = load_builtin("free-flow")
    cp = scenario.checkpoints[0]
    camera = camera_for(cp, scenario.network)
    calibration = calibration_for(scenario, cp, camera, measurement_zone(cp, camera, scenario.network))
    s0 = min(p[0] for p in calibration.lanes[0].polygon_road)
    s1 = max(p[0] for p in calibration.lanes[0].polygon_road)

    def box(x: float, length: float, width: float, height: float) -> list[float]:
        along, across = (-length / 2, length / 2), (-width / 2, width / 2)
        corners = np.array([[x + a, -5.25 + b, h] for a in along for b in across for h in (0, height)])
        pix, _ = camera.project(corners)
        return [*pix.min(axis=0), *pix.max(axis=0)]

    near, far = (s0 + 10.0, s1 - 10.0) if cp.watch.value == "forward" and camera.c[0] < s0 else (s1 - 10.0, s0 + 10.0)
    boxes = [box(near, 0.7, 0.7, 0.75), box(near, 4.6, 1.8, 1.5), box(far, 4.6, 1.8, 1.5)]
    detections = sv.Detections(
        xyxy=np.array(boxes, np.float32), confidence=np.ones(3, np.float32), class_id=np.full(3, 2),
        tracker_id=np.array([1, 2, 3]),
    )  # fmt: skip
    points = LaneMeter(calibration).update(detections, 0.0)
    assert [p.small for p in points] == [True, False, False]
