"""Matching alerts to ground truth: detection, false alarms, time to detect, onset, cause and S4."""

from __future__ import annotations

import math

import pytest

from yingyan.eval import Alert, TruthIncident, score_alerts, truth_from_manifest
from yingyan.eval.matching import outcomes

STALL = TruthIncident(
    "I1",
    "stall",
    1760.0,
    start_s=152.0,
    trigger_s=150.0,
    end_s=750.0,
    camera_ids=("K3", "K2"),
    seen_by=("K3",),
    segment="K3",
)


def test_the_first_alert_at_the_place_detects_and_later_ones_are_neither_detections_nor_false() -> None:
    alerts = [
        Alert("K3", "stopped_vehicle", 1755.0, start_s=156.0, alert_s=166.0),
        Alert("K3", "stopped_vehicle", 1757.0, start_s=300.0, alert_s=310.0),  # the same stall, again
        Alert("K2", "congestion", 1450.0, start_s=260.0, alert_s=290.0),  # its queue, upstream
        Alert("K1", "stopped_vehicle", 1100.0, start_s=400.0, alert_s=410.0),  # nothing there
    ]
    scores = score_alerts(alerts, [STALL], camera_hours=1.0, duration_s=900.0)
    assert (scores.incidents, scores.detected, scores.alerts, scores.false_alarms) == (1, 1, 4, 1)
    assert scores.detection_rate == 1.0 and scores.false_alarms_per_camera_hour == 1.0
    assert scores.ttd_median_s == 14.0 and scores.onset_rmse_s == 4.0 and scores.cause_accuracy == 1.0
    assert scores.s4 == pytest.approx((2 * 0.75 * 1.0 / 1.75) * (1 - 4.0 / 300.0))


def test_an_alert_before_the_incident_or_far_from_it_does_not_detect_it() -> None:
    alerts = [
        Alert("K3", "stopped_vehicle", 1755.0, start_s=100.0, alert_s=110.0),  # 40 s too early
        Alert("K3", "stopped_vehicle", 1600.0, start_s=160.0, alert_s=170.0),  # 160 m away
    ]
    scores = score_alerts(alerts, [STALL], camera_hours=0.25, duration_s=900.0)
    assert scores.detected == 0 and scores.false_alarms == 2 and scores.false_alarms_per_camera_hour == 8.0
    assert math.isnan(scores.ttd_median_s) and scores.s4 == 0.0


def test_the_wrong_cause_is_counted_and_a_quiet_run_scores_perfectly() -> None:
    crash = TruthIncident(
        "I1", "crash", 959.7, start_s=183.2, trigger_s=180.6, end_s=None, camera_ids=("K2",), seen_by=("K2",)
    )
    scores = score_alerts([Alert("K2", "stopped_vehicle", 960.0, 183.0, 193.0)], [crash], 0.25, duration_s=300.0)
    assert scores.detected == 1 and scores.cause_accuracy == 0.0
    quiet = score_alerts([], [], camera_hours=0.5, duration_s=600.0)
    assert quiet.false_alarms == 0 and quiet.s4 == 1.0 and math.isnan(quiet.detection_rate)
    both = scores + quiet
    assert both.incidents == 1 and both.camera_hours == 0.75


def test_truth_from_a_manifest_keeps_what_happened() -> None:
    manifest = {
        "incidents": [
            {"id": "I1", "type": "crash", "position_m": 959.67, "start_s": 183.2, "trigger_s": 180.6, "end_s": None,
             "camera_ids": ["K2"], "congestion": {"K1": {"start_s": 400.0, "end_s": None}}},
            {"id": "I2", "type": "crash", "position_m": 1500.0, "start_s": None, "trigger_s": None, "end_s": None},
        ]
    }  # fmt: skip
    (truth,) = truth_from_manifest(manifest)
    assert truth.trigger_s == 180.6 and truth.end_s is None and truth.camera_ids == ("K2", "K1")
    assert truth.seen_by == ("K2",) and truth.segment == "K2" and truth.cause == "crash"


def test_a_stall_no_camera_sees_is_found_by_its_link_and_named_a_blockage() -> None:
    """The source segment counts; the position is measured but a rough one still matches by its link."""
    manifest = {
        "cameras": [
            {"id": "K3", "position_m": 1700.0, "watch": "forward", "downstream": [{"camera_id": "K4"}]},
            {"id": "K4", "position_m": 2150.0, "watch": "forward", "downstream": []},
        ],
        "incidents": [
            {"id": "I1", "type": "stall", "direction": "forward", "position_m": 1850.0, "start_s": 152.0,
             "trigger_s": 150.0, "end_s": 750.0, "camera_ids": [], "congestion": {"K3": {"start_s": 300.0}}},
        ],
    }  # fmt: skip
    (truth,) = truth_from_manifest(manifest)
    assert truth.segment == "K3>K4" and truth.cause == "blockage" and truth.camera_ids == ("K3",)
    right = Alert("K3", "blockage", 1960.0, start_s=170.0, alert_s=330.0, segment="K3>K4")  # 110 m off
    scores = score_alerts([right], [truth], camera_hours=0.5, duration_s=900.0)
    assert scores.detected == 1 and scores.source_top1 == 1.0 and scores.cause_accuracy == 1.0
    assert scores.source_position_error_m == pytest.approx(110.0)
    wrong = Alert("K3", "blockage", 1780.0, start_s=170.0, alert_s=330.0, segment="K3")  # "in K3's view"
    scores = score_alerts([wrong], [truth], camera_hours=0.5, duration_s=900.0)
    assert scores.detected == 1 and scores.source_top1 == 0.0


def test_each_incident_says_what_became_of_it_by_kind() -> None:
    hidden = TruthIncident("I2", "crash", 2500.0, start_s=400.0, trigger_s=398.0, end_s=None, camera_ids=("K4",))
    alerts = [
        Alert("K3", "crash", 1758.0, start_s=150.0, alert_s=170.0, segment="K3"),  # the stall, named a crash
        Alert("K1", "stopped_vehicle", 1100.0, start_s=400.0, alert_s=410.0),  # false
    ]
    # A stall beyond a view on a wide road: no camera sees it, and it makes no queue that reaches one.
    quiet = TruthIncident("I3", "stall", 3000.0, start_s=500.0, trigger_s=499.0, end_s=None, camera_ids=())
    found = outcomes(alerts, [STALL, hidden, quiet], duration_s=900.0)
    assert [o.kind for o in found] == ["stall in view", "crash unseen", "stall out of sight"]
    stall, crash, _ = found
    assert stall.detected and stall.ttd_s == 18.0 and stall.onset_error_s == -2.0
    assert not stall.cause_right and stall.source_right
    assert not crash.detected and crash.ttd_s is None
