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


def _inside(polygon: list[Point], point: Point) -> bool:
    import cv2

    return cv2.pointPolygonTest(np.asarray(polygon, dtype=np.float32), point, False) >= 0


def evaluate_labels(path: Path, out: Path, say: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Run every clip of a label file and score it; writes ``report.json`` and ``report.md`` in ``out``."""
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
        model = root / clip.model if clip.model else None
        source = root / clip.source
        if not source.exists():
            raise ConfigError(f"{path}: clip {clip.name!r}: no video at {source}")
        say(f"{clip.name}: analysing {source.name} ({clip.detector.value}, {clip.fps:g} fps)")
        analyze(
            SourceConfig(uri=str(source), fps=clip.fps), calibration, make_detector(clip.detector, model, clip.fps),
            folder, events=CameraEvents(calibration, clip.rules),
        )  # fmt: skip
        events = read_events(folder / "events.jsonl")
        report["clips"][clip.name] = match_labels(events, clip.labels, calibration, spec.slack_s)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    lines = ["# Yingyan: events on labelled real clips", "", f"Labels: `{path}`", ""]
    lines += ["| clip | labels | detected | alerts | false alarms | TTD median s |", "| --- " * 6 + "|"]
    for name, row in report["clips"].items():
        ttd = row["ttd_median_s"]
        lines.append(
            f"| {name} | {row['labels']} | {row['detected']} | {row['alerts']} | {row['false_alarms']} | "
            f"{'–' if ttd is None or math.isnan(ttd) else f'{ttd:.1f}'} |"
        )
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report
