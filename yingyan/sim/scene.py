"""The static scene of one camera: road surface, markings, kerbs and roadside, drawn once.

Ground polygons are defined on the road plane in metres, clipped (shapely) to the half-plane
in front of the camera, projected and filled with OpenCV at twice the output size, then
reduced with area averaging so that far markings do not alias.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np
from shapely.geometry import Polygon, box

from yingyan.sim.camera import PinholeCamera
from yingyan.sim.network import breakpoints, lanes_between
from yingyan.sim.scenario import Direction, IncidentType, Lighting, Scenario, Weather

SUPERSAMPLE = 2
SHIFT = 4  # fixed-point bits for sub-pixel polygon filling
Color = tuple[float, float, float]

ASPHALT: Color = (74.0, 76.0, 80.0)
WET_ASPHALT: Color = (52.0, 53.0, 57.0)
GRASS: Color = (62.0, 118.0, 92.0)
SIDEWALK: Color = (150.0, 156.0, 162.0)
KERB: Color = (196.0, 198.0, 200.0)
WHITE: Color = (226.0, 228.0, 230.0)
YELLOW: Color = (40.0, 188.0, 228.0)


@dataclass(frozen=True)
class Look:
    """How a lighting/weather condition tints the scene."""

    light: tuple[float, float, float]  # per-channel multiplier of lit colours (BGR)
    sky_top: Color
    sky_horizon: Color
    lights_on: bool  # headlights, tail lights and street lamps
    shadows: bool
    fog_m: float  # distance at which haze reaches 63 %


def look_for(scenario: Scenario) -> Look:
    """The look of the scenario's conditions."""
    cond = scenario.conditions
    if cond.lighting is Lighting.DAY:
        look = Look((1.0, 1.0, 1.0), (235.0, 200.0, 160.0), (235.0, 225.0, 215.0), False, True, 1400.0)
    elif cond.lighting is Lighting.DUSK:
        look = Look((0.52, 0.5, 0.58), (150.0, 110.0, 100.0), (120.0, 150.0, 215.0), True, False, 900.0)
    else:
        look = Look((0.16, 0.15, 0.15), (40.0, 22.0, 12.0), (60.0, 40.0, 30.0), True, False, 700.0)
    if cond.weather is Weather.RAIN:
        r, g, b = look.light
        look = Look(
            (r * 0.8, g * 0.8, b * 0.8),
            look.sky_horizon,
            look.sky_horizon,
            look.lights_on or cond.lighting is not Lighting.DAY,
            False,
            look.fog_m * 0.35,
        )
    return look


def front_half_plane(camera: PinholeCamera, near_m: float = 1.0, extent_m: float = 3000.0) -> Polygon:
    """Road-plane region whose points lie at least ``near_m`` in front of the camera."""
    a, b, c3 = camera.r[2]
    cx, cy, cz = camera.c
    c = near_m + a * cx + b * cy + c3 * cz
    norm = math.hypot(a, b)
    n = np.array([a, b]) / norm
    d = np.array([-n[1], n[0]])
    p0 = n * (c / norm)
    corners = [p0 - extent_m * d, p0 + extent_m * d, p0 + extent_m * d + extent_m * n, p0 - extent_m * d + extent_m * n]
    return Polygon(corners)


class GroundPainter:
    """Fills road-plane polygons into an image through a camera."""

    def __init__(self, camera: PinholeCamera, scale: int) -> None:
        self.camera = camera
        self.scale = scale
        self.visible = front_half_plane(camera).intersection(
            box(camera.c[0] - 2500, camera.c[1] - 2500, camera.c[0] + 2500, camera.c[1] + 2500)
        )

    def fill(self, image: np.ndarray, polygon: Polygon, color: Color) -> None:
        clipped = polygon.intersection(self.visible)
        if clipped.is_empty:
            return
        parts = getattr(clipped, "geoms", [clipped])
        for part in parts:
            if not isinstance(part, Polygon) or part.area <= 0:
                continue
            xy = np.asarray(part.exterior.coords)[:-1]
            pts3 = np.column_stack([xy, np.zeros(len(xy))])
            pix, _ = self.camera.project(pts3)
            fixed = np.round(pix * self.scale * (1 << SHIFT)).astype(np.int32)
            cv2.fillPoly(image, [fixed], color, lineType=cv2.LINE_AA, shift=SHIFT)


def _scaled(camera: PinholeCamera, scale: int) -> PinholeCamera:
    k = camera.k.copy()
    k[:2] *= scale
    return PinholeCamera(k=k, r=camera.r, c=camera.c, width=camera.width * scale, height=camera.height * scale)


def _rect(x0: float, x1: float, y0: float, y1: float) -> Polygon:
    return box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _dashes(x0: float, x1: float, y: float, width: float, dash: float, gap: float) -> list[Polygon]:
    out = []
    x = x0
    while x < x1:
        out.append(_rect(x, min(x + dash, x1), y - width / 2, y + width / 2))
        x += dash + gap
    return out


def ground_layout(scenario: Scenario, x_range: tuple[float, float]) -> list[tuple[Polygon, Color]]:
    """Road-plane polygons with their base colours, bottom layer first."""
    net = scenario.network
    w = net.lane_width_m
    wet = scenario.conditions.weather is Weather.RAIN
    asphalt = WET_ASPHALT if wet else ASPHALT
    xa, xb = x_range
    full = net.lanes * w
    rev = full if net.two_way else 0.0
    items: list[tuple[Polygon, Color]] = [(_rect(xa - 500, xb + 500, -400, 400), GRASS)]
    # Sidewalks and kerbs along the corridor.
    items.append((_rect(0, net.length_m, -full - 4.5, -full), SIDEWALK))
    items.append((_rect(0, net.length_m, rev, rev + 4.5), SIDEWALK))
    # Kerb stones: a bright 0.25 m strip at the edge of each sidewalk.
    items.append((_rect(0, net.length_m, -full - 0.25, -full), KERB))
    items.append((_rect(0, net.length_m, rev, rev + 0.25), KERB))
    cs = net.cross_street
    if cs is not None:
        cw = cs.lanes * w
        items.append((_rect(cs.position_m - cw - 4.5, cs.position_m + cw + 4.5, -cs.length_m, cs.length_m), SIDEWALK))
        items.append((_rect(cs.position_m - cw, cs.position_m + cw, -cs.length_m, cs.length_m), asphalt))
    points = breakpoints(scenario)
    for a, b in itertools.pairwise(points):
        n_fwd = lanes_between(scenario, Direction.FORWARD, a, b)
        items.append((_rect(a, b, -n_fwd * w, rev), asphalt))
    lines: list[tuple[Polygon, Color]] = []
    mark = 0.15
    for a, b in itertools.pairwise(points):
        n_fwd = lanes_between(scenario, Direction.FORWARD, a, b)
        lo, hi = max(a, xa - 50), min(b, xb + 50)
        if lo >= hi:
            continue
        skip = (cs.position_m - cs.lanes * w - 3, cs.position_m + cs.lanes * w + 3) if cs is not None else None
        spans = [(lo, hi)] if skip is None else [(lo, min(hi, skip[0])), (max(lo, skip[1]), hi)]
        for s0, s1 in spans:
            if s0 >= s1:
                continue
            lines.append((_rect(s0, s1, -n_fwd * w + 0.1, -n_fwd * w + 0.1 + mark), WHITE))
            for k in range(1, n_fwd):
                lines += [(p, WHITE) for p in _dashes(s0, s1, -k * w, mark, 4.0, 6.0)]
            if net.two_way:
                lines.append((_rect(s0, s1, -0.2 - mark / 2, -0.2 + mark / 2), YELLOW))
                lines.append((_rect(s0, s1, 0.2 - mark / 2, 0.2 + mark / 2), YELLOW))
                lines.append((_rect(s0, s1, rev - 0.1 - mark, rev - 0.1), WHITE))
                for k in range(1, net.lanes):
                    lines += [(p, WHITE) for p in _dashes(s0, s1, k * w, mark, 4.0, 6.0)]
            else:
                lines.append((_rect(s0, s1, -0.1 - mark, -0.1), WHITE))  # left edge of a one-way road
    if cs is not None:
        cw = cs.lanes * w
        x0, x1 = cs.position_m - cw - 2.5, cs.position_m + cw + 2.5
        lines.append((_rect(x0 - 0.4, x0, -full, 0), WHITE))  # forward stop line
        if net.two_way:
            lines.append((_rect(x1, x1 + 0.4, 0, rev), WHITE))
        for xs, sign in ((x0 - 4.5, 1), (x1 + 0.5, 1)):
            y = -full
            while y < rev:
                lines.append((_rect(xs, xs + 4.0 * sign, y, y + 0.5), WHITE))
                y += 1.0
    for i, inc in enumerate(scenario.incidents):
        if inc.type is IncidentType.ILLEGAL_PARKING:
            # No-parking zone markings (网状线) around the parking place on the kerb lane.
            zone = no_parking_zone(scenario, i)
            lines.append((zone.exterior.buffer(0.08), YELLOW))
            zx0, zy0, zx1, zy1 = zone.bounds
            x = zx0
            while x < zx1:
                diag = Polygon([(x, zy0), (x + 0.12, zy0), (min(x + 3.12, zx1 + 3), zy1), (min(x + 3.0, zx1 + 3), zy1)])
                lines.append((diag.intersection(zone), YELLOW))
                x += 2.0
    return items + lines


def no_parking_zone(scenario: Scenario, index: int) -> Polygon:
    """Road-plane polygon of the no-parking zone drawn around an illegal-parking incident."""
    inc = scenario.incidents[index]
    w = scenario.network.lane_width_m
    n = scenario.network.lanes
    lane = inc.lane if inc.lane > 0 else n
    lateral0 = (lane - 1) * w
    x0, x1 = inc.position_m - 30.0, inc.position_m + 30.0
    if inc.direction is Direction.FORWARD:
        return _rect(x0, x1, -lateral0 - w + 0.3, -lateral0 - 0.3)
    return _rect(x0, x1, lateral0 + 0.3, lateral0 + w - 0.3)


def roadside_objects(scenario: Scenario, x_range: tuple[float, float]) -> list[tuple[str, float, float]]:
    """Lamp posts and trees along the corridor: (kind, x, y)."""
    net = scenario.network
    full = net.lanes * net.lane_width_m
    rev = full if net.two_way else 0.0
    out: list[tuple[str, float, float]] = []
    start = math.floor(x_range[0] / 35.0) * 35.0
    x = start
    while x <= x_range[1]:
        if 0 <= x <= net.length_m:
            out.append(("lamp", x, -full - 0.8))
            out.append(("lamp", x + 17.5, rev + 0.8))
            out.append(("tree", x + 8.0, rev + 7.0 + (hash((int(x), 1)) % 3)))
            out.append(("tree", x + 26.0, -full - 7.5 - (hash((int(x), 2)) % 3)))
        x += 35.0
    return out


def _shade(color: Color, light: tuple[float, float, float], factor: float = 1.0) -> Color:
    return (color[0] * light[0] * factor, color[1] * light[1] * factor, color[2] * light[2] * factor)


def render_background(scenario: Scenario, camera: PinholeCamera, seed: int) -> np.ndarray:
    """The static BGR background of a camera under the scenario's conditions."""
    look = look_for(scenario)
    s = SUPERSAMPLE
    big = _scaled(camera, s)
    h, w = big.height, big.width
    img = np.zeros((h, w, 3), np.float32)
    horizon = big.horizon_row()
    # Sky gradient.
    rows = np.arange(h, dtype=np.float32)[:, None]
    frac = np.clip((rows - min(horizon - 300 * s, 0)) / max(horizon - min(horizon - 300 * s, 0), 1), 0, 1)
    sky = (1 - frac) * np.array(look.sky_top, np.float32) + frac * np.array(look.sky_horizon, np.float32)
    img[:] = sky[:, None, :]
    painter = GroundPainter(big, 1)
    x_range = (camera.c[0] - 600, camera.c[0] + 600)
    ground = np.zeros((h, w, 3), np.float32)
    for poly, color in ground_layout(scenario, x_range):
        painter.fill(ground, poly, _shade(color, look.light))
    rng = np.random.default_rng(seed)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2) * 9.0
    blotch = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 9.0) * 40.0
    brightness = float(np.mean(look.light))
    ground += ((grain + blotch) * brightness)[:, :, None]
    below = rows[:, 0] > horizon + 0.5
    # Haze: blend the ground towards the horizon colour by distance.
    dist = np.array([big.ground_distance_at_row(float(r)) if below[int(r)] else np.inf for r in range(h)], np.float32)
    fog = (1.0 - np.exp(-dist / look.fog_m))[:, None, None]
    haze = np.array(look.sky_horizon, np.float32) * 0.9
    ground = ground * (1 - fog) + haze * fog
    img[below] = ground[below]
    if look.lights_on:
        _lamp_light(img, big, scenario, x_range, look)
    _draw_roadside(img, big, scenario, x_range, look)
    out = cv2.resize(np.clip(img, 0, 255), (camera.width, camera.height), interpolation=cv2.INTER_AREA)
    return np.asarray(np.clip(out, 0, 255).astype(np.uint8))


def _lamp_light(
    img: np.ndarray, camera: PinholeCamera, scenario: Scenario, x_range: tuple[float, float], look: Look
) -> None:
    glow = np.zeros(img.shape[:2], np.float32)
    painter = GroundPainter(camera, 1)
    for kind, x, y in roadside_objects(scenario, x_range):
        if kind != "lamp":
            continue
        centre_y = y + (3.0 if y < 0 else -3.0)
        pool = Polygon(
            [(x + 5 * math.cos(a), centre_y + 4 * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 16, endpoint=False)]
        )
        one = np.zeros((*img.shape[:2], 3), np.float32)
        painter.fill(one, pool, (1.0, 1.0, 1.0))
        glow = np.maximum(glow, one[:, :, 0])
    blurred = cv2.GaussianBlur(glow, (0, 0), 6.0 * SUPERSAMPLE)
    # Pools of sodium light matter in the dark and hardly at dusk.
    strength = max(0.0, 1.0 - 1.6 * float(np.mean(look.light)))
    img += blurred[:, :, None] * np.array([28.0, 60.0, 85.0], np.float32) * strength


def _draw_roadside(
    img: np.ndarray, camera: PinholeCamera, scenario: Scenario, x_range: tuple[float, float], look: Look
) -> None:
    objects = roadside_objects(scenario, x_range)
    objects.sort(key=lambda o: -math.hypot(o[1] - camera.c[0], o[2] - camera.c[1]))
    for kind, x, y in objects:
        base = np.array([[x, y, 0.0]])
        if math.hypot(x - camera.c[0], y - camera.c[1]) < 30.0:
            continue  # the camera's own pole and its neighbours stand behind or beside it
        if kind == "lamp":
            arm = -1.8 if y > 0 else 1.8
            pts = np.array([[x, y, 0.0], [x, y, 9.0], [x, y + arm, 9.3]])
            pix, depth = camera.project(pts)
            if (depth < 2).any():
                continue
            thick = max(1, int(round(0.18 * camera.k[0, 0] / depth[0])))
            color = _shade((110.0, 112.0, 115.0), look.light)
            p = [tuple(int(v) for v in q) for q in np.round(pix).astype(int)]
            cv2.line(img, p[0], p[1], color, thick, cv2.LINE_AA)
            cv2.line(img, p[1], p[2], color, thick, cv2.LINE_AA)
            if look.lights_on:
                r = max(2, int(round(0.35 * camera.k[0, 0] / depth[2])))
                cv2.circle(img, p[2], r, (180.0, 235.0, 255.0), -1, cv2.LINE_AA)
        else:
            _, depth = camera.project(base)
            if depth[0] < 3:
                continue
            trunk = np.array([[x, y, 0.0], [x, y, 3.0]])
            pix, depth = camera.project(trunk)
            f = camera.k[0, 0]
            p = [tuple(int(v) for v in q) for q in np.round(pix).astype(int)]
            cv2.line(
                img, p[0], p[1], _shade((40.0, 60.0, 80.0), look.light), max(1, int(0.3 * f / depth[0])), cv2.LINE_AA
            )
            crown, cd = camera.project(np.array([[x, y, 4.5]]))
            radius = max(1, int(2.6 * f / cd[0]))
            cv2.ellipse(
                img,
                (int(crown[0][0]), int(crown[0][1])),
                (radius, int(radius * 1.1)),
                0,
                0,
                360,
                _shade((45.0, 105.0, 60.0), look.light),
                -1,
                cv2.LINE_AA,
            )
