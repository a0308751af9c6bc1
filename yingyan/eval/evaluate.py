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
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from yingyan.cost import StageClock
from yingyan.errors import YingyanError
from yingyan.eval.matching import Alert, Outcome, Scores, outcomes, score_alerts, truth_from_manifest
from yingyan.incidents.baseline import Baseline, learn, read_lane_state
from yingyan.incidents.engine import Incident
from yingyan.incidents.site_run import SiteRunOptions, run_site
from yingyan.perception.backends import DetectorName
from yingyan.sim.families import parse_drawn
from yingyan.sim.library import resolve_scenario
from yingyan.sim.runner import RunOptions, run_scenario
from yingyan.sim.scenario import Scenario
from yingyan.traffic.score import StateErrors, read_lane_states, score

log = logging.getLogger(__name__)

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
    fps: float = 5.0  # the analysis rate, and the rate the cameras are rendered at
    jobs: int = 2  # processes: several scenarios at once, or one scenario's cameras


@dataclass
class ScenarioResult:
    """One scenario over its seeds."""

    name: str
    scores: Scores
    state: StateErrors | None
    incidents: list[dict[str, Any]] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)  # by stage; simulate/render/truth as the run recorded them
    wall_s: float = 0.0  # this evaluation's time on the scenario (a reused run costs it nothing)
    outcomes: list[Outcome] = field(default_factory=list)  # each true incident, what became of it

    @property
    def family(self) -> str:
        """The scenario family it was drawn from, or ``library`` (built-in and files)."""
        drawn = parse_drawn(self.name)
        return drawn[0].value if drawn is not None else "library"


def history_baseline(scenario: Scenario, folder: Path, options: EvalOptions, clock: StageClock) -> Baseline:
    """The scenario's usual traffic: its road and demand on other days, without incidents, learnt."""
    quiet = scenario.model_copy(update={"incidents": []})
    runs = []
    for seed in options.history_seeds:
        run = folder / f"history-{seed}"
        if not (run / "manifest.json").exists():
            with clock.stage("history"):
                run_scenario(quiet, run, RunOptions(seed=seed, duration_s=options.duration_s, render=False, force=True))
        runs.append(run)
    baseline = learn(read_lane_state(runs), EVAL_START, bin_min=5)
    baseline.save(folder / "baseline.json")
    return baseline


def site_folder(seed_folder: Path, options: EvalOptions) -> Path:
    """Where one detector's run of a simulated seed goes (``site-onnx``, ``site-onnx-mymodel``): the
    simulation and its videos are shared by every detector evaluated into the same ``--out``."""
    name = f"site-{options.detector.value}" + (f"-{options.model.stem}" if options.model is not None else "")
    return seed_folder / name


def reusable(sim: Path, options: EvalOptions, scenario: Scenario) -> bool:
    """A finished run in ``sim`` rendered at the analysis rate and as long as this evaluation asks."""
    manifest_path = sim / "manifest.json"
    if not manifest_path.exists():
        return False
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    duration = options.duration_s if options.duration_s is not None else scenario.duration_s
    return math.isclose(float(manifest["duration_s"]), duration) and all(
        c.get("video") and math.isclose(float(c["fps"]), options.fps) for c in manifest["cameras"]
    )


def evaluate_scenario(
    ref: str, out: Path, options: EvalOptions, say: Callable[[str], None] = lambda _: None
) -> ScenarioResult:
    """Simulate (or reuse), run and score one scenario over the seeds of ``options``.

    The cameras are rendered at the analysis rate (``options.fps``), as a deployment analyses them:
    a frame rendered and never analysed is time spent for nothing."""
    began = time.perf_counter()
    scenario = resolve_scenario(ref)
    folder = out / scenario.name
    folder.mkdir(parents=True, exist_ok=True)
    clock = StageClock()
    say(f"{scenario.name}: history")
    history_baseline(scenario, folder, options, clock)
    total: Scores | None = None
    truth_rows: dict[tuple[str, float], dict[str, str]] = {}
    measured_rows: dict[tuple[str, float], dict[str, str]] = {}
    listed: list[dict[str, Any]] = []
    found: list[Outcome] = []
    for seed in options.seeds:
        sim = folder / f"seed-{seed}" / "sim"
        if not reusable(sim, options, scenario):
            say(f"{scenario.name} seed {seed}: simulating and rendering")
            run_scenario(
                scenario, sim,
                RunOptions(seed=seed, duration_s=options.duration_s, fps=options.fps, force=True, workers=options.jobs),
            )  # fmt: skip
        manifest = json.loads((sim / "manifest.json").read_text(encoding="utf-8"))
        made = json.loads((sim / "cost.json").read_text(encoding="utf-8")) if (sim / "cost.json").exists() else {}
        for stage, seconds in made.get("cpu_s", {}).items():
            clock.cpu_s[stage] = clock.cpu_s.get(stage, 0.0) + float(seconds)
        site_out = site_folder(folder / f"seed-{seed}", options)
        say(f"{scenario.name} seed {seed}: cameras and incident engine ({options.detector.value})")
        result = run_site(
            sim / "site.yaml",
            site_out,
            SiteRunOptions(
                detector=options.detector, model=options.model, fps=options.fps, jobs=options.jobs,
                start=EVAL_START, baseline=folder / "baseline.json", reuse=True,
            ),
        )  # fmt: skip
        for stage, seconds in result.cost.cpu_s.items():
            clock.cpu_s[stage] = clock.cpu_s.get(stage, 0.0) + seconds
        duration = float(manifest["duration_s"])
        cameras = len(manifest["cameras"])
        alerts, truths = incident_alerts(result.incidents), truth_from_manifest(manifest)
        for item in manifest.get("incidents", []):
            if item.get("start_s") is None:
                log.warning(
                    "%s seed %s: incident %s (%s at %.0f m) did not take place in the simulation; the run is "
                    "scored without it", scenario.name, seed, item.get("id"), item.get("type"),
                    item.get("position_m", 0.0),
                )  # fmt: skip
        scores = score_alerts(alerts, truths, cameras * duration / 3600.0, duration)
        found += outcomes(alerts, truths, duration)
        total = scores if total is None else total + scores
        truth_rows |= {(f"{seed}:{k[0]}", k[1]): v for k, v in read_lane_states(sim / "cameras").items()}
        measured_rows |= {(f"{seed}:{k[0]}", k[1]): v for k, v in read_lane_states(site_out / "cameras").items()}
        listed += [{"seed": seed, **i.to_json()} for i in result.incidents]
    assert total is not None
    state = score(truth_rows, measured_rows)[0] if truth_rows and measured_rows else None
    cpu = {k: round(v, 3) for k, v in clock.cpu_s.items()}
    return ScenarioResult(scenario.name, total, state, listed, cpu, round(time.perf_counter() - began, 3), found)


def _evaluate_each(ref: str, out: Path, variants: list[EvalOptions]) -> list[ScenarioResult]:
    """One scenario under each options variant (detectors), one after another: the first simulates and
    renders it, the others reuse its videos."""
    return [evaluate_scenario(ref, out, options) for options in variants]


def evaluate_all(
    runs: list[tuple[str, EvalOptions]],
    out: Path,
    jobs: int,
    detectors: tuple[DetectorName, ...] = (),
    say: Callable[[str], None] = lambda _: None,
    done: Callable[[int, list[ScenarioResult]], None] = lambda *_: None,
) -> list[list[ScenarioResult]]:
    """Evaluate every (scenario, options) of ``runs``, once per detector of ``detectors`` (default: the
    options' own), and return, per run in its order, one result per detector. With several runs and
    ``jobs`` > 1, ``jobs`` scenarios at once, each in its own process with one core (its cameras one
    after another), so that the cores stay busy through the single-threaded stages (SUMO, the engine)
    too. ``done(index, results)`` is called as each run finishes."""

    def variants(options: EvalOptions, one_core: bool) -> list[EvalOptions]:
        base = replace(options, jobs=1) if one_core else options
        return [replace(base, detector=d) for d in detectors] if detectors else [base]

    if jobs <= 1 or len(runs) <= 1:
        results = []
        for index, (ref, options) in enumerate(runs):
            results.append([evaluate_scenario(ref, out, v, say) for v in variants(options, False)])
            done(index, results[-1])
        return results
    placed: dict[Future[list[ScenarioResult]], int] = {}
    found: dict[int, list[ScenarioResult]] = {}
    with ProcessPoolExecutor(max_workers=min(jobs, len(runs)), mp_context=get_context("spawn")) as pool:
        for index, (ref, options) in enumerate(runs):
            placed[pool.submit(_evaluate_each, ref, out, variants(options, True))] = index
        for future in as_completed(placed):
            index = placed[future]
            try:
                found[index] = future.result()
            except Exception as error:
                for waiting in placed:  # the scenarios not begun are not begun; those running finish
                    waiting.cancel()
                ref = runs[index][0]
                if isinstance(error, YingyanError):
                    raise YingyanError(f"{ref}: {error}") from error
                raise
            say(f"{found[index][0].name}: done")
            done(index, found[index])
    return [found[i] for i in range(len(runs))]


def incident_alerts(incidents: list[Incident]) -> list[Alert]:
    """The alerted incidents as alerts to match: placed at their source, named by their cause."""
    alerts = []
    for i in incidents:
        if i.alert_s is None:
            continue
        position = i.source_position_m if i.source_position_m is not None else math.nan
        alerts.append(Alert(i.source_camera_id or "", i.cause, position, i.start_s, i.alert_s, i.source_segment))
    return alerts


def by_family(results: list[ScenarioResult]) -> dict[str, dict[str, float | int]]:
    """The measures over each family's scenarios (``library`` for built-in ones and files)."""
    grouped: dict[str, Scores] = {}
    for r in results:
        grouped[r.family] = r.scores if r.family not in grouped else grouped[r.family] + r.scores
    return {family: scores.as_dict() for family, scores in grouped.items()}


def by_kind(results: list[ScenarioResult]) -> dict[str, dict[str, float | int | None]]:
    """The measures per kind of incident (``stall in view``, ``crash unseen`` …)."""
    groups: dict[str, list[Outcome]] = {}
    for o in (o for r in results for o in r.outcomes):
        groups.setdefault(o.kind, []).append(o)
    table: dict[str, dict[str, float | int | None]] = {}
    for kind in sorted(groups):
        found = [o for o in groups[kind] if o.detected]
        ttd = [o.ttd_s for o in found if o.ttd_s is not None]
        onset = [o.onset_error_s for o in found if o.onset_error_s is not None]
        table[kind] = {
            "incidents": len(groups[kind]),
            "detected": len(found),
            "ttd_median_s": round(float(np.median(ttd)), 1) if ttd else None,
            "onset_rmse_s": round(float(np.sqrt(np.mean(np.square(onset)))), 1) if onset else None,
            "cause_right": sum(o.cause_right for o in found),
            "source_right": sum(o.source_right for o in found),
        }
    return table


def cost_of(results: list[ScenarioResult], wall_s: float | None = None) -> dict[str, Any]:
    """CPU seconds by stage over ``results``, per camera-hour of video too, and the wall time if given.

    The stages: ``history`` (the baselines' simulations), ``simulate`` (SUMO and trajectories),
    ``render`` (drawing and encoding every camera), ``truth`` (ground truth from the trajectories),
    ``analyse`` (the camera pipelines) and ``engine`` (the incident engine)."""
    cpu: dict[str, float] = {}
    for r in results:
        for stage, seconds in r.cpu_s.items():
            cpu[stage] = cpu.get(stage, 0.0) + seconds
    hours = sum(r.scores.camera_hours for r in results)
    order = [s for s in ("history", "simulate", "render", "truth", "analyse", "engine") if s in cpu]
    cpu = {s: round(cpu[s], 1) for s in order + sorted(set(cpu) - set(order))}
    return {
        "camera_hours": round(hours, 3),
        "cpu_s": cpu,
        "cpu_s_total": round(sum(cpu.values()), 1),
        "cpu_s_per_camera_hour": {s: round(v / hours, 1) for s, v in cpu.items()} if hours else {},
        "wall_s": None if wall_s is None else round(wall_s, 1),
    }


def write_report(
    results: list[ScenarioResult],
    out: Path,
    options: EvalOptions,
    wall_s: float | None = None,
    stem: str = "report",
    pending: int = 0,
) -> dict[str, Any]:
    """``STEM.json`` and ``STEM.md`` in ``out``; returns the JSON report. ``pending``: scenarios still
    running (a report written while an evaluation goes on says so)."""
    total: Scores | None = None
    for r in results:
        total = r.scores if total is None else total + r.scores
    report: dict[str, Any] = {
        "format": "yingyan.eval/1",
        "detector": options.detector.value,
        "fps": options.fps,
        "seeds": list(options.seeds),
        "history_seeds": list(options.history_seeds),
        "complete": pending == 0,
        "scenarios_pending": pending,
        "scenarios": {r.name: _scenario_json(r) for r in results},
        "overall": total.as_dict() if total is not None else {},
        "by_family": by_family(results),
        "by_kind": by_kind(results),
        "cost": cost_of(results, wall_s),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(_clean(report), indent=2, ensure_ascii=False), encoding="utf-8")
    (out / f"{stem}.md").write_text(_markdown(results, report, options), encoding="utf-8")
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
        *([f"**Partial: {report['scenarios_pending']} scenarios still running when this was written.**", ""]
          if report["scenarios_pending"] else []),
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
    lines += ["", "## By family", "", "| family | " + " | ".join(MEASURES) + " |",
              "| --- | " + " | ".join("---" for _ in MEASURES) + " |"]  # fmt: skip
    for family, d in report["by_family"].items():
        lines.append(f"| {family} | " + " | ".join(_cell(d[m]) for m in MEASURES) + " |")
    lines += ["", "## By kind of incident", "",
              "| kind | incidents | detected | TTD median s | onset RMSE s | cause right | source right |",
              "| --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for kind, d in report["by_kind"].items():
        cells = ("incidents", "detected", "ttd_median_s", "onset_rmse_s", "cause_right", "source_right")
        lines.append(f"| {kind} | " + " | ".join(_cell(d[c]) for c in cells) + " |")
    cost = report["cost"]
    lines += ["", "## What it cost", "",
              f"{cost['camera_hours']:g} camera-hours of video; CPU seconds by stage (a run reused from an earlier "
              f"evaluation counts what it cost when it was made); wall time {_cell(cost['wall_s'])} s.", "",
              "| stage | CPU s | CPU s per camera-hour |", "| --- | --- | --- |"]  # fmt: skip
    for stage, seconds in cost["cpu_s"].items():
        lines.append(f"| {stage} | {seconds:g} | {_cell(cost['cpu_s_per_camera_hour'].get(stage))} |")
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
