"""Run the SUMO simulation of a scenario, inject its incidents and record every vehicle.

libsumo runs in-process (one simulation at a time per process, started and closed here).
Times in the recorded trajectories are *scenario* times: 0 is the end of the warm-up.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import libsumo
import numpy as np
from libsumo import constants as tc

from yingyan.errors import SimulationError
from yingyan.sim.network import VEHICLE_TYPES, BuiltNetwork, sumo_binary
from yingyan.sim.scenario import Direction, Incident, IncidentType, Scenario

log = logging.getLogger(__name__)

SubscriptionState = dict[str, dict[int, Any]]  # libsumo's subscription results by vehicle id

DEFAULT_LANE_CHANGE_MODE = 1621
STOPPED_MPS = 0.1


def stop_room_m(speed_mps: float) -> float:
    """Road a vehicle at ``speed_mps`` needs upstream of a place to be stopped there (braking at 3 m/s²,
    and 10 m to spare): a stall or parking is handed only to a vehicle at least this far away."""
    return speed_mps * speed_mps / (2 * 3.0) + 10.0


@dataclass(frozen=True)
class VehicleInfo:
    """Static facts of one simulated vehicle."""

    sumo_id: str
    cls: str  # detector class: car, bus, truck, motorcycle
    length_m: float
    width_m: float
    height_m: float
    shape: str  # body shape (vehicle type): sedan, suv, van, bus, truck, motorcycle


@dataclass(frozen=True)
class IncidentRecord:
    """What really happened for one scenario incident (the ground truth)."""

    id: str
    type: IncidentType
    direction: Direction
    lane: int
    position_m: float
    length_m: float
    trigger_s: float
    start_s: float | None
    end_s: float | None
    vehicles: tuple[str, ...]


@dataclass(frozen=True)
class Trajectories:
    """Every vehicle at every simulation step of the recording.

    Rows of step ``k`` are ``offsets[k]:offsets[k + 1]``; ``x, y`` is the front bumper centre
    (SUMO's convention), ``angle`` is in degrees clockwise from north.
    """

    step_s: float
    times: np.ndarray
    offsets: np.ndarray
    vid: np.ndarray
    x: np.ndarray
    y: np.ndarray
    angle: np.ndarray
    speed: np.ndarray
    signals: np.ndarray
    vehicles: tuple[VehicleInfo, ...]
    incidents: tuple[IncidentRecord, ...]
    unexpected_collisions: int = 0

    def step_index(self, t: float) -> int:
        """Index of the recorded step nearest to scenario time ``t``."""
        k = int(round((t - float(self.times[0])) / self.step_s))
        return min(max(k, 0), len(self.times) - 1)

    def rows(self, k: int) -> slice:
        """Row slice of step ``k``."""
        return slice(int(self.offsets[k]), int(self.offsets[k + 1]))


def split_green(main_share: float) -> None:
    """Give the corridor ``main_share`` of each signal's green time (the rest to the cross street)."""
    for tls in libsumo.trafficlight.getIDList():
        links = libsumo.trafficlight.getControlledLinks(tls)
        main = [i for i, link in enumerate(links) if link and not link[0][0].startswith(("north", "south"))]
        logic = libsumo.trafficlight.getAllProgramLogics(tls)[0]
        phases = list(logic.phases)
        kinds = []
        for phase in phases:
            green = [i for i, c in enumerate(phase.state) if c in "Gg"]
            if not green:
                kinds.append("other")
            elif all(i in main for i in green):
                kinds.append("main")
            elif not any(i in main for i in green):
                kinds.append("cross")
            else:
                kinds.append("other")
        total = sum(p.duration for p, k in zip(phases, kinds, strict=True) if k in ("main", "cross"))
        n_main, n_cross = kinds.count("main"), kinds.count("cross")
        if not n_main or not n_cross:
            continue
        for phase, kind in zip(phases, kinds, strict=True):
            if kind == "main":
                phase.duration = phase.minDur = phase.maxDur = total * main_share / n_main
            elif kind == "cross":
                phase.duration = phase.minDur = phase.maxDur = total * (1 - main_share) / n_cross
        logic.phases = tuple(phases)
        libsumo.trafficlight.setProgramLogic(tls, logic)


def remove_vehicle(vid: str) -> None:
    """Take a vehicle off the road (towed away); libsumo needs the subscription dropped first."""
    libsumo.vehicle.unsubscribe(vid)
    libsumo.vehicle.remove(vid, tc.REMOVE_VAPORIZED)


def lane_number_from_y(y: float, direction: Direction, lane_width: float, lanes: int) -> int:
    """Lane number (1 = innermost) of a lateral position on a carriageway."""
    lateral = -y if direction is Direction.FORWARD else y
    return int(min(max(math.floor(lateral / lane_width) + 1, 1), lanes))


def heading_direction(angle_deg: float) -> Direction | None:
    """Corridor direction of a heading, or None for cross-street traffic."""
    a = angle_deg % 360.0
    if 45.0 <= a < 135.0:
        return Direction.FORWARD
    if 225.0 <= a < 315.0:
        return Direction.REVERSE
    return None


@dataclass
class _IncidentControl:
    """Drives one incident inside the running simulation; ``update`` is called every step."""

    spec: Incident
    net: BuiltNetwork
    scenario: Scenario
    state: str = "waiting"
    trigger_s: float = 0.0
    start_s: float | None = None
    end_s: float | None = None
    position_m: float = 0.0
    vehicles: list[str] = field(default_factory=list)
    original_speed: float = 0.0

    @property
    def lane_number(self) -> int:
        return self.spec.lane if self.spec.lane > 0 else self.scenario.network.lanes

    def _sumo_lane(self, chainage: float) -> tuple[str, int, float]:
        """Edge, lane index and position on the lane at a chainage."""
        seg = self.net.segment_at(self.spec.direction, chainage)
        number = min(self.lane_number, seg.lanes)
        index = seg.lanes - number
        lane_id = f"{seg.edge_id}_{index}"
        shape = libsumo.lane.getShape(lane_id)
        length = libsumo.lane.getLength(lane_id)
        x0 = shape[0][0]
        pos = chainage - x0 if self.spec.direction is Direction.FORWARD else x0 - chainage
        return seg.edge_id, index, float(min(max(pos, 1.0), length - 0.5))

    def _upstream_distance(self, x: float) -> float:
        return self.spec.position_m - x if self.spec.direction is Direction.FORWARD else x - self.spec.position_m

    def _on_target_lane(self, vid: str, y: float, angle: float) -> bool:
        if heading_direction(angle) is not self.spec.direction:
            return False
        if libsumo.vehicle.getRoadID(vid).startswith(":"):
            return False
        net = self.scenario.network
        return lane_number_from_y(y, self.spec.direction, net.lane_width_m, net.lanes) == self.lane_number

    def update(self, t: float, state: SubscriptionState, collisions: list[tuple[str, str]]) -> None:
        handler = {
            IncidentType.STALL: self._update_stop,
            IncidentType.ILLEGAL_PARKING: self._update_stop,
            IncidentType.CRASH: self._update_crash,
            IncidentType.LANE_CLOSURE: self._update_closure,
        }[self.spec.type]
        handler(t, state, collisions)

    # -- stalled or parked vehicle -------------------------------------------------------
    def _update_stop(self, t: float, state: SubscriptionState, _c: list[tuple[str, str]]) -> None:
        if self.state == "waiting" and t >= self.spec.start_s:
            best: tuple[float, str] | None = None
            for vid, values in state.items():
                x, y = values[tc.VAR_POSITION]
                speed = float(values[tc.VAR_SPEED])
                d = self._upstream_distance(float(x))
                if d < stop_room_m(speed) or d > 400.0:
                    continue
                if not self._on_target_lane(vid, float(y), float(values[tc.VAR_ANGLE])):
                    continue
                if libsumo.vehicle.getTypeID(vid) == "motorcycle":
                    continue
                if best is None or d < best[0]:
                    best = (d, vid)
            if best is None:
                return
            vid = best[1]
            edge, index, pos = self._sumo_lane(self.spec.position_m)
            try:
                libsumo.vehicle.setLaneChangeMode(vid, 0)
                libsumo.vehicle.setStop(vid, edge, pos, index, self.spec.duration_s)
            except libsumo.TraCIException as error:
                log.debug("stop for %s refused for %s: %s", self.spec.id, vid, error)
                libsumo.vehicle.setLaneChangeMode(vid, DEFAULT_LANE_CHANGE_MODE)
                return
            self.vehicles = [vid]
            self.trigger_s = t
            self.state = "approaching"
        elif self.state == "approaching":
            vid = self.vehicles[0]
            now = state.get(vid)
            if now is None:
                self.state = "lost"
                return
            x, _ = now[tc.VAR_POSITION]
            if float(now[tc.VAR_SPEED]) < STOPPED_MPS and abs(self._upstream_distance(float(x))) < 20.0:
                self.start_s = t
                self.position_m = self._centre_chainage(vid, float(x))
                self.state = "stopped"
        elif self.state == "stopped":
            vid = self.vehicles[0]
            now = state.get(vid)
            if now is None or float(now[tc.VAR_SPEED]) > 1.0:
                self.end_s = t
                self.state = "done"
                if now is not None:
                    libsumo.vehicle.setLaneChangeMode(vid, DEFAULT_LANE_CHANGE_MODE)

    def _centre_chainage(self, vid: str, front_x: float) -> float:
        half = float(libsumo.vehicle.getLength(vid)) / 2.0
        return front_x - half if self.spec.direction is Direction.FORWARD else front_x + half

    # -- two-vehicle crash ------------------------------------------------------------
    def _update_crash(self, t: float, state: SubscriptionState, collisions: list[tuple[str, str]]) -> None:
        if self.state == "waiting" and t >= self.spec.start_s:
            for vid, values in state.items():
                x, y = values[tc.VAR_POSITION]
                speed = float(values[tc.VAR_SPEED])
                d = self._upstream_distance(float(x))
                if not 0.0 <= d <= 60.0 or speed < 6.0:
                    continue
                if not self._on_target_lane(vid, float(y), float(values[tc.VAR_ANGLE])):
                    continue
                follower, gap = libsumo.vehicle.getFollower(vid, 40.0)
                if not follower or gap < 0 or gap > 30.0 or follower not in state:
                    continue
                if (
                    libsumo.vehicle.getTypeID(follower) == "motorcycle"
                    or libsumo.vehicle.getTypeID(vid) == "motorcycle"
                ):
                    continue
                fspeed = float(state[follower][tc.VAR_SPEED])
                if fspeed < 6.0:
                    continue
                for v in (vid, follower):
                    libsumo.vehicle.setLaneChangeMode(v, 0)
                    libsumo.vehicle.setSpeedMode(v, 0)
                libsumo.vehicle.slowDown(vid, 0.0, max(speed / 9.0, 0.5))
                libsumo.vehicle.setSpeed(follower, fspeed)
                self.vehicles = [vid, follower]
                self.trigger_s = t
                self.state = "braking"
                return
        elif self.state == "braking":
            if any(v not in state for v in self.vehicles):
                self.state = "lost"
                return
            pair = set(self.vehicles)
            if any({a, b} == pair for a, b in collisions) or t - self.trigger_s > 10.0:
                if t - self.trigger_s > 10.0:
                    log.warning(
                        "crash %s: no collision 10 s after the brake; the pair is stopped instead", self.spec.id
                    )
                for v in self.vehicles:
                    libsumo.vehicle.setSpeed(v, 0.0)
                self.state = "crashed"
        elif self.state == "crashed":
            if all(float(state[v][tc.VAR_SPEED]) < STOPPED_MPS for v in self.vehicles if v in state):
                self.start_s = t
                xs = [float(state[v][tc.VAR_POSITION][0]) for v in self.vehicles if v in state]
                self.position_m = self._centre_chainage(self.vehicles[0], xs[0]) if xs else self.spec.position_m
                self.state = "at_rest"
        elif self.state == "at_rest":
            assert self.start_s is not None
            if t >= self.start_s + self.spec.duration_s:
                for v in self.vehicles:
                    if v in state:
                        remove_vehicle(v)
                self.end_s = t
                self.state = "done"

    # -- lane closure ---------------------------------------------------------------------
    def _closure_lanes(self) -> list[str]:
        lanes: list[str] = []
        for seg in self.net.segments:
            lo, hi = self.spec.position_m, self.spec.position_m + self.spec.length_m
            if seg.direction is self.spec.direction and seg.start_m >= lo - 1.0 and seg.end_m <= hi + 1.0:
                number = min(self.lane_number, seg.lanes)
                lanes.append(f"{seg.edge_id}_{seg.lanes - number}")
        return lanes

    def _update_closure(self, t: float, _s: SubscriptionState, _c: list[tuple[str, str]]) -> None:
        if self.state == "waiting" and t >= self.spec.start_s:
            for lane in self._closure_lanes():
                libsumo.lane.setDisallowed(lane, ["all"])
            self.trigger_s = self.start_s = t
            self.position_m = self.spec.position_m
            self.state = "closed"
        elif self.state == "closed" and t >= self.spec.start_s + self.spec.duration_s:
            for lane in self._closure_lanes():
                libsumo.lane.setAllowed(lane, ["all"])
            self.end_s = t
            self.state = "done"

    def record(self) -> IncidentRecord:
        return IncidentRecord(
            id=self.spec.id,
            type=self.spec.type,
            direction=self.spec.direction,
            lane=self.lane_number,
            position_m=self.position_m if self.start_s is not None else self.spec.position_m,
            length_m=self.spec.length_m if self.spec.type is IncidentType.LANE_CLOSURE else 0.0,
            trigger_s=self.trigger_s,
            start_s=self.start_s,
            end_s=self.end_s,
            vehicles=tuple(self.vehicles),
        )


_SUBSCRIBED = (tc.VAR_POSITION, tc.VAR_ANGLE, tc.VAR_SPEED, tc.VAR_SIGNALS)


def simulate(
    scenario: Scenario,
    net: BuiltNetwork,
    seed: int,
    step_s: float,
    on_progress: Callable[[int, int], None] | None = None,
) -> Trajectories:
    """Run SUMO over warm-up plus recording and return the recorded trajectories."""
    warm = scenario.warmup_s
    total_steps = int(round((warm + scenario.duration_s) / step_s))
    warm_steps = int(round(warm / step_s))
    cmd = [
        sumo_binary("sumo"),
        "-n",
        str(net.net_file),
        "-r",
        str(net.route_file),
        "--step-length",
        f"{step_s:.6f}",
        "--seed",
        str(seed),
        "--begin",
        "0",
        "--no-step-log",
        "true",
        "--no-warnings",
        "true",
        "--duration-log.disable",
        "true",
        "--lanechange.duration",
        "2.0",
        "--collision.action",
        "warn",
        "--collision.stoptime",
        "100000",
        "--collision.mingap-factor",
        "0",
        "--time-to-teleport",
        "-1",
        "--default.action-step-length",
        f"{max(step_s, 0.1):.3f}",
    ]
    try:
        libsumo.start(cmd)
    except Exception as error:  # libsumo raises its own exception types
        raise SimulationError(f"SUMO failed to start: {error}") from None
    if scenario.network.cross_street is not None:
        split_green(scenario.network.cross_street.main_green_share)
    controls = [_IncidentControl(spec=inc, net=net, scenario=scenario) for inc in scenario.incidents]
    crash_vehicles: set[str] = set()
    info: dict[str, int] = {}
    vehicles: list[VehicleInfo] = []
    times: list[float] = []
    offsets: list[int] = [0]
    cols: dict[str, list[float]] = {k: [] for k in ("vid", "x", "y", "angle", "speed", "signals")}
    unexpected = 0
    try:
        for k in range(total_steps):
            libsumo.simulationStep()
            for vid in libsumo.simulation.getDepartedIDList():
                libsumo.vehicle.subscribe(vid, _SUBSCRIBED)
            t = (k + 1) * step_s - warm
            state = libsumo.vehicle.getAllSubscriptionResults()
            collisions = [(c.collider, c.victim) for c in libsumo.simulation.getCollisions()]
            for ctrl in controls:
                ctrl.update(t, state, collisions)
                if ctrl.spec.type is IncidentType.CRASH:
                    crash_vehicles.update(ctrl.vehicles)
            for a, b in collisions:
                if a in crash_vehicles or b in crash_vehicles:
                    continue
                unexpected += 1
                for v in (a, b):
                    if v in state:
                        remove_vehicle(v)
                        state.pop(v)
            if k + 1 < warm_steps:
                continue
            times.append(t)
            for vid, values in state.items():
                index = info.get(vid)
                if index is None:
                    vt = VEHICLE_TYPES[libsumo.vehicle.getTypeID(vid)]
                    index = info[vid] = len(vehicles)
                    vehicles.append(VehicleInfo(vid, vt.cls, vt.length_m, vt.width_m, vt.height_m, vt.id))
                x, y = values[tc.VAR_POSITION]
                cols["vid"].append(index)
                cols["x"].append(x)
                cols["y"].append(y)
                cols["angle"].append(values[tc.VAR_ANGLE])
                cols["speed"].append(values[tc.VAR_SPEED])
                cols["signals"].append(values[tc.VAR_SIGNALS])
            offsets.append(len(cols["vid"]))
            if on_progress is not None and k % 50 == 0:
                on_progress(k + 1, total_steps)
    finally:
        libsumo.close()
    if on_progress is not None:
        on_progress(total_steps, total_steps)
    if unexpected:
        log.warning("%d unplanned collision(s) were cleared from the road", unexpected)
    return Trajectories(
        step_s=step_s,
        times=np.asarray(times, dtype=np.float64),
        offsets=np.asarray(offsets, dtype=np.int64),
        vid=np.asarray(cols["vid"], dtype=np.int32),
        x=np.asarray(cols["x"], dtype=np.float64),
        y=np.asarray(cols["y"], dtype=np.float64),
        angle=np.asarray(cols["angle"], dtype=np.float64),
        speed=np.asarray(cols["speed"], dtype=np.float64),
        signals=np.asarray(cols["signals"], dtype=np.int32),
        vehicles=tuple(vehicles),
        incidents=tuple(c.record() for c in controls),
        unexpected_collisions=unexpected,
    )
