"""Calibrate a real camera from point pairs: image pixels ↔ road-plane metres.

The input is a YAML file (:class:`CalibrationInput`) with four or more surveyed point pairs
(lane-marking corners, stop-line ends, kerb joints …), the lanes as road polygons, and a frame
of the camera. The homography is fitted with OpenCV (RANSAC with more than four pairs), the
lanes, zones and counting line are projected into the image, and an overlay PNG with the lanes
and a one-metre road grid is drawn on the frame to be checked by eye.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
from pydantic import Field, model_validator
from shapely.geometry import Polygon, box

from yingyan.calibration import CameraCalibration, CountingLine, LaneCalibration, Point, ZoneCalibration
from yingyan.config import StrictModel, load_model
from yingyan.errors import ConfigError, YingyanError
from yingyan.traffic.levels import RoadClass


class PointPair(StrictModel):
    """One surveyed point seen in the image."""

    image: Point = Field(title="Image point (px)", description="Pixel position (x to the right, y down).")
    road: Point = Field(
        title="Road point (m)", description="The same point on the road plane, metres in the site's road frame."
    )


class LaneInput(StrictModel):
    """A lane to measure, given on the road plane."""

    id: str = Field(title="Lane id", description="Stable lane id, e.g. RMR-017-L1.")
    number: int = Field(title="Lane number", description="1 = innermost, next to the centreline.", ge=1)
    direction: str = Field(default="forward", title="Carriageway", description="Name of the carriageway.")
    travel: Point = Field(
        title="Direction of travel", description="Vector of travel on the road plane (normalised here)."
    )
    polygon_road: list[Point] = Field(
        title="Road polygon (m)", description="The measured stretch of the lane, corners in order.", min_length=3
    )


class ZoneInput(StrictModel):
    """A rule zone given on the road plane."""

    id: str = Field(title="Zone id", description="Stable zone id.")
    kind: str = Field(default="no_parking", title="Kind", description="What the zone is for.")
    polygon_road: list[Point] = Field(
        title="Road polygon (m)", description="Zone corners on the road plane.", min_length=3
    )


class CalibrationInput(StrictModel):
    """What ``yingyan calibrate`` reads."""

    camera_id: str = Field(title="Camera id", description="Camera being calibrated.")
    frame: str = Field(
        title="Frame",
        description="An image of the camera, or a video whose frame at frame_time_s is used (relative to this file).",
    )
    frame_time_s: float = Field(
        default=0.0, title="Frame time (s)", description="Which moment of a video to use.", ge=0
    )
    points: list[PointPair] = Field(
        title="Point pairs", description="Four or more image/road point pairs, not all on one line.", min_length=4
    )
    lanes: list[LaneInput] = Field(title="Lanes", description="Lanes to measure.", min_length=1)
    zones: list[ZoneInput] = Field(default_factory=list, title="Zones", description="No-parking and other rule zones.")
    counting_line: tuple[Point, Point] | None = Field(
        default=None,
        title="Counting line (m)",
        description="End points on the road; default: across the lanes at three quarters of their length.",
    )
    road_class: RoadClass = Field(
        default=RoadClass.ARTERIAL, title="Road class", description="Road class of the measured lanes."
    )
    speed_limit_kmh: float = Field(default=60.0, title="Speed limit (km/h)", description="Posted speed limit.", gt=0)

    @model_validator(mode="after")
    def _not_collinear(self) -> CalibrationInput:
        for name, pts in (("image", [p.image for p in self.points]), ("road", [p.road for p in self.points])):
            arr = np.asarray(pts, dtype=np.float64)
            if np.linalg.matrix_rank(arr - arr.mean(axis=0), tol=1e-6) < 2:
                raise ValueError(f"points: the {name} points lie on one line; the homography needs a spread")
        return self


def read_frame(path: Path, time_s: float) -> np.ndarray:
    """An image file, or a video's frame at ``time_s``."""
    if not path.exists():
        raise YingyanError(f"frame {path}: no such file")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is not None:
        return np.asarray(image)
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                if frame.time is None or frame.time >= time_s - 1e-6:
                    return np.asarray(frame.to_ndarray(format="bgr24"))
    except av.FFmpegError as error:
        raise YingyanError(f"frame {path}: neither an image nor a readable video ({error})") from None
    raise YingyanError(f"frame {path}: the video ends before {time_s} s")


def _image_polygon(h_road_to_image: np.ndarray, road: list[Point], size: tuple[int, int]) -> list[Point]:
    pts = cv2.perspectiveTransform(np.asarray(road, np.float64).reshape(-1, 1, 2), h_road_to_image).reshape(-1, 2)
    # A polygon reaching towards the horizon can fold over in the image: keep its valid part.
    clipped = Polygon(pts).buffer(0).intersection(box(0, 0, size[0] - 1, size[1] - 1))
    if not isinstance(clipped, Polygon):
        parts = [g for g in getattr(clipped, "geoms", []) if isinstance(g, Polygon)]
        if not parts:
            return []
        clipped = max(parts, key=lambda g: g.area)
    if clipped.is_empty:
        return []
    return [(round(float(x), 2), round(float(y), 2)) for x, y in np.asarray(clipped.exterior.coords)[:-1]]


def calibrate(spec: CalibrationInput, image_size: tuple[int, int]) -> tuple[CameraCalibration, float]:
    """The calibration and the RMS reprojection error (px) of the point pairs."""
    img = np.asarray([p.image for p in spec.points], np.float64)
    road = np.asarray([p.road for p in spec.points], np.float64)
    method = cv2.RANSAC if len(spec.points) > 4 else 0
    h_img_to_road, _ = cv2.findHomography(img, road, method, 0.5)
    if h_img_to_road is None:
        raise ConfigError("points: no homography fits these point pairs (check for typos or mirrored points)")
    h_road_to_img = np.linalg.inv(h_img_to_road)
    back = cv2.perspectiveTransform(road.reshape(-1, 1, 2), h_road_to_img).reshape(-1, 2)
    rms = float(np.sqrt(np.mean(np.sum((back - img) ** 2, axis=1))))
    lanes = []
    for i, lane in enumerate(spec.lanes):
        poly = _image_polygon(h_road_to_img, lane.polygon_road, image_size)
        if len(poly) < 3:
            raise ConfigError(f"lanes.{i}: lane {lane.id} does not appear in the image")
        travel = np.asarray(lane.travel, np.float64)
        travel /= np.linalg.norm(travel)
        lanes.append(
            LaneCalibration(
                id=lane.id,
                number=lane.number,
                direction=lane.direction,
                travel=(float(travel[0]), float(travel[1])),
                polygon_road=lane.polygon_road,
                polygon_image=poly,
            )
        )
    zones = [
        ZoneCalibration(
            id=z.id,
            kind=z.kind,
            polygon_road=z.polygon_road,
            polygon_image=_image_polygon(h_road_to_img, z.polygon_road, image_size),
        )
        for z in spec.zones
    ]
    if spec.counting_line is not None:
        ends = np.asarray(spec.counting_line, np.float64)
    else:
        travel = np.asarray(lanes[0].travel)
        allpts = np.concatenate([np.asarray(lane.polygon_road) for lane in spec.lanes])
        s = allpts @ travel
        normal = np.array([-travel[1], travel[0]])
        n = allpts @ normal
        at = s.min() + 0.75 * (s.max() - s.min())
        ends = np.array([at * travel + n.min() * normal, at * travel + n.max() * normal])
    ends_img = cv2.perspectiveTransform(ends.reshape(-1, 1, 2), h_road_to_img).reshape(-1, 2)
    line = CountingLine(
        id=f"{spec.camera_id}-C1",
        lane_ids=[lane.id for lane in lanes],
        road=((float(ends[0, 0]), float(ends[0, 1])), (float(ends[1, 0]), float(ends[1, 1]))),
        image=((float(ends_img[0, 0]), float(ends_img[0, 1])), (float(ends_img[1, 0]), float(ends_img[1, 1]))),
    )
    calibration = CameraCalibration(
        camera_id=spec.camera_id,
        image_size=image_size,
        homography=(h_img_to_road / h_img_to_road[2, 2]).tolist(),
        road_class=spec.road_class,
        speed_limit_kmh=spec.speed_limit_kmh,
        lanes=lanes,
        zones=zones,
        counting_lines=[line],
    )
    return calibration, rms


def overlay(image: np.ndarray, calibration: CameraCalibration, spec: CalibrationInput) -> np.ndarray:
    """The frame with a one-metre road grid, the lanes, zones, counting line and the point pairs."""
    canvas = image.copy()
    h_road_to_img = np.linalg.inv(np.asarray(calibration.homography))
    allpts = np.concatenate([np.asarray(lane.polygon_road) for lane in calibration.lanes])
    (x0, y0), (x1, y1) = allpts.min(axis=0) - 5, allpts.max(axis=0) + 5
    grid = np.zeros_like(canvas)
    for x in np.arange(np.floor(x0), np.ceil(x1) + 1):
        seg = cv2.perspectiveTransform(np.array([[[x, y0]], [[x, y1]]], np.float64), h_road_to_img).reshape(-1, 2)
        cv2.line(
            grid,
            tuple(int(v) for v in seg[0]),
            tuple(int(v) for v in seg[1]),
            (255, 255, 255) if x % 10 == 0 else (160, 160, 160),
            1,
            cv2.LINE_AA,
        )
    for y in np.arange(np.floor(y0), np.ceil(y1) + 1):
        seg = cv2.perspectiveTransform(np.array([[[x0, y]], [[x1, y]]], np.float64), h_road_to_img).reshape(-1, 2)
        cv2.line(grid, tuple(int(v) for v in seg[0]), tuple(int(v) for v in seg[1]), (160, 160, 160), 1, cv2.LINE_AA)
    canvas = cv2.addWeighted(canvas, 1.0, grid, 0.35, 0)
    for lane in calibration.lanes:
        poly = np.round(np.asarray(lane.polygon_image)).astype(np.int32)
        cv2.polylines(canvas, [poly], True, (255, 200, 0), 2, cv2.LINE_AA)
        c = poly.mean(axis=0).astype(int)
        cv2.putText(
            canvas, lane.id, (int(c[0]) - 20, int(c[1])), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 200, 0), 1, cv2.LINE_AA
        )
    for zone in calibration.zones:
        if len(zone.polygon_image) >= 3:
            cv2.polylines(
                canvas, [np.round(np.asarray(zone.polygon_image)).astype(np.int32)], True, (0, 215, 255), 2, cv2.LINE_AA
            )
    for line in calibration.counting_lines:
        (a, b), (c2, d) = line.image
        cv2.line(canvas, (int(a), int(b)), (int(c2), int(d)), (0, 255, 255), 2, cv2.LINE_AA)
    for p in spec.points:
        cv2.drawMarker(canvas, (int(p.image[0]), int(p.image[1])), (0, 0, 255), cv2.MARKER_CROSS, 12, 2)
    return canvas


def run_calibration(input_path: Path, out: Path) -> tuple[Path, Path, float]:
    """Read ``input_path``, write ``out`` (calibration JSON) and the overlay PNG beside it."""
    spec = load_model(CalibrationInput, input_path)
    frame_path = Path(spec.frame) if Path(spec.frame).is_absolute() else input_path.parent / spec.frame
    image = read_frame(frame_path, spec.frame_time_s)
    calibration, rms = calibrate(spec, (image.shape[1], image.shape[0]))
    out.parent.mkdir(parents=True, exist_ok=True)
    calibration.save(out)
    png = out.with_suffix(".png")
    cv2.imwrite(str(png), overlay(image, calibration, spec))
    return out, png, rms
