"""The boundary between the camera side and the service side: typed messages on a bus.

Camera pipelines only *publish* (lane states, events, their clock and health); the incident
engine consumes those and publishes incidents; the incident service consumes incidents. Every
message has a natural ``key`` (camera, lane, window start; an event's id and whether it is its
end; an incident's id and revision), so a redelivered duplicate changes nothing. The first
implementation is in memory (:class:`MemoryBus`); a city deployment puts NATS JetStream behind
the same two verbs.

>>> bus = MemoryBus()
>>> inbox = bus.subscribe("engine", (ClockTick,))
>>> bus.publish(ClockTick("K1", 12.0))
True
>>> bus.publish(ClockTick("K1", 12.0))  # the same message again: dropped
False
>>> inbox.get(timeout=0.1).time_s
12.0
"""

from yingyan.bus.memory import MemoryBus, Subscription
from yingyan.bus.messages import CameraHealth, ClockTick, EventReport, IncidentReport, LaneStateRecord, Message

__all__ = [
    "CameraHealth",
    "ClockTick",
    "EventReport",
    "IncidentReport",
    "LaneStateRecord",
    "MemoryBus",
    "Message",
    "Subscription",
]
