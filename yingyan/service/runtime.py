"""``yingyan serve``: the incident service and, in the embedded default, everything in front of it.

One process holds the database, the outbox dispatcher, the terminals' hub and the API; beside
them, on the in-memory bus, run (as asked) every camera's pipeline on its source, or a replay
of camera outputs a ``yingyan run`` recorded, and the incident engine over them::

    camera threads ──► bus ──► engine thread ──► bus ──► ingest thread ──► store + outbox ──► dispatcher
         (or replay)     lane states, events,        incident reports            (WebSocket, MQTT, webhooks)
                         clock, health

The ingest thread is the service side of DESIGN.md's boundary: it only consumes messages,
so the engine and the cameras could as well run elsewhere.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from yingyan.bus import CameraHealth, ClockTick, EventReport, IncidentReport, LaneStateRecord, MemoryBus
from yingyan.bus.messages import Message
from yingyan.calibration import CameraCalibration
from yingyan.errors import YingyanError
from yingyan.incidents.baseline import Baseline
from yingyan.incidents.detector import CameraEvents
from yingyan.incidents.engine import IncidentEngine, LaneInterval
from yingyan.incidents.events import Event
from yingyan.incidents.network import Network
from yingyan.incidents.site_run import read_events
from yingyan.perception.backends import make_detector
from yingyan.service import preflight
from yingyan.service.auth import LoginLimiter
from yingyan.service.db import Database, open_database, reason_of, transient
from yingyan.service.health import HealthBoard
from yingyan.service.metrics import ServiceMetrics
from yingyan.service.outbox import Dispatcher
from yingyan.service.preflight import ServeOptions
from yingyan.service.push.terminals import TerminalHub
from yingyan.service.store import IncidentStore, RunContext
from yingyan.site import Site, load_site
from yingyan.sources import SourceConfig
from yingyan.tables import read_csv_rows

log = logging.getLogger(__name__)

__all__ = ["ServeOptions", "ServiceRuntime"]

STALE_S = 10.0  # a camera with no health report for this long is stale
INGEST_RETRY_MIN_S = 0.25  # a database fault: storing is tried again after this long, doubling…
INGEST_RETRY_MAX_S = 1.0  # …up to this (so storing resumes within a second or so of the fault clearing)
INGEST_POISON_TRIES = 3  # a message whose data cannot be stored is passed over after this many tries
DB_PROBE_S = 2.0  # the database's write probe runs this often
# The collector's thresholds: young collections every 50,000 allocations instead of 700 (a burst's tasks,
# messages and receipts die young; promoted less, they bring full collections less often).
GC_THRESHOLDS = (50_000, 20, 100)
FAULT_ENV = "YINGYAN_FAULT"  # failure injection for the recovery test: "exit-after-alert-commit"


class ServiceRuntime:
    """The service's parts and the threads around them; ``start``/``stop`` from the API's lifespan."""

    def __init__(self, site_path: Path, options: ServeOptions | None = None) -> None:
        self.options = options or ServeOptions()
        self.site_path = site_path
        self.site: Site = load_site(site_path)
        self.root = site_path.parent
        self.config = self.site.service
        preflight.check(self.site, site_path, self.options)
        self.data_dir = preflight.data_dir(self.site, self.root)
        self.db: Database = open_database(preflight.database_url(self.site, self.root, self.options))
        self.store = IncidentStore(self.db, self.config, self.data_dir, self.site.timezone)
        self.store.sync_site(self.site)
        self.metrics = ServiceMetrics(self.store.open_counts)
        self.faults = HealthBoard()
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        self.hub = TerminalHub()
        self.dispatcher = Dispatcher(self.store, self.config, self.hub, self.metrics, self.faults)
        self.limiter = LoginLimiter(
            self.config.login_max_failures, self.config.login_window_s, self.config.login_delay_max_s
        )
        self.bus = MemoryBus()
        self.started_at = datetime.now(UTC)
        stamp = self.started_at.strftime("%Y%m%dT%H%M%S.%fZ")
        paced = self.options.replay is not None or self.options.cameras
        # Evidence is taken only from where this run's camera side writes it: the camera folders, or the replay.
        confined = (self.options.replay,) if self.options.replay is not None else (self.data_dir / "cameras",)
        self.run = RunContext(f"{self.site.name}:{stamp}", self.started_at, self.root,
                              self.options.speed if paced else 1.0, confined)  # fmt: skip
        self.health: dict[str, tuple[CameraHealth, float]] = {}
        self.frames: dict[str, tuple[float, bytes]] = {}  # camera -> (stream time, JPEG of its overlay view)
        baseline_path = self.options.baseline or (self.root / self.site.baseline if self.site.baseline else None)
        self.baseline = Baseline.load(baseline_path) if baseline_path is not None else None
        # Local time of stream second 0, as the engine and the baseline count time of day.
        self.local_start = self.options.start or self.started_at.astimezone(ZoneInfo(self.site.timezone)).replace(
            tzinfo=None
        )
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ingest = self.bus.subscribe("service", (IncidentReport, EventReport, LaneStateRecord, CameraHealth))
        self._gc_thresholds = gc.get_threshold()
        self.cameras_done = threading.Event()  # every camera's file (or the replay) has played to its end
        self.errors: list[str] = []

    # -- life cycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        # What is loaded by now (the app, its schemas, the ORM, the models) lives as long as the service:
        # kept out of the collector's oldest generation, whose full passes over it paused every thread for
        # 100-200 ms (an alert that much later, measured by bench/channel_isolation.py).
        gc.collect()
        gc.freeze()
        self._gc_thresholds = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLDS)
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self.dispatcher.run(), name="dispatcher")
        self._spawn("ingest", self._ingest_loop)
        self._spawn("database-probe", self._watch_database)
        if self.options.replay is not None or self.options.cameras:
            engine = self._engine()
            self._spawn("engine", lambda: self._engine_loop(engine))
        if self.options.replay is not None:
            self._spawn("replay", self._replay)
        elif self.options.cameras:
            cameras = [self._spawn(f"camera-{cam.id}", _bind(self._camera, cam.id)) for cam in self.site.cameras]

            def all_done() -> None:
                for thread in cameras:
                    thread.join()
                self.cameras_done.set()

            self._spawn("cameras-done", all_done)
        log.info("service for %s: %d cameras, database %s", self.site.name, len(self.site.cameras), self.db.url)

    async def stop(self) -> None:
        self._stop.set()
        gc.unfreeze()
        gc.set_threshold(*self._gc_thresholds)
        for thread in self._threads:
            thread.join(timeout=15.0)
        await self.dispatcher.close()
        if self._task is not None:
            self._task.cancel()
        self.db.dispose()

    def _spawn(self, name: str, target: Callable[[], None]) -> threading.Thread:
        def guarded() -> None:
            try:
                target()
            except Exception as error:
                log.exception("%s stopped: %s", name, error)
                self.errors.append(f"{name}: {error}")
                self.faults.report(f"thread {name}", f"stopped: {type(error).__name__}: {error}")

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()
        return thread

    # -- the service side of the bus ---------------------------------------------------------------

    def _ingest_loop(self) -> None:
        """Store what the cameras and the engine report, in order. A database fault (locked, disk full,
        connection lost) never ends it: the messages wait, the fault is on ``/healthz`` with its reason,
        and storing resumes by itself once the fault clears. A message that can never be stored (a fault
        of its data, not of the database) is logged and passed over after a few tries."""
        backlog: list[Message] = []
        delay, tries = INGEST_RETRY_MIN_S, 0
        while not self._stop.is_set() or self._ingest.pending or backlog:
            if not backlog:
                first = self._ingest.get(timeout=0.2)
                if first is None:
                    continue
                backlog = [first, *self._ingest.drain(500)]
            done, error = self._store_batch(backlog)
            backlog = backlog[done:]
            if error is None:
                self.faults.report("ingest", None)
                delay, tries = INGEST_RETRY_MIN_S, 0
                continue
            if transient(error):
                self.faults.report("ingest", f"cannot store reports ({len(backlog)} waiting): {reason_of(error)}")
                if self._stop.wait(delay):
                    log.error("stopping with %d reports not stored: %s", len(backlog), reason_of(error))
                    return
                delay = min(delay * 2, INGEST_RETRY_MAX_S)
                continue
            tries = 0 if done else tries + 1
            if tries >= INGEST_POISON_TRIES:
                log.error("a %s could not be stored and is passed over: %s", type(backlog[0]).__name__, error,
                          exc_info=error)  # fmt: skip
                self.metrics.ingest_dropped.inc()
                backlog, tries = backlog[1:], 0

    def _store_batch(self, batch: list[Message]) -> tuple[int, Exception | None]:
        """Store messages in order: how many were stored, and the error that stopped the rest (if any)."""
        done = 0
        states: list[LaneInterval] = []
        rows: list[dict[str, str]] = []
        try:
            for index, message in enumerate(batch):
                if isinstance(message, LaneStateRecord):
                    states.append(message.interval)
                    rows.append(message.row)
                    continue
                if states:  # keep the order: lane states before what follows them
                    self.store.ingest_lane_states(self.run, states, rows)
                    states, rows, done = [], [], index
                self._store_one(message)
                done = index + 1
            if states:
                self.store.ingest_lane_states(self.run, states, rows)
            return len(batch), None
        except Exception as error:
            return done, error

    def _store_one(self, message: Message) -> None:
        if isinstance(message, EventReport):
            self.store.ingest_event(self.run, message.event)
        elif isinstance(message, CameraHealth):
            self.health[message.camera_id] = (message, time.monotonic())
            self.metrics.camera(
                message.camera_id, message.state, message.fps_in, message.fps_out, message.dropped,
                message.reconnects, message.lag_s, message.last_frame_wall,
            )  # fmt: skip
        elif isinstance(message, IncidentReport):
            result = self.store.ingest_incident(self.run, message.incident)
            if result.alert_id is not None:
                if os.environ.get(FAULT_ENV) == "exit-after-alert-commit":
                    log.error("fault injected: exiting after committing alert %s", result.alert_id)
                    os._exit(70)
                self.dispatcher.wake()
            self.notify_incident(result.incident_id)

    def _watch_database(self) -> None:
        """Probe a write every few seconds, so that a database fault is known (and logged) as it happens."""
        while not self._stop.wait(DB_PROBE_S):
            self.faults.report("database", self.db.probe_write(self.instance))

    def notify_incident(self, incident_id: str) -> None:
        """Thread-safe: tell the connected consoles that an incident changed."""
        if self._loop is None or not any(t.incidents for t in self.hub.terminals()):
            return  # no console listens: nothing to read
        from yingyan.service.access import SYSTEM

        try:
            summary = self.store.incident(SYSTEM, incident_id)
        except (YingyanError, SQLAlchemyError) as error:
            log.debug("incident %s changed; consoles not told (%s)", incident_id, error)
            return
        message = {"type": "incident", "incident": _jsonable(summary, drop=("steps", "timeline", "evidence"))}
        consoles = self.hub.notify(message, str(summary["district"]), summary["departments"], lambda t: t.incidents)
        asyncio.run_coroutine_threadsafe(consoles, self._loop)

    # -- the camera side, in this process ----------------------------------------------------------

    def _engine(self) -> IncidentEngine:
        network = Network.from_site(self.site, self.root)
        roads = {c.id: c.road_class for c in self.site.cameras}
        return IncidentEngine(network, self.site.incident_rules, self.baseline, self.local_start, roads)

    def local_time(self, instant: datetime) -> datetime:
        """The engine's local clock at a stored instant (the baseline's time of day)."""
        stream_s = (instant - self.run.clock_start).total_seconds() * self.run.speed
        return self.local_start + timedelta(seconds=stream_s)

    def _engine_loop(self, engine: IncidentEngine) -> None:
        inbox = self.bus.subscribe("engine", (EventReport, LaneStateRecord, ClockTick))
        revisions: dict[str, int] = {}
        clock = 0.0
        while not self._stop.is_set():
            first = inbox.get(timeout=0.5)
            batch = ([first] if first is not None else []) + inbox.drain()
            events: list[Event] = []
            states: list[LaneInterval] = []
            for message in batch:
                if isinstance(message, EventReport):
                    root = Path(message.evidence_root)
                    evidence = {k: str((root / v).resolve()) for k, v in message.event.evidence.items()}
                    events.append(replace(message.event, evidence=evidence))
                    clock = max(clock, message.event.end_s or message.event.alert_s)
                elif isinstance(message, LaneStateRecord):
                    state = message.interval
                    states.append(state)
                    clock = max(clock, state.start_s + state.interval_s)
                elif isinstance(message, ClockTick):
                    clock = max(clock, message.time_s)
            if not batch and clock == 0.0:
                continue
            for incident in engine.update(clock, events, states):
                revisions[incident.id] = revisions.get(incident.id, 0) + 1
                self.bus.publish(IncidentReport(incident, revisions[incident.id], self.run.run_key))

    def _camera(self, camera_id: str) -> None:
        from yingyan.perception.analyze import analyze

        cam = next(c for c in self.site.cameras if c.id == camera_id)
        calibration = CameraCalibration.load(_resolve(self.root, cam.calibration))
        assert cam.source is not None  # preflight: cameras analysed here have a source
        source = cam.source if "://" in cam.source else str(_resolve(self.root, cam.source))
        fps = cam.fps or self.options.fps
        out = self.data_dir / "cameras" / camera_id / self.run.run_key.split(":")[-1]
        config = SourceConfig(uri=source, fps=min(fps, self.options.fps), pace=self.options.speed)
        detector = make_detector(self.options.detector, self.options.model, config.fps or fps)

        def stop_asked(_: float) -> None:
            if self._stop.is_set():
                raise _Stopped

        def view(time_s: float, image: np.ndarray) -> None:
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
            if ok:
                self.frames[camera_id] = (time_s, jpeg.tobytes())

        try:
            analyze(config, calibration, detector, out, events=CameraEvents(calibration, cam.rules),
                    publish=self.bus.publish, on_frame=stop_asked, preview=view)  # fmt: skip
        except _Stopped:
            return
        self.bus.publish(CameraHealth(camera_id, 0.0, "ended", 0.0, 0.0, 0, 0, 0.0))

    def _replay(self) -> None:
        """Camera outputs of a recorded run, published at ``speed`` × the pace they were made."""
        folder = self.options.replay
        assert folder is not None
        queue: list[tuple[float, int, Any]] = []
        order = 0
        for cam in self.site.cameras:
            cam_dir = folder / "cameras" / cam.id
            for event in read_events(cam_dir / "events.jsonl"):
                at = event.end_s if event.end_s is not None else event.alert_s
                queue.append((at, order, EventReport(event, str(cam_dir))))
                order += 1
            table = cam_dir / "lane_state.csv"
            for row in read_csv_rows(table) if table.exists() else []:
                state = LaneInterval.from_row(row)
                queue.append((state.start_s + state.interval_s, order, LaneStateRecord(cam.id, row)))
                order += 1
        heapq.heapify(queue)
        started = time.monotonic()
        next_tick = 0.0
        while queue and not self._stop.is_set():
            at = queue[0][0]
            due = started + min(at, next_tick) / self.options.speed
            if self._stop.wait(max(due - time.monotonic(), 0.0)):
                return
            if next_tick <= at:
                for cam in self.site.cameras:
                    self.bus.publish(ClockTick(cam.id, next_tick))
                next_tick += 1.0
                continue
            _, _, message = heapq.heappop(queue)
            self.bus.publish(message)
        log.info("replay of %s finished", folder)
        self.cameras_done.set()

    # -- health ------------------------------------------------------------------------------------

    def camera_health(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        out = []
        for cam in self.site.cameras:
            item = self.health.get(cam.id)
            if item is None:
                out.append({"camera_id": cam.id, "state": "unknown", "fps_in": 0.0, "fps_out": 0.0, "dropped": 0,
                            "reconnects": 0, "lag_s": 0.0, "last_frame_age_s": None, "stale": True})  # fmt: skip
                continue
            h, seen = item
            age = None if h.last_frame_wall is None else max(time.time() - h.last_frame_wall, 0.0)
            stale = now - seen > STALE_S or h.state != "connected"
            out.append({"camera_id": cam.id, "state": h.state, "fps_in": h.fps_in, "fps_out": h.fps_out,
                        "dropped": h.dropped, "reconnects": h.reconnects, "lag_s": h.lag_s,
                        "last_frame_age_s": age, "stale": stale})  # fmt: skip
        return out


class _Stopped(Exception):
    """The service is stopping: a camera pipeline ends its analysis."""


def _resolve(root: Path, text: str) -> Path:
    path = Path(text)
    return path if path.is_absolute() else root / path


def _jsonable(data: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps({k: v for k, v in data.items() if k not in drop}, default=str))
    return out


def _bind(call: Callable[[str], None], argument: str) -> Callable[[], None]:
    return lambda: call(argument)
