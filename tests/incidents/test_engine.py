"""The incident engine on hand-built checkpoint graphs: one incident per cause, congestion joined to
what explains it, the source named where congestion ends downstream, recurrent peaks kept quiet."""

from __future__ import annotations

from datetime import datetime

import pytest

from yingyan.incidents import Event, EventType
from yingyan.incidents.baseline import Baseline, BaselineBin, DayType
from yingyan.incidents.engine import Incident, IncidentEngine, LaneInterval
from yingyan.incidents.network import Checkpoint, Link, Network
from yingyan.incidents.rules import IncidentRules

MONDAY_1730 = datetime(2026, 11, 23, 17, 30)


def _corridor() -> Network:
    """K1 → K2 → K3, 500 m apart on a forward road; each camera measures the 80 m past its position."""
    cams = [Checkpoint(f"K{i + 1}", 500.0 * i, 1, (500.0 * i, 500.0 * i + 80.0), True, "forward") for i in range(3)]
    return Network(cams, [Link("K1", "K2", 500.0), Link("K2", "K3", 500.0)])


def _event(kind: EventType, camera: str, x: float, start: float, alert: float, end: float | None = None,
           speed: float = 8.0, lane: str = "L1") -> Event:  # fmt: skip
    return Event(
        id=f"{camera}-{kind.value}-{lane}-{int(start * 10)}", type=kind, camera_id=camera, lane_id=f"{camera}-{lane}",
        start_s=start, alert_s=alert, position=(x, -1.75), end_s=end,
        details={"speed_kmh": speed, "queue_m": 60.0} if kind is EventType.CONGESTION else {},
    )  # fmt: skip


def _flows(camera: str, flows: list[float], lanes: int = 2) -> list[LaneInterval]:
    """One-minute lane states of a camera: the carriageway's flow split over its lanes, free speed."""
    return [
        LaneInterval(camera, f"{camera}-L{n + 1}", "forward", 60.0 * k, 60.0, q / lanes, 50.0, q / lanes / 50.0, 0)
        for k, q in enumerate(flows)
        for n in range(lanes)
    ]


def _alerted(incidents: list[Incident]) -> list[Incident]:
    return [i for i in incidents if i.alert_s is not None]


def test_a_stopped_vehicle_alerts_at_once_and_the_congestion_it_causes_joins_it() -> None:
    engine = IncidentEngine(_corridor())
    out = engine.update(40.0, [_event(EventType.STOPPED_VEHICLE, "K2", 560.0, 28.0, 38.0)])
    assert len(out) == 1 and out[0].alert_s == 38.0 and out[0].cause == "stopped_vehicle"
    assert out[0].source_segment == "K2" and out[0].source_position_m == 560.0 and out[0].start_s == 28.0
    # The queue behind it: congestion at K2, then spreading back to K1. Still one incident.
    engine.update(200.0, [_event(EventType.CONGESTION, "K2", 555.0, 150.0, 190.0)])
    engine.update(400.0, [_event(EventType.CONGESTION, "K1", 75.0, 330.0, 380.0)])
    assert len(engine.incidents) == 1
    incident = engine.incidents[0]
    assert incident.camera_ids == ("K2", "K1") and incident.alert_s == 38.0
    assert any("congestion at K1" in what for _, what in incident.timeline)


def test_the_same_vehicle_seen_again_joins_its_incident_and_a_second_one_elsewhere_does_not() -> None:
    engine = IncidentEngine(_corridor())
    engine.update(40.0, [_event(EventType.STOPPED_VEHICLE, "K2", 560.0, 28.0, 38.0)])
    # Its track was lost and the vehicle raised a new event a metre away: the same incident.
    engine.update(90.0, [_event(EventType.STOPPED_VEHICLE, "K2", 561.0, 80.0, 90.0, lane="L1b")])
    assert len(engine.incidents) == 1
    engine.update(95.0, [_event(EventType.STOPPED_VEHICLE, "K3", 1040.0, 85.0, 95.0)])
    assert len(_alerted(engine.incidents)) == 2


def test_a_crash_reported_where_a_stopped_vehicle_stands_makes_its_incident_a_crash() -> None:
    """crash-junction: one car of the pair was a stopped vehicle 10 s before its partner made it a crash."""
    engine = IncidentEngine(_corridor())
    engine.update(40.0, [_event(EventType.STOPPED_VEHICLE, "K2", 560.0, 27.0, 37.0)])
    out = engine.update(47.0, [_event(EventType.CRASH, "K2", 563.0, 28.0, 47.0, lane="L2")])
    assert len(engine.incidents) == 1 and len(out) == 1
    incident = out[0]
    assert incident.cause == "crash" and incident.type == "crash"
    assert incident.alert_s == 37.0 and incident.start_s == 27.0  # alerted when first seen, from its first onset
    assert any("stopped_vehicle is a crash" in what for _, what in incident.timeline)
    # A vehicle standing there later is the same crash, not a new incident.
    engine.update(90.0, [_event(EventType.STOPPED_VEHICLE, "K2", 561.0, 80.0, 90.0, lane="L3")])
    assert len(engine.incidents) == 1 and engine.incidents[0].cause == "crash"


def test_unexplained_congestion_names_the_link_beyond_the_last_congested_checkpoint() -> None:
    """A stall between K2 and K3 that no camera sees: K2 congests, K3 keeps flowing, K1 congests later."""
    engine = IncidentEngine(_corridor())
    # K3 carried 2,400 veh/h until the blockage cut it to 1,200 from t = 150 s (the minute 120-180 half cut).
    engine.update(300.0, states=_flows("K3", [2400, 2400, 2400, 1800, 1200]))
    engine.update(300.0, states=_flows("K2", [2400, 2400, 2400, 2400, 2400]))
    # The queue's head is beyond K2's view (at its far edge, 580 m): the cause lies further on.
    out = engine.update(330.0, [_event(EventType.CONGESTION, "K2", 579.0, 300.0, 330.0)])
    assert len(out) == 1
    incident = out[0]
    assert incident.cause == "blockage" and incident.abnormal and incident.alert_s == 330.0
    assert incident.source_camera_id == "K2" and incident.source_segment == "K2>K3"
    assert incident.source_position_m is not None and 580.0 < incident.source_position_m < 1000.0
    assert incident.start_s < 300.0  # the onset precedes the queue's arrival at K2
    engine.update(600.0, [_event(EventType.CONGESTION, "K1", 79.0, 560.0, 590.0)])
    assert len(engine.incidents) == 1 and engine.incidents[0].camera_ids == ("K2", "K1")


def test_a_queue_that_arrives_too_late_for_a_cause_on_the_link_puts_it_in_the_next_view() -> None:
    """dusk-rain-stall seed 2: K3's flow was cut at 150 s, K2's queue came only at 500 s; at any plausible
    wave speed the cause lies past the link's end, in K3's view, whose detectors missed it in the rain."""
    engine = IncidentEngine(_corridor())
    # K3 carried 2,400 veh/h until the blockage cut it to 1,200 at 210 s (the minute 180-240 half cut).
    engine.update(720.0, states=_flows("K3", [2400, 2400, 2400, 1800] + [1200] * 8))
    engine.update(720.0, states=_flows("K2", [2400] * 12))
    (incident,) = engine.update(630.0, [_event(EventType.CONGESTION, "K2", 579.0, 600.0, 630.0)])
    assert incident.cause == "blockage" and incident.alert_s == 630.0
    assert incident.source_segment == "K3" and incident.source_camera_id == "K3"
    assert incident.source_position_m is not None and abs(incident.source_position_m - 1000.0) <= 1.0
    assert abs(incident.start_s - 210.0) <= 1.0  # when K3's flow was cut, not dated back from K2 by the wave
    assert any("in K3's view" in what for _, what in incident.timeline)
    # K3's own congestion, reported later, is this incident's.
    engine.update(660.0, [_event(EventType.CONGESTION, "K3", 1010.0, 640.0, 660.0)])
    assert len(engine.incidents) == 1 and set(engine.incidents[0].camera_ids) == {"K2", "K3"}


def test_when_the_checkpoint_past_an_unseen_link_congests_too_the_source_moves_on_to_it() -> None:
    """lane-closure: K2's queue was reported a moment before K3's (the closure is in K3's view):
    one incident, its source at K3, not a second one."""
    engine = IncidentEngine(_corridor())
    engine.update(300.0, states=_flows("K3", [2400] * 5) + _flows("K2", [2400] * 5))
    first = engine.update(330.0, [_event(EventType.CONGESTION, "K2", 579.0, 300.0, 330.0)])
    assert first[0].source_segment == "K2>K3" and first[0].alert_s == 330.0
    engine.update(331.0, [_event(EventType.CONGESTION, "K3", 1040.0, 301.0, 331.0)])  # head well inside K3's view
    assert len(engine.incidents) == 1
    (incident,) = engine.incidents
    assert incident.source_segment == "K3" and incident.source_position_m == 1040.0 and incident.cause == "blockage"
    assert incident.alert_s == 330.0 and set(incident.camera_ids) == {"K2", "K3"}
    assert any("source moved on to K3" in what for _, what in incident.timeline)


def test_a_vehicle_standing_in_a_stop_and_go_queue_upstream_joins_the_incident_ahead() -> None:
    """A stopped vehicle at K1, in the queue of a stall at K2, after K1's congestion report ended for a while."""
    engine = IncidentEngine(_corridor())
    engine.update(40.0, [_event(EventType.STOPPED_VEHICLE, "K2", 560.0, 28.0, 38.0)])
    engine.update(300.0, [_event(EventType.CONGESTION, "K1", 75.0, 250.0, 280.0)])
    engine.update(400.0, [_event(EventType.CONGESTION, "K1", 75.0, 250.0, 280.0, end=390.0)])
    engine.update(420.0, [_event(EventType.STOPPED_VEHICLE, "K1", 60.0, 405.0, 415.0)])
    assert len(engine.incidents) == 1 and len(engine.incidents[0].event_ids) == 3


def test_the_position_on_an_unseen_link_follows_the_backward_wave() -> None:
    """The farther the blockage from K2, the later its queue arrives after K3's flow drops."""

    def place(arrival_s: float) -> float:
        engine = IncidentEngine(_corridor())
        engine.update(600.0, states=_flows("K3", [2400, 2400, 2400, 1800, 1200, 1200, 1200, 1200, 1200, 1200]))
        engine.update(600.0, states=_flows("K2", [2400] * 10))
        (incident,) = engine.update(
            arrival_s + 30.0, [_event(EventType.CONGESTION, "K2", 579.0, arrival_s, arrival_s + 30.0)]
        )
        assert incident.source_position_m is not None
        return incident.source_position_m

    assert place(200.0) < place(300.0) < place(400.0)


def test_a_cause_seen_inside_unexplained_congestion_becomes_its_cause() -> None:
    engine = IncidentEngine(_corridor())
    engine.update(330.0, [_event(EventType.CONGESTION, "K2", 579.0, 300.0, 330.0)])
    engine.update(340.0, [_event(EventType.STOPPED_VEHICLE, "K3", 1010.0, 320.0, 340.0)])
    # K3 sees a stopped vehicle just past the link: not this link's cause (it lies downstream of K2>K3's end).
    engine.update(350.0, [_event(EventType.CRASH, "K2", 575.0, 310.0, 350.0)])
    by_cause = {i.cause: i for i in engine.incidents}
    assert set(by_cause) == {"crash", "stopped_vehicle"}
    crash = by_cause["crash"]
    assert crash.source_segment == "K2" and crash.alert_s == 330.0 and crash.start_s == 310.0
    assert crash.source_position_m == 575.0
    # A cause first seen long after the alert (the vehicle was not seen standing until then) does not
    # move the incident's start after its own alert.
    late = IncidentEngine(_corridor())
    late.update(330.0, [_event(EventType.CONGESTION, "K2", 560.0, 300.0, 330.0)])
    late.update(700.0, [_event(EventType.STOPPED_VEHICLE, "K2", 570.0, 690.0, 700.0)])
    (incident,) = late.incidents
    assert incident.cause == "stopped_vehicle" and incident.start_s <= incident.alert_s == 330.0


def test_recurrent_congestion_at_its_usual_hour_is_recorded_and_not_alerted() -> None:
    """The baseline says K2 crawls at 12 km/h every workday at 17:30: congestion at 10 km/h is usual."""
    bins = [
        BaselineBin(camera_id="K2", lane_id="K2-L1", day_type=DayType.WORKDAY, bin_start_min=17 * 60 + 30 + 5 * k,
                    speed_kmh=12.0, speed_spread_kmh=3.0, occupancy_pct=40.0, flow_vph=1500.0, samples=12)
        for k in range(-3, 6)
    ]  # fmt: skip
    engine = IncidentEngine(_corridor(), baseline=Baseline(bin_min=5, bins=bins), clock_start=MONDAY_1730)
    engine.update(330.0, [_event(EventType.CONGESTION, "K2", 579.0, 300.0, 330.0, speed=10.0)])
    # In the stop-and-go of the peak a car stands long enough at K2 to look stopped: one of the queue.
    engine.update(400.0, [_event(EventType.STOPPED_VEHICLE, "K2", 540.0, 380.0, 390.0)])
    (incident,) = engine.incidents
    assert not incident.abnormal and incident.cause == "recurrent" and incident.alert_s is None
    # The same crawl at 03:00, when the lane is usually free, is abnormal.
    night = IncidentEngine(
        _corridor(), baseline=Baseline(bin_min=5, bins=bins), clock_start=datetime(2026, 11, 23, 3, 0)
    )
    night.update(330.0, [_event(EventType.CONGESTION, "K2", 579.0, 300.0, 330.0, speed=10.0)])
    assert night.incidents[0].abnormal and night.incidents[0].alert_s == 330.0


def test_an_incident_closes_when_its_events_end_and_stay_ended() -> None:
    engine = IncidentEngine(_corridor(), IncidentRules(hold_s=60.0))
    engine.update(40.0, [_event(EventType.STOPPED_VEHICLE, "K2", 560.0, 28.0, 38.0)])
    engine.update(200.0, [_event(EventType.STOPPED_VEHICLE, "K2", 560.0, 28.0, 38.0, end=195.0)])
    assert engine.incidents[0].end_s is None  # held: the vehicle may stand again
    out = engine.update(260.0)
    assert len(out) == 1 and out[0].end_s == 195.0


def test_cones_standing_to_the_end_of_a_view_are_the_cause_there_not_a_queue_headed_beyond_it() -> None:
    """lane-closure: K2's cones stand like a queue up to its view's downstream end (580 m); then the
    camera recognises them as a blocked lane. One incident, at K2, from the cones' own onset."""
    engine = IncidentEngine(_corridor())
    engine.update(300.0, states=_flows("K3", [2400] * 5) + _flows("K2", [2400] * 5))
    (first,) = engine.update(330.0, [_event(EventType.CONGESTION, "K2", 579.0, 300.0, 330.0, lane="L2")])
    assert first.source_segment == "K2>K3"
    (incident,) = engine.update(335.0, [_event(EventType.LANE_BLOCKED, "K2", 522.0, 290.0, 335.0, lane="L2")])
    assert len(engine.incidents) == 1
    assert incident.type == incident.cause == "lane_blocked" and incident.source_segment == "K2"
    assert incident.source_position_m == 522.0 and incident.start_s == 290.0 and incident.lanes_blocked == 1
    # The queue it causes upstream joins it.
    engine.update(500.0, [_event(EventType.CONGESTION, "K1", 79.0, 450.0, 480.0)])
    assert len(engine.incidents) == 1 and set(engine.incidents[0].camera_ids) == {"K1", "K2"}


@pytest.mark.parametrize(
    "kind", [EventType.WRONG_WAY, EventType.PEDESTRIAN, EventType.ILLEGAL_PARKING, EventType.LANE_BLOCKED]
)
def test_every_seen_cause_makes_its_own_incident(kind: EventType) -> None:
    engine = IncidentEngine(_corridor())
    (incident,) = engine.update(20.0, [_event(kind, "K1", 40.0, 12.0, 20.0)])
    assert incident.type == kind.value and incident.abnormal and incident.alert_s == 20.0


def test_a_vehicle_standing_in_the_queue_of_a_cause_downstream_is_part_of_that_incident() -> None:
    """K2 is congested by the stall at K3; a car that stands at K2 with the queue is no new incident."""
    engine = IncidentEngine(_corridor())
    engine.update(40.0, [_event(EventType.STOPPED_VEHICLE, "K3", 1060.0, 28.0, 38.0)])
    engine.update(300.0, [_event(EventType.CONGESTION, "K2", 579.0, 250.0, 290.0)])
    engine.update(400.0, [_event(EventType.STOPPED_VEHICLE, "K2", 550.0, 380.0, 390.0)])
    (incident,) = engine.incidents
    assert incident.source_segment == "K3" and incident.camera_ids == ("K3", "K2")
    assert any("standing in the queue at K2" in what for _, what in incident.timeline)
    assert incident.lanes_blocked == 1  # the stalled car's lane; the queued car blocks nothing
    # At an uncongested camera a standing vehicle is its own incident.
    engine.update(420.0, [_event(EventType.STOPPED_VEHICLE, "K1", 40.0, 400.0, 410.0)])
    assert len(_alerted(engine.incidents)) == 2
