"""Motion detector: background subtraction that needs no weights, and keeps stopped vehicles.

Two MOG2 models run side by side (the design notes' recipe):

* a *fast* one (short history) that sees what moves now, with shadows marked and dropped;
* a *slow* one (learning rate ≈ 0.105 / (fps × ``slow_memory_s``)) that sees everything that was
  not there for the last minutes (20 by default: a car parked for a while stays visible, so that
  illegal parking, 5 min and up, can be judged), so a vehicle that stops stays foreground for that long.

Each frame is first scaled so that its median brightness matches a slowly tracked reference
(gain compensation: automatic exposure and passing clouds otherwise light up the whole frame).
Blobs of the fast mask become moving boxes; blobs of what is foreground in the slow model but
background in the fast one become boxes marked ``stationary`` in ``detections.data``.

A *ghost* is the other way round: the slow model's background is wrong there (it started from the
warm-up's median, vehicle-coloured where vehicles overlap at the far end of a view; or a vehicle
it had absorbed drove away), and the empty road shows as something that stands. A stopped
vehicle has its outline in the frame; a ghost has it in the background image and none in the
frame. A stationary blob whose outline is much weaker in the frame than in the slow background
is a ghost: it is not reported, and the slow model relearns that place from the frame.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import cv2
import numpy as np
import supervision as sv

from yingyan.calibration import CameraCalibration
from yingyan.perception.classes import CAR, MOTORCYCLE
from yingyan.traffic.footprint import FootprintLocator

LAMP_GREY = 230  # at night, a vehicle lamp is about the only thing this bright

_Lamp = tuple[float, float, float, bool]  # a lamp in the processed region: x, y, radius (px), moving


class MotionDetector:
    """``update(image) -> sv.Detections`` (class car, confidence = blob fill, ``data['stationary']``)."""

    def __init__(
        self,
        fps: float,
        fast_history_s: float = 10.0,
        slow_memory_s: float = 1200.0,
        min_area_frac: float = 0.0004,
        warmup_s: float = 8.0,
        moving_after_s: float = 2.0,
        settle_s: float = 2.0,
        night_level: float = 40.0,
        process_width: int | None = 640,
        shadow_ratio: float = 0.35,
        split: bool = False,  # off: on balance it splits single vehicles in dense traffic (bench/README.md)
        ghost_ratio: float = 0.5,
        join_lamps: bool = False,  # off until shown harmless over the incident evaluation (bench/README.md)
    ) -> None:
        self.join_lamps = join_lamps
        self.split = split
        self.fps = fps
        self.process_width = process_width
        fast_history_frames = max(round(fast_history_s * fps), 10)
        self.fast = cv2.createBackgroundSubtractorMOG2(history=fast_history_frames, varThreshold=25, detectShadows=True)
        self.slow = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=25, detectShadows=True)
        for model in (self.fast, self.slow):
            # Sunlit shadows reach half the road's brightness and below; MOG2's default (0.5)
            # takes them for vehicles, widening every box towards its shadow.
            model.setShadowThreshold(shadow_ratio)
        # In a busy lane, passing vehicles and their shadows are there a fifth of the time; with the
        # default background ratio (0.9) their dark colours join the road's model and a black car
        # vanishes into it. Only what the road shows most of the time is background.
        self.fast.setBackgroundRatio(0.7)
        self.slow_rate = 0.105 / (fps * slow_memory_s)
        self.min_area_frac = min_area_frac
        self.warmup_frames = max(round(warmup_s * fps), 5)
        self._moving_after = min(max(round(moving_after_s * fps), 3), self.warmup_frames)
        self._warmup: list[np.ndarray] = []
        self._settle_frames = max(round(settle_s * fps), 1)
        self._still_age: np.ndarray | None = None
        self._slow_every = max(round(fps), 1)
        self._slow_mask: np.ndarray | None = None
        self.night_level = night_level
        self._median = 255.0
        self._grey: np.ndarray | None = None
        self._lamp_spacing: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None
        self._locator: FootprintLocator | None = None
        self._frames = 0
        self._reference: float | None = None
        self._factor = 1.0  # frame pixels per processed pixel
        self._origin = np.zeros(2)  # where the processed region starts in the frame
        self._frame_area: float | None = None  # frame pixels (from the calibration)
        self.ghost_ratio = ghost_ratio
        self.ghosts_healed = 0  # places the slow model relearnt (a figure for health and tests)
        self._ghost_check = False  # the slow model looked at this frame: stationary blobs are checked
        self._background: np.ndarray | None = None
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def use_calibration(self, calibration: CameraCalibration) -> None:
        """Learn the camera's geometry: night lamp pairs a car's width apart, and a car's size for shadow slivers."""
        travel = np.asarray(calibration.lanes[0].travel, dtype=np.float64)
        across = np.array([-travel[1], travel[0]]) / np.linalg.norm(travel)
        self._frame_area = float(calibration.image_size[0] * calibration.image_size[1])

        def spacing(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Pixel distance, at image points (N, 2) of the processed region, of 1 m across the road."""
            road = calibration.image_to_road(points * self._factor + self._origin)
            a = calibration.road_to_image(road - 0.5 * across) / self._factor
            b = calibration.road_to_image(road + 0.5 * across) / self._factor
            metre = np.linalg.norm(a - b, axis=1)
            return 1.0 * metre, 2.2 * metre  # headlamps sit 1.0–2.2 m apart (motorcycles aside)

        self._lamp_spacing = spacing
        locator = FootprintLocator(calibration)
        self._locator = locator if locator.camera is not None else None

    def _lamps(self, grey: np.ndarray, fast_mask: np.ndarray, slow_mask: np.ndarray) -> list[_Lamp]:
        """Bright lamps that either model sees as foreground (street lights and lit windows are scenery)."""
        lamps = []
        for cx, cy, radius, (x, y, w, h) in _bright_spots(grey):
            moving = bool(fast_mask[y : y + h, x : x + w].any())
            if not moving and not slow_mask[y : y + h, x : x + w].any():
                continue  # a street light, or a lit window: part of the scene
            lamps.append((cx, cy, radius, moving))
        return lamps

    def _pairs(self, lamps: list[_Lamp]) -> tuple[list[int], np.ndarray, np.ndarray]:
        """Each lamp's partner (its mutual nearest lamp at the same height, a vehicle's width away; -1 when
        none), and the pixel length of 1.0 and 2.2 m across the road at each lamp."""
        assert self._lamp_spacing is not None
        pts = np.array([[lx, ly] for lx, ly, _, _ in lamps])
        lo, hi = self._lamp_spacing(pts)
        # Each lamp pairs with its nearest partner at the same height at a plausible spacing,
        # mutual nearest only: of two cars side by side, the inner lamps do not pair.
        best: list[int] = []
        for i, (xi, yi, ri, _) in enumerate(lamps):
            choice, gap = -1, math.inf
            for j, (xj, yj, rj, _) in enumerate(lamps):
                d = abs(xj - xi)
                if j == i or abs(yj - yi) > 2.0 + 0.15 * d or not lo[i] <= d <= hi[i]:
                    continue
                if d < gap and max(ri, rj) < 2.5 * min(ri, rj) + 1.0:
                    choice, gap = j, d
            best.append(choice)
        partner = [j if j >= 0 and best[j] == i else -1 for i, j in enumerate(best)]
        return partner, lo, hi

    def _join_lamp_pairs(self, boxes: list[tuple[int, int, int, int]], grey: np.ndarray) -> list[int]:
        """Indices of the moving boxes to keep once the two blobs of one vehicle's lamps are one box.

        At dusk and in rain a vehicle's body barely differs from the road and its two headlamps, with
        their glare, are what the motion mask holds: two blobs, two "vehicles". Two lamps that pair (at
        one height, a vehicle's width apart) in two different moving blobs make those one box. Lamps are
        looked for inside the moving boxes only (a bright pixel is rare there by day: this costs little).
        """
        if len(boxes) < 2:
            return list(range(len(boxes)))
        lamps: list[_Lamp] = []
        owner: list[int] = []
        for k, (x0, y0, x1, y1) in enumerate(boxes):
            for cx, cy, radius, _ in _bright_spots(grey[y0:y1, x0:x1]):
                lamps.append((cx + x0, cy + y0, radius, True))
                owner.append(k)
        if len(set(owner)) < 2:
            return list(range(len(boxes)))
        partner, _, _ = self._pairs(lamps)
        into = list(range(len(boxes)))  # the box each box was joined into

        def root(k: int) -> int:
            while into[k] != k:
                k = into[k]
            return k

        for i, j in enumerate(partner):
            if j <= i:
                continue
            a, b = root(owner[i]), root(owner[j])
            if a == b:
                continue
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes[a], boxes[b]
            boxes[a] = (min(ax0, bx0), min(ay0, by0), max(ax1, bx1), max(ay1, by1))
            into[b] = a
        return [k for k in range(len(boxes)) if into[k] == k]

    def _lamp_pairs(self, grey: np.ndarray, fast_mask: np.ndarray, slow_mask: np.ndarray) -> sv.Detections:
        """Night: vehicles as pairs of bright lamps at one height, a vehicle's width apart.

        At night a motion mask holds lamps, their glare and the pools of light they throw on the
        road, which move with the vehicle and break it into pieces; the lamps themselves are
        the reliable part. Lamps that neither model sees as foreground (street lights) are left out.
        """
        lamps = self._lamps(grey, fast_mask, slow_mask)
        if not lamps:
            return sv.Detections.empty()
        best, lo, hi = self._pairs(lamps)
        boxes, stationary, classes = [], [], []
        for i, j in enumerate(best):
            if j <= i:
                continue
            (xi, yi, _, mi), (xj, yj, _, mj) = lamps[i], lamps[j]
            left, right = min(xi, xj), max(xi, xj)
            sep, row = right - left, (yi + yj) / 2
            boxes.append((left - 0.2 * sep, row - 0.9 * sep, right + 0.2 * sep, row + 0.3 * sep))
            stationary.append(not (mi or mj))
            classes.append(CAR)
        # A moving lamp with no other lamp beside it is a motorcycle (or a car whose lamps merge
        # in the distance): a vehicle all the same, about a metre wide where it is.
        for i, (xi, yi, _, moving) in enumerate(lamps):
            alone = all(
                j == i or abs(yj - yi) > 2.0 + 0.15 * abs(xj - xi) or abs(xj - xi) > hi[i]
                for j, (xj, yj, _, _) in enumerate(lamps)
            )
            if moving and alone:
                metre = float(lo[i])
                boxes.append((xi - 0.5 * metre, yi - 0.6 * metre, xi + 0.5 * metre, yi + 1.0 * metre))
                stationary.append(False)
                classes.append(MOTORCYCLE)
        if not boxes:
            return sv.Detections.empty()
        return sv.Detections(
            xyxy=self._to_frame(np.asarray(boxes, dtype=np.float32)),
            confidence=np.ones(len(boxes), dtype=np.float32),
            class_id=np.asarray(classes, dtype=int),
            data={"stationary": np.asarray(stationary, dtype=bool)},
        )

    def _is_ghost(self, frame: np.ndarray, blob: np.ndarray, x: int, y: int) -> bool:
        """Whether a stationary blob (its mask at ``x, y``) is a ghost: its outline is in the slow
        background, not in the frame (module docstring)."""
        pad = 2
        h, w = blob.shape
        y0, x0 = max(y - pad, 0), max(x - pad, 0)
        y1, x1 = min(y + h + pad, frame.shape[0]), min(x + w + pad, frame.shape[1])
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        mask[y - y0 : y - y0 + h, x - x0 : x - x0 + w] = blob
        ring = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, self._open).astype(bool)
        # Only where the blob borders what the slow model takes for background is its edge an
        # outline: a part of a vehicle (the rest still moving, or not yet settled) borders more of it.
        assert self._slow_mask is not None
        outside = cv2.dilate((self._slow_mask[y0:y1, x0:x1] == 0).astype(np.uint8), self._open).astype(bool)
        ring &= outside
        if ring.sum() < 0.5 * (h + w):
            return False  # too little outline to judge
        seen = _outline(frame[y0:y1, x0:x1], ring)
        learnt = _outline(self._slow_background()[y0:y1, x0:x1], ring)
        if seen >= self.ghost_ratio * learnt:
            return False
        # The same in area: a ghost's inside looks like the road around it in the frame and differs from it
        # in the background; a vehicle blurred by rain at dusk has soft edges, but is not the road's colour.
        inside = mask.astype(bool)
        around = cv2.dilate(mask, self._close).astype(bool) & ~inside & outside
        if inside.sum() < 4 or around.sum() < 4:
            return False
        background = self._slow_background()[y0:y1, x0:x1]
        return _contrast(frame[y0:y1, x0:x1], inside, around) < self.ghost_ratio * _contrast(background, inside, around)

    def _heal(self, frame: np.ndarray, ghosts: list[tuple[int, int, np.ndarray]]) -> None:
        """Relearn the slow model at ghosts from the frame, everywhere else from its own background.

        One update at learning rate 1 sets every pixel's model to what it is given: the background
        it had (a vehicle that stands still stays foreground: its colours were never background)
        and, at the ghosts, the road the frame shows now.
        """
        composite = self._slow_background().copy()
        for x, y, blob in ghosts:
            h, w = blob.shape
            region = cv2.dilate(blob.astype(np.uint8), self._close).astype(bool)
            composite[y : y + h, x : x + w][region] = frame[y : y + h, x : x + w][region]
            if self._slow_mask is not None:
                self._slow_mask[y : y + h, x : x + w][region] = 0
            if self._still_age is not None:
                self._still_age[y : y + h, x : x + w][region] = 0
        self.slow.apply(composite, learningRate=1.0)
        self._background = None
        self.ghosts_healed += len(ghosts)

    def _slow_background(self) -> np.ndarray:
        """The slow model's background image (computed once per look of the slow model)."""
        if self._background is None:
            self._background = np.asarray(self.slow.getBackgroundImage())
        return self._background

    def _not_shadows(self, xyxy: np.ndarray) -> np.ndarray:
        """Mask of the boxes to keep: a sliver beside a vehicle's box is its shadow's dark core."""
        keep = np.ones(len(xyxy), dtype=bool)
        if self._locator is None or len(xyxy) < 2:
            return keep
        widths = xyxy[:, 2] - xyxy[:, 0]
        heights = np.maximum(xyxy[:, 3] - xyxy[:, 1], 1.0)
        overlap = np.minimum(xyxy[:, None, 3], xyxy[None, :, 3]) - np.maximum(xyxy[:, None, 1], xyxy[None, :, 1])
        gap = np.maximum(xyxy[None, :, 0] - xyxy[:, None, 2], xyxy[:, None, 0] - xyxy[None, :, 2])
        # beside[i, j]: box j, more than twice as wide, stands beside box i over most of its rows.
        beside = (overlap > 0.5 * heights[:, None]) & (widths[None, :] > 2 * widths[:, None])
        beside &= gap < 0.5 * widths[None, :]
        suspects = np.nonzero(beside.any(axis=1))[0]
        if len(suspects) == 0:
            return keep
        # A suspect is a shadow when it is also much narrower than a car at its place.
        cars = np.full(len(suspects), CAR)
        centres = self._locator.locate(xyxy[suspects].astype(np.float64), cars)
        car_box = self._locator.predicted_boxes(centres, cars)
        car_w = car_box[:, 2] - car_box[:, 0]
        for k, i in enumerate(suspects):
            keep[i] = not (widths[i] < 0.5 * car_w[k] and (beside[i] & (gap[i] < 0.5 * car_w[k])).any())
        return keep

    @property
    def stationary_after_s(self) -> float:
        """How long a vehicle has stood, at least, when it is first reported ``stationary``.

        It is stationary once the fast model has taken it into its background (its weight past
        ``1 - background ratio``: ln(ratio) / ln(1 - 1/history) frames, about a third of the
        history) and it has stayed still for ``settle_s``; the slow model looks once a second.
        """
        absorb = math.log(self.fast.getBackgroundRatio()) / math.log(1.0 - 1.0 / self.fast.getHistory())
        return absorb / self.fps + self._settle_frames / self.fps + 0.5 * self._slow_every / self.fps

    @property
    def ready(self) -> bool:
        """Whether detections have started: moving vehicles after ``moving_after_s``, stopped ones after the warm-up."""
        return self._frames > self._moving_after

    def _compensate(self, image: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        median = _median(grey[::4, ::4]) + 1e-3
        self._median = median
        self._grey = grey
        if self._reference is None:
            self._reference = median
        gain = self._reference / median
        # The reference follows the scene as slowly as the slow model learns: fast changes
        # (exposure, clouds) are undone here, slow ones (dusk) are learnt by the background.
        rate = 1.0 / (self._frames + 1) if self._frames < self.warmup_frames else self.slow_rate
        self._reference = (1.0 - rate) * self._reference + rate * median
        if abs(gain - 1.0) < 0.01:
            return image
        return cv2.convertScaleAbs(image, alpha=gain)

    def _clean(self, mask: np.ndarray) -> np.ndarray:
        opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        return np.asarray(cv2.morphologyEx(opened, cv2.MORPH_CLOSE, self._close))

    def scale_for(self, shape: tuple[int, ...]) -> float:
        """Processed pixels per frame pixel for frames of ``shape`` (h, w, ...): ``process_width`` across."""
        if self.process_width is None or shape[1] <= self.process_width:
            return 1.0
        return self.process_width / shape[1]

    def _to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        """Boxes of the processed region in frame pixels."""
        return np.asarray(xyxy * self._factor + np.tile(self._origin, 2), dtype=np.float32)

    def update(self, image: np.ndarray) -> sv.Detections:
        """Moving and recently stopped objects in ``image`` (BGR)."""
        return self.detect(image, self.scale_for(image.shape))

    def detect(self, image: np.ndarray, scale: float, origin: tuple[int, int] = (0, 0)) -> sv.Detections:
        """Moving and recently stopped objects in ``image``, a region of the frame starting at ``origin``.

        The region is processed at ``scale`` (background models at reduced size: a quarter of the
        pixels costs a quarter of the time); boxes come back in frame pixels. The background
        models learn this region: call it with the same region, at the same scale, every frame.
        """
        self._factor, self._origin = 1.0 / scale, np.asarray(origin, dtype=np.float64)
        if scale < 1.0:
            size = (max(round(image.shape[1] * scale), 1), max(round(image.shape[0] * scale), 1))
            image = shrink(image, size)
        frame = self._compensate(image)
        k = self._frames
        self._frames += 1
        if k < self.warmup_frames:
            # Warming up: the fast model learns as it goes (and finds moving vehicles after a
            # couple of seconds, so that a camera starts counting at once); the slow one starts
            # from the median of the warm-up frames, the empty road. Started from a plain average,
            # every vehicle that passed during the warm-up would leave a ghost for minutes.
            fast_fg = self.fast.apply(frame, learningRate=-1)  # (1/(k+1) would keep vehicles out of it)
            self._warmup.append(frame)
            if k == self.warmup_frames - 1:
                background = np.median(np.stack(self._warmup), axis=0).astype(np.uint8)
                self._warmup.clear()
                for _ in range(3):
                    self.slow.apply(background, learningRate=1.0)
            if k < self._moving_after:
                return sv.Detections.empty()
            self._slow_mask = np.zeros(fast_fg.shape, np.uint8)  # nothing known to have stopped yet
        else:
            fast_fg = self.fast.apply(frame, learningRate=-1)
        fast_mask = (fast_fg > 200).astype(np.uint8)  # 127 marks shadows
        if k >= self.warmup_frames and (self._slow_mask is None or k % self._slow_every == 0):
            # The slow model only needs to look about once a second: what it finds has stood still.
            slow_fg = self.slow.apply(frame, learningRate=min(self.slow_rate * self._slow_every, 1.0))
            self._slow_mask = (slow_fg > 200).astype(np.uint8)
            self._ghost_check = True
            self._background = None
        else:
            self._ghost_check = False
        slow_mask = self._slow_mask
        assert slow_mask is not None
        # Moving things from the fast model; what only the slow model still sees has stopped.
        # Blobs of the two are found apart, so a parked car does not merge with the traffic
        # squeezing past it.
        moving = self._clean(fast_mask)
        recent = np.asarray(cv2.dilate(fast_mask, self._close), dtype=np.uint8)
        # A stopped vehicle stays where it is: only what has stayed still for ``settle_s`` counts
        # as stopped (a distant vehicle creeping up the image, half absorbed by the fast model,
        # does not).
        candidate = np.asarray(cv2.bitwise_and(slow_mask, 1 - recent), dtype=np.uint8)
        if self._still_age is None:
            self._still_age = np.zeros(candidate.shape, np.uint16)
        # Frames each pixel has been still (saturating add, then zero where it is not).
        older = cv2.add(self._still_age, np.ones_like(self._still_age))
        self._still_age = np.asarray(cv2.multiply(older, candidate.astype(np.uint16)), dtype=np.uint16)
        settled = (self._still_age >= self._settle_frames).astype(np.uint8)
        stopped = self._clean(settled) if cv2.countNonZero(settled) else settled
        if self._median < self.night_level and self._lamp_spacing is not None and self._grey is not None:
            return self._lamp_pairs(self._grey, fast_mask, slow_mask)
        # The smallest blob is a fraction of the whole frame (as processed), whatever region is looked at.
        frame_area = self._frame_area * scale * scale if self._frame_area else fast_mask.size
        min_area = self.min_area_frac * frame_area
        boxes: list[tuple[int, int, int, int]] = []
        fill: list[float] = []
        stationary: list[bool] = []
        for mask, is_stationary in ((moving, False), (stopped, True)):
            if not cv2.countNonZero(mask):
                continue
            count, labels, stats = _components(mask)
            ghosts: list[tuple[int, int, np.ndarray]] = []
            for i in range(1, count):
                x, y, w, h, area = (int(v) for v in stats[i])
                if area < min_area or w < 3 or h < 3:
                    continue
                blob = labels[y : y + h, x : x + w] == i
                if is_stationary and self._ghost_check and self._is_ghost(frame, blob, x, y):
                    ghosts.append((x, y, blob))
                    continue
                for y0, y1 in split_rows(blob) if self.split else [(0, h)]:
                    part = blob[y0:y1]
                    cols = np.nonzero(part.any(axis=0))[0]
                    if len(cols) == 0 or part.sum() < min_area / 2:
                        continue
                    boxes.append((x + int(cols[0]), y + y0, x + int(cols[-1]) + 1, y + y1))
                    fill.append(float(part.mean()))
                    stationary.append(is_stationary)
            if ghosts:
                self._heal(frame, ghosts)
        if not boxes:
            return sv.Detections.empty()
        if self.join_lamps and self._lamp_spacing is not None and self._grey is not None:
            movers = [b for b, flag in zip(boxes, stationary, strict=True) if not flag]
            joined = self._join_lamp_pairs(movers, self._grey)
            if len(joined) < len(movers):
                standing = [b for b, flag in zip(boxes, stationary, strict=True) if flag]
                boxes = [movers[k] for k in joined] + standing
                stationary = [False] * len(joined) + [True] * len(standing)
        xyxy = self._to_frame(np.asarray(boxes, dtype=np.float32))
        keep = self._not_shadows(xyxy)
        xyxy, stationary = xyxy[keep], [flag for flag, k in zip(stationary, keep, strict=True) if k]
        if len(xyxy) == 0:
            return sv.Detections.empty()
        return sv.Detections(
            xyxy=xyxy,
            confidence=np.ones(len(xyxy), dtype=np.float32),  # a blob is a detection; fill says little
            class_id=np.full(len(xyxy), CAR, dtype=int),
            data={"stationary": np.asarray(stationary, dtype=bool)},
        )


def _bright_spots(grey: np.ndarray) -> list[tuple[float, float, float, tuple[int, int, int, int]]]:
    """Spots brighter than a lamp's grey (2 px or more): centre x, y, radius and bounding box (x, y, w, h)."""
    bright = (grey > LAMP_GREY).astype(np.uint8)
    if not cv2.countNonZero(bright):
        return []
    count, _, stats, centres = cv2.connectedComponentsWithStats(bright, connectivity=8)
    return [
        (float(centres[i][0]), float(centres[i][1]), math.sqrt(stats[i][4] / math.pi),
         (int(stats[i][0]), int(stats[i][1]), int(stats[i][2]), int(stats[i][3])))
        for i in range(1, count)
        if stats[i][4] >= 2
    ]  # fmt: skip


def _outline(image: np.ndarray, ring: np.ndarray) -> float:
    """Mean colour gradient of a BGR image over the pixels of ``ring`` (a red car on grey asphalt
    of the same brightness has an outline in colour only)."""
    gx = np.abs(cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)).sum(axis=2)
    gy = np.abs(cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)).sum(axis=2)
    return float(gx[ring].mean() + gy[ring].mean())


def _contrast(image: np.ndarray, inside: np.ndarray, around: np.ndarray) -> float:
    """How far (BGR distance) an image's mean colour inside a blob is from its mean just around it."""
    return float(np.linalg.norm(image[inside].mean(axis=0) - image[around].mean(axis=0)))


def shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` scaled down to ``size`` (w, h) without aliasing, cheaply.

    OpenCV's area averaging is fast only for whole-number factors (0.16 ms for a 766x668
    region halved, 2.2 ms for the same at 0.375): halve by area averaging (an odd last row
    or column dropped) while the image is twice the size or more, then interpolate the rest.
    """
    h, w = image.shape[:2]
    tw, th = size
    if w % tw == 0 and h % th == 0:
        return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    while w >= 2 * tw and h >= 2 * th:
        w, h = w // 2, h // 2
        image = np.asarray(cv2.resize(image[: 2 * h, : 2 * w], (w, h), interpolation=cv2.INTER_AREA))
    if (w, h) != (tw, th):
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_LINEAR))
    return image


def _median(grey: np.ndarray) -> float:
    """(Lower) median grey level of a uint8 image, from its histogram: several times faster than sorting."""
    cumulative = np.cumsum(np.bincount(grey.ravel(), minlength=256))
    return float(np.searchsorted(cumulative, (cumulative[-1] + 1) // 2))


def _components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Connected components of a 0/1 mask: count, labels and stats (16-bit labels: 2.5× faster)."""
    ltype = cv2.CV_16U if cv2.countNonZero(mask) < 65000 else cv2.CV_32S
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, ltype, cv2.CCL_SPAGHETTI)
    return int(count), labels, stats


def split_rows(blob: np.ndarray, valley: float = 0.35, min_rows: int = 6) -> list[tuple[int, int]]:
    """Row ranges of the vehicles in a blob of vehicles that follow each other up the image.

    Cars queued in one lane touch in the image and form one tall blob; between two of them the
    blob narrows (the gap, the windscreen of the one behind). Rows whose width falls below
    ``valley`` of the blob's typical width, with at least ``min_rows`` rows on either side, cut it.
    """
    width = blob.sum(axis=1).astype(np.float64)
    h = len(width)
    if h < 2 * min_rows:
        return [(0, h)]
    smooth = np.convolve(width, np.ones(3) / 3, mode="same")
    typical = float(np.median(smooth[smooth > 0])) if np.any(smooth > 0) else 0.0
    cuts = [0]
    r = min_rows
    while r < h - min_rows:
        if smooth[r] < valley * typical and smooth[r] == smooth[max(r - 2, 0) : r + 3].min():
            if r - cuts[-1] >= min_rows:
                cuts.append(r)
                r += min_rows
                continue
        r += 1
    cuts.append(h)
    return list(itertools.pairwise(cuts))
