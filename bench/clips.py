"""The clips the perception benchmarks measure: the real 640x360-class clips of ``../shared/videos`` with
their calibrations (``tests/data/real_clips``), and free-flow simulator clips made on the fly."""

from __future__ import annotations

from pathlib import Path

import yaml

from yingyan.calibration import CameraCalibration
from yingyan.perception.calibrate import CalibrationInput, calibrate
from yingyan.sim.library import load_builtin
from yingyan.sim.runner import RunOptions, run_scenario

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "real_clips"  # calibrations of the real clips
REAL = (("two_lane_street", (640, 352)), ("urban_multilane_dusk", (640, 360)))


def real_clips() -> list[tuple[str, Path, CameraCalibration]]:
    """(name, video, calibration) of each real clip."""
    out = []
    for name, size in REAL:
        spec = CalibrationInput.model_validate(yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8")))
        out.append((name, SHARED / "videos" / f"{name}.mp4", calibrate(spec, size)[0]))
    return out


def free_flow_clip(folder: Path, size: tuple[int, int], seconds: float) -> tuple[Path, CameraCalibration]:
    """Camera K1 of ``free-flow`` rendered at ``size`` and 25 fps for ``seconds`` (+2) into ``folder``."""
    run = run_scenario(
        load_builtin("free-flow"), folder, RunOptions(duration_s=seconds + 2, size=size, fps=25, workers=1)
    )
    cam = run / "cameras" / "K1"
    return cam / "video.mp4", CameraCalibration.load(cam / "calibration.json")
