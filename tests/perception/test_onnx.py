"""The ONNX detector: the real YOLOX model on real and simulated frames, and the Ultralytics layout."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import shared_or_skip
from yingyan.errors import YingyanError
from yingyan.perception.backends import SHIPPED_MODEL
from yingyan.perception.classes import CAR, TRUCK, VEHICLES
from yingyan.perception.onnx import ModelFamily, OnnxDetector, letterbox


def _frame(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return np.asarray(frame.to_ndarray(format="bgr24"))
    raise AssertionError(f"{path} has fewer than {index + 1} frames")


@pytest.fixture(scope="module")
def yolox() -> OnnxDetector:
    return OnnxDetector(SHIPPED_MODEL)


def test_yolox_finds_the_cars_of_a_real_street(yolox: OnnxDetector) -> None:
    image = _frame(shared_or_skip("videos", "two_lane_street.mp4"), 200)
    det = yolox.update(image)
    assert yolox.family is ModelFamily.YOLOX and yolox.input_size == (416, 416)
    assert len(det) >= 5
    assert set(det.class_id.tolist()) <= set(VEHICLES)
    assert (det.xyxy[:, 2] > det.xyxy[:, 0]).all() and (det.xyxy[:, 3] <= image.shape[0]).all()
    # The pick-up truck filling the lower right corner is found where it is.
    big = det.xyxy[np.argmax((det.xyxy[:, 2] - det.xyxy[:, 0]) * (det.xyxy[:, 3] - det.xyxy[:, 1]))]
    assert big[0] > 380 and big[1] > 180
    assert list(det.data["class_name"]).count("car") >= 4


def test_square_yolox_takes_a_16_9_frame_as_a_rectangle_with_the_same_detections(yolox: OnnxDetector) -> None:
    image = _frame(shared_or_skip("videos", "two_lane_street.mp4"), 200)
    square = OnnxDetector(SHIPPED_MODEL, rect=False)
    assert yolox.flexible and not square.flexible
    rect_det, square_det = yolox.update(image), square.update(image)
    # The same vehicles (the padding the rectangle saves was only grey): every confident box of the
    # square input is there, and at most one weak one (scored near the threshold) comes or goes.
    assert abs(len(rect_det) - len(square_det)) <= 1
    confident = square_det.xyxy[square_det.confidence >= 0.4]
    assert len(confident) >= 5
    for box in confident:
        assert np.max(_iou(box, rect_det.xyxy)) > 0.85


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.asarray(inter / (area - inter))


def test_a_crop_seen_at_the_frame_scale_finds_its_vehicle_where_the_full_frame_does(yolox: OnnxDetector) -> None:
    image = _frame(shared_or_skip("videos", "two_lane_street.mp4"), 200)
    whole = yolox.update(image)
    big = whole.xyxy[np.argmax((whole.xyxy[:, 2] - whole.xyxy[:, 0]) * (whole.xyxy[:, 3] - whole.xyxy[:, 1]))]
    x1, y1 = int(big[0]) - 40, int(big[1]) - 40
    crop = np.ascontiguousarray(image[y1:, x1:])
    found = yolox.detect(crop, yolox.scale_for(image.shape))
    assert len(found) >= 1
    shifted = found.xyxy + np.array([x1, y1, x1, y1], np.float32)
    assert np.max(_iou(big, shifted)) > 0.8


def test_yolox_on_a_blank_road_finds_nothing(yolox: OnnxDetector) -> None:
    assert len(yolox.update(np.full((360, 640, 3), 90, np.uint8))) == 0


def _ultralytics_model(path: Path, table: np.ndarray, size: int = 640) -> Path:
    """An ONNX graph with the Ultralytics output layout that answers ``table`` whatever the image."""
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    output = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(table.shape))
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Reshape", ["nothing", "shape"], ["nothing3"]),
        helper.make_node("Add", ["nothing3", "table"], ["output0"]),
    ]
    inits = [
        numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
        numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape"),
        numpy_helper.from_array(table.astype(np.float32), "table"),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "fake", [image], [output], inits), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_ultralytics_layout_is_decoded_letterboxed_and_suppressed(tmp_path: Path) -> None:
    table = np.zeros((1, 84, 8400), np.float32)
    # Anchor 0: a car at (320, 320) 100x50 input px; anchor 1: the same car, a little weaker (NMS folds it);
    # anchor 2: a truck; anchor 3: a car below the confidence threshold.
    for k, (cx, cy, w, h, cls, score) in enumerate(
        [
            (320, 320, 100, 50, CAR, 0.9),
            (322, 321, 100, 50, CAR, 0.8),
            (100, 400, 60, 60, TRUCK, 0.6),
            (500, 200, 40, 40, CAR, 0.1),
        ]
    ):
        table[0, :4, k] = (cx, cy, w, h)
        table[0, 4 + cls, k] = score
    detector = OnnxDetector(_ultralytics_model(tmp_path / "v8.onnx", table), providers=["CPUExecutionProvider"])
    assert detector.family is ModelFamily.ULTRALYTICS
    assert not detector.flexible  # its output does not follow the input's size: it keeps its square input
    image = np.zeros((360, 640, 3), np.uint8)  # letterboxed into 640x640 with 140 px of grey above and below
    det = detector.update(image)
    assert sorted(det.class_id.tolist()) == [CAR, TRUCK]
    car = det.xyxy[det.class_id == CAR][0]
    assert np.allclose(car, [270, 295 - 140, 370, 345 - 140], atol=0.5)


def test_letterbox_top_left_and_centred() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    boxed, lb = letterbox(image, (400, 400), centred=False)
    assert boxed.shape == (400, 400, 3) and lb.scale == 2.0 and (lb.pad_x, lb.pad_y) == (0.0, 0.0)
    assert (boxed[200:, :, :] == 114).all()
    _, lb = letterbox(image, (400, 400), centred=True)
    assert (lb.pad_x, lb.pad_y) == (0.0, 100.0)


def test_bad_models_are_named(tmp_path: Path) -> None:
    with pytest.raises(YingyanError, match="no such file"):
        OnnxDetector(tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(YingyanError, match=r"junk.onnx: cannot load"):
        OnnxDetector(junk)
    odd = _ultralytics_model(tmp_path / "odd.onnx", np.zeros((1, 3, 10), np.float32))
    with pytest.raises(YingyanError, match="neither YOLOX"):
        OnnxDetector(odd)


def test_the_shipped_model_is_the_documented_one_with_its_licence() -> None:
    import hashlib
    from importlib import resources

    shipped = resources.files("yingyan.perception") / "models"
    data = (shipped / "yolox_nano_416.onnx").read_bytes()
    readme = (shipped / "README.md").read_text(encoding="utf-8")
    assert hashlib.sha256(data).hexdigest() in readme  # what the note of its origin says it is
    assert "Apache License" in (shipped / "LICENSE-yolox_nano.txt").read_text(encoding="utf-8")


def test_onnx_and_gated_run_with_no_model_given(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tests.traffic.test_meter import _calibration
    from yingyan.cli import app
    from yingyan.perception.backends import DetectorName, make_detector
    from yingyan.perception.gating import GatedDetector
    from yingyan.video import VideoWriter

    detector = make_detector(DetectorName.ONNX, None, fps=5.0)
    assert isinstance(detector, OnnxDetector) and detector.family is ModelFamily.YOLOX
    assert isinstance(make_detector(DetectorName.GATED, None, fps=5.0), GatedDetector)
    # From the command line, on a fresh machine: no --model, nothing to download.
    (tmp_path / "cal.json").write_text(_calibration().model_dump_json(), encoding="utf-8")
    with VideoWriter(tmp_path / "road.mp4", 640, 360, fps=5) as writer:
        for _ in range(10):
            writer.write(np.full((360, 640, 3), 90, np.uint8))
    args = ["analyze", str(tmp_path / "road.mp4"), "--calibration", str(tmp_path / "cal.json"),
            "--out", str(tmp_path / "out"), "--detector", "onnx"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "lane_state.csv").exists()
