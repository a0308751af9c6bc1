"""Render what a checkpoint camera sees: vehicles as shaded 3D bodies over the static scene.

One :class:`CameraRenderer` per camera; its one verb, :meth:`CameraRenderer.render`, turns the
vehicles of one simulation step into a BGR frame plus the ground-truth boxes of the vehicles
in view. Conditions (night lights, rain, shake, noise) are applied here; compression is the
encoder's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from yingyan.sim.camera import PinholeCamera
from yingyan.sim.scenario import IncidentType, Scenario, Weather
from yingyan.sim.scene import SHIFT, Look, look_for, render_background
from yingyan.sim.traffic import IncidentRecord, Trajectories
from yingyan.sim.vehicles import Material, Mesh, build_mesh

MAX_RANGE_M = 400.0
EXPOSURE_TARGET = 70.0  # mean grey level auto exposure aims at (real night clips of lit roads: 50-70)
MAX_GAIN = 3.0  # the most gain a camera adds in the dark

# Palettes (BGR): cars are mostly white, silver, black and grey.
CAR_COLOURS: tuple[tuple[tuple[float, float, float], float], ...] = (
    ((235, 235, 232), 0.26),
    ((190, 190, 188), 0.16),
    ((35, 35, 38), 0.18),
    ((120, 120, 122), 0.12),
    ((40, 40, 170), 0.08),
    ((140, 80, 30), 0.08),
    ((90, 50, 20), 0.05),
    ((60, 90, 130), 0.04),
    ((30, 150, 200), 0.03),
)
BUS_COLOURS = ((70, 150, 40), (220, 220, 215), (170, 110, 30), (40, 120, 200))
TRUCK_COLOURS = ((160, 90, 30), (40, 40, 160), (200, 200, 200), (30, 140, 200))
GLASS = (62.0, 52.0, 46.0)
DARK = (28.0, 28.0, 30.0)
INTERIOR = (26.0, 26.0, 28.0)  # what is seen through glass
# Fixed colours of the materials that are not paint (BGR), and how glossy each is (specular weight).
MATERIAL_COLOUR: dict[Material, tuple[float, float, float]] = {
    Material.TYRE: (24.0, 24.0, 26.0),
    Material.TRIM: (44.0, 44.0, 46.0),
    Material.HEADLAMP: (205.0, 210.0, 212.0),
    Material.TAILLAMP: (45.0, 45.0, 195.0),
    Material.GRILLE: (30.0, 30.0, 32.0),
    Material.HUB: (165.0, 165.0, 170.0),
    Material.SIGN_TEXT: (40.0, 170.0, 255.0),
}
GLOSS: dict[Material, float] = {Material.PAINT: 0.45, Material.GLASS: 0.9, Material.HEADLAMP: 0.6, Material.HUB: 0.3}
BLUE_PLATE = ((150.0, 70.0, 15.0), (235.0, 235.0, 235.0))  # cars: white on blue
YELLOW_PLATE = ((30.0, 185.0, 235.0), (20.0, 20.0, 20.0))  # buses and lorries: black on yellow


@dataclass(frozen=True)
class _MeshData:
    """A body mesh prepared for drawing: vertices, face centres and normals as arrays, faces as lists."""

    mesh: Mesh
    centres: np.ndarray  # (F, 3)
    normals: np.ndarray  # (F, 3)
    seen_from_front: np.ndarray  # face order when the camera is ahead of the vehicle: rear solids first
    seen_from_rear: np.ndarray  # and when it is behind: front solids first
    index: tuple[np.ndarray, ...]  # each face's vertex indices
    base: np.ndarray  # (F, 3) fixed colours of the materials that have one (others 0)
    gloss: np.ndarray  # (F,) specular weight
    material: np.ndarray  # (F,) Material values


def _prepare(mesh: Mesh) -> _MeshData:
    centres = np.array([mesh.vertices[list(f.index)].mean(axis=0) for f in mesh.faces])
    normals = np.array([f.normal for f in mesh.faces])
    rank = {0: 0, -1: 1, 1: 2, 2: 3}
    from_front = sorted(range(len(mesh.faces)), key=lambda i: rank[mesh.faces[i].part])
    rank = {0: 0, 1: 1, -1: 2, 2: 3}
    from_rear = sorted(range(len(mesh.faces)), key=lambda i: rank[mesh.faces[i].part])
    base = np.array([MATERIAL_COLOUR.get(f.material, (0.0, 0.0, 0.0)) for f in mesh.faces])
    gloss = np.array([GLOSS.get(f.material, 0.0) for f in mesh.faces])
    return _MeshData(
        mesh, centres, normals, np.asarray(from_front), np.asarray(from_rear),
        tuple(np.asarray(f.index) for f in mesh.faces), base, gloss, np.array([int(f.material) for f in mesh.faces]),
    )  # fmt: skip


@dataclass(frozen=True)
class Part:
    """One box of a vehicle body in the vehicle frame.

    ``s`` runs from the rear and ``half_width`` is a fraction of the length and width; z is in metres.
    """

    s0: float
    s1: float
    half_width: float  # fraction of the vehicle width / 2
    z0: float
    z1: float
    glass: bool  # side faces are windows; the top keeps the body colour
    dark: bool = False  # tyres and under-body


def parts_for(shape: str, height: float) -> tuple[Part, ...]:
    """The boxes of a body drawn as boxes: a motorcycle with its rider (other shapes are meshes, ``vehicles.py``)."""
    if shape != "motorcycle":
        return ()
    return (Part(0.0, 1.0, 0.5, 0.25, 0.95, False, True), Part(0.3, 0.75, 0.6, 0.95, height, False))


# Faces of a box by corner index (corners: s0/s1 × t-/t+ × z0/z1; index = 4*s + 2*t + z), in the
# order top, front, rear, left, right (the bottom is never seen from a pole).
_FACE_INDEX = np.array([(1, 3, 7, 5), (4, 6, 7, 5), (0, 2, 3, 1), (2, 6, 7, 3), (0, 4, 5, 1)])


@dataclass(frozen=True)
class _Body:
    """A vehicle placed in the world: corners of its hull (row 0) and parts, heading and left unit vectors."""

    index: int
    corners: np.ndarray
    heading: np.ndarray
    left: np.ndarray
    rear: np.ndarray  # centre of the rear bumper on the road (x, y)


@dataclass(frozen=True)
class GroundTruthBox:
    """A vehicle's box in one frame."""

    vehicle: int
    cls: str
    x1: float
    y1: float
    x2: float
    y2: float
    depth_m: float
    truncated: bool


class CameraRenderer:
    """Draws one camera's frames.

    ``render(step)`` returns the frame and the boxes of the vehicles in view.
    """

    def __init__(self, scenario: Scenario, camera: PinholeCamera, traj: Trajectories, seed: int) -> None:
        self.scenario = scenario
        self.camera = camera
        self.traj = traj
        self.look: Look = look_for(scenario)
        self.background = render_background(scenario, camera, seed)
        self.rng = np.random.default_rng(seed + 17)
        sun_az = math.radians(35.0 + 250.0 * ((seed * 7919) % 100) / 100.0)
        self.sun = np.array([math.cos(sun_az) * 0.55, math.sin(sun_az) * 0.55, 0.83])
        self.sun /= np.linalg.norm(self.sun)
        self._colours = self._vehicle_colours(seed)
        self._parts = {shape: parts_for(shape, h) for shape, h in {(v.shape, v.height_m) for v in traj.vehicles}}
        self._templates: dict[str, np.ndarray] = {}
        self._meshes: dict[tuple[str, float, float, float], _MeshData] = {}
        h, w = camera.height, camera.width
        cond = scenario.conditions
        # Auto exposure: the camera's gain brings the scene's mean brightness up towards mid-grey (a
        # night scene to a dim but readable picture), and amplifies the sensor's noise with it.
        mean = float(cv2.cvtColor(self.background, cv2.COLOR_BGR2GRAY).mean())
        self.gain = float(np.clip(EXPOSURE_TARGET / max(mean, 1.0), 1.0, MAX_GAIN))
        sigma = cond.noise_sigma * math.sqrt(self.gain)
        self._noise = (
            [cv2.merge([self.rng.normal(0, sigma, (h, w)).astype(np.int16)] * 3) for _ in range(8)]
            if cond.noise_sigma > 0
            else []
        )
        self._rain = self._rain_layers() if cond.weather is Weather.RAIN else []
        self._streak_light = min(1.0, float(np.mean(self.look.light)) / 0.8)  # rain by day: the look's 0.8
        self._shake = np.zeros(2)
        self._shake_v = np.zeros(2)
        self._closures = [i for i in traj.incidents if i.type is IncidentType.LANE_CLOSURE and i.start_s is not None]

    # -- set-up ---------------------------------------------------------------------------
    def _vehicle_colours(self, seed: int) -> list[tuple[float, float, float]]:
        rng = np.random.default_rng(seed + 5)
        cols, weights = zip(*CAR_COLOURS, strict=True)
        p = np.asarray(weights) / np.sum(weights)
        out: list[tuple[float, float, float]] = []
        for v in self.traj.vehicles:
            if v.cls == "car":
                c = cols[int(rng.choice(len(cols), p=p))]
            elif v.cls == "bus":
                c = BUS_COLOURS[int(rng.integers(len(BUS_COLOURS)))]
            elif v.cls == "truck":
                c = TRUCK_COLOURS[int(rng.integers(len(TRUCK_COLOURS)))]
            else:
                c = cols[int(rng.choice(len(cols), p=p))]
            jitter = rng.uniform(0.9, 1.08)
            out.append((c[0] * jitter, c[1] * jitter, c[2] * jitter))
        return out

    def _rain_layers(self) -> list[np.ndarray]:
        h, w = self.camera.height, self.camera.width
        layers = []
        for _ in range(6):
            layer = np.zeros((h, w), np.uint8)
            for _ in range(int(w * h / 900)):
                x, y = int(self.rng.integers(w)), int(self.rng.integers(h))
                length = int(self.rng.integers(6, 18))
                cv2.line(layer, (x, y), (x + length // 5, y + length), int(self.rng.integers(25, 60)), 1, cv2.LINE_AA)
            layers.append(cv2.merge([layer, layer, layer]))
        return layers

    # -- per frame ----------------------------------------------------------------------
    def render(self, step: int) -> tuple[np.ndarray, list[GroundTruthBox]]:
        """Frame and ground-truth boxes for recorded simulation step ``step``."""
        traj = self.traj
        rows = traj.rows(step)
        frame = self.background.copy()
        # Light glow is soft: drawn and blurred at half the frame's size, then laid over it.
        h2, w2 = (frame.shape[0] + 1) // 2, (frame.shape[1] + 1) // 2
        glow = np.zeros((h2, w2, 3), np.float32) if self.look.lights_on else None
        t = float(traj.times[step])
        self._draw_closures(frame, t)
        cam = self.camera
        vid, xs, ys, ang, sig = traj.vid[rows], traj.x[rows], traj.y[rows], traj.angle[rows], traj.signals[rows]
        dx, dy = xs - cam.c[0], ys - cam.c[1]
        near = np.hypot(dx, dy) < MAX_RANGE_M
        fwd = cam.r[2]
        ahead = dx * fwd[0] + dy * fwd[1] > -15.0
        order = np.nonzero(near & ahead)[0]
        dist = np.hypot(dx[order], dy[order])
        order = order[np.argsort(-dist)]
        bodies = [self._body(int(vid[i]), float(xs[i]), float(ys[i]), float(ang[i])) for i in order]
        for body in bodies:
            # In sunlight the body's shadow already covers the road under it; without sun, the
            # road under a vehicle is still the darkest place near it.
            if self.look.shadows:
                self._shadow(frame, body.corners[0])
            else:
                self._contact_shadow(frame, body)
        boxes: list[GroundTruthBox] = []
        for i, body in zip(order, bodies, strict=True):
            box = self._draw_vehicle(frame, glow, body, int(sig[i]))
            if box is not None:
                boxes.append(box)
        if glow is not None:
            # Glow and beams are light in the scene: the camera's gain brightens them with the rest.
            glow = cv2.GaussianBlur(glow, (0, 0), 1.5) * (1.0 / self.gain)
            glow = cv2.resize(np.clip(glow, 0, 255).astype(np.uint8), (frame.shape[1], frame.shape[0]))
            frame = cv2.add(frame, glow)
        frame, offset = self._camera_effects(frame)
        if offset is not None:
            boxes = [self._shift(b, offset) for b in boxes]
        return frame, boxes

    def _template(self, index: int) -> np.ndarray:
        """Corners of the hull (row 0) and of every part in the vehicle frame: (s, t, z) in metres."""
        info = self.traj.vehicles[index]
        key = info.shape
        cached = self._templates.get(key)
        if cached is not None:
            return cached
        boxes = [(0.0, 1.0, 0.5, 0.0, info.height_m)] + [
            (p.s0, p.s1, p.half_width, p.z0, p.z1) for p in self._parts[info.shape]
        ]
        out = np.empty((len(boxes), 8, 3))
        for b, (s0, s1, hw, z0, z1) in enumerate(boxes):
            for si, sv in enumerate((s0, s1)):
                for ti, tv in enumerate((-hw, hw)):
                    for zi, zv in enumerate((z0, z1)):
                        out[b, 4 * si + 2 * ti + zi] = (sv * info.length_m, tv * info.width_m, zv)
        self._templates[key] = out
        return out

    def _body(self, index: int, x: float, y: float, angle_deg: float) -> _Body:
        info = self.traj.vehicles[index]
        a = math.radians(angle_deg)
        heading = np.array([math.sin(a), math.cos(a)])
        left = np.array([-heading[1], heading[0]])
        rear = np.array([x, y]) - heading * info.length_m
        local = self._template(index)
        corners = np.empty_like(local)
        corners[..., :2] = rear + local[..., 0:1] * heading + local[..., 1:2] * left
        corners[..., 2] = local[..., 2]
        return _Body(index, corners, heading, left, rear)

    def _fill(self, frame: np.ndarray, pix: np.ndarray, colour: tuple[float, float, float]) -> None:
        pts = np.round(pix * (1 << SHIFT)).astype(np.int32)
        cv2.fillConvexPoly(frame, pts, colour, lineType=cv2.LINE_AA, shift=SHIFT)

    def _shadow(self, frame: np.ndarray, hull: np.ndarray) -> None:
        sun = self.sun
        ground = hull[:, :2] - hull[:, 2:3] * (sun[:2] / sun[2])
        self._fill_ground(frame, ground, (36.0, 37.0, 40.0))

    def _contact_shadow(self, frame: np.ndarray, body: _Body) -> None:
        """The road under a vehicle, which no light reaches whatever the weather."""
        hull = body.corners[0]
        foot = hull[::2, :2]  # the four corners on the road (z0 of each s, t)
        centre = foot.mean(axis=0)
        foot = centre + (foot - centre) * 1.04
        light = self.look.light
        self._fill_ground(frame, foot, (22 * light[0], 22 * light[1], 24 * light[2]))

    def _fill_ground(self, frame: np.ndarray, ground: np.ndarray, colour: tuple[float, float, float]) -> None:
        """Fill the convex hull of road-plane points (N, 2) when all lie in front of the camera."""
        pix, depth = self.camera.project(np.column_stack([ground, np.zeros(len(ground))]))
        if (depth < 1.0).any():
            return
        hull2d = cv2.convexHull(np.round(pix * (1 << SHIFT)).astype(np.int32))
        cv2.fillConvexPoly(frame, hull2d, colour, lineType=cv2.LINE_AA, shift=SHIFT)

    def _draw_vehicle(
        self, frame: np.ndarray, glow: np.ndarray | None, body: _Body, signals: int
    ) -> GroundTruthBox | None:
        cam = self.camera
        n_boxes = body.corners.shape[0]
        pix_all, depth_all = cam.project(body.corners.reshape(-1, 3))
        if (depth_all < 1.0).any():
            return None
        pix_all = pix_all.reshape(n_boxes, 8, 2)
        parts = self._parts[self.traj.vehicles[body.index].shape]
        if parts:
            self._draw_parts(frame, body, parts, pix_all)
        else:
            self._draw_mesh(frame, body, signals)
        hull = body.corners[0]
        pix = pix_all[0]
        self._lights(frame, glow, body.index, hull, signals)
        x1, y1 = pix.min(axis=0)
        x2, y2 = pix.max(axis=0)
        w, hgt = cam.width, cam.height
        cx1, cy1, cx2, cy2 = max(x1, 0.0), max(y1, 0.0), min(x2, w - 1.0), min(y2, hgt - 1.0)
        if cx2 - cx1 < 2.0 or cy2 - cy1 < 2.0:
            return None
        truncated = bool(x1 < 0 or y1 < 0 or x2 > w - 1 or y2 > hgt - 1)
        info = self.traj.vehicles[body.index]
        dist = float(np.hypot(*(hull[:, :2].mean(axis=0) - cam.c[:2])))
        return GroundTruthBox(body.index, info.cls, float(cx1), float(cy1), float(cx2), float(cy2), dist, truncated)

    def _draw_parts(self, frame: np.ndarray, body: _Body, parts: tuple[Part, ...], pix_all: np.ndarray) -> None:
        """Shade and fill the boxes of a body drawn as boxes (their corners projected in ``pix_all[1:]``)."""
        h, lv = body.heading, body.left
        normals = np.array(
            [[0.0, 0.0, 1.0], [h[0], h[1], 0.0], [-h[0], -h[1], 0.0], [lv[0], lv[1], 0.0], [-lv[0], -lv[1], 0.0]]
        )
        centres = body.corners[1:, _FACE_INDEX].mean(axis=2)  # (parts, faces, 3)
        facing = np.einsum("pfk,fk->pf", self.camera.c - centres, normals) > 0
        if self.look.shadows:
            lam = 0.55 + 0.45 * np.maximum(0.0, normals @ self.sun)
        else:
            lam = 0.75 + 0.25 * normals[:, 2]
        light = self.look.light
        colour = self._colours[body.index]
        for p, part in enumerate(parts):
            base = DARK if part.dark else colour
            for f in np.nonzero(facing[p])[0]:
                face_colour = GLASS if (part.glass and f != 0) else base
                k = float(lam[f])
                shade = (face_colour[0] * light[0] * k, face_colour[1] * light[1] * k, face_colour[2] * light[2] * k)
                self._fill(frame, pix_all[p + 1, _FACE_INDEX[f]], shade)

    def _mesh_for(self, index: int) -> _MeshData:
        info = self.traj.vehicles[index]
        key = (info.shape, info.length_m, info.width_m, info.height_m)
        data = self._meshes.get(key)
        if data is None:
            data = self._meshes[key] = _prepare(build_mesh(*key))
        return data

    def _draw_mesh(self, frame: np.ndarray, body: _Body, signals: int) -> None:
        """Cull, shade and fill the faces of a vehicle's body mesh."""
        cam = self.camera
        data = self._mesh_for(body.index)
        h, lv = body.heading, body.left
        local = data.mesh.vertices
        world = np.empty_like(local)
        world[:, :2] = body.rear + local[:, 0:1] * h + local[:, 1:2] * lv
        world[:, 2] = local[:, 2]
        pix, depth = cam.project(world)
        if depth.min() < 1.0:
            return
        n = data.normals
        normals = np.column_stack([n[:, 0] * h[0] + n[:, 1] * lv[0], n[:, 0] * h[1] + n[:, 1] * lv[1], n[:, 2]])
        c = data.centres
        centres = np.column_stack(
            [body.rear[0] + c[:, 0] * h[0] + c[:, 1] * lv[0], body.rear[1] + c[:, 0] * h[1] + c[:, 1] * lv[1], c[:, 2]]
        )
        view = cam.c - centres
        view /= np.linalg.norm(view, axis=1, keepdims=True)
        cos_view = np.einsum("fk,fk->f", view, normals)
        look = self.look
        if look.shadows:
            lam = 0.5 + 0.5 * np.maximum(0.0, normals @ self.sun)
            half = self.sun + view
            half /= np.linalg.norm(half, axis=1, keepdims=True)
            spec = np.maximum(0.0, np.einsum("fk,fk->f", half, normals)) ** 24 * 255.0
        else:
            lam = 0.72 + 0.28 * normals[:, 2]
            spec = np.zeros(len(normals))
        fresnel = 0.1 + 0.75 * (1.0 - np.abs(cos_view)) ** 2
        light = np.asarray(look.light)
        sky = np.asarray(look.sky_horizon) * (0.55 + 0.45 * np.clip(normals[:, 2:3], 0.0, 1.0))
        info = self.traj.vehicles[body.index]
        plate, text = YELLOW_PLATE if info.cls in ("bus", "truck") else BLUE_PLATE
        mat = data.material
        base = data.base.copy()
        base[mat == Material.PAINT] = self._colours[body.index]
        base[mat == Material.PLATE] = plate
        base[mat == Material.PLATE_TEXT] = text
        col = base * light * lam[:, None] + (data.gloss * spec)[:, None] * light
        paint = mat == Material.PAINT
        col[paint] += 0.12 * fresnel[paint, None] * sky[paint]
        glass = mat == Material.GLASS
        col[glass] = (
            np.asarray(INTERIOR) * light * (1 - fresnel[glass, None])
            + fresnel[glass, None] * sky[glass]
            + (data.gloss[glass] * spec[glass])[:, None] * light
        )
        braking = bool(signals & 8)
        if look.lights_on:
            col[mat == Material.HEADLAMP] = (245.0, 250.0, 255.0)
        if look.lights_on or braking:
            col[mat == Material.TAILLAMP] = (70.0, 70.0, 255.0) if braking else (45.0, 45.0, 215.0)
        colours = col.tolist()
        pts = np.round(pix * (1 << SHIFT)).astype(np.int32)
        ahead = float((cam.c[:2] - body.rear) @ h) > 0.5 * info.length_m
        visible = cos_view > 0.0
        for f in data.seen_from_front if ahead else data.seen_from_rear:
            if visible[f]:
                cv2.fillConvexPoly(frame, pts[data.index[f]], colours[f], lineType=cv2.LINE_AA, shift=SHIFT)

    def _lights(self, frame: np.ndarray, glow: np.ndarray | None, index: int, hull: np.ndarray, signals: int) -> None:
        info = self.traj.vehicles[index]
        if glow is None and not self._parts[info.shape]:
            return  # a mesh carries its lamps as faces: only their glow is drawn here
        cam = self.camera
        rear, front = 0.5 * (hull[0, :2] + hull[2, :2]), 0.5 * (hull[4, :2] + hull[6, :2])  # centres of the ends
        heading = (front - rear) / max(float(np.linalg.norm(front - rear)), 1e-6)
        left = np.array([-heading[1], heading[0]])
        z = 0.7 if info.cls != "motorcycle" else 1.0
        half = 0.5 * info.width_m - 0.25 if info.cls != "motorcycle" else 0.0
        f = cam.k[0, 0]
        braking = bool(signals & 8)
        lit = self.look.lights_on
        for end, facing_sign, colour_off, colour_on in (
            (front, 1.0, (200.0, 210.0, 215.0), (235.0, 250.0, 255.0)),
            (rear, -1.0, (30.0, 30.0, 150.0), (40.0, 40.0, 255.0)),
        ):
            to_cam = cam.c[:2] - end
            if float(to_cam @ heading) * facing_sign <= 0:
                continue
            is_rear = facing_sign < 0
            on = lit or (is_rear and braking)
            offsets = (0.0,) if half == 0.0 else (-half, half)
            pts = np.array([[*(end + left * o), z] for o in offsets])
            pix, depth = cam.project(pts)
            if (depth < 1.0).any():
                continue
            radius = max(1, int(round(0.13 * f / float(depth.mean()))))
            colour = colour_on if on else colour_off
            if is_rear and braking:
                colour = (60.0, 60.0, 255.0)
            for p in pix:
                if self._parts[info.shape]:  # bodies with meshes carry their lamps as faces
                    cv2.circle(frame, (int(p[0]), int(p[1])), radius, colour, -1, cv2.LINE_AA)
                if on and glow is not None:
                    strength = 0.6 if not is_rear else (0.8 if braking else 0.45)
                    g = (colour[0] * strength, colour[1] * strength, colour[2] * strength)
                    cv2.circle(glow, (int(p[0] / 2), int(p[1] / 2)), radius, g, -1, cv2.LINE_AA)
            if not is_rear and lit and glow is not None:
                # Light thrown on the road ahead of the vehicle.
                beam = np.array(
                    [
                        [*(end + left * 0.9), 0.0],
                        [*(end - left * 0.9), 0.0],
                        [*(end + heading * 22 - left * 3.0), 0.0],
                        [*(end + heading * 22 + left * 3.0), 0.0],
                    ]
                )
                bpix, bdepth = cam.project(beam)
                if (bdepth > 1.0).all():
                    cv2.fillConvexPoly(
                        glow,
                        np.round(bpix * (1 << (SHIFT - 1))).astype(np.int32),
                        (60.0, 70.0, 75.0),
                        cv2.LINE_AA,
                        SHIFT,
                    )

    def _draw_closures(self, frame: np.ndarray, t: float) -> None:
        for rec in self._closures:
            assert rec.start_s is not None
            if t < rec.start_s or (rec.end_s is not None and t >= rec.end_s):
                continue
            self._cones(frame, rec)

    def _cones(self, frame: np.ndarray, rec: IncidentRecord) -> None:
        net = self.scenario.network
        w = net.lane_width_m
        sign = -1.0 if rec.direction.value == "forward" else 1.0
        inner = (rec.lane - 1) * w
        # A taper across the lane at the upstream end, then a line of cones along the lane edge.
        up = rec.position_m if rec.direction.value == "forward" else rec.position_m + rec.length_m
        along = 1.0 if rec.direction.value == "forward" else -1.0
        cones = [(up + along * (k * 2.5), sign * (inner + w - 0.4 - (w - 0.8) * k / 6)) for k in range(7)]
        x = 0.0
        while x <= rec.length_m:
            cones.append((up + along * (15.0 + x), sign * (inner + 0.4)))
            x += 6.0
        cones.sort(key=lambda c: -math.hypot(c[0] - self.camera.c[0], c[1] - self.camera.c[1]))
        f = self.camera.k[0, 0]
        for cx, cy in cones:
            pix, depth = self.camera.project(np.array([[cx, cy, 0.0], [cx, cy, 0.75]]))
            if (depth < 1.0).any():
                continue
            base_w = 0.35 * f / depth[0]
            top = pix[1]
            bottom = pix[0]
            tri = np.array([[bottom[0] - base_w, bottom[1]], [bottom[0] + base_w, bottom[1]], [top[0], top[1]]])
            light = self.look.light
            self._fill(frame, tri, (10 * light[0], 95 * light[1], 245 * light[2]))
            mid = 0.5 * (top + bottom)
            cv2.line(
                frame,
                (int(mid[0] - base_w * 0.5), int(mid[1])),
                (int(mid[0] + base_w * 0.5), int(mid[1])),
                (235, 235, 235),
                max(1, int(base_w * 0.3)),
                cv2.LINE_AA,
            )

    def _camera_effects(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        cond = self.scenario.conditions
        offset: np.ndarray | None = None
        if self._rain:
            # Rain scatters the light there is: a veil of the scene's own mean colour, and streaks as
            # bright as the ambient light makes them (faint at night, where the camera's gain lifts them).
            veil = np.full_like(frame, 0, dtype=np.uint8)
            veil[:] = np.asarray(cv2.mean(frame)[:3], dtype=np.float64).round().astype(np.uint8)
            frame = cv2.addWeighted(frame, 0.82, veil, 0.18, 0.0)
            streaks = self._rain[int(self.rng.integers(len(self._rain)))]
            frame = (
                cv2.scaleAdd(streaks, self._streak_light, frame)
                if self._streak_light < 1.0
                else cv2.add(frame, streaks)
            )
        if cond.shake_px > 0:
            # Damped random walk: wind sways the pole.
            self._shake_v = 0.8 * self._shake_v + self.rng.normal(0, 0.5 * cond.shake_px, 2) - 0.25 * self._shake
            self._shake = np.clip(self._shake + self._shake_v, -cond.shake_px * 2, cond.shake_px * 2)
            offset = self._shake.copy()
            m = np.array([[1.0, 0.0, offset[0]], [0.0, 1.0, offset[1]]], np.float32)
            frame = cv2.warpAffine(frame, m, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REPLICATE)
        if self.gain > 1.0:
            frame = cv2.convertScaleAbs(frame, alpha=self.gain)
        if self._noise:
            noise = self._noise[int(self.rng.integers(len(self._noise)))]
            frame = cv2.add(frame, noise, dtype=cv2.CV_8U)
        return frame, offset

    def _shift(self, b: GroundTruthBox, offset: np.ndarray) -> GroundTruthBox:
        w, h = self.camera.width - 1.0, self.camera.height - 1.0
        dx, dy = float(offset[0]), float(offset[1])
        return GroundTruthBox(
            b.vehicle,
            b.cls,
            min(max(b.x1 + dx, 0.0), w),
            min(max(b.y1 + dy, 0.0), h),
            min(max(b.x2 + dx, 0.0), w),
            min(max(b.y2 + dy, 0.0), h),
            b.depth_m,
            b.truncated,
        )
