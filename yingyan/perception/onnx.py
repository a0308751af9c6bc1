"""Neural detector on onnxruntime: YOLOX exports and Ultralytics YOLOv8/YOLO11 exports.

The model family is recognised by its output: YOLOX gives ``[1, cells, 5 + classes]``
(x, y, w, h per grid cell, objectness, class scores; BGR 0–255 input, letterbox at the top
left); Ultralytics gives ``[1, 4 + classes, anchors]`` (box centre and size in input pixels,
class scores; RGB 0–1 input, centred letterbox). Both are letterboxed with grey 114,
filtered by class and score, and reduced with class-aware NMS.

Models exported with a fixed square input (both families usually are) are made to take any
height and width that are multiples of 32 when their graph allows it (checked by running
one rectangular image through it). A 16:9 camera frame then fills a 416x256 input instead of
the top of a 416x416 one: the same scale, the same detections, 40 % less to compute. And a
motion-gated crop runs at the whole frame's scale, costing in proportion to its area.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import supervision as sv

from yingyan.errors import YingyanError
from yingyan.perception.classes import BUS, CAR, CLASS_NAMES, DEFAULT_CLASSES, TRUCK

log = logging.getLogger(__name__)


class ModelFamily(StrEnum):
    """Output layouts the detector understands."""

    YOLOX = "yolox"
    ULTRALYTICS = "ultralytics"


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the model input: scale, then padding offset."""

    scale: float
    pad_x: float
    pad_y: float


def letterbox(
    image: np.ndarray, size: tuple[int, int], centred: bool, scale: float | None = None
) -> tuple[np.ndarray, Letterbox]:
    """Resize ``image`` by ``scale`` (default: to fit ``size`` (w, h)) keeping its aspect ratio; pad with grey 114."""
    w, h = size
    ih, iw = image.shape[:2]
    scale = min(w / iw, h / ih) if scale is None else scale
    nw, nh = max(round(iw * scale), 1), max(round(ih * scale), 1)
    canvas = np.full((h, w, 3), 114, np.uint8)
    pad_x = (w - nw) / 2 if centred else 0.0
    pad_y = (h - nh) / 2 if centred else 0.0
    x0, y0 = int(round(pad_x)), int(round(pad_y))
    canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, Letterbox(scale, float(x0), float(y0))


STRIDE = 32  # the coarsest stride of YOLOX and YOLOv8/11 heads: input sides are multiples of it


class OnnxDetector:
    """Detect vehicles (and people) with an ONNX model; ``update(image)`` returns ``sv.Detections``.

    ``providers`` defaults to CUDA when onnxruntime offers it, else the CPU. With ``rect`` (the
    default) a fixed-size model is made to take rectangular inputs where its graph allows it
    (``flexible`` says whether it did).
    """

    def __init__(
        self,
        model: Path,
        confidence: float = 0.2,
        nms_iou: float = 0.45,
        classes: tuple[int, ...] = DEFAULT_CLASSES,
        providers: list[str] | None = None,
        threads: int = 2,
        rect: bool = True,
    ) -> None:
        if not model.is_file():
            raise YingyanError(f"ONNX model {model}: no such file")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        available = ort.get_available_providers()
        chosen = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        try:
            self.session = ort.InferenceSession(str(model), sess_options=options, providers=chosen)
        except Exception as error:  # onnxruntime raises its own, untyped errors
            raise YingyanError(f"ONNX model {model}: cannot load ({error})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise YingyanError(
                f"ONNX model {model}: expected one image input [1, 3, H, W], got {[i.shape for i in inputs]}"
            )
        self.input_name = inputs[0].name
        _, _, h, w = inputs[0].shape
        self.input_size = (int(w) if isinstance(w, int) else 640, int(h) if isinstance(h, int) else 640)
        self.family = self._family(model)
        self.flexible = not (isinstance(w, int) and isinstance(h, int))
        if rect and not self.flexible:
            flexible = self._flexible_session(model, options, chosen)
            if flexible is not None:
                self.session, self.flexible = flexible, True
        self.confidence = confidence
        self.nms_iou = nms_iou
        self.classes = np.asarray(classes, dtype=int)
        self.providers = self.session.get_providers()
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        log.info(
            "ONNX detector %s (%s, input %dx%d%s) on %s",
            model.name,
            self.family.value,
            *self.input_size,
            ", any multiple of 32" if self.flexible else "",
            self.providers[0],
        )

    def _flexible_session(
        self, model: Path, options: ort.SessionOptions, providers: list[str]
    ) -> ort.InferenceSession | None:
        """The model with its input's height and width left free, if its graph really allows it."""
        try:
            proto = onnx.load(str(model))
            dims = proto.graph.input[0].type.tensor_type.shape.dim
            for dim, name in zip(dims[2:], ("height", "width"), strict=True):
                dim.dim_param = name  # replaces the fixed dim_value (one of the two)
            cells = 1 if self.family is ModelFamily.YOLOX else 2
            for output in proto.graph.output:
                out_dims = output.type.tensor_type.shape.dim
                if len(out_dims) > cells:
                    out_dims[cells].dim_param = "cells"
            del proto.graph.value_info[:]  # shapes inferred for the fixed size
            session = ort.InferenceSession(proto.SerializeToString(), sess_options=options, providers=providers)
            w, h = self.input_size
            probe = (w, max(_round_up(h // 2), STRIDE))
            raw = session.run(None, {self.input_name: np.zeros((1, 3, probe[1], probe[0]), np.float32)})[0]
            if raw.shape[1 if self.family is ModelFamily.YOLOX else 2] != _cells(probe):
                raise ValueError(f"output {raw.shape} does not follow a {probe[0]}x{probe[1]} input")
        except Exception as error:  # onnx and onnxruntime raise their own, untyped errors
            log.info("ONNX model %s keeps its fixed %dx%d input (%s)", model.name, *self.input_size, error)
            return None
        return session

    def _family(self, model: Path) -> ModelFamily:
        shape = self.session.get_outputs()[0].shape
        if (
            len(shape) == 3
            and isinstance(shape[2], int)
            and shape[2] >= 6
            and (not isinstance(shape[1], int) or shape[1] > shape[2])
        ):
            return ModelFamily.YOLOX
        if len(shape) == 3 and isinstance(shape[1], int) and shape[1] >= 5:
            return ModelFamily.ULTRALYTICS
        raise YingyanError(
            f"ONNX model {model}: output shape {shape} is neither YOLOX [1, N, 5+C] nor Ultralytics [1, 4+C, N]"
        )

    def scale_for(self, shape: tuple[int, ...]) -> float:
        """Model input pixels per image pixel when a whole image of ``shape`` (h, w, ...) fills the input."""
        return min(self.input_size[0] / shape[1], self.input_size[1] / shape[0])

    def update(self, image: np.ndarray) -> sv.Detections:
        """Detections in ``image`` (BGR), in its own pixel coordinates."""
        return self.detect(image, self.scale_for(image.shape))

    def detect(self, image: np.ndarray, scale: float, origin: tuple[int, int] = (0, 0)) -> sv.Detections:
        """Detections in ``image`` (BGR), a region of a frame starting at ``origin``, in frame pixels.

        The image is seen at ``scale`` model pixels per image pixel.

        A flexible model gets an input just large enough (sides rounded up to 32); a fixed one
        gets its own size, and the image at most at the scale that fits it.
        """
        ih, iw = image.shape[:2]
        if self.flexible:
            size = (_round_up(iw * scale), _round_up(ih * scale))
            size = (min(size[0], self.input_size[0]), min(size[1], self.input_size[1]))
        else:
            size = self.input_size
        centred = self.family is ModelFamily.ULTRALYTICS
        boxed, lb = letterbox(image, size, centred=centred, scale=min(scale, size[0] / iw, size[1] / ih))
        if self.family is ModelFamily.YOLOX:
            blob = boxed.transpose(2, 0, 1)[None].astype(np.float32)
        else:
            blob = (boxed[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32)) / 255.0
        raw = self.session.run(None, {self.input_name: np.ascontiguousarray(blob)})[0][0]
        boxes, scores, class_ids = self._decode(np.asarray(raw, dtype=np.float32), size)
        found = self._finish(boxes, scores, class_ids, lb, image.shape[:2])
        if len(found) and origin != (0, 0):
            found.xyxy = found.xyxy + np.array([*origin, *origin], dtype=np.float32)
        return found

    def _grid(self, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """YOLOX grid cells (x, y) and their strides for an input of ``size`` (w, h)."""
        if size not in self._grids:
            w, h = size
            grids, strides = [], []
            for stride in (8, 16, 32):
                gw, gh = w // stride, h // stride
                ys, xs = np.mgrid[0:gh, 0:gw]
                grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
                strides.append(np.full((gw * gh, 1), stride))
            self._grids[size] = (
                np.concatenate(grids).astype(np.float32),
                np.concatenate(strides).astype(np.float32),
            )
        return self._grids[size]

    def _decode(self, raw: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (cx, cy, w, h in input pixels), best class score and class id per candidate."""
        if self.family is ModelFamily.YOLOX:
            w, h = size
            grid, stride_arr = self._grid(size)
            if len(grid) != len(raw):
                raise YingyanError(f"YOLOX output has {len(raw)} cells, input {w}x{h} gives {len(grid)}")
            xy = (raw[:, :2] + grid) * stride_arr
            wh = np.exp(np.clip(raw[:, 2:4], -10, 10)) * stride_arr
            cls_scores = raw[:, 5:] * raw[:, 4:5]
            boxes = np.concatenate([xy, wh], axis=1)
        else:
            table = raw.T  # anchors × (4 + classes)
            boxes = table[:, :4]
            cls_scores = table[:, 4:]
        class_ids = np.argmax(cls_scores, axis=1)
        scores = cls_scores[np.arange(len(cls_scores)), class_ids]
        return boxes, scores, class_ids

    def _finish(
        self, boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, lb: Letterbox, shape: tuple[int, ...]
    ) -> sv.Detections:
        keep = (scores >= self.confidence) & np.isin(class_ids, self.classes)
        boxes, scores, class_ids = boxes[keep], scores[keep], class_ids[keep]
        if len(boxes) == 0:
            return sv.Detections.empty()
        xyxy = np.empty_like(boxes)
        xyxy[:, 0] = (boxes[:, 0] - boxes[:, 2] / 2 - lb.pad_x) / lb.scale
        xyxy[:, 1] = (boxes[:, 1] - boxes[:, 3] / 2 - lb.pad_y) / lb.scale
        xyxy[:, 2] = (boxes[:, 0] + boxes[:, 2] / 2 - lb.pad_x) / lb.scale
        xyxy[:, 3] = (boxes[:, 1] + boxes[:, 3] / 2 - lb.pad_y) / lb.scale
        h, w = shape[:2]
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, w - 1)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, h - 1)
        rects = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in xyxy]
        # Car, bus and truck share one NMS group: the model often scores one vehicle as both a
        # car and a truck, and two boxes for one vehicle would become two tracks.
        groups = np.where(np.isin(class_ids, (BUS, TRUCK)), CAR, class_ids)
        picked = cv2.dnn.NMSBoxesBatched(
            rects, scores.astype(float).tolist(), groups.astype(int).tolist(), self.confidence, self.nms_iou
        )
        idx = np.asarray(picked, dtype=int).reshape(-1)
        return sv.Detections(
            xyxy=xyxy[idx].astype(np.float32),
            confidence=scores[idx].astype(np.float32),
            class_id=class_ids[idx].astype(int),
            data={"class_name": np.array([CLASS_NAMES.get(int(c), str(int(c))) for c in class_ids[idx]])},
        )


def _round_up(pixels: float) -> int:
    """``pixels`` rounded up to a multiple of the model's coarsest stride."""
    return max(math.ceil(pixels / STRIDE - 1e-6), 1) * STRIDE


def _cells(size: tuple[int, int]) -> int:
    """Grid cells (anchors) a YOLOX or YOLOv8/11 head gives for an input of ``size`` (w, h)."""
    return sum((size[0] // s) * (size[1] // s) for s in (8, 16, 32))
