"""The incident engine: camera events and lane states of the whole network in, incidents out.

``IncidentEngine.update(time_s, events, states)`` takes what the camera pipelines published
up to ``time_s`` (events raised or ended, lane-state intervals completed) and returns the
incidents that were opened, changed or closed. One incident per cause:

- A cause a camera sees (stopped vehicle, crash, illegal parking, wrong way, pedestrian)
  opens an incident at once, placed where the event is; the same cause seen again (its track
  lost and found, or a second camera) joins it.
- Congestion at a camera joins the incident downstream that explains it: one at the same
  camera, or one the congestion has spread up to (its downstream neighbour is already
  affected, or the cause lies on the link to it). Congestion that nothing explains opens an
  incident of its own, at the *source*: the most downstream congested checkpoint whose
  downstream neighbour flows freely. When the head of the queue stands inside that camera's
  view, the cause is there; otherwise it lies on the link beyond it, which no camera sees,
  and its position is estimated from the backward wave (below).
- Such congestion is *abnormal* when its speed departs from the baseline for that lane and
  time of day; otherwise it is *recurrent* (a bottleneck's daily peak), recorded and not
  alerted. A cause seen later inside it makes it abnormal.

Where on an unseen link the cause lies: the blockage cuts the flow at once, which the
downstream checkpoint sees after the free-flow travel time, ``t_d = t0 + (x_D − x)/v``; the
queue grows back at the backward-wave speed ``w`` and reaches the upstream checkpoint's view at
``t1 = t0 + (x − x_S)/w``. Two equations give the position ``x`` and the onset ``t0``. ``w``
is measured from the spread between two congested checkpoints when there is one, else taken
from the triangular fundamental diagram and the flows measured on both sides.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from yingyan.incidents.baseline import Baseline, cold_start
from yingyan.incidents.detector import STANDING_TYPES
from yingyan.incidents.events import Event, EventType
from yingyan.incidents.network import Link, Network
from yingyan.incidents.rules import BLOCKAGE, CAUSE_TYPES, RECURRENT, IncidentRules
from yingyan.traffic.levels import RoadClass, default_thresholds

CONGESTION_TYPES = (EventType.CONGESTION, EventType.QUEUE_SPILLBACK)
JAM_DENSITY_VPKM = 1000.0 / 7.5  # per lane: one vehicle per 7.5 m standing
CONGESTED_WAVE_KMH = 18.0  # backward speed of the congested branch of the fundamental diagram
# Causes that are a vehicle standing in a lane, by how much they say: seen at one place, the higher wins.
STANDING_RANK = {EventType.STOPPED_VEHICLE.value: 1, EventType.CRASH.value: 2}


@dataclass(frozen=True)
class Incident:
    """One incident: one cause, the cameras it affects, and its timeline (stream seconds)."""

    id: str
    type: str  # the cause's event type, or "congestion" when the cause is not seen
    cause: str  # stopped_vehicle, crash, …; "blockage" (unseen); "recurrent"
    abnormal: bool
    camera_ids: tuple[str, ...]
    source_camera_id: str | None
    source_segment: str  # the camera that sees the source ("K3"), or the link it lies on ("K3>K4")
    source_position_m: float | None
    start_s: float
    alert_s: float | None
    end_s: float | None
    severity: int  # 1 minor … 4 critical
    lanes_blocked: int
    event_ids: tuple[str, ...]
    evidence: dict[str, str]
    timeline: tuple[tuple[float, str], ...]

    def to_json(self) -> dict[str, object]:
        """The incident as a JSON object (``incidents.jsonl``; docs/formats.md)."""
        return {
            "id": self.id,
            "type": self.type,
            "cause": self.cause,
            "abnormal": self.abnormal,
            "camera_ids": list(self.camera_ids),
            "source_camera_id": self.source_camera_id,
            "source_segment": self.source_segment,
            "source_position_m": None if self.source_position_m is None else round(self.source_position_m, 1),
            "start_s": round(self.start_s, 2),
            "alert_s": None if self.alert_s is None else round(self.alert_s, 2),
            "end_s": None if self.end_s is None else round(self.end_s, 2),
            "severity": self.severity,
            "lanes_blocked": self.lanes_blocked,
            "event_ids": list(self.event_ids),
            "evidence": dict(self.evidence),
            "timeline": [{"t_s": round(t, 2), "what": what} for t, what in self.timeline],
        }


@dataclass(frozen=True)
class LaneInterval:
    """One lane's state over one interval, as a camera pipeline publishes it (``lane_state.csv``)."""

    camera_id: str
    lane_id: str
    direction: str
    start_s: float
    interval_s: float
    flow_vph: float
    speed_kmh: float  # space-mean; NaN when no vehicle was measured
    density_vpkm: float
    level: int

    @classmethod
    def from_row(cls, row: dict[str, str]) -> LaneInterval:
        def num(key: str) -> float:
            text = row.get(key, "")
            return float(text) if text not in ("", None) else math.nan

        level = int(num("level")) if row.get("level") else 0
        return cls(
            row["camera_id"], row["lane_id"], row.get("direction", ""), num("interval_start_s"), num("interval_s"),
            num("flow_vph"), num("speed_space_mean_kmh"), num("density_vpkm"), level,
        )  # fmt: skip


@dataclass
class _Record:
    """An incident while the engine works on it."""

    id: str
    type: str
    cause: str
    abnormal: bool
    source_camera_id: str | None
    source_segment: str
    source_position_m: float | None
    start_s: float
    alert_s: float | None = None
    end_s: float | None = None
    camera_ids: list[str] = field(default_factory=list)
    events: dict[str, Event] = field(default_factory=dict)  # every event joined, latest report
    link: Link | None = None  # the unseen link the source lies on
    onsets: dict[str, float] = field(default_factory=dict)  # congestion onset per affected camera
    min_speed_kmh: float = math.inf  # slowest congestion joined
    queued: set[str] = field(default_factory=set)  # events of vehicles standing in its queue, not blocking
    evidence: dict[str, str] = field(default_factory=dict)
    timeline: list[tuple[float, str]] = field(default_factory=list)

    def open_events(self) -> list[Event]:
        return [e for e in self.events.values() if e.end_s is None]


class IncidentEngine:
    """``update(time_s, events, states) -> list[Incident]`` over one site's network."""

    def __init__(
        self,
        network: Network,
        rules: IncidentRules | None = None,
        baseline: Baseline | None = None,
        clock_start: datetime | None = None,
        road_classes: dict[str, RoadClass] | None = None,
    ) -> None:
        self.network = network
        self.rules = rules or IncidentRules()
        self.baseline = baseline
        self.clock_start = clock_start  # local time of stream second 0 (for the baseline's time of day)
        self._road_classes = road_classes or {}
        self._records: dict[str, _Record] = {}
        self._owner: dict[str, str] = {}  # event id -> incident id
        self._congestion: dict[str, dict[str, Event]] = {c: {} for c in network.checkpoints}  # open, per camera
        self._states: dict[str, list[LaneInterval]] = {c: [] for c in network.checkpoints}
        self._count = 0

    # -- the verb ------------------------------------------------------------------------------

    def update(
        self, time_s: float, events: Iterable[Event] = (), states: Iterable[LaneInterval] = ()
    ) -> list[Incident]:
        """Take what the cameras published up to ``time_s``; return the incidents opened, changed or closed."""
        for state in states:
            if state.camera_id in self._states:
                self._states[state.camera_id].append(state)
                del self._states[state.camera_id][:-240]  # four hours of minutes: enough for any estimate
        touched: set[str] = set()
        for event in sorted(events, key=lambda e: e.alert_s if e.end_s is None else e.end_s):
            if event.camera_id not in self.network.checkpoints:
                continue
            if event.end_s is not None:
                touched.update(self._ended(event))
            elif event.type in CAUSE_TYPES:
                touched.add(self._cause(event))
            elif event.type in CONGESTION_TYPES:
                touched.add(self._congested(event))
        touched.update(self._close(time_s))
        return [self._snapshot(self._records[i]) for i in sorted(touched)]

    @property
    def incidents(self) -> list[Incident]:
        """Every incident so far, in the order they were opened."""
        return [self._snapshot(r) for r in self._records.values()]

    # -- causes --------------------------------------------------------------------------------

    def _cause(self, event: Event) -> str:
        cam = self.network.checkpoints[event.camera_id]
        x = cam.chainage(event.position)
        queue = self._queue_of(event, x) if event.type is EventType.STOPPED_VEHICLE else None
        if queue is not None:
            # A vehicle standing in the queue of a cause further downstream: part of that incident.
            queue.timeline.append((event.alert_s, f"vehicle standing in the queue at {event.camera_id}"))
            self._join(queue, event)
            queue.queued.add(event.id)
            return queue.id
        record = self._same_cause(event, x) or self._explained_congestion(event, x)
        if record is None:
            record = self._new(event.type.value, event.type.value, True, event.camera_id, event.camera_id, x,
                               event.start_s)  # fmt: skip
            record.timeline.append((event.alert_s, f"{event.type.value} seen at {event.camera_id}"))
        elif record.cause in (BLOCKAGE, RECURRENT):
            # The congestion's cause comes into view: it is the incident's cause from now on.
            record.timeline.append((event.alert_s, f"cause seen at {event.camera_id}: {event.type.value}"))
            record.type = record.cause = event.type.value
            record.abnormal = True
            record.source_camera_id = record.source_segment = event.camera_id
            record.source_position_m = x
            record.link = None
            if record.alert_s is None or event.start_s <= record.alert_s:
                record.start_s = event.start_s  # the cause's own onset, not the estimate from the queue
        elif STANDING_RANK.get(event.type.value, 0) > STANDING_RANK.get(record.cause, 0):
            # What stood there is worse than first seen: the stopped vehicle was one of a crash.
            record.timeline.append((event.alert_s, f"{record.cause} is a {event.type.value} ({event.camera_id})"))
            record.type = record.cause = event.type.value
            record.start_s = min(record.start_s, event.start_s)
        else:
            record.timeline.append((event.alert_s, f"{event.type.value} also seen at {event.camera_id}"))
        self._join(record, event)
        if event.evidence and (record.cause == event.type.value or not record.evidence):
            record.evidence = dict(event.evidence)  # the cause's own pictures before the congestion's
        self._maybe_alert(record, event.alert_s)
        return record.id

    def _queue_of(self, event: Event, x: float) -> _Record | None:
        """The open incident whose queue a standing vehicle is in: its camera is congested because of a
        cause further downstream (an incident, or a bottleneck's recurrent peak: in a standing jam a
        vehicle that stands is one of the queue)."""
        cam = self.network.checkpoints[event.camera_id]
        owners = [self._records.get(self._owner.get(c.id, "")) for c in self._congestion[event.camera_id].values()]
        # …or an open incident whose queue has reached this camera already (a stop-and-go queue's congestion
        # report comes and goes; the queue is still there).
        owners += [r for r in self._open() if event.camera_id in r.camera_ids and r.source_camera_id != event.camera_id]
        for owner in owners:
            if owner is None or owner.end_s is not None or owner.source_position_m is None:
                continue
            if cam.sign * (owner.source_position_m - x) > self.rules.join_radius_m:
                return owner
        return None

    def _same_cause(self, event: Event, x: float) -> _Record | None:
        for record in self._open():
            same = record.cause == event.type.value or (
                event.type.value in STANDING_RANK and record.cause in STANDING_RANK
            )  # a stopped vehicle and a crash at one place are one cause
            if not same or record.source_position_m is None:
                continue
            if abs(record.source_position_m - x) <= self.rules.join_radius_m:
                return record
        return None

    def _explained_congestion(self, event: Event, x: float) -> _Record | None:
        """An open congestion incident this cause explains: its source is at this camera or on the link here.

        A lane blocked at a camera explains, too, the queue there whose head seemed beyond the view:
        the objects standing in the lane up to the view's end were that "queue".
        """
        camera_id = event.camera_id
        for record in self._open():
            if record.cause not in (BLOCKAGE, RECURRENT):
                continue
            if record.source_camera_id == camera_id and (record.link is None or event.type is EventType.LANE_BLOCKED):
                return record
            if record.link is not None and self.network.on_link(record.link, x):
                return record
        return None

    # -- congestion ----------------------------------------------------------------------------

    def _congested(self, event: Event) -> str:
        camera_id = event.camera_id
        first = not self._congestion[camera_id]
        self._congestion[camera_id][event.id] = event
        record = self._explaining(camera_id)
        if record is None:
            record = self._spread_past(event)
        if record is None:
            record = self._from_congestion(event)
        elif first or camera_id not in record.camera_ids:
            record.timeline.append((event.alert_s, f"congestion at {camera_id}"))
        record.onsets.setdefault(camera_id, event.start_s)
        self._join(record, event)
        if record.link is not None and record.cause == BLOCKAGE:
            self._place(record)
        self._maybe_alert(record, event.alert_s)
        return record.id

    def _explaining(self, camera_id: str) -> _Record | None:
        """The open incident that explains congestion at a camera: here, or downstream and spread up to it."""
        best: _Record | None = None
        for record in self._open():
            here = camera_id in record.camera_ids or record.source_camera_id == camera_id
            spread = any(
                lk.downstream in record.camera_ids
                or (record.source_position_m is not None and self.network.on_link(lk, record.source_position_m))
                for lk in self.network.downstream(camera_id)
            )
            if here or spread:
                if best is None or (record.abnormal and not best.abnormal):
                    best = record
        return best

    def _spread_past(self, event: Event) -> _Record | None:
        """An incident placed on the unseen link that ends at this camera, now that this camera congests too.

        Its source was the most downstream congested checkpoint whose downstream neighbour flowed;
        the neighbour is congested now (its report came a moment later, or the queue reaches it), so
        the source moves on to it: its view if the queue's head stands there, else the link beyond.
        """
        camera_id = event.camera_id
        for record in self._open():
            if record.link is None or record.link.downstream != camera_id or record.cause not in (BLOCKAGE, RECURRENT):
                continue
            moved = self._from_congestion(event, into=record)
            what = f"congestion at {camera_id} too: source moved on to {moved.source_segment}"
            moved.timeline.append((event.alert_s, what))
            return moved
        return None

    def _from_congestion(self, event: Event, into: _Record | None = None) -> _Record:
        """Congestion nothing explains: an incident at its source, abnormal or recurrent."""
        camera_id = event.camera_id
        cam = self.network.checkpoints[camera_id]
        head = cam.chainage(event.position)
        inside = cam.road_x_is_chainage and cam.sign * (cam.downstream_edge_m - head) >= self.rules.head_in_view_m
        free = [lk for lk in self.network.downstream(camera_id) if not self._congestion.get(lk.downstream)]
        abnormal = self._departs(event)
        if into is not None:
            # An incident moving downstream keeps what it was: abnormal once, abnormal still.
            abnormal = abnormal or into.abnormal
            into.cause = BLOCKAGE if abnormal else RECURRENT
            into.abnormal = abnormal
            into.source_camera_id = camera_id
            if inside or not free:
                into.source_segment, into.source_position_m, into.link = camera_id, head, None
            else:
                link = free[0]
                into.source_segment = f"{link.upstream}>{link.downstream}"
                into.source_position_m = self.network.along(link, self.network.gap_m(link) / 2.0)
                into.link = link
            return into
        cause = BLOCKAGE if abnormal else RECURRENT  # what blocks the road at the queue's head is not seen
        if inside or not free:
            record = self._new(EventType.CONGESTION.value, cause, abnormal, camera_id, camera_id, head, event.start_s)
        else:
            link = free[0]
            record = self._new(
                EventType.CONGESTION.value, cause, abnormal, camera_id, f"{link.upstream}>{link.downstream}",
                self.network.along(link, self.network.gap_m(link) / 2.0), event.start_s,
            )  # fmt: skip
            record.link = link
        kind = "abnormal" if abnormal else "recurrent"
        record.timeline.append((event.alert_s, f"{kind} congestion at {camera_id}, source {record.source_segment}"))
        if event.evidence:
            record.evidence = dict(event.evidence)
        return record

    def _departs(self, event: Event) -> bool:
        """Whether congestion is slower than usual at its lane and time of day."""
        speed = float(event.details.get("speed_kmh", math.nan))
        road_class = self._road_classes.get(event.camera_id, RoadClass.ARTERIAL)
        if self.baseline is None or self.clock_start is None or event.lane_id is None:
            expected = cold_start(road_class)
            return expected.departs(speed, self.rules.baseline_k, self.rules.baseline_min_drop_kmh)
        when = self.clock_start + timedelta(seconds=event.start_s)
        step = timedelta(minutes=self.baseline.bin_min)
        spread = int(self.rules.baseline_tolerance_min // self.baseline.bin_min)
        candidates = [
            self.baseline.expected(event.camera_id, event.lane_id, when + k * step, road_class)
            for k in range(-spread, spread + 1)
        ]
        usual = min(candidates, key=lambda e: e.speed_kmh)
        return usual.departs(speed, self.rules.baseline_k, self.rules.baseline_min_drop_kmh)

    # -- where on an unseen link ---------------------------------------------------------------

    def _place(self, record: _Record) -> None:
        """Estimate where on its link an unseen cause lies, and when it began (module docstring)."""
        link = record.link
        assert link is not None
        up = link.upstream
        t1 = record.onsets.get(up)
        if t1 is None:
            return
        gap = self.network.gap_m(link)
        v = self._free_speed(up)
        w = self._wave_speed(record, link)
        t_d = self._flow_cut(link.downstream, t1 - gap / max(w, 0.5) - 120.0, t1 + 60.0)
        if t_d is None:
            a = gap / 2.0
        else:
            a = (t1 - t_d + gap / v) / (1.0 / w + 1.0 / v)
        beyond = a - gap
        a = float(np.clip(a, 0.0, gap))
        position = self.network.along(link, a)
        if t_d is not None and beyond >= self.rules.in_view_beyond_m:
            # The timing puts the cause past the link's end, inside the downstream camera's view, where its
            # detectors missed it (a far stall in rain): the source is that view, and the flow was cut
            # there at once, so the cut is the onset (the backward wave would date it from the clipped place).
            if record.source_segment != link.downstream:
                record.timeline.append((t1, f"source estimated in {link.downstream}'s view, not seen by its detectors"))
            record.source_segment = record.source_camera_id = link.downstream
            record.source_position_m = position
            record.start_s = t_d
            return
        if record.source_position_m is None or abs(position - record.source_position_m) >= 10.0:
            record.timeline.append((t1, f"source estimated {a:.0f} m past {up}'s view (wave {w * 3.6:.0f} km/h)"))
        record.source_segment, record.source_camera_id = f"{link.upstream}>{link.downstream}", up
        record.source_position_m = position
        record.start_s = t1 - a / w

    def _free_speed(self, camera_id: str) -> float:
        speeds = [s.speed_kmh for s in self._states[camera_id][-10:] if not math.isnan(s.speed_kmh)]
        return max(float(np.median(speeds)) / 3.6, 5.0) if speeds else 13.9

    def _wave_speed(self, record: _Record, link: Link) -> float:
        """The backward-wave speed (m/s): measured between two congested checkpoints, else from flows."""
        source = link.upstream
        t1 = record.onsets[source]
        for lk in self.network.upstream(source):
            t2 = record.onsets.get(lk.upstream)
            if t2 is not None and t2 > t1 + 5.0:
                return float(np.clip(lk.distance_m / (t2 - t1), 0.5, 8.0))
        before = [s for s in self._states[source] if s.start_s + s.interval_s <= t1]
        lanes = {s.lane_id for s in before} or {"?"}
        q_up = _total_flow(before[-3 * len(lanes) :]) / 3600.0  # veh/s over the carriageway
        k_up = sum(s.density_vpkm for s in before[-len(lanes) :] if not math.isnan(s.density_vpkm)) / 1000.0
        q_cut = q_up * self.rules.flow_drop
        k_jam = JAM_DENSITY_VPKM * len(lanes) / 1000.0
        k_queue = k_jam - q_cut / (CONGESTED_WAVE_KMH / 3.6)
        if q_up <= 0 or k_queue <= k_up:
            return 2.5
        return float(np.clip((q_up - q_cut) / (k_queue - k_up), 0.5, 8.0))

    def _flow_cut(self, camera_id: str, after: float, before: float) -> float | None:
        """When a checkpoint's flow fell below its usual share (interpolated inside the interval)."""
        per_start = _carriageway_flows(self._states.get(camera_id, []))
        starts = sorted(per_start)
        flows = [per_start[t] for t in starts]
        for i in range(3, len(starts)):
            if not after - 60.0 <= starts[i] <= before:
                continue
            usual = float(np.median(flows[max(0, i - 5) : i]))
            if usual <= 0 or flows[i] >= self.rules.flow_drop * usual:
                continue
            # Within the interval the flow stepped from ``usual`` to the next interval's level.
            width = starts[i] - starts[i - 1]
            after_level = flows[i + 1] if i + 1 < len(flows) else flows[i]
            if usual - after_level <= 0:
                return starts[i]
            before = float(np.clip((flows[i - 1] - after_level) / (usual - after_level), 0.0, 1.0))
            if before < 0.9:
                # The interval before was cut already, not enough to pass the drop: the step lies in it.
                return starts[i - 1] + before * width
            share = float(np.clip((flows[i] - after_level) / (usual - after_level), 0.0, 1.0))
            return starts[i] + share * width
        return None

    # -- lifecycle -----------------------------------------------------------------------------

    def _ended(self, event: Event) -> set[str]:
        self._congestion.get(event.camera_id, {}).pop(event.id, None)
        owner = self._owner.get(event.id)
        if owner is None:
            return set()
        record = self._records[owner]
        record.events[event.id] = event
        record.timeline.append((event.end_s or 0.0, f"{event.type.value} ended at {event.camera_id}"))
        return {owner}

    def _close(self, time_s: float) -> set[str]:
        closed = set()
        for record in self._open():
            if record.events and not record.open_events():
                last = max(e.end_s or time_s for e in record.events.values())
                if time_s - last >= self.rules.hold_s:
                    record.end_s = last
                    record.timeline.append((last, "closed"))
                    closed.add(record.id)
        return closed

    def _open(self) -> list[_Record]:
        return [r for r in self._records.values() if r.end_s is None]

    def _new(
        self, kind: str, cause: str, abnormal: bool, camera_id: str, segment: str, x: float | None, start_s: float
    ) -> _Record:
        self._count += 1
        record = _Record(f"INC-{self._count:04d}", kind, cause, abnormal, camera_id, segment, x, start_s)
        self._records[record.id] = record
        return record

    def _join(self, record: _Record, event: Event) -> None:
        record.events[event.id] = event
        self._owner[event.id] = record.id
        if event.camera_id not in record.camera_ids:
            record.camera_ids.append(event.camera_id)
        record.min_speed_kmh = min(record.min_speed_kmh, float(event.details.get("speed_kmh", math.inf)))

    def _maybe_alert(self, record: _Record, time_s: float) -> None:
        if record.alert_s is None and record.abnormal and record.cause in self.rules.alert_types:
            record.alert_s = time_s
            record.timeline.append((time_s, f"alert: {record.cause} at {record.source_segment}"))

    def _severe_below(self, record: _Record) -> float:
        """The speed (km/h) at or below which the source's road class is severely congested."""
        road_class = self._road_classes.get(record.source_camera_id or "", RoadClass.ARTERIAL)
        return default_thresholds(road_class).moderate_above

    def _snapshot(self, record: _Record) -> Incident:
        standing = {
            e.lane_id for e in record.events.values()
            if (e.type in STANDING_TYPES or e.type is EventType.LANE_BLOCKED) and e.lane_id
            and e.id not in record.queued
        }  # fmt: skip
        return Incident(
            id=record.id,
            type=record.type,
            cause=record.cause,
            abnormal=record.abnormal,
            camera_ids=tuple(record.camera_ids),
            source_camera_id=record.source_camera_id,
            source_segment=record.source_segment,
            source_position_m=record.source_position_m,
            start_s=record.start_s,
            alert_s=record.alert_s,
            end_s=record.end_s,
            severity=_severity(record, len(standing), self._severe_below(record)),
            lanes_blocked=len(standing),
            event_ids=tuple(record.events),
            evidence=dict(record.evidence),
            timeline=tuple(sorted(record.timeline)),
        )


SEVERITY_BASE = {"crash": 3, "wrong_way": 3, "pedestrian": 2, "stopped_vehicle": 2, "lane_blocked": 2, BLOCKAGE: 2}


def _severity(record: _Record, lanes_blocked: int, severe_below_kmh: float) -> int:
    """1 minor … 4 critical: the cause's kind, raised by lanes blocked, severe congestion and spread."""
    if not record.abnormal:
        return 1
    level = SEVERITY_BASE.get(record.cause, 1)
    level += 1 if lanes_blocked >= 2 or record.min_speed_kmh <= severe_below_kmh else 0
    level += 1 if len(record.camera_ids) >= 3 else 0
    return min(level, 4)


def _carriageway_flows(states: Sequence[LaneInterval]) -> dict[float, float]:
    """Flow (veh/h) summed over the lanes, per interval start."""
    per: dict[float, float] = {}
    for s in states:
        per[s.start_s] = per.get(s.start_s, 0.0) + (0.0 if math.isnan(s.flow_vph) else s.flow_vph)
    return per


def _total_flow(states: Sequence[LaneInterval]) -> float:
    """Mean carriageway flow (veh/h) over the intervals given."""
    per = _carriageway_flows(states)
    return float(np.mean(list(per.values()))) if per else 0.0
