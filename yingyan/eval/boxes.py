"""A detector's boxes scored against ground-truth boxes: the measures of the renderer's recall goal.

A ground-truth vehicle *counts* when its box is at least ``min_height_px`` tall, not cut by the
frame's edge and at most half hidden behind nearer vehicles — what a person checking frames by
hand would count. A counted vehicle is *found* when one detection overlaps it with IoU ≥ 0.5
(one detection finds one vehicle). A detection at least ``min_height_px`` tall is *false* when it
overlaps no ground-truth box at all (IoU < 0.3, any size, hidden or not): a detection of a far or
half-hidden vehicle is not a false alarm.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

FOUND_IOU = 0.5
FALSE_IOU = 0.3
MAX_HIDDEN = 0.5


@dataclass(frozen=True)
class TruthBox:
    """A vehicle's box in one frame; ``depth_m`` orders vehicles for occlusion (nearer hides farther)."""

    key: str  # the vehicle's identity across frames
    cls: str
    x1: float
    y1: float
    x2: float
    y2: float
    depth_m: float = 0.0
    truncated: bool = False
    counted: bool = True  # False for vehicles a measure leaves out (outside the measured stretch)

    @property
    def height(self) -> float:
        return self.y2 - self.y1


def iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """IoU of each row of ``boxes`` (N, 4) with ``box`` (4,), as x1 y1 x2 y2."""
    if len(boxes) == 0:
        return np.zeros(0)
    ix = np.clip(np.minimum(boxes[:, 2], box[2]) - np.maximum(boxes[:, 0], box[0]), 0, None)
    iy = np.clip(np.minimum(boxes[:, 3], box[3]) - np.maximum(boxes[:, 1], box[1]), 0, None)
    inter = ix * iy
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) + (box[2] - box[0]) * (box[3] - box[1])
    return np.asarray(inter / np.maximum(area - inter, 1e-9))


def hidden_fraction(box: TruthBox, nearer: list[TruthBox]) -> float:
    """How much of ``box`` the boxes of ``nearer`` vehicles cover (0–1)."""
    w, h = int(np.ceil(box.x2 - box.x1)), int(np.ceil(box.y2 - box.y1))
    if w <= 0 or h <= 0:
        return 1.0
    mask = np.zeros((h, w), bool)
    for o in nearer:
        x1, y1 = int(max(o.x1 - box.x1, 0)), int(max(o.y1 - box.y1, 0))
        x2, y2 = int(np.ceil(min(o.x2 - box.x1, w))), int(np.ceil(min(o.y2 - box.y1, h)))
        if x2 > x1 and y2 > y1:
            mask[y1:y2, x1:x2] = True
    return float(mask.mean())


@dataclass
class FrameScore:
    """One frame: the counted vehicles (found or not) and the detections tall enough to judge."""

    counted: list[TruthBox] = field(default_factory=list)
    found: list[bool] = field(default_factory=list)
    detections: int = 0
    false: int = 0


def score_frame(truth: list[TruthBox], detections: np.ndarray, min_height_px: float = 40.0) -> FrameScore:
    """Score one frame's detections (N, 4) against its ground truth."""
    out = FrameScore()
    ordered = sorted(truth, key=lambda b: b.depth_m)
    dets = np.asarray(detections, dtype=float).reshape(-1, 4)
    taken = np.zeros(len(dets), bool)
    near_first = [(b, np.array([b.x1, b.y1, b.x2, b.y2])) for b in ordered]
    for i, (b, arr) in enumerate(near_first):
        if not b.counted or b.truncated or b.height < min_height_px:
            continue
        if hidden_fraction(b, [o for o, _ in near_first[:i]]) > MAX_HIDDEN:
            continue
        overlaps = iou(dets, arr)
        overlaps[taken] = 0.0
        j = int(np.argmax(overlaps)) if len(overlaps) else -1
        hit = j >= 0 and overlaps[j] >= FOUND_IOU
        if hit:
            taken[j] = True
        out.counted.append(b)
        out.found.append(bool(hit))
    all_truth = np.array([[b.x1, b.y1, b.x2, b.y2] for b in truth]).reshape(-1, 4)
    for d in dets:
        if d[3] - d[1] < min_height_px:
            continue
        out.detections += 1
        if len(all_truth) == 0 or iou(all_truth, d).max() < FALSE_IOU:
            out.false += 1
    return out


@dataclass
class Tally:
    """Frames' scores added up: recall by group, precision, and vehicles found in enough frames."""

    counted: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    detections: int = 0
    false: int = 0
    frames_found: Counter[str] = field(default_factory=Counter)  # vehicle key -> frames it was found in
    frames_counted: Counter[str] = field(default_factory=Counter)

    def add(self, score: FrameScore, groups: list[list[str]]) -> None:
        """Add a frame; ``groups[i]`` names the groups (band, class …) counted vehicle ``i`` belongs to."""
        for b, hit, names in zip(score.counted, score.found, groups, strict=True):
            self.frames_counted[b.key] += 1
            self.frames_found[b.key] += int(hit)
            for name in ["all", *names]:
                self.counted[name] += 1
                self.found[name] += int(hit)
        self.detections += score.detections
        self.false += score.false

    def merge(self, other: Tally) -> None:
        """Add another tally's counts (of other vehicles) to this one."""
        self.counted.update(other.counted)
        self.found.update(other.found)
        self.detections += other.detections
        self.false += other.false
        self.frames_found.update(other.frames_found)
        self.frames_counted.update(other.frames_counted)

    def recall(self, group: str = "all") -> float | None:
        n = self.counted[group]
        return self.found[group] / n if n else None

    def precision(self) -> float | None:
        return 1.0 - self.false / self.detections if self.detections else None

    def found_in(self, frames: int = 3, seen_at_least: int = 3) -> tuple[int, int]:
        """Vehicles counted in at least ``seen_at_least`` frames, and how many of them were found in ``frames``."""
        seen = [k for k, n in self.frames_counted.items() if n >= seen_at_least]
        return sum(self.frames_found[k] >= frames for k in seen), len(seen)
