"""Tracking: ids per camera, a vehicle hidden for a moment keeps its id, memory stays bounded."""

from __future__ import annotations

import tracemalloc

import numpy as np
import supervision as sv

from yingyan.perception.tracking import VehicleTracker


def _dets(boxes: list[tuple[float, float, float, float]]) -> sv.Detections:
    if not boxes:
        return sv.Detections.empty()
    return sv.Detections(
        xyxy=np.array(boxes, dtype=np.float32),
        confidence=np.full(len(boxes), 0.9, np.float32),
        class_id=np.full(len(boxes), 2),
    )


def _ids(tracked: sv.Detections) -> list[int]:
    return [int(i) for i in tracked.tracker_id if i >= 0]  # type: ignore[union-attr]


def test_two_cameras_count_their_own_ids() -> None:
    a, b = VehicleTracker(), VehicleTracker()
    for k in range(4):
        ids_a = _ids(a.update(_dets([(10 + 2 * k, 10, 50 + 2 * k, 40)]), k / 5))
        ids_b = _ids(b.update(_dets([(100 + 2 * k, 10, 150 + 2 * k, 40), (300, 10, 340, 40)]), k / 5))
    assert ids_a == [0] and sorted(ids_b) == [0, 1]


def test_vehicle_hidden_for_a_second_keeps_its_id() -> None:
    tracker = VehicleTracker(lost_s=2.0)
    seen: list[list[int]] = []
    for k in range(30):  # 5 fps, a car moving 4 px per frame, hidden (e.g. behind a bus) from frame 10 to 14
        box = (100 + 4 * k, 50, 160 + 4 * k, 90)
        seen.append(_ids(tracker.update(_dets([] if 10 <= k < 15 else [box]), k / 5)))
    before, after = {i for s in seen[2:10] for i in s}, {i for s in seen[16:] for i in s}
    assert before == after == {0}


def test_memory_stays_bounded_on_a_long_stream() -> None:
    tracker = VehicleTracker(lost_s=2.0)
    rng = np.random.default_rng(0)
    cars: list[list[float]] = []
    peak_tracks = 0
    tracemalloc.start()
    try:
        for k in range(12_000):  # 40 minutes at 5 fps, a new car every 2 s on average
            if rng.random() < 0.1:
                cars.append([0.0, float(rng.uniform(0, 300))])
            for car in cars:
                car[0] += 8.0
            cars = [c for c in cars if c[0] < 640]
            tracker.update(_dets([(x, y, x + 40, y + 25) for x, y in cars]), k / 5)
            peak_tracks = max(peak_tracks, tracker.live_tracks)
            if k == 2_000:
                baseline, _ = tracemalloc.get_traced_memory()
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_tracks < 40
    assert current - baseline < 2_000_000  # no growth beyond noise after the first few minutes
