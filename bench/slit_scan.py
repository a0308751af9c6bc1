"""Slit-scan images of a clip's counting line: the aid for counting vehicles per lane by hand.

Run: .venv/bin/python bench/slit_scan.py tests/data/real_clips/labels.yaml [--out DIR]

For every clip of the label file, the pixels along its calibration's counting line are read from
every frame and stacked left to right: time runs along x (a tick every second), the line runs
down y with its lanes marked (blue bands between them, lane ids at the left). Each vehicle that
crosses the line leaves one streak in its lane's band; a standing vehicle leaves a band across
the whole image. Count the streaks per lane and write them under the clip's ``counts``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from yingyan.calibration import CameraCalibration
from yingyan.config import load_model
from yingyan.eval.labels import LabelFile
from yingyan.perception.calibrate import run_calibration

SAMPLES = 240  # pixels read along the line
LANE_STEP_M = 0.05


def slit_scan(video: Path, calibration: CameraCalibration) -> tuple[np.ndarray, list[tuple[str, int, int]], float]:
    """The stacked image, each lane's (id, first row, last row) and the clip's frame rate."""
    line = calibration.counting_lines[0]
    (x0, y0), (x1, y1) = line.image
    t = np.linspace(0.0, 1.0, SAMPLES)
    xs = (x0 + (x1 - x0) * t).astype(np.float32)
    ys = (y0 + (y1 - y0) * t).astype(np.float32)
    road = calibration.image_to_road(np.column_stack([xs, ys]).astype(np.float64))
    bands = []
    for lane in calibration.lanes:
        polygon = np.asarray(lane.polygon_road, dtype=np.float32)
        inside = [cv2.pointPolygonTest(polygon, (float(p[0]), float(p[1])), False) >= 0 for p in road]
        rows = np.nonzero(inside)[0]
        if len(rows):
            bands.append((lane.id, int(rows[0]), int(rows[-1])))
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    columns = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        columns.append(cv2.remap(frame, xs[:, None], ys[:, None], cv2.INTER_LINEAR))
    capture.release()
    if not columns:
        raise SystemExit(f"{video}: no frame decodes")
    return np.hstack(columns), bands, float(fps)


def annotate(image: np.ndarray, bands: list[tuple[str, int, int]], fps: float) -> np.ndarray:
    scale = 3
    big = cv2.resize(image, (image.shape[1], image.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    margin = np.full((big.shape[0] + 20, big.shape[1] + 110, 3), 255, np.uint8)
    margin[20:, 110:] = big
    for lane_id, lo, hi in bands:
        for row in (lo, hi):
            cv2.line(margin, (110, 20 + row * scale), (margin.shape[1], 20 + row * scale), (255, 120, 0), 1)
        cv2.putText(margin, lane_id, (2, 20 + (lo + hi) * scale // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    for second in range(int(image.shape[1] / fps) + 1):
        x = 110 + int(second * fps)
        cv2.line(margin, (x, 0), (x, 20 if second % 5 else 14), (0, 0, 0), 1)
        if second % 5 == 0:
            cv2.putText(margin, f"{second}s", (x + 2, 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
    return margin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("--out", type=Path, default=Path("runs/slit-scan"))
    args = parser.parse_args()
    spec = load_model(LabelFile, args.labels)
    args.out.mkdir(parents=True, exist_ok=True)
    root = args.labels.parent
    for clip in spec.clips:
        cal_path = root / clip.calibration
        if cal_path.suffix in {".yaml", ".yml"}:
            cal_path = run_calibration(cal_path, args.out / f"{clip.name}-calibration.json")[0]
        image, bands, fps = slit_scan(root / clip.source, CameraCalibration.load(cal_path))
        path = args.out / f"{clip.name}.png"
        cv2.imwrite(str(path), annotate(image, bands, fps))
        print(f"{path}: {image.shape[1]} frames at {fps:g} fps, lanes {[b[0] for b in bands]}")  # noqa: T201


if __name__ == "__main__":
    main()
