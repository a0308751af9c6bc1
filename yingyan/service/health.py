"""What is wrong with the service right now: each part reports its faults as they happen and clear.

The ingest thread, the outbox's channels and the database probe each ``report`` under their own
name: a reason while something fails, ``None`` once it works again. ``/healthz`` shows the faults
with their reasons and since when; the log says when a fault began and how long it lasted, once
each (not on every retry).

>>> board = HealthBoard()
>>> board.report("mqtt", "broker 127.0.0.1:1883 not connected")
>>> [f.component for f in board.faults()]
['mqtt']
>>> board.report("mqtt", None)
>>> board.faults()
[]
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fault:
    """One part of the service failing: what, why, since when."""

    component: str
    reason: str
    since: datetime
    since_monotonic: float

    def json(self) -> dict[str, str | float]:
        return {
            "component": self.component,
            "reason": self.reason,
            "since": self.since.isoformat(),
            "for_s": round(max(time.monotonic() - self.since_monotonic, 0.0), 1),
        }


class HealthBoard:
    """The service's current faults by component (thread-safe)."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()

    def report(self, component: str, reason: str | None) -> None:
        """``component`` fails for ``reason`` (kept from its first report on), or works (``None``)."""
        with self._lock:
            old = self._faults.get(component)
            if reason is None:
                if old is not None:
                    del self._faults[component]
            elif old is None:
                self._faults[component] = Fault(component, reason[:300], datetime.now(UTC), time.monotonic())
            elif old.reason != reason[:300]:
                self._faults[component] = Fault(component, reason[:300], old.since, old.since_monotonic)
        if reason is None and old is not None:
            log.warning("%s recovered after %.1f s (%s)", component, time.monotonic() - old.since_monotonic, old.reason)
        elif reason is not None and old is None:
            log.error("%s failing: %s", component, reason)

    def faults(self) -> list[Fault]:
        with self._lock:
            return sorted(self._faults.values(), key=lambda f: f.component)

    def failing(self, component: str) -> bool:
        with self._lock:
            return component in self._faults
