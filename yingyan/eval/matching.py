"""Alerts matched to ground-truth incidents by place and time; the measures of DESIGN.md.

An alert matches an incident when it is within ``radius_m`` of the incident's position along
the road and is raised between the incident's trigger (less ``slack_s``) and its end. The
earliest matching alert detects the incident (time to detect, onset error, cause); further
matching alerts are duplicates, and congestion reported at a camera the incident affects
while it lasts is its consequence: neither is a false alarm. Every other alert is false. An
incident traced to a blockage whose source camera is one the incident's congestion reaches
detects it even when its estimated position is further off: the source segment named is then
scored on its own (``source_top1``), the position error in metres.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# The event type that names each simulated incident type's cause when a camera sees it (a closure:
# its cones stand in the lane); what no camera sees is known only as a blockage of the road.
CAUSE = {
    "stall": "stopped_vehicle", "crash": "crash", "illegal_parking": "illegal_parking", "lane_closure": "lane_blocked",
}  # fmt: skip
UNSEEN_CAUSE = "blockage"
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
    camera_ids: tuple[str, ...]  # cameras that see it, and cameras its congestion reaches
    seen_by: tuple[str, ...] = ()  # cameras that see it
    segment: str = ""  # the camera that sees it ("K3"), or the link it lies on ("K3>K4")

    @property
    def cause(self) -> str:
        """The cause an alert should name."""
        return CAUSE.get(self.type, self.type) if self.seen_by else UNSEEN_CAUSE


@dataclass(frozen=True)
class Alert:
    """One alert: what was raised, where along the road (m), when it began and when it was raised."""

    camera_id: str
    type: str
    position_m: float
    start_s: float
    alert_s: float
    segment: str | None = None  # the source segment named (incidents), in the truth's terms


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
    sources_right: int = 0
    position_errors_m: tuple[float, ...] = ()

    @property
    def source_top1(self) -> float:
        """Share of incidents whose source segment was named right (missed incidents count as wrong)."""
        return self.sources_right / self.incidents if self.incidents else math.nan

    @property
    def source_position_error_m(self) -> float:
        """Median distance between the estimated and the true position of detected incidents."""
        return float(np.median(self.position_errors_m)) if self.position_errors_m else math.nan

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
            self.causes_right + other.causes_right, self.sources_right + other.sources_right,
            self.position_errors_m + other.position_errors_m,
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
            "source_top1": _round(self.source_top1),
            "source_position_error_m": _round(self.source_position_error_m),
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
                seen_by=tuple(item.get("camera_ids", ())),
                segment=_segment(manifest, item),
            )
        )
    return out


def _segment(manifest: Mapping[str, Any], item: Mapping[str, Any]) -> str:
    """The camera that sees an incident, else the link (upstream>downstream checkpoint) it lies on."""
    if item.get("camera_ids"):
        return str(item["camera_ids"][0])
    position = float(item["position_m"])
    for cam in manifest.get("cameras", []):
        if cam.get("watch", "forward") != item.get("direction", "forward"):
            continue
        for down in cam.get("downstream", []):
            other = next((c for c in manifest["cameras"] if c["id"] == down["camera_id"]), None)
            if other is None:
                continue
            lo, hi = sorted((float(cam["position_m"]), float(other["position_m"])))
            if lo <= position <= hi:
                return f"{cam['id']}>{other['id']}"
    return ""


@dataclass(frozen=True)
class Outcome:
    """What became of one true incident: found or not, how fast, named how."""

    type: str
    seen: bool  # a camera sees it (else only its congestion is seen)
    detected: bool
    ttd_s: float | None = None
    onset_error_s: float | None = None
    cause_right: bool = False
    source_right: bool = False
    reached: bool = True  # a camera sees it or its congestion (else no checkpoint camera could tell)

    @property
    def kind(self) -> str:
        """``stall in view``, ``crash unseen`` (only its queue seen), ``stall out of sight`` (neither it
        nor a queue of its reached a camera: a light stall beyond a view on a wide road): the groups the
        evaluation reports."""
        if not self.seen and not self.reached:
            return f"{self.type} out of sight"
        return f"{self.type} {'in view' if self.seen else 'unseen'}"


def _match(
    alerts: Iterable[Alert], truths: list[TruthIncident], duration_s: float, radius_m: float, slack_s: float
) -> tuple[dict[str, Alert], int, int]:
    """The first alert matching each incident, the false alarms, the alerts."""
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
            if (
                abs(alert.position_m - truth.position_m) <= radius_m
                or (alert.segment is not None and alert.segment == truth.segment)
                or ((alert.type in CONSEQUENCES or alert.type == UNSEEN_CAUSE) and alert.camera_id in truth.camera_ids)
            ):
                hit = truth
                break
        if hit is None:
            false_alarms += 1
        elif hit.id not in matched and alert.type not in CONSEQUENCES:
            matched[hit.id] = alert
    return matched, false_alarms, len(pending)


def outcomes(
    alerts: Iterable[Alert],
    truths: list[TruthIncident],
    duration_s: float,
    radius_m: float = 60.0,
    slack_s: float = 10.0,
) -> list[Outcome]:
    """Each true incident of one run with what the alerts made of it (matched as ``score_alerts`` does)."""
    matched = _match(alerts, truths, duration_s, radius_m, slack_s)[0]
    out = []
    for t in truths:
        a = matched.get(t.id)
        reached = bool(t.camera_ids)
        if a is None:
            out.append(Outcome(t.type, bool(t.seen_by), False, reached=reached))
        else:
            out.append(
                Outcome(t.type, bool(t.seen_by), True, a.alert_s - t.start_s, a.start_s - t.start_s,
                        t.cause == a.type, a.segment == t.segment, reached)
            )  # fmt: skip
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
    matched, false_alarms, alerted = _match(alerts, truths, duration_s, radius_m, slack_s)
    ttd = tuple(matched[t.id].alert_s - t.start_s for t in truths if t.id in matched)
    onset = tuple(matched[t.id].start_s - t.start_s for t in truths if t.id in matched)
    right = sum(1 for t in truths if t.id in matched and t.cause == matched[t.id].type)
    sources = sum(1 for t in truths if t.id in matched and matched[t.id].segment == t.segment)
    errors = tuple(abs(matched[t.id].position_m - t.position_m) for t in truths if t.id in matched)
    return Scores(len(truths), len(matched), alerted, false_alarms, camera_hours, ttd, onset, right, sources, errors)
