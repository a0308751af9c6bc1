"""`yingyan eval --labels`: events on real clips against hand labels; parked cars at a kerb set as parking are quiet."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from tests.conftest import shared_or_skip
from yingyan.calibration import CameraCalibration
from yingyan.cli import app
from yingyan.eval.labels import Label, LaneCount, match_counts, match_labels
from yingyan.incidents import Event, EventType
from yingyan.perception.backends import SHIPPED_MODEL

DATA = Path(__file__).resolve().parents[1] / "data" / "real_clips"
runner = CliRunner()


def _identity() -> CameraCalibration:
    road = [[0.0, 0.0], [100.0, 0.0], [100.0, 10.0], [0.0, 10.0]]
    return CameraCalibration.model_validate({
        "camera_id": "C", "image_size": [640, 360], "homography": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        "lanes": [{"id": "C-L1", "number": 1, "direction": "forward", "travel": [1, 0], "polygon_road": road,
                   "polygon_image": road}],
    })  # fmt: skip


def _event(kind: EventType, x: float, alert: float) -> Event:
    return Event(f"e{x}{alert}", kind, "C", "C-L1", alert - 10, alert, (x, 5.0))


def test_an_event_matches_a_label_of_its_type_in_its_region_and_time() -> None:
    label = Label(type=EventType.STOPPED_VEHICLE, start_s=20, end_s=60, region=[(40, 0), (60, 0), (60, 10), (40, 10)])
    events = [
        _event(EventType.STOPPED_VEHICLE, 50, 32),  # the labelled stop: detected 12 s after it began
        _event(EventType.STOPPED_VEHICLE, 51, 40),  # the same again: a duplicate, not false
        _event(EventType.STOPPED_VEHICLE, 90, 35),  # elsewhere: false
        _event(EventType.WRONG_WAY, 50, 35),  # another type: false
        _event(EventType.STOPPED_VEHICLE, 50, 90),  # long after: false
    ]
    scores = match_labels(events, [label], _identity(), slack_s=10)
    assert scores["detected"] == 1 and scores["ttd_median_s"] == 12.0
    assert scores["false_alarms"] == 3 and scores["alerts"] == 5


def test_parked_cars_raise_no_stopped_vehicle_once_the_kerbs_are_parking(tmp_path: Path) -> None:
    """residential_parked.mp4 with its kerbs as parking zones: no event. Without them, the kerb lanes
    are travel lanes and the car at the head of the parked row is taken for a stopped vehicle."""
    video = shared_or_skip("videos", "residential_parked.mp4")
    model = SHIPPED_MODEL
    result = runner.invoke(app, ["eval", "--labels", str(DATA / "labels.yaml"), "--out", str(tmp_path / "parking")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "parking" / "report.json").read_text(encoding="utf-8"))
    assert report["clips"]["residential_parked"]["false_alarms"] == 0
    # The same clip with the parking zones taken out of the calibration.
    calibration = json.loads((tmp_path / "parking" / "residential_parked" / "calibration.json").read_text())
    calibration["zones"] = []
    (tmp_path / "cal.json").write_text(json.dumps(calibration), encoding="utf-8")
    labels = {
        "clips": [{"name": "no_parking_zones", "source": str(video), "calibration": "cal.json", "model": str(model),
                   "labels": []}],
    }  # fmt: skip
    (tmp_path / "labels.yaml").write_text(yaml.safe_dump(labels), encoding="utf-8")
    result = runner.invoke(app, ["eval", "--labels", str(tmp_path / "labels.yaml"), "--out", str(tmp_path / "kerb")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "kerb" / "report.json").read_text(encoding="utf-8"))
    false = report["clips"]["no_parking_zones"]["false_alarm_events"]
    assert false and {e["type"] for e in false} == {"stopped_vehicle"}


def test_lane_counts_are_summed_over_the_clip_and_compared_lane_by_lane(tmp_path: Path) -> None:
    state = tmp_path / "lane_state.csv"
    state.write_text("camera_id,lane_id,count\nC,C-L1,3\nC,C-L2,1\nC,C-L1,4\nC,C-L3,9\n", encoding="utf-8")
    scored = match_counts(state, [LaneCount(lane_id="C-L1", vehicles=8), LaneCount(lane_id="C-L2", vehicles=0)])
    assert scored["lanes"] == {"C-L1": {"labelled": 8, "measured": 7}, "C-L2": {"labelled": 0, "measured": 1}}
    assert (scored["labelled"], scored["measured"]) == (8, 8)  # a lane nobody labelled is not scored
    assert scored["count_error_pct"] == 25.0  # one missed in L1, one too many in L2: both count


def test_every_clip_in_the_label_file_is_counted_and_one_detector_can_run_them_all(tmp_path: Path) -> None:
    shared_or_skip("videos", "urban_multilane_dusk.mp4")
    labels = yaml.safe_load((DATA / "labels.yaml").read_text(encoding="utf-8"))
    for clip in labels["clips"]:
        clip["source"] = str((DATA / clip["source"]).resolve())
        clip["calibration"] = str((DATA / clip["calibration"]).resolve())
    labels["clips"] = [c for c in labels["clips"] if c["name"] == "urban_multilane_dusk"]
    (tmp_path / "labels.yaml").write_text(yaml.safe_dump(labels), encoding="utf-8")
    out = tmp_path / "motion"
    result = runner.invoke(
        app, ["eval", "--labels", str(tmp_path / "labels.yaml"), "--detector", "motion", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    row = json.loads((out / "report.json").read_text(encoding="utf-8"))["clips"]["urban_multilane_dusk"]
    assert row["detector"] == "motion" and row["counts"]["labelled"] == 22
    assert set(row["counts"]["lanes"]) == {"URBAN-E1", "URBAN-E2", "URBAN-E3", "URBAN-W1", "URBAN-W2"}
    assert "| urban_multilane_dusk | motion |" in (out / "report.md").read_text(encoding="utf-8")
