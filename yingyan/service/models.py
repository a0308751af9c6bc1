"""The service's tables (SQLAlchemy 2): what it stores and how rows refer to each other.

Instants are UTC with time zone on every back-end (:class:`UtcDateTime`). Identifiers are the
stable ids of DESIGN.md (camera, lane, incident, alert); rows that come from the camera side
keep their natural key as primary or unique key, so a redelivered message changes nothing.
The migrations under ``migrations/`` create exactly these tables (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """A UTC instant: stored with its zone where the back-end can, always read back as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC instant is stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class District(Base):
    __tablename__ = "districts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")


class Department(Base):
    """A department that incidents are reported to (路政, 清障, 120, 119, 城管 …)."""

    __tablename__ = "departments"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    districts: Mapped[list[Any]] = mapped_column(JSON, default=list)  # district ids; ["*"]: all
    department: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), nullable=True)
    supervisor: Mapped[bool] = mapped_column(Boolean, default=False)  # escalations go to supervisors
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class LoginSession(Base):
    """A login: the token's SHA-256 (the token itself is never stored)."""

    __tablename__ = "sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Camera(Base):
    __tablename__ = "cameras"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    district: Mapped[str] = mapped_column(ForeignKey("districts.id"))
    site: Mapped[str] = mapped_column(String(100), default="")
    position_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    direction: Mapped[str] = mapped_column(String(32), default="forward")
    road_class: Mapped[str] = mapped_column(String(32), default="arterial")
    config_version: Mapped[int] = mapped_column(Integer, default=0)


class CameraConfig(Base):
    """Each version of a camera's configuration (source, calibration, rules), kept for the record."""

    __tablename__ = "camera_configs"
    __table_args__ = (UniqueConstraint("camera_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class LaneState(Base):
    """One lane's traffic state over one interval; (camera, lane, window start) is its natural key."""

    __tablename__ = "lane_states"
    __table_args__ = (
        UniqueConstraint("camera_id", "lane_id", "window_start"),
        Index("ix_lane_states_window", "window_start"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(32))
    lane_id: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[datetime]
    interval_s: Mapped[float] = mapped_column(Float)
    flow_vph: Mapped[float | None] = mapped_column(Float, nullable=True)
    speed_kmh: Mapped[float | None] = mapped_column(Float, nullable=True)
    density_vpkm: Mapped[float | None] = mapped_column(Float, nullable=True)
    occupancy_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    queue_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    level: Mapped[int] = mapped_column(Integer, default=0)


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # INC-YYYYMMDD-NNNN
    engine_key: Mapped[str] = mapped_column(String(120), unique=True)  # run + the engine's own id
    type: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(32))
    abnormal: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[int] = mapped_column(Integer)
    district: Mapped[str] = mapped_column(ForeignKey("districts.id"), index=True)
    camera_ids: Mapped[list[Any]] = mapped_column(JSON)
    source_camera_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    source_segment: Mapped[str] = mapped_column(String(80), default="")
    source_position_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    lanes_blocked: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime]  # T0, as the engine estimates it
    detected_at: Mapped[datetime]  # the engine's decision (alert time, or first record)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # congestion over
    updated_at: Mapped[datetime]
    updates: Mapped[int] = mapped_column(Integer, default=0)  # engine reports folded into it
    timeline: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the engine's timeline, UTC
    departments: Mapped[list[Any]] = mapped_column(JSON, default=list)  # departments reported to


class IncidentEngineRef(Base):
    """Engine incidents folded into a stored one (a restart's engine reports a cause afresh)."""

    __tablename__ = "incident_engine_refs"
    engine_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"))


class Event(Base):
    """A camera event (natural key: the event id; its end report updates the row)."""

    __tablename__ = "events"
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    camera_id: Mapped[str] = mapped_column(String(32), index=True)
    lane_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[datetime]
    alerted_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    position: Mapped[list[Any]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id"), nullable=True, index=True)


class Evidence(Base):
    """A snapshot or clip of an incident, stored under the evidence folder, addressed by id."""

    __tablename__ = "evidence"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # snapshot, clip, photo
    media_type: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text, default="")  # the camera side's file it is copied from
    path: Mapped[str] = mapped_column(Text, default="")  # relative to the evidence folder, once stored
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending (clip still recording), stored
    digest: Mapped[str] = mapped_column(String(64), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime]


class Step(Base):
    """One workflow step: append-only audit of who did what, when (never updated or deleted)."""

    __tablename__ = "steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))  # username, or "system"
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # reason, unit, departments


class Alert(Base):
    """The alert of one incident (one per incident: later engine reports fold into it)."""

    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # ALR-<incident id>
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), unique=True)
    district: Mapped[str] = mapped_column(String(64), index=True)
    severity: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime]
    first_delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    folded: Mapped[int] = mapped_column(Integer, default=0)  # repeats folded into it, not re-sent
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class Outbox(Base):
    """A message to send, written in the transaction that decided it; the dispatcher sends it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(80))  # websocket, mqtt, webhook:<name>
    kind: Mapped[str] = mapped_column(String(16))  # alert, escalation
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class Delivery(Base):
    """An alert handed to one terminal, and when that terminal acknowledged receiving it."""

    __tablename__ = "deliveries"
    # One delivery per alert, user and terminal: a handheld passed to the next shift receives the
    # alerts again for its new user; a terminal id is never shared by two users at once.
    __table_args__ = (UniqueConstraint("alert_id", "user_id", "terminal_id", name="uq_deliveries_alert_user_terminal"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    terminal_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sent_at: Mapped[datetime]
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Report(Base):
    """A multi-department report of an incident, as issued (JSON body, kept as sent)."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    departments: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class ServiceProbe(Base):
    """The row each service instance writes to prove the database takes writes (``/healthz``)."""

    __tablename__ = "service_probe"
    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # the instance (host:pid)
    at: Mapped[datetime]
