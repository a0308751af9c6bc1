"""The terminals connected over WebSocket: who they are, what each has been sent, what it received.

Each terminal (a console, an officer's handheld) says who it is (a session token) and its own
stable terminal id. It is sent each alert of its districts once (the delivery is recorded
per alert and terminal, so an alert reaches a terminal once however many paths lead there:
the outbox, the catch-up at connect, a resend), and it answers each with a receipt.
Deliveries and receipts are written to the database in batches by the dispatcher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yingyan.service.access import Principal

log = logging.getLogger(__name__)

Sender = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Terminal:
    """One connected terminal."""

    terminal_id: str
    principal: Principal
    send: Sender
    sent: dict[str, float] = field(default_factory=dict)  # alert id -> monotonic time sent (awaiting receipt)
    received: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class DeliveryRecord:
    alert_id: str
    terminal_id: str
    user_id: int
    at: datetime


class TerminalHub:
    """Connected terminals, with the deliveries and receipts waiting to be written."""

    def __init__(self) -> None:
        self._terminals: dict[str, Terminal] = {}
        self.deliveries: list[DeliveryRecord] = []  # to insert (the dispatcher drains them)
        self.receipts: list[DeliveryRecord] = []  # to mark received
        self._payloads: dict[str, dict[str, Any]] = {}  # alerts awaiting a receipt somewhere, for resends

    @property
    def connected(self) -> int:
        return len(self._terminals)

    def terminals(self) -> list[Terminal]:
        return list(self._terminals.values())

    def add(self, terminal: Terminal) -> Terminal | None:
        """Register a terminal; the one it replaces (the same id, reconnected), if any."""
        old = self._terminals.get(terminal.terminal_id)
        self._terminals[terminal.terminal_id] = terminal
        return old

    def remove(self, terminal: Terminal) -> None:
        if self._terminals.get(terminal.terminal_id) is terminal:
            del self._terminals[terminal.terminal_id]

    async def send_alert(
        self,
        terminal: Terminal,
        payload: dict[str, Any],
        now: datetime,
        loop_time: float,
        kind: str = "alert",
        force: bool = False,
    ) -> bool:
        """Send one alert to one terminal unless it was sent already (``force``: a resend); whether it went."""
        alert_id = str(payload["alert_id"])
        async with terminal.lock:
            if alert_id in terminal.received or (alert_id in terminal.sent and not force):
                return False
            first = alert_id not in terminal.sent
            terminal.sent[alert_id] = loop_time
            self._payloads[alert_id] = payload
            try:
                await terminal.send({"type": kind, "alert": payload})
            except Exception as error:  # a terminal that went away: it catches up when it reconnects
                log.debug("terminal %s: send failed (%s)", terminal.terminal_id, error)
                del terminal.sent[alert_id]
                return False
        if first:
            self.deliveries.append(DeliveryRecord(alert_id, terminal.terminal_id, terminal.principal.user_id, now))
        return True

    async def broadcast(
        self,
        payload: dict[str, Any],
        district: str,
        now: datetime,
        loop_time: float,
        kind: str = "alert",
        who: Callable[[Principal], bool] | None = None,
    ) -> int:
        """Send an alert to every connected terminal that may see its district; how many it reached."""
        targets = [
            t
            for t in self._terminals.values()
            if t.principal.receives_alerts and t.principal.in_district(district) and (who is None or who(t.principal))
        ]
        sent = await asyncio.gather(*(self.send_alert(t, payload, now, loop_time, kind) for t in targets))
        return sum(sent)

    async def notify(
        self, message: dict[str, Any], district: str, who: Callable[[Principal], bool] | None = None
    ) -> None:
        """A message that needs no receipt (an incident changed) to the terminals of a district."""
        targets = [
            t
            for t in self._terminals.values()
            if t.principal.in_district(district) and (who is None or who(t.principal))
        ]

        async def one(t: Terminal) -> None:
            try:
                await t.send(message)
            except Exception as error:
                log.debug("terminal %s: notify failed (%s)", t.terminal_id, error)

        await asyncio.gather(*(one(t) for t in targets))

    def receipt(self, terminal: Terminal, alert_id: str, now: datetime) -> bool:
        """A terminal confirms it has an alert; ``False`` if it was never sent there."""
        if alert_id not in terminal.sent and alert_id not in terminal.received:
            return False
        terminal.sent.pop(alert_id, None)
        if alert_id not in terminal.received:
            terminal.received.add(alert_id)
            self.receipts.append(DeliveryRecord(alert_id, terminal.terminal_id, terminal.principal.user_id, now))
        return True

    def unconfirmed(self, older_than: float, loop_time: float) -> list[tuple[Terminal, dict[str, Any]]]:
        """(terminal, alert) sent more than ``older_than`` seconds ago without a receipt."""
        waiting = {a for t in self._terminals.values() for a in t.sent}
        for alert_id in [a for a in self._payloads if a not in waiting]:
            del self._payloads[alert_id]  # bounded: received everywhere it was sent
        return [
            (t, self._payloads[alert_id])
            for t in self._terminals.values()
            for alert_id, at in list(t.sent.items())
            if loop_time - at >= older_than and alert_id in self._payloads
        ]
