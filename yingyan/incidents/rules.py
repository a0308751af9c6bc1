"""Rule parameters of the event detectors (per camera; the ranges commercial detectors expose) and of
the incident engine."""

from __future__ import annotations

from pydantic import Field

from yingyan.config import StrictModel
from yingyan.incidents.events import EventType
from yingyan.traffic.levels import CongestionLevel

CAUSE_TYPES = (
    EventType.STOPPED_VEHICLE, EventType.CRASH, EventType.ILLEGAL_PARKING, EventType.WRONG_WAY, EventType.PEDESTRIAN,
    EventType.LANE_BLOCKED,
)  # fmt: skip
BLOCKAGE = "blockage"  # cause of congestion whose head no camera sees: something blocks the road there
RECURRENT = "recurrent"


class EventRules(StrictModel):
    """What counts as an event at one camera."""

    stopped_dwell_s: float = Field(
        default=10.0, ge=3, le=120, title="Stopped-vehicle dwell (s)",
        description="How long a vehicle must stand still in a travel lane, not simply queued, to be an event.",
    )  # fmt: skip
    still_speed_kmh: float = Field(
        default=4.0, gt=0, le=15, title="Still below (km/h)", description="A vehicle slower than this stands still."
    )
    still_radius_m: float = Field(
        default=3.0, gt=0, le=10, title="Still within (m)",
        description="A standing vehicle's measured position stays within this distance of where it stopped.",
    )  # fmt: skip
    queue_gap_m: float = Field(
        default=20.0, gt=0, title="Queue gap (m)",
        description="A stopped vehicle with a stopped vehicle this close ahead in its lane is queued behind it.",
    )  # fmt: skip
    look_ahead_m: float = Field(
        default=15.0, gt=0, title="Look-ahead (m)",
        description="A stopped vehicle heads its queue only if the camera sees this far ahead of it in its lane.",
    )  # fmt: skip
    flowing_kmh: float = Field(
        default=15.0, gt=0, title="Flowing above (km/h)",
        description="Traffic beside a stopped vehicle that averages more than this is flowing past it.",
    )  # fmt: skip
    parking_dwell_s: float = Field(
        default=300.0, ge=60, le=3600, title="Illegal-parking dwell (s)",
        description="How long a vehicle must stand in a no-parking zone or lane to be illegally parked.",
    )  # fmt: skip
    no_parking_lanes: list[str] = Field(
        default_factory=list, title="No-parking lanes",
        description="Lane ids (kerb lanes) where standing is illegal parking rather than a stopped vehicle.",
    )  # fmt: skip
    crash_dwell_s: float = Field(
        default=8.0, ge=1, le=60, title="Crash dwell (s)",
        description="How long vehicles that stopped hard together must stand before it is a crash.",
    )  # fmt: skip
    crash_from_kmh: float = Field(
        default=25.0, gt=0, title="Crash from (km/h)",
        description="A hard stop starts from at least this speed.",
    )  # fmt: skip
    crash_decel_mps2: float = Field(
        default=6.0, gt=0, title="Hard braking (m/s²)",
        description="Mean deceleration to rest at or above which a stop is a hard stop (normal: 1-3, firm: 4.5).",
    )  # fmt: skip
    crash_distance_m: float = Field(
        default=10.0, gt=0, title="Crash distance (m)",
        description="Vehicles of one crash come to rest within this distance of each other.",
    )  # fmt: skip
    pedestrian_s: float = Field(
        default=2.0, ge=0, le=30, title="Pedestrian time (s)",
        description="How long a person must be seen on a travel lane to be an event.",
    )  # fmt: skip
    blocked_objects: int = Field(
        default=3, ge=2, le=20, title="Lane-blocking objects",
        description="A row of at least this many small objects standing in a lane (cones, barriers) blocks it.",
    )  # fmt: skip
    blocked_dwell_s: float = Field(
        default=20.0, ge=5, le=600, title="Lane-blocking dwell (s)",
        description="How long each of those objects must stand at its place.",
    )  # fmt: skip
    blocked_gap_m: float = Field(
        default=15.0, gt=0, le=50, title="Lane-blocking gap (m)",
        description="Objects of one row stand at most this far apart along the lane.",
    )  # fmt: skip
    wrong_way_m: float = Field(
        default=20.0, ge=2, le=100, title="Wrong-way distance (m)",
        description="How far a vehicle must travel against its lane's direction to be going the wrong way.",
    )  # fmt: skip
    wrong_way_s: float = Field(
        default=4.0, ge=1, le=10, title="Wrong-way time (s)",
        description="Over at most this time, the wrong-way distance must be covered.",
    )  # fmt: skip
    wrong_way_min_s: float = Field(
        default=2.0, ge=0, le=10, title="Wrong-way least time (s)",
        description="The wrong-way movement must last at least this long (a track that slides back over a jam's "
        "vehicles covers the distance in a second).",
    )  # fmt: skip
    congestion_level: CongestionLevel = Field(
        default=CongestionLevel.MODERATE, title="Congestion level",
        description="Lowest level (0 free … 4 severe, by the lane's road class) that counts as congestion.",
    )  # fmt: skip
    congestion_queue_m: float = Field(
        default=30.0, ge=5, le=200, title="Congestion queue (m)",
        description="Queue length that must stand together with the level for congestion.",
    )  # fmt: skip
    congestion_duration_s: float = Field(
        default=30.0, ge=10, le=120, title="Congestion duration (s)",
        description="How long level and queue must hold before congestion is an event.",
    )  # fmt: skip
    congestion_clear_s: float = Field(
        default=30.0, ge=5, le=300, title="Congestion clearance (s)",
        description="How long the condition must be gone before the congestion event ends.",
    )  # fmt: skip
    speed_window_s: float = Field(
        default=20.0, ge=5, le=120, title="Speed window (s)",
        description="The lane's speed for the congestion level is the mean over this many seconds.",
    )  # fmt: skip
    spillback_m: float | None = Field(
        default=None, gt=0, title="Spill-back length (m)",
        description="A queue longer than this from its head is spilling back (none: not checked).",
    )  # fmt: skip


class IncidentRules(StrictModel):
    """How camera events become incidents."""

    join_radius_m: float = Field(
        default=40.0, gt=0, title="Join radius (m)",
        description="The same cause reported within this distance of an open incident's place joins it.",
    )  # fmt: skip
    head_in_view_m: float = Field(
        default=10.0, ge=0, title="Queue head in view (m)",
        description="A queue whose head stands this far inside the camera's view has its cause there.",
    )  # fmt: skip
    in_view_beyond_m: float = Field(
        default=30.0, ge=0, title="Source in the next view (m)",
        description="An unseen cause whose timing places it this far past the end of its link lies in the "
        "downstream camera's view (its detectors missed it): that camera is named the source.",
    )  # fmt: skip
    baseline_k: float = Field(
        default=3.0, gt=0, title="Baseline margin (spreads)",
        description="Congestion is abnormal when its speed is this many baseline spreads below the usual speed.",
    )  # fmt: skip
    baseline_min_drop_kmh: float = Field(
        default=10.0, ge=0, title="Baseline minimum drop (km/h)",
        description="…and at least this far below it.",
    )  # fmt: skip
    baseline_tolerance_min: float = Field(
        default=15.0, ge=0, title="Baseline tolerance (min)",
        description="The usual speed is the lowest within this many minutes of the time (a daily peak starts "
        "a little earlier or later).",
    )  # fmt: skip
    flow_drop: float = Field(
        default=0.75, gt=0, lt=1, title="Flow drop",
        description="A downstream checkpoint's flow below this share of its usual flow has been cut by a blockage.",
    )  # fmt: skip
    hold_s: float = Field(
        default=60.0, ge=0, title="Hold (s)",
        description="An incident whose events have all ended stays open this long: the same cause seen again "
        "in that time (a vehicle that moved a metre and stopped again) continues it.",
    )  # fmt: skip
    alert_types: list[str] = Field(
        default_factory=lambda: [t.value for t in CAUSE_TYPES] + [BLOCKAGE],
        title="Alerting causes",
        description="Causes whose abnormal incidents are alerted (recurrent congestion never is).",
    )  # fmt: skip
