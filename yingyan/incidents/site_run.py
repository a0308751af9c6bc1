"""A whole site: every camera's pipeline, then the incident engine over what they published.

``run_site`` analyses each camera of a site file (in worker processes, each camera its own
pipeline as DESIGN.md's data flow has it) into ``OUT/cameras/<id>/`` and feeds their events
and lane states, in stream-time order, to one :class:`IncidentEngine`. It writes
``OUT/events.jsonl`` (every camera's event reports, evidence paths relative to ``OUT``) and
``OUT/incidents.jsonl`` (one line per incident, as it stands at the end of the run).
"""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path

from yingyan.calibration import CameraCalibration
from yingyan.cost import StageClock
from yingyan.errors import ConfigError
from yingyan.incidents.baseline import Baseline
from yingyan.incidents.detector import CameraEvents
from yingyan.incidents.engine import Incident, IncidentEngine, LaneInterval
from yingyan.incidents.events import Event
from yingyan.incidents.network import Network, checkpoint_from
from yingyan.incidents.rules import EventRules
from yingyan.perception.backends import DetectorName, make_detector
from yingyan.site import Site, load_site
from yingyan.tables import read_csv_rows

log = logging.getLogger(__name__)

TICK_S = 5.0  # the engine is told the time at least this often (incidents close on a timer)


@dataclass(frozen=True)
class SiteRunOptions:
    """How to run a site."""

    detector: DetectorName = DetectorName.MOTION
    model: Path | None = None
    fps: float = 5.0
    interval_s: float = 60.0
    jobs: int = 2
    start: datetime | None = None  # local time of stream second 0 (files; the baseline's time of day)
    baseline: Path | None = None  # overrides the site file's
    reuse: bool = False  # keep camera analyses already in OUT


@dataclass(frozen=True)
class CameraJob:
    """One camera's pipeline, as a worker process runs it."""

    camera_id: str
    source: str
    calibration: Path
    out: Path
    fps: float
    interval_s: float
    rules: EventRules
    detector: DetectorName
    model: Path | None


@dataclass(frozen=True)
class SiteRunResult:
    """What a site run produced."""

    out: Path
    events: list[Event] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    cost: StageClock = field(default_factory=StageClock)  # stages "analyse" (the cameras) and "engine"


def analyse_camera(job: CameraJob) -> str:
    """Run one camera's pipeline with its event detectors into ``job.out``; its camera id."""
    from yingyan.perception.analyze import analyze
    from yingyan.sources import SourceConfig

    calibration = CameraCalibration.load(job.calibration)
    # One thread: a site's cameras run one per core (``jobs`` processes), and a pipeline's own threads
    # would only spin against its neighbours'.
    detector = make_detector(job.detector, job.model, job.fps, threads=1)
    analyze(
        SourceConfig(uri=job.source, fps=job.fps), calibration, detector, job.out, interval_s=job.interval_s,
        events=CameraEvents(calibration, job.rules),
    )  # fmt: skip
    return job.camera_id


def camera_jobs(site: Site, root: Path, out: Path, options: SiteRunOptions) -> list[CameraJob]:
    """The pipelines of a site's cameras (paths relative to the site file resolved)."""

    def resolve(text: str) -> str:
        if "://" in text:
            return text
        path = Path(text)
        return str(path if path.is_absolute() else root / path)

    jobs = []
    for i, cam in enumerate(site.cameras):
        if cam.source is None:
            raise ConfigError(f"cameras.{i}.source: camera {cam.id} has no source (a simulation run without video)")
        job = CameraJob(
            cam.id, resolve(cam.source), Path(resolve(cam.calibration)), out / "cameras" / cam.id,
            cam.fps or options.fps, options.interval_s, cam.rules, options.detector, options.model,
        )  # fmt: skip
        jobs.append(job)
    return jobs


def run_site(
    site_path: Path, out: Path, options: SiteRunOptions, on_camera: Callable[[str], None] | None = None
) -> SiteRunResult:
    """Analyse every camera of a site, then find its incidents; see the module docstring."""
    site = load_site(site_path)
    root = site_path.parent
    network = Network.from_site(site, root)
    jobs = camera_jobs(site, root, out, options)
    todo = [j for j in jobs if not (options.reuse and (j.out / "events.jsonl").exists())]
    clock = StageClock()
    with clock.stage("analyse"):
        if len(todo) == 1 or options.jobs <= 1:  # in this process: no pool to start for one pipeline at a time
            for job in todo:
                camera_id = analyse_camera(job)
                if on_camera is not None:
                    on_camera(camera_id)
        elif todo:
            with ProcessPoolExecutor(max_workers=options.jobs, mp_context=get_context("spawn")) as pool:
                for camera_id in pool.map(analyse_camera, todo):
                    if on_camera is not None:
                        on_camera(camera_id)
    with clock.stage("engine"):
        baseline_path = options.baseline or (root / site.baseline if site.baseline else None)
        baseline = Baseline.load(baseline_path) if baseline_path is not None else None
        engine = IncidentEngine(
            network, site.incident_rules, baseline, options.start, {c.id: c.road_class for c in site.cameras}
        )
        events, incidents = replay(engine, {j.camera_id: j.out for j in jobs}, out)
        with (out / "events.jsonl").open("w", encoding="utf-8") as handle:
            for event in events:
                handle.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
        write_incidents(out / "incidents.jsonl", incidents)
    return SiteRunResult(out, events, incidents, clock)


def camera_incidents(
    calibration: CameraCalibration, folder: Path, baseline: Baseline | None = None, start: datetime | None = None
) -> list[Incident]:
    """The incidents of one camera analysed into ``folder`` (``yingyan detect``): the engine over a
    network of that one checkpoint. Writes ``folder/incidents.jsonl``."""
    direction = calibration.lanes[0].direction
    network = Network([checkpoint_from(calibration.camera_id, None, direction, False, calibration)], [])
    engine = IncidentEngine(network, baseline=baseline, clock_start=start,
                            road_classes={calibration.camera_id: calibration.road_class})  # fmt: skip
    _, found = replay(engine, {calibration.camera_id: folder}, folder)
    # One camera has no place on a road network: its incidents have none either (their events have).
    incidents = [replace(i, source_position_m=None) for i in found]
    write_incidents(folder / "incidents.jsonl", incidents)
    return incidents


def write_incidents(path: Path, incidents: list[Incident]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for incident in incidents:
            handle.write(json.dumps(incident.to_json(), ensure_ascii=False) + "\n")


def replay(engine: IncidentEngine, camera_dirs: dict[str, Path], out: Path) -> tuple[list[Event], list[Incident]]:
    """Feed the cameras' published files to the engine in stream-time order; the events and the incidents."""
    queue: list[tuple[float, int, Event | LaneInterval]] = []
    order = 0
    reports: list[Event] = []
    for camera_id, folder in camera_dirs.items():
        for event in read_events(folder / "events.jsonl", prefix=folder.relative_to(out)):
            reports.append(event)
            at = event.end_s if event.end_s is not None else event.alert_s
            queue.append((at, order, event))
            order += 1
        table = folder / "lane_state.csv"
        if not table.exists():
            log.warning("%s: no lane_state.csv in %s (the camera produced nothing)", camera_id, folder)
            continue
        for row in read_csv_rows(table):
            state = LaneInterval.from_row(row)
            queue.append((state.start_s + state.interval_s, order, state))
            order += 1
    heapq.heapify(queue)
    end = max((t for t, _, _ in queue), default=0.0)
    t = 0.0
    while t <= end + TICK_S:
        batch_events: list[Event] = []
        batch_states: list[LaneInterval] = []
        while queue and queue[0][0] <= t:
            _, _, item = heapq.heappop(queue)
            if isinstance(item, Event):
                batch_events.append(item)
            else:
                batch_states.append(item)
        engine.update(t, batch_events, batch_states)
        t = min(t + TICK_S, queue[0][0]) if queue else t + TICK_S
        t = t if t > 0 else TICK_S
    return reports, engine.incidents


def read_events(path: Path, prefix: Path | None = None) -> list[Event]:
    """The event reports of an ``events.jsonl`` (evidence paths put under ``prefix``)."""
    if not path.exists():
        return []
    events = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = Event.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise ConfigError(f"{path}:{number}: not an event ({error})") from None
        if prefix is not None and event.evidence:
            event = replace(event, evidence={k: str(prefix / v) for k, v in event.evidence.items()})
        events.append(event)
    return events
