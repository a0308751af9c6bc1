"""Detections scored against ground-truth boxes: what counts, what is found, what is false."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from yingyan.eval.boxes import Tally, TruthBox, hidden_fraction, iou, score_frame


def car(key: str, x1: float, y1: float, x2: float, y2: float, depth: float = 10.0, **kw: object) -> TruthBox:
    return TruthBox(key, "car", x1, y1, x2, y2, depth, **kw)  # type: ignore[arg-type]


def test_a_tight_detection_finds_the_vehicle_and_a_loose_one_does_not() -> None:
    truth = [car("a", 100, 100, 200, 160)]
    assert score_frame(truth, np.array([[102, 101, 198, 161]])).found == [True]
    assert score_frame(truth, np.array([[150, 130, 260, 200]])).found == [False]


def test_small_cut_off_hidden_and_uncounted_vehicles_are_left_out() -> None:
    truth = [
        car("small", 0, 0, 50, 30),  # 30 px tall
        car("cut", 0, 100, 80, 160, truncated=True),
        car("near", 300, 100, 420, 200, depth=5.0),
        car("behind", 310, 110, 410, 190, depth=20.0),  # wholly behind "near"
        car("outside", 500, 100, 600, 160, counted=False),
    ]
    score = score_frame(truth, np.zeros((0, 4)))
    assert [b.key for b in score.counted] == ["near"]


def test_detections_of_far_or_hidden_vehicles_are_not_false_but_of_empty_road_are() -> None:
    truth = [car("far", 100, 100, 130, 120)]  # too small to count, still a vehicle
    score = score_frame(truth, np.array([[95, 80, 135, 125], [400, 300, 480, 360]]))
    assert (score.detections, score.false) == (2, 1)


def test_tally_gives_recall_by_group_and_vehicles_found_in_three_frames() -> None:
    tally = Tally()
    for k in range(4):
        score = score_frame(
            [car("a", 100, 100, 200, 160)], np.array([[100, 100, 200, 160]]) if k != 1 else np.zeros((0, 4))
        )
        tally.add(score, [["px 40-80"]])
    assert tally.recall() == 0.75 and tally.recall("px 40-80") == 0.75 and tally.recall("bus") is None
    assert tally.found_in(3) == (1, 1)
    other = Tally()
    other.merge(tally)
    assert other.counted == tally.counted and other.found_in(4) == (0, 1)


boxes = st.tuples(st.floats(0, 500), st.floats(0, 500), st.floats(1, 200), st.floats(1, 200)).map(
    lambda t: np.array([t[0], t[1], t[0] + t[2], t[1] + t[3]])
)


@given(boxes, boxes)
def test_iou_is_symmetric_and_bounded(a: np.ndarray, b: np.ndarray) -> None:
    ab, ba = iou(a[None], b)[0], iou(b[None], a)[0]
    assert abs(ab - ba) < 1e-9 and 0.0 <= ab <= 1.0 + 1e-9
    assert abs(iou(a[None], a)[0] - 1.0) < 1e-9


@given(boxes)
def test_a_box_hides_itself_wholly(a: np.ndarray) -> None:
    box = car("a", *a)
    assert hidden_fraction(box, [box]) == 1.0 and hidden_fraction(box, []) == 0.0
