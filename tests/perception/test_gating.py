"""Motion gating: the network runs where something moves, on full frames now and then, else not at all."""

from __future__ import annotations

import cv2
import numpy as np
import supervision as sv

from yingyan.perception.gating import GatedDetector


class CountingDetector:
    """Stands in for the network: finds red pixels, and counts its calls and the pixels it was shown."""

    def __init__(self) -> None:
        self.calls = 0
        self.pixels = 0

    def update(self, image: np.ndarray) -> sv.Detections:
        self.calls += 1
        self.pixels += image.shape[0] * image.shape[1]
        red = ((image[:, :, 2] > 150) & (image[:, :, 0] < 80)).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(red)
        if count <= 1:
            return sv.Detections.empty()
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in stats[1:]], dtype=np.float32)
        return sv.Detections(
            xyxy=boxes, confidence=np.full(len(boxes), 0.9, np.float32), class_id=np.full(len(boxes), 2)
        )


def test_quiet_road_runs_the_network_only_on_periodic_full_frames() -> None:
    road = np.full((180, 320, 3), 80, np.uint8)
    neural = CountingDetector()
    gated = GatedDetector(neural, fps=5, full_every_s=2.0)
    rng = np.random.default_rng(1)
    for _ in range(100):  # 20 s of an empty road, with sensor noise
        noisy = np.clip(road.astype(int) + rng.normal(0, 3, road.shape), 0, 255).astype(np.uint8)
        gated.update(noisy)
    assert neural.calls == 10  # one full frame every 2 s


def test_a_moving_car_is_found_in_its_crop_and_a_parked_one_is_carried_over() -> None:
    road = np.full((180, 320, 3), 80, np.uint8)
    road[140:160, 20:60] = (30, 30, 200)  # parked car, there from the start
    neural = CountingDetector()
    gated = GatedDetector(neural, fps=5, full_every_s=4.0)
    found_moving = 0
    for k in range(60):
        frame = road.copy()
        x = 60 + 3 * k
        frame[40:60, x : x + 30] = (30, 30, 210)
        det = gated.update(frame)
        if k > 30 and k % 20:
            centres = (det.xyxy[:, 0] + det.xyxy[:, 2]) / 2
            assert np.any(np.abs(centres - 40) < 5), "the parked car must stay detected between full passes"
            found_moving += int(np.any(np.abs(centres - (x + 15)) < 6))
    assert found_moving >= 20
    assert neural.pixels < 60 * 320 * 180 * 0.6  # crops, not whole frames, most of the time


class ScaledCountingDetector(CountingDetector):
    """A detector that, like the ONNX one, can look at a crop at the whole frame's scale."""

    def __init__(self) -> None:
        super().__init__()
        self.scales: list[float] = []

    def scale_for(self, shape: tuple[int, ...]) -> float:
        return 416 / shape[1]

    def detect(self, image: np.ndarray, scale: float, origin: tuple[int, int] = (0, 0)) -> sv.Detections:
        self.scales.append(scale)
        found = self.update(image)
        found.xyxy = found.xyxy + np.array([*origin, *origin], dtype=np.float32)
        return found


def test_crops_are_seen_at_the_whole_frame_scale_and_found_in_frame_pixels() -> None:
    road = np.full((180, 320, 3), 80, np.uint8)
    neural = ScaledCountingDetector()
    gated = GatedDetector(neural, fps=5, full_every_s=10.0)
    for k in range(20):
        frame = road.copy()
        x = 60 + 4 * k
        frame[40:60, x : x + 30] = (30, 30, 210)
        det = gated.update(frame)
        assert len(det) == 1 and np.allclose(det.xyxy[0], [x, 40, x + 30, 60])
    # Every pass, crop or full, was told the whole frame's scale, not the crop's.
    assert neural.calls == 20 and len(neural.scales) == 20
    assert set(neural.scales) == {416 / 320}
    assert neural.pixels < 20 * 320 * 180 * 0.6


def test_a_small_crop_is_shown_enlarged_and_a_parked_car_beside_it_is_neither_lost_nor_doubled() -> None:
    road = np.full((720, 1280, 3), 80, np.uint8)
    road[600:640, 40:120] = (30, 30, 200)  # parked car near the left edge
    neural = ScaledCountingDetector()
    whole = neural.scale_for(road.shape)
    gated = GatedDetector(neural, fps=5, full_every_s=10.0)
    for k in range(25):
        frame = road.copy()
        x = 200 + 8 * k
        frame[100:140, x : x + 60] = (30, 30, 210)
        det = gated.update(frame)
        centres = sorted(((det.xyxy[:, 0] + det.xyxy[:, 2]) / 2).tolist())
        assert len(centres) == 2 and abs(centres[0] - 80) < 2 and abs(centres[1] - (x + 30)) < 2
    crops = neural.scales[1:]  # after the first, full pass
    assert crops and all(whole < s <= 1.0 for s in crops)
