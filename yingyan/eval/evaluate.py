"""``yingyan eval``: simulate scenarios, run the whole pipeline on their videos, score the incidents.

For each scenario and seed: the run is simulated into ``OUT/<scenario>/seed-<n>/sim`` (reused
when it is there), its *history* — the same road and demand on other days (other seeds), with
no incident, not rendered — is simulated and learnt into a baseline, then every camera and
the incident engine run as ``yingyan run`` does into ``OUT/<scenario>/seed-<n>/site``. The
incidents are matched to the run's ground truth by place and time (``matching``) and the
lane states scored against the true ones. ``report.json`` and ``report.md`` hold DESIGN.md's
measures per scenario and over all.

Stream second 0 of every simulated run is :data:`EVAL_START` local time, a workday's evening
peak, so that history and run fall in the same baseline bins.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from yingyan.eval.matching import Alert, Scores, score_alerts, truth_from_manifest
from yingyan.incidents.baseline import Baseline, learn, read_lane_state
from yingyan.incidents.engine import Incident
from yingyan.incidents.site_run import SiteRunOptions, run_site
from yingyan.perception.backends import DetectorName
from yingyan.sim.library import resolve_scenario
from yingyan.sim.runner import RunOptions, run_scenario
from yingyan.sim.scenario import Scenario
from yingyan.traffic.score import StateErrors, read_lane_states, score

EVAL_START = datetime(2026, 11, 23, 17, 30)  # Monday 17:30: stream second 0 of every evaluated run
SUMMARY = (
    "incidents",
    "detected",
    "false_alarms_per_camera_hour",
    "ttd_median_s",
    "onset_rmse_s",
    "cause_accuracy",
    "source_top1",
    "source_position_error_m",
)  # fmt: skip: the columns the command line prints
MEASURES = (
    "incidents", "detected", "alerts", "false_alarms", "camera_hours", "detection_rate",
    "false_alarms_per_camera_hour", "ttd_median_s", "ttd_p90_s", "onset_rmse_s", "s4", "cause_accuracy",
    "source_top1", "source_position_error_m",
)  # fmt: skip


@dataclass(frozen=True)
class EvalOptions:
    """What to evaluate and how."""

    seeds: tuple[int, ...] = (1,)
    history_seeds: tuple[int, ...] = (101, 102)
    duration_s: float | None = None  # default: each scenario's own
    detector: DetectorName = DetectorName.MOTION
    model: Path | None = None
    fps: float = 5.0
    jobs: int = 2


@dataclass
class ScenarioResult:
    """One scenario over its seeds."""

    name: str
    scores: Scores
    state: StateErrors | None
    incidents: list[dict[str, Any]] = field(default_factory=list)


def history_baseline(scenario: Scenario, folder: Path, options: EvalOptions) -> Baseline:
    """The scenario's usual traffic: its road and demand on other days, without incidents, learnt."""
    quiet = scenario.model_copy(update={"incidents": []})
    runs = []
    for seed in options.history_seeds:
        run = folder / f"history-{seed}"
        if not (run / "manifest.json").exists():
            run_scenario(quiet, run, RunOptions(seed=seed, duration_s=options.duration_s, render=False, force=True))
        runs.append(run)
    baseline = learn(read_lane_state(runs), EVAL_START, bin_min=5)
    baseline.save(folder / "baseline.json")
    return baseline


def evaluate_scenario(
    ref: str, out: Path, options: EvalOptions, say: Callable[[str], None] = lambda _: None
) -> ScenarioResult:
    """Simulate (or reuse), run and score one scenario over the seeds of ``options``."""
    scenario = resolve_scenario(ref)
    folder = out / scenario.name
    folder.mkdir(parents=True, exist_ok=True)
    say(f"{scenario.name}: history")
    history_baseline(scenario, folder, options)
    total: Scores | None = None
    truth_rows: dict[tuple[str, float], dict[str, str]] = {}
    measured_rows: dict[tuple[str, float], dict[str, str]] = {}
    listed: list[dict[str, Any]] = []
    for seed in options.seeds:
        sim = folder / f"seed-{seed}" / "sim"
        if not (sim / "manifest.json").exists():
            say(f"{scenario.name} seed {seed}: simulating and rendering")
            run_scenario(scenario, sim, RunOptions(seed=seed, duration_s=options.duration_s, force=True))
        site_out = folder / f"seed-{seed}" / "site"
        say(f"{scenario.name} seed {seed}: cameras and incident engine")
        result = run_site(
            sim / "site.yaml",
            site_out,
            SiteRunOptions(
                detector=options.detector, model=options.model, fps=options.fps, jobs=options.jobs,
                start=EVAL_START, baseline=folder / "baseline.json", reuse=True,
            ),
        )  # fmt: skip
        manifest = json.loads((sim / "manifest.json").read_text(encoding="utf-8"))
        duration = float(manifest["duration_s"])
        cameras = len(manifest["cameras"])
        scores = score_alerts(
            incident_alerts(result.incidents), truth_from_manifest(manifest), cameras * duration / 3600.0, duration
        )
        total = scores if total is None else total + scores
        truth_rows |= {(f"{seed}:{k[0]}", k[1]): v for k, v in read_lane_states(sim / "cameras").items()}
        measured_rows |= {(f"{seed}:{k[0]}", k[1]): v for k, v in read_lane_states(site_out / "cameras").items()}
        listed += [{"seed": seed, **i.to_json()} for i in result.incidents]
    assert total is not None
    state = score(truth_rows, measured_rows)[0] if truth_rows and measured_rows else None
    return ScenarioResult(scenario.name, total, state, listed)


def incident_alerts(incidents: list[Incident]) -> list[Alert]:
    """The alerted incidents as alerts to match: placed at their source, named by their cause."""
    alerts = []
    for i in incidents:
        if i.alert_s is None:
            continue
        position = i.source_position_m if i.source_position_m is not None else math.nan
        alerts.append(Alert(i.source_camera_id or "", i.cause, position, i.start_s, i.alert_s, i.source_segment))
    return alerts


def write_report(results: list[ScenarioResult], out: Path, options: EvalOptions) -> dict[str, Any]:
    """``report.json`` and ``report.md`` in ``out``; returns the JSON report."""
    total: Scores | None = None
    for r in results:
        total = r.scores if total is None else total + r.scores
    report: dict[str, Any] = {
        "format": "yingyan.eval/1",
        "detector": options.detector.value,
        "fps": options.fps,
        "seeds": list(options.seeds),
        "history_seeds": list(options.history_seeds),
        "scenarios": {r.name: _scenario_json(r) for r in results},
        "overall": total.as_dict() if total is not None else {},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(_clean(report), indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "report.md").write_text(_markdown(results, report, options), encoding="utf-8")
    return report


def _scenario_json(r: ScenarioResult) -> dict[str, Any]:
    return {**r.scores.as_dict(), "traffic_state": r.state.as_dict() if r.state else None, "found": r.incidents}


def _clean(value: Any) -> Any:
    """NaN as null (JSON has no NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _markdown(results: list[ScenarioResult], report: dict[str, Any], options: EvalOptions) -> str:
    heads = ["scenario", *MEASURES]
    lines = [
        "# Yingyan evaluation",
        "",
        f"Detector `{options.detector.value}` at {options.fps:g} fps; seeds {list(options.seeds)}; "
        f"baselines from history seeds {list(options.history_seeds)}. Measures as DESIGN.md defines them.",
        "",
        "| " + " | ".join(heads) + " |",
        "| " + " | ".join("---" for _ in heads) + " |",
    ]
    for r in results:
        d = r.scores.as_dict()
        lines.append("| " + " | ".join([r.name, *(_cell(d[m]) for m in MEASURES)]) + " |")
    if results:
        d = report["overall"]
        lines.append("| " + " | ".join(["**all**", *(f"**{_cell(d[m])}**" for m in MEASURES)]) + " |")
    lines += ["", "## Traffic state against ground truth", "",
              "| scenario | lane-intervals | count error % | speed MAE km/h | queue MAE m | occupancy error pts |",
              "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in results:
        if r.state is not None:
            s = r.state
            lines.append(
                f"| {r.name} | {s.intervals} | {s.count_error_pct:.1f} | {s.speed_mae_kmh:.2f} | "
                f"{s.queue_mae_m:.1f} | {s.occupancy_mae_pts:.2f} |"
            )
    lines += ["", "## Incidents", "", "| scenario | seed | id | cause | abnormal | source | position m | start s | "
              "alert s | end s | cameras | severity |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | "
              "--- | --- |"]  # fmt: skip
    for r in results:
        for i in r.incidents:
            lines.append(
                f"| {r.name} | {i['seed']} | {i['id']} | {i['cause']} | {'yes' if i['abnormal'] else 'no'} | "
                f"{i['source_segment']} | {_cell(i['source_position_m'])} | {_cell(i['start_s'])} | "
                f"{_cell(i['alert_s'])} | {_cell(i['end_s'])} | {', '.join(i['camera_ids'])} | {i['severity']} |"
            )
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:g}" if isinstance(value, float) else str(value)
