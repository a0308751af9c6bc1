"""`yingyan detect` end to end on a simulated camera: the illegally parked car is one event with its evidence."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from tests.conftest import load_manifest
from yingyan.cli import app

runner = CliRunner()


def test_the_car_parked_in_the_no_parking_zone_is_one_illegal_parking_event(
    parking_rendered: Path, tmp_path: Path
) -> None:
    (incident,) = load_manifest(parking_rendered)["incidents"]
    camera = parking_rendered / "cameras" / "K2"
    rules = tmp_path / "rules.yaml"
    rules.write_text("parking_dwell_s: 60\n", encoding="utf-8")
    out = tmp_path / "detect"
    args = ["detect", str(camera / "video.mp4"), "--calibration", str(camera / "calibration.json")]
    result = runner.invoke(app, [*args, "--rules", str(rules), "--out", str(out)])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in (out / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    # One event, nothing else: not the traffic squeezing past, not the queue behind a bus.
    assert [e["type"] for e in events] == ["illegal_parking"]
    (event,) = events
    assert abs(event["position_m"][0] - incident["position_m"]) < 8.0
    assert abs(event["start_s"] - incident["start_s"]) <= 2.0  # when it came to rest
    assert 60.0 <= event["alert_s"] - event["start_s"] <= 70.0 and event["end_s"] is None  # the dwell, after hand-over
    snapshot, clip = out / event["evidence"]["snapshot"], out / event["evidence"]["clip"]
    assert snapshot.stat().st_size > 10_000
    with av.open(str(clip)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 40  # 5 s before and 5 s after the alert, at 5 fps
    # One incident of that cause, alerted when the event was, its evidence the event's.
    (found,) = [json.loads(line) for line in (out / "incidents.jsonl").read_text(encoding="utf-8").splitlines()]
    assert found["cause"] == "illegal_parking" and found["abnormal"] and found["alert_s"] == event["alert_s"]
    assert found["source_camera_id"] == "K2" and found["event_ids"] == [event["id"]]
    assert found["source_position_m"] is None  # one camera: no place on a network
    assert (out / found["evidence"]["snapshot"]).exists()


def test_a_broken_rules_file_is_named_with_its_field(parking_rendered: Path, tmp_path: Path) -> None:
    camera = parking_rendered / "cameras" / "K2"
    rules = tmp_path / "rules.yaml"
    rules.write_text("stopped_dwell_s: 2\nmystery: 1\n", encoding="utf-8")
    args = ["detect", str(camera / "video.mp4"), "--calibration", str(camera / "calibration.json")]
    result = runner.invoke(app, [*args, "--rules", str(rules), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "rules.yaml" in result.output and "stopped_dwell_s" in result.output and "mystery" in result.output
    assert not (tmp_path / "o").exists()  # nothing analysed with rules that are wrong


@pytest.mark.parametrize("missing", ["video", "calibration"])
def test_a_missing_input_is_named(parking_rendered: Path, tmp_path: Path, missing: str) -> None:
    camera = parking_rendered / "cameras" / "K2"
    video = camera / "video.mp4" if missing != "video" else tmp_path / "none.mp4"
    cal = camera / "calibration.json" if missing != "calibration" else tmp_path / "none.json"
    result = runner.invoke(app, ["detect", str(video), "--calibration", str(cal), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "none." in result.output
