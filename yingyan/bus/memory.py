"""The in-memory bus: one process, thread-safe, de-duplicating by message key."""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Sequence

from yingyan.bus.messages import Message

SEEN_KEYS = 200_000  # keys remembered for de-duplication (oldest forgotten first)


class Subscription:
    """A named consumer's queue of the message types it asked for. ``get`` one; ``nack`` puts it back."""

    def __init__(self, name: str, kinds: tuple[type, ...], maxsize: int) -> None:
        self.name = name
        self.kinds = kinds
        self._queue: queue.Queue[Message] = queue.Queue(maxsize=maxsize)

    def offer(self, message: Message) -> None:
        if isinstance(message, self.kinds):
            self._queue.put(message)  # blocks when the consumer is far behind: back-pressure, nothing lost

    def get(self, timeout: float | None = None) -> Message | None:
        """The next message, or ``None`` after ``timeout`` seconds without one."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self, limit: int = 10_000) -> list[Message]:
        """Every message waiting now (up to ``limit``), without blocking."""
        out: list[Message] = []
        while len(out) < limit:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return out

    def nack(self, message: Message) -> None:
        """Hand a message back for redelivery (its consumer could not process it)."""
        self._queue.put(message)

    @property
    def pending(self) -> int:
        return self._queue.qsize()


class MemoryBus:
    """``publish(message)`` to every subscription that takes its type; duplicates (same key) dropped."""

    def __init__(self, queue_size: int = 100_000) -> None:
        self._subscriptions: list[Subscription] = []
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._queue_size = queue_size

    def subscribe(self, name: str, kinds: Sequence[type]) -> Subscription:
        subscription = Subscription(name, tuple(kinds), self._queue_size)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def publish(self, message: Message) -> bool:
        """Deliver ``message``; ``False`` when a message with its key was already published."""
        with self._lock:
            if message.key in self._seen:
                return False
            self._seen[message.key] = None
            if len(self._seen) > SEEN_KEYS:
                self._seen.popitem(last=False)
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.offer(message)
        return True
