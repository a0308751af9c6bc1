"""The in-memory bus: every subscriber of a type gets each message once; a redelivered duplicate is dropped."""

from __future__ import annotations

import threading

from yingyan.bus import ClockTick, EventReport, LaneStateRecord, MemoryBus
from yingyan.incidents.events import Event, EventType


def _event(end: float | None = None) -> Event:
    return Event("K1-stopped_vehicle-t3-100", EventType.STOPPED_VEHICLE, "K1", "K1-L1", 10.0, 20.0, (5.0, 1.0),
                 end_s=end)  # fmt: skip


def test_subscribers_get_their_types_once_and_duplicates_are_dropped() -> None:
    bus = MemoryBus()
    engine = bus.subscribe("engine", (EventReport, LaneStateRecord))
    clocks = bus.subscribe("clocks", (ClockTick,))
    assert bus.publish(EventReport(_event()))
    assert not bus.publish(EventReport(_event()))  # the same report redelivered
    assert bus.publish(EventReport(_event(end=60.0)))  # its end is another message
    row = {"lane_id": "K1-L1", "interval_start_s": "0.000"}
    assert bus.publish(LaneStateRecord("K1", row)) and not bus.publish(LaneStateRecord("K1", dict(row)))
    assert bus.publish(ClockTick("K1", 1.0))
    got = engine.drain()
    assert [type(m).__name__ for m in got] == ["EventReport", "EventReport", "LaneStateRecord"]
    assert [m.time_s for m in clocks.drain() if isinstance(m, ClockTick)] == [1.0]
    assert engine.get(timeout=0.01) is None


def test_publishers_on_many_threads_lose_nothing() -> None:
    bus = MemoryBus()
    inbox = bus.subscribe("all", (ClockTick,))

    def camera(cam: str) -> None:
        for k in range(500):
            bus.publish(ClockTick(cam, float(k)))

    threads = [threading.Thread(target=camera, args=(f"K{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = inbox.drain(limit=10_000)
    assert len(got) == 4000 and len({m.key for m in got}) == 4000
    inbox.nack(got[0])
    assert inbox.pending == 1
