"""Congestion levels and the traffic index follow the DESIGN tables."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yingyan.traffic.levels import CongestionLevel, RoadClass, congestion_level, default_thresholds, traffic_index


@pytest.mark.parametrize(
    ("road", "speed", "level"),
    [
        (RoadClass.EXPRESSWAY, 70, CongestionLevel.FREE),
        (RoadClass.EXPRESSWAY, 65, CongestionLevel.BASIC_FREE),
        (RoadClass.EXPRESSWAY, 20, CongestionLevel.SEVERE),
        (RoadClass.ARTERIAL, 41, CongestionLevel.FREE),
        (RoadClass.ARTERIAL, 30, CongestionLevel.LIGHT),
        (RoadClass.ARTERIAL, 17, CongestionLevel.MODERATE),
        (RoadClass.ARTERIAL, 15, CongestionLevel.SEVERE),
        (RoadClass.COLLECTOR, 26, CongestionLevel.BASIC_FREE),
        (RoadClass.COLLECTOR, 10, CongestionLevel.SEVERE),
    ],
)
def test_design_table(road: RoadClass, speed: float, level: CongestionLevel) -> None:
    assert congestion_level(speed, default_thresholds(road)) is level


def test_no_traffic_is_free_and_names_are_chinese() -> None:
    assert congestion_level(math.nan, default_thresholds(RoadClass.ARTERIAL)) is CongestionLevel.FREE
    assert CongestionLevel.SEVERE.zh == "严重拥堵"


def test_index_band_edges() -> None:
    # Trips 0.2×, 0.5×, 0.8×, 1.1× longer than free flow open the bands at 2, 4, 6, 8.
    for extra, index in ((0.2, 2.0), (0.5, 4.0), (0.8, 6.0), (1.1, 8.0)):
        assert traffic_index(60.0 / (1 + extra), 60.0) == pytest.approx(index)
    assert traffic_index(70.0, 60.0) == 0.0 and traffic_index(0.0, 60.0) == 10.0


@given(a=st.floats(0.1, 120), b=st.floats(0.1, 120))
def test_slower_is_never_better(a: float, b: float) -> None:
    slow, fast = min(a, b), max(a, b)
    assert traffic_index(slow, 60.0) >= traffic_index(fast, 60.0)
    assert 0.0 <= traffic_index(slow, 60.0) <= 10.0
    th = default_thresholds(RoadClass.ARTERIAL)
    assert congestion_level(slow, th) >= congestion_level(fast, th)
