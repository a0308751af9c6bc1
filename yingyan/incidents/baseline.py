"""What traffic usually is at a camera's lane, by time of day and day type: the yardstick of "abnormal".

Learnt from lane-state history (``lane_state.csv`` of the simulator or of ``yingyan analyze``)
with robust statistics: per camera, lane, day type and time-of-day bin, the median speed,
occupancy and flow and the speed's median absolute deviation, so that one odd day does not
move the baseline. Where there is no history (a new camera, an empty bin) the road class's
congestion table gives a cold start: free-flowing traffic at the table's "free" speed.

Congestion departs from the baseline when the lane is slower than its usual speed by more
than ``k`` spreads (and at least ``min_drop_kmh``); recurrent peak congestion at a bottleneck
is slow every workday at that hour, and does not depart.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

import numpy as np
from pydantic import Field, PrivateAttr

from yingyan.config import StrictModel
from yingyan.errors import ConfigError
from yingyan.traffic.levels import RoadClass, default_thresholds

MAD_TO_SIGMA = 1.4826  # a normal distribution's standard deviation per median absolute deviation
MIN_SAMPLES = 3  # fewer intervals than this in a bin: not history enough, use the road class


class DayType(StrEnum):
    """Kinds of day with different traffic."""

    WORKDAY = "workday"
    WEEKEND = "weekend"


def day_type(when: datetime) -> DayType:
    """The day type of a local time (Saturday and Sunday are the weekend)."""
    return DayType.WEEKEND if when.weekday() >= 5 else DayType.WORKDAY


class BaselineBin(StrictModel):
    """Usual traffic at one lane in one time-of-day bin of one day type."""

    camera_id: str = Field(title="Camera", description="Camera id.")
    lane_id: str = Field(title="Lane", description="Lane id.")
    day_type: DayType = Field(title="Day type", description="workday or weekend.")
    bin_start_min: int = Field(title="Bin start (min)", description="Minutes after local midnight.", ge=0, lt=1440)
    speed_kmh: float = Field(title="Speed (km/h)", description="Median space-mean speed.")
    speed_spread_kmh: float = Field(title="Speed spread (km/h)", description="MAD × 1.4826 of the speed.", ge=0)
    occupancy_pct: float = Field(title="Occupancy (%)", description="Median occupancy.")
    flow_vph: float = Field(title="Flow (veh/h)", description="Median flow.")
    samples: int = Field(title="Samples", description="Intervals the bin was learnt from.", ge=0)


class Baseline(StrictModel):
    """A site's baseline: bins of ``bin_min`` minutes per camera, lane and day type."""

    bin_min: int = Field(default=15, title="Bin (min)", description="Width of a time-of-day bin.", ge=1, le=240)
    bins: list[BaselineBin] = Field(default_factory=list, title="Bins", description="Learnt bins.")
    _lookup: dict[tuple[str, str, DayType, int], BaselineBin] | None = PrivateAttr(default=None)

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"{path}: cannot read baseline ({error.strerror or error})") from None
        except ValueError as error:
            raise ConfigError(f"{path}: not a baseline ({str(error).splitlines()[0]})") from None

    def expected(self, camera_id: str, lane_id: str, when: datetime, road_class: RoadClass) -> Expected:
        """Usual traffic at a lane at a local time; the road class's cold start where nothing was learnt."""
        index = self._index()
        minute = when.hour * 60 + when.minute
        key = (camera_id, lane_id, day_type(when), minute - minute % self.bin_min)
        learnt = index.get(key)
        if learnt is not None and learnt.samples >= MIN_SAMPLES:
            return Expected(learnt.speed_kmh, learnt.speed_spread_kmh, learnt.occupancy_pct, learnt.flow_vph, "history")
        return cold_start(road_class)

    def _index(self) -> dict[tuple[str, str, DayType, int], BaselineBin]:
        if self._lookup is None:
            self._lookup = {(b.camera_id, b.lane_id, b.day_type, b.bin_start_min): b for b in self.bins}
        return self._lookup


@dataclass(frozen=True)
class Expected:
    """Usual traffic at one lane and time, and where that knowledge comes from."""

    speed_kmh: float
    speed_spread_kmh: float
    occupancy_pct: float
    flow_vph: float
    source: str  # "history" or "road_class"

    def departs(self, speed_kmh: float, k: float = 3.0, min_drop_kmh: float = 10.0) -> bool:
        """Whether a lane speed is abnormally low against this: more than ``k`` spreads and ``min_drop_kmh`` below."""
        if math.isnan(speed_kmh):
            return False
        return speed_kmh < self.speed_kmh - max(k * self.speed_spread_kmh, min_drop_kmh)


def cold_start(road_class: RoadClass) -> Expected:
    """Usual traffic when nothing was learnt: free flow at the road class's "free" speed."""
    table = default_thresholds(road_class)
    # Spread: a third of the "free" band, so that the default margin (3 spreads, at least 10 km/h)
    # calls a lane abnormal once it falls out of the table's two free levels.
    spread = (table.free_above - table.basic_above) / 3.0
    return Expected(table.free_above, spread, math.nan, math.nan, "road_class")


def learn(rows: Iterable[dict[str, str]], start: datetime, bin_min: int = 15) -> Baseline:
    """A baseline from lane-state rows whose ``interval_start_s`` counts from local time ``start``."""
    groups: dict[tuple[str, str, DayType, int], list[tuple[float, float, float]]] = defaultdict(list)
    for row in rows:
        speed = float(row["speed_space_mean_kmh"]) if row.get("speed_space_mean_kmh") not in (None, "") else math.nan
        if math.isnan(speed):
            continue  # an interval with no vehicle says nothing about speed
        when = start + timedelta(seconds=float(row["interval_start_s"]))
        minute = when.hour * 60 + when.minute
        key = (row["camera_id"], row["lane_id"], day_type(when), minute - minute % bin_min)
        groups[key].append((speed, float(row["occupancy_pct"]), float(row["flow_vph"])))
    bins = []
    for (camera_id, lane_id, kind, minute), values in sorted(groups.items()):
        table = np.asarray(values, dtype=np.float64)
        speeds = table[:, 0]
        median = float(np.median(speeds))
        bins.append(
            BaselineBin(
                camera_id=camera_id,
                lane_id=lane_id,
                day_type=kind,
                bin_start_min=minute,
                speed_kmh=median,
                speed_spread_kmh=MAD_TO_SIGMA * float(np.median(np.abs(speeds - median))),
                occupancy_pct=float(np.median(table[:, 1])),
                flow_vph=float(np.median(table[:, 2])),
                samples=len(values),
            )
        )
    return Baseline(bin_min=bin_min, bins=bins)


def read_lane_state(paths: Iterable[Path]) -> list[dict[str, str]]:
    """Rows of every ``lane_state.csv`` given, or found under the folders given."""
    rows: list[dict[str, str]] = []
    for path in paths:
        files = sorted(path.rglob("lane_state.csv")) if path.is_dir() else [path]
        if not files:
            raise ConfigError(f"{path}: no lane_state.csv in it")
        for file in files:
            try:
                with file.open(encoding="utf-8", newline="") as handle:
                    reader = csv.DictReader(handle)
                    missing = {"camera_id", "lane_id", "interval_start_s", "speed_space_mean_kmh"} - set(
                        reader.fieldnames or []
                    )
                    if missing:
                        raise ConfigError(f"{file}: not a lane-state table (no {', '.join(sorted(missing))})")
                    rows.extend(reader)
            except OSError as error:
                raise ConfigError(f"{file}: cannot read ({error.strerror or error})") from None
    return rows
