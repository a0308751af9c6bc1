"""Score measured lane state against ground truth (both in ``lane_state.csv`` form)."""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from yingyan.errors import YingyanError


@dataclass(frozen=True)
class StateErrors:
    """Errors of measured against true lane state over matched lane-intervals."""

    intervals: int
    true_count: int
    count_error_pct: float  # Σ|measured − true count| / Σ true count × 100
    speed_mae_kmh: float  # space-mean speed, over intervals where both have traffic
    queue_mae_m: float
    occupancy_mae_pts: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def cells(self) -> list[str]:
        """The figures as table cells, in the order of :data:`TABLE_COLUMNS` after the name."""
        return [
            str(self.intervals),
            str(self.true_count),
            f"{self.count_error_pct:.1f}",
            f"{self.speed_mae_kmh:.2f}",
            f"{self.queue_mae_m:.1f}",
            f"{self.occupancy_mae_pts:.2f}",
        ]


TABLE_COLUMNS: tuple[str, ...] = (
    "lane-intervals",
    "true count",
    "count error %",
    "speed MAE km/h",
    "queue MAE m",
    "occupancy error pts",
)


def read_lane_states(root: Path) -> dict[tuple[str, float], dict[str, str]]:
    """Every ``lane_state.csv`` under ``root`` (or ``root`` itself), keyed by (lane id, interval start)."""
    files = [root] if root.is_file() else sorted(root.rglob("lane_state.csv"))
    if not files:
        raise YingyanError(f"{root}: no lane_state.csv found")
    rows: dict[tuple[str, float], dict[str, str]] = {}
    for path in files:
        with path.open(encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {
                "lane_id",
                "interval_start_s",
                "count",
                "speed_space_mean_kmh",
                "queue_m",
                "occupancy_pct",
            } - set(reader.fieldnames or [])
            if missing:
                raise YingyanError(f"{path}: not a lane-state table (missing {', '.join(sorted(missing))})")
            for row in reader:
                rows[(row["lane_id"], round(float(row["interval_start_s"]), 3))] = row
    return rows


def _num(text: str) -> float:
    return float(text) if text not in ("", None) else math.nan


def score(
    truth: dict[tuple[str, float], dict[str, str]], measured: dict[tuple[str, float], dict[str, str]]
) -> tuple[StateErrors, dict[str, StateErrors]]:
    """Errors overall and per lane over the lane-intervals present in both."""
    keys = sorted(set(truth) & set(measured))
    if not keys:
        raise YingyanError("truth and measurement share no (lane, interval): are they the same cameras and run?")
    by_lane: dict[str, list[tuple[str, float]]] = {}
    for key in keys:
        by_lane.setdefault(key[0], []).append(key)
    per_lane = {lane: _errors(truth, measured, lane_keys) for lane, lane_keys in sorted(by_lane.items())}
    return _errors(truth, measured, keys), per_lane


def _errors(
    truth: dict[tuple[str, float], dict[str, str]],
    measured: dict[tuple[str, float], dict[str, str]],
    keys: list[tuple[str, float]],
) -> StateErrors:
    count_abs = sum(abs(int(measured[k]["count"]) - int(truth[k]["count"])) for k in keys)
    true_count = sum(int(truth[k]["count"]) for k in keys)
    speed = [abs(_num(measured[k]["speed_space_mean_kmh"]) - _num(truth[k]["speed_space_mean_kmh"])) for k in keys]
    speed = [s for s in speed if not math.isnan(s)]
    queue = [abs(_num(measured[k]["queue_m"]) - _num(truth[k]["queue_m"])) for k in keys]
    occ = [abs(_num(measured[k]["occupancy_pct"]) - _num(truth[k]["occupancy_pct"])) for k in keys]
    return StateErrors(
        intervals=len(keys),
        true_count=true_count,
        count_error_pct=100.0 * count_abs / true_count if true_count else math.nan,
        speed_mae_kmh=sum(speed) / len(speed) if speed else math.nan,
        queue_mae_m=sum(queue) / len(queue),
        occupancy_mae_pts=sum(occ) / len(occ),
    )
