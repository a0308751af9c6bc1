"""The port every push channel besides the terminals implements (MQTT, webhooks): send one message.

A channel says whether a message could not be delivered *now* (``PushError``: the broker is down,
the receiver hangs or answers 5xx; the outbox tries again) or was refused for good
(``PushError(permanent=True)``: the receiver rejected this message, a 4xx; never resent). Each
channel runs on its own in the dispatcher (``outbox.ChannelLane``), so a dead broker or a hanging
receiver delays nothing but itself.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class PushError(Exception):
    """A channel could not deliver a message: now (the outbox retries), or for good (``permanent``)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(ABC):
    """One push channel: ``send`` a message (an alert or an escalation) or raise PushError."""

    name: str  # the outbox's channel column: "mqtt", "webhook:<name>"
    concurrency: int = 4  # messages in flight at once

    def start(self, on_up: Callable[[], None]) -> None:  # noqa: B027 (optional hook)
        """Begin (connect); ``on_up`` is called (from any thread) whenever the channel becomes usable."""

    @abstractmethod
    async def send(self, kind: str, payload: dict[str, Any], key: str) -> None:
        """Deliver one message; ``key`` is its idempotency key (the alert id, ``:escalation-N``)."""

    async def close(self) -> None:  # noqa: B027 (optional hook)
        """Let go of connections."""


def thread_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A thread pool whose threads are all running before it is used: a pool starts its threads on demand,
    and a thread started from the event loop holds the loop until it runs (under load, 0.1–0.2 s: an
    alert sent that much later)."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    barrier = threading.Barrier(workers)
    for future in [pool.submit(barrier.wait, 10.0) for _ in range(workers)]:
        future.result()
    return pool
