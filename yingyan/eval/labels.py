"""``yingyan eval --labels FILE``: a camera's events on real clips against a small hand-made label file.

The label file (YAML, paths relative to it) lists clips; each names its video, its calibration
(a ``yingyan calibrate`` spec or a calibration JSON), the detector and rules to run, and the
events a person marked in it: type, start and end (stream seconds), and the image region
(polygon, pixels) where it happened. An empty list says nothing happens in the clip, so every
event raised there is a false alarm. An event matches a label of its type when it is raised
between the label's start (less ``slack_s``) and end (plus ``slack_s``) and stands in its
region; the earliest match detects the label, later ones are duplicates, the rest false.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from yingyan.calibration import CameraCalibration
from yingyan.config import StrictModel, load_model
from yingyan.errors import ConfigError
from yingyan.incidents.detector import CameraEvents
from yingyan.incidents.events import Event, EventType
from yingyan.incidents.rules import EventRules
from yingyan.incidents.site_run import read_events
from yingyan.perception.backends import DetectorName, make_detector

Point = tuple[float, float]


class Label(StrictModel):
    """One event a person saw in a clip."""

    type: EventType = Field(title="Type", description="Event type, as events.jsonl names it.")
    start_s: float = Field(title="Start (s)", description="Stream second it began.", ge=0)
    end_s: float = Field(title="End (s)", description="Stream second it ended.", ge=0)
    region: list[Point] = Field(title="Region (px)", description="Image polygon where it happened.", min_length=3)


class LaneCount(StrictModel):
    """Vehicles a person counted crossing the calibration's counting line in one lane, over the whole clip."""

    lane_id: str = Field(title="Lane", description="Lane id of the calibration (its direction is the lane's).")
    vehicles: int = Field(title="Vehicles", description="Vehicles whose centre crossed the line in this lane.", ge=0)


class LabelledClip(StrictModel):
    """A real clip with its calibration, how to analyse it, and its hand labels."""

    name: str = Field(title="Name", description="Short name of the clip in the report.")
    source: str = Field(title="Source", description="Video file (relative to the label file).")
    calibration: str = Field(
        title="Calibration", description="A `yingyan calibrate` spec (YAML) or a calibration JSON."
    )
    detector: DetectorName = Field(default=DetectorName.ONNX, title="Detector", description="Detector back-end.")
    model: str | None = Field(default=None, title="Model", description="ONNX model for onnx and gated.")
    fps: float = Field(default=5.0, gt=0, le=60, title="Analysis rate (fps)", description="Frames analysed per second.")
    rules: EventRules = Field(default_factory=EventRules, title="Rules", description="The camera's event rules.")
    labels: list[Label] = Field(
        default_factory=list, title="Labels", description="What happens in the clip; empty: nothing does."
    )
    counts: list[LaneCount] = Field(
        default_factory=list,
        title="Counts",
        description="Hand counts per lane at the counting line (made from slit-scan images: bench/slit_scan.py).",
    )


class LabelFile(StrictModel):
    """Hand labels of real clips."""

    slack_s: float = Field(default=10.0, ge=0, title="Slack (s)", description="Time slack when matching events.")
    clips: list[LabelledClip] = Field(title="Clips", description="The labelled clips.", min_length=1)


def match_labels(
    events: list[Event], labels: list[Label], calibration: CameraCalibration, slack_s: float
) -> dict[str, Any]:
    """Counts and times of raised events against labels (see the module docstring)."""
    raised = sorted((e for e in events if e.end_s is None), key=lambda e: e.alert_s)
    hits: dict[int, Event] = {}
    false = []
    for event in raised:
        image = calibration.road_to_image(np.asarray([event.position], dtype=np.float64))[0]
        found = None
        for k, label in enumerate(labels):
            if label.type != event.type or not label.start_s - slack_s <= event.alert_s <= label.end_s + slack_s:
                continue
            if _inside(label.region, (float(image[0]), float(image[1]))):
                found = k
                break
        if found is None:
            false.append(event)
        else:
            hits.setdefault(found, event)
    ttd = [hits[k].alert_s - labels[k].start_s for k in sorted(hits)]
    return {
        "labels": len(labels),
        "detected": len(hits),
        "alerts": len(raised),
        "false_alarms": len(false),
        "detection_rate": len(hits) / len(labels) if labels else None,
        "ttd_median_s": float(np.median(ttd)) if ttd else None,
        "false_alarm_events": [{"type": e.type.value, "lane_id": e.lane_id, "alert_s": e.alert_s} for e in false],
    }


def match_counts(lane_state: Path, counts: list[LaneCount]) -> dict[str, Any]:
    """Vehicles the analysis counted per lane (``lane_state.csv``) against the hand counts."""
    import csv

    measured: dict[str, int] = {}
    with lane_state.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            measured[row["lane_id"]] = measured.get(row["lane_id"], 0) + int(row["count"])
    lanes = {c.lane_id: {"labelled": c.vehicles, "measured": measured.get(c.lane_id, 0)} for c in counts}
    labelled = sum(c.vehicles for c in counts)
    off = sum(abs(v["measured"] - v["labelled"]) for v in lanes.values())
    return {
        "lanes": lanes,
        "labelled": labelled,
        "measured": sum(v["measured"] for v in lanes.values()),
        "count_error_pct": 100.0 * off / labelled if labelled else None,
    }


def _inside(polygon: list[Point], point: Point) -> bool:
    import cv2

    return cv2.pointPolygonTest(np.asarray(polygon, dtype=np.float32), point, False) >= 0


def evaluate_labels(
    path: Path,
    out: Path,
    say: Callable[[str], None] = lambda _: None,
    detector: DetectorName | None = None,
    model: Path | None = None,
) -> dict[str, Any]:
    """Run every clip of a label file and score it; writes ``report.json`` and ``report.md`` in ``out``.

    ``detector`` (and ``model``) replace every clip's own, to measure one detector over all clips.
    """
    from yingyan.perception.analyze import analyze
    from yingyan.perception.calibrate import run_calibration
    from yingyan.sources import SourceConfig

    spec = load_model(LabelFile, path)
    root = path.parent
    report: dict[str, Any] = {"format": "yingyan.eval-labels/1", "labels": str(path), "clips": {}}
    for clip in spec.clips:
        folder = out / clip.name
        cal_path = root / clip.calibration
        if cal_path.suffix in {".yaml", ".yml"}:
            cal_path = run_calibration(cal_path, folder / "calibration.json")[0]
        calibration = CameraCalibration.load(cal_path)
        chosen = detector or clip.detector
        weights = model if detector is not None else (root / clip.model if clip.model else None)
        source = root / clip.source
        if not source.exists():
            raise ConfigError(f"{path}: clip {clip.name!r}: no video at {source}")
        say(f"{clip.name}: analysing {source.name} ({chosen.value}, {clip.fps:g} fps)")
        analyze(
            SourceConfig(uri=str(source), fps=clip.fps), calibration, make_detector(chosen, weights, clip.fps),
            folder, events=CameraEvents(calibration, clip.rules),
        )  # fmt: skip
        events = read_events(folder / "events.jsonl")
        row = match_labels(events, clip.labels, calibration, spec.slack_s)
        row["detector"] = chosen.value
        row["counts"] = match_counts(folder / "lane_state.csv", clip.counts) if clip.counts else None
        report["clips"][clip.name] = row
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    lines = ["# Yingyan: events on labelled real clips", "", f"Labels: `{path}`", ""]
    head = "| clip | detector | labels | detected | alerts | false alarms | TTD median s | counted / by hand | error |"
    lines += [head, "| --- " * 9 + "|"]
    for name, row in report["clips"].items():
        ttd = row["ttd_median_s"]
        counts = row["counts"]
        counted = "–" if counts is None else f"{counts['measured']} / {counts['labelled']}"
        error = "–" if counts is None or counts["count_error_pct"] is None else f"{counts['count_error_pct']:.0f} %"
        lines.append(
            f"| {name} | {row['detector']} | {row['labels']} | {row['detected']} | {row['alerts']} | "
            f"{row['false_alarms']} | {'–' if ttd is None or math.isnan(ttd) else f'{ttd:.1f}'} | {counted} | {error} |"
        )
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report
