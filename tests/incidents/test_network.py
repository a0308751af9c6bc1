"""The checkpoint network from a site file: links, directions, measured stretches, places of events."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from yingyan.incidents.network import Network
from yingyan.site import load_site


def _calibration(path: Path, camera: str, x0: float, travel: float) -> str:
    road = [[x0, 0.0], [x0 + 80.0, 0.0], [x0 + 80.0, 3.5], [x0, 3.5]]
    path.write_text(json.dumps({
        "camera_id": camera, "image_size": [640, 360], "homography": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        "lanes": [{"id": f"{camera}-L1", "number": 1, "direction": "southbound", "travel": [travel, 0],
                   "polygon_road": road, "polygon_image": road}],
    }), encoding="utf-8")  # fmt: skip
    return path.name


def test_a_simulated_site_places_events_by_chainage_and_a_real_one_at_its_checkpoint(tmp_path: Path) -> None:
    site = {
        "name": "t",
        "cameras": [
            {"id": "A", "source": "a.mp4", "calibration": _calibration(tmp_path / "a.json", "A", 1000.0, 1.0),
             "position_m": 1000.0, "direction": "southbound", "road_x_is_chainage": True},
            # Real cameras: their road planes are their own, the links say which way the road runs.
            {"id": "B", "source": "b.mp4", "calibration": _calibration(tmp_path / "b.json", "B", 0.0, 1.0),
             "position_m": 1500.0, "direction": "southbound"},
            {"id": "D", "source": "d.mp4", "calibration": _calibration(tmp_path / "d.json", "D", 0.0, 1.0),
             "position_m": 900.0, "direction": "northbound"},
            {"id": "E", "source": "e.mp4", "calibration": _calibration(tmp_path / "e.json", "E", 0.0, 1.0),
             "position_m": 500.0, "direction": "northbound"},
        ],
        "links": [{"upstream": "A", "downstream": "B", "distance_m": 500.0},
                  {"upstream": "D", "downstream": "E", "distance_m": 400.0}],
    }  # fmt: skip
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site), encoding="utf-8")
    network = Network.from_site(load_site(tmp_path / "site.yaml"), tmp_path)
    a, b = network.checkpoints["A"], network.checkpoints["B"]
    assert a.view_m == (1000.0, 1080.0) and a.sign == 1 and a.downstream_edge_m == 1080.0
    assert a.chainage((1040.0, 1.0)) == 1040.0
    assert b.sign == 1 and b.chainage((40.0, 1.0)) == 1500.0  # not chainage: placed at its checkpoint
    assert network.checkpoints["D"].sign == -1 and network.checkpoints["E"].sign == -1  # towards smaller chainage
    (link,) = network.downstream("A")
    assert link.downstream == "B" and network.upstream("B") == [link] and network.downstream("B") == []
