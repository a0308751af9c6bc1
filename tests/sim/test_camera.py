"""The pinhole camera and its road-plane homography."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yingyan.sim.camera import camera_for, measurement_zone
from yingyan.sim.scenario import Checkpoint, Direction, Network


@settings(max_examples=60, deadline=None)
@given(
    height=st.floats(5, 30),
    pitch=st.floats(6, 40),
    focal=st.floats(3, 25),
    u=st.floats(0.05, 0.95),
    v=st.floats(0.3, 0.95),
    watch=st.sampled_from(list(Direction)),
)
def test_homography_round_trips_and_agrees_with_projection(
    height: float, pitch: float, focal: float, u: float, v: float, watch: Direction
) -> None:
    cp = Checkpoint(id="K", position_m=1000, height_m=height, pitch_deg=pitch, focal_length_mm=focal, watch=watch)
    cam = camera_for(cp, Network())
    pixel = np.array([u * cam.width, v * cam.height, 1.0])
    if pixel[1] <= cam.horizon_row() + 2:
        return
    road = cam.image_to_road() @ pixel
    road /= road[2]
    back, depth = cam.project(np.array([[road[0], road[1], 0.0]]))
    assert depth[0] > 0
    assert np.allclose(back[0], pixel[:2], atol=1e-6)


def test_oncoming_camera_sees_the_stretch_upstream_of_its_pole() -> None:
    net = Network()
    cp = Checkpoint(id="K", position_m=1000, resolution=(1280, 720))
    cam = camera_for(cp, net)
    zone = measurement_zone(cp, cam, net)
    assert zone.hi_m < 1000 and zone.hi_m - zone.lo_m == pytest.approx(cp.view_m)
    assert zone.downstream_m == zone.hi_m and zone.lo_m < zone.counting_m < zone.hi_m
    # A point in the middle of the measured lane projects into the image.
    pix, depth = cam.project(np.array([[0.5 * (zone.lo_m + zone.hi_m), -1.75, 0.0]]))
    assert depth[0] > 0 and 0 <= pix[0, 0] < cam.width and 0 <= pix[0, 1] < cam.height
    # A reverse-watching camera on the far kerb looks the other way.
    rev = Checkpoint(id="R", position_m=1000, watch=Direction.REVERSE)
    rzone = measurement_zone(rev, camera_for(rev, net), net)
    assert rzone.lo_m > 1000 and rzone.downstream_m == rzone.lo_m


def test_measured_stretch_ends_where_a_car_is_still_resolved() -> None:
    """At 640x360 the stretch is cut short where a car would be narrower than 12 px."""
    net = Network()
    cp = Checkpoint(id="K", position_m=1000, resolution=(640, 360))
    cam = camera_for(cp, net)
    zone = measurement_zone(cp, cam, net)
    assert zone.hi_m - zone.lo_m < cp.view_m
    pix, _ = cam.project(np.array([[zone.lo_m, -1.75 - 0.9, 0.0], [zone.lo_m, -1.75 + 0.9, 0.0]]))
    assert abs(pix[1, 0] - pix[0, 0]) >= 11.0
