"""Camera calibration: the image ↔ road-plane homography, lanes, zones and counting lines.

The simulator writes this format for its rendered cameras and ``yingyan calibrate`` (a later
stage) writes it for real ones, so every stage after the camera reads one format. Road-plane
coordinates are metres in the site's road frame (the simulator uses chainage along the
corridor for x and the lateral offset, positive to the left of forward traffic, for y).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pydantic import Field, field_validator

from yingyan.config import StrictModel, validate_mapping
from yingyan.errors import ConfigError
from yingyan.traffic.levels import RoadClass

Point = tuple[float, float]


class LaneCalibration(StrictModel):
    """One measured lane."""

    id: str = Field(title="Lane id", description="Stable lane id, unique within the site (camera id and lane number).")
    number: int = Field(
        title="Lane number",
        description="Lane number within its carriageway, 1 = innermost (next to the centreline).",
        ge=1,
    )
    direction: str = Field(
        title="Carriageway",
        description="Name of the carriageway the lane belongs to (e.g. forward, reverse, northbound).",
    )
    travel: Point = Field(title="Direction of travel", description="Unit vector of travel on the road plane.")
    polygon_road: list[Point] = Field(
        title="Road polygon",
        description="Measured stretch of the lane on the road plane (metres), corners in order.",
        min_length=3,
    )
    polygon_image: list[Point] = Field(
        title="Image polygon", description="The same stretch in the image (pixels), clipped to the frame.", min_length=3
    )


class ZoneCalibration(StrictModel):
    """A zone with a rule, such as a no-parking zone."""

    id: str = Field(title="Zone id", description="Stable zone id.")
    kind: str = Field(title="Kind", description="What the zone is for, e.g. no_parking.")
    polygon_road: list[Point] = Field(
        title="Road polygon", description="Zone on the road plane (metres).", min_length=3
    )
    polygon_image: list[Point] = Field(
        title="Image polygon", description="Zone in the image (pixels), clipped to the frame.", min_length=3
    )


class CountingLine(StrictModel):
    """A line across lanes where passing vehicles are counted."""

    id: str = Field(title="Line id", description="Stable counting-line id.")
    lane_ids: list[str] = Field(title="Lanes", description="Lanes the line spans.")
    road: tuple[Point, Point] = Field(title="Road end points", description="End points on the road plane (metres).")
    image: tuple[Point, Point] = Field(title="Image end points", description="End points in the image (pixels).")


class CameraCalibration(StrictModel):
    """Calibration of one camera."""

    camera_id: str = Field(title="Camera id", description="Camera this calibration belongs to.")
    image_size: tuple[int, int] = Field(
        title="Image size", description="Width and height in pixels the calibration was made at."
    )
    homography: list[list[float]] = Field(
        title="Homography (image → road)", description="3x3 matrix mapping image pixels (x, y, 1) to road-plane metres."
    )
    road_class: RoadClass = Field(
        default=RoadClass.ARTERIAL,
        title="Road class",
        description="Road class of the measured lanes (selects the congestion thresholds).",
    )
    speed_limit_kmh: float = Field(
        default=60.0, title="Speed limit (km/h)", description="Posted speed limit, used as the free-flow speed.", gt=0
    )
    lanes: list[LaneCalibration] = Field(title="Lanes", description="Measured lanes.", min_length=1)
    zones: list[ZoneCalibration] = Field(
        default_factory=list, title="Zones", description="Rule zones such as no-parking zones."
    )
    counting_lines: list[CountingLine] = Field(
        default_factory=list, title="Counting lines", description="Lines where vehicles are counted."
    )

    @field_validator("homography")
    @classmethod
    def _three_by_three(cls, value: list[list[float]]) -> list[list[float]]:
        if len(value) != 3 or any(len(row) != 3 for row in value):
            raise ValueError("homography must be a 3x3 matrix")
        if abs(float(np.linalg.det(np.asarray(value)))) < 1e-12:
            raise ValueError("homography is singular")
        return value

    def image_to_road(self, points: np.ndarray) -> np.ndarray:
        """Map image pixels (N, 2) to road-plane metres (N, 2)."""
        return _apply(np.asarray(self.homography), points)

    def road_to_image(self, points: np.ndarray) -> np.ndarray:
        """Map road-plane metres (N, 2) to image pixels (N, 2)."""
        return _apply(np.linalg.inv(np.asarray(self.homography)), points)

    def save(self, path: Path) -> None:
        """Write the calibration as JSON."""
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> CameraCalibration:
        """Read a calibration JSON file; errors name the file and field."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"{path}: cannot read calibration ({error.strerror or error})") from None
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"{path}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
            ) from None
        return validate_mapping(cls, data, str(path))


def _apply(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    homog = np.column_stack([pts, np.ones(len(pts))]) @ h.T
    return np.asarray(homog[:, :2] / homog[:, 2:3])
