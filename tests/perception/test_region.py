"""Detection only where the lanes are: the region holds every lane and the vehicles on it, at no loss."""

from __future__ import annotations

import numpy as np

from yingyan.calibration import CameraCalibration
from yingyan.perception.classes import TRUCK
from yingyan.perception.motion import MotionDetector
from yingyan.perception.region import RegionDetector, lanes_region
from yingyan.sim.camera import camera_for, measurement_zone
from yingyan.sim.library import load_builtin
from yingyan.sim.outputs import calibration_for
from yingyan.traffic.footprint import CLASS_SIZE_M


def test_the_region_holds_every_lane_and_a_truck_standing_on_any_lane_corner() -> None:
    scenario = load_builtin("free-flow")
    cp = scenario.checkpoints[0]
    camera = camera_for(cp, scenario.network)
    calibration = calibration_for(scenario, cp, camera, measurement_zone(cp, camera, scenario.network))
    x1, y1, x2, y2 = lanes_region(calibration)
    w, h = calibration.image_size
    assert (x2 - x1) * (y2 - y1) < 0.75 * w * h  # it does leave out most of what the camera sees
    length, width, height = CLASS_SIZE_M[TRUCK]
    for lane in calibration.lanes:
        for corner in lane.polygon_image:
            assert x1 <= corner[0] <= x2 and y1 <= corner[1] <= y2
        for cx, cy in lane.polygon_road:
            # The true camera's view of a truck there (the truck's corners, roof included).
            corners = np.array(
                [[cx + a * length / 2, cy + b * width / 2, z] for a in (-1, 1) for b in (-1, 1) for z in (0, height)]
            )
            pix, _ = camera.project(corners)
            pix = np.clip(pix, 0, [w, h])
            assert (pix[:, 0] >= x1 - 2).all() and (pix[:, 0] <= x2 + 2).all()
            assert (pix[:, 1] >= y1 - 2).all() and (pix[:, 1] <= y2 + 2).all()


def test_a_calibration_that_is_no_pinhole_gets_a_plain_margin(tmp_path: object) -> None:
    calibration = CameraCalibration.model_validate(
        {
            "camera_id": "C",
            "image_size": [640, 360],
            "homography": [[0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 1.0]],  # a top-down view: no camera to recover
            "road_class": "arterial",
            "speed_limit_kmh": 60,
            "lanes": [
                {
                    "id": "C-L1",
                    "number": 1,
                    "direction": "east",
                    "travel": [1.0, 0.0],
                    "polygon_road": [[20, 15], [40, 15], [40, 18.5], [20, 18.5]],
                    "polygon_image": [[200, 150], [400, 150], [400, 185], [200, 185]],
                }
            ],
        }
    )
    x1, y1, x2, y2 = lanes_region(calibration)
    assert (x1, x2) == (146, 454) and (y1, y2) == (96, 239)  # 15 % of the height all round


def _street(k: int) -> np.ndarray:
    rng = np.random.default_rng(k)
    frame = np.clip(90 + rng.normal(0, 2, (360, 640, 3)), 0, 255).astype(np.uint8)
    if k >= 50:
        x = 150 + 6 * (k - 50)
        frame[200:230, x : x + 50] = (40, 40, 200)  # a car driving across the region
    return frame


def test_motion_on_the_region_finds_what_it_finds_on_the_whole_frame_in_frame_pixels() -> None:
    whole = MotionDetector(fps=5)
    region = RegionDetector(MotionDetector(fps=5), (100, 120, 560, 330))
    for k in range(80):
        frame = _street(k)
        full_det, region_det = whole.update(frame), region.update(frame)
        if k >= 55:
            assert len(full_det) == 1 and len(region_det) == 1
            assert np.allclose(full_det.xyxy, region_det.xyxy, atol=1.0)
            x = 150 + 6 * (k - 50)
            bx1, by1, bx2, by2 = region_det.xyxy[0]  # on the car (a flat car's leading part, at least)
            assert x - 3 <= bx1 < bx2 <= x + 53 and bx2 - bx1 >= 25 and abs(by1 - 200) <= 3 and abs(by2 - 230) <= 3
