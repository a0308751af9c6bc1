"""End to end on a short simulated run: `yingyan eval` scores the incident found, `yingyan run` finds it
from the site file alone, with its evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import SHORT_STALL
from yingyan.cli import app
from yingyan.eval.evaluate import EvalOptions, reusable
from yingyan.sim.library import resolve_scenario

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


def test_scenarios_run_in_parallel_rendered_once_at_the_analysis_rate_and_analysed_by_each_detector(
    tmp_path: Path,
) -> None:
    data = {**yaml.safe_load(SHORT_STALL.read_text(encoding="utf-8")), "incidents": []}  # 40 s: before the stall
    for cp in data["checkpoints"]:
        cp["fps"] = 10  # a camera filmed at 10 fps: the evaluation renders the 5 it analyses
    files = [tmp_path / "short-stall.yaml", tmp_path / "short-stall-b.yaml"]
    for file in files:
        file.write_text(yaml.safe_dump({**data, "name": file.stem}), encoding="utf-8")
    out = tmp_path / "eval"
    args = ["eval", *map(str, files), "--duration", "40", "--detectors", "motion,onnx", "--jobs", "2"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    for detector in ("motion", "onnx"):
        report = json.loads((out / f"report-{detector}.json").read_text(encoding="utf-8"))
        assert report["detector"] == detector and report["complete"] and report["scenarios_pending"] == 0
        assert list(report["scenarios"]) == ["short-stall", "short-stall-b"]  # in the order asked
        cost = report["cost"]
        assert cost["camera_hours"] == pytest.approx(4 * 40 / 3600, abs=1e-3)
        assert cost["cpu_s"]["render"] > 0 and cost["cpu_s"]["analyse"] > 0
        per_hour = cost["cpu_s"]["render"] / (4 * 40 / 3600)
        assert cost["cpu_s_per_camera_hour"]["render"] == pytest.approx(per_hour, rel=0.01)
    for name in ("short-stall", "short-stall-b"):
        seed = out / name / "seed-1"
        assert sorted(p.name for p in seed.iterdir()) == ["sim", "site-motion", "site-onnx"]
        manifest = json.loads((seed / "sim" / "manifest.json").read_text(encoding="utf-8"))
        assert {c["fps"] for c in manifest["cameras"]} == {5.0}
        assert (seed / "site-onnx" / "cameras" / "K2" / "lane_state.csv").exists()


def test_a_run_rendered_at_another_rate_or_length_is_made_again(tmp_path: Path) -> None:
    scenario = resolve_scenario(str(SHORT_STALL))
    sim = tmp_path / "sim"
    sim.mkdir()
    manifest = {"duration_s": 240.0, "cameras": [{"id": "K1", "fps": 10.0, "video": "cameras/K1/video.mp4"}]}
    (sim / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert not reusable(sim, EvalOptions(fps=5.0), scenario)
    assert reusable(sim, EvalOptions(fps=10.0), scenario)
    assert not reusable(sim, EvalOptions(fps=10.0, duration_s=60.0), scenario)
    manifest["cameras"][0]["video"] = None  # simulated without video
    (sim / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert not reusable(sim, EvalOptions(fps=10.0), scenario)


def test_a_broken_scenario_stops_the_evaluation_with_its_name_and_the_rest_not_begun(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nduration_s: -5\n", encoding="utf-8")
    args = ["eval", str(broken), str(broken), str(broken), "--jobs", "2", "--out", str(tmp_path / "eval")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert str(broken) in result.output and "duration_s" in result.output
