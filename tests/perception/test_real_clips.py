"""Real clips: parked cars are tracked as stationary and never counted as passing."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from tests.conftest import shared_or_skip
from yingyan.perception.onnx import OnnxDetector
from yingyan.perception.tracking import VehicleTracker
from yingyan.sources import FrameReader, SourceConfig


def test_parked_cars_on_a_residential_street_are_stationary_tracks_that_never_pass() -> None:
    clip = shared_or_skip("videos", "residential_parked.mp4")  # 640x360, 73 s, kerbs lined with parked cars
    detector = OnnxDetector(shared_or_skip("models", "yolox_nano_416.onnx"))
    tracker = VehicleTracker(lost_s=3.0)
    centres: dict[int, list[tuple[float, float, float]]] = defaultdict(list)
    with FrameReader(SourceConfig(uri=str(clip), fps=5)) as reader:
        for frame in reader:
            tracked = tracker.update(detector.update(frame.image), frame.time_s)
            for box, track in zip(tracked.xyxy, tracked.tracker_id, strict=True):  # type: ignore[arg-type]
                if track >= 0:
                    centres[int(track)].append((frame.time_s, float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2))
    long_lived = {tid: np.array(c) for tid, c in centres.items() if c[-1][0] - c[0][0] > 30.0}
    parked = {tid: c for tid, c in long_lived.items() if np.ptp(c[:, 1]) < 15 and np.ptp(c[:, 2]) < 15}
    assert len(parked) >= 3, f"expected the parked cars as long stationary tracks, got {len(parked)}"

    def passes(c: np.ndarray, line_x: float = 320.0) -> bool:
        return bool(c[:, 1].min() < line_x - 20 < line_x + 20 < c[:, 1].max())

    assert not any(passes(c) for c in parked.values())
    movers = [c for tid, c in centres.items() if tid not in parked and len(c) >= 5 and passes(np.array(c))]
    assert len(movers) >= 1  # the cars that do drive through are counted
