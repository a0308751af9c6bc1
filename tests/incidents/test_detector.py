"""Event detectors on synthetic tracks: a stall raises one event, a jam stays silent, parking is not stopping."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from yingyan.calibration import CameraCalibration
from yingyan.incidents import CameraEvents, Event, EventRules, EventType
from yingyan.traffic.meter import TrackPoint

FPS = 5.0
LANE_Y = {1: -1.75, 2: -5.25}
# A vehicle: its lane and where it is at time t (None: not in view).
Vehicle = tuple[int, Callable[[float], float | None]]


def _calibration(zones: list[dict[str, object]] | None = None) -> CameraCalibration:
    """Two lanes of 3.5 m, travel +x, measured from 0 to 100 m."""

    def lane(number: int, y0: float, y1: float) -> dict[str, object]:
        road = [[0.0, y0], [100.0, y0], [100.0, y1], [0.0, y1]]
        return {
            "id": f"C-L{number}", "number": number, "direction": "forward", "travel": [1.0, 0.0],
            "polygon_road": road, "polygon_image": road,
        }  # fmt: skip

    return CameraCalibration.model_validate(
        {
            "camera_id": "C",
            "image_size": [640, 360],
            "homography": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            "road_class": "arterial",
            "speed_limit_kmh": 60,
            "lanes": [lane(1, 0.0, -3.5), lane(2, -3.5, -7.0)],
            "zones": zones or [],
        }
    )


def _run(
    detector: CameraEvents,
    vehicles: dict[int, Vehicle],
    seconds: float,
    ids: Callable[[int, float], int] | None = None,
    people: frozenset[int] = frozenset(),
    lateral: dict[int, Callable[[float], float]] | None = None,
    flagged: frozenset[int] = frozenset(),
    small: frozenset[int] = frozenset(),
) -> list[Event]:
    """Feed the vehicles' points at 5 fps; speeds by finite difference, as the lane meter measures them.

    Vehicles in ``flagged`` are marked stationary by the detector while they stand (the motion detector's
    slow model sees them); those in ``small`` have boxes too small for a car (cones)."""
    events: list[Event] = []
    dt = 1.0 / FPS
    for k in range(int(seconds * FPS)):
        t = k * dt
        points = []
        for vid, (lane, x_of) in vehicles.items():
            x, before = x_of(t), x_of(t - 1.0)
            if x is None:
                continue
            speed = (x - before) / 1.0 if before is not None else 0.0
            track = ids(vid, t) if ids else vid
            y = lateral[vid](t) if lateral and vid in lateral else LANE_Y[lane]
            lane_here = 1 if -3.5 <= y <= 0 else 2 if -7 <= y < -3.5 else 0
            still = vid in flagged and abs(speed) < 0.1
            point = TrackPoint(
                t, track, 0 if vid in people else 2, (x, y), lane_here, x + 2.3, speed, "forward", still, vid in small
            )
            points.append(point)
        events += detector.update(t, points, _queues(points))
    return events


def _queues(points: list[TrackPoint]) -> list[tuple[str, np.ndarray, float]]:
    """Standing queues per lane as the lane meter reports them (head slower than 10 km/h, gaps ≤ 20 m)."""
    out = []
    for lane in (1, 2):
        members = sorted((p for p in points if p.lane == lane and abs(p.speed) < 15 / 3.6), key=lambda p: -p.road[0])
        if not members or abs(members[0].speed) >= 10 / 3.6:
            continue
        tail = members[0]
        for p in members[1:]:
            if tail.road[0] - p.road[0] - 4.6 > 20:
                break
            tail = p
        head_x, tail_x = members[0].road[0] + 2.3, tail.road[0] - 2.3
        segment = np.array([[head_x, LANE_Y[lane]], [tail_x, LANE_Y[lane]]])
        out.append((f"C-L{lane}", segment, head_x - tail_x))
    return out


def _flow(lane: int, first: int, count: int, every_s: float, speed: float = 14.0) -> dict[int, Vehicle]:
    """``count`` vehicles entering at x = 0 every ``every_s`` seconds at ``speed`` m/s."""

    def make(t0: float) -> Callable[[float], float | None]:
        return lambda t: (speed * (t - t0)) if 0 <= speed * (t - t0) <= 100 else None

    return {first + i: (lane, make(i * every_s)) for i in range(count)}


def _stalls(
    at_x: float, stop_t: float, leave_t: float = float("inf"), speed: float = 14.0, decel: float = 2.5
) -> Callable[[float], float | None]:
    """A vehicle from x = 0 braking at ``decel`` to rest at ``at_x`` at ``stop_t``; it drives off at ``leave_t``."""
    brake_t = stop_t - speed / decel
    brake_x = at_x - speed * speed / (2 * decel)

    def x(t: float) -> float | None:
        if t < brake_t:
            pos = brake_x - speed * (brake_t - t)
            return pos if pos >= 0 else None
        if t < stop_t:
            return at_x - 0.5 * decel * (stop_t - t) ** 2
        if t < leave_t:
            return at_x
        x_out = at_x + speed * (t - leave_t)
        return x_out if x_out <= 100 else None

    return x


def test_a_stalled_car_in_free_flow_raises_one_event_about_ten_seconds_after_it_stops() -> None:
    detector = CameraEvents(_calibration())
    vehicles = _flow(1, 100, 40, 3.0) | {1: (2, _stalls(50.0, stop_t=20.0, leave_t=100.0))}
    events = _run(detector, vehicles, 120.0)
    raised = [e for e in events if e.end_s is None]
    assert [e.type for e in raised] == [EventType.STOPPED_VEHICLE]
    (stall,) = raised
    assert stall.lane_id == "C-L2" and abs(stall.position[0] - 50.0) < 1.0
    assert 19.0 <= stall.start_s <= 21.5  # when it came to rest (speeds are fitted over a second)
    assert 29.0 <= stall.alert_s <= 33.0  # the 10 s dwell after that
    ended = [e for e in events if e.end_s is not None]
    assert [e.id for e in ended] == [stall.id] and 99.0 <= ended[0].end_s <= 102.0  # type: ignore[operator]


def test_cars_queued_behind_a_stall_raise_nothing_of_their_own() -> None:
    detector = CameraEvents(_calibration())
    # The stall at 80 m; three cars pull up behind it at 7 m spacing and wait there.
    vehicles: dict[int, Vehicle] = {1: (2, _stalls(80.0, stop_t=10.0))}
    for i, x in enumerate((73.0, 66.0, 59.0)):
        vehicles[10 + i] = (2, _stalls(x, stop_t=14.0 + 3 * i))
    events = _run(detector, vehicles | _flow(1, 100, 30, 3.0), 90.0)
    assert [(e.type, e.track_ids) for e in events] == [(EventType.STOPPED_VEHICLE, (1,))]


def test_a_jam_over_the_whole_view_raises_congestion_and_no_stopped_vehicle() -> None:
    detector = CameraEvents(_calibration())
    # Bumper to bumper in both lanes, beyond the view's far end: creeping now and then.
    vehicles: dict[int, Vehicle] = {}
    for lane in (1, 2):
        for i in range(14):
            x0 = 98.0 - 7.0 * i

            def x(t: float, x0: float = x0) -> float:
                return x0 + 3.0 * (t // 45)  # stands 45 s, then edges forward 3 m

            vehicles[lane * 100 + i] = (lane, x)
    events = _run(detector, vehicles, 200.0)
    kinds = {e.type for e in events}
    assert EventType.STOPPED_VEHICLE not in kinds and EventType.ILLEGAL_PARKING not in kinds
    congestion = [e for e in events if e.type is EventType.CONGESTION]
    assert {e.lane_id for e in congestion} == {"C-L1", "C-L2"}
    assert all(e.start_s <= 2.0 and 29.0 <= e.alert_s <= 33.0 for e in congestion)  # duration 30 s


def test_congestion_ends_once_the_queue_has_gone_for_the_clearance_time() -> None:
    detector = CameraEvents(_calibration())
    vehicles: dict[int, Vehicle] = {}
    for i in range(10):
        x0 = 90.0 - 7.0 * i

        def x(t: float, x0: float = x0) -> float | None:
            pos = x0 if t < 60 else x0 + 14.0 * (t - 60)  # the queue dissolves at 60 s
            return pos if pos <= 100 else None

        vehicles[i] = (1, x)
    events = _run(detector, vehicles | _flow(2, 100, 40, 3.0), 150.0)
    congestion = [e for e in events if e.type is EventType.CONGESTION]
    assert len(congestion) == 2 and congestion[0].id == congestion[1].id
    assert congestion[1].end_s is not None and 59.0 <= congestion[1].end_s <= 62.0


def test_standing_in_a_parking_zone_is_nothing_and_in_a_no_parking_lane_is_illegal_parking() -> None:
    parking = {"id": "P", "kind": "parking", "polygon_road": [[0, -7], [40, -7], [40, -3.5], [0, -3.5]],
               "polygon_image": [[0, 0], [1, 0], [1, 1], [0, 1]]}  # fmt: skip
    detector = CameraEvents(_calibration([parking]), EventRules(no_parking_lanes=["C-L1"]))
    vehicles: dict[int, Vehicle] = {
        1: (2, lambda t: 20.0),  # parked in the parking bay all along
        2: (1, _stalls(60.0, stop_t=5.0)),  # standing in the no-parking kerb lane
    }
    events = _run(detector, vehicles | _flow(2, 100, 10, 30.0, speed=14.0), 400.0)
    assert [(e.type, e.track_ids) for e in events] == [(EventType.ILLEGAL_PARKING, (2,))]
    assert 300.0 <= events[0].alert_s - events[0].start_s <= 302.0


def test_a_car_that_waited_behind_a_stall_and_moves_off_when_the_road_clears_raises_nothing() -> None:
    """Stop-and-go: the car behind a stalled one stands a minute, queued; when the stall drives off, it
    follows within seconds. Only the stall, which headed the queue, is an event."""
    detector = CameraEvents(_calibration())
    stall = _stalls(60.0, stop_t=20.0, leave_t=80.0)
    behind = _stalls(53.0, stop_t=25.0, leave_t=85.0)  # 2.4 m behind the stall's rear
    events = _run(detector, _flow(1, 100, 40, 3.0) | {1: (2, stall), 2: (2, behind)}, 100.0)
    raised = [e for e in events if e.end_s is None]
    assert [(e.type, e.track_ids) for e in raised] == [(EventType.STOPPED_VEHICLE, (1,))]


def test_vehicles_that_came_to_rest_hard_long_ago_are_judged_as_standing_not_as_a_fresh_crash() -> None:
    """In a dense jam tracks are re-made over vehicles that stopped (hard, by their jittery speeds) a minute
    ago: what is found standing long after it came to rest is a stopped vehicle, if anything, not a crash."""
    detector = CameraEvents(_calibration())
    leader = _stalls(60.0, stop_t=20.0, decel=9.0)

    def follower(t: float) -> float | None:
        x = 14.0 * (t - 20.3) + 55.4 if t < 20.3 else 55.4
        return x if x >= 0 else None

    def hidden(x_of: Callable[[float], float | None]) -> Callable[[float], float | None]:
        return lambda t: None if 23.0 <= t < 55.0 else x_of(t)  # a bus hides them from 23 s to 55 s

    vehicles = {1: (1, hidden(leader)), 2: (1, hidden(follower))} | _flow(2, 100, 30, 3.0)
    raised = [e for e in _run(detector, vehicles, 80.0) if e.end_s is None]
    assert raised and {e.type for e in raised} == {EventType.STOPPED_VEHICLE}


def test_a_vehicle_driving_against_the_lane_is_wrong_way_once() -> None:
    detector = CameraEvents(_calibration())
    vehicles: dict[int, Vehicle] = {7: (1, lambda t: (95.0 - 12.0 * (t - 5.0)) if 5.0 <= t <= 12.0 else None)}
    events = _run(detector, vehicles | _flow(2, 100, 5, 4.0), 30.0)
    raised = [e for e in events if e.end_s is None]
    assert [(e.type, e.track_ids) for e in raised] == [(EventType.WRONG_WAY, (7,))]
    assert raised[0].alert_s - 5.0 <= 3.0  # 20 m at 12 m/s, plus the speed fit
    assert any(e.end_s is not None and e.type is EventType.WRONG_WAY for e in events)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(min_value=12.0, max_value=590.0), max_size=6))
def test_a_parked_car_whose_track_is_lost_and_found_again_raises_one_event(switches: list[float]) -> None:
    """However often the tracker gives the standing car a new id, it is one event all night."""
    detector = CameraEvents(_calibration())
    cuts = sorted(switches)

    def ids(vid: int, t: float) -> int:
        return vid if vid != 1 else 1000 + sum(1 for c in cuts if c <= t)

    vehicles = {1: (2, _stalls(50.0, stop_t=5.0))} | _flow(1, 100, 100, 6.0)
    events = _run(detector, vehicles, 600.0, ids=ids)
    standing = [e for e in events if e.type is EventType.STOPPED_VEHICLE]
    assert len(standing) == 1 and standing[0].end_s is None


def test_a_track_that_leaps_back_when_two_vehicles_swap_ids_is_not_wrong_way() -> None:
    detector = CameraEvents(_calibration())

    def swapped(t: float) -> float | None:
        x = 14.0 * (t - 2.0) - (15.0 if t >= 6.0 else 0.0)  # at 6 s the id jumps to the car 15 m behind
        return x if 0 <= x <= 100 else None

    events = _run(detector, {5: (1, swapped)} | _flow(2, 100, 5, 4.0), 20.0)
    assert not [e for e in events if e.type is EventType.WRONG_WAY]


def test_an_opposing_bus_placed_on_the_centre_line_is_not_wrong_way() -> None:
    """A big vehicle of the other carriageway whose blob straddles the centre line lands 0.9 m inside lane 1."""
    detector = CameraEvents(_calibration())
    vehicles: dict[int, Vehicle] = {7: (1, lambda t: (95.0 - 12.0 * (t - 5.0)) if 5.0 <= t <= 12.0 else None)}
    events = _run(detector, vehicles | _flow(2, 100, 5, 4.0), 30.0, lateral={7: lambda t: -0.9})
    assert not [e for e in events if e.type is EventType.WRONG_WAY]


def test_a_track_sliding_back_over_a_jam_in_a_second_is_not_wrong_way() -> None:
    """In a standing jam a track can slide from vehicle to vehicle, 22 m back in one second, step by step."""
    detector = CameraEvents(_calibration())

    def sliding(t: float) -> float | None:  # a new id (a stitched track) that slides, then stands
        return None if t < 10.0 else max(70.0 - 22.0 * (t - 10.0), 48.0)

    events = _run(detector, {5: (1, sliding)} | _flow(2, 100, 5, 4.0), 20.0)
    assert not [e for e in events if e.type is EventType.WRONG_WAY]


def test_a_rear_end_crash_is_one_crash_event_with_both_vehicles_within_seconds() -> None:
    detector = CameraEvents(_calibration())
    leader = _stalls(60.0, stop_t=20.0, decel=9.0)  # brakes as hard as a car can

    def follower(t: float) -> float | None:
        x = 14.0 * (t - 20.3) + 55.4 if t < 20.3 else 55.4  # does not brake: hits the leader at 20.3 s
        return x if x >= 0 else None

    events = _run(detector, {1: (1, leader), 2: (1, follower)} | _flow(2, 100, 30, 3.0), 60.0)
    assert [(e.type, sorted(e.track_ids)) for e in events] == [(EventType.CRASH, [1, 2])]
    assert 20.0 <= events[0].start_s <= 21.5 and events[0].alert_s - events[0].start_s <= 9.0


def test_two_cars_braking_normally_one_behind_the_other_are_no_crash() -> None:
    detector = CameraEvents(_calibration())
    vehicles = {1: (1, _stalls(60.0, stop_t=20.0, decel=2.5)), 2: (1, _stalls(53.0, stop_t=20.8, decel=2.5))}
    events = _run(detector, vehicles | _flow(2, 100, 30, 3.0), 60.0)
    assert [(e.type, e.track_ids) for e in events] == [(EventType.STOPPED_VEHICLE, (1,))]


def test_a_box_that_jumps_for_one_frame_as_a_car_comes_gently_to_rest_is_no_crash() -> None:
    """A detector's box can jump a few metres along the road for one frame (a far car's box snapping to its
    shadow): one speed sample of 30 km/h just before the car stands. A hard stop is a fast speed held, not
    one sample."""
    gentle = _stalls(60.0, stop_t=20.0, decel=2.5)

    def jumpy(t: float) -> float | None:
        x = gentle(t)
        return x + 8.0 if x is not None and abs(t - 19.8) < 1e-6 else x

    events = _run(CameraEvents(_calibration()), {1: (1, jumpy)} | _flow(2, 100, 30, 3.0), 60.0)
    assert [(e.type, e.track_ids) for e in events] == [(EventType.STOPPED_VEHICLE, (1,))]


def test_a_person_walking_across_the_carriageway_is_one_pedestrian_event() -> None:
    detector = CameraEvents(_calibration())
    vehicles: dict[int, Vehicle] = {9: (1, lambda t: 40.0 if 10.0 <= t <= 16.0 else None)}
    lateral = {9: lambda t: 1.0 - 1.4 * (t - 10.0)}  # from the verge across both lanes at 1.4 m/s
    events = _run(detector, vehicles | _flow(2, 100, 10, 6.0), 30.0, people=frozenset({9}), lateral=lateral)
    raised = [e for e in events if e.end_s is None]
    assert [(e.type, e.track_ids) for e in raised] == [(EventType.PEDESTRIAN, (9,))]
    assert raised[0].alert_s <= 13.5  # on the lane from ~10.7 s, seen there 2 s
    assert any(e.type is EventType.PEDESTRIAN and e.end_s is not None for e in events)


def test_a_stall_whose_tracks_keep_breaking_up_keeps_the_time_it_stopped() -> None:
    """dusk-rain-stall: at the far end in rain the standing car's track is lost and found, and once its blob
    merges with a passing car and slides in from 15 m away; the event still starts when it stopped."""
    stop = _stalls(60.0, stop_t=20.0)
    gaps = ((26.0, 28.0), (33.0, 35.0), (40.0, 42.0))

    def seen(t: float) -> float | None:
        if any(a <= t < b for a, b in gaps):
            return None
        if 42.0 <= t < 43.0:
            return 45.0 + 15.0 * (t - 42.0)  # a merged blob sliding onto the car
        return stop(t)

    def track(vid: int, t: float) -> int:
        return vid if vid != 1 else 100 + sum(t >= b for _, b in gaps)

    detector = CameraEvents(_calibration())
    events = _run(detector, {1: (2, seen)} | _flow(1, 200, 30, 3.0), 80.0, ids=track, flagged=frozenset({1}))
    raised = [e for e in events if e.end_s is None]
    assert [e.type for e in raised] == [EventType.STOPPED_VEHICLE]
    assert 19.0 <= raised[0].start_s <= 21.5, raised[0].start_s


def test_a_car_that_stops_where_another_drove_off_has_its_own_onset() -> None:
    detector = CameraEvents(_calibration())
    first = _stalls(60.0, stop_t=20.0, leave_t=32.0)  # stood 12 s (an event), then drove off
    second = _stalls(60.0, stop_t=38.0)  # arrives 6 s later and stops at the same place
    vehicles = {1: (2, first), 2: (2, lambda t: second(t) if t >= 30.0 else None)} | _flow(1, 200, 30, 3.0)
    events = _run(detector, vehicles, 80.0, flagged=frozenset({1, 2}))
    raised = [e for e in events if e.end_s is None]
    assert [e.track_ids[0] for e in raised] == [1, 2]
    assert 37.0 <= raised[1].start_s <= 39.5, raised[1].start_s


def test_a_vehicle_first_seen_standing_has_stood_for_the_detectors_latency_already() -> None:
    """The motion detector reports a stopped vehicle stationary only once its fast model has absorbed it
    (MotionDetector.stationary_after_s): a track born standing stopped that long before."""
    detector = CameraEvents(_calibration(), stationary_after_s=6.0)
    standing = {1: (2, lambda t: 60.0 if t >= 30.0 else None)}
    events = _run(detector, standing | _flow(1, 200, 30, 3.0), 70.0, flagged=frozenset({1}))
    (raised,) = [e for e in events if e.end_s is None]
    assert 23.5 <= raised.start_s <= 24.5, raised.start_s
    plain = _run(CameraEvents(_calibration(), stationary_after_s=6.0), standing | _flow(1, 200, 30, 3.0), 70.0)
    assert [e.start_s for e in plain if e.end_s is None] == [30.0]  # no flag from the detector: no correction


def _cones(first: int, xs: list[float], placed_t: float, removed_t: float = float("inf")) -> dict[int, Vehicle]:
    """Cones standing in lane 2 at ``xs`` from ``placed_t`` until ``removed_t``."""

    def make(x: float) -> Callable[[float], float | None]:
        return lambda t: x if placed_t <= t < removed_t else None

    return {first + i: (2, make(x)) for i, x in enumerate(xs)}


def test_a_row_of_cones_in_a_lane_is_one_lane_blocked_event_from_its_upstream_end() -> None:
    cones = _cones(100, [40.0, 46.0, 52.0, 58.0, 64.0, 70.0], placed_t=20.0, removed_t=150.0)
    traffic = _flow(1, 1, 40, 4.0)  # the open lane flows past
    detector = CameraEvents(_calibration())
    events = _run(detector, {**cones, **traffic}, 200.0, flagged=frozenset(cones), small=frozenset(cones))
    raised = [e for e in events if e.end_s is None and e.type is not EventType.CONGESTION]  # cones stand like a queue
    assert [e.type for e in raised] == [EventType.LANE_BLOCKED]  # and none of them is a stopped vehicle
    blocked = raised[0]
    assert blocked.lane_id == "C-L2"
    assert blocked.position[0] == 40.0  # where traffic in the lane meets the closure
    assert blocked.start_s == 20.0 and 40.0 <= blocked.alert_s <= 45.0
    assert blocked.details["objects"] == 6
    ended = [e for e in events if e.end_s is not None and e.type is not EventType.CONGESTION]
    assert [e.id for e in ended] == [blocked.id] and 149.0 <= (ended[0].end_s or 0.0) <= 150.0


def test_two_small_things_or_a_car_with_its_warning_triangle_block_no_lane() -> None:
    pair = _cones(100, [40.0, 46.0], placed_t=20.0)
    detector = CameraEvents(_calibration())
    events = _run(detector, pair, 120.0, flagged=frozenset(pair), small=frozenset(pair))
    assert EventType.LANE_BLOCKED not in {e.type for e in events}  # (something stands there: judged as standing)
    triangle = _cones(100, [55.0], placed_t=30.0)
    stall = {1: (2, _stalls(60.0, 20.0))}
    detector = CameraEvents(_calibration())
    events = _run(detector, {**triangle, **stall}, 80.0, flagged=frozenset(triangle) | {1}, small=frozenset(triangle))
    assert [e.type for e in events] == [EventType.STOPPED_VEHICLE]


def test_small_fragments_of_a_stop_and_go_queue_block_no_lane() -> None:
    """A far queue in rain falls apart into small blobs; each stands for seconds and moves on."""

    def creeping(x0: float) -> Callable[[float], float | None]:
        # Stands 8 s, creeps 6 m in 2 s, stands again.
        def x(t: float) -> float | None:
            k, r = divmod(t, 10.0)
            return x0 + 6.0 * k + (3.0 * (r - 8.0) if r > 8.0 else 0.0) if x0 + 6.0 * k <= 95 else None

        return x

    queue = {100 + i: (2, creeping(10.0 + 7.0 * i)) for i in range(8)}
    detector = CameraEvents(_calibration())
    events = _run(detector, queue, 120.0, flagged=frozenset(queue), small=frozenset(queue))
    assert not [e for e in events if e.type is EventType.LANE_BLOCKED]


def test_a_standing_thing_that_traffic_in_its_lane_drives_through_is_no_stopped_vehicle() -> None:
    """A ghost that a polluted background leaves on the road stands like a vehicle; a platoon drives through it."""
    ghost = {1: (1, lambda t: 50.0 if t >= 5.0 else None)}
    platoon = _flow(1, 10, 12, 3.0)  # through the ghost's place in its own lane
    detector = CameraEvents(_calibration())
    events = _run(detector, {**ghost, **platoon}, 60.0, flagged=frozenset(ghost))
    assert not [e for e in events if e.type is EventType.STOPPED_VEHICLE]
    # The same thing with the traffic passing in the other lane is a stopped vehicle.
    beside = _flow(2, 10, 12, 3.0)
    detector = CameraEvents(_calibration())
    events = _run(detector, {**ghost, **beside}, 60.0, flagged=frozenset(ghost))
    assert [e.type for e in events if e.end_s is None] == [EventType.STOPPED_VEHICLE]


def test_a_crash_whose_two_vehicles_merge_into_one_blob_that_settles_on_the_wreck_is_a_crash() -> None:
    """crash-junction: the leader stops hard and its track is lost as the follower's blob merges with it; the
    merged blob is first placed short of the wreck, leaps onto it and stands. It is the wreck, stopped hard
    when the leader did, not a vehicle that came to rest gently 5 s later."""
    leader = _stalls(60.0, stop_t=20.0, decel=9.0)

    def merged(t: float) -> float | None:
        if t < 22.0:
            return None
        return 45.0 if t < 24.0 else 49.0 if t < 25.5 else 60.0  # placed short of the wreck, then leaps onto it

    vehicles = {1: (1, lambda t: leader(t) if t < 21.0 else None), 2: (1, merged)} | _flow(2, 100, 30, 3.0)
    raised = [e for e in _run(CameraEvents(_calibration()), vehicles, 60.0) if e.end_s is None]
    assert [e.type for e in raised] == [EventType.CRASH]
    assert 19.5 <= raised[0].start_s <= 21.0, raised[0].start_s


def test_a_vehicle_that_drives_up_fast_while_another_stands_there_does_not_take_its_hard_stop() -> None:
    """A car stops hard and stands; a second drives up fast, in view all the while, and stops behind it as its
    track is lost. The second came to rest itself, gently: one stopped vehicle at most, no crash."""
    first = _stalls(60.0, stop_t=20.0, decel=9.0)
    second = _stalls(58.0, stop_t=28.0, decel=2.5)  # 2 m short of the first's place: within its radius
    vehicles = {1: (1, lambda t: first(t) if t < 27.0 else None), 2: (1, second)} | _flow(2, 100, 30, 3.0)
    raised = [e for e in _run(CameraEvents(_calibration()), vehicles, 70.0) if e.end_s is None]
    assert EventType.CRASH not in {e.type for e in raised}


def _jitter(seed: int, sigma_m: float) -> Callable[[float], float]:
    """A box's measured place off the vehicle's own, frame by frame (a far vehicle's few pixels of jitter)."""
    noise = np.random.default_rng(seed).normal(0.0, sigma_m, 10_000)
    return lambda t: float(noise[int(round(t * FPS)) % len(noise)])


def test_a_far_parked_car_whose_box_jitters_and_whose_tracks_break_is_illegal_parking_after_the_dwell() -> None:
    """A per-frame detector's box of a car parked far down the view jitters by metres, its fitted speed by
    10-20 km/h, and the detector misses it now and then, so its track breaks every half minute. It stands
    all the same: over seconds its place does not move, and its dwell runs on from track to track."""
    along, across = _jitter(1, 1.2), _jitter(2, 0.3)
    missed = [(k * 30.0 - 2.5, k * 30.0) for k in range(1, 8)]

    def parked(t: float) -> float | None:
        x = _stalls(80.0, stop_t=10.0)(t)
        if x is None or any(a <= t < b for a, b in missed):
            return None
        return x + (along(t) if t >= 10.0 else 0.0)

    def track(vid: int, t: float) -> int:
        return vid if vid != 1 else 100 + sum(t >= b for _, b in missed)

    detector = CameraEvents(_calibration(), EventRules(no_parking_lanes=["C-L1"], parking_dwell_s=90.0))
    vehicles = {1: (1, parked)} | _flow(2, 200, 50, 4.0)
    events = _run(detector, vehicles, 200.0, ids=track, lateral={1: lambda t: LANE_Y[1] + across(t)})
    raised = [e for e in events if e.end_s is None]
    assert [e.type for e in raised] == [EventType.ILLEGAL_PARKING]
    assert 90.0 <= raised[0].alert_s - 10.0 <= 100.0, raised[0].alert_s
    assert 8.0 <= raised[0].start_s <= 15.0, raised[0].start_s


def test_a_vehicle_that_stops_where_another_stood_and_drove_off_starts_its_own_dwell() -> None:
    """Two cars stand 7 s each at one place, one after the other (the first seen driving off): neither stood
    the 10 s of a stopped vehicle, however the place is remembered for a per-frame detector's broken tracks."""
    first = _stalls(60.0, stop_t=20.0, leave_t=27.0)
    second = _stalls(60.0, stop_t=31.0, leave_t=38.0)
    vehicles = {1: (2, first), 2: (2, lambda t: second(t) if t >= 24.0 else None)} | _flow(1, 200, 30, 3.0)
    raised = [e for e in _run(CameraEvents(_calibration()), vehicles, 60.0) if e.end_s is None]
    assert raised == []


def test_a_car_standing_where_a_creeping_car_stood_before_it_drove_off_starts_its_own_dwell() -> None:
    """A queue's car creeps 6 m in 8 s, standing, and drives off; the next stands 4 s where the first came to
    rest. It is another vehicle: the first one's place went with it and was left when it drove off."""
    creeper = _stalls(55.0, stop_t=20.0)

    def first(t: float) -> float | None:
        if t < 20.0:
            return creeper(t)
        x = 55.0 + 0.75 * min(t - 20.0, 8.0) + 14.0 * max(t - 28.0, 0.0)
        return x if x <= 100 else None

    second = _stalls(55.0, stop_t=30.0, leave_t=34.0)
    vehicles = {1: (2, first), 2: (2, lambda t: second(t) if t >= 27.0 else None)} | _flow(1, 200, 30, 3.0)
    raised = [e for e in _run(CameraEvents(_calibration()), vehicles, 60.0) if e.end_s is None]
    assert raised == []


def test_a_track_that_only_passes_where_something_stood_a_while_ago_takes_on_no_dwell() -> None:
    """recurrent-peaks (tuning seed 1), onnx: a box stood 2 s at a place; 13 s later a new track is found there,
    standing for its first frame (no speed yet), and drives on. Only a track that stands at a place in its turn
    carries on the dwell of what stood there: this one is no stopped vehicle."""
    along = _jitter(3, 0.8)

    def ghost(t: float) -> float | None:
        return 60.0 + along(t) if 20.0 <= t < 23.0 else None

    def passer(t: float) -> float | None:
        if t < 36.0:
            return None
        x = 60.0 + 14.0 * max(t - 36.2, 0.0)
        return x if x <= 100 else None

    vehicles = {1: (2, ghost), 2: (2, passer)} | _flow(1, 200, 30, 3.0)
    detector = CameraEvents(_calibration(), EventRules(stopped_dwell_s=10.0))
    raised = [e for e in _run(detector, vehicles, 60.0) if e.end_s is None]
    assert raised == []
