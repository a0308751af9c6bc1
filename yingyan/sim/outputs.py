"""Writers for a run's files: CSV tables, the camera calibration, site.yaml and the space-time chart."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml
from shapely.geometry import Polygon, box

from yingyan.calibration import CameraCalibration, CountingLine, LaneCalibration, ZoneCalibration
from yingyan.sim.camera import MeasurementZone, PinholeCamera, carriageway_span
from yingyan.sim.groundtruth import lane_id
from yingyan.sim.scenario import Checkpoint, Direction, IncidentType, Scenario
from yingyan.sim.scene import no_parking_zone


def _image_polygon(camera: PinholeCamera, road: Polygon) -> list[tuple[float, float]]:
    """Project a road polygon into the image, clipped to the frame (empty if out of view)."""
    xy = np.asarray(road.exterior.coords)[:-1]
    pix, depth = camera.project(np.column_stack([xy, np.zeros(len(xy))]))
    if (depth <= 0).any():
        return []
    clipped = Polygon(pix).intersection(box(0, 0, camera.width - 1, camera.height - 1))
    if clipped.is_empty or not isinstance(clipped, Polygon):
        return []
    return [(round(float(x), 2), round(float(y), 2)) for x, y in np.asarray(clipped.exterior.coords)[:-1]]


def calibration_for(
    scenario: Scenario, cp: Checkpoint, camera: PinholeCamera, zone: MeasurementZone
) -> CameraCalibration:
    """The calibration of a simulated camera, in the format real cameras use."""
    net = scenario.network
    w = net.lane_width_m
    travel = (1.0, 0.0) if cp.watch is Direction.FORWARD else (-1.0, 0.0)
    lanes: list[LaneCalibration] = []
    lo, hi = carriageway_span(net, cp.watch)
    for number in range(1, net.lanes + 1):
        inner = (number - 1) * w
        y0, y1 = (-inner - w, -inner) if cp.watch is Direction.FORWARD else (inner, inner + w)
        road = box(zone.lo_m, y0, zone.hi_m, y1)
        image = _image_polygon(camera, road)
        if len(image) < 3:
            continue
        road_pts = [(round(float(x), 3), round(float(y), 3)) for x, y in np.asarray(road.exterior.coords)[:-1]]
        lanes.append(
            LaneCalibration(
                id=lane_id(cp.id, number),
                number=number,
                direction=cp.watch.value,
                travel=travel,
                polygon_road=road_pts,
                polygon_image=image,
            )
        )
    zones: list[ZoneCalibration] = []
    for i, inc in enumerate(scenario.incidents):
        if inc.type is IncidentType.ILLEGAL_PARKING:
            road = no_parking_zone(scenario, i)
            image = _image_polygon(camera, road)
            if len(image) >= 3:
                road_pts = [(round(float(x), 3), round(float(y), 3)) for x, y in np.asarray(road.exterior.coords)[:-1]]
                zones.append(
                    ZoneCalibration(
                        id=f"{cp.id}-NP{len(zones) + 1}", kind="no_parking", polygon_road=road_pts, polygon_image=image
                    )
                )
    ends_road = np.array([[zone.counting_m, lo], [zone.counting_m, hi]])
    ends_img, _ = camera.project(np.column_stack([ends_road, np.zeros(2)]))
    line = CountingLine(
        id=f"{cp.id}-C1",
        lane_ids=[lane.id for lane in lanes],
        road=((float(ends_road[0, 0]), float(ends_road[0, 1])), (float(ends_road[1, 0]), float(ends_road[1, 1]))),
        image=(
            (round(float(ends_img[0, 0]), 2), round(float(ends_img[0, 1]), 2)),
            (round(float(ends_img[1, 0]), 2), round(float(ends_img[1, 1]), 2)),
        ),
    )
    h = camera.image_to_road()
    return CameraCalibration(
        camera_id=cp.id,
        image_size=(camera.width, camera.height),
        homography=[[float(v) for v in row] for row in h],
        road_class=net.road_class,
        speed_limit_kmh=net.speed_limit_kmh,
        lanes=lanes,
        zones=zones,
        counting_lines=[line],
    )


def write_site(path: Path, scenario: Scenario, cameras: list[dict[str, object]]) -> None:
    """Write ``site.yaml``: cameras with their videos and calibrations, and the checkpoint graph."""
    links = []
    for cam in cameras:
        for down in cam["downstream"]:  # type: ignore[attr-defined]
            links.append(
                {
                    "upstream": cam["id"],
                    "downstream": down["camera_id"],
                    "distance_m": down["distance_m"],
                    "road_class": scenario.network.road_class.value,
                    "lanes": scenario.network.lanes,
                    "speed_limit_kmh": scenario.network.speed_limit_kmh,
                }
            )
    site = {
        "name": f"sim-{scenario.name}",
        "timezone": "Asia/Shanghai",
        "cameras": [
            {
                "id": c["id"],
                "name": f"{scenario.name} {c['id']} ({c['watch']})",
                **({"source": c["video"]} if c["video"] else {}),  # none without video: replayed, not analysed
                "calibration": c["calibration"],
                "fps": c["fps"],
                "position_m": c["position_m"],
                "road_x_is_chainage": True,
                "direction": c["watch"],
                "road_class": scenario.network.road_class.value,
            }
            for c in cameras
        ],
        "links": links,
    }
    path.write_text(yaml.safe_dump(site, sort_keys=False, allow_unicode=True), encoding="utf-8")


def spacetime_chart(
    path: Path,
    speeds: np.ndarray,
    cell_m: float,
    bin_s: float,
    speed_limit_kmh: float,
    cameras: list[tuple[str, float]],
    incidents: list[tuple[str, float, float | None, float | None]],
    title: str,
) -> None:
    """PNG of speed over chainage (x) and time (y, downwards), with cameras and incidents marked."""
    n_t, n_x = speeds.shape
    px_x, px_t = 4, 4
    norm = np.clip(np.nan_to_num(speeds, nan=speed_limit_kmh) / speed_limit_kmh, 0, 1)
    grey = ((1.0 - norm) * 255).astype(np.uint8)  # turbo: red = stopped, blue = free
    colour = cv2.applyColorMap(grey, cv2.COLORMAP_TURBO)
    img = cv2.resize(colour, (n_x * px_x, n_t * px_t), interpolation=cv2.INTER_NEAREST)
    margin_l, margin_t, margin_b = 60, 40, 30
    canvas = np.full((img.shape[0] + margin_t + margin_b, max(img.shape[1] + margin_l + 20, 720), 3), 255, np.uint8)
    canvas[margin_t : margin_t + img.shape[0], margin_l : margin_l + img.shape[1]] = img
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(canvas, title, (margin_l, 18), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(
        canvas,
        "chainage (m) ->, time (s) down; colour: speed, dark red = stopped, dark blue = speed limit; black: incident",
        (margin_l, 34),
        font,
        0.38,
        (60, 60, 60),
        1,
        cv2.LINE_AA,
    )
    for name, x in cameras:
        u = margin_l + int(x / cell_m * px_x)
        cv2.line(canvas, (u, margin_t), (u, margin_t + img.shape[0]), (255, 255, 255), 1)
        cv2.putText(canvas, name, (u - 8, canvas.shape[0] - 10), font, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    for name, x, t0, t1 in incidents:
        if t0 is None:
            continue
        u = margin_l + int(x / cell_m * px_x)
        v0 = margin_t + int(t0 / bin_s * px_t)
        v1 = margin_t + int((t1 if t1 is not None else n_t * bin_s) / bin_s * px_t)
        cv2.line(canvas, (u, v0), (u, v1), (0, 0, 0), 2)
        cv2.putText(canvas, name, (u + 3, v0 + 12), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for k in range(0, n_t, max(int(60 / bin_s), 1)):
        v = margin_t + k * px_t
        if (k * bin_s) % 300 == 0:
            cv2.putText(canvas, f"{int(k * bin_s)}s", (5, v + 4), font, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), canvas)
