"""Alert push over MQTT (paho): ``<prefix>/alerts/<district>/<severity>``, QoS 1 by default.

A publish counts as sent only when the broker has acknowledged it; otherwise the outbox tries
again later. The client reconnects by itself (paho's loop thread, every 1–2 s while the broker is
away) and tells the dispatcher when it is back, so that what waited goes out at once. Each
process has its own client id (prefix, host, process, a random part): two services on one broker
never knock each other off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from yingyan.service.config import MqttConfig
from yingyan.service.push.channel import Channel, PushError, thread_pool

log = logging.getLogger(__name__)

RECONNECT_MAX_S = 2  # while the broker is away, paho tries again at most this far apart


def client_id(prefix: str) -> str:
    """A client id of this process alone: ``<prefix>-<host>-<pid>-<random>`` (at most 64 characters)."""
    return f"{prefix}-{socket.gethostname()[:24]}-{os.getpid()}-{secrets.token_hex(3)}"[:64]


class MqttPublisher:
    """``publish(kind, payload)``: blocks until the broker acks (or raises PushError at once when it is away)."""

    def __init__(self, config: MqttConfig, on_up: Callable[[], None] | None = None) -> None:
        self.config = config
        self.client_id = client_id(config.client_id_prefix)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True)
        if config.username:
            password = os.environ.get(config.password_env or "", None) if config.password_env else None
            self._client.username_pw_set(config.username, password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=RECONNECT_MAX_S)
        self._connected = threading.Event()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._started = False
        self._on_up = on_up
        self.last_error = "not connected yet"

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.last_error = f"connection refused ({reason})"
            return
        self._connected.set()
        log.info("MQTT connected to %s:%d as %s", self.config.host, self.config.port, self.client_id)
        if self._on_up is not None:
            self._on_up()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._connected.clear()
        self.last_error = f"disconnected ({reason})"
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
        if not self._connected.is_set():
            raise PushError(f"MQTT broker {self.config.host}:{self.config.port} not connected ({self.last_error})")
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


class MqttChannel(Channel):
    """The MQTT channel of the outbox: publishes in threads of its own (a slow broker holds no one else's)."""

    name = "mqtt"

    def __init__(self, config: MqttConfig) -> None:
        self.config = config
        self.publisher: MqttPublisher | None = None
        self.concurrency = 4
        self._executor = thread_pool(self.concurrency, "mqtt-publish")

    def start(self, on_up: Callable[[], None]) -> None:
        self.publisher = MqttPublisher(self.config, on_up)
        self.publisher.start()

    @property
    def connected(self) -> bool:
        return self.publisher is not None and self.publisher.connected

    async def send(self, kind: str, payload: dict[str, Any], key: str) -> None:
        if self.publisher is None:
            raise PushError("MQTT channel not started")
        await asyncio.get_running_loop().run_in_executor(self._executor, self.publisher.publish, kind, payload)

    async def close(self) -> None:
        if self.publisher is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self.publisher.close)
        self._executor.shutdown(wait=False, cancel_futures=True)
