"""Pinhole model of a checkpoint camera over the road plane.

World frame: x east along the corridor (= chainage), y north (left of forward traffic), z up,
metres. The road plane is z = 0, so the image ↔ road homography is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from yingyan.sim.scenario import Checkpoint, Direction, Network

MIN_CAR_PX = 12.0  # a car narrower than this in the image is beyond the measured stretch


@dataclass(frozen=True)
class PinholeCamera:
    """Intrinsics ``k``, world-to-camera rotation ``r`` and centre ``c`` of one camera."""

    k: np.ndarray
    r: np.ndarray
    c: np.ndarray
    width: int
    height: int

    @property
    def projection(self) -> np.ndarray:
        """3x4 projection matrix K [R | -R C]."""
        return np.asarray(self.k @ np.hstack([self.r, (-self.r @ self.c)[:, None]]), dtype=np.float64)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Image points (N, 2) and depths (N,) of world points (N, 3)."""
        cam = (points - self.c) @ self.r.T
        depth = cam[:, 2]
        safe = np.where(depth > 1e-6, depth, 1e-6)
        uv = cam[:, :2] / safe[:, None]
        pix = uv @ self.k[:2, :2].T + self.k[:2, 2]
        return pix, depth

    def road_to_image(self) -> np.ndarray:
        """Homography mapping road-plane points (x, y, 1) to image pixels."""
        p = self.projection
        h = p[:, [0, 1, 3]]
        return np.asarray(h / h[2, 2], dtype=np.float64)

    def image_to_road(self) -> np.ndarray:
        """Homography mapping image pixels to road-plane points."""
        h = np.linalg.inv(self.road_to_image())
        return np.asarray(h / h[2, 2], dtype=np.float64)

    def ground_distance_at_row(self, row: float) -> float:
        """Horizontal distance from the camera foot to the ground seen at an image row (centre column)."""
        if row <= self.horizon_row():
            return math.inf
        h = self.image_to_road()
        p = h @ np.array([self.width / 2.0, row, 1.0])
        xy = p[:2] / p[2]
        return float(np.hypot(xy[0] - self.c[0], xy[1] - self.c[1]))

    def horizon_row(self) -> float:
        """Image row of the horizon (may lie above the top of the image)."""
        forward = self.r[2]
        # Direction on the horizon straight ahead: the forward vector with its z removed.
        ahead = np.array([forward[0], forward[1], 0.0])
        ahead /= np.linalg.norm(ahead)
        cam = self.r @ ahead
        return float(self.k[1, 1] * cam[1] / cam[2] + self.k[1, 2])


def rotation(yaw_rad: float, pitch_rad: float) -> np.ndarray:
    """World-to-camera rotation looking at ``yaw`` (from +x, counter-clockwise), tilted down by ``pitch``."""
    fwd = np.array(
        [math.cos(pitch_rad) * math.cos(yaw_rad), math.cos(pitch_rad) * math.sin(yaw_rad), -math.sin(pitch_rad)]
    )
    right = np.array([math.sin(yaw_rad), -math.cos(yaw_rad), 0.0])
    down = np.cross(fwd, right)
    return np.vstack([right, down, fwd])


def carriageway_span(network: Network, direction: Direction) -> tuple[float, float]:
    """Lateral range (y_min, y_max) of a carriageway."""
    width = network.lanes * network.lane_width_m
    return (-width, 0.0) if direction is Direction.FORWARD else (0.0, width)


def looks_towards_smaller_chainage(cp: Checkpoint) -> bool:
    """Whether the camera looks west (towards smaller chainage)."""
    oncoming = cp.facing == "oncoming"
    return (cp.watch is Direction.FORWARD) == oncoming


def camera_for(cp: Checkpoint, network: Network, size: tuple[int, int] | None = None) -> PinholeCamera:
    """Build the pinhole camera of a checkpoint; ``size`` overrides its resolution."""
    width, height = size if size is not None else cp.resolution
    lo, hi = carriageway_span(network, cp.watch)
    if cp.lateral_m is not None:
        lateral = cp.lateral_m
    else:
        lateral = lo - 1.0 if cp.watch is Direction.FORWARD else hi + 1.0
    centre = np.array([cp.position_m, lateral, cp.height_m])
    sign = -1.0 if looks_towards_smaller_chainage(cp) else 1.0
    # Aim at the middle of the watched carriageway where the optical axis meets the road.
    aim_distance = cp.height_m / math.tan(math.radians(cp.pitch_deg))
    target_y = 0.5 * (lo + hi)
    yaw = math.atan2(target_y - lateral, sign * aim_distance) + math.radians(cp.yaw_offset_deg)
    focal = cp.focal_length_mm / cp.sensor_width_mm * width
    k = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
    return PinholeCamera(k=k, r=rotation(yaw, math.radians(cp.pitch_deg)), c=centre, width=width, height=height)


@dataclass(frozen=True)
class MeasurementZone:
    """Stretch of the watched carriageway a camera measures: chainage [lo, hi]."""

    lo_m: float
    hi_m: float
    downstream_m: float  # chainage of the zone's downstream end (head of a queue)
    counting_m: float  # chainage of the counting line


def measurement_zone(cp: Checkpoint, camera: PinholeCamera, network: Network) -> MeasurementZone:
    """The measured stretch: from just inside the image bottom, ``view_m`` away from the camera."""
    near = camera.ground_distance_at_row(camera.height - 1) + 2.0
    near = max(near, 3.0)
    # Beyond the distance at which a car (1.8 m wide) spans MIN_CAR_PX pixels, a camera
    # resolves nothing worth measuring: the stretch ends there.
    resolvable = float(camera.k[0, 0]) * 1.8 / MIN_CAR_PX
    view = max(min(cp.view_m, resolvable - near), 20.0)
    if looks_towards_smaller_chainage(cp):
        hi = cp.position_m - near
        lo = max(hi - view, 0.0)
        near_end, far_end = hi, lo
    else:
        lo = cp.position_m + near
        hi = min(lo + view, network.length_m)
        near_end, far_end = lo, hi
    downstream = hi if cp.watch is Direction.FORWARD else lo
    counting = near_end + 0.25 * (far_end - near_end)
    return MeasurementZone(lo_m=lo, hi_m=hi, downstream_m=downstream, counting_m=counting)
