"""Events: what a camera's event detectors report (one per cause, with an onset and an end)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EventType(StrEnum):
    """Event types, as Chinese standards and products name them."""

    STOPPED_VEHICLE = "stopped_vehicle"  # 停车
    ILLEGAL_PARKING = "illegal_parking"  # 违停
    CRASH = "crash"  # 交通事故
    WRONG_WAY = "wrong_way"  # 逆行
    PEDESTRIAN = "pedestrian"  # 行人
    CONGESTION = "congestion"  # 拥堵
    QUEUE_SPILLBACK = "queue_spillback"  # 排队超限


@dataclass(frozen=True)
class Event:
    """One event at one camera. ``id`` is its natural key: a later report of it (its end) repeats it.

    Times are stream seconds: ``start_s`` when the condition began (a vehicle stopped, a queue
    formed), ``alert_s`` when the rule decided, ``end_s`` when it ended (``None`` while open).
    ``position`` is on the road plane (m) of the camera's calibration.
    """

    id: str
    type: EventType
    camera_id: str
    lane_id: str | None
    start_s: float
    alert_s: float
    position: tuple[float, float]
    track_ids: tuple[int, ...] = ()
    end_s: float | None = None
    details: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)  # snapshot, clip: paths under the output folder

    def to_json(self) -> dict[str, object]:
        """The event as a JSON object (``events.jsonl``; docs/formats.md)."""
        return {
            "id": self.id,
            "type": self.type.value,
            "camera_id": self.camera_id,
            "lane_id": self.lane_id,
            "start_s": round(self.start_s, 2),
            "alert_s": round(self.alert_s, 2),
            "end_s": None if self.end_s is None else round(self.end_s, 2),
            "position_m": [round(self.position[0], 2), round(self.position[1], 2)],
            "track_ids": list(self.track_ids),
            "details": {k: round(v, 2) for k, v in self.details.items()},
            "evidence": dict(self.evidence),
        }
