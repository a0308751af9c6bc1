"""Alert push to other platforms: a signed HTTP POST per alert.

Each request carries ``X-Yingyan-Timestamp`` (Unix seconds), ``X-Yingyan-Signature``
(``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body`` under the shared key) and
``Idempotency-Key`` (the alert id, with ``:escalation-N`` for escalations), so a receiver can
check where it came from, refuse replays, and drop a redelivered duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from yingyan.service.config import WebhookConfig
from yingyan.service.push.channel import Channel, PushError


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Yingyan-Signature`` value of a request."""
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signed: str, max_age_s: float = 300.0) -> bool:
    """What a receiver checks: the signature matches and the request is recent."""
    try:
        fresh = abs(time.time() - float(timestamp)) <= max_age_s
    except ValueError:
        return False
    return fresh and hmac.compare_digest(signature(secret, timestamp, body), signed)


class WebhookSender(Channel):
    """``await send(kind, payload, key)``: POST; 2xx is delivered, a 4xx (but 408 and 429) is this
    message refused for good, anything else (5xx, no answer in time) a PushError to try again."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.name = f"webhook:{config.name}"
        self.concurrency = 4
        self._client = httpx.AsyncClient(timeout=config.timeout_s)

    async def send(self, kind: str, payload: dict[str, Any], key: str) -> None:
        body = json.dumps({"type": kind, "alert": payload}, ensure_ascii=False, sort_keys=True).encode("utf-8")
        timestamp = str(int(time.time()))
        try:
            secret = self.config.secret()
        except ValueError as error:
            raise PushError(str(error)) from None
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Yingyan-Timestamp": timestamp,
            "X-Yingyan-Signature": signature(secret, timestamp, body),
            "Idempotency-Key": key,
            "User-Agent": "yingyan-webhook/1",
        }
        try:
            response = await self._client.post(self.config.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise PushError(f"webhook {self.config.name}: {type(error).__name__}") from None
        status = response.status_code
        if 400 <= status < 500 and status not in (408, 429):
            raise PushError(f"webhook {self.config.name}: refused with HTTP {status}", permanent=True)
        if not 200 <= status < 300:
            raise PushError(f"webhook {self.config.name}: HTTP {status}")

    async def close(self) -> None:
        await self._client.aclose()
