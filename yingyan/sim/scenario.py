"""Scenario files: the road network, checkpoints, demand, incidents and conditions of a run.

A scenario is one YAML document validated by :class:`Scenario`; every field carries a title
and a description, so ``yingyan config schema scenario`` documents the format. Positions along
the road are *chainage* in metres from the corridor's western end; the ``forward`` direction
drives towards larger chainage, ``reverse`` towards smaller.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from yingyan.config import StrictModel, load_model
from yingyan.traffic.levels import RoadClass


class Direction(StrEnum):
    """Travel direction on the corridor."""

    FORWARD = "forward"
    REVERSE = "reverse"


class IncidentType(StrEnum):
    """Incident kinds the simulator can inject (GB/T 29100 names in comments)."""

    STALL = "stall"  # 车辆故障 / 停车: a vehicle stops in a travel lane
    ILLEGAL_PARKING = "illegal_parking"  # 违停: parks in the kerb lane or a no-parking zone
    CRASH = "crash"  # 交通事故: two-vehicle rear-end collision
    LANE_CLOSURE = "lane_closure"  # 施工/占道: a lane is closed over a length


class Lighting(StrEnum):
    """Time-of-day lighting of the rendered video."""

    DAY = "day"
    DUSK = "dusk"
    NIGHT = "night"


class Weather(StrEnum):
    """Weather of the rendered video."""

    CLEAR = "clear"
    RAIN = "rain"


class LaneDrop(StrictModel):
    """A stretch where the forward carriageway loses lanes: the recurrent bottleneck."""

    start_m: float = Field(title="Start (m)", description="Chainage where the reduced section begins.", ge=0)
    end_m: float = Field(title="End (m)", description="Chainage where the full lane count resumes.", gt=0)
    lanes: int = Field(title="Lanes", description="Forward lanes through the bottleneck.", ge=1, le=5)


class CrossStreet(StrictModel):
    """A signalised crossing street, which turns the corridor into a junction."""

    position_m: float = Field(
        title="Position (m)", description="Chainage of the junction centre on the corridor.", gt=0
    )
    lanes: int = Field(
        default=1, title="Lanes per direction", description="Lanes per direction on the crossing street.", ge=1, le=3
    )
    length_m: float = Field(default=300.0, title="Arm length (m)", description="Length of each crossing arm.", ge=100)
    cycle_s: float = Field(
        default=90.0, title="Signal cycle (s)", description="Traffic-signal cycle length.", ge=30, le=240
    )
    main_green_share: float = Field(
        default=0.6,
        title="Main-road green share",
        description="Share of the cycle that is green for the corridor.",
        gt=0.2,
        lt=0.9,
    )
    veh_per_hour: float = Field(
        default=300.0,
        title="Crossing demand (veh/h)",
        description="Vehicles per hour entering from each crossing arm.",
        ge=0,
    )


class Network(StrictModel):
    """The road network: a straight corridor, optionally with a bottleneck and one junction."""

    length_m: float = Field(
        default=2000.0, title="Length (m)", description="Corridor length from west to east end.", ge=300, le=10000
    )
    lanes: int = Field(
        default=2, title="Lanes per direction", description="Travel lanes in each direction.", ge=1, le=5
    )
    two_way: bool = Field(
        default=True, title="Two-way", description="Whether the reverse carriageway exists (and carries traffic)."
    )
    lane_width_m: float = Field(
        default=3.5, title="Lane width (m)", description="Width of every travel lane.", ge=2.5, le=4.5
    )
    road_class: RoadClass = Field(
        default=RoadClass.ARTERIAL,
        title="Road class",
        description="Road class of the corridor (DESIGN table): expressway, arterial or collector.",
    )
    speed_limit_kmh: float = Field(
        default=60.0,
        title="Speed limit (km/h)",
        description="Posted speed limit, also the free-flow speed.",
        gt=10,
        le=130,
    )
    lane_drop: LaneDrop | None = Field(
        default=None,
        title="Lane drop",
        description="Forward bottleneck that causes recurrent congestion at peak demand.",
    )
    cross_street: CrossStreet | None = Field(
        default=None, title="Cross street", description="A signalised crossing street (makes a junction)."
    )

    @model_validator(mode="after")
    def _check_geometry(self) -> Network:
        drop = self.lane_drop
        if drop is not None:
            if not 50 <= drop.start_m < drop.end_m <= self.length_m - 50:
                raise ValueError("lane_drop must lie inside the corridor, 50 m from either end, with start_m < end_m")
            if drop.lanes >= self.lanes:
                raise ValueError("lane_drop.lanes must be fewer than network.lanes")
        if self.cross_street is not None and not 100 <= self.cross_street.position_m <= self.length_m - 100:
            raise ValueError("cross_street.position_m must be at least 100 m from either end of the corridor")
        return self


class Checkpoint(StrictModel):
    """A checkpoint (卡口) camera on a pole or gantry beside the corridor."""

    id: str = Field(
        title="Camera id",
        description="Stable id of the checkpoint camera, used in every output.",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
    )
    position_m: float = Field(title="Position (m)", description="Chainage of the camera pole.", ge=0)
    watch: Direction = Field(
        default=Direction.FORWARD,
        title="Direction watched",
        description="Which carriageway's traffic the camera measures.",
    )
    facing: Literal["oncoming", "departing"] = Field(
        default="oncoming",
        title="Facing",
        description=(
            "oncoming: the camera looks against the traffic (sees fronts, the usual checkpoint set-up); "
            "departing: it looks along the traffic (sees rears)."
        ),
    )
    lateral_m: float | None = Field(
        default=None,
        title="Lateral position (m)",
        description=(
            "Offset of the pole from the centreline, positive to the left of forward traffic; "
            "default: 1 m outside the kerb of the watched carriageway."
        ),
    )
    height_m: float = Field(default=10.0, title="Height (m)", description="Camera height above the road.", ge=3, le=40)
    pitch_deg: float = Field(
        default=14.0,
        title="Pitch (deg)",
        description="Downward tilt of the optical axis below the horizon.",
        ge=2,
        le=80,
    )
    yaw_offset_deg: float = Field(
        default=0.0,
        title="Yaw offset (deg)",
        description="Pan away from the road axis, positive to the left.",
        ge=-45,
        le=45,
    )
    focal_length_mm: float = Field(
        default=6.0, title="Focal length (mm)", description="Lens focal length.", gt=1, le=100
    )
    sensor_width_mm: float = Field(
        default=5.37,
        title="Sensor width (mm)",
        description='Width of the image sensor (1/2.8" is 5.37 mm).',
        gt=1,
        le=40,
    )
    resolution: tuple[int, int] = Field(
        default=(1280, 720),
        title="Resolution",
        description="Image width and height in pixels (even numbers, as H.264 needs; 64 to 3840 wide). Real "
        "checkpoint cameras are 1280x720, 1920x1080 or 4 MP; at 640x360 a camera measures under 100 m of road.",
    )
    fps: float = Field(
        default=10.0, title="Frame rate", description="Frames per second of the rendered video.", ge=1, le=60
    )
    view_m: float = Field(
        default=150.0,
        title="Measured length (m)",
        description=(
            "Length of road in front of the camera over which lanes are measured; shortened to where a car "
            "is still 12 px wide in the image (farther, no detector measures it)."
        ),
        ge=20,
        le=400,
    )

    @field_validator("resolution")
    @classmethod
    def _even_size(cls, value: tuple[int, int]) -> tuple[int, int]:
        w, h = value
        if not (64 <= w <= 3840 and 36 <= h <= 2160):
            raise ValueError(f"{w}x{h} is outside 64x36 to 3840x2160")
        if w % 2 or h % 2:
            raise ValueError(f"{w}x{h}: width and height must be even for H.264")
        return value


class DemandStep(StrictModel):
    """Vehicles per hour from a time on, linearly interpolated to the next step."""

    at_s: float = Field(
        title="At (s)", description="Scenario time of this demand level (0 = start of the recording).", ge=0
    )
    veh_per_hour: float = Field(
        title="Demand (veh/h)", description="Vehicles per hour entering the carriageway (all lanes).", ge=0, le=12000
    )


class VehicleMix(StrictModel):
    """Shares of vehicle classes in the demand; normalised to sum to 1."""

    car: float = Field(default=0.82, title="Cars", description="Share of passenger cars.", ge=0)
    bus: float = Field(default=0.04, title="Buses", description="Share of buses.", ge=0)
    truck: float = Field(default=0.08, title="Trucks", description="Share of trucks.", ge=0)
    motorcycle: float = Field(default=0.06, title="Motorcycles", description="Share of motorcycles.", ge=0)

    @model_validator(mode="after")
    def _positive(self) -> VehicleMix:
        if self.car + self.bus + self.truck + self.motorcycle <= 0:
            raise ValueError("at least one vehicle class needs a positive share")
        return self


class Demand(StrictModel):
    """Time-varying demand on each carriageway."""

    forward: list[DemandStep] = Field(
        default_factory=lambda: [DemandStep(at_s=0, veh_per_hour=1200)],
        title="Forward demand",
        description="Demand profile of the forward carriageway.",
        min_length=1,
    )
    reverse: list[DemandStep] = Field(
        default_factory=lambda: [DemandStep(at_s=0, veh_per_hour=900)],
        title="Reverse demand",
        description="Demand profile of the reverse carriageway (ignored on a one-way corridor).",
        min_length=1,
    )
    mix: VehicleMix = Field(
        default_factory=VehicleMix, title="Vehicle mix", description="Shares of cars, buses, trucks and motorcycles."
    )

    @model_validator(mode="after")
    def _sorted(self) -> Demand:
        for name, steps in (("forward", self.forward), ("reverse", self.reverse)):
            times = [step.at_s for step in steps]
            if times != sorted(times):
                raise ValueError(f"demand.{name} steps must be in increasing at_s order")
        return self


class Incident(StrictModel):
    """One injected incident."""

    id: str = Field(
        title="Incident id",
        description="Stable id of the incident in the ground truth.",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
    )
    type: IncidentType = Field(title="Type", description="stall, illegal_parking, crash or lane_closure.")
    start_s: float = Field(
        title="Start (s)",
        description=(
            "Scenario time at which the incident is triggered; "
            "the recorded start is when the vehicle is really at rest."
        ),
        ge=0,
    )
    duration_s: float = Field(
        title="Duration (s)", description="How long the blockage stays before it is cleared.", gt=0
    )
    direction: Direction = Field(
        default=Direction.FORWARD, title="Direction", description="Carriageway of the incident."
    )
    lane: int = Field(
        default=0,
        title="Lane",
        description=(
            "Lane number, 1 = innermost (next to the centreline) as Chinese checkpoints number lanes; "
            "0 = the kerb (outermost) lane."
        ),
        ge=0,
        le=5,
    )
    position_m: float = Field(
        title="Position (m)",
        description="Chainage where the vehicle comes to rest (or where a closure begins, upstream end).",
        ge=0,
    )
    length_m: float = Field(
        default=60.0,
        title="Closure length (m)",
        description="Length of a lane closure (lane_closure only).",
        ge=10,
        le=500,
    )


class Conditions(StrictModel):
    """What the camera sees besides the traffic: light, weather and image defects."""

    lighting: Lighting = Field(
        default=Lighting.DAY,
        title="Lighting",
        description="day, dusk or night (headlights and tail lights, low light).",
    )
    weather: Weather = Field(
        default=Weather.CLEAR, title="Weather", description="clear or rain (streaks, lower contrast, wet road)."
    )
    shake_px: float = Field(
        default=0.0,
        title="Camera shake (px)",
        description="Amplitude of the camera's jitter in pixels (wind on the pole).",
        ge=0,
        le=20,
    )
    noise_sigma: float = Field(
        default=2.0,
        title="Sensor noise",
        description="Standard deviation of the sensor noise in grey levels.",
        ge=0,
        le=40,
    )
    crf: int = Field(
        default=26,
        title="Compression (CRF)",
        description="H.264 constant rate factor: higher is stronger compression (18 ≈ clean, 35 ≈ heavy).",
        ge=0,
        le=51,
    )


class Scenario(StrictModel):
    """A complete simulator scenario."""

    name: str = Field(title="Name", description="Scenario name.", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str = Field(default="", title="Description", description="One line on what the scenario shows.")
    duration_s: float = Field(
        default=900.0, title="Duration (s)", description="Length of the recording.", gt=0, le=4 * 3600
    )
    warmup_s: float = Field(
        default=150.0,
        title="Warm-up (s)",
        description="Simulated time before the recording starts, so the road is not empty.",
        ge=0,
        le=3600,
    )
    step_s: float = Field(default=0.1, title="Simulation step (s)", description="SUMO step length.", gt=0.0, le=1.0)
    interval_s: float = Field(
        default=60.0,
        title="Interval (s)",
        description="Aggregation interval of the per-lane traffic state.",
        ge=10,
        le=900,
    )
    network: Network = Field(default_factory=Network, title="Network", description="The road network.")
    checkpoints: list[Checkpoint] = Field(
        title="Checkpoints", description="Checkpoint cameras along the corridor.", min_length=1
    )
    demand: Demand = Field(default_factory=Demand, title="Demand", description="Traffic demand over time.")
    incidents: list[Incident] = Field(
        default_factory=list, title="Incidents", description="Incidents injected into the traffic."
    )
    conditions: Conditions = Field(
        default_factory=Conditions, title="Conditions", description="Lighting, weather and image defects."
    )

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        length = self.network.length_m
        ids = [cp.id for cp in self.checkpoints]
        if len(set(ids)) != len(ids):
            raise ValueError("checkpoint ids must be unique")
        incident_ids = [inc.id for inc in self.incidents]
        if len(set(incident_ids)) != len(incident_ids):
            raise ValueError("incident ids must be unique")
        for i, cp in enumerate(self.checkpoints):
            if cp.position_m > length:
                raise ValueError(f"checkpoints.{i}.position_m ({cp.position_m}) lies beyond the corridor ({length} m)")
            if cp.watch is Direction.REVERSE and not self.network.two_way:
                raise ValueError(f"checkpoints.{i}.watch is reverse but the corridor is one-way")
        for i, inc in enumerate(self.incidents):
            if not 60 <= inc.position_m <= length - 60:
                raise ValueError(f"incidents.{i}.position_m must be at least 60 m from either end of the corridor")
            if inc.lane > self.network.lanes:
                raise ValueError(
                    f"incidents.{i}.lane {inc.lane} does not exist: "
                    f"the corridor has {self.network.lanes} lanes per direction"
                )
            if inc.direction is Direction.REVERSE and not self.network.two_way:
                raise ValueError(f"incidents.{i}.direction is reverse but the corridor is one-way")
            if inc.start_s >= self.duration_s:
                raise ValueError(f"incidents.{i}.start_s lies after the end of the recording")
            if inc.type is IncidentType.LANE_CLOSURE and inc.position_m + inc.length_m > length - 60:
                raise ValueError(f"incidents.{i}: the closure runs past the end of the corridor")
        return self


def load_scenario(path: Path) -> Scenario:
    """Load and validate a scenario YAML file (errors name the file and the field)."""
    return load_model(Scenario, path)
