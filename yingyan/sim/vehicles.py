"""Vehicle bodies as small polygon meshes with materials: what a detector looks for in a vehicle.

A body is built in its own frame — ``s`` metres forward from the rear bumper, ``t`` metres to the
left of the centre line, ``z`` metres up — from a side profile per shape: a lower body
(bumpers, bonnet, boot), a glasshouse set in from the sides (windscreen, side and rear windows,
pillars, roof), tyres, wheels with hubs, lamps, a grille and number plates. Every face is a
convex polygon with one material and an outward normal; :class:`CameraRenderer` culls, shades
and fills them in the order given (solids first, details on their faces after).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Material(IntEnum):
    """How a face is shaded."""

    PAINT = 0
    GLASS = 1
    TYRE = 2
    TRIM = 3  # bumpers, sills, mirrors: dark plastic
    HEADLAMP = 4
    TAILLAMP = 5
    PLATE = 6
    GRILLE = 7
    HUB = 8
    PLATE_TEXT = 9
    SIGN_TEXT = 10  # a bus's destination display


@dataclass(frozen=True)
class Face:
    """One convex polygon of a body: vertex indices, material and outward normal (vehicle frame)."""

    index: tuple[int, ...]
    material: Material
    normal: tuple[float, float, float]
    part: int = 0  # 0 the body, 1 a front solid, -1 a rear solid (the nearer drawn last), 2 details on top


@dataclass(frozen=True)
class Mesh:
    """A vehicle body: vertices (V, 3) in the vehicle frame and faces in drawing order."""

    vertices: np.ndarray
    faces: tuple[Face, ...]


@dataclass(frozen=True)
class Profile:
    """The side view of a body shape, as fractions of the vehicle's length and metres of height."""

    lower: tuple[tuple[float, float], ...]  # convex polygon (s fraction, z m) of bumpers, bonnet and boot
    glass: tuple[tuple[float, float], ...]  # convex polygon of the glasshouse, anticlockwise from rear base
    glass_inset: float  # how far the glasshouse stands in from each side (m)
    wheels: tuple[float, ...]  # wheel centres (s fraction)
    wheel_radius: float  # m
    pillars: tuple[float, ...]  # s fractions of the pillars between side windows
    plate_z: tuple[float, float]  # heights of the front and rear plates' centres (m)
    lamp_z: tuple[float, float]  # heights of head and tail lamps' centres (m)
    caps: tuple[tuple[tuple[float, float], ...], ...] = ()  # convex painted solids: roofs above glass, cargo boxes
    chassis: tuple[tuple[float, float], ...] = ()  # convex dark frame under a cargo box, set in from the sides


def _profile(shape: str, height: float) -> Profile:
    h = height
    if shape == "sedan":
        belt = min(0.92, 0.64 * h)
        return Profile(
            lower=(
                (0.0, 0.3),
                (0.0, belt - 0.06),
                (0.03, belt),
                (0.22, belt + 0.02),
                (0.78, belt),
                (0.97, belt - 0.12),
                (1.0, belt - 0.2),
                (1.0, 0.3),
                (0.97, 0.2),
                (0.03, 0.2),
            ),
            glass=((0.2, belt + 0.02), (0.78, belt), (0.6, h), (0.3, h)),
            glass_inset=0.1,
            wheels=(0.17, 0.8),
            wheel_radius=0.32,
            pillars=(0.47,),
            plate_z=(0.45, 0.62),
            lamp_z=(belt - 0.2, belt - 0.1),
        )
    if shape == "suv":
        belt = 0.62 * h
        return Profile(
            lower=(
                (0.0, 0.35),
                (0.0, belt - 0.04),
                (0.02, belt),
                (0.82, belt),
                (0.98, belt - 0.12),
                (1.0, belt - 0.25),
                (1.0, 0.35),
                (0.97, 0.25),
                (0.03, 0.25),
            ),
            glass=((0.02, belt), (0.82, belt), (0.68, h), (0.05, h)),
            glass_inset=0.08,
            wheels=(0.17, 0.8),
            wheel_radius=0.36,
            pillars=(0.33, 0.55),
            plate_z=(0.5, 0.75),
            lamp_z=(belt - 0.18, belt - 0.12),
        )
    if shape == "van":
        belt = min(1.05, 0.5 * h)
        return Profile(
            lower=(
                (0.0, 0.32),
                (0.0, belt),
                (0.86, belt),
                (0.98, belt - 0.15),
                (1.0, belt - 0.3),
                (1.0, 0.32),
                (0.97, 0.22),
                (0.03, 0.22),
            ),
            glass=((0.0, belt), (0.86, belt), (0.74, h), (0.0, h)),
            glass_inset=0.05,
            wheels=(0.16, 0.82),
            wheel_radius=0.34,
            pillars=(0.3, 0.5, 0.62),
            plate_z=(0.5, 0.6),
            lamp_z=(belt - 0.25, belt - 0.2),
        )
    if shape == "bus":
        belt = 1.15
        return Profile(
            lower=((0.0, 0.35), (0.0, belt), (1.0, belt), (1.0, 0.35), (0.99, 0.3), (0.01, 0.3)),
            glass=((0.0, belt), (1.0, belt), (1.0, h - 0.35), (0.0, h - 0.35)),
            glass_inset=0.0,
            wheels=(0.2, 0.78),
            wheel_radius=0.5,
            pillars=(0.12, 0.24, 0.36, 0.48, 0.6, 0.72, 0.84),
            plate_z=(0.6, 0.7),
            lamp_z=(0.75, 0.9),
            caps=(((0.0, h - 0.35), (1.0, h - 0.35), (1.0, h), (0.0, h)),),
        )
    if shape == "truck":
        belt = 1.5
        return Profile(
            lower=((0.75, 0.45), (0.75, belt), (1.0, belt), (1.0, 0.55), (0.98, 0.45)),
            glass=((0.78, belt), (1.0, belt), (1.0, min(h, 2.9) - 0.25), (0.8, min(h, 2.9) - 0.25)),
            glass_inset=0.04,
            wheels=(0.12, 0.26, 0.86),
            wheel_radius=0.5,
            pillars=(),
            plate_z=(0.7, 0.8),
            lamp_z=(0.85, 1.2),
            caps=(
                ((0.78, min(h, 2.9) - 0.25), (1.0, min(h, 2.9) - 0.25), (1.0, min(h, 2.9)), (0.8, min(h, 2.9))),
                ((0.0, 1.1), (0.73, 1.1), (0.73, h), (0.0, h)),
            ),
            chassis=((0.0, 0.5), (0.76, 0.5), (0.76, 1.1), (0.0, 1.1)),
        )
    raise ValueError(f"no profile for body shape {shape!r}")


class _Builder:
    def __init__(self) -> None:
        self.vertices: list[tuple[float, float, float]] = []
        self.faces: list[Face] = []
        self.part = 0

    def quad(self, points: list[tuple[float, float, float]], material: Material, normal: np.ndarray) -> None:
        base = len(self.vertices)
        self.vertices.extend(points)
        # The polygon's own normal (Newell's method), turned to the side ``normal`` says is out.
        pts = np.asarray(points, dtype=float)
        nxt = np.roll(pts, -1, axis=0)
        own = np.array([
            np.sum((pts[:, 1] - nxt[:, 1]) * (pts[:, 2] + nxt[:, 2])),
            np.sum((pts[:, 2] - nxt[:, 2]) * (pts[:, 0] + nxt[:, 0])),
            np.sum((pts[:, 0] - nxt[:, 0]) * (pts[:, 1] + nxt[:, 1])),
        ])  # fmt: skip
        if float(np.linalg.norm(own)) > 1e-9:
            normal = own if float(own @ normal) >= 0 else -own
        n = normal / max(float(np.linalg.norm(normal)), 1e-9)
        self.faces.append(
            Face(tuple(range(base, base + len(points))), material, (float(n[0]), float(n[1]), float(n[2])), self.part)
        )

    def rect(self, s: float, t: tuple[float, float], z: tuple[float, float], material: Material) -> None:
        """A rectangle across an end of the body at ``s`` (front when s > 0, rear when below), facing out."""
        pts = [(s, t[0], z[0]), (s, t[1], z[0]), (s, t[1], z[1]), (s, t[0], z[1])]
        self.quad(pts, material, np.array([1.0 if s > 0 else -1.0, 0.0, 0.0]))

    def prism(
        self,
        profile: list[tuple[float, float]],
        half_at: list[float],
        material_sides: Material,
        material_ring: list[Material],
    ) -> None:
        """Extrude a convex side profile (s, z in metres, anticlockwise seen from the left) across the width."""
        n = len(profile)
        centre = np.mean(np.asarray(profile), axis=0)
        left = [(s, hw, z) for (s, z), hw in zip(profile, half_at, strict=True)]
        right = [(s, -hw, z) for (s, z), hw in zip(profile, half_at, strict=True)]
        for i in range(n):
            j = (i + 1) % n
            (s0, z0), (s1, z1) = profile[i], profile[j]
            outward = np.array([z1 - z0, 0.0, -(s1 - s0)])
            mid = np.array([(s0 + s1) / 2 - centre[0], 0.0, (z0 + z1) / 2 - centre[1]])
            if float(outward @ mid) < 0:  # either winding: the normal points away from the centre
                outward = -outward
            self.quad([left[i], left[j], right[j], right[i]], material_ring[i], outward)
        self.quad(left, material_sides, np.array([0.0, 1.0, 0.0]))
        self.quad(right[::-1], material_sides, np.array([0.0, -1.0, 0.0]))


def build_mesh(shape: str, length: float, width: float, height: float) -> Mesh:
    """The mesh of a body ``shape`` (sedan, suv, van, bus, truck) of the given size in metres."""
    p = _profile(shape, height)
    b = _Builder()
    half = width / 2.0
    # Tyres: dark blocks at each wheel, inside the body's width, reaching the road.
    r = p.wheel_radius
    for ws in p.wheels:
        s = ws * length
        for sign in (1.0, -1.0):
            t0, t1 = sign * (half - 0.02), sign * (half - 0.27)
            pts = [(s - r, t0, 0.0), (s + r, t0, 0.0), (s + r, t0, 2 * r), (s - r, t0, 2 * r)]
            b.quad(pts if sign > 0 else pts[::-1], Material.TYRE, np.array([0.0, sign, 0.0]))
            for face_s, normal in ((s + r, 1.0), (s - r, -1.0)):
                quad = [(face_s, t0, 0.0), (face_s, t1, 0.0), (face_s, t1, 2 * r), (face_s, t0, 2 * r)]
                b.quad(quad, Material.TYRE, np.array([normal, 0.0, 0.0]))
    if p.chassis:
        frame = [(sf * length, z) for sf, z in p.chassis]
        b.prism(frame, [half - 0.35] * len(frame), Material.TRIM, [Material.TRIM] * len(frame))
    # Lower body: bumpers below 0.45 m are trim, the rest paint. A lorry's cab is a front solid, its box a rear one.
    lorry = shape == "truck"
    b.part = 1 if lorry else 0
    lower = [(sf * length, z) for sf, z in p.lower]
    ring = []
    for i in range(len(lower)):
        j = (i + 1) % len(lower)
        ring.append(Material.TRIM if max(lower[i][1], lower[j][1]) <= 0.45 else Material.PAINT)
    b.prism(lower, [half] * len(lower), Material.PAINT, ring)
    # Glasshouse: glass all round but its roof.
    glass = [(sf * length, z) for sf, z in p.glass]
    g_half = half - p.glass_inset
    top_half = g_half - (0.12 if shape in ("sedan", "suv") else 0.02)
    half_at = [g_half if z < height - 0.05 else top_half for _, z in glass]
    ring = [
        Material.PAINT if min(glass[i][1], glass[(i + 1) % len(glass)][1]) >= height - 0.4 else Material.GLASS
        for i in range(len(glass))
    ]
    if shape == "truck":
        ring = [Material.GLASS if i == 1 else Material.PAINT for i in range(len(glass))]
    if shape == "bus":  # the rear is the engine's: painted, with a window above it (a detail, below)
        ring[3] = Material.PAINT
    b.prism(glass, half_at, Material.GLASS, ring)
    for k, cap_profile in enumerate(p.caps):
        b.part = (1 if k == 0 else -1) if lorry else 0
        cap = [(sf * length, z) for sf, z in cap_profile]
        b.prism(cap, [half - 0.02] * len(cap), Material.PAINT, [Material.PAINT] * len(cap))
    b.part = 2
    if p.chassis:  # a lorry's rear: underrun bar and the seam between the cargo doors
        bar = [
            (-0.02, half - 0.1, 0.48),
            (-0.02, -half + 0.1, 0.48),
            (-0.02, -half + 0.1, 0.62),
            (-0.02, half - 0.1, 0.62),
        ]
        b.quad(bar, Material.TRIM, np.array([-1.0, 0.0, 0.0]))
        for t in (0.0, 0.3 * half, -0.3 * half, 0.85 * half, -0.85 * half):  # door seam and locking bars
            w = 0.03 if t == 0.0 else 0.02
            bar_v = [
                (-0.012, t + w, 1.15),
                (-0.012, t - w, 1.15),
                (-0.012, t - w, height - 0.06),
                (-0.012, t + w, height - 0.06),
            ]
            b.quad(bar_v, Material.GRILLE if t == 0.0 else Material.TRIM, np.array([-1.0, 0.0, 0.0]))
    # Pillars on the side windows, roof rails above them.
    lean = (g_half - top_half) / max(height - glass[0][1], 0.1)
    for pf in p.pillars:
        s = pf * length
        zs = [glass[0][1] + 0.02, height - 0.02]
        for sign in (1.0, -1.0):
            pts = [(s - 0.06, sign * (g_half + 0.005 - lean * (z - zs[0])), z) for z in zs]
            pts += [(s + 0.06, sign * (g_half + 0.005 - lean * (z - zs[0])), z) for z in zs[::-1]]
            b.quad(pts if sign > 0 else pts[::-1], Material.PAINT, np.array([0.0, sign, lean]))
    if shape == "bus":  # a deep windscreen, the destination sign above it, and the doors on the kerb side
        r_s = -0.012
        window = [
            (r_s, half - 0.3, height - 1.25),
            (r_s, half - 0.3, height - 0.55),
            (r_s, -half + 0.3, height - 0.55),
            (r_s, -half + 0.3, height - 1.25),
        ]
        b.quad(window, Material.GLASS, np.array([-1.0, 0.0, 0.0]))
        engine = [(r_s, 0.6, 0.5), (r_s, 0.6, 0.95), (r_s, -0.6, 0.95), (r_s, -0.6, 0.5)]
        b.quad(engine, Material.GRILLE, np.array([-1.0, 0.0, 0.0]))
        f = length + 0.012
        screen = [(f, half - 0.1, 0.9), (f, -half + 0.1, 0.9), (f, -half + 0.1, 1.2), (f, half - 0.1, 1.2)]
        b.quad(screen, Material.GLASS, np.array([1.0, 0.0, 0.0]))
        sign_z = (height - 0.32, height - 0.08)
        board = [
            (f, half - 0.25, sign_z[0]),
            (f, -half + 0.25, sign_z[0]),
            (f, -half + 0.25, sign_z[1]),
            (f, half - 0.25, sign_z[1]),
        ]
        b.quad(board, Material.GRILLE, np.array([1.0, 0.0, 0.0]))
        text = [
            (f + 0.003, 0.6, sign_z[0] + 0.07),
            (f + 0.003, -0.6, sign_z[0] + 0.07),
            (f + 0.003, -0.6, sign_z[1] - 0.07),
            (f + 0.003, 0.6, sign_z[1] - 0.07),
        ]
        b.quad(text, Material.SIGN_TEXT, np.array([1.0, 0.0, 0.0]))
        for s0 in (0.86 * length, 0.45 * length):
            door = [
                (s0, -half - 0.012, 0.35),
                (s0 + 1.1, -half - 0.012, 0.35),
                (s0 + 1.1, -half - 0.012, height - 0.4),
                (s0, -half - 0.012, height - 0.4),
            ]
            b.quad(door, Material.GLASS, np.array([0.0, -1.0, 0.0]))
    # A dark sill along each side, then the wheels: a wheel arch, a dark tyre and a lighter hub.
    z_sill = lower[-1][1]
    for sign in (1.0, -1.0):
        sill = [(0.04 * length, sign * (half + 0.005), z_sill), (0.96 * length, sign * (half + 0.005), z_sill)]
        sill += [
            (0.96 * length, sign * (half + 0.005), z_sill + 0.16),
            (0.04 * length, sign * (half + 0.005), z_sill + 0.16),
        ]
        b.quad(sill, Material.TRIM, np.array([0.0, sign, 0.0]))
    for ws in p.wheels:
        s = ws * length
        for sign in (1.0, -1.0):
            arch = [
                (s + 1.18 * r * math.cos(a), sign * (half + 0.008), r + 1.18 * r * math.sin(a))
                for a in np.linspace(0, math.pi, 8)
            ]
            b.quad(arch if sign > 0 else arch[::-1], Material.GRILLE, np.array([0.0, sign, 0.0]))
            for radius, mat in ((r * 0.98, Material.TYRE), (r * 0.58, Material.HUB)):
                ring_pts = [
                    (s + radius * math.cos(a), sign * (half + 0.01), r + radius * math.sin(a))
                    for a in np.linspace(0, 2 * math.pi, 14, endpoint=False)
                ]
                b.quad(ring_pts if sign > 0 else ring_pts[::-1], mat, np.array([0.0, sign, 0.0]))
    # Front: grille in a bright surround, lamps in dark housings, plate; rear: lamps in housings, plate.
    front_s, rear_s = length + 0.01, -0.01
    hz, tz = p.lamp_z
    lamp_w = min(0.42, 0.22 * width)
    for sign in (1.0, -1.0):
        t_out, t_in = sign * (half - 0.08), sign * (half - 0.08 - lamp_w)
        b.rect(front_s, (t_out + sign * 0.03, t_in - sign * 0.03), (hz - 0.1, hz + 0.1), Material.TRIM)
        b.rect(front_s + 0.003, (t_out, t_in), (hz - 0.07, hz + 0.07), Material.HEADLAMP)
        b.rect(rear_s, (t_out + sign * 0.03, t_in - sign * 0.03), (tz - 0.14, tz + 0.08), Material.TRIM)
        b.rect(rear_s - 0.003, (t_out, t_in), (tz - 0.11, tz + 0.05), Material.TAILLAMP)
    gw = 0.5 * width - lamp_w
    b.rect(front_s, (gw / 2 + 0.04, -gw / 2 - 0.04), (hz - 0.22, hz + 0.09), Material.HUB)
    b.rect(front_s + 0.003, (gw / 2, -gw / 2), (hz - 0.18, hz + 0.06), Material.GRILLE)
    for s_face, z in ((front_s + 0.006, p.plate_z[0]), (rear_s - 0.006, p.plate_z[1])):
        b.rect(s_face, (0.22, -0.22), (z - 0.07, z + 0.07), Material.PLATE)
        b.rect(s_face + 0.003 * np.sign(s_face), (0.17, -0.17), (z - 0.035, z + 0.035), Material.PLATE_TEXT)
    return Mesh(np.asarray(b.vertices, dtype=np.float64), tuple(b.faces))
