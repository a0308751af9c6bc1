"""The checkpoint network the incident engine reasons over: which camera lies downstream of which,
how far, and where on the road a camera's events and measured stretch are.

Built from a site (``site.yaml``) and the cameras' calibrations. Positions are *chainage* along
the road (m); each camera's traffic travels towards larger chainage (``sign`` +1) or smaller
(−1). Where a camera's calibration has the road's chainage as its road-plane x axis (the
simulator's calibrations, ``road_x_is_chainage``), events are placed on the road by their x;
otherwise at the checkpoint's own position.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from yingyan.calibration import CameraCalibration
from yingyan.site import Site


@dataclass(frozen=True)
class Checkpoint:
    """One camera as a node of the network."""

    id: str
    position_m: float  # chainage of the checkpoint
    sign: int  # +1: its traffic travels towards larger chainage; −1: smaller
    view_m: tuple[float, float]  # chainage of the measured stretch (low, high)
    road_x_is_chainage: bool
    direction: str  # the carriageway it watches

    @property
    def downstream_edge_m(self) -> float:
        """Chainage of the far end of the measured stretch in the direction of travel."""
        return self.view_m[1] if self.sign > 0 else self.view_m[0]

    @property
    def upstream_edge_m(self) -> float:
        return self.view_m[0] if self.sign > 0 else self.view_m[1]

    def chainage(self, road: tuple[float, float]) -> float:
        """Where on the road a point of this camera's road plane lies."""
        return float(road[0]) if self.road_x_is_chainage else self.position_m

    def sees(self, chainage_m: float, margin_m: float = 0.0) -> bool:
        """Whether a place lies within the measured stretch (widened by ``margin_m``)."""
        return self.view_m[0] - margin_m <= chainage_m <= self.view_m[1] + margin_m


@dataclass(frozen=True)
class Link:
    """A directed road link between two checkpoints, in the direction of travel."""

    upstream: str
    downstream: str
    distance_m: float


class Network:
    """Checkpoints and links; ``downstream(id)`` and ``upstream(id)`` walk the graph."""

    def __init__(self, checkpoints: list[Checkpoint], links: list[Link]) -> None:
        self.checkpoints = {c.id: c for c in checkpoints}
        self.links = list(links)
        self._down: dict[str, list[Link]] = {c.id: [] for c in checkpoints}
        self._up: dict[str, list[Link]] = {c.id: [] for c in checkpoints}
        for link in self.links:
            self._down[link.upstream].append(link)
            self._up[link.downstream].append(link)

    def downstream(self, camera_id: str) -> list[Link]:
        return list(self._down.get(camera_id, []))

    def upstream(self, camera_id: str) -> list[Link]:
        return list(self._up.get(camera_id, []))

    def link(self, upstream: str, downstream: str) -> Link | None:
        return next((lk for lk in self._down.get(upstream, []) if lk.downstream == downstream), None)

    def on_link(self, link: Link, chainage_m: float) -> bool:
        """Whether a place lies on a link, between its two checkpoints' measured stretches."""
        a = self.checkpoints[link.upstream]
        b = self.checkpoints[link.downstream]
        lo, hi = sorted((a.position_m, b.position_m))
        return lo - 1.0 <= chainage_m <= hi + 1.0

    def along(self, link: Link, offset_m: float) -> float:
        """The chainage ``offset_m`` downstream of the upstream checkpoint's measured stretch."""
        a = self.checkpoints[link.upstream]
        return a.downstream_edge_m + a.sign * offset_m

    def gap_m(self, link: Link) -> float:
        """Road between the upstream camera's measured stretch and the downstream checkpoint's."""
        a = self.checkpoints[link.upstream]
        b = self.checkpoints[link.downstream]
        return max(abs(b.upstream_edge_m - a.downstream_edge_m), 1.0)

    @classmethod
    def from_site(cls, site: Site, root: Path) -> Network:
        """The network of a site file's cameras (calibrations read relative to ``root``)."""
        checkpoints = []
        for cam in site.cameras:
            path = Path(cam.calibration)
            calibration = CameraCalibration.load(path if path.is_absolute() else root / path)
            checkpoints.append(
                checkpoint_from(cam.id, cam.position_m, cam.direction, cam.road_x_is_chainage, calibration)
            )
        links = [Link(lk.upstream, lk.downstream, lk.distance_m) for lk in site.links]
        by_id = {c.id: c for c in checkpoints}
        for i, c in enumerate(checkpoints):
            if not c.road_x_is_chainage:  # its road plane says nothing of the road's direction: the links do
                downs = [by_id[lk.downstream].position_m for lk in links if lk.upstream == c.id]
                ups = [by_id[lk.upstream].position_m for lk in links if lk.downstream == c.id]
                sign = -1 if (downs and downs[0] < c.position_m) or (ups and ups[0] > c.position_m) else 1
                checkpoints[i] = replace(c, sign=sign)
        return cls(checkpoints, links)


def checkpoint_from(
    camera_id: str, position_m: float | None, direction: str, road_x_is_chainage: bool, calibration: CameraCalibration
) -> Checkpoint:
    """A checkpoint from its site entry and its calibration (the lanes give the measured stretch)."""
    lanes = [lane for lane in calibration.lanes if lane.direction == direction] or list(calibration.lanes)
    travel_x = float(np.mean([lane.travel[0] for lane in lanes]))
    sign = 1 if travel_x >= 0 else -1
    position = float(position_m) if position_m is not None else 0.0
    if road_x_is_chainage:
        xs = [x for lane in lanes for x, _ in lane.polygon_road]
        view = (float(min(xs)), float(max(xs)))
    else:
        view = (position, position)
    return Checkpoint(camera_id, position, sign, view, road_x_is_chainage, direction)
