"""The incident store: what comes from the engine and the cameras goes in, the loop's steps are
taken here, and every read is scoped to the user who asks.

One transaction per change. An incident whose alert is decided gets, in the same transaction,
its alert row and one outbox row per channel, so an alert decided before a crash is sent after
the restart (``outbox.Dispatcher``). A second engine report of the same incident updates it;
an engine incident that repeats an open stored one (the same cause at the same place: the
engine restarted, or split a cause) is folded into it and alerts nobody again.
"""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import av
import cv2
import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from yingyan.errors import YingyanError
from yingyan.incidents.engine import Incident as EngineIncident
from yingyan.incidents.engine import LaneInterval
from yingyan.incidents.events import Event as EngineEvent
from yingyan.service import models as m
from yingyan.service.access import SYSTEM, Principal
from yingyan.service.config import ServiceConfig
from yingyan.service.db import Database
from yingyan.service.workflow import ENDED_STATES, NEEDS, OPEN_STATES, Action, Role, State, TransitionError, next_state
from yingyan.site import Site

log = logging.getLogger(__name__)

FOLD_RADIUS_M = 40.0  # an engine incident this close to an open stored one of the same cause repeats it
FOLD_WINDOW_S = 900.0  # …if that one was updated this recently
STANDING = {"stopped_vehicle", "crash"}  # one vehicle standing: the engine may report either first
MEDIA = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".mp4": "video/mp4"}


class NotFound(YingyanError):
    """Nothing with that id, or nothing this user may see (the two are not told apart)."""


class BadUpload(YingyanError):
    """An upload that cannot be taken (empty, too large, not what it claims to be); ``status`` is the HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RunContext:
    """Where engine reports come from: which run, when its stream second 0 was, where its files lie."""

    run_key: str
    clock_start: datetime  # UTC instant of stream second 0
    evidence_root: Path  # the folder engine evidence paths are relative to
    speed: float = 1.0  # streams played at this multiple of real time (a replay, a demo)
    confined_to: tuple[Path, ...] = ()  # evidence is taken only from inside these folders (default: evidence_root)

    def evidence_source(self, path: str) -> Path | None:
        """The file an engine evidence path names, or ``None`` when it lies outside the run's folders
        (``../../etc/passwd``, a link that leads out): the camera side never names other files."""
        source = (self.evidence_root / path).resolve()
        roots = [root.resolve() for root in (self.confined_to or (self.evidence_root,))]
        return source if any(source.is_relative_to(root) for root in roots) else None

    def at(self, stream_s: float) -> datetime:
        """The instant of a stream second (a stream played faster than real time runs a faster clock)."""
        return self.clock_start + timedelta(seconds=stream_s / self.speed)


@dataclass(frozen=True)
class Ingested:
    """What one engine report did."""

    incident_id: str
    created: bool
    alert_id: str | None  # set when this report decided the alert
    folded: bool = False


def utcnow() -> datetime:
    return datetime.now(UTC)


class IncidentStore:
    """The service's data: ingest from the engine and cameras, workflow actions, scoped reads."""

    def __init__(self, db: Database, config: ServiceConfig, data_dir: Path, timezone: str = "Asia/Shanghai") -> None:
        self.db = db
        self.config = config
        self.evidence_dir = data_dir / "evidence"
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        self.zone = ZoneInfo(timezone)
        self._departments = {d.code: d for d in config.departments}

    # -- configuration ---------------------------------------------------------------------------

    def sync_site(self, site: Site, configs: dict[str, dict[str, Any]] | None = None) -> None:
        """Districts, departments and cameras from the site file; a camera whose configuration
        changed gets a new config version (the old ones are kept)."""
        names = {d.id: d.name for d in self.config.districts}
        with self.db.sessions.begin() as s:
            for district in sorted(set(names) | {c.district for c in site.cameras}):
                row = s.get(m.District, district)
                if row is None:
                    s.add(m.District(id=district, name=names.get(district, district)))
                elif district in names:
                    row.name = names[district]
            for dept in self.config.departments:
                row_d = s.get(m.Department, dept.code)
                if row_d is None:
                    s.add(m.Department(code=dept.code, name_zh=dept.name_zh, name_en=dept.name_en))
                else:
                    row_d.name_zh, row_d.name_en = dept.name_zh, dept.name_en
            s.flush()
            for cam in site.cameras:
                row_c = s.get(m.Camera, cam.id)
                if row_c is None:
                    row_c = m.Camera(id=cam.id, district=cam.district, config_version=0)
                    s.add(row_c)
                row_c.name, row_c.district, row_c.site = cam.name or cam.id, cam.district, site.name
                row_c.position_m, row_c.direction, row_c.road_class = (
                    cam.position_m,
                    cam.direction,
                    cam.road_class.value,
                )
                config = (configs or {}).get(cam.id) or cam.model_dump(mode="json")
                digest = hashlib.sha256(repr(sorted(config.items())).encode()).hexdigest()
                last = s.scalar(
                    select(m.CameraConfig)
                    .where(m.CameraConfig.camera_id == cam.id)
                    .order_by(m.CameraConfig.version.desc())
                    .limit(1)
                )
                if last is None or last.digest != digest:
                    version = (last.version if last else 0) + 1
                    s.flush()
                    s.add(
                        m.CameraConfig(
                            camera_id=cam.id, version=version, digest=digest, config=config, created_at=utcnow()
                        )
                    )
                    row_c.config_version = version

    # -- from the camera side --------------------------------------------------------------------

    def ingest_lane_states(self, run: RunContext, states: list[LaneInterval], rows: list[dict[str, str]]) -> int:
        """Lane states (with their CSV rows for occupancy and queue); a window already stored is left."""
        added = 0
        with self.db.sessions.begin() as s:
            for state, row in zip(states, rows, strict=True):
                start = run.at(state.start_s)
                exists = s.scalar(
                    select(m.LaneState.id).where(
                        m.LaneState.camera_id == state.camera_id,
                        m.LaneState.lane_id == state.lane_id,
                        m.LaneState.window_start == start,
                    )
                )
                if exists is not None:
                    continue
                s.add(
                    m.LaneState(
                        camera_id=state.camera_id,
                        lane_id=state.lane_id,
                        window_start=start,
                        interval_s=state.interval_s,
                        flow_vph=_num(state.flow_vph),
                        speed_kmh=_num(state.speed_kmh),
                        density_vpkm=_num(state.density_vpkm),
                        occupancy_pct=_num(_float(row.get("occupancy_pct"))),
                        queue_m=_num(_float(row.get("queue_m"))),
                        level=state.level,
                    )
                )
                added += 1
        return added

    def ingest_event(self, run: RunContext, event: EngineEvent) -> None:
        """A camera event (raised or ended); the same report twice changes nothing."""
        with self.db.sessions.begin() as s:
            row = s.get(m.Event, event.id)
            if row is None:
                row = m.Event(
                    id=event.id,
                    type=event.type.value,
                    camera_id=event.camera_id,
                    lane_id=event.lane_id,
                    started_at=run.at(event.start_s),
                    alerted_at=run.at(event.alert_s),
                    position=[round(event.position[0], 2), round(event.position[1], 2)],
                    details={k: round(v, 3) for k, v in event.details.items() if math.isfinite(v)},
                )
                s.add(row)
            if event.end_s is not None:
                row.ended_at = run.at(event.end_s)

    def prune_lane_states(self, now: datetime | None = None) -> int:
        """Delete lane states past their retention; how many."""
        cutoff = (now or utcnow()) - timedelta(days=self.config.lane_state_retention_days)
        with self.db.sessions.begin() as s:
            result = s.execute(delete(m.LaneState).where(m.LaneState.window_start < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)

    # -- from the engine -------------------------------------------------------------------------

    def ingest_incident(
        self, run: RunContext, incident: EngineIncident, decided_at: datetime | None = None
    ) -> Ingested:
        """One engine report of an incident: create, update or fold; decide its alert once."""
        engine_key = f"{run.run_key}:{incident.id}"
        decided_at = decided_at or utcnow()
        with self.db.sessions.begin() as s:
            ref = s.get(m.IncidentEngineRef, engine_key)
            row = s.get(m.Incident, ref.incident_id) if ref is not None else None
            created = folded = False
            if row is None:
                row = self._repeated(s, incident, run)
                folded = row is not None
                if row is None:
                    row = self._create(s, run, incident, engine_key, decided_at)
                    created = True
                s.add(m.IncidentEngineRef(engine_key=engine_key, incident_id=row.id))
            self._update(s, row, run, incident, decided_at)
            alert_id = None
            alert = s.scalar(select(m.Alert).where(m.Alert.incident_id == row.id))
            if incident.alert_s is not None and incident.abnormal and alert is None:
                alert_id = self._decide_alert(s, row, decided_at)
            elif alert is not None and (folded or not created):
                alert.folded += 1 if folded else 0
                alert.severity = max(alert.severity, row.severity)
            self._attach_events(s, row, incident)
            self._attach_evidence(s, row, run, incident)
            incident_id = row.id
        if alert_id:
            log.info(
                "alert %s decided for incident %s",
                alert_id,
                incident_id,
                extra={"incident_id": incident_id, "alert_id": alert_id},
            )
        return Ingested(incident_id, created, alert_id, folded)

    def _repeated(self, s: Session, incident: EngineIncident, run: RunContext) -> m.Incident | None:
        """An open stored incident the engine's new one repeats (same cause and place, recent)."""
        since = utcnow() - timedelta(seconds=FOLD_WINDOW_S)
        for row in s.scalars(
            select(m.Incident).where(
                m.Incident.state.in_([st.value for st in OPEN_STATES]), m.Incident.updated_at >= since
            )
        ):
            same_cause = row.cause == incident.cause or (row.cause in STANDING and incident.cause in STANDING)
            if not same_cause or row.source_segment != incident.source_segment:
                continue
            a, b = row.source_position_m, incident.source_position_m
            if (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= FOLD_RADIUS_M):
                return row
        return None

    def _create(
        self, s: Session, run: RunContext, incident: EngineIncident, key: str, decided_at: datetime
    ) -> m.Incident:
        day = decided_at.astimezone(self.zone).strftime("%Y%m%d")
        count = s.scalar(select(func.count()).select_from(m.Incident).where(m.Incident.id.like(f"INC-{day}-%"))) or 0
        camera = s.get(m.Camera, incident.source_camera_id or (incident.camera_ids[0] if incident.camera_ids else ""))
        district = camera.district if camera is not None else "default"
        if s.get(m.District, district) is None:
            s.add(m.District(id=district, name=district))
            s.flush()
        row = m.Incident(
            id=f"INC-{day}-{count + 1:04d}",
            engine_key=key,
            type=incident.type,
            cause=incident.cause,
            abnormal=incident.abnormal,
            state=State.DETECTED.value,
            severity=incident.severity,
            district=district,
            camera_ids=list(incident.camera_ids),
            source_camera_id=incident.source_camera_id,
            source_segment=incident.source_segment,
            source_position_m=incident.source_position_m,
            lanes_blocked=incident.lanes_blocked,
            started_at=run.at(incident.start_s),
            detected_at=run.at(incident.alert_s) if incident.alert_s is not None else decided_at,
            updated_at=decided_at,
            updates=0,
            timeline=[],
            departments=[],
        )
        s.add(row)
        s.flush()
        s.add(
            m.Step(
                incident_id=row.id,
                at=decided_at,
                actor="system",
                role=Role.SYSTEM.value,
                action="detect",
                from_state="",
                to_state=State.DETECTED.value,
                note=f"{incident.cause} at {incident.source_segment}",
                data={"engine_key": key},
            )
        )
        return row

    def _update(self, s: Session, row: m.Incident, run: RunContext, incident: EngineIncident, now: datetime) -> None:
        row.type, row.cause, row.abnormal = incident.type, incident.cause, row.abnormal or incident.abnormal
        row.severity = max(row.severity, incident.severity) if row.updates else incident.severity
        row.camera_ids = list(dict.fromkeys([*row.camera_ids, *incident.camera_ids]))
        row.source_camera_id, row.source_segment = incident.source_camera_id, incident.source_segment
        row.source_position_m, row.lanes_blocked = (
            incident.source_position_m,
            max(row.lanes_blocked, incident.lanes_blocked),
        )
        row.started_at = min(row.started_at, run.at(incident.start_s))
        row.ended_at = run.at(incident.end_s) if incident.end_s is not None else None
        row.timeline = [{"at": run.at(t).isoformat(), "what": what} for t, what in incident.timeline]
        row.updated_at, row.updates = now, row.updates + 1

    def _decide_alert(self, s: Session, row: m.Incident, now: datetime) -> str:
        alert_id = f"ALR-{row.id}"
        camera = s.get(m.Camera, row.source_camera_id or "")
        payload = alert_payload(row, alert_id, now, camera)
        s.add(
            m.Alert(
                id=alert_id,
                incident_id=row.id,
                district=row.district,
                severity=row.severity,
                decided_at=now,
                payload=payload,
            )
        )
        s.flush()
        for channel in self.channels_for(row.severity):
            s.add(outbox_row(alert_id, channel, "alert", payload, now))
        self._step(s, row, SYSTEM, Action.ALERT, now, note=f"alert {alert_id}")
        return alert_id

    def channels_for(self, severity: int) -> list[str]:
        channels = ["websocket"]
        if self.config.mqtt is not None:
            channels.append("mqtt")
        channels += [f"webhook:{w.name}" for w in self.config.webhooks if severity >= w.min_severity]
        return channels

    def _attach_events(self, s: Session, row: m.Incident, incident: EngineIncident) -> None:
        for event_id in incident.event_ids:
            event = s.get(m.Event, event_id)
            if event is not None and event.incident_id is None:
                event.incident_id = row.id

    def _attach_evidence(self, s: Session, row: m.Incident, run: RunContext, incident: EngineIncident) -> None:
        for kind, relative in incident.evidence.items():
            source = run.evidence_source(relative)
            if source is None:
                log.warning("incident %s: evidence %s %r lies outside the run's folders; not taken", row.id, kind,
                            relative[:200], extra={"incident_id": row.id})  # fmt: skip
                continue
            evidence_id = "EV-" + hashlib.sha256(f"{row.id}:{source}".encode()).hexdigest()[:16]
            if s.get(m.Evidence, evidence_id) is not None:
                continue
            s.add(
                m.Evidence(
                    id=evidence_id,
                    incident_id=row.id,
                    kind=kind,
                    media_type=MEDIA.get(source.suffix.lower(), "application/octet-stream"),
                    source=str(source),
                    status="pending",
                    created_at=utcnow(),
                )
            )
            s.flush()
            self._store_file(s.get(m.Evidence, evidence_id))

    def _store_file(self, evidence: m.Evidence | None) -> bool:
        """Copy a pending evidence file into the evidence folder once it is complete."""
        if evidence is None or evidence.status == "stored":
            return False
        source = Path(evidence.source)
        if not source.is_file() or not _complete(source):
            return False
        folder = self.evidence_dir / evidence.incident_id
        target = folder / f"{evidence.id}{source.suffix.lower()}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            data = target.read_bytes()
        except OSError as error:  # a full disk: the alert goes on; the file is copied when there is room
            log.warning("evidence %s of %s not stored yet: %s", evidence.id, evidence.incident_id, error,
                        extra={"incident_id": evidence.incident_id})  # fmt: skip
            target.unlink(missing_ok=True)
            return False
        evidence.digest, evidence.size = hashlib.sha256(data).hexdigest(), len(data)
        evidence.path, evidence.status = str(target.relative_to(self.evidence_dir)), "stored"
        return True

    def sweep_evidence(self) -> int:
        """Store evidence files that were still being recorded when their incident came in."""
        stored = 0
        with self.db.sessions.begin() as s:
            for evidence in s.scalars(select(m.Evidence).where(m.Evidence.status == "pending").limit(200)):
                stored += self._store_file(evidence)
        return stored

    def add_photo(self, principal: Principal, incident_id: str, data: bytes, note: str) -> str:
        """An officer's photo from the scene: checked by its content (JPEG or PNG that decodes, whatever the
        upload claimed), stored as evidence of this incident and noted in the audit."""
        media_type, suffix = photo_type(data)
        with self.db.sessions.begin() as s:
            row = self.visible(s, principal, incident_id)
            next_state(State(row.state), Action.NOTE, principal.role)
            digest = hashlib.sha256(data).hexdigest()
            evidence_id = "EV-" + hashlib.sha256(f"{row.id}:{digest}".encode()).hexdigest()[:16]
            folder = self.evidence_dir / row.id
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{evidence_id}{suffix}").write_bytes(data)
            if s.get(m.Evidence, evidence_id) is None:
                s.add(
                    m.Evidence(
                        id=evidence_id,
                        incident_id=row.id,
                        kind="photo",
                        media_type=media_type,
                        path=f"{row.id}/{evidence_id}{suffix}",
                        status="stored",
                        digest=digest,
                        size=len(data),
                        created_by=principal.username,
                        created_at=utcnow(),
                    )
                )
            self._step(
                s, row, principal, Action.NOTE, utcnow(), note=note or "photo", data={"evidence_id": evidence_id}
            )
            return evidence_id

    # -- the loop ----------------------------------------------------------------------------------

    def act(
        self, principal: Principal, incident_id: str, action: Action, note: str = "", data: dict[str, Any] | None = None
    ) -> m.Incident:
        """Take ``action`` on an incident; TransitionError (refused) or NotFound (not visible)."""
        data = dict(data or {})
        needed = NEEDS.get(action)
        if needed == "note" and not note.strip():
            raise TransitionError("a note needs some text")
        if needed in ("reason", "unit") and not str(data.get(needed, "")).strip():
            raise TransitionError(f"{action.value} needs a {needed}")
        if needed == "departments":
            departments = [str(d) for d in data.get("departments") or []]
            unknown = [d for d in departments if d not in self._departments]
            if not departments or unknown:
                known = ", ".join(self._departments)
                raise TransitionError(
                    f"report needs departments among {known}" + (f" (unknown: {unknown})" if unknown else "")
                )
            data["departments"] = departments
        now = utcnow()
        with self.db.sessions.begin() as s:
            row = self.visible(s, principal, incident_id)
            if not principal.can_act(action, row.district, row.departments):
                raise TransitionError(f"{principal.username} may not {action.value} incident {row.id}", forbidden=True)
            self._step(s, row, principal, action, now, note=note, data=data)
            if action is Action.REPORT:
                row.departments = sorted(set(row.departments) | set(data["departments"]))
                s.flush()
                from yingyan.service.report import report_body

                body = report_body(self, s, row, principal)
                s.add(
                    m.Report(
                        incident_id=row.id,
                        departments=data["departments"],
                        created_at=now,
                        created_by=principal.username,
                        body=body,
                    )
                )
            log.info(
                "%s: %s by %s -> %s", row.id, action.value, principal.username, row.state, extra={"incident_id": row.id}
            )
            return row

    def _step(
        self,
        s: Session,
        row: m.Incident,
        principal: Principal,
        action: Action,
        at: datetime,
        note: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        before = State(row.state)
        after = next_state(before, action, principal.role)
        s.add(
            m.Step(
                incident_id=row.id,
                at=at,
                actor=principal.username,
                role=principal.role.value,
                action=action.value,
                from_state=before.value,
                to_state=after.value,
                note=note.strip(),
                data=data or {},
            )
        )
        row.state = after.value

    # -- reads, scoped -----------------------------------------------------------------------------

    def visible(self, s: Session, principal: Principal, incident_id: str) -> m.Incident:
        row = s.get(m.Incident, incident_id)
        if row is None or not principal.can_see(row.district, row.departments):
            raise NotFound(f"no incident {incident_id}")
        return row

    def incident(self, principal: Principal, incident_id: str) -> dict[str, Any]:
        with self.db.sessions() as s:
            row = self.visible(s, principal, incident_id)
            return self.detail(s, row, principal)

    def detail(self, s: Session, row: m.Incident, principal: Principal) -> dict[str, Any]:
        from yingyan.service.kpi import incident_kpis
        from yingyan.service.workflow import allowed_actions

        steps = list(s.scalars(select(m.Step).where(m.Step.incident_id == row.id).order_by(m.Step.id)))
        alert = s.scalar(select(m.Alert).where(m.Alert.incident_id == row.id))
        evidence = list(
            s.scalars(select(m.Evidence).where(m.Evidence.incident_id == row.id).order_by(m.Evidence.created_at))
        )
        return {
            **summary(row, alert, self.sla_s(row)),
            "timeline": row.timeline,
            "steps": [step_json(st) for st in steps],
            "evidence": [evidence_json(e) for e in evidence],
            "kpis": incident_kpis(row, steps, alert),
            "actions": [
                a.value
                for a in allowed_actions(State(row.state), principal.role)
                if principal.can_act(a, row.district, row.departments)
            ],
            "suggested_departments": self.config.suggested_departments.get(row.cause, []),
            "alert": None
            if alert is None
            else {
                "id": alert.id,
                "decided_at": alert.decided_at.isoformat(),
                "escalations": alert.escalations,
                "first_delivered_at": None
                if alert.first_delivered_at is None
                else alert.first_delivered_at.isoformat(),
                "folded": alert.folded,
            },
        }

    def incidents(
        self,
        principal: Principal,
        state: str | None = None,
        open_only: bool = False,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """The incidents a user sees, most severe first, newest first within a severity."""
        with self.db.sessions() as s:
            query = select(m.Incident)
            if state is not None:
                query = query.where(m.Incident.state == state)
            if open_only:
                query = query.where(m.Incident.state.notin_([st.value for st in ENDED_STATES]))
            if since is not None:
                query = query.where(m.Incident.detected_at >= since)
            query = query.order_by(m.Incident.severity.desc(), m.Incident.detected_at.desc())
            rows = [r for r in s.scalars(query) if principal.can_see(r.district, r.departments)][:limit]
            alerts = {
                a.incident_id: a
                for a in s.scalars(select(m.Alert).where(m.Alert.incident_id.in_([r.id for r in rows])))
            }
            return [summary(r, alerts.get(r.id), self.sla_s(r)) for r in rows]

    def evidence_file(self, principal: Principal, evidence_id: str) -> tuple[Path, str]:
        """The stored file of an evidence item the user may see, and its media type."""
        with self.db.sessions() as s:
            evidence = s.get(m.Evidence, evidence_id)
            if evidence is None:
                raise NotFound(f"no evidence {evidence_id}")
            self.visible(s, principal, evidence.incident_id)
            if evidence.status != "stored":
                self._store_file(evidence)
                s.commit()
            if evidence.status != "stored":
                raise NotFound(f"evidence {evidence_id} is still being recorded")
            return self.evidence_dir / evidence.path, evidence.media_type

    def cameras(self, principal: Principal) -> list[dict[str, Any]]:
        with self.db.sessions() as s:
            return [
                {
                    "id": c.id,
                    "name": c.name,
                    "district": c.district,
                    "site": c.site,
                    "position_m": c.position_m,
                    "direction": c.direction,
                    "road_class": c.road_class,
                    "config_version": c.config_version,
                }
                for c in s.scalars(select(m.Camera).order_by(m.Camera.id))
                if principal.in_district(c.district)
            ]

    def lane_states(
        self, principal: Principal, camera_id: str, since: datetime, until: datetime
    ) -> list[dict[str, Any]]:
        with self.db.sessions() as s:
            camera = s.get(m.Camera, camera_id)
            if camera is None or not principal.in_district(camera.district):
                raise NotFound(f"no camera {camera_id}")
            rows = s.scalars(
                select(m.LaneState)
                .where(
                    m.LaneState.camera_id == camera_id,
                    m.LaneState.window_start >= since,
                    m.LaneState.window_start < until,
                )
                .order_by(m.LaneState.window_start)
            )
            return [
                {
                    "lane_id": r.lane_id,
                    "window_start": r.window_start.isoformat(),
                    "interval_s": r.interval_s,
                    "flow_vph": r.flow_vph,
                    "speed_kmh": r.speed_kmh,
                    "density_vpkm": r.density_vpkm,
                    "occupancy_pct": r.occupancy_pct,
                    "queue_m": r.queue_m,
                    "level": r.level,
                }
                for r in rows
            ]

    def latest_states(self, principal: Principal) -> dict[str, dict[str, Any]]:
        """Each visible camera's latest interval: the worst level and slowest speed over its lanes."""
        with self.db.sessions() as s:
            latest = (
                select(m.LaneState.camera_id, func.max(m.LaneState.window_start).label("w"))
                .group_by(m.LaneState.camera_id)
                .subquery()
            )
            rows = s.execute(
                select(m.LaneState).join(
                    latest, (m.LaneState.camera_id == latest.c.camera_id) & (m.LaneState.window_start == latest.c.w)
                )
            ).scalars()
            visible = {c.id for c in s.scalars(select(m.Camera)) if principal.in_district(c.district)}
            out: dict[str, dict[str, Any]] = {}
            for r in rows:
                if r.camera_id not in visible:
                    continue
                item = out.setdefault(
                    r.camera_id, {"window_start": r.window_start.isoformat(), "level": 0, "speed_kmh": None,
                                  "flow_vph": 0.0, "queue_m": 0.0},
                )  # fmt: skip
                item["level"] = max(item["level"], r.level)
                if r.speed_kmh is not None:
                    item["speed_kmh"] = (
                        r.speed_kmh if item["speed_kmh"] is None else min(item["speed_kmh"], r.speed_kmh)
                    )
                item["flow_vph"] += r.flow_vph or 0.0
                item["queue_m"] = max(item["queue_m"], r.queue_m or 0.0)
            return out

    def speeds(self, camera_ids: list[str], since: datetime, until: datetime) -> dict[str, list[tuple[str, float]]]:
        """Mean speed over the lanes per camera and interval (for a space-time view of a spread)."""
        with self.db.sessions() as s:
            rows = s.execute(
                select(m.LaneState.camera_id, m.LaneState.window_start, func.avg(m.LaneState.speed_kmh))
                .where(m.LaneState.camera_id.in_(camera_ids), m.LaneState.window_start >= since,
                       m.LaneState.window_start < until)
                .group_by(m.LaneState.camera_id, m.LaneState.window_start)
                .order_by(m.LaneState.window_start)
            ).all()  # fmt: skip
            out: dict[str, list[tuple[str, float]]] = {c: [] for c in camera_ids}
            for camera, window, speed in rows:
                if speed is not None:
                    out[str(camera)].append((window.isoformat() if isinstance(window, datetime) else str(window),
                                             round(float(speed), 1)))  # fmt: skip
            return out

    def departments(self) -> list[dict[str, str]]:
        return [{"code": d.code, "name_zh": d.name_zh, "name_en": d.name_en} for d in self.config.departments]

    def sla_s(self, row: m.Incident) -> float:
        """The dispatch deadline (s after detection): 5 min by day, 10 at night (22:00–06:00 local)."""
        hour = row.detected_at.astimezone(self.zone).hour
        night = hour >= 22 or hour < 6
        return self.config.dispatch_sla_night_s if night else self.config.dispatch_sla_day_s

    def open_counts(self) -> dict[str, int]:
        with self.db.sessions() as s:
            rows = s.execute(select(m.Incident.state, func.count()).group_by(m.Incident.state)).all()
            return {str(state): int(n) for state, n in rows}


def outbox_row(alert_id: str, channel: str, kind: str, payload: dict[str, Any], now: datetime) -> m.Outbox:
    """A message to send over ``channel``, due now (written in the transaction that decided it)."""
    return m.Outbox(alert_id=alert_id, channel=channel, kind=kind, payload=payload, status="pending", attempts=0,
                    next_attempt_at=now, created_at=now)  # fmt: skip


def alert_payload(row: m.Incident, alert_id: str, decided_at: datetime, camera: m.Camera | None) -> dict[str, Any]:
    """What a terminal receives: where, what, how bad, since when, and the snapshot's address."""
    return {
        "alert_id": alert_id,
        "incident_id": row.id,
        "district": row.district,
        "severity": row.severity,
        "type": row.type,
        "cause": row.cause,
        "camera_id": row.source_camera_id,
        "camera_name": camera.name if camera is not None else row.source_camera_id,
        "segment": row.source_segment,
        "position_m": None if row.source_position_m is None else round(row.source_position_m, 1),
        "lanes_blocked": row.lanes_blocked,
        "camera_ids": list(row.camera_ids),
        "started_at": row.started_at.isoformat(),
        "decided_at": decided_at.isoformat(),
        "decided_epoch": decided_at.timestamp(),
    }


def summary(row: m.Incident, alert: m.Alert | None, sla_s: float) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "cause": row.cause,
        "abnormal": row.abnormal,
        "state": row.state,
        "severity": row.severity,
        "district": row.district,
        "camera_ids": list(row.camera_ids),
        "source_camera_id": row.source_camera_id,
        "source_segment": row.source_segment,
        "source_position_m": row.source_position_m,
        "lanes_blocked": row.lanes_blocked,
        "started_at": row.started_at.isoformat(),
        "detected_at": row.detected_at.isoformat(),
        "ended_at": None if row.ended_at is None else row.ended_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "alert_id": alert.id if alert is not None else None,
        "departments": list(row.departments),
        "dispatch_due_at": (row.detected_at + timedelta(seconds=sla_s)).isoformat(),
    }


def step_json(step: m.Step) -> dict[str, Any]:
    return {
        "at": step.at.isoformat(),
        "actor": step.actor,
        "role": step.role,
        "action": step.action,
        "from": step.from_state,
        "to": step.to_state,
        "note": step.note,
        "data": step.data,
    }


def evidence_json(e: m.Evidence) -> dict[str, Any]:
    return {
        "id": e.id,
        "kind": e.kind,
        "media_type": e.media_type,
        "status": e.status,
        "size": e.size,
        "url": f"/api/v1/evidence/{e.id}",
        "created_by": e.created_by,
    }


PHOTO_MAX_PIXELS = 50_000_000  # a photo larger than this (a decompression bomb) is refused before decoding


def photo_type(data: bytes) -> tuple[str, str]:
    """A photo's media type and file suffix, from its content: a JPEG or PNG image that decodes
    (BadUpload: 422 empty, 415 anything else)."""
    if not data:
        raise BadUpload(422, "the photo is empty")
    if data.startswith(b"\xff\xd8\xff"):
        media_type, suffix = "image/jpeg", ".jpg"
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        media_type, suffix = "image/png", ".png"
    else:
        raise BadUpload(415, "a photo must be a JPEG or PNG image; this file is neither")
    size = _image_size(data)
    if size is None:
        raise BadUpload(415, f"the photo is not a readable {suffix[1:].upper()} image")
    if size[0] * size[1] > PHOTO_MAX_PIXELS:
        raise BadUpload(413, f"the photo has {size[0]}x{size[1]} pixels; at most {PHOTO_MAX_PIXELS // 10**6} MP")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    if image is None:
        raise BadUpload(415, f"the photo is not a readable {suffix[1:].upper()} image")
    return media_type, suffix


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR or a JPEG's start-of-frame header, without decoding the image."""
    if data.startswith(b"\x89PNG"):
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            return int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big")
        at += 2 + length
    return None


def _complete(path: Path) -> bool:
    """Whether a file is finished: an MP4 opens only once its writer has closed it (its index is written last)."""
    if path.suffix.lower() != ".mp4":
        return True
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video)
    except (av.FFmpegError, OSError):
        return False


def _float(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def _num(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)
