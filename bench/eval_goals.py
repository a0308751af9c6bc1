"""Issue 17, item 5: each detector's evaluation against the goals, from the reports of one evaluation.

    .venv/bin/python -m yingyan.cli eval --set report --detectors motion,onnx,gated --out /tmp/report
    .venv/bin/python bench/eval_goals.py /tmp/report          # also while it runs: the scenarios done so far

Reads ``report-<detector>.json`` (or ``report.json``) in the folder and prints, per detector, over the
same scenarios: incidents and detection rate; false alarms per camera-hour on the families without an
incident (recurrent peaks, quiet roads in bad conditions) and over all; the median time to alert of
a stall in view; onset RMSE; cause and source accuracy over the incidents found; each against its
goal. The reports must be over the same scenarios (one
evaluation with ``--detectors`` writes them so, also while it runs), so that the columns compare the
same work. Incidents that no camera saw and whose queue reached no camera (a light stall beyond a
view on a wide road, from the runs' manifests) are counted apart, with the detection rate of the rest
beside the rate over all.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

NO_INCIDENT = ("recurrent-peaks", "quiet-bad-conditions")
GOALS: dict[str, tuple[str, Callable[[float], bool]]] = {  # measure: (the goal, met?)
    "detection": ("≥ 95 %", lambda v: v >= 0.95),
    "detection of the rest": ("≥ 95 %", lambda v: v >= 0.95),
    "false alarms / cam-h, peaks + quiet": ("≤ 0.05", lambda v: v <= 0.05),
    "stall in view, median alert (s)": ("≤ 20", lambda v: v <= 20.0),
    "onset RMSE (s)": ("≤ 5", lambda v: v <= 5.0),
    "cause (of those found)": ("≥ 90 %", lambda v: v >= 0.90),
    "source (of all incidents)": ("≥ 90 %", lambda v: v >= 0.90),
}


def out_of_sight(folder: Path, scenario: str) -> int:
    """The incidents of a scenario's runs that no camera saw and whose queue reached no camera (from the
    runs' manifests in ``folder``): no checkpoint camera could tell of them."""
    count = 0
    for manifest in sorted((folder / scenario).glob("seed-*/sim/manifest.json")):
        for item in json.loads(manifest.read_text(encoding="utf-8")).get("incidents", []):
            if item.get("start_s") is not None and not item.get("camera_ids") and not item.get("congestion"):
                count += 1
    return count


def measures(report: dict[str, Any], folder: Path) -> dict[str, float | str]:
    """The item-5 measures over one detector's report (its runs in ``folder``)."""
    overall = report["overall"]
    unseeable = detected_unseeable = 0
    for name, row in report["scenarios"].items():
        hidden = out_of_sight(folder, name)
        unseeable += hidden
        if hidden and hidden == row["incidents"]:
            detected_unseeable += row["detected"]  # an alert that happened to fall on it by place and time
    seeable = overall["incidents"] - unseeable
    quiet = [f for name, f in report["by_family"].items() if name in NO_INCIDENT]
    quiet_hours = sum(f["camera_hours"] for f in quiet)
    stalls = report["by_kind"].get("stall in view", {})
    nan = math.nan
    return {
        "scenarios": len(report["scenarios"]),
        "incidents": overall["incidents"],
        "detected": overall["detected"],
        "camera-hours": overall["camera_hours"],
        "camera-hours, peaks + quiet": quiet_hours,
        "detection": _num(overall["detection_rate"]),
        "incidents out of sight (it and its queue)": unseeable,
        "detection of the rest": (overall["detected"] - detected_unseeable) / seeable if seeable else nan,
        "false alarms / cam-h, peaks + quiet": sum(f["false_alarms"] for f in quiet) / quiet_hours if quiet else nan,
        "false alarms / cam-h, all": _num(overall["false_alarms_per_camera_hour"]),
        "stalls in view (found / all)": f"{stalls.get('detected', 0)} / {stalls.get('incidents', 0)}",
        "stall in view, median alert (s)": _num(stalls.get("ttd_median_s")),
        "onset RMSE (s)": _num(overall["onset_rmse_s"]),
        "cause (of those found)": _num(overall["cause_accuracy"]),
        "source (of all incidents)": _num(overall["source_top1"]),
    }


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _show(key: str, value: float | str) -> str:
    if isinstance(value, str):
        return value
    if math.isnan(value):
        return "—"
    if key in ("detection", "detection of the rest", "cause (of those found)", "source (of all incidents)"):
        return f"{100 * value:.0f} %"
    if key in ("scenarios", "incidents", "detected", "incidents out of sight (it and its queue)"):
        return f"{value:.0f}"
    return f"{value:.2f}" if "cam" in key else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="an evaluation's --out")
    args = parser.parse_args()
    reports = {}
    for path in sorted(args.folder.glob("report*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        reports[report["detector"]] = report
    if not reports:
        raise SystemExit(f"{args.folder}: no report*.json (run yingyan eval --out {args.folder} first)")
    names = {d: sorted(r["scenarios"]) for d, r in reports.items()}
    if len({tuple(n) for n in names.values()}) > 1:
        raise SystemExit(f"the reports in {args.folder} are over different scenarios: {names}")
    rows = {d: measures(r, args.folder) for d, r in reports.items()}
    seeds = next(iter(names.values()))
    pending = max(r.get("scenarios_pending", 0) for r in reports.values())
    running = f" ({pending} not finished)" if pending else ""
    table = Table(title=f"issue 17 item 5 over {len(seeds)} scenarios{running}")
    table.add_column("measure")
    table.add_column("goal")
    for detector in rows:
        table.add_column(detector, justify="right")
    keys = list(next(iter(rows.values())))
    for key in keys:
        goal, met = GOALS.get(key, ("", None))
        cells = []
        for values in rows.values():
            text = _show(key, values[key])
            value = values[key]
            if met is not None and isinstance(value, float) and not math.isnan(value):
                text = f"[green]{text}[/]" if met(value) else f"[red]{text}[/]"
            cells.append(text)
        table.add_row(key, goal, *cells)
    console = Console()
    console.print(table)
    console.print("scenarios: " + ", ".join(seeds))


if __name__ == "__main__":
    main()
