"""Where a detected vehicle stands: its footprint on the road from its image box.

The bottom centre of a box is a poor stand-in for a vehicle's position: a camera beside the
road sees a vehicle's side and roof as well as its front, so the box spreads towards the far
side of the road, and the bottom centre lands a lane too far across for vehicles away from
the camera. Instead, the camera is recovered from the calibration's homography (pinhole,
square pixels, principal point at the image centre, the classic plane-based decomposition)
and each box is explained by a 3D box of its class's typical size standing on the road: the
footprint whose projected box matches the detection's left, right and bottom edges.

When the homography does not decompose into a plausible camera (a calibration from a
distorted image, or not a pinhole at all), the locator falls back to the bottom centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from yingyan.calibration import CameraCalibration

# Typical (length, width, height) in metres by COCO class: person, bicycle, car, motorcycle, bus, truck.
CLASS_SIZE_M: dict[int, tuple[float, float, float]] = {
    0: (0.6, 0.6, 1.7),
    1: (1.8, 0.6, 1.6),
    2: (4.6, 1.8, 1.5),
    3: (2.1, 0.8, 1.5),
    5: (12.0, 2.5, 3.2),
    7: (9.0, 2.5, 3.4),
}
DEFAULT_SIZE_M = CLASS_SIZE_M[2]
# Signs of the 8 corners of a box (along, across, up) relative to its footprint centre.
_SIGNS = np.array([[a, b, c] for a in (-0.5, 0.5) for b in (-0.5, 0.5) for c in (0.0, 1.0)])
_EDGE_PX = 2.0  # a box edge this close to the frame's edge is cut off, not the vehicle's


@dataclass(frozen=True)
class PinholeFromHomography:
    """A camera matrix recovered from a road-to-image homography."""

    projection: np.ndarray  # 3x4, road metres (x, y, height) -> image pixels

    @classmethod
    def recover(cls, calibration: CameraCalibration) -> PinholeFromHomography | None:
        """The camera behind ``calibration``, or ``None`` when its homography is not a plausible pinhole."""
        h = np.linalg.inv(np.asarray(calibration.homography, dtype=np.float64))  # road -> image
        h = h / np.linalg.norm(h[:, 0])
        cx, cy = calibration.image_size[0] / 2.0, calibration.image_size[1] / 2.0
        a = h[0] - cx * h[2]
        b = h[1] - cy * h[2]
        c = h[2]
        estimates = []
        if abs(c[0] * c[1]) > 1e-12:
            estimates.append(-(a[0] * a[1] + b[0] * b[1]) / (c[0] * c[1]))
        if abs(c[1] ** 2 - c[0] ** 2) > 1e-12:
            estimates.append((a[0] ** 2 + b[0] ** 2 - a[1] ** 2 - b[1] ** 2) / (c[1] ** 2 - c[0] ** 2))
        plausible = [f2 for f2 in estimates if f2 > 0]
        if not plausible:
            return None
        f = float(np.sqrt(np.median(plausible)))
        k = np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])
        m = np.linalg.inv(k) @ h
        scale = 1.0 / np.sqrt(np.linalg.norm(m[:, 0]) * np.linalg.norm(m[:, 1]))
        r1, r2, t = m[:, 0] * scale, m[:, 1] * scale, m[:, 2] * scale
        centre_road = np.mean(np.asarray(calibration.lanes[0].polygon_road, dtype=np.float64), axis=0)
        if (r1 * centre_road[0] + r2 * centre_road[1] + t)[2] < 0:  # the road must lie in front of the camera
            r1, r2, t = -r1, -r2, -t
        r3 = np.cross(r1, r2)
        rot = np.column_stack([r1, r2, r3])
        camera_centre = -np.linalg.lstsq(rot, t, rcond=None)[0]
        if camera_centre[2] < 0:  # heights count upwards, towards the camera
            r3 = -r3
            camera_centre[2] = -camera_centre[2]
        if not 0.5 < camera_centre[2] < 200.0 or abs(float(np.dot(r1, r2))) > 0.05:
            return None
        return cls(projection=k @ np.column_stack([r1, r2, r3, t]))

    def project(self, points: np.ndarray) -> np.ndarray:
        """Road points (N, 3: x, y, height) to pixels (N, 2)."""
        homog = np.column_stack([points, np.ones(len(points))]) @ self.projection.T
        return np.asarray(homog[:, :2] / homog[:, 2:3])


class FootprintLocator:
    """``locate(xyxy, class_ids) -> (N, 2)`` road positions of the vehicles' footprint centres."""

    def __init__(self, calibration: CameraCalibration, iterations: int = 4) -> None:
        self.calibration = calibration
        self.camera = PinholeFromHomography.recover(calibration)
        travel = np.asarray(calibration.lanes[0].travel, dtype=np.float64)
        self._along = travel / np.linalg.norm(travel)
        self._across = np.array([-self._along[1], self._along[0]])
        self.iterations = iterations
        self._size = np.asarray(calibration.image_size, dtype=np.float64)

    def bottom_centres(self, xyxy: np.ndarray) -> np.ndarray:
        """Road points under the boxes' bottom centres (the fallback)."""
        foot = np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]])
        return self.calibration.image_to_road(foot)

    def predicted_boxes(self, centres: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
        """Image boxes (N, 4) of vehicles of the classes' typical size standing at ``centres``."""
        sizes = np.array([CLASS_SIZE_M.get(int(c), DEFAULT_SIZE_M) for c in class_ids], dtype=np.float64)
        return self._boxes(np.asarray(centres, dtype=np.float64), sizes)

    def _boxes(self, centres: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        assert self.camera is not None
        # The 8 corners of each box, (N, 8, 3), by broadcasting the corner signs.
        along = (_SIGNS[None, :, 0] * sizes[:, 0:1])[..., None] * self._along
        across = (_SIGNS[None, :, 1] * sizes[:, 1:2])[..., None] * self._across
        ground = centres[:, None, :] + along + across
        height = _SIGNS[None, :, 2] * sizes[:, 2:3]
        corners = np.concatenate([ground, height[..., None]], axis=2).reshape(-1, 3)
        pix = self.camera.project(corners).reshape(len(centres), 8, 2)
        return np.column_stack([pix[..., 0].min(1), pix[..., 1].min(1), pix[..., 0].max(1), pix[..., 1].max(1)])

    def locate(self, xyxy: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
        """Footprint centres (N, 2) on the road of the vehicles in boxes ``xyxy``."""
        xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        centres = self.bottom_centres(xyxy)
        if self.camera is None or len(xyxy) == 0:
            return centres
        w, h = self._size
        # Which of the left, right and bottom edges are the vehicle's (not the frame's).
        use = np.column_stack([xyxy[:, 0] > _EDGE_PX, xyxy[:, 2] < w - _EDGE_PX, xyxy[:, 3] < h - _EDGE_PX])
        target = xyxy[:, [0, 2, 3]]
        sizes = np.array([CLASS_SIZE_M.get(int(c), DEFAULT_SIZE_M) for c in class_ids], dtype=np.float64)
        sizes3 = np.concatenate([sizes, sizes, sizes])
        eps = 0.05
        steps = np.array([[0.0, 0.0], [eps, 0.0], [0.0, eps]])
        n = len(xyxy)
        for _ in range(self.iterations):
            # The box here and one step along each road axis, projected in one go.
            probe = np.concatenate([centres + step for step in steps])
            boxes = self._boxes(probe, sizes3)[:, [0, 2, 3]]
            base = boxes[:n]
            jac = np.stack([(boxes[n : 2 * n] - base) / eps, (boxes[2 * n :] - base) / eps], axis=2)
            resid = np.where(use, target - base, 0.0)
            jac = jac * use[:, :, None]
            # Gauss-Newton step per box, damped so that an ill-posed box (one edge only) stays put.
            jtj = np.einsum("nki,nkj->nij", jac, jac) + 1e-3 * np.eye(2)
            jtr = np.einsum("nki,nk->ni", jac, resid)
            delta = np.linalg.solve(jtj, jtr[..., None])[..., 0]
            centres = centres + np.clip(delta, -20.0, 20.0)
        return centres
