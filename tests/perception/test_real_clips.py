"""Real clips: parked cars are tracked as stationary and never counted; passing vehicles are counted."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import shared_or_skip
from yingyan.cli import app
from yingyan.config import load_model
from yingyan.eval.labels import LabelFile
from yingyan.perception.backends import SHIPPED_MODEL
from yingyan.perception.onnx import OnnxDetector
from yingyan.perception.tracking import VehicleTracker
from yingyan.sources import FrameReader, SourceConfig

DATA = Path(__file__).resolve().parents[1] / "data" / "real_clips"
runner = CliRunner()


def test_parked_cars_on_a_residential_street_are_stationary_tracks_that_never_pass() -> None:
    clip = shared_or_skip("videos", "residential_parked.mp4")  # 640x360, 73 s, kerbs lined with parked cars
    detector = OnnxDetector(SHIPPED_MODEL)
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


# Hand counts, from the label file (vehicles whose centre passes the calibration's counting line, in
# the lanes the calibration measures), with the clip's analysis rate.
HAND_COUNTS = {
    clip.name: ({c.lane_id: c.vehicles for c in clip.counts}, clip.fps)
    for clip in load_model(LabelFile, DATA / "labels.yaml").clips
    if clip.name in ("two_lane_street", "urban_multilane_dusk")
}


@pytest.mark.parametrize("detector", ["onnx", "gated"])
@pytest.mark.parametrize("clip", sorted(HAND_COUNTS))
def test_onnx_counts_at_the_line_match_the_hand_count(clip: str, detector: str, tmp_path: Path) -> None:
    """`yingyan calibrate` then `yingyan analyze --detector onnx|gated` count within 10 % of a person."""
    video = shared_or_skip("videos", f"{clip}.mp4")
    model = SHIPPED_MODEL
    spec = DATA / f"{clip}.yaml"
    cal = tmp_path / "cal.json"
    result = runner.invoke(app, ["calibrate", str(spec), "--out", str(cal)])
    assert result.exit_code == 0, result.output
    expected, fps = HAND_COUNTS[clip]
    out = tmp_path / "analysis"
    args = ["analyze", str(video), "--calibration", str(cal), "--detector", detector, "--model", str(model)]
    result = runner.invoke(app, [*args, "--fps", str(fps), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with (out / "lane_state.csv").open(encoding="utf-8") as handle:
        counted: dict[str, int] = defaultdict(int)
        for row in csv.DictReader(handle):
            counted[row["lane_id"]] += int(row["count"])
    total, hand = sum(counted.values()), sum(expected.values())
    assert abs(total - hand) <= 0.1 * hand, f"counted {dict(counted)}, by hand {expected}"
    # Not by luck across lanes: every lane within two vehicles of the hand count.
    assert all(abs(counted[lane] - n) <= 2 for lane, n in expected.items()), f"{dict(counted)} vs {expected}"
