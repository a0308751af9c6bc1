"""The incident service's configuration: the ``service`` section of a site file.

Every field has a title and a description (the JSON schema, the docs and the console's forms
come from them). Secrets (webhook keys, the MQTT password) are read from environment
variables named here, never written in the file, and never logged.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, model_validator

from yingyan.config import StrictModel


class DepartmentConfig(StrictModel):
    """A department incidents are reported to."""

    code: str = Field(
        title="Code", description="Stable department code (in the API and reports).", pattern=r"^[a-z0-9_]{1,32}$"
    )
    name_zh: str = Field(title="Name (zh-CN)", description="The department's name in Chinese.")
    name_en: str = Field(title="Name (English)", description="The department's name in English.")


DEFAULT_DEPARTMENTS = [
    DepartmentConfig(code="road", name_zh="路政", name_en="Road authority"),
    DepartmentConfig(code="tow", name_zh="清障/拖车", name_en="Tow and clearance"),
    DepartmentConfig(code="ambulance", name_zh="急救 120", name_en="Ambulance (120)"),
    DepartmentConfig(code="fire", name_zh="消防 119", name_en="Fire (119)"),
    DepartmentConfig(code="city", name_zh="城管", name_en="City management"),
]


class DistrictConfig(StrictModel):
    """A police district: the unit of who sees which incidents."""

    id: str = Field(
        title="District id", description="Stable id, as cameras and users name it.", pattern=r"^[A-Za-z0-9_-]{1,64}$"
    )
    name: str = Field(default="", title="Name", description="Human name of the district, e.g. 城东大队.")


class MqttConfig(StrictModel):
    """Alert push over MQTT, for existing terminals and systems."""

    host: str = Field(default="127.0.0.1", title="Broker host", description="MQTT broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, title="Broker port", description="MQTT broker port.")
    topic_prefix: str = Field(
        default="yingyan",
        title="Topic prefix",
        description="Alerts go to <prefix>/alerts/<district>/<severity>, "
        "escalations to <prefix>/escalations/<district>.",
    )
    qos: int = Field(default=1, ge=0, le=2, title="QoS", description="MQTT quality of service of alert messages.")
    client_id_prefix: str = Field(
        default="yingyan",
        title="Client id prefix",
        description="The service's MQTT client id is this prefix, the host, the process and a random part, so "
        "that two services on one broker never take each other's connection.",
        pattern=r"^[A-Za-z0-9_-]{1,20}$",
    )
    username: str | None = Field(default=None, title="Username", description="Broker user, if it asks for one.")
    password_env: str | None = Field(
        default=None, title="Password variable", description="Environment variable holding the broker password."
    )
    timeout_s: float = Field(
        default=5.0, gt=0, title="Timeout (s)", description="How long to wait for the broker's ack."
    )


class WebhookConfig(StrictModel):
    """Alert push to another platform over HTTP, signed with HMAC-SHA256."""

    name: str = Field(title="Name", description="Name of the receiving platform.", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    url: str = Field(title="URL", description="Where alerts are POSTed (http:// or https://).", pattern=r"^https?://")
    secret_env: str = Field(
        title="Secret variable",
        description="Environment variable holding the shared key; each request carries "
        "X-Yingyan-Signature: sha256=HMAC(key, timestamp + '.' + body).",
    )
    min_severity: int = Field(default=1, ge=1, le=4, title="Least severity", description="Only alerts this severe.")
    timeout_s: float = Field(default=5.0, gt=0, title="Timeout (s)", description="How long one request may take.")

    def secret(self) -> bytes:
        value = os.environ.get(self.secret_env)
        if not value:
            raise ValueError(f"webhook {self.name}: environment variable {self.secret_env} is not set")
        return value.encode("utf-8")


EscalationChannel = Literal["websocket", "mqtt", "webhook"]
ESCALATION_CHANNELS: tuple[EscalationChannel, ...] = ("websocket", "mqtt", "webhook")


class EscalationConfig(StrictModel):
    """What happens to an alert nobody acknowledges."""

    after_s: float = Field(
        default=120.0,
        ge=5,
        title="Escalate after (s)",
        description="An alert not acknowledged this long after it was decided goes to the district's supervisors "
        "and over the next channels.",
    )
    repeat: int = Field(default=2, ge=0, le=10, title="Escalations", description="How many times, each after_s apart.")
    channels: list[EscalationChannel] = Field(
        default_factory=lambda: list(ESCALATION_CHANNELS),
        title="Channels",
        description="Channels an escalation is sent over (websocket: the supervisors' terminals).",
    )


class ServiceConfig(StrictModel):
    """The incident service: storage, push channels, escalation, access."""

    database_url: str | None = Field(
        default=None,
        title="Database URL",
        description="SQLAlchemy URL (postgresql+psycopg://user@host/db); default: SQLite yingyan.db in data_dir.",
    )
    data_dir: str = Field(
        default="yingyan-data",
        title="Data folder",
        description="Where the SQLite file and the evidence files are kept (relative to the site file).",
    )
    host: str = Field(default="127.0.0.1", title="Listen address", description="Address the API listens on.")
    port: int = Field(
        default=8080, ge=0, le=65535, title="Port", description="Port of the API and console (0: any free)."
    )
    districts: list[DistrictConfig] = Field(
        default_factory=list,
        title="Districts",
        description="Police districts with their names; every camera's district is one (added if not listed).",
    )
    departments: list[DepartmentConfig] = Field(
        default_factory=lambda: list(DEFAULT_DEPARTMENTS),
        title="Departments",
        description="Departments incidents are reported to.",
    )
    suggested_departments: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "crash": ["ambulance", "fire", "road", "tow"],
            "stopped_vehicle": ["tow"],
            "blockage": ["road", "tow"],
            "lane_blocked": ["road"],
            "illegal_parking": ["city", "tow"],
        },
        title="Departments by cause",
        description="Departments the report suggests for each cause (crashes: 急救, 消防, road authority, tow).",
    )
    mqtt: MqttConfig | None = Field(default=None, title="MQTT", description="Alert push over MQTT; none: off.")
    webhooks: list[WebhookConfig] = Field(default_factory=list, title="Webhooks", description="Signed HTTP pushes.")
    escalation: EscalationConfig = Field(
        default_factory=EscalationConfig, title="Escalation", description="Unacknowledged alerts."
    )
    token_ttl_s: float = Field(
        default=12 * 3600.0, gt=0, title="Session length (s)", description="A login lasts this long."
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        title="Login attempts",
        description="Failed logins of one user from one address before each further attempt from there waits "
        "(1 s, then doubling); an address may fail four times as often over all user names.",
    )
    login_window_s: float = Field(
        default=300.0, gt=0, title="Login window (s)", description="Failures older than this are forgotten."
    )
    login_delay_max_s: float = Field(
        default=60.0, gt=0, title="Longest login delay (s)", description="The growing delay stops growing here."
    )
    body_max_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        title="Request size limit (bytes)",
        description="A request body larger than this is refused (413) before it is read; photo uploads have "
        "their own limit.",
    )
    photo_max_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, title="Photo size limit (bytes)", description="Largest photo from the scene."
    )
    cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto",
        title="Secure cookie",
        description="Whether the session cookie is marked Secure (sent over HTTPS only): auto marks it when the "
        "request came over HTTPS (behind a TLS proxy, run uvicorn with --proxy-headers); always in any "
        "deployment reached over HTTPS.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        title="Allowed origins",
        description="Other origins (scheme://host:port) whose pages may send changes and open terminal sockets; "
        "the service's own origin is always allowed.",
    )
    terminal_replay_h: float = Field(
        default=24.0,
        gt=0,
        title="Catch-up window (h)",
        description="A terminal that reconnects receives the alerts of this many hours it has not acknowledged.",
    )
    resend_s: float = Field(
        default=10.0,
        gt=0,
        title="Resend after (s)",
        description="An alert a connected terminal has not confirmed receiving is sent again after this long.",
    )
    outbox_max_attempts: int = Field(
        default=12, ge=1, title="Send attempts", description="Attempts per outbox message before it is failed."
    )
    lane_state_retention_days: float = Field(
        default=30.0,
        gt=0,
        title="Traffic-state retention (days)",
        description="Lane states older than this are deleted.",
    )
    dispatch_sla_day_s: float = Field(
        default=300.0, gt=0, title="Dispatch SLA by day (s)", description="Dispatch within 5 min by day."
    )
    dispatch_sla_night_s: float = Field(
        default=600.0,
        gt=0,
        title="Dispatch SLA at night (s)",
        description="Dispatch within 10 min at night (22:00–06:00).",
    )

    @model_validator(mode="after")
    def _unique(self) -> ServiceConfig:
        for what, ids in (
            ("departments", [d.code for d in self.departments]),
            ("districts", [d.id for d in self.districts]),
            ("webhooks", [w.name for w in self.webhooks]),
        ):
            if len(set(ids)) != len(ids):
                raise ValueError(f"{what}: ids must be unique")
        codes = {d.code for d in self.departments}
        for cause, listed in self.suggested_departments.items():
            unknown = [c for c in listed if c not in codes]
            if unknown:
                raise ValueError(f"suggested_departments.{cause} names unknown departments {unknown}")
        return self
