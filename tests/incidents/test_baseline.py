"""The baseline: usual speed by time of day, robust to an odd day; recurrent peaks are not abnormal."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from yingyan.cli import app
from yingyan.incidents.baseline import Baseline, cold_start, learn
from yingyan.traffic.levels import RoadClass

runner = CliRunner()
MONDAY_0600 = datetime(2026, 11, 23, 6, 0)


def _history(days: int = 5, odd_day: int | None = 2) -> list[dict[str, str]]:
    """Five workdays of one lane from 06:00 to 12:00: a morning peak 07:30-09:00 at 18 km/h, else 52.

    On ``odd_day`` a breakdown slowed 10:00-10:30 to 8 km/h (one odd day must not move the baseline).
    """
    rows = []
    for day in range(days):
        for k in range(6 * 60):  # one-minute intervals
            minute = 6 * 60 + k
            speed = 18.0 if 7 * 60 + 30 <= minute < 9 * 60 else 52.0
            if day == odd_day and 10 * 60 <= minute < 10 * 60 + 30:
                speed = 8.0
            speed += ((k * 7 + day * 3) % 5) - 2  # a little scatter
            rows.append({
                "camera_id": "K1", "lane_id": "K1-L2", "interval_start_s": str(day * 86400 + k * 60),
                "speed_space_mean_kmh": str(speed), "occupancy_pct": "30" if speed < 30 else "8",
                "flow_vph": "1500" if speed < 30 else "700",
            })  # fmt: skip
    return rows


def test_the_usual_speed_follows_the_time_of_day() -> None:
    baseline = learn(_history(), MONDAY_0600)
    peak = baseline.expected("K1", "K1-L2", datetime(2026, 11, 27, 8, 10), RoadClass.ARTERIAL)
    midday = baseline.expected("K1", "K1-L2", datetime(2026, 11, 27, 11, 20), RoadClass.ARTERIAL)
    assert peak.source == "history" and abs(peak.speed_kmh - 18.0) <= 1.0
    assert abs(midday.speed_kmh - 52.0) <= 1.0
    # The recurrent peak is no departure; the same speed at midday is.
    assert not peak.departs(17.0)
    assert midday.departs(17.0)


def test_one_odd_day_does_not_move_the_baseline() -> None:
    baseline = learn(_history(odd_day=2), MONDAY_0600)
    usual = baseline.expected("K1", "K1-L2", datetime(2026, 11, 27, 10, 10), RoadClass.ARTERIAL)
    assert abs(usual.speed_kmh - 52.0) <= 1.0 and usual.speed_spread_kmh < 3.0
    assert usual.departs(8.0)


def test_without_history_the_road_class_gives_a_cold_start() -> None:
    baseline = learn(_history(), MONDAY_0600)
    weekend = baseline.expected("K1", "K1-L2", datetime(2026, 11, 28, 8, 10), RoadClass.ARTERIAL)  # a Saturday
    other = baseline.expected("K9", "K9-L1", datetime(2026, 11, 27, 8, 10), RoadClass.EXPRESSWAY)
    assert weekend == cold_start(RoadClass.ARTERIAL) and weekend.speed_kmh == 40.0
    assert other.source == "road_class" and other.speed_kmh == 65.0
    assert weekend.departs(15.0) and not weekend.departs(35.0)


def test_baseline_learn_from_lane_state_files(tmp_path: Path) -> None:
    history = tmp_path / "runs" / "cameras" / "K1"
    history.mkdir(parents=True)
    rows = _history()
    with (history / "lane_state.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "baseline.json"
    result = runner.invoke(
        app, ["baseline", "learn", str(tmp_path / "runs"), "--start", "2026-11-23T06:00", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    baseline = Baseline.load(out)
    assert abs(baseline.expected("K1", "K1-L2", datetime(2026, 11, 24, 8, 0), RoadClass.ARTERIAL).speed_kmh - 18) <= 1
    bad = runner.invoke(app, ["baseline", "learn", str(tmp_path / "runs"), "--start", "Monday", "--out", str(out)])
    assert bad.exit_code == 2 and "--start 'Monday'" in bad.output
    empty = tmp_path / "empty"
    empty.mkdir()
    none = runner.invoke(app, ["baseline", "learn", str(empty), "--start", "2026-11-23T06:00", "--out", str(out)])
    assert none.exit_code == 2 and "no lane_state.csv" in none.output
