"""End to end: a rendered run, its videos and boxes, determinism, and atomic output."""

from __future__ import annotations

import csv
import filecmp
from collections import defaultdict
from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import load_manifest
from yingyan.calibration import CameraCalibration
from yingyan.errors import YingyanError
from yingyan.sim import runner
from yingyan.sim.library import load_builtin
from yingyan.sim.runner import RunOptions, run_scenario
from yingyan.site import load_site


def _boxes(run: Path, camera: str) -> dict[str, list[tuple[float, float, float, float, float]]]:
    out: dict[str, list[tuple[float, float, float, float, float]]] = defaultdict(list)
    with (run / "cameras" / camera / "boxes.csv").open(encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            out[r["vehicle_id"]].append(
                (float(r["t_s"]), float(r["x1"]), float(r["y1"]), float(r["x2"]), float(r["y2"]))
            )
    return out


def test_stalled_vehicle_box_stays_put_in_the_camera_that_sees_it(night_rendered: Path) -> None:
    (incident,) = load_manifest(night_rendered)["incidents"]
    assert incident["camera_ids"] == ["K3"]
    (vehicle,) = incident["vehicle_ids"]
    track = [b for b in _boxes(night_rendered, "K3")[vehicle] if b[0] >= incident["start_s"] + 1.0]
    assert len(track) > 5 * 60  # at 5 fps, a minute or more at rest in view
    centres = np.array([((x1 + x2) / 2, (y1 + y2) / 2) for _, x1, y1, x2, y2 in track])
    assert np.ptp(centres[:, 0]) < 1.0 and np.ptp(centres[:, 1]) < 1.0
    before = [b for b in _boxes(night_rendered, "K3")[vehicle] if b[0] < incident["trigger_s"]]
    if before:  # while it still drove, it moved
        assert abs(before[0][2] - track[0][2]) > 1.0


def test_videos_decode_with_the_declared_size_rate_and_length(night_rendered: Path) -> None:
    manifest = load_manifest(night_rendered)
    for cam in manifest["cameras"]:
        with av.open(str(night_rendered / cam["video"])) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            frames = list(container.decode(stream))
        assert len(frames) == int(manifest["duration_s"] * cam["fps"])
        assert (frames[0].width, frames[0].height) == (320, 180)
        times = [f.time for f in frames]
        assert times[1] - times[0] == pytest.approx(1 / cam["fps"])
        # Night: a dim image (the camera's gain lifts it to at most mid-grey) with a few bright lights.
        image = frames[len(frames) // 2].to_ndarray(format="bgr24")
        assert image.mean() < 90 and (image.max(axis=2) > 200).sum() > 5


def test_boxes_lie_inside_the_frame_and_on_the_measured_lanes(night_rendered: Path) -> None:
    cal = CameraCalibration.load(night_rendered / "cameras" / "K2" / "calibration.json")
    assert cal.image_size == (320, 180)
    near = []
    with (night_rendered / "cameras" / "K2" / "boxes.csv").open(encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            x1, y1, x2, y2 = (float(r[k]) for k in ("x1", "y1", "x2", "y2"))
            assert 0 <= x1 < x2 <= 319 and 0 <= y1 < y2 <= 179
            if float(r["distance_m"]) < 60 and r["truncated"] == "0":
                near.append(((x1 + x2) / 2, y2))
    assert near
    # The bottom centre of a near vehicle's box maps onto the road within a few metres of a lane.
    road = cal.image_to_road(np.array(near))
    assert np.median(np.abs(road[:, 1])) < 9.0


def test_site_yaml_points_at_the_run_files(night_rendered: Path) -> None:
    site = load_site(night_rendered / "site.yaml")
    assert [c.id for c in site.cameras] == ["K1", "K2", "K3", "K4"]
    for cam in site.cameras:
        assert (night_rendered / cam.source).is_file()
        CameraCalibration.load(night_rendered / cam.calibration)
    assert [(link.upstream, link.downstream) for link in site.links] == [("K1", "K2"), ("K2", "K3"), ("K3", "K4")]


def test_same_seed_gives_byte_identical_ground_truth(tmp_path: Path) -> None:
    scenario = load_builtin("free-flow")
    runs = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        runs.append(
            run_scenario(
                scenario, tmp_path / name, RunOptions(seed=seed, duration_s=40, fps=5, size=(160, 90), workers=1)
            )
        )
    a, b, c = runs
    files = ["manifest.json", "site.yaml"] + [
        f"cameras/K2/{f}" for f in ("boxes.csv", "lane_state.csv", "calibration.json")
    ]
    for f in files:
        assert filecmp.cmp(a / f, b / f, shallow=False), f
    assert not filecmp.cmp(a / "cameras/K2/boxes.csv", c / "cameras/K2/boxes.csv", shallow=False)


def test_a_failed_run_leaves_nothing_that_looks_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(runner, "_spacetime", broken)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="disk full"):
        run_scenario(load_builtin("free-flow"), out, RunOptions(duration_s=20, render=False))
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_kept_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    with pytest.raises(YingyanError, match="already exists"):
        run_scenario(load_builtin("free-flow"), out, RunOptions(duration_s=20, render=False))
    assert (out / "keep.txt").read_text() == "earlier work"
    run_scenario(load_builtin("free-flow"), out, RunOptions(duration_s=20, render=False, force=True))
    assert (out / "manifest.json").is_file() and not (out / "keep.txt").exists()
