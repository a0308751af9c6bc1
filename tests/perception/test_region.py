"""Detection only where the lanes are: the region holds every lane and the vehicles on it, at no loss."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import supervision as sv

from yingyan.calibration import CameraCalibration
from yingyan.eval.boxes import Tally, TruthBox, score_frame
from yingyan.perception.backends import SHIPPED_MODEL
from yingyan.perception.classes import TRUCK, VEHICLES
from yingyan.perception.motion import MotionDetector
from yingyan.perception.onnx import OnnxDetector
from yingyan.perception.region import RegionDetector, far_region, lanes_region
from yingyan.sim.camera import camera_for, measurement_zone
from yingyan.sim.families import FamilyName, generate
from yingyan.sim.library import load_builtin
from yingyan.sim.network import build_network
from yingyan.sim.outputs import calibration_for
from yingyan.sim.render import CameraRenderer
from yingyan.sim.runner import RunOptions, apply_overrides, sim_step_for
from yingyan.sim.traffic import simulate
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


class _Fixed:
    """A scaled detector that answers each region with given boxes (frame pixels), and records its calls."""

    def __init__(self, answers: dict[tuple[int, int], list[list[float]]]) -> None:
        self.answers = answers
        self.calls: list[tuple[tuple[int, int], float]] = []

    def scale_for(self, shape: tuple[int, ...]) -> float:
        return min(416 / shape[1], 416 / shape[0])

    def update(self, image: np.ndarray) -> sv.Detections:
        return self.detect(image, self.scale_for(image.shape))

    def detect(self, image: np.ndarray, scale: float, origin: tuple[int, int] = (0, 0)) -> sv.Detections:
        self.calls.append((origin, scale))
        boxes = np.array(self.answers.get(origin, []), dtype=np.float32).reshape(-1, 4)
        return sv.Detections(xyxy=boxes, confidence=np.full(len(boxes), 0.9), class_id=np.full(len(boxes), 2))


def test_the_far_pass_owns_what_lies_inside_its_region_and_a_vehicle_across_its_edge_counts_once() -> None:
    far = ((600, 100, 1000, 300), 0.8)
    detector = _Fixed(
        {
            (0, 0): [[700, 150, 720, 160], [500, 250, 640, 330], [1200, 600, 1400, 800]],  # far car small, two near
            (600, 100): [
                [702, 149, 719, 161],  # the far car, seen larger: it replaces the whole pass's box
                [800, 200, 830, 215],  # a car the whole pass missed
                [600, 250, 640, 300],  # cut by the region's left edge: part of the near car
                [501, 251, 641, 331],  # (outside the region: never returned by a real pass; a duplicate)
            ],
        }
    )
    found = RegionDetector(detector, (0, 0, 1920, 1080), far).update(np.zeros((1080, 1920, 3), np.uint8))
    boxes = sorted(map(tuple, found.xyxy.round().astype(int).tolist()))
    assert boxes == [(500, 250, 640, 330), (702, 149, 719, 161), (800, 200, 830, 215), (1200, 600, 1400, 800)]
    assert detector.calls == [((0, 0), 416 / 1920), ((600, 100), 0.8)]


def _family_calibration(size: tuple[int, int]) -> CameraCalibration:
    scenario = generate(FamilyName.EXPRESSWAY_INCIDENTS, 3)
    cp = scenario.checkpoints[0].model_copy(update={"resolution": size})
    camera = camera_for(cp, scenario.network)
    return calibration_for(scenario, cp, camera, measurement_zone(cp, camera, scenario.network))


def test_a_1080p_camera_looks_again_at_its_far_lanes_larger_and_a_small_one_does_not() -> None:
    detector = _Fixed({})
    calibration = _family_calibration((1920, 1080))
    far = far_region(calibration, detector)
    assert far is not None
    (_, y1, _, y2), scale = far
    whole = detector.scale_for((1080, 1920))
    assert scale >= 1.5 * whole and scale <= 1.0
    near = lanes_region(calibration)
    assert y2 < near[3] and y1 >= near[1] - 10  # the far end of the lanes: the upper part of their region
    assert far_region(_family_calibration((320, 180)), detector) is None  # nothing to gain at 320 px: 416 covers it


def test_the_shipped_detector_finds_more_far_vehicles_on_a_1080p_camera_with_the_far_pass() -> None:
    scenario = apply_overrides(
        generate(FamilyName.EXPRESSWAY_INCIDENTS, 3).model_copy(update={"incidents": []}),
        RunOptions(duration_s=40, fps=5),
    )
    cp = scenario.checkpoints[0]  # 1920x1080, by day
    assert tuple(cp.resolution) == (1920, 1080)
    work = Path(tempfile.mkdtemp())
    traj = simulate(scenario, build_network(scenario, work / "sumo"), 3, sim_step_for(scenario), None)
    camera = camera_for(cp, scenario.network)
    zone = measurement_zone(cp, camera, scenario.network)
    calibration = calibration_for(scenario, cp, camera, zone)
    onnx = OnnxDetector(SHIPPED_MODEL, classes=VEHICLES)
    plain = RegionDetector(onnx, lanes_region(calibration))
    closer = RegionDetector(onnx, lanes_region(calibration), far_region(calibration, onnx))
    renderer = CameraRenderer(scenario, camera, traj, 1)
    tallies = {"plain": Tally(), "closer": Tally()}
    for t in np.arange(25.0, 37.0, 1.0):
        step = traj.step_index(float(t))
        frame, boxes = renderer.render(step)
        where = dict(zip(traj.vid[traj.rows(step)].tolist(), traj.x[traj.rows(step)].tolist(), strict=True))
        truth = [
            TruthBox(str(b.vehicle), b.cls, b.x1, b.y1, b.x2, b.y2, b.depth_m, b.truncated,
                     counted=zone.lo_m <= where.get(b.vehicle, -1e9) <= zone.hi_m)
            for b in boxes
        ]  # fmt: skip
        for name, detector in (("plain", plain), ("closer", closer)):
            score = score_frame(truth, detector.update(frame).xyxy)
            tallies[name].add(score, [[] for _ in score.counted])
    plain_recall, closer_recall = tallies["plain"].recall(), tallies["closer"].recall()
    assert plain_recall is not None and closer_recall is not None and tallies["closer"].counted["all"] >= 40
    assert closer_recall >= plain_recall + 0.1
    assert (tallies["closer"].precision() or 0.0) >= 0.9
