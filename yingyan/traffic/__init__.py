"""Traffic state: congestion levels and the traffic performance index (domain tables)."""

from yingyan.traffic.levels import (
    CongestionLevel,
    LevelThresholds,
    RoadClass,
    congestion_level,
    default_thresholds,
    traffic_index,
)

__all__ = [
    "CongestionLevel",
    "LevelThresholds",
    "RoadClass",
    "congestion_level",
    "default_thresholds",
    "traffic_index",
]
