"""KPIs of the incident timeline (DESIGN.md: FHWA T0–T7), per incident and over a period.

Per incident, in seconds: time to detect (T0 → the engine's decision), to alert (decision →
first receipt on a terminal), to acknowledge, to confirm, to dispatch and to arrive (from the
decision), roadway clearance (T0 → lanes open), incident clearance (T0 → closed), and the
duration of the abnormal congestion (T0 → the engine saw it end). Over a period: medians and
90th percentiles, incidents per day by cause, and false alarms per camera-day from dismissals
(camera-days counted from the traffic states the cameras delivered).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yingyan.service import models as m
from yingyan.service.access import Principal

MEASURES = (
    "time_to_detect_s",
    "time_to_alert_s",
    "time_to_acknowledge_s",
    "time_to_confirm_s",
    "time_to_dispatch_s",
    "time_to_arrive_s",
    "roadway_clearance_s",
    "incident_clearance_s",
    "abnormal_congestion_s",
)


def _first(steps: list[m.Step], action: str) -> datetime | None:
    return next((st.at for st in steps if st.action == action), None)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else round((b - a).total_seconds(), 1)


def incident_kpis(row: m.Incident, steps: list[m.Step], alert: m.Alert | None) -> dict[str, Any]:
    """The timeline KPIs of one incident (``None`` where that step has not happened)."""
    t0, decided = row.started_at, row.detected_at
    dispatched = _first(steps, "dispatch")
    return {
        "time_to_detect_s": _seconds(t0, decided),
        "time_to_alert_s": _seconds(alert.decided_at, alert.first_delivered_at) if alert is not None else None,
        "time_to_acknowledge_s": _seconds(decided, _first(steps, "acknowledge")),
        "time_to_confirm_s": _seconds(decided, _first(steps, "confirm")),
        "time_to_dispatch_s": _seconds(decided, dispatched),
        "time_to_arrive_s": _seconds(decided, _first(steps, "arrive")),
        "response_s": _seconds(dispatched, _first(steps, "arrive")),
        "roadway_clearance_s": _seconds(t0, _first(steps, "clear")),
        "incident_clearance_s": _seconds(t0, _first(steps, "close")),
        "abnormal_congestion_s": _seconds(t0, row.ended_at),
    }


def aggregate(session: Session, principal: Principal, since: datetime, until: datetime) -> dict[str, Any]:
    """KPIs over the incidents a user sees that were detected in [since, until)."""
    rows = [
        r
        for r in session.scalars(
            select(m.Incident).where(m.Incident.detected_at >= since, m.Incident.detected_at < until)
        )
        if principal.can_see(r.district, r.departments)
    ]
    ids = [r.id for r in rows]
    steps: dict[str, list[m.Step]] = defaultdict(list)
    for st in session.scalars(select(m.Step).where(m.Step.incident_id.in_(ids)).order_by(m.Step.id)):
        steps[st.incident_id].append(st)
    alerts = {a.incident_id: a for a in session.scalars(select(m.Alert).where(m.Alert.incident_id.in_(ids)))}
    values: dict[str, list[float]] = defaultdict(list)
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    dismissed: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        for key, value in incident_kpis(r, steps[r.id], alerts.get(r.id)).items():
            if value is not None:
                values[key].append(value)
        per_day[r.detected_at.date().isoformat()][r.cause] += 1
        dismissal = next((st for st in steps[r.id] if st.action == "dismiss"), None)
        if dismissal is not None:
            camera = r.source_camera_id or "?"
            dismissed[camera] += 1
            reasons[camera][str(dismissal.data.get("reason", ""))] += 1
    visible = {c.id for c in session.scalars(select(m.Camera)) if principal.in_district(c.district)}
    observed = {cam: days for cam, days in _camera_days(session, since, until).items() if cam in visible}
    cameras = sorted(set(observed) | set(dismissed))
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "incidents": len(rows),
        "alerted": sum(1 for r in rows if r.id in alerts),
        "measures": {
            key: {"n": len(values[key]), "median": _pct(values[key], 50), "p90": _pct(values[key], 90)}
            for key in (*MEASURES, "response_s")
        },
        "per_day": {day: dict(counts) for day, counts in sorted(per_day.items())},
        "false_alarms": {
            camera: {
                "dismissed": dismissed[camera],
                "camera_days": round(observed.get(camera, 0.0), 3),
                "per_camera_day": (round(dismissed[camera] / observed[camera], 3) if observed.get(camera) else None),
                "reasons": dict(reasons[camera]),
            }
            for camera in cameras
        },
    }


def _camera_days(session: Session, since: datetime, until: datetime) -> dict[str, float]:
    """Days each camera watched in the period: distinct lane-state windows × their length."""
    rows = session.execute(
        select(m.LaneState.camera_id, m.LaneState.window_start, func.max(m.LaneState.interval_s))
        .where(m.LaneState.window_start >= since, m.LaneState.window_start < until)
        .group_by(m.LaneState.camera_id, m.LaneState.window_start)
    ).all()
    days: dict[str, float] = defaultdict(float)
    for camera, _, interval in rows:
        days[str(camera)] += float(interval or 0.0) / 86400.0
    return dict(days)


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None
