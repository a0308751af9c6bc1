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

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from yingyan.service import models as m
from yingyan.service.access import SYSTEM, Principal
from yingyan.service.config import ServiceConfig
from yingyan.service.metrics import ServiceMetrics
from yingyan.service.push.mqtt import MqttPublisher, PushError
from yingyan.service.push.terminals import DeliveryRecord, Terminal, TerminalHub
from yingyan.service.push.webhook import WebhookSender
from yingyan.service.store import IncidentStore
from yingyan.service.workflow import OPEN_STATES, Action, Role, State

log = logging.getLogger(__name__)

TICK_S = 0.25
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

    def sent(self, row: Pending, now: datetime) -> None:
        with self.db.sessions.begin() as s:
            s.execute(
                update(m.Outbox)
                .where(m.Outbox.id == row.id)
                .values(status="sent", sent_at=now, attempts=row.attempts + 1)
            )

    def failed(self, row: Pending, error: str, now: datetime) -> bool:
        """Record a failed attempt; ``True`` when the message is given up."""
        attempts = row.attempts + 1
        give_up = attempts >= self.config.outbox_max_attempts
        delay = min(2.0 ** (attempts - 1), BACKOFF_MAX_S)
        with self.db.sessions.begin() as s:
            s.execute(
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
                values = [
                    {"alert_id": d.alert_id, "terminal_id": d.terminal_id, "user_id": d.user_id, "sent_at": d.at}
                    for d in deliveries
                ]
                dialect = s.get_bind().dialect.name
                insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
                s.execute(insert(m.Delivery).values(values).on_conflict_do_nothing())
            if receipts:
                s.flush()
                decided = {
                    a.id: a for a in s.scalars(select(m.Alert).where(m.Alert.id.in_({r.alert_id for r in receipts})))
                }
                for r in receipts:
                    s.execute(
                        update(m.Delivery)
                        .where(
                            m.Delivery.alert_id == r.alert_id,
                            m.Delivery.terminal_id == r.terminal_id,
                            m.Delivery.received_at.is_(None),
                        )
                        .values(received_at=r.at)
                    )
                    alert = decided.get(r.alert_id)
                    if alert is not None:
                        latencies.append((r.at - alert.decided_at).total_seconds())
                        if alert.first_delivered_at is None or r.at < alert.first_delivered_at:
                            alert.first_delivered_at = r.at
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
                        s.add(
                            m.Outbox(
                                alert_id=alert.id,
                                channel=channel,
                                kind="escalation",
                                payload=payload,
                                status="pending",
                                attempts=0,
                                next_attempt_at=now,
                                created_at=now,
                            )
                        )
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

    async def step(self) -> None:
        """One round: send what is due, write deliveries, and the periodic work."""
        now = utcnow()
        rows = await asyncio.to_thread(self.repo.claim, now)
        if rows:
            await asyncio.gather(*(self._send(row) for row in rows))
        await self.flush()
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last["escalate"] >= 1.0:
            self._last["escalate"] = loop_time
            for alert_id, _, level in await asyncio.to_thread(self.repo.due_escalations, now):
                self.metrics.escalations.inc()
                log.warning("alert %s escalated (level %d)", alert_id, level, extra={"alert_id": alert_id})
                self.wake()
            for terminal, payload in self.hub.unconfirmed(self.config.resend_s, loop_time):
                await self.hub.send_alert(terminal, payload, now, loop_time, force=True)
        if loop_time - self._last["housekeeping"] >= 5.0:
            self._last["housekeeping"] = loop_time
            await asyncio.to_thread(self.store.sweep_evidence)
            self.metrics.outbox_pending.set(await asyncio.to_thread(self.repo.pending_count))
        if loop_time - self._last["prune"] >= 3600.0:
            self._last["prune"] = loop_time
            await asyncio.to_thread(self.store.prune_lane_states)
        self.metrics.terminals.set(self.hub.connected)

    async def flush(self) -> None:
        deliveries, receipts = self.hub.deliveries, self.hub.receipts
        if not deliveries and not receipts:
            return
        self.hub.deliveries, self.hub.receipts = [], []
        for latency in await asyncio.to_thread(self.repo.write_deliveries, deliveries, receipts):
            self.metrics.alert_latency.observe(max(latency, 0.0))

    async def _send(self, row: Pending) -> None:
        channel = row.channel.split(":")[0]
        try:
            if channel == "websocket":
                now, loop_time = utcnow(), asyncio.get_running_loop().time()
                district = str(row.payload.get("district", "default"))
                if row.kind == "escalation":
                    # The next level: the district's supervisors (an officer's own handheld had it already).
                    await self.hub.notify(
                        {"type": "escalation", "alert": row.payload}, district, lambda p: p.supervisor
                    )
                else:
                    await self.hub.broadcast(row.payload, district, now, loop_time)
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
            (log.error if gave_up else log.warning)(
                "outbox %d (%s, %s): %s%s",
                row.id,
                row.channel,
                row.alert_id,
                error,
                "; given up" if gave_up else "",
                extra={"alert_id": row.alert_id},
            )
            return
        await asyncio.to_thread(self.repo.sent, row, utcnow())
        self.metrics.pushed.labels(channel, row.kind).inc()
        if row.kind == "alert" and channel == "websocket":
            self.metrics.alerts.labels(str(row.payload.get("district", ""))).inc()

    async def connect(self, terminal: Terminal) -> None:
        """A terminal (re)connected: send it what it missed."""
        now = utcnow()
        missed, received = await asyncio.to_thread(self.repo.catch_up, terminal.principal, terminal.terminal_id, now)
        terminal.received |= received
        loop_time = asyncio.get_running_loop().time()
        for payload in missed:
            await self.hub.send_alert(terminal, payload, now, loop_time)

    async def close(self) -> None:
        self._stop = True
        await self.flush()
        if self.mqtt is not None:
            self.mqtt.close()
        for sender in self.webhooks.values():
            await sender.close()
