"""`yingyan analyze` and `yingyan score-state` end to end on a simulator run."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from yingyan.cli import app
from yingyan.traffic.score import read_lane_states, score

runner = CliRunner()


@pytest.fixture(scope="module")
def analysed(parking_rendered: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("analysis") / "K1"
    cam = parking_rendered / "cameras" / "K1"
    result = runner.invoke(
        app,
        [
            "analyze",
            str(cam / "video.mp4"),
            "--calibration",
            str(cam / "calibration.json"),
            "--out",
            str(out),
            "--render",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_lane_state_matches_the_ground_truth_layout_and_is_close(parking_rendered: Path, analysed: Path) -> None:
    truth = read_lane_states(parking_rendered / "cameras" / "K1")
    measured = read_lane_states(analysed)
    assert set(measured) == set(truth)  # same lanes, same intervals
    overall, per_lane = score(truth, measured)
    assert set(per_lane) == {"K1-L1", "K1-L2"}
    assert overall.true_count > 50
    # Free-flowing traffic at 5 fps with the motion detector (figures in bench/README.md).
    assert overall.count_error_pct < 40.0
    assert overall.speed_mae_kmh < 10.0
    assert overall.occupancy_mae_pts < 5.0


def test_tracks_and_overlay_cover_every_analysed_frame(analysed: Path) -> None:
    lines = (analysed / "tracks.jsonl").read_text().splitlines()
    assert len(lines) == 1200  # 240 s at 5 fps
    first = [json.loads(line) for line in lines[100:110]]
    assert all(r["t_s"] == pytest.approx(20.0 + 0.2 * i) for i, r in enumerate(first))
    ids = {t["id"] for line in lines for t in json.loads(line)["tracks"]}
    assert len(ids) > 50 and min(ids) >= 0
    with av.open(str(analysed / "overlay.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 1200


def test_score_state_cli_writes_a_report(parking_rendered: Path, analysed: Path) -> None:
    result = runner.invoke(
        app, ["score-state", str(parking_rendered / "cameras" / "K1"), str(analysed)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "overall" in result.output and "K1-L2" in result.output
    report = json.loads((analysed / "score.json").read_text())
    assert set(report["overall"]) >= {"count_error_pct", "speed_mae_kmh", "queue_mae_m", "occupancy_mae_pts"}


def test_analyze_and_score_reject_bad_input_by_name(tmp_path: Path, parking_rendered: Path) -> None:
    video = str(parking_rendered / "cameras" / "K1" / "video.mp4")
    missing = tmp_path / "nope.json"
    result = runner.invoke(app, ["analyze", video, "--calibration", str(missing), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "nope.json" in result.output
    cal = str(parking_rendered / "cameras" / "K1" / "calibration.json")
    no_model = str(tmp_path / "nope.onnx")
    result = runner.invoke(app, ["analyze", video, "--calibration", cal, "--out", str(tmp_path / "o"), "--detector",
                                 "onnx", "--model", no_model])  # fmt: skip
    assert result.exit_code == 2 and "nope.onnx" in result.output
    result = runner.invoke(
        app, ["analyze", str(tmp_path / "none.mp4"), "--calibration", cal, "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "none.mp4" in result.output
    result = runner.invoke(app, ["score-state", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 2 and "no lane_state.csv" in result.output


def test_gated_onnx_analysis_runs_end_to_end(parking_rendered: Path, tmp_path: Path) -> None:
    from yingyan.perception.backends import SHIPPED_MODEL

    model = SHIPPED_MODEL
    cam = parking_rendered / "cameras" / "K2"
    out = tmp_path / "gated"
    args = ["analyze", str(cam / "video.mp4"), "--calibration", str(cam / "calibration.json"), "--out", str(out)]
    result = runner.invoke(app, [*args, "--detector", "gated", "--model", str(model)])
    assert result.exit_code == 0, result.output
    overall, _ = score(read_lane_states(cam), read_lane_states(out))
    assert overall.intervals == 8 and overall.true_count > 0
    # Flat-shaded simulator vehicles are a poor test of a COCO network: it finds some, not all.
    assert 0 < len((out / "tracks.jsonl").read_text().splitlines())
