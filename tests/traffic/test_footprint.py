"""Footprints: a vehicle's place on the road from its image box, through the recovered camera."""

from __future__ import annotations

import numpy as np
import pytest

from yingyan.calibration import CameraCalibration
from yingyan.sim.camera import camera_for, measurement_zone
from yingyan.sim.library import load_builtin
from yingyan.sim.outputs import calibration_for
from yingyan.sim.scenario import Checkpoint
from yingyan.traffic.footprint import FootprintLocator, PinholeFromHomography


def _camera_and_calibration() -> tuple[object, CameraCalibration]:
    scenario = load_builtin("free-flow")
    cp = scenario.checkpoints[0]
    camera = camera_for(cp, scenario.network)
    return camera, calibration_for(scenario, cp, camera, measurement_zone(cp, camera, scenario.network))


def test_camera_recovered_from_the_homography_projects_points_above_the_road() -> None:
    camera, calibration = _camera_and_calibration()
    recovered = PinholeFromHomography.recover(calibration)
    assert recovered is not None
    # Roof corners 1.5 m above the road land where the true camera puts them.
    mid = float(np.mean([p[0] for p in calibration.lanes[0].polygon_road]))
    points = np.array([[mid + d, y, h] for d in (-20, 20) for y in (-1.75, -5.25) for h in (0, 1.5)])
    truth, _ = camera.project(points)  # type: ignore[attr-defined]
    assert np.allclose(recovered.project(points), truth, atol=0.5)


def test_boxes_of_cars_in_both_lanes_are_placed_on_their_lane_centres() -> None:
    camera, calibration = _camera_and_calibration()
    locator = FootprintLocator(calibration)
    s0 = min(p[0] for p in calibration.lanes[0].polygon_road)
    centres, boxes = [], []
    for lane_centre in (-1.75, -5.25):
        for ahead in (15.0, 35.0, 60.0):
            centre = np.array([s0 + ahead, lane_centre])
            corners = np.array(
                [[centre[0] + a, centre[1] + b, h] for a in (-2.3, 2.3) for b in (-0.9, 0.9) for h in (0.0, 1.5)]
            )
            pix, _ = camera.project(corners)  # type: ignore[attr-defined]
            boxes.append([*pix.min(axis=0), *pix.max(axis=0)])
            centres.append(centre)
    boxes_arr = np.array(boxes)
    found = locator.locate(boxes_arr, np.full(len(boxes_arr), 2))
    naive = locator.bottom_centres(boxes_arr)
    assert np.abs(found - np.array(centres)).max() < 0.3
    # The bottom centre is the bumper, not the vehicle: metres off along the road.
    assert np.abs(naive[:, 0] - np.array(centres)[:, 0]).min() > 1.5


def test_a_homography_that_is_no_pinhole_falls_back_to_the_bottom_centre() -> None:
    _, calibration = _camera_and_calibration()
    skewed = calibration.model_copy(update={"homography": [[0.1, 0.3, 5.0], [0.0, 0.1, 2.0], [0.0, 0.0, 1.0]]})
    assert PinholeFromHomography.recover(skewed) is None
    locator = FootprintLocator(skewed)
    box = np.array([[100.0, 100.0, 140.0, 130.0]])
    assert np.allclose(locator.locate(box, np.array([2])), locator.bottom_centres(box))


@pytest.mark.parametrize("size", [(640, 360), (1280, 720)])
def test_recovery_works_at_both_sizes(size: tuple[int, int]) -> None:
    scenario = load_builtin("free-flow")
    cp = Checkpoint(id="K", position_m=800, resolution=size)
    camera = camera_for(cp, scenario.network)
    calibration = calibration_for(scenario, cp, camera, measurement_zone(cp, camera, scenario.network))
    assert PinholeFromHomography.recover(calibration) is not None
