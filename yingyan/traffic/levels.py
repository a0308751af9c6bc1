"""Congestion level by average travel speed, and the 0–10 traffic performance index.

The speed table is the one in ``DESIGN.md`` (Chinese urban traffic evaluation); thresholds
are configurable per road class through :class:`LevelThresholds`.

>>> congestion_level(25.0, default_thresholds(RoadClass.ARTERIAL))
<CongestionLevel.LIGHT: 2>
>>> round(traffic_index(30.0, free_flow_kmh=60.0), 2)
7.33
"""

from __future__ import annotations

import itertools
import math
from enum import IntEnum, StrEnum

from pydantic import Field

from yingyan.config import StrictModel


class RoadClass(StrEnum):
    """Road class of a segment, which selects the congestion speed thresholds."""

    EXPRESSWAY = "expressway"  # 快速路
    ARTERIAL = "arterial"  # 主干路
    COLLECTOR = "collector"  # 次干路/支路


class CongestionLevel(IntEnum):
    """Five congestion levels, 0 (畅通) to 4 (严重拥堵)."""

    FREE = 0  # 畅通
    BASIC_FREE = 1  # 基本畅通
    LIGHT = 2  # 轻度拥堵
    MODERATE = 3  # 中度拥堵
    SEVERE = 4  # 严重拥堵

    @property
    def zh(self) -> str:
        """The level's Chinese name, as the console shows it."""
        return ("畅通", "基本畅通", "轻度拥堵", "中度拥堵", "严重拥堵")[self.value]


class LevelThresholds(StrictModel):
    """Lower speed bounds (km/h) of the four better levels; at or below ``severe_max`` is severe."""

    free_above: float = Field(title="Free above (km/h)", description="Speed above which traffic is 畅通 (free).", gt=0)
    basic_above: float = Field(
        title="Basic free above (km/h)", description="Speed above which traffic is 基本畅通.", gt=0
    )
    light_above: float = Field(
        title="Light above (km/h)", description="Speed above which traffic is 轻度拥堵 (light congestion).", gt=0
    )
    moderate_above: float = Field(
        title="Moderate above (km/h)",
        description="Speed above which traffic is 中度拥堵; at or below it is 严重拥堵.",
        gt=0,
    )


_DEFAULTS: dict[RoadClass, tuple[float, float, float, float]] = {
    RoadClass.EXPRESSWAY: (65.0, 50.0, 35.0, 20.0),
    RoadClass.ARTERIAL: (40.0, 30.0, 20.0, 15.0),
    RoadClass.COLLECTOR: (35.0, 25.0, 15.0, 10.0),
}


def default_thresholds(road_class: RoadClass) -> LevelThresholds:
    """The DESIGN table's thresholds for a road class."""
    free, basic, light, moderate = _DEFAULTS[road_class]
    return LevelThresholds(free_above=free, basic_above=basic, light_above=light, moderate_above=moderate)


def congestion_level(speed_kmh: float, thresholds: LevelThresholds) -> CongestionLevel:
    """Level for a space-mean speed; an undefined speed (no vehicle, NaN) counts as free."""
    if math.isnan(speed_kmh) or speed_kmh > thresholds.free_above:
        return CongestionLevel.FREE
    if speed_kmh > thresholds.basic_above:
        return CongestionLevel.BASIC_FREE
    if speed_kmh > thresholds.light_above:
        return CongestionLevel.LIGHT
    if speed_kmh > thresholds.moderate_above:
        return CongestionLevel.MODERATE
    return CongestionLevel.SEVERE


# (extra travel time fraction, index) knots of Beijing's scheme: bands of 2 index points for
# 0.2, 0.5, 0.8 and 1.1 times longer than free flow; the top band ends at 2.0 (index 10).
_INDEX_KNOTS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (0.2, 2.0),
    (0.5, 4.0),
    (0.8, 6.0),
    (1.1, 8.0),
    (2.0, 10.0),
)


def traffic_index(speed_kmh: float, free_flow_kmh: float) -> float:
    """Traffic performance index (交通指数) 0–10 from a travel speed and the free-flow speed.

    Travel time grows as free_flow/speed; the extra fraction is mapped piecewise-linearly onto
    the five bands of two points. No traffic (NaN) or faster than free flow gives 0.
    """
    if math.isnan(speed_kmh) or speed_kmh >= free_flow_kmh:
        return 0.0
    if speed_kmh <= 0.0:
        return 10.0
    extra = free_flow_kmh / speed_kmh - 1.0
    for (x0, y0), (x1, y1) in itertools.pairwise(_INDEX_KNOTS):
        if extra <= x1:
            return y0 + (y1 - y0) * (extra - x0) / (x1 - x0)
    return 10.0
