"""Scenario families: whole scenarios drawn by seed from documented ranges, and the split of seeds.

A family is a kind of road and situation — incidents on arterials, incidents on expressways,
recurrent peaks with nothing wrong, quiet roads in bad conditions, parking at the kerb — and a
seed draws one scenario of it: the road (class, lanes, speed limit, lane width, a lane drop, a
junction), the cameras (how many, how far apart, height, pitch, focal length, facing, resolution),
the demand (level, profile, vehicle mix), the incident (type, lane, place, time, duration) and the
conditions (light, weather, shake, noise, compression). The same family and seed always give the
same scenario (``generate``), so a figure names its family and seeds and anyone can redraw them.

**Held-out discipline** (DESIGN.md): seeds 1–499 are *tuning* seeds (look at them, tune on them);
seeds 500–999 are *report* seeds, run only for the figures. ``split(seed)`` says which; a rule
justified only by a report-seed case is not allowed.

>>> scenario = generate(FamilyName.ARTERIAL_INCIDENTS, 7)
>>> scenario.name, scenario.network.road_class.value, len(scenario.incidents)
('arterial-incidents-s7', 'arterial', 1)
>>> generate(FamilyName.ARTERIAL_INCIDENTS, 7) == scenario
True
"""

from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, TypeVar

import numpy as np

from yingyan.sim.camera import camera_for, measurement_zone
from yingyan.sim.scenario import (
    Checkpoint,
    Conditions,
    CrossStreet,
    Demand,
    DemandStep,
    Direction,
    Incident,
    IncidentType,
    LaneDrop,
    Lighting,
    Network,
    Scenario,
    VehicleMix,
    Weather,
)
from yingyan.sim.traffic import stop_room_m
from yingyan.traffic.levels import RoadClass

TUNING_SEEDS = range(1, 500)
REPORT_SEEDS = range(500, 1000)
Place = Literal["in_view", "past_view", "between"]
T = TypeVar("T")


class FamilyName(StrEnum):
    """The scenario families (``yingyan sim generate FAMILY --seed N``)."""

    ARTERIAL_INCIDENTS = "arterial-incidents"
    EXPRESSWAY_INCIDENTS = "expressway-incidents"
    RECURRENT_PEAKS = "recurrent-peaks"
    QUIET_BAD_CONDITIONS = "quiet-bad-conditions"
    KERB_PARKING = "kerb-parking"


def parse_drawn(name: str) -> tuple[FamilyName, int] | None:
    """``arterial-incidents-s7`` → (family, 7); anything else → ``None``."""
    family, sep, seed = name.rpartition("-s")
    if not sep or not seed.isdigit() or family not in {f.value for f in FamilyName}:
        return None
    return FamilyName(family), int(seed)


def split(seed: int) -> Literal["tuning", "report", "other"]:
    """Which part of the held-out split a seed belongs to."""
    if seed in TUNING_SEEDS:
        return "tuning"
    if seed in REPORT_SEEDS:
        return "report"
    return "other"


@dataclass(frozen=True)
class Ranges:
    """What a family draws from: uniform ranges (lo, hi) and weighted choices, as documented in docs/formats.md."""

    road_class: RoadClass
    lanes: tuple[int, int]
    speed_limits_kmh: tuple[float, ...]
    lane_width_m: tuple[float, float]
    cameras: tuple[int, int]
    spacing_m: tuple[float, float]
    height_m: tuple[float, float]
    aim_m: tuple[float, float]  # where the optical axis meets the road, ahead of the pole
    focal_mm: tuple[float, float]
    departing_share: float  # cameras that look along the traffic (see rears)
    resolutions: tuple[tuple[tuple[int, int], float], ...]  # (size, weight)
    load: tuple[float, float]  # forward demand as a share of the carriageway's capacity
    capacity_vph_lane: float
    truck_share: tuple[float, float]
    motorcycle_share: tuple[float, float]
    incidents: tuple[tuple[IncidentType, float], ...]  # (type, weight); empty: no incident
    places: tuple[tuple[Place, float], ...]
    duration_s: float
    lighting: tuple[tuple[Lighting, float], ...]
    rain: float
    shake_px: tuple[float, float]
    noise: tuple[float, float]
    crf: tuple[int, int]
    junction: float = 0.0  # probability of a signalised cross street
    lane_drop: bool = False  # a forward bottleneck and a peak profile


_RES = (((1280, 720), 0.75), ((1920, 1080), 0.25))
_LIGHT = ((Lighting.DAY, 0.6), (Lighting.DUSK, 0.2), (Lighting.NIGHT, 0.2))
_PLACES: tuple[tuple[Place, float], ...] = (("in_view", 0.5), ("past_view", 0.25), ("between", 0.25))

FAMILIES: dict[FamilyName, Ranges] = {
    FamilyName.ARTERIAL_INCIDENTS: Ranges(
        RoadClass.ARTERIAL, (2, 4), (50.0, 60.0, 70.0), (3.0, 3.75), (3, 4), (350.0, 700.0), (6.0, 14.0),
        (30.0, 80.0), (4.0, 12.0), 0.2, _RES, (0.35, 0.65), 1600.0, (0.03, 0.12), (0.0, 0.08),
        ((IncidentType.STALL, 0.5), (IncidentType.CRASH, 0.3), (IncidentType.LANE_CLOSURE, 0.2)), _PLACES, 900.0,
        _LIGHT, 0.2, (0.0, 2.0), (1.0, 5.0), (22, 30), junction=0.3,
    ),
    FamilyName.EXPRESSWAY_INCIDENTS: Ranges(
        RoadClass.EXPRESSWAY, (2, 4), (80.0, 100.0, 120.0), (3.5, 3.75), (3, 3), (800.0, 1400.0), (8.0, 15.0),
        (40.0, 100.0), (6.0, 16.0), 0.2, _RES, (0.3, 0.6), 1900.0, (0.05, 0.25), (0.0, 0.0),
        ((IncidentType.STALL, 0.6), (IncidentType.CRASH, 0.4)), _PLACES, 900.0, _LIGHT, 0.2, (0.0, 2.0),
        (1.0, 5.0), (22, 30),
    ),
    FamilyName.RECURRENT_PEAKS: Ranges(
        RoadClass.ARTERIAL, (2, 3), (50.0, 60.0), (3.0, 3.75), (3, 4), (350.0, 600.0), (6.0, 14.0), (30.0, 80.0),
        (4.0, 12.0), 0.2, _RES, (0.9, 1.15), 1600.0, (0.03, 0.12), (0.0, 0.08), (), _PLACES, 1200.0, _LIGHT, 0.2,
        (0.0, 2.0), (1.0, 5.0), (22, 30), lane_drop=True,
    ),
    FamilyName.QUIET_BAD_CONDITIONS: Ranges(
        RoadClass.ARTERIAL, (1, 3), (40.0, 50.0, 60.0), (3.0, 3.75), (3, 4), (350.0, 700.0), (6.0, 14.0),
        (30.0, 80.0), (4.0, 12.0), 0.2, _RES, (0.08, 0.25), 1600.0, (0.03, 0.12), (0.0, 0.08), (), _PLACES, 900.0,
        ((Lighting.DAY, 0.2), (Lighting.DUSK, 0.3), (Lighting.NIGHT, 0.5)), 0.6, (0.0, 6.0), (3.0, 10.0), (28, 36),
    ),
    FamilyName.KERB_PARKING: Ranges(
        RoadClass.COLLECTOR, (2, 3), (30.0, 40.0, 50.0), (3.0, 3.5), (3, 3), (300.0, 500.0), (5.0, 10.0),
        (25.0, 60.0), (4.0, 8.0), 0.3, _RES, (0.25, 0.5), 1400.0, (0.02, 0.08), (0.0, 0.1),
        ((IncidentType.ILLEGAL_PARKING, 1.0),), (("in_view", 0.7), ("between", 0.3)), 900.0, _LIGHT, 0.15,
        (0.0, 2.0), (1.0, 5.0), (22, 30),
    ),
}  # fmt: skip

MARGIN_M = 300.0  # corridor before the first camera and after the last


def generate(family: FamilyName, seed: int) -> Scenario:
    """The scenario that ``seed`` draws from ``family`` (always the same one)."""
    ranges = FAMILIES[family]
    rng = np.random.default_rng([seed, zlib.crc32(family.value.encode())])
    lanes = int(rng.integers(ranges.lanes[0], ranges.lanes[1] + 1))
    count = int(rng.integers(ranges.cameras[0], ranges.cameras[1] + 1))
    spacing = [round(float(rng.uniform(*ranges.spacing_m)), -1) for _ in range(count - 1)]
    positions = [MARGIN_M + sum(spacing[:k]) for k in range(count)]
    length = positions[-1] + MARGIN_M
    network = Network(
        length_m=length,
        lanes=lanes,
        two_way=True,
        lane_width_m=round(float(rng.uniform(*ranges.lane_width_m)), 2),
        road_class=ranges.road_class,
        speed_limit_kmh=_choice(rng, [(v, 1.0) for v in ranges.speed_limits_kmh]),
        lane_drop=_lane_drop(rng, positions, lanes) if ranges.lane_drop and lanes > 1 else None,
        cross_street=_junction(rng, positions) if rng.random() < ranges.junction else None,
    )
    checkpoints = [_camera(rng, ranges, f"K{k + 1}", pos) for k, pos in enumerate(positions)]
    capacity = ranges.capacity_vph_lane * (network.lane_drop.lanes if network.lane_drop else lanes)
    load = float(rng.uniform(*ranges.load))
    demand = Demand(
        forward=_profile(capacity * load, ranges.lane_drop, ranges.duration_s),
        reverse=[DemandStep(at_s=0, veh_per_hour=round(ranges.capacity_vph_lane * lanes * rng.uniform(0.2, 0.5)))],
        mix=VehicleMix(
            car=1.0,
            bus=round(float(rng.uniform(0.0, 0.06)), 3),
            truck=round(float(rng.uniform(*ranges.truck_share)), 3),
            motorcycle=round(float(rng.uniform(*ranges.motorcycle_share)), 3),
        ),
    )
    base = Scenario(name=f"{family.value}-s{seed}", duration_s=ranges.duration_s, network=network,
                    checkpoints=checkpoints, demand=demand)  # fmt: skip
    incidents = [_incident(rng, ranges, base)] if ranges.incidents else []
    lighting = _choice(rng, list(ranges.lighting))
    conditions = Conditions(
        lighting=lighting,
        weather=Weather.RAIN if rng.random() < ranges.rain else Weather.CLEAR,
        shake_px=round(float(rng.uniform(*ranges.shake_px)), 1),
        noise_sigma=round(float(rng.uniform(*ranges.noise)), 1),
        crf=int(rng.integers(ranges.crf[0], ranges.crf[1] + 1)),
    )
    what = f"{incidents[0].type.value} ({_place_of(incidents[0], base)})" if incidents else "no incident"
    description = (f"{family.value} seed {seed} ({split(seed)}): {ranges.road_class.value}, {lanes} lanes, "
                   f"{count} cameras, {what}, {lighting.value}, {conditions.weather.value}")  # fmt: skip
    return base.model_copy(update={"incidents": incidents, "conditions": conditions, "description": description})


def _choice(rng: np.random.Generator, weighted: list[tuple[T, float]]) -> T:
    weights = np.array([w for _, w in weighted], dtype=float)
    return weighted[int(rng.choice(len(weighted), p=weights / weights.sum()))][0]


def _camera(rng: np.random.Generator, ranges: Ranges, camera_id: str, position: float) -> Checkpoint:
    height = round(float(rng.uniform(*ranges.height_m)), 1)
    aim = float(rng.uniform(*ranges.aim_m))
    return Checkpoint(
        id=camera_id,
        position_m=position,
        watch=Direction.FORWARD,
        facing="departing" if rng.random() < ranges.departing_share else "oncoming",
        height_m=height,
        pitch_deg=round(math.degrees(math.atan2(height, aim)), 1),
        focal_length_mm=round(float(rng.uniform(*ranges.focal_mm)), 1),
        resolution=_choice(rng, list(ranges.resolutions)),
        view_m=round(float(rng.uniform(150.0, 250.0)), -1),
    )


def _lane_drop(rng: np.random.Generator, positions: list[float], lanes: int) -> LaneDrop:
    """A bottleneck downstream of the middle camera, so that its queue spills back past the cameras upstream."""
    start = positions[len(positions) // 2] + float(rng.uniform(60.0, 200.0))
    return LaneDrop(start_m=round(start, -1), end_m=round(start + rng.uniform(200.0, 400.0), -1), lanes=lanes - 1)


def _junction(rng: np.random.Generator, positions: list[float]) -> CrossStreet:
    link = int(rng.integers(0, len(positions) - 1))
    middle = 0.5 * (positions[link] + positions[link + 1])
    return CrossStreet(position_m=round(middle, -1), veh_per_hour=round(float(rng.uniform(150, 450)), -1))


def _profile(peak_vph: float, peaked: bool, duration_s: float) -> list[DemandStep]:
    """Flat demand, or for a peak: 40 % of it, rising to it over the first third and holding."""
    if not peaked:
        return [DemandStep(at_s=0, veh_per_hour=round(peak_vph))]
    return [DemandStep(at_s=0, veh_per_hour=round(0.4 * peak_vph)),
            DemandStep(at_s=round(duration_s / 3), veh_per_hour=round(peak_vph))]  # fmt: skip


def _zones(scenario: Scenario) -> list[tuple[float, float]]:
    return [
        (zone.lo_m, zone.hi_m)
        for cp in scenario.checkpoints
        for zone in [measurement_zone(cp, camera_for(cp, scenario.network), scenario.network)]
    ]


def _place_of(incident: Incident, scenario: Scenario) -> Place:
    zones = _zones(scenario)
    if any(lo <= incident.position_m <= hi for lo, hi in zones):
        return "in_view"
    if any(0 < incident.position_m - hi <= 60.0 or 0 < lo - incident.position_m <= 60.0 for lo, hi in zones):
        return "past_view"
    return "between"


def _incident(rng: np.random.Generator, ranges: Ranges, scenario: Scenario) -> Incident:
    kind = _choice(rng, list(ranges.incidents))
    place = _choice(rng, list(ranges.places))
    zones = sorted(_zones(scenario))
    lanes = scenario.network.lanes
    length = 60.0 if kind is IncidentType.LANE_CLOSURE else 0.0
    # The simulator stops a vehicle that is still far enough upstream to brake for the place (SUMO's
    # vehicles enter at the road's start): a place nearer the start than that never sees its incident.
    limit = scenario.network.speed_limit_kmh / 3.6
    lo_road = max(80.0, stop_room_m(limit) + 20.0)
    hi_road = scenario.network.length_m - 80.0 - length
    if place == "in_view":
        lo, hi = zones[int(rng.integers(0, len(zones)))]
        position = float(rng.uniform(lo + 10.0, max(hi - 10.0, lo + 11.0)))
        if not lo_road <= position <= hi_road:  # no room there: in the part of a stretch the road leaves room for
            usable = [(max(lo + 10.0, lo_road), min(hi - 10.0, hi_road)) for lo, hi in zones]
            usable = [(lo, hi) for lo, hi in usable if hi - lo >= 20.0] or [(lo_road, lo_road + 20.0)]
            lo, hi = usable[int(rng.integers(0, len(usable)))]
            position = float(rng.uniform(lo, hi))
    elif place == "past_view":  # just downstream of a stretch: the camera sees the queue, not the cause
        _, hi = zones[int(rng.integers(0, len(zones)))]
        position = hi + float(rng.uniform(15.0, 55.0))
        if position > hi_road:  # past the road's end: past another stretch
            ends = [hi for _, hi in zones if hi + 55.0 <= hi_road] or [zones[0][1]]
            position = ends[int(rng.integers(0, len(ends)))] + float(rng.uniform(15.0, 55.0))
    else:  # mid-link, 60 m or more from any measured stretch
        free = [(a_hi + 60.0, b_lo - 60.0) for (_, a_hi), (b_lo, _) in itertools.pairwise(zones)]
        free = [(a, b) for a, b in free if b - a > 20.0] or [(zones[-1][1] + 60.0, hi_road)]
        a, b = free[int(rng.integers(0, len(free)))]
        position = float(rng.uniform(a, b))
    position = round(min(max(position, lo_road), hi_road), 1)
    lane = 0 if kind is IncidentType.ILLEGAL_PARKING else int(rng.integers(0, lanes + 1))
    start = round(float(rng.uniform(150.0, 400.0)))
    duration = float(rng.uniform(600.0, 1200.0) if kind is IncidentType.LANE_CLOSURE else rng.uniform(300.0, 900.0))
    return Incident(id="I1", type=kind, start_s=start, duration_s=round(duration), direction=Direction.FORWARD,
                    lane=lane, position_m=position, length_m=length or 60.0)  # fmt: skip
