"""What a piece of work costs in CPU time: this process and the child processes it has waited for.

A stage that runs its work in worker processes (rendering, camera pipelines, SUMO) is measured
whole once its pools have shut down, because the operating system adds a child's CPU time to
``RUSAGE_CHILDREN`` when the child is reaped.

>>> clock = StageClock()
>>> with clock.stage("sum"):
...     _ = sum(range(1000))
>>> list(clock.cpu_s), clock.cpu_s["sum"] >= 0.0
(['sum'], True)
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


def cpu_seconds() -> float:
    """User and system CPU seconds of this process and its reaped children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class StageClock:
    """CPU and wall seconds per named stage; a stage run twice adds up."""

    cpu_s: dict[str, float] = field(default_factory=dict)
    wall_s: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as ``name``."""
        cpu, wall = cpu_seconds(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu_s[name] = self.cpu_s.get(name, 0.0) + cpu_seconds() - cpu
            self.wall_s[name] = self.wall_s.get(name, 0.0) + time.perf_counter() - wall

    def as_dict(self) -> dict[str, dict[str, float]]:
        """``{"cpu_s": {...}, "wall_s": {...}}``, rounded to milliseconds."""
        return {
            "cpu_s": {k: round(v, 3) for k, v in self.cpu_s.items()},
            "wall_s": {k: round(v, 3) for k, v in self.wall_s.items()},
        }
