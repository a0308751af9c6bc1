"""End to end on a short simulated run: `yingyan eval` scores the incident found, `yingyan run` finds it
from the site file alone, with its evidence."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from yingyan.cli import app

runner = CliRunner()


def test_eval_detects_the_stall_at_its_camera_in_seconds_and_raises_nothing_else(short_stall_eval: Path) -> None:
    evaluated = short_stall_eval
    report = json.loads((evaluated / "report.json").read_text(encoding="utf-8"))
    overall = report["overall"]
    assert overall["incidents"] == 1 and overall["detected"] == 1 and overall["false_alarms"] == 0
    assert overall["cause_accuracy"] == 1.0 and overall["source_top1"] == 1.0
    assert overall["ttd_median_s"] <= 25.0 and abs(overall["onset_rmse_s"]) <= 15.0
    assert overall["source_position_error_m"] <= 15.0
    state = report["scenarios"]["short-stall"]["traffic_state"]
    assert state["count_error_pct"] <= 15.0 and state["speed_mae_kmh"] <= 8.0
    markdown = (evaluated / "report.md").read_text(encoding="utf-8")
    assert "| short-stall | 1 | 1 |" in markdown and "stopped_vehicle" in markdown


def test_run_finds_the_incident_from_the_site_file_with_its_evidence(short_stall_eval: Path, tmp_path: Path) -> None:
    site = short_stall_eval / "short-stall" / "seed-1" / "sim" / "site.yaml"
    result = runner.invoke(app, ["run", str(site), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "incidents.jsonl").read_text(encoding="utf-8").splitlines()
    alerted = [i for i in map(json.loads, lines) if i["alert_s"] is not None]
    assert len(alerted) == 1
    (incident,) = alerted
    assert incident["cause"] == "stopped_vehicle" and incident["abnormal"] and incident["source_camera_id"] == "K2"
    assert 140.0 <= incident["start_s"] <= 160.0 and incident["alert_s"] - incident["start_s"] >= 9.0
    for path in incident["evidence"].values():
        assert (tmp_path / path).stat().st_size > 1000
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    assert set(incident["event_ids"]) <= {e["id"] for e in events}


def test_run_names_the_broken_site_file(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text("name: x\ncameras:\n  - {id: K1, source: a.mp4, calibration: a.json, speed: 3}\n", encoding="utf-8")
    result = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "cameras.0.speed" in result.output
