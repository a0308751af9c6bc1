"""The motion detector: moving vehicles found, a stopped one kept, lighting drift ignored."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import av
import cv2
import numpy as np
import supervision as sv

from tests.conftest import load_manifest
from yingyan.calibration import CameraCalibration
from yingyan.perception.motion import MotionDetector, shrink
from yingyan.sim.camera import camera_for, measurement_zone
from yingyan.sim.library import load_builtin
from yingyan.sim.outputs import calibration_for


def _road(rng: np.random.Generator) -> np.ndarray:
    base = np.full((180, 320, 3), 80, np.uint8)
    return np.clip(base.astype(int) + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


def test_a_car_that_stops_stays_detected_and_is_marked_stationary() -> None:
    rng = np.random.default_rng(0)
    road = _road(rng)
    detector = MotionDetector(fps=5)
    stationary_flags = []
    for k in range(400):  # 80 s: the car drives in for 20 s, then stands for 60 s
        frame = road.copy()
        x = int(min(10 + 1.5 * k, 160))
        frame[80:105, x : x + 40] = (30, 30, 200)
        det = detector.update(frame)
        if k >= 130:
            hit = [i for i, b in enumerate(det.xyxy) if b[0] <= x + 5 and b[2] >= x + 35]
            assert hit, f"frame {k}: the stopped car vanished"
            stationary_flags.append(bool(det.data["stationary"][hit[0]]))
    assert all(stationary_flags[50:])  # once it has stood a while it is marked stationary


def test_lighting_drift_does_not_light_up_the_frame() -> None:
    rng = np.random.default_rng(1)
    road = _road(rng)
    detector = MotionDetector(fps=5)
    found = 0
    for k in range(200):
        gain = 1.0 + 0.3 * np.sin(k / 30)  # a cloud passes, the camera's exposure follows
        found += len(detector.update(np.clip(road * gain, 0, 255).astype(np.uint8)))
    assert found <= 5


def test_on_the_simulator_it_finds_near_vehicles_and_keeps_the_parked_car(parking_rendered: Path) -> None:
    parking = parking_rendered
    (incident,) = load_manifest(parking)["incidents"]
    (parked,) = incident["vehicle_ids"]
    truth: dict[int, list[tuple[str, np.ndarray, float]]] = defaultdict(list)
    with (parking / "cameras" / "K2" / "boxes.csv").open() as handle:
        for r in csv.DictReader(handle):
            box = np.array([float(r[c]) for c in ("x1", "y1", "x2", "y2")])
            truth[int(r["frame"])].append((r["vehicle_id"], box, float(r["distance_m"])))
    detector = MotionDetector(fps=5)
    near_hits = near_total = parked_hits = parked_total = parked_stationary = 0
    with av.open(str(parking / "cameras" / "K2" / "video.mp4")) as container:
        for k, frame in enumerate(container.decode(video=0)):
            det = detector.update(frame.to_ndarray(format="bgr24"))
            if k < 50:
                continue
            for vid, box, dist in truth[k]:
                iou = sv.box_iou_batch(box[None], det.xyxy)[0] if len(det) else np.zeros(0)
                hit = bool(len(iou)) and float(iou.max()) > 0.3
                if vid == parked and k / 5 > incident["start_s"] + 20:
                    parked_total += 1
                    parked_hits += hit
                    parked_stationary += hit and bool(det.data["stationary"][int(iou.argmax())])
                elif dist < 80 and vid != parked:
                    near_total += 1
                    near_hits += hit
    assert near_total > 200 and near_hits / near_total > 0.6
    assert parked_total > 100 and parked_hits / parked_total > 0.7
    assert parked_stationary >= 0.9 * parked_hits


def test_a_blob_of_two_cars_in_a_row_is_split_and_one_car_is_not() -> None:
    from yingyan.perception.motion import split_rows

    one = np.zeros((30, 20), bool)
    one[:, 2:18] = True
    assert split_rows(one) == [(0, 30)]
    two = np.zeros((40, 20), bool)
    two[0:18, 2:18] = True  # the car in front
    two[18:21, 9:11] = True  # a thin bridge of shadow between them
    two[21:40, 3:17] = True  # the car behind
    parts = split_rows(two)
    assert len(parts) == 2 and 17 <= parts[0][1] <= 21


def test_at_night_a_vehicle_is_its_pair_of_headlamps_and_street_lights_are_scenery() -> None:
    from tests.traffic.test_meter import _calibration  # top-down, 10 px per metre

    detector = MotionDetector(fps=5)
    detector.use_calibration(_calibration())
    found = []
    for k in range(80):
        frame = np.full((360, 640, 3), 12, np.uint8)
        cv2.circle(frame, (100, 40), 4, (255, 255, 255), -1)  # a street light, always there
        if k >= detector.warmup_frames + 5:
            y = 60 + 4 * (k - detector.warmup_frames)  # a car coming down the image, lamps 1.6 m apart
            for x in (300, 316):
                cv2.circle(frame, (x, y), 3, (255, 255, 255), -1)
            cv2.ellipse(frame, (308, y + 25), (20, 12), 0, 0, 360, (90, 90, 90), -1)  # the pool of light it throws
        det = detector.update(frame)
        if k >= detector.warmup_frames + 8:
            found.append(det)
    assert all(len(d) == 1 for d in found), [len(d) for d in found]
    for d in found:
        x1, _, x2, _ = d.xyxy[0]
        assert x1 < 300 and x2 > 316 and x2 - x1 < 30  # one box around both lamps, about a car wide


def test_at_dusk_the_two_lamp_blobs_of_one_vehicle_are_one_box() -> None:
    """Dusk in rain: the body barely differs from the road, the two headlamps and their glare are what
    moves (two blobs); they are one vehicle, not two (dusk-rain-stall counted twice its traffic)."""
    from tests.traffic.test_meter import _calibration  # top-down, 10 px per metre

    rng = np.random.default_rng(5)
    road = np.clip(np.full((360, 640, 3), 70.0) + rng.normal(0, 3, (360, 640, 3)), 0, 255).astype(np.uint8)
    detector = MotionDetector(fps=5, join_lamps=True)
    detector.use_calibration(_calibration())
    found = []
    for k in range(60):
        frame = road.copy()
        if k >= detector.warmup_frames + 5:
            y = 60 + 4 * (k - detector.warmup_frames)
            cv2.rectangle(frame, (293, y - 30), (323, y + 8), (66, 66, 66), -1)  # the body, as dark as the road
            for x in (298, 318):  # headlamps 2 m apart, each with its glare
                cv2.circle(frame, (x, y), 6, (160, 160, 160), -1)
                cv2.circle(frame, (x, y), 3, (255, 255, 255), -1)
        det = detector.update(frame)
        if k >= detector.warmup_frames + 8:
            found.append(det)
    assert detector._median > detector.night_level  # not night: the blobs are the moving boxes themselves
    assert all(len(d) == 1 for d in found), [len(d) for d in found]
    for d in found:
        x1, _, x2, _ = d.xyxy[0]
        assert x1 <= 293 and x2 >= 323


def _sim_calibration() -> CameraCalibration:
    scenario = load_builtin("free-flow")
    cp = scenario.checkpoints[0]
    camera = camera_for(cp, scenario.network)
    return calibration_for(scenario, cp, camera, measurement_zone(cp, camera, scenario.network))


def test_a_sliver_beside_a_vehicle_is_its_shadow_and_is_dropped() -> None:
    calibration = _sim_calibration()
    detector = MotionDetector(fps=5, process_width=None)
    detector.use_calibration(calibration)
    assert detector._locator is not None
    s0 = min(p[0] for p in calibration.lanes[0].polygon_road)
    one = detector._locator.predicted_boxes(np.array([[s0 + 20.0, -1.75]]), np.array([2]))[0]
    # A sliver beside the car (its shadow's dark core) is dropped; alone, a sliver is kept.
    sliver = [one[0] - 12, one[1] + 5, one[0] - 4, one[3]]
    keep = detector._not_shadows(np.array([one, sliver], np.float32))
    assert keep.tolist() == [True, False]
    assert detector._not_shadows(np.array([sliver], np.float32)).tolist() == [True]


def test_a_dark_car_in_a_busy_lane_does_not_vanish_into_the_background() -> None:
    """Dark cars pass often (each pixel of the lane is under one a third of the time): the road stays the background."""
    rng = np.random.default_rng(3)
    road = _road(rng)
    detector = MotionDetector(fps=5)
    missed = 0
    for k in range(300):  # 60 s: a dark car every 2 s, creeping 10 px a frame for 1.2 s
        frame = road.copy()
        phase = k % 10
        y = 30 + 10 * phase
        if phase < 6:
            frame[y : y + 30, 140:175] = (70, 40, 30)  # a dark blue car on grey asphalt
            frame[y + 8 : y + 16, 143:172] = (20, 20, 20)  # its windscreen
        det = detector.update(frame)
        if k >= 100 and 1 <= phase < 6:
            centres = (det.xyxy[:, 1] + det.xyxy[:, 3]) / 2 if len(det) else np.array([])
            missed += int(not np.any(np.abs(centres - (y + 15)) < 8))
    assert missed <= 5, f"{missed} of 100 sightings of dark cars missed"


def test_shrink_matches_area_averaging_and_keeps_the_requested_size() -> None:
    rng = np.random.default_rng(4)
    image = cv2.GaussianBlur(rng.integers(0, 255, (668, 766, 3), dtype=np.uint8), (9, 9), 3)
    for size in ((383, 334), (287, 250), (480, 270)):
        small = shrink(image, size)
        assert small.shape == (size[1], size[0], 3)
        reference = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(int)
        assert np.abs(small.astype(int) - reference).mean() < 4.0


def _ghost_scene(stop_at: int | None) -> tuple[MotionDetector, list[sv.Detections]]:
    """A van stands through the warm-up (so the slow model learns it as road), then drives off;
    with ``stop_at``, another car drives in at that frame and stops further down."""
    rng = np.random.default_rng(5)
    road = _road(rng)
    detector = MotionDetector(fps=5)
    found = []
    for k in range(300):  # 60 s
        frame = road.copy()
        frame = np.clip(frame.astype(int) + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)
        if k < detector.warmup_frames:
            frame[40:70, 200:250] = (200, 200, 210)  # the van, standing in the warm-up
            frame[45:52, 205:245] = (40, 40, 40)  # its windscreen
        if stop_at is not None and k >= stop_at:
            x = int(min(10 + 6 * (k - stop_at), 100))
            frame[110:135, x : x + 40] = (30, 30, 200)
        found.append(detector.update(frame))
    return detector, found


def _stationary_near(det: sv.Detections, x: float, y: float) -> bool:
    if not len(det):
        return False
    cx, cy = (det.xyxy[:, 0] + det.xyxy[:, 2]) / 2, (det.xyxy[:, 1] + det.xyxy[:, 3]) / 2
    near = (np.abs(cx - x) < 20) & (np.abs(cy - y) < 15)
    return bool(np.any(near & det.data["stationary"]))


def test_the_empty_road_where_the_warm_up_saw_a_van_is_no_stationary_vehicle() -> None:
    """A ghost: the slow model learnt a van that then left; the empty road there is not a vehicle that stands."""
    detector, found = _ghost_scene(stop_at=None)
    ghost_frames = [k for k, det in enumerate(found) if _stationary_near(det, 225, 55)]
    assert len(ghost_frames) <= 3, ghost_frames  # seen at most until the slow model first looks again
    assert detector.ghosts_healed >= 1


def test_a_car_that_stops_after_the_warm_up_stays_stationary_beside_a_ghost() -> None:
    """The ghost check does not take a real stopped car for a ghost, and healing one does not lose it."""
    _, found = _ghost_scene(stop_at=60)  # the car drives in from 12 s, stands from about 27 s
    stopped = [_stationary_near(det, 120, 122) for det in found[200:]]
    assert all(stopped), f"{stopped.count(False)} of {len(stopped)} frames lost the stopped car"
    assert not any(_stationary_near(det, 225, 55) for det in found[80:])


def test_a_stopped_car_is_called_stationary_about_as_late_as_the_detector_says() -> None:
    """stationary_after_s (the event detectors date a vehicle first seen standing back by it) against
    the detector itself: a car drives in and stops; when is it first reported stationary?"""
    rng = np.random.default_rng(7)
    road = _road(rng)
    for fps in (5.0, 10.0):
        detector = MotionDetector(fps=fps)
        start_k, stop_k = int(20 * fps), int(22 * fps)  # enters at 20 s, drives 65 px/s, stands from 22 s
        first = None
        for k in range(int(45 * fps)):
            frame = road.copy()
            x = int(min(10 + 130 * max(k - start_k, 0) / (stop_k - start_k), 140)) if k >= start_k else -100
            if x < 0:
                detector.update(frame)
                continue
            frame[80:105, x : x + 40] = (30, 30, 200)
            det = detector.update(frame)
            still = [b for b, s in zip(det.xyxy, det.data.get("stationary", []), strict=False) if s and b[0] >= x - 5]
            if k > stop_k and still and first is None:
                first = (k - stop_k) / fps
        assert first is not None
        assert abs(first - detector.stationary_after_s) <= 2.0, (fps, first, detector.stationary_after_s)
