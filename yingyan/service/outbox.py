"""The outbox and its dispatcher: every alert decided is sent, at least once, over every channel.

The store writes outbox rows in the transaction that decides an alert. ``Dispatcher.run`` (an
asyncio task of the service) takes the rows that are due: alerts for the terminals go out over
WebSocket in the same round; every other channel (MQTT, each webhook) has a lane of its own
(``ChannelLane``) that sends, marks sent, or schedules another attempt with exponential backoff.
No channel waits on another: a dead broker or a hanging webhook delays only itself.

A channel that fails is *down*: its rows wait and one of them is tried every few seconds (a
probe); the first success (or, for MQTT, the client's reconnect) brings it *up* and sends what
waited at once, including messages given up on after ``outbox_max_attempts`` (``failed``) within
the catch-up window. A message the receiver refused (a 4xx) is ``rejected`` and never resent.

Beside that it writes the terminals' deliveries and receipts in batches, sends again what a
connected terminal has not confirmed, closes terminals whose login ended (logout, disabled user,
expiry), escalates alerts nobody acknowledged, stores evidence clips once they are complete,
and deletes traffic states past their retention. Database work runs in threads of its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from yingyan.service import models as m
from yingyan.service.access import SYSTEM, Principal
from yingyan.service.config import ServiceConfig
from yingyan.service.db import reason_of, transient
from yingyan.service.health import HealthBoard
from yingyan.service.metrics import ServiceMetrics
from yingyan.service.push.channel import Channel, PushError, thread_pool
from yingyan.service.push.mqtt import MqttChannel
from yingyan.service.push.terminals import DeliveryRecord, Terminal, TerminalHub
from yingyan.service.push.webhook import WebhookSender
from yingyan.service.store import IncidentStore, outbox_row
from yingyan.service.workflow import OPEN_STATES, Action, Role, State

log = logging.getLogger(__name__)

TICK_S = 0.25
WRITE_S = 0.2  # deliveries and receipts are written this often
WRITE_LIMIT = 200_000  # …and at the latest when this many wait, sending or not
BACKOFF_MAX_S = 60.0  # a message's own retries, while its channel works for others
PROBE_MIN_S = 0.5  # a channel that is down is probed after this long, doubling…
PROBE_MAX_S = 3.0  # …up to this: a channel that returns is used again within a few seconds
SESSIONS_S = 0.5  # the logins of connected terminals are checked this often
STEP_RETRY_S = 0.5  # after a failed round (the database away), the next one comes this soon
HOUSEKEEPING_S = 5.0

T = TypeVar("T")


@dataclass(frozen=True)
class Pending:
    """An outbox row to send."""

    id: int
    alert_id: str
    channel: str
    kind: str
    payload: dict[str, Any]
    attempts: int

    @property
    def key(self) -> str:
        """The idempotency key a receiver de-duplicates by: the alert id, ``:escalation-N`` for escalations."""
        level = self.payload.get("escalation")
        return self.alert_id if level is None else f"{self.alert_id}:escalation-{level}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _pending(r: m.Outbox) -> Pending:
    return Pending(r.id, r.alert_id, r.channel, r.kind, dict(r.payload), r.attempts)


class OutboxRepository:
    """The outbox's database side (synchronous: the dispatcher runs it in its database threads)."""

    def __init__(self, store: IncidentStore, config: ServiceConfig) -> None:
        self.store = store
        self.db = store.db
        self.config = config

    def claim(self, now: datetime, skip_ids: set[int], skip_channels: set[str], limit: int = 200) -> list[Pending]:
        """Pending rows due now, but those in flight and those of channels that are down."""
        query = select(m.Outbox).where(m.Outbox.status == "pending", m.Outbox.next_attempt_at <= now)
        if skip_channels:
            query = query.where(m.Outbox.channel.notin_(sorted(skip_channels)))
        with self.db.sessions() as s:
            rows = s.scalars(query.order_by(m.Outbox.id).limit(limit + len(skip_ids)))
            return [_pending(r) for r in rows if r.id not in skip_ids][:limit]

    def _waiting(self, channel: str, now: datetime) -> Any:
        """A channel's messages still to send: pending, or given up on within the catch-up window."""
        since = now - timedelta(hours=self.config.terminal_replay_h)
        return (m.Outbox.channel == channel) & or_(
            m.Outbox.status == "pending", (m.Outbox.status == "failed") & (m.Outbox.created_at >= since)
        )

    def oldest(self, channel: str, skip_ids: set[int]) -> Pending | None:
        """The oldest message of a channel still to send (a probe of a channel that is down)."""
        with self.db.sessions() as s:
            rows = s.scalars(
                select(m.Outbox)
                .where(self._waiting(channel, utcnow()))
                .order_by(m.Outbox.id)
                .limit(len(skip_ids) + 1)
            )
            return next((_pending(r) for r in rows if r.id not in skip_ids), None)

    def release(self, channel: str, now: datetime) -> int:
        """A channel is back: what waited on it (given up on too, within the catch-up window) is due now."""
        with self.db.sessions.begin() as s:
            result = s.execute(
                update(m.Outbox).where(self._waiting(channel, now)).values(status="pending", next_attempt_at=now)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def counts(self) -> tuple[int, int]:
        """How many messages are pending, and how many were given up on (failed or rejected)."""
        with self.db.sessions() as s:
            rows = s.execute(
                select(m.Outbox.status, func.count()).where(m.Outbox.status != "sent").group_by(m.Outbox.status)
            ).all()
        found = {str(status): int(n) for status, n in rows}
        return found.get("pending", 0), found.get("failed", 0) + found.get("rejected", 0)

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

    def failed(self, row: Pending, error: PushError, now: datetime) -> str:
        """Record a failed attempt: the row's new status (pending, failed: given up, rejected: refused)."""
        attempts = row.attempts + 1
        status = "pending"
        if error.permanent:
            status = "rejected"
        elif attempts >= self.config.outbox_max_attempts:
            status = "failed"
        delay = min(2.0 ** (attempts - 1), BACKOFF_MAX_S)
        with self.db.sessions.begin() as s:
            s.execute(
                update(m.Outbox)
                .where(m.Outbox.id == row.id)
                .values(
                    status=status,
                    attempts=attempts,
                    last_error=str(error)[:500],
                    next_attempt_at=now + timedelta(seconds=delay),
                )
            )
        return status

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
                        m.Delivery.user_id == bindparam("user"),
                        m.Delivery.terminal_id == bindparam("terminal"),
                        m.Delivery.received_at.is_(None),
                    )
                    .values(received_at=bindparam("at")),
                    [{"alert": r.alert_id, "user": r.user_id, "terminal": r.terminal_id, "at": r.at} for r in receipts],
                )
                first: dict[str, datetime] = {}
                for r in receipts:
                    first[r.alert_id] = min(first.get(r.alert_id, r.at), r.at)
                alerts = {a.id: a for a in s.scalars(select(m.Alert).where(m.Alert.id.in_(first)))}
                for r in receipts:
                    alert = alerts.get(r.alert_id)
                    if alert is not None and not r.held:
                        latencies.append((r.at - alert.decided_at).total_seconds())
                for alert_id, at in first.items():
                    alert = alerts.get(alert_id)
                    if alert is not None and (alert.first_delivered_at is None or at < alert.first_delivered_at):
                        alert.first_delivered_at = at
        return latencies

    def catch_up(
        self, principal: Principal, terminal_id: str, have: set[str], now: datetime
    ) -> tuple[list[dict[str, Any]], set[str], set[str]]:
        """What a (re)connecting terminal has missed: alerts it may receive in the catch-up window, of
        incidents still open, that this user has not received on this terminal nor says it holds
        (``have``). Also: what it received before, and which of ``have`` are alerts it may see."""
        since = now - timedelta(hours=self.config.terminal_replay_h)
        with self.db.sessions() as s:
            received = set(
                s.scalars(
                    select(m.Delivery.alert_id).where(
                        m.Delivery.user_id == principal.user_id,
                        m.Delivery.terminal_id == terminal_id,
                        m.Delivery.received_at.is_not(None),
                    )
                )
            )
            if not principal.receives_alerts:
                return [], received, set()
            rows = s.execute(
                select(m.Alert, m.Incident.state, m.Incident.departments)
                .join(m.Incident, m.Incident.id == m.Alert.incident_id)
                .where(m.Alert.decided_at >= since)
                .order_by(m.Alert.decided_at)
            ).all()
            visible = [(alert, state) for alert, state, departments in rows
                       if principal.can_see(alert.district, departments)]  # fmt: skip
            held = {alert.id for alert, _ in visible if alert.id in have}
            missed = [
                dict(alert.payload)
                for alert, state in visible
                if alert.id not in received and alert.id not in held and State(state) in OPEN_STATES
            ]
            return missed, received, held

    def ended_logins(self, digests: set[str], now: datetime) -> set[str]:
        """Which of these logins have ended (logged out, expired, the user disabled, gone): one query, which
        returns nothing at all in the usual case."""
        with self.db.sessions() as s:
            live = set(
                s.scalars(
                    select(m.LoginSession.token_hash)
                    .join(m.User, m.User.id == m.LoginSession.user_id)
                    .where(
                        m.LoginSession.token_hash.in_(sorted(digests)),
                        m.LoginSession.revoked.is_(False),
                        m.LoginSession.expires_at > now,
                        m.User.disabled.is_(False),
                    )
                )
            )
        return digests - live

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


class ChannelLane:
    """One channel's sending, on its own: a queue, a few messages in flight, up or down with probes."""

    def __init__(self, channel: Channel, dispatcher: Dispatcher) -> None:
        self.channel = channel
        self.dispatcher = dispatcher
        self.queue: asyncio.Queue[Pending] = asyncio.Queue()
        self.down = False
        self._probe_delay = PROBE_MIN_S
        self._probe_at = 0.0
        self._came_up = False  # set from any thread (the MQTT client's reconnect)

    @property
    def name(self) -> str:
        return self.channel.name

    def submit(self, row: Pending) -> None:
        self.queue.put_nowait(row)

    def came_up(self) -> None:
        """Thread-safe: the channel says it is usable again (an MQTT reconnect)."""
        self._came_up = True
        self.dispatcher.wake()

    async def run(self) -> None:
        workers = [
            asyncio.create_task(self._worker(), name=f"{self.name}-{k}") for k in range(self.channel.concurrency)
        ]
        try:
            while True:
                await asyncio.sleep(0.1)
                if self._came_up and self.down:
                    await self._up("reconnected")
                self._came_up = False
                if self.down and time.monotonic() >= self._probe_at:
                    await self._probe()
        finally:
            for worker in workers:
                worker.cancel()

    async def _worker(self) -> None:
        while True:
            row = await self.queue.get()
            try:
                if self.down:  # went down meanwhile: the row waits in the outbox for the channel's return
                    continue
                ok = await self._attempt(row)
                if ok and self.down:
                    await self._up("a message went through")
            except Exception:
                log.exception("%s: sending outbox %d failed unexpectedly", self.name, row.id)
            finally:
                self.dispatcher.in_flight.discard(row.id)

    async def _attempt(self, row: Pending) -> bool:
        """Send one row and record the outcome; whether it went."""
        d = self.dispatcher
        try:
            await self.channel.send(row.kind, row.payload, row.key)
        except PushError as error:
            d.metrics.push_failures.labels(self.name.split(":")[0]).inc()
            status = await d.side(d.repo.failed, row, error, utcnow())
            say = log.warning if status == "pending" else log.error
            say("outbox %d (%s, %s): %s%s", row.id, row.channel, row.alert_id, error,
                "" if status == "pending" else f"; {status}", extra={"alert_id": row.alert_id})  # fmt: skip
            if not error.permanent:
                self._fail(str(error))
            return False
        await d.side(d.repo.sent, [row], utcnow())
        d.metrics.pushed.labels(self.name.split(":")[0], row.kind).inc()
        return True

    def _fail(self, reason: str) -> None:
        """The channel failed: down, said on /healthz (together, with no await between)."""
        if not self.down:
            self.down = True
            self._probe_delay = PROBE_MIN_S
        else:
            self._probe_delay = min(self._probe_delay * 2, PROBE_MAX_S)
        self._probe_at = time.monotonic() + self._probe_delay
        self.dispatcher.faults.report(self.name, reason)

    async def _probe(self) -> None:
        d = self.dispatcher
        row = await d.side(d.repo.oldest, self.name, set(d.in_flight))  # a copy: see Dispatcher.step
        if row is None:  # nothing waits: try again when something does
            self._probe_at = time.monotonic() + self._probe_delay
            return
        d.in_flight.add(row.id)
        try:
            if await self._attempt(row):
                await self._up("a probe went through")
        finally:
            d.in_flight.discard(row.id)

    async def _up(self, why: str) -> None:
        """The channel works again: what waited is due now; then it is up and its fault cleared, together."""
        d = self.dispatcher
        released = await d.side(d.repo.release, self.name, utcnow())
        self.down = False
        d.faults.report(self.name, None)
        log.info("%s is back (%s): %d waiting messages due now", self.name, why, released)
        d.wake()


class Dispatcher:
    """Sends the outbox over WebSocket, MQTT and webhooks (``run`` is its task; ``wake`` after a commit)."""

    def __init__(
        self,
        store: IncidentStore,
        config: ServiceConfig,
        hub: TerminalHub,
        metrics: ServiceMetrics,
        faults: HealthBoard | None = None,
    ) -> None:
        self.repo = OutboxRepository(store, config)
        self.store = store
        self.config = config
        self.hub = hub
        self.metrics = metrics
        self.faults = faults or HealthBoard()
        self.mqtt = MqttChannel(config.mqtt) if config.mqtt is not None else None
        channels: list[Channel] = [WebhookSender(w) for w in config.webhooks]
        if self.mqtt is not None:
            channels.insert(0, self.mqtt)
        self.lanes = {c.name: ChannelLane(c, self) for c in channels}
        self.in_flight: set[int] = set()  # outbox rows handed to a lane and not yet done
        # The sending round's database work has threads of its own: the lanes' records, housekeeping and the
        # terminals' deliveries never make it queue.
        self._executor = thread_pool(2, "outbox-db")
        self._side_executor = thread_pool(4, "outbox-side")
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = False
        self._sending = False  # the last round had something to send: records wait for a quiet round
        self._last = {"escalate": 0.0}
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        """Thread-safe: something was committed to the outbox."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def db(self, call: Callable[..., T], *args: Any) -> T:
        """Run the sending round's database work in threads of its own (never held up by a channel's)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    async def side(self, call: Callable[..., T], *args: Any) -> T:
        """Run other database work (the lanes' records, housekeeping, deliveries, catch-up) beside it."""
        return await asyncio.get_running_loop().run_in_executor(self._side_executor, call, *args)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        for lane in self.lanes.values():
            lane.channel.start(lane.came_up)
            self._tasks.append(asyncio.create_task(lane.run(), name=f"lane-{lane.name}"))
        self._tasks.append(asyncio.create_task(self.write(), name="deliveries"))
        self._tasks.append(asyncio.create_task(self._periodic(self.housekeeping, HOUSEKEEPING_S), name="housekeeping"))
        self._tasks.append(asyncio.create_task(self._periodic(self.check_logins, SESSIONS_S), name="logins"))
        while not self._stop:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=TICK_S)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.step()
                self.faults.report("dispatcher", None)
            except Exception as error:  # the dispatcher must outlive any one failure (a database hiccup)
                self.faults.report("dispatcher", f"cannot read the outbox: {reason_of(error)}")
                log.debug("dispatcher step failed", exc_info=error)
                await asyncio.sleep(STEP_RETRY_S)
        for task in self._tasks:
            task.cancel()

    async def step(self) -> None:
        """One round: send what is due (terminals now, the other channels handed to their lanes), and the
        periodic work on terminals: escalations, resends, logins that ended."""
        now = utcnow()
        down = {name for name, lane in self.lanes.items() if lane.down}
        began = time.perf_counter()
        # A copy of the rows in flight, taken before the query: a lane drops a row from the live set only after
        # its "sent" is committed, so a row missing from the copy reads as sent. Checked against the live set
        # instead, a row the query read as pending could leave it meanwhile and go out a second time.
        rows = await self.db(self.repo.claim, now, set(self.in_flight), down)
        self._sending = bool(rows)
        alerts = [r for r in rows if r.channel == "websocket" and r.kind == "alert"]
        if alerts:
            # A burst of alerts goes to each terminal as one message.
            claimed = time.perf_counter()
            sent = await self.hub.broadcast([r.payload for r in alerts], now, asyncio.get_running_loop().time())
            log.debug("%d alerts: %d deliveries in %.3f s (claimed in %.3f s)", len(alerts), sent,
                      time.perf_counter() - claimed, claimed - began)  # fmt: skip
            await self.db(self.repo.sent, alerts, utcnow())
            for r in alerts:
                self.metrics.pushed.labels("websocket", "alert").inc()
                self.metrics.alerts.labels(str(r.payload.get("district", ""))).inc()
        escalations = [r for r in rows if r.channel == "websocket" and r.kind != "alert"]
        for row in escalations:
            # The next level: the district's supervisors (an officer's own handheld had it already).
            message = {"type": "escalation", "alert": row.payload}
            await self.hub.notify(message, str(row.payload.get("district", "")), (), lambda t: t.principal.supervisor)
        if escalations:
            await self.db(self.repo.sent, escalations, utcnow())
        for row in rows:
            lane = self.lanes.get(row.channel)
            if row.channel == "websocket":
                continue
            if lane is None:  # a channel no longer configured: say so on the row, never retry it for ever
                error = PushError(f"channel {row.channel} is not configured", permanent=True)
                await self.db(self.repo.failed, row, error, utcnow())
                continue
            self.in_flight.add(row.id)
            lane.submit(row)
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last["escalate"] >= 1.0:
            self._last["escalate"] = loop_time
            for alert_id, _, level in await self.db(self.repo.due_escalations, now):
                self.metrics.escalations.inc()
                log.warning("alert %s escalated (level %d)", alert_id, level, extra={"alert_id": alert_id})
                self.wake()
            for terminal, late in self.hub.unconfirmed(self.config.resend_s, loop_time):
                await self.hub.send_alerts(terminal, late, now, loop_time, force=True)
        self.metrics.terminals.set(self.hub.connected)

    async def check_logins(self) -> None:
        """Close the terminals whose login ended: logout, expiry, the user disabled (by the CLI, in another
        process: only the database says so)."""
        terminals = self.hub.terminals()
        if not terminals:
            return
        ended = await self.side(self.repo.ended_logins, {t.login for t in terminals}, utcnow())
        for terminal in terminals:
            if terminal.login in ended:
                await self.hub.close(terminal, 4401, "session ended: log in again")

    async def _periodic(self, work: Callable[[], Awaitable[None]], every_s: float) -> None:
        while not self._stop:
            await asyncio.sleep(every_s)
            try:
                await work()
            except Exception as error:  # a database fault is on /healthz already; anything else is said here
                say = log.debug if transient(error) else log.warning
                say("%s failed: %s", getattr(work, "__name__", "periodic work"), reason_of(error))

    async def housekeeping(self) -> None:
        """The SQLite log checkpointed, evidence clips finished since, the outbox's counts, traffic states
        past their retention."""
        await self.side(self.store.db.checkpoint)
        await self.side(self.store.sweep_evidence)
        pending, failed = await self.side(self.repo.counts)
        self.metrics.outbox_pending.set(pending)
        self.metrics.outbox_failed.set(failed)
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last.get("prune", -1e9) >= 3600.0:
            self._last["prune"] = loop_time
            await self.side(self.store.prune_lane_states)

    async def write(self) -> None:
        """Write the terminals' deliveries and receipts in batches, beside the sending (which goes first:
        while alerts are due, the records wait)."""
        while not self._stop:
            await asyncio.sleep(WRITE_S)
            if self._sending and len(self.hub.deliveries) + len(self.hub.receipts) < WRITE_LIMIT:
                continue
            try:
                await self.flush()
            except Exception as error:
                log.warning("writing deliveries failed (kept for the next try): %s", reason_of(error))

    async def flush(self) -> None:
        deliveries, receipts = self.hub.deliveries, self.hub.receipts
        if not deliveries and not receipts:
            return
        self.hub.deliveries, self.hub.receipts = [], []
        try:
            latencies = await self.side(self.repo.write_deliveries, deliveries, receipts)
        except Exception:
            self.hub.deliveries[:0], self.hub.receipts[:0] = deliveries, receipts  # kept for the next try
            raise
        for latency in latencies:
            self.metrics.alert_latency.observe(max(latency, 0.0))

    async def connect(self, terminal: Terminal, have: set[str]) -> None:
        """A terminal (re)connected: record what it says it holds, and send it what it missed, in one message."""
        now = utcnow()
        missed, received, held = await self.side(
            self.repo.catch_up, terminal.principal, terminal.terminal_id, have, now
        )
        terminal.received |= received
        self.hub.holds(terminal, held - received, now)
        if missed:
            await self.hub.send_alerts(terminal, missed, now, asyncio.get_running_loop().time())

    async def close(self) -> None:
        self._stop = True
        try:
            await self.flush()
        except Exception as error:
            log.error("deliveries not written at shutdown: %s", reason_of(error))
        for lane in self.lanes.values():
            await lane.channel.close()
        for task in self._tasks:
            task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._side_executor.shutdown(wait=False, cancel_futures=True)
