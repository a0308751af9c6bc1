"""Per-camera event detectors on the tracks placed on the road: stopped vehicle, illegal parking,
crash, lane blocked (cones, barriers), wrong way, pedestrian, congestion and queue spill-back.

``CameraEvents.update(time_s, points, queues)`` takes one analysed frame (the lane meter's
track points and standing queues) and returns the events that were raised or ended in it.
Each event is reported when it is raised and once more when it ends, under the same id.

A standing vehicle raises one event, however long it stands and however often its track is
lost and found again: an event belongs to a place on the road as well as to a track, and a
track standing where an open event stands joins that event.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from yingyan.calibration import CameraCalibration
from yingyan.incidents.events import Event, EventType
from yingyan.incidents.rules import EventRules
from yingyan.perception.classes import PERSON
from yingyan.traffic.levels import congestion_level, default_thresholds
from yingyan.traffic.meter import CLASS_LENGTH_M, TrackPoint, carriageways
from yingyan.traffic.stitch import slope

TRACK_GONE_S = 2.0  # a wrong-way event ends when its track has not been seen for this long
PLACE_CLEAR_S = 5.0  # a standing event ends when nothing has stood at its place for this long
BRAKE_WINDOW_S = 4.0  # a hard stop is judged on the last seconds of a track's speed
CRASH_TOGETHER_S = 3.0  # vehicles of one crash come to rest within this time of each other
VIEW_EDGE_M = 5.0  # standing this close to either end of the measured stretch is not judged
AWAY_S = 5.0  # a standing vehicle measured off its place this long has moved (blobs merge for seconds)
PLACE_RADIUS_M = 3.0  # what the detector sees standing at one place stays this close (as a standing track)
PLACE_GAP_S = 15.0  # …and is seen there again within this long (a far car in rain is lost for seconds at a time)
DRIVING_OFF_S = 1.0  # …and one moving off its place this long has left it for whatever stops there next
HANDOVER_S = 10.0  # a new track standing where another came to rest this recently is the same vehicle
STANDING_TYPES = (EventType.STOPPED_VEHICLE, EventType.ILLEGAL_PARKING, EventType.CRASH)
WRONG_WAY_MARGIN_M = 1.0  # a wrong-way vehicle is this far inside its lane (centred: 1.75 m), not on its edge
CRASH_FRESH_S = 20.0  # a crash is judged within this long after its dwell; later, what stands is a stopped vehicle
HEAD_CHECK_S = 1.0  # how often a standing vehicle is checked for waiting behind another
QUEUED_RESET_S = 2.0  # waiting behind another this long, a standing vehicle's dwell clock restarts
THROUGH_M = 2.0  # a vehicle measured this close along its lane to a standing thing's place drove through it
THROUGH_KMH = 20.0  # ... at this speed or more
THROUGH_SAMPLES = 3  # ... in this many frames (a standing vehicle's own measured speed jitters for a frame)
OBJECT_RADIUS_M = 0.6  # a small standing object (a cone) is measured at its place to within this (a jam creeps)
OBJECT_GONE_S = 30.0  # a small object not seen for this long is gone (cones hide behind passing vehicles)
OBJECT_SPACING_M = 2.0  # objects of a row stand at least this far apart along the lane (not two lamps of one car)
HOLD_S = 4.0  # a track whose measured place has not moved over this long stands, however much its box jitters
HOLD_MIN_SPAN_S = 3.0  # ... judged once the track has been seen over at least this long
PLACE_HELD_S = 2.0  # a track standing this long at its place stands for the place (per-frame detectors)


@dataclass
class _Standing:
    """A track that stands still: where it stopped and since when."""

    anchor: tuple[float, float]
    since: float  # this track stands since
    last_seen: float
    abrupt: bool = False  # came to rest by braking hard
    onset: float = math.nan  # when the vehicle came to rest (earlier than ``since`` after a hand-over)
    away_since: float | None = None  # measured off its place since
    head_since: float | None = None  # not queued behind another vehicle since
    queued_since: float | None = None  # queued behind another vehicle since
    next_head_check: float = -math.inf
    event: str | None = None  # id of the event it raised or joined
    driven_through: int = 0  # frames in which a moving vehicle was measured where it stands
    place: _Place | None = None  # the place it stands for (per-frame detectors), vacated when it drives off


@dataclass
class _Place:
    """A place on the road where something has stood without a break (whatever its tracks)."""

    anchor: tuple[float, float]
    since: float
    last_seen: float
    vacated: bool = False  # a vehicle standing here was seen driving off
    # Where tracks that held their place stood (a per-frame detector's broken tracks of one vehicle):
    # the dwell clock of the vehicle, whatever its tracks, and what its tracks found about it.
    held_since: float = math.inf
    head_since: float | None = None
    driven_through: int = 0


@dataclass
class _Object:
    """A small object standing at one place in a lane (a cone, a barrier, debris), whatever its tracks."""

    anchor: tuple[float, float]
    lane: tuple[str, int]  # carriageway and lane number
    first: float
    last_seen: float


@dataclass
class _Open:
    """An open event and when its condition last held."""

    event: Event
    last_seen: float


@dataclass
class _LaneCondition:
    """Congestion bookkeeping of one lane."""

    since: float | None = None
    last_true: float = -math.inf
    event: str | None = None
    spill_since: float | None = None
    spill_event: str | None = None
    spill_last: float = -math.inf


@dataclass
class _Walker:
    """A person on the carriageway."""

    first: float
    last_seen: float
    event: str | None = None


@dataclass
class _Sample:
    t: float
    way: str
    lane: int
    along: float
    speed_kmh: float


@dataclass
class _Trail:
    samples: deque[tuple[float, float]] = field(default_factory=deque)  # (t, along its own travel)
    event: str | None = None
    last_seen: float = 0.0


class CameraEvents:
    """``update(time_s, points, queues) -> list[Event]`` for one camera."""

    def __init__(
        self,
        calibration: CameraCalibration,
        rules: EventRules | None = None,
        stationary_after_s: float = 0.0,
        marks_stationary: bool = False,
    ) -> None:
        self.calibration = calibration
        self.rules = rules or EventRules()
        # A track the detector reports stationary from its first frame stood at least this long already
        # (the motion detector's latency; see MotionDetector.stationary_after_s).
        self.stationary_after_s = stationary_after_s
        # Whether the detector says itself what stands (the motion detector's slow background model). A
        # per-frame detector does not: there a track stands when its measured place holds over seconds
        # (a far vehicle's box jitters by metres from frame to frame), and its tracks, broken by missed
        # detections, hand the vehicle's dwell on at the place where it stands.
        self.marks_stationary = marks_stationary or stationary_after_s > 0
        self.camera_id = calibration.camera_id
        self._ways = {way.name: way for way in carriageways(calibration)}
        self._lane_ids = {
            (way.name, number): lane_id for way in self._ways.values() for number, lane_id in way.lanes.lane_ids.items()
        }
        self._thresholds = default_thresholds(calibration.road_class)
        self._zones = [(zone.kind, np.asarray(zone.polygon_road, dtype=np.float32)) for zone in calibration.zones]
        self._standing: dict[int, _Standing] = {}
        self._trails: dict[int, _Trail] = {}
        self._open: dict[str, _Open] = {}
        self._lanes: dict[str, _LaneCondition] = {}
        self._history: deque[_Sample] = deque()
        self._speeds: dict[int, deque[tuple[float, float]]] = {}  # recent (t, |speed| m/s) per track
        self._held: dict[int, deque[tuple[float, float, float]]] = {}  # recent (t, x, y) on the road per track
        self._first_seen: dict[int, float] = {}
        self._rested: deque[tuple[tuple[float, float], float, float]] = deque()  # (place, onset, last seen)
        self._places: list[_Place] = []  # where something has stood lately (bounded: gone after PLACE_GAP_S)
        self._walkers: dict[int, _Walker] = {}  # people on the carriageway
        self._objects: list[_Object] = []  # small objects standing in lanes (bounded: gone after OBJECT_GONE_S)
        self._blocked: dict[tuple[str, int], str] = {}  # lane -> its open lane-blocked event
        self._standing_cars: deque[tuple[float, tuple[str, int], float]] = deque()  # (t, lane, along), recent
        self._still_mps = self.rules.still_speed_kmh / 3.6

    # -- helpers -----------------------------------------------------------------------------

    def _along(self, p: TrackPoint) -> float:
        return self._along_road(p.direction, p.road)

    def _along_road(self, direction: str, road: tuple[float, float]) -> float:
        way = self._ways.get(direction)
        travel = way.travel if way is not None else next(iter(self._ways.values())).travel
        return float(np.asarray(road) @ travel)

    def _zone_kind(self, road: tuple[float, float]) -> str | None:
        for kind, poly in self._zones:
            if cv2.pointPolygonTest(poly, (float(road[0]), float(road[1])), False) >= 0:
                return kind
        return None

    def _lane_margin(self, p: TrackPoint) -> float:
        """How far inside its lane (m) a point stands: the distance to the lane polygon's edge."""
        way = self._ways.get(p.direction)
        if way is None:
            return 0.0
        for number, poly in way.polygons:
            if number == p.lane:
                return float(cv2.pointPolygonTest(poly, (float(p.road[0]), float(p.road[1])), True))
        return 0.0

    def _raise(
        self,
        kind: EventType,
        key: str,
        start_s: float,
        alert_s: float,
        position: tuple[float, float],
        lane_id: str | None,
        track_ids: tuple[int, ...] = (),
        details: dict[str, float] | None = None,
    ) -> Event:
        """A new event, open from now on; its id is its natural key (camera, type, key, start)."""
        event = Event(
            id=f"{self.camera_id}-{kind.value}-{key}-{int(round(start_s * 10))}",
            type=kind,
            camera_id=self.camera_id,
            lane_id=lane_id,
            start_s=start_s,
            alert_s=alert_s,
            position=position,
            track_ids=track_ids,
            details=details or {},
        )
        self._open[event.id] = _Open(event, alert_s)
        return event

    def _end(self, event_id: str | None, end_s: float) -> list[Event]:
        """The end report of an open event (nothing if it is not open)."""
        if event_id is None or event_id not in self._open:
            return []
        return [replace(self._open.pop(event_id).event, end_s=end_s)]

    # -- the verb ------------------------------------------------------------------------------

    def update(
        self, time_s: float, points: list[TrackPoint], queues: list[tuple[str, np.ndarray, float]] | None = None
    ) -> list[Event]:
        """Record one analysed frame; return the events raised or ended in it."""
        out: list[Event] = []
        for p in points:
            if p.lane > 0:
                self._history.append(_Sample(p.t, p.direction, p.lane, self._along(p), abs(p.speed) * 3.6))
            self._first_seen.setdefault(p.track, p.t)
            speeds = self._speeds.setdefault(p.track, deque())
            speeds.append((p.t, abs(p.speed)))
            while speeds[0][0] < p.t - BRAKE_WINDOW_S:
                speeds.popleft()
            if not self.marks_stationary:
                held = self._held.setdefault(p.track, deque())
                held.append((p.t, p.road[0], p.road[1]))
                while held[0][0] < p.t - HOLD_S:
                    held.popleft()
        for track in [k for k, v in self._speeds.items() if v[-1][0] < time_s - 60.0]:
            del self._speeds[track], self._first_seen[track]
            self._held.pop(track, None)
        while self._history and self._history[0].t < time_s - max(
            self.rules.speed_window_s, self.rules.stopped_dwell_s
        ):
            self._history.popleft()
        out += self._blocked_lanes(time_s, points)
        out += self._standing_vehicles(time_s, points)
        out += self._wrong_way(time_s, points)
        out += self._pedestrians(time_s, points)
        out += self._congestion(time_s, queues or [])
        return out

    # -- stopped vehicles and illegal parking ---------------------------------------------------

    def _standing_vehicles(self, t: float, points: list[TrackPoint]) -> list[Event]:
        out: list[Event] = []
        seen = set()
        for p in points:
            seen.add(p.track)
            st = self._standing.get(p.track)
            holds = self._holds_place(p.track)
            still = abs(p.speed) < self._still_mps or holds
            if st is not None and holds:
                # Where a per-frame detector's track stands is where its jittering place has held lately
                # (a near car's box flips between two fits metres apart; the first one is no better). Held
                # farther off, it has moved: it comes to rest anew below.
                held_at = self._held_median(p.track)
                if math.dist(held_at, st.anchor) <= self.rules.still_radius_m:
                    st.anchor = held_at
            if st is not None and math.dist(p.road, st.anchor) <= self.rules.still_radius_m:
                st.away_since = None  # still standing: a far vehicle's place jitters by a metre, its speed with it
            elif st is not None and (st.away_since is None or p.t - st.away_since < AWAY_S):
                # Off its place for a moment (a passing vehicle's blob merged with it): not yet gone.
                st.away_since = p.t if st.away_since is None else st.away_since
                if not still and p.t - st.away_since >= DRIVING_OFF_S:
                    self._vacated(st)  # driving off, it seems: what stops here next is another vehicle
                continue
            elif still:
                st = self._standing[p.track] = self._came_to_rest(p, t, holds)
            else:
                left = self._standing.pop(p.track, None)
                if left is not None and left.last_seen - left.since >= 1.0:
                    self._rested.append((left.anchor, left.onset, left.last_seen))
                if left is not None:
                    self._vacated(left)
                continue
            st.last_seen = p.t
            self._count_through(p, st, points)
            if p.stationary:  # the detector's own word that it stands, not only a slow measured speed
                self._stood(st.anchor, st.onset, p.t)
            elif not self.marks_stationary and p.t - st.since >= PLACE_HELD_S:
                self._stood(st.anchor, st.onset, p.t, st)  # it held its place: it stands for the place
            # A track standing where an open event stands keeps that event alive (and joins it).
            for key, op in self._open.items():
                if op.event.type in STANDING_TYPES and (
                    math.dist(op.event.position, p.road) <= 2 * self.rules.still_radius_m
                ):
                    op.last_seen = t
                    st.event = st.event or key
            if st.event is not None:
                continue
            if p.small and len(self._row_of(p, self._objects)) >= self.rules.blocked_objects:
                continue  # one of a row of cones or barriers, not a vehicle: the lane-blocked rule's
            kind = self._standing_kind(p)
            if kind is None or not self._fully_in_view(p):
                continue
            fresh = p.t - st.onset <= self.rules.crash_dwell_s + CRASH_FRESH_S
            crashed = self._crash_partners(p, st) if kind is EventType.STOPPED_VEHICLE and fresh else None
            if crashed is not None:
                # Vehicles that stopped hard together: a crash at once; one alone waits as long as
                # any stopped vehicle (a hard stop at a red light is no crash).
                kind, dwell = EventType.CRASH, self.rules.crash_dwell_s if crashed else self.rules.stopped_dwell_s
            elif kind is EventType.ILLEGAL_PARKING:
                dwell = self.rules.parking_dwell_s
            else:
                dwell = self.rules.stopped_dwell_s
            may_be_queued = kind is EventType.STOPPED_VEHICLE or (kind is EventType.CRASH and not crashed)
            if may_be_queued:
                # The dwell counts while it is not simply queued: a vehicle that waited in a queue
                # and finds the road ahead clear moves off within seconds.
                self._check_head(st, p, points)
                if st.head_since is None or p.t - st.head_since < dwell - HEAD_CHECK_S:
                    continue
            if p.t - st.since < dwell:
                continue
            if may_be_queued and not self._heads_its_queue(p, points):
                continue
            if st.driven_through >= THROUGH_SAMPLES:
                continue  # vehicles drove through where it stands: a ghost of the background, not a vehicle
            tracks = (p.track, *(crashed or ()))
            event = self._raise(
                kind, f"t{p.track}", st.onset, t, p.road, self._lane_ids.get((p.direction, p.lane)), tracks,
                {"dwell_s": t - st.since, "abrupt": float(st.abrupt)},
            )  # fmt: skip
            for track in tracks:
                if track in self._standing:
                    self._standing[track].event = event.id
            out.append(event)
        for track in list(self._standing):
            if track not in seen and t - self._standing[track].last_seen > 60.0:
                del self._standing[track]  # bounded memory on a stream that runs for weeks
        for key, op in list(self._open.items()):
            if op.event.type in STANDING_TYPES and t - op.last_seen > PLACE_CLEAR_S:
                out += self._end(key, op.last_seen)
        return out

    def _came_to_rest(self, p: TrackPoint, t: float, holds: bool = False) -> _Standing:
        """A track that has just come to rest, or a new track for what already stood there.

        The motion detector hands a vehicle that stops from its moving to its stationary model,
        and the tracker often gives it a new id: the new track stands where the old one came to
        rest a moment ago, and it inherits when (and how) that vehicle stopped, for the event's
        onset and cause.
        """
        anchor = self._held_median(p.track) if holds else p.road  # a per-frame detector's: over the seconds held
        here = _Standing(anchor=anchor, since=p.t, last_seen=p.t, abrupt=self._braked_hard(p.track, p.t), onset=p.t)
        if p.stationary and self._first_seen.get(p.track, p.t) >= p.t:
            here.onset = p.t - self.stationary_after_s  # seen first standing: it has stood a while already
        spot = self._place_at(p.road, t)
        if spot is not None and spot.since < here.onset:
            # Something has stood here without a break (tracks lost and found in rain, at the far end
            # of a view, or a blob that merged with a passing vehicle for a moment): since then.
            here.onset = spot.since
        first_seen = self._first_seen.get(p.track, p.t)
        if p.t - first_seen > HANDOVER_S:
            return here  # a track that drove here came to rest itself: nothing more to inherit
        came_fast = max((v for _, v in self._speeds.get(p.track, ())), default=0.0) * 3.6 >= self.rules.crash_from_kmh
        # A track that came in fast came to rest itself, unless it is a blob that leapt onto what stood
        # here (a crash's two vehicles merging into one): then it replaces a standing track that was gone
        # before it was first seen. One that drove up while the other still stood does not.
        gone_by = first_seen if came_fast else t
        while self._rested and t - self._rested[0][2] > HANDOVER_S:
            self._rested.popleft()
        for place, onset, _ in () if came_fast else self._rested:
            # A track that stood here until its measured place jittered away a moment ago.
            if math.dist(place, p.road) <= self.rules.still_radius_m and onset < here.onset:
                here.onset = onset
        for track, other in self._standing.items():
            if (
                track != p.track
                and other.last_seen < gone_by  # gone: the track it replaces
                and t - other.last_seen <= HANDOVER_S
                and math.dist(other.anchor, p.road) <= self.rules.still_radius_m
                and other.onset < here.onset
            ):
                # Only when and how it stopped: the dwell still counts from this track's own
                # start (in a dense queue, new tracks stand up where others stood a moment ago).
                here.onset, here.abrupt = other.onset, other.abrupt or here.abrupt
        return here

    def _place_at(self, road: tuple[float, float], t: float) -> _Place | None:
        """The place where something has stood without a break, near ``road`` (none if vacated or gone)."""
        self._places = [pl for pl in self._places if t - pl.last_seen <= PLACE_GAP_S]
        near = [pl for pl in self._places if math.dist(pl.anchor, road) <= PLACE_RADIUS_M and not pl.vacated]
        return min(near, key=lambda pl: pl.since) if near else None

    def _stood(self, road: tuple[float, float], onset: float, t: float, held: _Standing | None = None) -> None:
        """Record that something stands at ``road`` (since ``onset``) now; ``held``: a track that held it."""
        place = self._place_at(road, t)
        if place is None:
            place = _Place(road, onset, t)
            self._places.append(place)
        else:
            place.last_seen, place.since = t, min(place.since, onset)
        if held is not None:
            if place.held_since < held.since:
                # A vehicle whose tracks held this place without a break, and this track, standing here
                # in its turn, is it again: the dwell goes on (a per-frame detector's tracks of a far or
                # partly hidden vehicle last seconds). What only passed through here joins nothing.
                held.since, held.head_since = place.held_since, place.head_since
                held.driven_through = max(held.driven_through, place.driven_through)
            held.place, place.anchor = place, held.anchor  # a creeping vehicle's place goes with it
            place.held_since = held.since
            place.head_since = held.head_since  # queued behind another now, or not
            place.driven_through = held.driven_through

    def _holds_place(self, track: int) -> bool:
        """Whether a track of a per-frame detector has held its measured place over the last seconds.

        A far vehicle's box jitters by a few pixels, metres on the road, and its speed, fitted over a
        second, with it; over ``HOLD_S`` its place's drift is what it moves."""
        held = self._held.get(track)
        if held is None or held[-1][0] - held[0][0] < HOLD_MIN_SPAN_S:
            return False
        t, x, y = (np.asarray(c) for c in zip(*held, strict=True))
        return math.hypot(slope(t, x), slope(t, y)) < self._still_mps

    def _held_median(self, track: int) -> tuple[float, float]:
        """Where a track that holds its place stands: the median of its places over the seconds it held it."""
        _, x, y = (np.asarray(c) for c in zip(*self._held[track], strict=True))
        return float(np.median(x)), float(np.median(y))

    def _vacated(self, st: _Standing) -> None:
        """A standing vehicle was seen driving off: what stands at its place next is another."""
        for pl in self._places:
            if pl is st.place or math.dist(pl.anchor, st.anchor) <= PLACE_RADIUS_M:
                pl.vacated = True

    def _braked_hard(self, track: int, t: float) -> bool:
        """Whether a track that has just come to rest was moving fast a moment before (a hard stop).

        Fast means fast on two successive samples: one alone can be a box that jumped for a frame."""
        speeds = list(self._speeds.get(track, ()))
        fast = self.rules.crash_from_kmh / 3.6
        for (_, before), (ts, v) in reversed(list(itertools.pairwise(speeds))):
            if before >= fast and v >= fast:
                return v / max(t - ts, 1e-3) >= self.rules.crash_decel_mps2
        return False

    def _crash_partners(self, p: TrackPoint, st: _Standing) -> tuple[int, ...] | None:
        """Tracks that crashed with this one: all stopped hard, close together, at about the same time.

        ``None`` when this is no crash; no partners when one vehicle stopped hard on its own (a
        crash too, if it heads its queue: crashed vehicles often show as one blob, and a vehicle
        that breaks down rolls to a stop).
        """
        partners = tuple(
            track
            for track, other in self._standing.items()
            if track != p.track
            and abs(other.since - st.since) <= CRASH_TOGETHER_S
            and math.dist(other.anchor, st.anchor) <= self.rules.crash_distance_m
            and st.abrupt
            and other.abrupt
        )
        if partners:
            return partners
        if st.abrupt:
            return ()  # one vehicle (or two the detector sees as one) stopped hard in a travel lane
        return None

    def _count_through(self, p: TrackPoint, st: _Standing, points: list[TrackPoint]) -> None:
        """Count the moving vehicles measured in a standing thing's lane right where it stands (this frame).

        Nothing drives through a vehicle; a platoon drives through the ghost that a polluted
        background leaves on empty road.
        """
        along = self._along(p)
        st.driven_through += sum(
            1
            for q in points
            if q.track != p.track
            and q.direction == p.direction
            and q.lane == p.lane
            and abs(q.speed) * 3.6 >= THROUGH_KMH
            and abs(self._along(q) - along) <= THROUGH_M
        )

    def _fully_in_view(self, p: TrackPoint) -> bool:
        """Whether a vehicle is inside its measured stretch, not at an end where the frame cuts it.

        A vehicle leaving the frame shows less and less of itself; its measured place stalls at
        the frame's edge as if it had stopped there.
        """
        way = self._ways.get(p.direction)
        if way is None:
            return True
        along = self._along(p)
        return way.stretch.lo_m + VIEW_EDGE_M <= along <= way.stretch.hi_m - VIEW_EDGE_M

    def _standing_kind(self, p: TrackPoint) -> EventType | None:
        """What standing here is: a stopped vehicle (travel lane), illegal parking, or nothing (parking)."""
        if p.class_id == PERSON:
            return None
        zone = self._zone_kind(p.road)
        if zone == "parking":
            return None
        lane_id = self._lane_ids.get((p.direction, p.lane))
        if zone == "no_parking" or (lane_id is not None and lane_id in self.rules.no_parking_lanes):
            return EventType.ILLEGAL_PARKING
        return EventType.STOPPED_VEHICLE if p.lane > 0 else None

    def _check_head(self, st: _Standing, p: TrackPoint, points: list[TrackPoint]) -> None:
        """Once a second: whether a standing vehicle waits behind another, and since when it has not."""
        if p.t < st.next_head_check:
            return
        st.next_head_check = p.t + HEAD_CHECK_S
        if not self._queued_behind(p, points):
            st.head_since = p.t if st.head_since is None else st.head_since
            st.queued_since = None
        else:
            st.queued_since = p.t if st.queued_since is None else st.queued_since
            if p.t - st.queued_since >= QUEUED_RESET_S:
                st.head_since = None  # queued behind another for a while: its clock starts again

    def _queued_behind(self, p: TrackPoint, points: list[TrackPoint]) -> bool:
        """Whether a standing vehicle waits behind a vehicle that stands or creeps close ahead in its lane."""
        front = self._along(p) + CLASS_LENGTH_M.get(p.class_id, 4.6) / 2
        for q in points:
            if q.track == p.track or q.direction != p.direction or q.lane != p.lane:
                continue
            gap = self._along(q) - CLASS_LENGTH_M.get(q.class_id, 4.6) / 2 - front
            if -1.0 < gap <= self.rules.queue_gap_m and abs(q.speed) * 3.6 < self.rules.flowing_kmh:
                return True
        return False

    def _heads_its_queue(self, p: TrackPoint, points: list[TrackPoint]) -> bool:
        """Whether a standing vehicle is the cause, not a member, of the standing traffic.

        Queued behind a standing or creeping vehicle close ahead in its lane: not the cause. Otherwise it is
        when the camera sees the road ahead of it (so it heads its queue) or when the traffic
        beside it flows past.
        """
        way = self._ways[p.direction]
        along = self._along(p)
        front = along + CLASS_LENGTH_M.get(p.class_id, 4.6) / 2
        if self._queued_behind(p, points):
            return False
        if front + self.rules.look_ahead_m <= way.stretch.hi_m:
            return True
        beside = [
            s.speed_kmh
            for s in self._history
            if s.way == p.direction
            and s.lane != p.lane
            and abs(s.along - along) <= 50.0
            and s.t >= p.t - self.rules.stopped_dwell_s
        ]
        return bool(beside) and float(np.mean(beside)) > self.rules.flowing_kmh

    # -- lanes blocked by objects ----------------------------------------------------------------

    def _blocked_lanes(self, t: float, points: list[TrackPoint]) -> list[Event]:
        """Rows of small objects that stand in a lane (cones, barriers of works or of a crash scene).

        No vehicle is that small where it stands, and no vehicle of a queue stands as long at one
        place beside others as small: a row of them blocks the lane, from its upstream end.
        """
        out: list[Event] = []
        for p in points:
            if p.lane > 0 and not p.small and abs(p.speed) < self._still_mps:
                self._standing_cars.append((p.t, (p.direction, p.lane), self._along(p)))
            if not (p.small and p.stationary and p.lane > 0 and abs(p.speed) < self._still_mps):
                continue
            key = (p.direction, p.lane)
            near = [o for o in self._objects if o.lane == key and math.dist(o.anchor, p.road) <= OBJECT_RADIUS_M]
            if near:
                near[0].last_seen = p.t
            else:
                # Seen standing only after the detector's latency to call a thing stationary.
                self._objects.append(_Object(p.road, key, p.t - self.stationary_after_s, p.t))
        self._objects = [o for o in self._objects if t - o.last_seen <= OBJECT_GONE_S]
        while self._standing_cars and self._standing_cars[0][0] < t - self.rules.blocked_dwell_s:
            self._standing_cars.popleft()
        for key in {o.lane for o in self._objects} | set(self._blocked):
            dwell = self.rules.blocked_dwell_s
            lasting = [o for o in self._objects if o.lane == key and o.last_seen - o.first >= dwell]
            row = max(self._rows(lasting), key=len, default=[])
            event_id = self._blocked.get(key)
            if len(row) >= self.rules.blocked_objects:
                along = [self._along_road(key[0], o.anchor) for o in row]
                if event_id is not None:
                    self._open[event_id].last_seen = max(o.last_seen for o in row)
                    continue
                if not self._flows_beside(key, min(along), max(along), t) or any(
                    k == key and min(along) - VIEW_EDGE_M <= a <= max(along) + VIEW_EDGE_M
                    for _, k, a in self._standing_cars
                ):
                    # All lanes stand, or vehicles stand among them: the fragments of a jam's vehicles.
                    continue
                upstream = min(row, key=lambda o: self._along_road(key[0], o.anchor))
                event = self._raise(
                    EventType.LANE_BLOCKED, f"{key[0]}{key[1]}", min(o.first for o in row), t, upstream.anchor,
                    self._lane_ids.get(key), (), {"objects": float(len(row)), "length_m": max(along) - min(along)},
                )  # fmt: skip
                self._blocked[key] = event.id
                out.append(event)
            elif event_id is not None and t - self._open[event_id].last_seen > OBJECT_GONE_S:
                out += self._end(event_id, self._open[event_id].last_seen)
                del self._blocked[key]
        return out

    def _flows_beside(self, lane: tuple[str, int], lo: float, hi: float, t: float) -> bool:
        """Whether the traffic in the other lanes beside a stretch of a lane flows (averages above flowing)."""
        beside = [
            s.speed_kmh
            for s in self._history
            if s.way == lane[0] and s.lane != lane[1] and lo - 20.0 <= s.along <= hi + 20.0 and s.t >= t - 20.0
        ]
        return bool(beside) and float(np.median(beside)) > self.rules.flowing_kmh  # (a jam's fragments leap)

    def _rows(self, objects: list[_Object]) -> list[list[_Object]]:
        """Objects of one lane in rows along it: neighbours 2 m to the blocking gap apart."""
        if not objects:
            return []
        direction = objects[0].lane[0]
        ordered = sorted(objects, key=lambda o: self._along_road(direction, o.anchor))
        rows: list[list[_Object]] = [[ordered[0]]]
        for o in ordered[1:]:
            gap = self._along_road(direction, o.anchor) - self._along_road(direction, rows[-1][-1].anchor)
            if gap < OBJECT_SPACING_M:
                continue  # beside the last one (two parts of one thing)
            if gap <= self.rules.blocked_gap_m:
                rows[-1].append(o)
            else:
                rows.append([o])
        return rows

    def _row_of(self, p: TrackPoint, objects: list[_Object]) -> list[_Object]:
        """The row of small standing objects (of any age) that a point stands in, or nothing."""
        key = (p.direction, p.lane)
        for row in self._rows([o for o in objects if o.lane == key]):
            if any(math.dist(o.anchor, p.road) <= OBJECT_RADIUS_M for o in row):
                return row
        return []

    # -- wrong way -------------------------------------------------------------------------------

    def _wrong_way(self, t: float, points: list[TrackPoint]) -> list[Event]:
        out: list[Event] = []
        for p in points:
            if p.lane <= 0:
                continue
            trail = self._trails.setdefault(p.track, _Trail())
            trail.last_seen = t
            along = self._along(p)
            if self._lane_margin(p) < WRONG_WAY_MARGIN_M:
                # On the lane's edge: an opposing vehicle placed a little off, not one in the lane.
                trail.samples.clear()
                continue
            trail.samples.append((p.t, along))
            while trail.samples and trail.samples[0][0] < p.t - self.rules.wrong_way_s:
                trail.samples.popleft()
            if trail.event is not None:
                continue
            backwards = along - max(a for _, a in trail.samples)
            if backwards <= -self.rules.wrong_way_m and _steadily_backwards(trail.samples):
                start = next(ts for ts, a in trail.samples if a == max(a for _, a in trail.samples))
                if t - start < self.rules.wrong_way_min_s:
                    continue  # too fast to be a vehicle driving: a track sliding over a jam's vehicles
                event = self._raise(
                    EventType.WRONG_WAY, f"t{p.track}", start, t, p.road,
                    self._lane_ids.get((p.direction, p.lane)), (p.track,), {"distance_m": -backwards},
                )  # fmt: skip
                trail.event = event.id
                out.append(event)
        for track, trail in list(self._trails.items()):
            if t - trail.last_seen > TRACK_GONE_S:
                out += self._end(trail.event, trail.last_seen)
                del self._trails[track]
        return out

    # -- people on the carriageway --------------------------------------------------------------

    def _pedestrians(self, t: float, points: list[TrackPoint]) -> list[Event]:
        out: list[Event] = []
        for p in points:
            if p.class_id != PERSON or p.lane <= 0:
                continue
            walker = self._walkers.setdefault(p.track, _Walker(first=p.t, last_seen=p.t))
            walker.last_seen = t
            if walker.event is None and p.t - walker.first >= self.rules.pedestrian_s:
                event = self._raise(
                    EventType.PEDESTRIAN, f"t{p.track}", walker.first, t, p.road,
                    self._lane_ids.get((p.direction, p.lane)), (p.track,),
                )  # fmt: skip
                walker.event = event.id
                out.append(event)
        for track, walker in list(self._walkers.items()):
            if t - walker.last_seen > TRACK_GONE_S:
                out += self._end(walker.event, walker.last_seen)
                del self._walkers[track]
        return out

    # -- congestion and spill-back ---------------------------------------------------------------

    def _congestion(self, t: float, queues: list[tuple[str, np.ndarray, float]]) -> list[Event]:
        out: list[Event] = []
        queue_by_lane = {lane_id: (segment, metres) for lane_id, segment, metres in queues}
        window = t - self.rules.speed_window_s
        speeds: dict[str, list[float]] = {}
        for s in self._history:
            if s.t >= window:
                speeds.setdefault(self._lane_ids[(s.way, s.lane)], []).append(s.speed_kmh)
        for lane_id in self._lane_ids.values():
            cond = self._lanes.setdefault(lane_id, _LaneCondition())
            samples = speeds.get(lane_id, [])
            speed = float(np.mean(samples)) if samples else math.nan
            segment, queue_m = queue_by_lane.get(lane_id, (None, 0.0))
            congested = (
                congestion_level(speed, self._thresholds) >= self.rules.congestion_level
                and queue_m >= self.rules.congestion_queue_m
            )
            if congested:
                cond.since = t if cond.since is None else cond.since
                cond.last_true = t
                if cond.event is None and t - cond.since >= self.rules.congestion_duration_s:
                    head = (float(segment[0][0]), float(segment[0][1])) if segment is not None else (0.0, 0.0)
                    event = self._raise(
                        EventType.CONGESTION, lane_id, cond.since, t, head, lane_id,
                        details={"speed_kmh": speed, "queue_m": queue_m},
                    )  # fmt: skip
                    cond.event = event.id
                    out.append(event)
            elif cond.since is not None and t - cond.last_true >= self.rules.congestion_clear_s:
                out += self._end(cond.event, cond.last_true)
                cond.since, cond.event = None, None
            out += self._spillback(t, lane_id, cond, segment, queue_m)
        return out

    def _spillback(
        self, t: float, lane_id: str, cond: _LaneCondition, segment: np.ndarray | None, queue_m: float
    ) -> list[Event]:
        limit = self.rules.spillback_m
        if limit is None:
            return []
        if queue_m >= limit:
            cond.spill_since = t if cond.spill_since is None else cond.spill_since
            cond.spill_last = t
            if cond.spill_event is None and segment is not None:
                tail = (float(segment[1][0]), float(segment[1][1]))
                event = self._raise(
                    EventType.QUEUE_SPILLBACK, lane_id, cond.spill_since, t, tail, lane_id, details={"queue_m": queue_m}
                )
                cond.spill_event = event.id
                return [event]
        elif cond.spill_since is not None and t - cond.spill_last >= self.rules.congestion_clear_s:
            ended = self._end(cond.spill_event, cond.spill_last)
            cond.spill_since, cond.spill_event = None, None
            return ended
        return []

    @property
    def open_events(self) -> list[Event]:
        """Events raised and not yet ended."""
        return [op.event for op in self._open.values()]


def _steadily_backwards(samples: deque[tuple[float, float]]) -> bool:
    """Whether a track's recent positions go backwards step by step, not by one leap.

    Two vehicles whose tracks swap ids make one track leap back by a car's spacing; a vehicle
    going the wrong way moves back frame after frame.
    """
    along = np.array([a for _, a in samples])
    if len(along) < 5:
        return False
    steps = np.diff(along)
    total = float(along.max() - along[-1])
    return bool(np.mean(steps < 0) >= 0.8 and -float(steps.min()) <= 0.5 * total)
