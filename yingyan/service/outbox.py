"""The outbox and its dispatcher: every alert decided is sent, at least once, over every channel.

The store writes outbox rows in the transaction that decides an alert. ``Dispatcher.run`` (an
asyncio task of the service) takes pending rows, sends each over its channel and marks it
sent, or schedules another attempt with exponential backoff; it is woken at once when an alert
is decided, and looks at least four times a second. Beside that it writes the terminals'
deliveries and receipts in batches, sends again what a connected terminal has not confirmed,
escalates alerts nobody acknowledged, stores evidence clips once they are complete, and
deletes traffic states past their retention.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from yingyan.service import models as m
from yingyan.service.access import SYSTEM, Principal
from yingyan.service.config import ServiceConfig
from yingyan.service.metrics import ServiceMetrics
from yingyan.service.push.mqtt import MqttPublisher, PushError
from yingyan.service.push.terminals import DeliveryRecord, Terminal, TerminalHub
from yingyan.service.push.webhook import WebhookSender
from yingyan.service.store import IncidentStore, outbox_row
from yingyan.service.workflow import OPEN_STATES, Action, Role, State

log = logging.getLogger(__name__)

TICK_S = 0.25
WRITE_S = 0.2  # deliveries and receipts are written this often
WRITE_LIMIT = 200_000  # …and at the latest when this many wait, sending or not
BACKOFF_MAX_S = 60.0


@dataclass(frozen=True)
class Pending:
    """An outbox row to send."""

    id: int
    alert_id: str
    channel: str
    kind: str
    payload: dict[str, Any]
    attempts: int


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxRepository:
    """The outbox's database side (synchronous: the dispatcher runs it in a worker thread)."""

    def __init__(self, store: IncidentStore, config: ServiceConfig) -> None:
        self.store = store
        self.db = store.db
        self.config = config

    def claim(self, now: datetime, limit: int = 100) -> list[Pending]:
        with self.db.sessions() as s:
            rows = s.scalars(
                select(m.Outbox)
                .where(m.Outbox.status == "pending", m.Outbox.next_attempt_at <= now)
                .order_by(m.Outbox.id)
                .limit(limit)
            )
            return [Pending(r.id, r.alert_id, r.channel, r.kind, dict(r.payload), r.attempts) for r in rows]

    def pending_count(self) -> int:
        with self.db.sessions() as s:
            return len(list(s.scalars(select(m.Outbox.id).where(m.Outbox.status == "pending"))))

    def sent(self, rows: list[Pending], now: datetime) -> None:
        if not rows:
            return
        with self.db.sessions.begin() as s:
            s.connection().execute(  # Core executemany: one statement, many rows
                update(m.Outbox)
                .where(m.Outbox.id == bindparam("row_id"))
                .values(status="sent", sent_at=now, attempts=bindparam("tries")),
                [{"row_id": r.id, "tries": r.attempts + 1} for r in rows],
            )

    def failed(self, row: Pending, error: str, now: datetime) -> bool:
        """Record a failed attempt; ``True`` when the message is given up."""
        attempts = row.attempts + 1
        give_up = attempts >= self.config.outbox_max_attempts
        delay = min(2.0 ** (attempts - 1), BACKOFF_MAX_S)
        with self.db.sessions.begin() as s:
            s.connection().execute(  # Core executemany: one statement, many rows
                update(m.Outbox)
                .where(m.Outbox.id == row.id)
                .values(
                    status="failed" if give_up else "pending",
                    attempts=attempts,
                    last_error=error[:500],
                    next_attempt_at=now + timedelta(seconds=delay),
                )
            )
        return give_up

    def write_deliveries(self, deliveries: list[DeliveryRecord], receipts: list[DeliveryRecord]) -> list[float]:
        """Insert deliveries (a duplicate is ignored) and mark receipts; the receipt latencies (s)."""
        latencies: list[float] = []
        with self.db.sessions.begin() as s:
            if deliveries:
                insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
                values = [
                    {"alert_id": d.alert_id, "terminal_id": d.terminal_id, "user_id": d.user_id, "sent_at": d.at}
                    for d in deliveries
                ]
                s.connection().execute(insert(m.Delivery).on_conflict_do_nothing(), values)
            if receipts:
                s.connection().execute(
                    update(m.Delivery)
                    .where(
                        m.Delivery.alert_id == bindparam("alert"),
                        m.Delivery.terminal_id == bindparam("terminal"),
                        m.Delivery.received_at.is_(None),
                    )
                    .values(received_at=bindparam("at")),
                    [{"alert": r.alert_id, "terminal": r.terminal_id, "at": r.at} for r in receipts],
                )
                first: dict[str, datetime] = {}
                for r in receipts:
                    first[r.alert_id] = min(first.get(r.alert_id, r.at), r.at)
                alerts = {a.id: a for a in s.scalars(select(m.Alert).where(m.Alert.id.in_(first)))}
                for r in receipts:
                    alert = alerts.get(r.alert_id)
                    if alert is not None:
                        latencies.append((r.at - alert.decided_at).total_seconds())
                for alert_id, at in first.items():
                    alert = alerts.get(alert_id)
                    if alert is not None and (alert.first_delivered_at is None or at < alert.first_delivered_at):
                        alert.first_delivered_at = at
        return latencies

    def catch_up(self, principal: Principal, terminal_id: str, now: datetime) -> tuple[list[dict[str, Any]], set[str]]:
        """What a (re)connecting terminal has missed: alerts of its districts in the catch-up window,
        of incidents still open, not received there; and what it has received already."""
        since = now - timedelta(hours=self.config.terminal_replay_h)
        with self.db.sessions() as s:
            received = set(
                s.scalars(
                    select(m.Delivery.alert_id).where(
                        m.Delivery.terminal_id == terminal_id, m.Delivery.received_at.is_not(None)
                    )
                )
            )
            rows = s.execute(
                select(m.Alert, m.Incident.state, m.Incident.departments)
                .join(m.Incident, m.Incident.id == m.Alert.incident_id)
                .where(m.Alert.decided_at >= since)
                .order_by(m.Alert.decided_at)
            ).all()
            missed = [
                dict(alert.payload)
                for alert, state, departments in rows
                if alert.id not in received
                and State(state) in OPEN_STATES
                and principal.can_see(alert.district, departments)
            ]
            return missed, received

    def due_escalations(self, now: datetime) -> list[tuple[str, dict[str, Any], int]]:
        """Alerts nobody acknowledged in time: escalate each (outbox rows, audit step); (id, payload, level)."""
        esc = self.config.escalation
        out: list[tuple[str, dict[str, Any], int]] = []
        if esc.repeat == 0:
            return out
        with self.db.sessions.begin() as s:
            rows = s.execute(
                select(m.Alert, m.Incident)
                .join(m.Incident, m.Incident.id == m.Alert.incident_id)
                .where(m.Incident.state == State.ALERTED.value, m.Alert.escalations < esc.repeat)
            ).all()
            for alert, incident in rows:
                if now - alert.decided_at < timedelta(seconds=esc.after_s * (alert.escalations + 1)):
                    continue
                alert.escalations += 1
                level = alert.escalations
                payload = {**alert.payload, "escalation": level}
                for channel in self.store.channels_for(alert.severity):
                    name = channel.split(":")[0]
                    if name in esc.channels:
                        s.add(outbox_row(alert.id, channel, "escalation", payload, now))
                s.add(
                    m.Step(
                        incident_id=incident.id,
                        at=now,
                        actor=SYSTEM.username,
                        role=Role.SYSTEM.value,
                        action=Action.NOTE.value,
                        from_state=incident.state,
                        to_state=incident.state,
                        note=f"escalation {level}: not acknowledged {esc.after_s * level:.0f} s after the alert",
                        data={"escalation": level},
                    )
                )
                out.append((alert.id, payload, level))
        return out


class Dispatcher:
    """Sends the outbox over WebSocket, MQTT and webhooks (``run`` is its task; ``wake`` after a commit)."""

    def __init__(self, store: IncidentStore, config: ServiceConfig, hub: TerminalHub, metrics: ServiceMetrics) -> None:
        self.repo = OutboxRepository(store, config)
        self.store = store
        self.config = config
        self.hub = hub
        self.metrics = metrics
        self.mqtt = MqttPublisher(config.mqtt) if config.mqtt is not None else None
        self.webhooks = {w.name: WebhookSender(w) for w in config.webhooks}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = False
        self._sending = False  # the last round had something to send: records wait for a quiet round
        self._last = {"housekeeping": 0.0, "prune": 0.0, "escalate": 0.0}

    def wake(self) -> None:
        """Thread-safe: something was committed to the outbox."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self.mqtt is not None:
            self.mqtt.start()
        writer = asyncio.create_task(self.write(), name="deliveries")
        while not self._stop:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=TICK_S)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.step()
            except Exception:  # the dispatcher must outlive any one failure (a database hiccup)
                log.exception("dispatcher step failed; retrying")
                await asyncio.sleep(1.0)
        writer.cancel()

    async def step(self) -> None:
        """One round: send what is due, and the periodic work."""
        now = utcnow()
        rows = await asyncio.to_thread(self.repo.claim, now)
        self._sending = bool(rows)
        alerts = [r for r in rows if r.channel == "websocket" and r.kind == "alert"]
        if alerts:
            # A burst of alerts goes to each terminal as one message.
            await self.hub.broadcast([r.payload for r in alerts], now, asyncio.get_running_loop().time())
            await asyncio.to_thread(self.repo.sent, alerts, utcnow())
            for r in alerts:
                self.metrics.pushed.labels("websocket", "alert").inc()
                self.metrics.alerts.labels(str(r.payload.get("district", ""))).inc()
        others = [r for r in rows if not (r.channel == "websocket" and r.kind == "alert")]
        if others:
            await asyncio.gather(*(self._send(row) for row in others))
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last["escalate"] >= 1.0:
            self._last["escalate"] = loop_time
            for alert_id, _, level in await asyncio.to_thread(self.repo.due_escalations, now):
                self.metrics.escalations.inc()
                log.warning("alert %s escalated (level %d)", alert_id, level, extra={"alert_id": alert_id})
                self.wake()
            for terminal, late in self.hub.unconfirmed(self.config.resend_s, loop_time):
                await self.hub.send_alerts(terminal, late, now, loop_time, force=True)
        if loop_time - self._last["housekeeping"] >= 5.0:
            self._last["housekeeping"] = loop_time
            await asyncio.to_thread(self.store.sweep_evidence)
            self.metrics.outbox_pending.set(await asyncio.to_thread(self.repo.pending_count))
        if loop_time - self._last["prune"] >= 3600.0:
            self._last["prune"] = loop_time
            await asyncio.to_thread(self.store.prune_lane_states)
        self.metrics.terminals.set(self.hub.connected)

    async def write(self) -> None:
        """Write the terminals' deliveries and receipts in batches, beside the sending (which goes first:
        while alerts are due, the records wait)."""
        while not self._stop:
            await asyncio.sleep(WRITE_S)
            if self._sending and len(self.hub.deliveries) + len(self.hub.receipts) < WRITE_LIMIT:
                continue
            try:
                await self.flush()
            except Exception:
                log.exception("writing deliveries failed; retrying")

    async def flush(self) -> None:
        deliveries, receipts = self.hub.deliveries, self.hub.receipts
        if not deliveries and not receipts:
            return
        self.hub.deliveries, self.hub.receipts = [], []
        try:
            latencies = await asyncio.to_thread(self.repo.write_deliveries, deliveries, receipts)
        except Exception:
            self.hub.deliveries[:0], self.hub.receipts[:0] = deliveries, receipts  # kept for the next try
            raise
        for latency in latencies:
            self.metrics.alert_latency.observe(max(latency, 0.0))

    async def _send(self, row: Pending) -> None:
        """One outbox row over its channel (escalations over WebSocket, MQTT, webhooks)."""
        channel = row.channel.split(":")[0]
        try:
            if channel == "websocket":
                district = str(row.payload.get("district", "default"))
                if row.kind == "escalation":
                    # The next level: the district's supervisors (an officer's own handheld had it already).
                    message = {"type": "escalation", "alert": row.payload}
                    await self.hub.notify(message, district, lambda t: t.principal.supervisor)
                else:
                    await self.hub.broadcast([row.payload], utcnow(), asyncio.get_running_loop().time())
            elif channel == "mqtt":
                if self.mqtt is None:
                    raise PushError("MQTT is not configured")
                await asyncio.to_thread(self.mqtt.publish, row.kind, row.payload)
            elif channel == "webhook":
                sender = self.webhooks.get(row.channel.split(":", 1)[1])
                if sender is None:
                    raise PushError(f"no webhook {row.channel}")
                level = row.payload.get("escalation")
                key = row.alert_id if level is None else f"{row.alert_id}:escalation-{level}"
                await sender.send(row.kind, row.payload, key)
            else:
                raise PushError(f"unknown channel {row.channel}")
        except PushError as error:
            self.metrics.push_failures.labels(channel).inc()
            gave_up = await asyncio.to_thread(self.repo.failed, row, str(error), utcnow())
            say = log.error if gave_up else log.warning
            say("outbox %d (%s, %s): %s%s", row.id, row.channel, row.alert_id, error, "; given up" if gave_up else "",
                extra={"alert_id": row.alert_id})  # fmt: skip
            return
        await asyncio.to_thread(self.repo.sent, [row], utcnow())
        self.metrics.pushed.labels(channel, row.kind).inc()

    async def connect(self, terminal: Terminal) -> None:
        """A terminal (re)connected: send it what it missed, in one message."""
        now = utcnow()
        missed, received = await asyncio.to_thread(self.repo.catch_up, terminal.principal, terminal.terminal_id, now)
        terminal.received |= received
        if missed:
            await self.hub.send_alerts(terminal, missed, now, asyncio.get_running_loop().time())

    async def close(self) -> None:
        self._stop = True
        await self.flush()
        if self.mqtt is not None:
            self.mqtt.close()
        for sender in self.webhooks.values():
            await sender.close()
