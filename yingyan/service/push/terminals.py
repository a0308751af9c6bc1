"""The terminals connected over WebSocket: who they are, what each has been sent, what it received.

Each terminal (a console, an officer's handheld) says who it is (a session token) and its own
stable terminal id. Terminals are told apart by user *and* terminal id: a terminal id connected
for one user is refused to another (``TerminalTaken``), so nobody takes an officer's alerts by
naming the officer's handheld. It is sent each alert it may receive once (the delivery is
recorded per alert, user and terminal, so an alert reaches a terminal once however many paths
lead there: the outbox, the catch-up at connect, a resend), and it answers with a receipt. In its
hello it lists the alerts it holds already (``have``), so that what it received just before the
service restarted is not sent again. Who receives what is ``Principal.can_see``, the rule every
REST read uses (department included), and alerts only for the roles that receive them. When its
login ends (logout, expiry, the user disabled) its socket is closed with 4401.

The protocol, one JSON object per WebSocket message::

    terminal → {"type": "hello", "token": "...", "terminal_id": "hand-07", "incidents": false,
                "have": ["ALR-...", ...]}
    service  → {"type": "welcome", "terminal_id": "hand-07", "user": {...}}
    service  → {"type": "alerts", "alerts": [{alert}, ...]}      (one or more: a burst is one message)
    terminal → {"type": "received", "alert_ids": ["ALR-...", ...]}
    service  → {"type": "escalation", "alert": {alert}}           (supervisors)
    service  → {"type": "incident", "incident": {...}}             (an incident changed: to terminals that
                                                                    said "incidents": true, the consoles)
    terminal → {"type": "ping"}   service → {"type": "pong", "at": "..."}

Deliveries and receipts are written to the database in batches by the dispatcher.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yingyan.service.access import Principal

log = logging.getLogger(__name__)

Sender = Callable[[str], Awaitable[None]]  # sends one text frame
Closer = Callable[[int, str], Awaitable[None]]  # closes the socket with a code and a reason


async def _no_close(code: int, reason: str) -> None:
    return None


@dataclass
class Terminal:
    """One connected terminal."""

    terminal_id: str
    principal: Principal
    send_text: Sender
    sent: dict[str, float] = field(default_factory=dict)  # alert id -> loop time sent (awaiting receipt)
    received: set[str] = field(default_factory=set)
    incidents: bool = False  # wants every change of its districts' incidents (a console), not only alerts
    login: str = ""  # the digest of its session token (closed when that login ends)
    close_socket: Closer = _no_close

    @property
    def key(self) -> tuple[int, str]:
        return (self.principal.user_id, self.terminal_id)

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_text(json.dumps(message, ensure_ascii=False, default=str))


@dataclass(frozen=True)
class DeliveryRecord:
    alert_id: str
    terminal_id: str
    user_id: int
    at: datetime
    held: bool = False  # a receipt the terminal gave in its hello (it had the alert before), not a fresh one


class TerminalTaken(Exception):
    """The terminal id is connected for another user."""


class TerminalHub:
    """Connected terminals by (user, terminal id), with the deliveries and receipts waiting to be written."""

    def __init__(self) -> None:
        self._terminals: dict[tuple[int, str], Terminal] = {}
        self.deliveries: list[DeliveryRecord] = []  # to insert (the dispatcher drains them)
        self.receipts: list[DeliveryRecord] = []  # to mark received
        self._payloads: dict[str, dict[str, Any]] = {}  # alerts awaiting a receipt somewhere, for resends

    @property
    def connected(self) -> int:
        return len(self._terminals)

    def terminals(self) -> list[Terminal]:
        return list(self._terminals.values())

    def add(self, terminal: Terminal) -> Terminal | None:
        """Register a terminal; the connection it replaces (the same user and id, reconnected), if any.
        TerminalTaken when another user has that terminal id connected."""
        for (user_id, terminal_id), other in self._terminals.items():
            if terminal_id == terminal.terminal_id and user_id != terminal.principal.user_id:
                raise TerminalTaken(f"terminal {terminal.terminal_id} is connected for user {other.principal.username}")
        old = self._terminals.get(terminal.key)
        self._terminals[terminal.key] = terminal
        if old is not None:
            terminal.received |= old.received
        return old

    def remove(self, terminal: Terminal) -> None:
        if self._terminals.get(terminal.key) is terminal:
            del self._terminals[terminal.key]

    async def close(self, terminal: Terminal, code: int, reason: str) -> None:
        """Close a terminal's socket (its login ended, a newer connection replaced it) and forget it."""
        self.remove(terminal)
        try:
            await terminal.close_socket(code, reason)
        except Exception as error:
            log.debug("terminal %s: close failed (%s)", terminal.terminal_id, error)

    def holds(self, terminal: Terminal, alert_ids: set[str], now: datetime) -> None:
        """A terminal says it holds these alerts (its hello): they are received there, never sent again."""
        uid = terminal.principal.user_id
        for alert_id in sorted(alert_ids - terminal.received):
            terminal.received.add(alert_id)
            terminal.sent.pop(alert_id, None)
            record = DeliveryRecord(alert_id, terminal.terminal_id, uid, now, held=True)
            self.deliveries.append(record)
            self.receipts.append(record)

    async def send_alerts(
        self,
        terminal: Terminal,
        payloads: list[dict[str, Any]],
        now: datetime,
        loop_time: float,
        force: bool = False,
        frames: dict[tuple[str, ...], str] | None = None,
    ) -> int:
        """Send one terminal the alerts it has not been sent (``force``: again, unless received), in one
        message; how many went. ``frames`` caches the message text by alert ids (a broadcast sends the
        same text to most terminals)."""
        due = [
            p for p in payloads
            if p["alert_id"] not in terminal.received and (force or p["alert_id"] not in terminal.sent)
        ]  # fmt: skip
        if not due:
            return 0
        ids = tuple(str(p["alert_id"]) for p in due)
        text = frames.get(ids) if frames is not None else None
        if text is None:
            text = json.dumps({"type": "alerts", "alerts": due}, ensure_ascii=False, default=str)
            if frames is not None:
                frames[ids] = text
        first = [i for i in ids if i not in terminal.sent]
        for alert_id, payload in zip(ids, due, strict=True):
            terminal.sent[alert_id] = loop_time
            self._payloads[alert_id] = payload
        try:
            await terminal.send_text(text)
        except Exception as error:  # a terminal that went away: it catches up when it reconnects
            log.debug("terminal %s: send failed (%s)", terminal.terminal_id, error)
            for alert_id in first:
                terminal.sent.pop(alert_id, None)
            return 0
        uid = terminal.principal.user_id
        self.deliveries += [DeliveryRecord(a, terminal.terminal_id, uid, now) for a in first]
        return len(ids)

    async def broadcast(self, payloads: list[dict[str, Any]], now: datetime, loop_time: float) -> int:
        """Send alerts to every connected terminal that may see their districts; deliveries made."""
        frames: dict[tuple[str, ...], str] = {}
        jobs = []
        for t in list(self._terminals.values()):
            if not t.principal.receives_alerts:
                continue
            mine = [p for p in payloads if t.principal.can_see(str(p.get("district", "")), p.get("departments", ()))]
            if mine:
                jobs.append(self.send_alerts(t, mine, now, loop_time, frames=frames))
        return sum(await asyncio.gather(*jobs))

    async def notify(
        self,
        message: dict[str, Any],
        district: str,
        departments: list[str] | tuple[str, ...],
        who: Callable[[Terminal], bool] | None = None,
    ) -> None:
        """A message that needs no receipt (an incident changed, an escalation) to the terminals that may
        see an incident of ``district`` reported to ``departments``."""
        text = json.dumps(message, ensure_ascii=False, default=str)
        targets = [
            t for t in self._terminals.values()
            if t.principal.can_see(district, departments) and (who is None or who(t))
        ]  # fmt: skip

        async def one(t: Terminal) -> None:
            try:
                await t.send_text(text)
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

    def unconfirmed(self, older_than: float, loop_time: float) -> list[tuple[Terminal, list[dict[str, Any]]]]:
        """(terminal, alerts) sent more than ``older_than`` seconds ago without a receipt."""
        waiting = {a for t in self._terminals.values() for a in t.sent}
        for alert_id in [a for a in self._payloads if a not in waiting]:
            del self._payloads[alert_id]  # bounded: received everywhere it was sent
        out = []
        for t in self._terminals.values():
            late = [
                self._payloads[a] for a, at in t.sent.items() if loop_time - at >= older_than and a in self._payloads
            ]
            if late:
                out.append((t, late))
        return out
