"""`yingyan calibrate`: a homography from point pairs, checked against a camera whose truth is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from typer.testing import CliRunner

from yingyan.calibration import CameraCalibration
from yingyan.cli import app

runner = CliRunner()


def _spec(run: Path, camera: str, noise_px: float = 0.0) -> dict[str, object]:
    """Point pairs a surveyor would take: lane-marking points of a simulated camera, in its own truth."""
    truth = CameraCalibration.load(run / "cameras" / camera / "calibration.json")
    xs = np.concatenate([np.asarray(lane.polygon_road)[:, 0] for lane in truth.lanes])
    near = float(xs.max())  # the measured stretch's end nearest the camera
    road = np.array([[x, y] for x in (near - 5.0, near - 30.0, near - 60.0) for y in (-7.0, 0.0)])
    image = truth.road_to_image(road) + np.random.default_rng(0).normal(0, noise_px, (len(road), 2))
    lanes = [{"id": lane.id, "number": lane.number, "direction": lane.direction, "travel": list(lane.travel),
              "polygon_road": [list(p) for p in lane.polygon_road]} for lane in truth.lanes]  # fmt: skip
    return {
        "camera_id": camera,
        "frame": str(run / "cameras" / camera / "video.mp4"),
        "frame_time_s": 3.0,
        "points": [
            {"image": [float(a), float(b)], "road": [float(c), float(d)]}
            for (a, b), (c, d) in zip(image, road, strict=True)
        ],
        "lanes": lanes,
    }


def test_calibration_recovers_the_camera_and_draws_the_overlay(parking_rendered: Path, tmp_path: Path) -> None:
    spec_file = tmp_path / "K2.yaml"
    spec_file.write_text(yaml.safe_dump(_spec(parking_rendered, "K2", noise_px=0.3)))
    result = runner.invoke(
        app, ["calibrate", str(spec_file), "--out", str(tmp_path / "cal" / "K2.json")], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "reprojection error" in result.output
    fitted = CameraCalibration.load(tmp_path / "cal" / "K2.json")
    truth = CameraCalibration.load(parking_rendered / "cameras" / "K2" / "calibration.json")
    pixels = np.array([[320.0, 300.0], [300.0, 120.0], [280.0, 60.0]])
    error_m = np.linalg.norm(fitted.image_to_road(pixels) - truth.image_to_road(pixels), axis=1)
    assert error_m.max() < 1.5  # within a metre or so up to ~100 m away, from sub-pixel clicks
    assert [lane.id for lane in fitted.lanes] == [lane.id for lane in truth.lanes]
    png = tmp_path / "cal" / "K2.png"
    import cv2

    overlay = cv2.imread(str(png))
    assert overlay is not None and overlay.shape == (360, 640, 3)


def test_bad_point_sets_are_named(parking_rendered: Path, tmp_path: Path) -> None:
    spec = _spec(parking_rendered, "K2")
    spec["points"] = spec["points"][:3]  # type: ignore[index]
    bad = tmp_path / "few.yaml"
    bad.write_text(yaml.safe_dump(spec))
    result = runner.invoke(app, ["calibrate", str(bad), "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2 and "points" in result.output and "few.yaml" in result.output
    spec = _spec(parking_rendered, "K2")
    for i, p in enumerate(spec["points"]):  # type: ignore[arg-type]
        p["road"] = [1000.0 + i, 0.0]
    line = tmp_path / "line.yaml"
    line.write_text(yaml.safe_dump(spec))
    result = runner.invoke(app, ["calibrate", str(line), "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2 and "one line" in result.output
    assert not (tmp_path / "x.json").exists()
