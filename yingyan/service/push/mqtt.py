"""Alert push over MQTT (paho): ``<prefix>/alerts/<district>/<severity>``, QoS 1 by default.

A publish counts as sent only when the broker has acknowledged it; otherwise the outbox tries
again later. The client reconnects by itself (paho's loop thread).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from yingyan.service.config import MqttConfig

log = logging.getLogger(__name__)


class PushError(Exception):
    """A channel could not deliver a message now (the outbox retries)."""


class MqttPublisher:
    """``publish(kind, payload)``: blocks until the broker acks (or raises PushError)."""

    def __init__(self, config: MqttConfig, client_id: str = "yingyan-service") -> None:
        self.config = config
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if config.username:
            password = os.environ.get(config.password_env or "", None) if config.password_env else None
            self._client.username_pw_set(config.username, password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._connected = threading.Event()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._started = False

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if not reason.is_failure:
            self._connected.set()
            log.info("MQTT connected to %s:%d", self.config.host, self.config.port)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._connected.clear()
        log.warning("MQTT disconnected from %s:%d (%s)", self.config.host, self.config.port, reason)

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        try:
            self._client.connect_async(self.config.host, self.config.port, keepalive=30)
        except OSError as error:
            log.warning("MQTT %s:%d: %s", self.config.host, self.config.port, error)
        self._client.loop_start()

    def topic(self, kind: str, payload: dict[str, Any]) -> str:
        prefix = self.config.topic_prefix.rstrip("/")
        district = str(payload.get("district", "default"))
        if kind == "escalation":
            return f"{prefix}/escalations/{district}"
        return f"{prefix}/alerts/{district}/{int(payload.get('severity', 1))}"

    def publish(self, kind: str, payload: dict[str, Any]) -> None:
        self.start()
        if not self._connected.wait(self.config.timeout_s):
            raise PushError(f"MQTT broker {self.config.host}:{self.config.port} not connected")
        body = json.dumps({"type": kind, "alert": payload}, ensure_ascii=False)
        info = self._client.publish(self.topic(kind, payload), body, qos=self.config.qos)
        try:
            info.wait_for_publish(timeout=self.config.timeout_s)
        except (RuntimeError, ValueError) as error:
            raise PushError(f"MQTT publish failed ({error})") from None
        if not info.is_published():
            raise PushError("MQTT broker did not acknowledge the alert in time")

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def close(self) -> None:
        if self._started:
            self._client.loop_stop()
            self._client.disconnect()
