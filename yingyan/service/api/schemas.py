"""Request and response models of the API (they make its OpenAPI spec)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from yingyan.service.api.guards import unstorable
from yingyan.service.workflow import Action


def _storable(text: str) -> str:
    why = unstorable(text)
    if why is not None:
        raise ValueError(why)
    return text


Text = Annotated[str, AfterValidator(_storable)]
"""A string the database can store: no NUL, no unpaired surrogate (refused with 422, naming the field)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Strict):
    username: Text = Field(min_length=1, max_length=64, description="User name.")
    password: Text = Field(min_length=1, max_length=200, description="Password.")


class Me(BaseModel):
    username: str
    role: str
    districts: list[str]
    department: str | None
    supervisor: bool


class LoginResponse(BaseModel):
    token: str = Field(description="Bearer token for the Authorization header (also set as a cookie).")
    expires_at: datetime
    user: Me


class ActionRequest(Strict):
    action: Action = Field(description="What to do: acknowledge, confirm, dismiss, dispatch, arrive, clear, …")
    note: Text = Field(default="", max_length=2000, description="A remark for the record (required for note).")
    reason: Text = Field(default="", max_length=500, description="Why it is dismissed (required for dismiss).")
    unit: Text = Field(default="", max_length=200, description="Who is dispatched (required for dispatch).")
    departments: list[Annotated[Text, Field(max_length=32)]] = Field(
        default_factory=list, max_length=20, description="Departments reported to (required for report)."
    )


class IncidentSummary(BaseModel):
    id: str
    type: str
    cause: str
    abnormal: bool
    state: str
    severity: int
    district: str
    camera_ids: list[str]
    source_camera_id: str | None
    source_segment: str
    source_position_m: float | None
    lanes_blocked: int
    started_at: datetime
    detected_at: datetime
    ended_at: datetime | None
    updated_at: datetime
    alert_id: str | None
    departments: list[str]
    dispatch_due_at: datetime


class StepOut(BaseModel):
    at: datetime
    actor: str
    role: str
    action: str
    from_: str = Field(alias="from")
    to: str
    note: str
    data: dict[str, Any]


class EvidenceOut(BaseModel):
    id: str
    kind: str
    media_type: str
    status: str
    size: int
    url: str
    created_by: str


class AlertOut(BaseModel):
    id: str
    decided_at: datetime
    escalations: int
    first_delivered_at: datetime | None
    folded: int


class IncidentDetail(IncidentSummary):
    timeline: list[dict[str, Any]]
    steps: list[StepOut]
    evidence: list[EvidenceOut]
    kpis: dict[str, float | None]
    actions: list[str]
    suggested_departments: list[str]
    alert: AlertOut | None


class PhotoOut(BaseModel):
    evidence_id: str


class CameraOut(BaseModel):
    id: str
    name: str
    district: str
    site: str
    position_m: float | None
    direction: str
    road_class: str
    config_version: int


class LaneStateOut(BaseModel):
    lane_id: str
    window_start: datetime
    interval_s: float
    flow_vph: float | None
    speed_kmh: float | None
    density_vpkm: float | None
    occupancy_pct: float | None
    queue_m: float | None
    level: int


class DepartmentOut(BaseModel):
    code: str
    name_zh: str
    name_en: str


class CameraHealthOut(BaseModel):
    camera_id: str
    state: str
    fps_in: float
    fps_out: float
    dropped: int
    reconnects: int
    lag_s: float
    last_frame_age_s: float | None
    stale: bool


class FaultOut(BaseModel):
    component: str = Field(description="The failing part: database, ingest, mqtt, webhook:<name>, …")
    reason: str = Field(description="Why, in the failing part's own words.")
    since: datetime = Field(description="When the fault began.")
    for_s: float = Field(description="How long it has lasted (s).")


class Health(BaseModel):
    status: str = Field(description="ok, or degraded when a part is not working (see faults)")
    faults: list[FaultOut] = Field(description="What fails now, with its reason; empty when ok.")
    database: bool = Field(description="The database took a write just now.")
    mqtt: bool | None
    outbox_pending: int
    outbox_failed: int = Field(description="Messages given up on; resent when their channel returns.")
    terminals: int
    cameras: list[CameraHealthOut]


class Problem(BaseModel):
    detail: str
