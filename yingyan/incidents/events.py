"""Events: what a camera's event detectors report (one per cause, with an onset and an end)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    """Event types, as Chinese standards and products name them."""

    STOPPED_VEHICLE = "stopped_vehicle"  # 停车
    ILLEGAL_PARKING = "illegal_parking"  # 违停
    CRASH = "crash"  # 交通事故
    WRONG_WAY = "wrong_way"  # 逆行
    PEDESTRIAN = "pedestrian"  # 行人
    LANE_BLOCKED = "lane_blocked"  # 占道: cones, barriers or debris stand in a travel lane
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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        """An event from its ``events.jsonl`` line (the inverse of :meth:`to_json`)."""
        end = data.get("end_s")
        return cls(
            id=str(data["id"]),
            type=EventType(data["type"]),
            camera_id=str(data["camera_id"]),
            lane_id=None if data.get("lane_id") is None else str(data["lane_id"]),
            start_s=float(data["start_s"]),
            alert_s=float(data["alert_s"]),
            position=(float(data["position_m"][0]), float(data["position_m"][1])),
            track_ids=tuple(int(t) for t in data.get("track_ids", ())),
            end_s=None if end is None else float(end),
            details={str(k): float(v) for k, v in (data.get("details") or {}).items()},
            evidence={str(k): str(v) for k, v in (data.get("evidence") or {}).items()},
        )

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
