"""Re-joining broken tracks: a vehicle that the tracker loses for a moment keeps its id.

A tracker driven at 5 fps loses a fast vehicle now and then (a missed detection, a box that
jumps as blobs merge and split) and starts a new track for it a frame or two later. Counted
at a line, that vehicle is then missed (the old track ended before the line, the new one began
after it) or counted twice. :class:`TrackStitcher` gives a newly started track the id of a
track lost within the last ``max_gap_s`` seconds whose motion, carried forward, ends where the
new track begins. The other way round, when a tracker id jumps across lanes or leaps along
the road (two boxes crossing, and the tracker swapping them), the rest of it becomes a track
of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y`` over ``x`` (as ``np.polyfit(x, y, 1)[0]``, far cheaper); 0 if ``x`` is flat."""
    dx = x - x.mean()
    var = float(dx @ dx)
    return float(dx @ (y - y.mean())) / var if var > 0 else 0.0


@dataclass
class _Trail:
    """Recent road positions of one vehicle (canonical id)."""

    t: list[float] = field(default_factory=list)
    s: list[float] = field(default_factory=list)  # along the direction of travel, m
    w: list[float] = field(default_factory=list)  # across it, m
    v: float = 0.0  # m/s along travel, fitted to the positions held (once per new position)

    def add(self, t: float, s: float, w: float) -> None:
        self.t.append(t)
        self.s.append(s)
        self.w.append(w)
        del self.t[:-6], self.s[:-6], self.w[:-6]
        moving = len(self.t) >= 2 and self.t[-1] - self.t[0] > 0
        self.v = slope(np.asarray(self.t), np.asarray(self.s)) if moving else 0.0

    def speed(self) -> float:
        return self.v


SPLIT_ID_BASE = 1_000_000_000  # ids given to the second half of a track the tracker mixed up


class TrackStitcher:
    """``update(time_s, ids, s, w) -> ids``: tracker ids mapped to stitched (canonical) ids."""

    def __init__(self, max_gap_s: float = 1.5, along_tol_m: float = 4.0, across_tol_m: float = 1.5) -> None:
        self.max_gap_s = max_gap_s
        self.along_tol_m = along_tol_m
        self.across_tol_m = across_tol_m
        self._alias: dict[int, int] = {}  # tracker id -> canonical id
        self._alias_seen: dict[int, float] = {}
        self._trails: dict[int, _Trail] = {}
        self._split = 0

    def update(self, time_s: float, ids: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
        out = np.empty(len(ids), dtype=int)
        present = {self._alias[int(i)] for i in ids if int(i) in self._alias}
        for k, raw in enumerate(int(i) for i in ids):
            if raw in self._alias and not self._consistent(self._alias[raw], time_s, float(s[k]), float(w[k])):
                # The tracker handed this id to another vehicle (two boxes crossing): a new track.
                self._split += 1
                self._alias[raw] = SPLIT_ID_BASE + self._split
                present.add(self._alias[raw])
            if raw not in self._alias:
                match = self._match(time_s, float(s[k]), float(w[k]), present)
                self._alias[raw] = raw if match is None else match
                present.add(self._alias[raw])
            cid = self._alias[raw]
            self._alias_seen[raw] = time_s
            self._trails.setdefault(cid, _Trail()).add(time_s, float(s[k]), float(w[k]))
            out[k] = cid
        self._forget(time_s)
        return out

    def _consistent(self, cid: int, time_s: float, s: float, w: float) -> bool:
        """Whether (s, w) continues the track's motion (no jump across lanes, no leap along the road)."""
        trail = self._trails.get(cid)
        if trail is None:
            return True
        gap = max(time_s - trail.t[-1], 0.0)
        speed = trail.speed()
        predicted = trail.s[-1] + speed * gap
        # Generous: a track that starts slowly has no speed yet, and positions far from the camera
        # are coarse; only a leap no vehicle makes, or a jump of a lane or more, is a swap.
        jump_along = abs(s - predicted) > 2.5 * self.along_tol_m + abs(speed) * gap
        jump_across = abs(w - trail.w[-1]) > 2.0 * self.across_tol_m
        return not (jump_along or jump_across)

    def _match(self, time_s: float, s: float, w: float, present: set[int]) -> int | None:
        """The lost track whose motion carried forward lands closest to (s, w), if close enough."""
        best, best_cost = None, 1.0
        for cid, trail in self._trails.items():
            gap = time_s - trail.t[-1]
            if cid in present or not 0 < gap <= self.max_gap_s:
                continue
            predicted = trail.s[-1] + trail.speed() * gap
            along = abs(s - predicted) / (self.along_tol_m + 0.15 * abs(trail.speed()) * gap)
            across = abs(w - trail.w[-1]) / self.across_tol_m
            cost = max(along, across)
            if cost < best_cost:
                best, best_cost = cid, cost
        return best

    def _forget(self, time_s: float) -> None:
        horizon = time_s - 4 * self.max_gap_s
        for cid in [c for c, trail in self._trails.items() if trail.t[-1] < horizon]:
            del self._trails[cid]
        for raw in [r for r, seen in self._alias_seen.items() if seen < horizon]:
            del self._alias[raw], self._alias_seen[raw]

    def speed(self, cid: int) -> float:
        """Current speed (m/s along travel) of a stitched track, from its last few positions."""
        trail = self._trails.get(cid)
        return 0.0 if trail is None else trail.speed()

    @property
    def live(self) -> int:
        """Ids held in memory (bounded: everything unseen for a few seconds is forgotten)."""
        return len(self._alias) + len(self._trails)
