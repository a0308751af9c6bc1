"""What an evaluation costs: CPU seconds per camera-hour by stage, the wall time, and what the report
set of issue 17 would take on this machine (issue 17, item 7).

    .venv/bin/python bench/eval_cost.py --set smoke --detector motion --out /tmp/cost      # tuning seeds
    .venv/bin/python bench/eval_cost.py --set smoke --detector onnx --out /tmp/cost        # renders reused
    .venv/bin/python bench/eval_cost.py --from /tmp/report      # the figures of an evaluation already run

Runs ``yingyan eval --set SET`` (scenarios in parallel, ``--jobs`` processes, the cameras rendered
at the analysis rate) into ``--out``; a second detector into the same ``--out`` reuses the runs
and their videos, so its figures are the analysis and the engine alone. Prints the stages'
CPU seconds per camera-hour of video, the wall time, and the report set's camera-hours times
those figures divided over the cores: the time ``yingyan eval --set report`` would take here,
first with rendering, then with the renders reused.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from yingyan.eval.evaluate import EvalOptions, evaluate_all, write_report
from yingyan.eval.sets import scenarios_of
from yingyan.perception.backends import DetectorName
from yingyan.sim.families import generate, parse_drawn

RENDERING = ("history", "simulate", "render", "truth")  # done once per run, shared by every detector


def camera_hours(set_name: str) -> float:
    """Camera-hours of video in a named set (drawn, not run)."""
    total = 0.0
    for name in scenarios_of(set_name):
        drawn = parse_drawn(name)
        assert drawn is not None
        scenario = generate(*drawn)
        total += len(scenario.checkpoints) * scenario.duration_s / 3600.0
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="smoke", help="evaluation set to run (default smoke: tuning seeds)")
    parser.add_argument("--detector", type=DetectorName, default=DetectorName.MOTION)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/yingyan-eval-cost"))
    parser.add_argument(
        "--from", dest="done", type=Path, help="read the report*.json of an evaluation's --out instead of running one"
    )
    args = parser.parse_args()
    console = Console()
    if args.done is not None:
        summarise(args.done, args.jobs, console)
        return

    options = EvalOptions(detector=args.detector, jobs=args.jobs)
    runs = []
    for name in scenarios_of(args.set):
        drawn = parse_drawn(name)
        assert drawn is not None
        runs.append((name, replace(options, seeds=(drawn[1],))))
    began = time.perf_counter()
    results = [found[0] for found in evaluate_all(runs, args.out, args.jobs, say=lambda t: console.log(t))]
    wall = time.perf_counter() - began
    report = write_report(results, args.out, options, wall_s=wall)
    cost = report["cost"]
    hours = cost["camera_hours"]

    table = Table(title=f"{args.set} set, {args.detector.value}: {hours:.2f} camera-hours, {len(runs)} scenarios")
    for column in ("stage", "CPU s", "CPU s per camera-hour"):
        table.add_column(column, justify="right")
    for stage, seconds in cost["cpu_s"].items():
        table.add_row(stage, f"{seconds:.0f}", f"{cost['cpu_s_per_camera_hour'][stage]:.0f}")
    table.add_row("all", f"{cost['cpu_s_total']:.0f}", f"{cost['cpu_s_total'] / hours:.0f}")
    console.print(table)
    spent_here = sum(r.wall_s for r in results)
    console.print(f"wall time {wall:.0f} s on {args.jobs} processes ({spent_here:.0f} s of scenario time)")

    per_hour = cost["cpu_s_per_camera_hour"]
    report_hours = camera_hours("report")
    cores = args.jobs
    full = sum(per_hour.values()) * report_hours / cores
    analysis = sum(v for k, v in per_hour.items() if k not in RENDERING) * report_hours / cores
    console.print(
        f"the report set ({report_hours:.1f} camera-hours) at these rates on {cores} cores: "
        f"{full / 3600:.2f} h with rendering, {analysis / 3600:.2f} h with the renders reused (CPU ÷ cores)"
    )
    (args.out / "cost.json").write_text(
        json.dumps({"set": args.set, "detector": args.detector.value, "jobs": cores, "wall_s": round(wall, 1),
                    **cost, "report_set_camera_hours": round(report_hours, 2),
                    "report_set_hours_estimate": {"with_rendering": round(full / 3600, 2),
                                                  "renders_reused": round(analysis / 3600, 2)}}, indent=2),
        encoding="utf-8",
    )  # fmt: skip


def summarise(folder: Path, cores: int, console: Console) -> None:
    """Per detector: CPU seconds per camera-hour by stage from the reports in ``folder``, and the report
    set's time on ``cores`` cores: the first detector with the rendering, every one with its analysis."""
    report_hours = camera_hours("report")
    table = Table(title=f"CPU seconds per camera-hour by stage ({folder})")
    for column in ("detector", "scenarios", "camera-hours", "history", "simulate", "render", "truth", "analyse",
                   "engine", "wall s"):  # fmt: skip
        table.add_column(column, justify="right")
    analysis_h: dict[str, float] = {}
    rendering = 0.0
    for path in sorted(folder.glob("report*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        cost = report["cost"]
        per = cost["cpu_s_per_camera_hour"]
        stages = ("history", "simulate", "render", "truth", "analyse", "engine")
        table.add_row(report["detector"], str(len(report["scenarios"])), f"{cost['camera_hours']:.2f}",
                      *(f"{per.get(s, 0):.0f}" for s in stages), f"{cost['wall_s'] or 0:.0f}")  # fmt: skip
        rendering = max(rendering, sum(per.get(s, 0.0) for s in RENDERING))
        analysis_h[report["detector"]] = sum(v for k, v in per.items() if k not in RENDERING) * report_hours / cores
    console.print(table)
    first = rendering * report_hours / cores
    console.print(
        f"the report set ({report_hours:.1f} camera-hours) on {cores} cores: simulating and rendering "
        f"{first / 3600:.2f} h once; then per detector "
        + ", ".join(f"{d} {h / 3600:.2f} h" for d, h in analysis_h.items())
        + f"; all of it {(first + sum(analysis_h.values())) / 3600:.2f} h"
    )


if __name__ == "__main__":
    main()
