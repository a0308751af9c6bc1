"""Terminals as users and impostors meet them: whose alerts go where, what ends a terminal's
connection, and what a terminal is sent again after it reconnects."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
from sqlalchemy import select

from tests.service.conftest import PASSWORD, LiveServer, make_runtime, serve
from tests.service.test_push import publish, token
from yingyan.service import models as m


class Socket:
    """One terminal connection: what came, and how it ended."""

    def __init__(self, server: LiveServer, user: str, terminal_id: str, *, incidents: bool = False,
                 have: list[str] | None = None, receipts: bool = True, login: str | None = None) -> None:  # fmt: skip
        self.server, self.terminal_id, self.incidents, self.receipts = server, terminal_id, incidents, receipts
        self.token = login or token(server, user)
        self.have = have or []
        self.messages: list[dict[str, Any]] = []
        self.closed: tuple[int, str, float] | None = None  # code, reason, when
        self.welcomed = asyncio.Event()

    async def run(self, seconds: float) -> None:
        async with websockets.connect(self.server.ws) as socket:
            hello = {"type": "hello", "token": self.token, "terminal_id": self.terminal_id,
                     "incidents": self.incidents, "have": self.have}  # fmt: skip
            await socket.send(json.dumps(hello))
            deadline = time.monotonic() + seconds
            try:
                while time.monotonic() < deadline:
                    try:
                        raw = await asyncio.wait_for(socket.recv(), timeout=max(deadline - time.monotonic(), 0.01))
                    except TimeoutError:
                        break
                    message = json.loads(raw)
                    self.messages.append(message)
                    if message["type"] == "welcome":
                        self.welcomed.set()
                    if message["type"] == "alerts" and self.receipts:
                        ids = [a["alert_id"] for a in message["alerts"]]
                        await socket.send(json.dumps({"type": "received", "alert_ids": ids}))
            except websockets.exceptions.ConnectionClosed as closed:
                self.closed = (closed.rcvd.code if closed.rcvd else 1006,
                               closed.rcvd.reason if closed.rcvd else "", time.monotonic())  # fmt: skip

    def alerts(self) -> list[str]:
        return [a["alert_id"] for msg in self.messages if msg["type"] == "alerts" for a in msg["alerts"]]

    def told(self) -> list[str]:
        return [msg["incident"]["id"] for msg in self.messages if msg["type"] == "incident"]


def test_a_terminal_id_connected_for_an_officer_is_refused_to_anyone_else(live: LiveServer) -> None:
    officer = Socket(live, "off_east", "hand-07")
    impostor = Socket(live, "viewer_west", "hand-07")

    async def scenario() -> None:
        listening = asyncio.create_task(officer.run(4.0))
        await officer.welcomed.wait()
        await impostor.run(2.0)
        publish(live.runtime)
        await listening

    asyncio.run(scenario())
    assert impostor.closed is not None and impostor.closed[0] == 4409
    assert [m["type"] for m in impostor.messages] == ["error"]
    assert len(officer.alerts()) == 1 and officer.closed is None  # the officer kept the terminal and the alert


def test_a_terminal_closes_within_a_second_of_logout_of_disable_and_of_expiry(tmp_path: Path, db_url: str) -> None:
    server = serve(make_runtime(tmp_path / "site", db_url, {"token_ttl_s": 3.0}))
    try:
        # Logout: the officer's own session ends.
        logout = Socket(server, "off_east", "hand-1")
        # Disable: an administrator runs `yingyan user disable` (another process: only the database changes).
        disabled = Socket(server, "disp_east", "desk-1")
        # Expiry: the session's time runs out (3 s here).
        expiring = Socket(server, "off_west", "hand-9")
        logged_in = time.monotonic()

        async def scenario() -> dict[str, float]:
            tasks = [asyncio.create_task(s.run(8.0)) for s in (logout, disabled, expiring)]
            for s in (logout, disabled, expiring):
                await s.welcomed.wait()
            ended: dict[str, float] = {}
            async with httpx.AsyncClient() as client:
                ended["logout"] = time.monotonic()
                answer = await client.post(f"{server.http}/api/v1/auth/logout",
                                           headers={"Authorization": f"Bearer {logout.token}"})  # fmt: skip
                assert answer.status_code == 204
            ended["disable"] = time.monotonic()
            with server.runtime.db.sessions.begin() as s:
                user = s.scalar(select(m.User).where(m.User.username == "disp_east"))
                assert user is not None
                user.disabled = True
            await asyncio.sleep(0.5)
            publish(server.runtime)  # an east alert: nobody of the two may receive it any more
            await asyncio.gather(*tasks)
            return ended

        ended = asyncio.run(scenario())
        for socket, began in ((logout, ended["logout"]), (disabled, ended["disable"])):
            assert socket.closed is not None and socket.closed[0] == 4401, socket.messages
            assert socket.closed[2] - began < 1.0
            assert socket.alerts() == []
        assert expiring.closed is not None and expiring.closed[0] == 4401
        assert expiring.closed[2] - (logged_in + 3.0) < 1.0
    finally:
        server.stop()


def test_who_is_told_of_an_incident_is_who_may_read_it(live: LiveServer) -> None:
    liaison = Socket(live, "liaison_tow", "liaison-1", incidents=True)
    viewer = Socket(live, "viewer_east", "wall-1", incidents=True)
    dispatcher = token(live, "disp_east")

    async def scenario() -> str:
        tasks = [asyncio.create_task(s.run(5.0)) for s in (liaison, viewer)]
        await asyncio.gather(liaison.welcomed.wait(), viewer.welcomed.wait())
        publish(live.runtime)
        await asyncio.sleep(1.5)
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {dispatcher}"}) as client:
            listed = (await client.get(f"{live.http}/api/v1/incidents")).json()
            incident_id = str(listed[0]["id"])
            before = await client.get(f"{live.http}/api/v1/incidents/{incident_id}",
                                      headers={"Authorization": f"Bearer {liaison.token}"})  # fmt: skip
            assert before.status_code == 404  # not reported to the tow department yet: REST refuses it…
            liaison.messages.append({"type": "mark"})
            report = {"action": "report", "departments": ["tow"]}
            for action in ({"action": "confirm"}, {"action": "dispatch", "unit": "P-1"}, {"action": "arrive"},
                           {"action": "clear"}, report):  # fmt: skip
                answer = await client.post(f"{live.http}/api/v1/incidents/{incident_id}/actions", json=action)
                assert answer.status_code == 200, answer.text
        await asyncio.gather(*tasks)
        return incident_id

    incident_id = asyncio.run(scenario())
    mark = liaison.messages.index({"type": "mark"})
    assert [m for m in liaison.messages[:mark] if m["type"] == "incident"] == []  # …and so does the socket
    assert incident_id in [m["incident"]["id"] for m in liaison.messages[mark:] if m["type"] == "incident"]
    assert incident_id in viewer.told()
    assert liaison.alerts() == [] and viewer.alerts() == []  # neither role is sent alerts
    # Nor are they caught up on alerts when they connect later.
    late = [Socket(live, "viewer_east", "wall-2"), Socket(live, "liaison_tow", "liaison-2")]

    async def connect_late() -> None:
        await asyncio.gather(*(s.run(1.5) for s in late))

    asyncio.run(connect_late())
    assert [s.alerts() for s in late] == [[], []]


def test_a_terminal_passed_to_the_next_shift_gets_the_open_alerts_for_its_new_user(live: LiveServer) -> None:
    publish(live.runtime)
    day = Socket(live, "off_east", "hand-shared")
    asyncio.run(day.run(2.0))
    assert len(day.alerts()) == 1
    time.sleep(0.5)  # the receipt written
    night = Socket(live, "disp_east", "hand-shared")
    asyncio.run(night.run(2.0))
    assert night.alerts() == day.alerts()  # received by the day's officer, not yet by this user
    again = Socket(live, "off_east", "hand-shared")
    asyncio.run(again.run(1.5))
    assert again.alerts() == []


def test_a_terminal_that_says_it_holds_an_alert_is_not_sent_it_again(live: LiveServer) -> None:
    publish(live.runtime)
    silent = Socket(live, "off_east", "hand-5", receipts=False)  # its receipt is lost (say, the service died)
    asyncio.run(silent.run(2.0))
    (alert_id,) = silent.alerts()
    back = Socket(live, "off_east", "hand-5", have=[alert_id, "ALR-NOT-AN-ALERT"])
    asyncio.run(back.run(2.0))
    assert back.alerts() == []
    time.sleep(0.5)
    with live.runtime.db.sessions() as s:
        (delivery,) = s.scalars(select(m.Delivery).where(m.Delivery.terminal_id == "hand-5"))
        assert delivery.alert_id == alert_id and delivery.received_at is not None


def test_a_password_changes_nothing_for_a_socket_without_a_valid_session(live: LiveServer) -> None:
    stranger = Socket(live, "off_east", "hand-x", login="not-a-token")
    asyncio.run(stranger.run(1.0))
    assert stranger.closed is not None and stranger.closed[0] == 4401
    assert httpx.post(f"{live.http}/api/v1/auth/login", json={"username": "off_east", "password": PASSWORD}).is_success
