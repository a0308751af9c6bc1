"""The typed messages that cross the camera/service boundary, each with its natural key."""

from __future__ import annotations

from dataclasses import dataclass, field

from yingyan.incidents.engine import Incident, LaneInterval
from yingyan.incidents.events import Event


@dataclass(frozen=True)
class LaneStateRecord:
    """One lane's state over one interval, as the camera's ``lane_state.csv`` row holds it."""

    camera_id: str
    row: dict[str, str]

    @property
    def key(self) -> str:
        return f"lane:{self.camera_id}:{self.row.get('lane_id', '')}:{self.row.get('interval_start_s', '')}"

    @property
    def interval(self) -> LaneInterval:
        return LaneInterval.from_row(self.row)


@dataclass(frozen=True)
class EventReport:
    """An event raised, or its end (the same event id, with ``end_s``)."""

    event: Event
    evidence_root: str = ""  # folder the event's evidence paths are relative to

    @property
    def key(self) -> str:
        return f"event:{self.event.id}:{'end' if self.event.end_s is not None else 'open'}"


@dataclass(frozen=True)
class ClockTick:
    """A camera's stream clock: it has analysed everything up to ``time_s``."""

    camera_id: str
    time_s: float

    @property
    def key(self) -> str:
        return f"clock:{self.camera_id}:{self.time_s:.3f}"


@dataclass(frozen=True)
class CameraHealth:
    """A camera pipeline's health (its source's state and rates, and how far analysis lags)."""

    camera_id: str
    time_s: float  # stream time of the last analysed frame
    state: str  # connected, reconnecting, ended, failed
    fps_in: float
    fps_out: float
    dropped: int
    reconnects: int
    lag_s: float  # wall-clock seconds between a frame's arrival and the end of its analysis
    last_frame_wall: float | None = None  # wall-clock epoch of the last frame
    error: str = ""

    @property
    def key(self) -> str:
        return f"health:{self.camera_id}:{self.time_s:.3f}:{self.state}"


@dataclass(frozen=True)
class IncidentReport:
    """An incident as the engine holds it after a change (``revision`` counts its reports)."""

    incident: Incident
    revision: int
    run_key: str  # which engine run: ids are unique within one
    evidence_root: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"incident:{self.run_key}:{self.incident.id}:{self.revision}"


Message = LaneStateRecord | EventReport | ClockTick | CameraHealth | IncidentReport
