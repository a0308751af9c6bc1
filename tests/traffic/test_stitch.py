"""Stitching: a vehicle lost for a moment keeps its id; an id the tracker hands to another vehicle does not."""

from __future__ import annotations

import numpy as np

from yingyan.traffic.stitch import SPLIT_ID_BASE, TrackStitcher


def _step(st: TrackStitcher, t: float, *objs: tuple[int, float, float]) -> list[int]:
    ids = np.array([o[0] for o in objs], dtype=int)
    s = np.array([o[1] for o in objs], dtype=float)
    w = np.array([o[2] for o in objs], dtype=float)
    return [int(i) for i in st.update(t, ids, s, w)]


def test_a_vehicle_lost_for_a_moment_keeps_its_id() -> None:
    st = TrackStitcher()
    for k in range(6):  # 15 m/s, seen every 0.2 s
        assert _step(st, k * 0.2, (3, 3.0 * k, 0.0)) == [3]
    # Lost for two frames, re-found by the tracker under a new id where it should be.
    assert _step(st, 1.6, (9, 24.2, 0.2)) == [3]
    assert _step(st, 1.8, (9, 27.0, 0.1)) == [3]


def test_a_new_vehicle_elsewhere_is_not_joined_to_a_lost_one() -> None:
    st = TrackStitcher()
    for k in range(6):
        _step(st, k * 0.2, (3, 3.0 * k, 0.0))
    assert _step(st, 1.6, (9, 24.0, 3.5)) == [9]  # the next lane
    assert _step(st, 1.8, (10, 60.0, 0.0)) == [10]  # far ahead


def test_two_vehicles_side_by_side_keep_their_own_ids() -> None:
    st = TrackStitcher()
    for k in range(6):
        assert _step(st, k * 0.2, (1, 3.0 * k, 0.0), (2, 3.0 * k - 8, 0.0)) == [1, 2]
    # Vehicle 1 is lost; a new id where vehicle 2 would be is not vehicle 1 while 2 is still seen.
    assert _step(st, 1.2, (2, 10.0, 0.0), (5, 18.0, 0.0)) == [2, 1]


def test_an_id_swapped_across_lanes_becomes_a_new_track() -> None:
    st = TrackStitcher()
    for k in range(6):
        _step(st, k * 0.2, (4, 40.0 - 3.0 * k, 1.75))  # oncoming on the other carriageway
    (new,) = _step(st, 1.2, (4, 22.0, -1.75))  # the tracker gave its id to a vehicle in our lane
    assert new >= SPLIT_ID_BASE
    assert _step(st, 1.4, (4, 25.0, -1.75)) == [new]


def test_memory_stays_bounded_over_a_long_stream() -> None:
    st = TrackStitcher()
    for k in range(20_000):  # an hour at 5 fps, a new vehicle every 2 s
        vid = k // 10
        _step(st, k * 0.2, (vid, 3.0 * (k % 10), 0.0))
    assert st.live < 50
