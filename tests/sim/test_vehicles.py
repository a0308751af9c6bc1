"""Vehicle bodies: the parts a detector looks for, closed solids with outward faces."""

from __future__ import annotations

import numpy as np
import pytest

from yingyan.sim.render import glass_reflectance
from yingyan.sim.vehicles import Face, Material, Mesh, build_mesh

SHAPES = {
    "sedan": (4.6, 1.8, 1.45),
    "suv": (4.8, 1.9, 1.75),
    "van": (5.0, 1.9, 2.0),
    "bus": (12.0, 2.5, 3.2),
    "truck": (9.0, 2.5, 3.4),
}


def _mirrors(mesh: Mesh, width: float) -> list[Face]:
    """The faces wholly outside the body's width or ahead of it: its mirrors."""
    v = mesh.vertices
    found = []
    for f in mesh.faces:
        pts = v[list(f.index)]
        one_side = abs(np.sign(pts[:, 1]).sum()) == len(pts) and np.abs(pts[:, 1]).min() > width / 2 - 0.05
        out = np.abs(pts[:, 1]).max() > width / 2 + 0.05 or pts[:, 0].min() > v[:, 0].max() - 0.5
        if one_side and out and pts[:, 2].min() > 0.8:
            found.append(f)
    return found


@pytest.mark.parametrize("shape", ["sedan", "suv", "van", "bus"])
def test_cars_and_buses_have_door_mirrors_on_both_sides_and_people_behind_the_windscreen(shape: str) -> None:
    length, width, height = SHAPES[shape]
    mesh = build_mesh(shape, length, width, height)
    v = mesh.vertices
    mirrors = _mirrors(mesh, width)
    sides = {float(np.sign(v[list(f.index), 1].mean())) for f in mirrors}
    assert sides == {1.0, -1.0}
    assert all(np.abs(v[list(f.index), 1]).max() <= width / 2 + 0.35 for f in mirrors)
    cabin = [f for f in mesh.faces if f.material is Material.CABIN and f.normal[0] > 0.3]  # seen from ahead
    assert len(cabin) >= 2
    glass_front = max(v[list(f.index), 0].max() for f in mesh.faces if f.material is Material.GLASS)
    assert all(v[list(f.index), 0].max() <= glass_front + 0.05 for f in cabin)  # on the glass, not the bonnet


def test_a_lorry_rear_carries_red_and_white_reflective_markings_and_its_number() -> None:
    length, width, height = SHAPES["truck"]
    mesh = build_mesh("truck", length, width, height)
    v = mesh.vertices
    rear = [f for f in mesh.faces if f.normal[0] < -0.9 and v[list(f.index), 0].max() < 0.0]
    red = [f for f in rear if f.material is Material.REFLECTOR]
    white = [f for f in rear if f.material is Material.HUB]
    assert len(red) >= 4 and len(white) >= 4
    # Along the bottom of the box and up both of its edges.
    assert {float(np.sign(v[list(f.index), 1].mean())) for f in red if v[list(f.index), 2].min() > 1.3} == {1.0, -1.0}
    assert len([f for f in rear if f.material is Material.GRILLE and v[list(f.index), 2].min() > 1.4]) >= 5


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_body_has_wheels_glass_lamps_and_plates(shape: str) -> None:
    mesh = build_mesh(shape, *SHAPES[shape])
    materials = {f.material for f in mesh.faces}
    assert {
        Material.PAINT,
        Material.GLASS,
        Material.TYRE,
        Material.HUB,
        Material.HEADLAMP,
        Material.TAILLAMP,
    } <= materials
    assert {Material.PLATE, Material.PLATE_TEXT} <= materials
    hubs = [f for f in mesh.faces if f.material is Material.HUB]
    assert len(hubs) >= 4  # two wheels a side at least


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_body_fits_its_size_and_faces_point_outwards(shape: str) -> None:
    length, width, height = SHAPES[shape]
    mesh = build_mesh(shape, length, width, height)
    v = mesh.vertices
    # Only the door mirrors stand out of the body's size (as a vehicle's width is given without them).
    body = np.unique(np.concatenate([f.index for f in mesh.faces if f not in _mirrors(mesh, width)]))
    assert v[body, 0].min() >= -0.05 and v[body, 0].max() <= length + 0.05
    assert np.abs(v[body, 1]).max() <= width / 2 + 0.05
    assert v[:, 2].min() >= 0.0 and v[:, 2].max() <= height + 1e-9
    centre = np.array([length / 2, 0.0, height / 2])
    mirrors = _mirrors(mesh, width)
    for face in mesh.faces:
        pts = v[list(face.index)]
        normal = np.asarray(face.normal)
        assert abs(np.linalg.norm(normal) - 1.0) < 1e-9
        # The faces' own plane agrees with the normal given (planar polygons) ...
        spread = (pts - pts.mean(axis=0)) @ normal
        assert np.abs(spread).max() < 0.05 * max(1.0, np.abs(normal[2]) * 10)
        # ... and a side face looks out of its own side (left faces left, right faces right), an end
        # detail out of its own end: culling would otherwise hide what should be seen.
        mid = pts.mean(axis=0)
        if abs(normal[1]) > 0.9:
            assert np.sign(normal[1]) == np.sign(mid[1])
        if face.part == 2 and abs(normal[0]) > 0.9 and face not in mirrors:  # a mirror has a back and a front
            assert np.sign(normal[0]) == np.sign(mid[0] - centre[0])


def test_glass_shows_the_cabin_unless_seen_at_a_grazing_angle() -> None:
    """A windscreen facing a pole camera reflects a few per cent of the sky (it looked white when it mirrored
    it like paint's sheen); only near grazing does glass turn into a mirror."""
    cos = np.cos(np.radians([0.0, 45.0, 60.0, 80.0, 89.0]))
    r = glass_reflectance(cos)
    assert abs(r[0] - 0.04) < 1e-9 and r[2] < 0.1
    assert np.all(np.diff(r) > 0) and r[-1] > 0.85
