"""Vehicle bodies: the parts a detector looks for, closed solids with outward faces."""

from __future__ import annotations

import numpy as np
import pytest

from yingyan.sim.vehicles import Material, build_mesh

SHAPES = {
    "sedan": (4.6, 1.8, 1.45),
    "suv": (4.8, 1.9, 1.75),
    "van": (5.0, 1.9, 2.0),
    "bus": (12.0, 2.5, 3.2),
    "truck": (9.0, 2.5, 3.4),
}


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
    assert v[:, 0].min() >= -0.05 and v[:, 0].max() <= length + 0.05
    assert np.abs(v[:, 1]).max() <= width / 2 + 0.05 and v[:, 2].min() >= 0.0 and v[:, 2].max() <= height + 1e-9
    centre = np.array([length / 2, 0.0, height / 2])
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
        if face.part == 2 and abs(normal[0]) > 0.9:
            assert np.sign(normal[0]) == np.sign(mid[0] - centre[0])
