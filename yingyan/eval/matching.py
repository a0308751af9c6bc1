"""Alerts matched to ground-truth incidents by place and time; the measures of DESIGN.md.

An alert matches an incident when it is within ``radius_m`` of the incident's position along
the road and is raised between the incident's trigger (less ``slack_s``) and its end. The
earliest matching alert detects the incident (time to detect, onset error, cause); further
matching alerts are duplicates, and congestion reported at a camera the incident affects
while it lasts is its consequence: neither is a false alarm. Every other alert is false.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# The event type that names each simulated incident type's cause.
CAUSE = {"stall": "stopped_vehicle", "crash": "crash", "illegal_parking": "illegal_parking"}
CONSEQUENCES = {"congestion", "queue_spillback"}
NRMSE_CAP_S = 300.0  # S4 (AI City Challenge): NRMSE = min(RMSE, 300 s) / 300 s


@dataclass(frozen=True)
class TruthIncident:
    """One incident of a simulated run, as its manifest states it."""

    id: str
    type: str
    position_m: float
    start_s: float
    trigger_s: float
    end_s: float | None
    camera_ids: tuple[str, ...]


@dataclass(frozen=True)
class Alert:
    """One alert: what was raised, where along the road (m), when it began and when it was raised."""

    camera_id: str
    type: str
    position_m: float
    start_s: float
    alert_s: float


@dataclass(frozen=True)
class Scores:
    """DESIGN.md's measures over a set of runs."""

    incidents: int
    detected: int
    alerts: int
    false_alarms: int
    camera_hours: float
    ttd_s: tuple[float, ...]
    onset_errors_s: tuple[float, ...]
    causes_right: int

    @property
    def detection_rate(self) -> float:
        return self.detected / self.incidents if self.incidents else math.nan

    @property
    def false_alarms_per_camera_hour(self) -> float:
        return self.false_alarms / self.camera_hours if self.camera_hours else math.nan

    @property
    def ttd_median_s(self) -> float:
        return float(np.median(self.ttd_s)) if self.ttd_s else math.nan

    @property
    def ttd_p90_s(self) -> float:
        return float(np.percentile(self.ttd_s, 90)) if self.ttd_s else math.nan

    @property
    def onset_rmse_s(self) -> float:
        errors = np.asarray(self.onset_errors_s)
        return float(np.sqrt(np.mean(errors**2))) if len(errors) else math.nan

    @property
    def cause_accuracy(self) -> float:
        return self.causes_right / self.detected if self.detected else math.nan

    @property
    def s4(self) -> float:
        """F1 × (1 − NRMSE): precision over alerts that are not false, recall = detection rate."""
        true_alerts = self.alerts - self.false_alarms
        precision = true_alerts / self.alerts if self.alerts else (1.0 if not self.incidents else 0.0)
        recall = self.detection_rate if self.incidents else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        rmse = self.onset_rmse_s if self.onset_errors_s else 0.0
        return f1 * (1.0 - min(rmse, NRMSE_CAP_S) / NRMSE_CAP_S)

    def __add__(self, other: Scores) -> Scores:
        return Scores(
            self.incidents + other.incidents, self.detected + other.detected, self.alerts + other.alerts,
            self.false_alarms + other.false_alarms, self.camera_hours + other.camera_hours,
            self.ttd_s + other.ttd_s, self.onset_errors_s + other.onset_errors_s,
            self.causes_right + other.causes_right,
        )  # fmt: skip

    def as_dict(self) -> dict[str, float | int]:
        return {
            "incidents": self.incidents,
            "detected": self.detected,
            "alerts": self.alerts,
            "false_alarms": self.false_alarms,
            "camera_hours": round(self.camera_hours, 3),
            "detection_rate": _round(self.detection_rate),
            "false_alarms_per_camera_hour": _round(self.false_alarms_per_camera_hour),
            "ttd_median_s": _round(self.ttd_median_s),
            "ttd_p90_s": _round(self.ttd_p90_s),
            "onset_rmse_s": _round(self.onset_rmse_s),
            "s4": _round(self.s4),
            "cause_accuracy": _round(self.cause_accuracy),
        }


def _round(value: float) -> float:
    return round(value, 3) if not math.isnan(value) else math.nan


def truth_from_manifest(manifest: Mapping[str, Any]) -> list[TruthIncident]:
    """The incidents a simulated run's manifest records (those that took place)."""
    out = []
    for item in manifest.get("incidents", []):
        if item.get("start_s") is None:
            continue  # never happened in the run (e.g. the crash pair could not be found)
        out.append(
            TruthIncident(
                id=str(item["id"]),
                type=str(item["type"]),
                position_m=float(item["position_m"]),
                start_s=float(item["start_s"]),
                trigger_s=float(item.get("trigger_s") or item["start_s"]),
                end_s=float(item["end_s"]) if item.get("end_s") is not None else None,
                # Where it is seen, and where its congestion reaches (the queue spilling back).
                camera_ids=tuple(dict.fromkeys([*item.get("camera_ids", ()), *(item.get("congestion") or {})])),
            )
        )
    return out


def score_alerts(
    alerts: Iterable[Alert],
    truths: list[TruthIncident],
    camera_hours: float,
    duration_s: float,
    radius_m: float = 60.0,
    slack_s: float = 10.0,
) -> Scores:
    """Match ``alerts`` to ``truths`` of one run (``duration_s`` long, ``camera_hours`` watched)."""
    pending = sorted(alerts, key=lambda a: a.alert_s)
    matched: dict[str, Alert] = {}
    false_alarms = 0
    for alert in pending:
        hit = None
        for truth in truths:
            end = truth.end_s if truth.end_s is not None else duration_s
            in_time = truth.trigger_s - slack_s <= alert.alert_s <= end + slack_s
            if not in_time:
                continue
            if abs(alert.position_m - truth.position_m) <= radius_m or (
                alert.type in CONSEQUENCES and alert.camera_id in truth.camera_ids
            ):
                hit = truth
                break
        if hit is None:
            false_alarms += 1
        elif hit.id not in matched and alert.type not in CONSEQUENCES:
            matched[hit.id] = alert
    ttd = tuple(matched[t.id].alert_s - t.start_s for t in truths if t.id in matched)
    onset = tuple(matched[t.id].start_s - t.start_s for t in truths if t.id in matched)
    right = sum(1 for t in truths if t.id in matched and CAUSE.get(t.type) == matched[t.id].type)
    return Scores(len(truths), len(matched), len(pending), false_alarms, camera_hours, ttd, onset, right)
