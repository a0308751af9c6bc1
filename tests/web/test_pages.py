"""The pages as people meet them: offline (nothing from elsewhere), Chinese first with English on
request, a wrong password and an expired session said plainly without losing the page, a
terminal that keeps working through a network drop, stale streams standing out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy import update

from tests.service.conftest import PASSWORD, LiveServer, engine_incident, make_runtime, serve
from yingyan.service import models as m
from yingyan.service.access import SYSTEM


@pytest.fixture
def site(tmp_path: Path) -> Iterator[LiveServer]:
    server = serve(make_runtime(tmp_path / "site", f"sqlite:///{tmp_path / 'pages.db'}"))
    server.runtime.store.ingest_incident(server.runtime.run, engine_incident())
    yield server
    server.stop()


def _page(chromium: Any, mobile: bool = False) -> tuple[Any, list[str], set[str]]:
    context = chromium.new_context(viewport={"width": 412, "height": 860} if mobile else {"width": 1500, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    hosts: set[str] = set()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
    return page, errors, hosts


def _login(page: Any, user: str, password: str = PASSWORD) -> None:
    page.fill("#login-user", user)
    page.fill("#login-password", password)
    page.click("#login-submit")


def _tap_offline(chromium: Any, site: LiveServer) -> tuple[Any, list[str]]:
    """An officer's phone: logged in, the alert there, the network lost, then a tap (it waits, queued)."""
    page, errors, _ = _page(chromium, mobile=True)
    page.goto(f"{site.http}/terminal")
    _login(page, "off_east")
    page.wait_for_selector("article.card button[data-action='acknowledge']")
    page.context.set_offline(True)
    page.click("article.card button[data-action='acknowledge']")
    page.wait_for_selector("#pending:has-text('待提交')")
    return page, errors


def test_the_console_loads_nothing_from_elsewhere_and_speaks_chinese_then_english(
    site: LiveServer, chromium: Any, artifacts: Path
) -> None:
    page, errors, hosts = _page(chromium)
    page.goto(f"{site.http}/console")
    # The page's script writes its labels once it has loaded: wait for them, then read.
    page.wait_for_selector("#login-submit:has-text('登录')", timeout=10_000)
    assert page.inner_text("#login-submit") == "登录"
    _login(page, "disp_east", "not the password")
    page.wait_for_selector(".login-error:has-text('用户名或密码错误')")  # said plainly, the dialog stays
    _login(page, "disp_east")
    page.wait_for_selector("#queue li[data-incident]")
    assert "停车" in page.inner_text("#queue") and page.inner_text("nav.tabs button[data-view='health']") == "健康"
    page.click("#lang")
    page.wait_for_function(
        "() => document.querySelector(\"nav.tabs button[data-view='health']\").textContent === 'Health'"
    )
    assert "Stopped vehicle" in page.inner_text("#queue")
    page.click("#lang")
    assert hosts == {urlparse(site.http).netloc}, f"the page reached beyond Yingyan: {hosts}"
    assert not errors, errors


def test_an_expired_session_asks_for_the_password_and_keeps_the_incident_open(
    site: LiveServer, chromium: Any, artifacts: Path
) -> None:
    page, errors, _ = _page(chromium)
    page.goto(f"{site.http}/console")
    _login(page, "disp_east")
    item = page.wait_for_selector("#queue li[data-incident]")
    incident_id = item.get_attribute("data-incident")
    # The queue redraws its rows as updates arrive: click by selector, which finds the row again.
    page.click(f"#queue li[data-incident='{incident_id}']")
    page.wait_for_selector("#actions button[data-action='acknowledge']")
    with site.runtime.db.sessions.begin() as s:  # the session runs out while the dispatcher reads
        s.execute(update(m.LoginSession).values(revoked=True))
    # The tap lands as the session ends. The page may learn of the end first (its socket is closed,
    # a background reload gets 401) and open the login over the page; a tap from the same moment
    # must still go through after the login, so it is dispatched on the button, not at its pixels.
    page.eval_on_selector("#actions button[data-action='acknowledge']", "b => b.click()")
    page.wait_for_selector("#login[open]")
    assert "登录已过期" in page.inner_text("#login .login-message")
    page.screenshot(path=str(artifacts / "console-session-expired.png"))
    _login(page, "disp_east")
    page.wait_for_selector("#detail-state:has-text('已签收')")  # the action went through after the login
    assert page.get_attribute(f"#queue li[data-incident='{incident_id}']", "class").endswith("sel")
    assert not errors, errors


def test_the_terminal_keeps_a_tap_made_offline_and_sends_it_when_the_network_is_back(
    site: LiveServer, chromium: Any, artifacts: Path
) -> None:
    page, errors = _tap_offline(chromium, site)
    page.wait_for_selector("#banner.show:has-text('网络中断')")  # said plainly
    page.screenshot(path=str(artifacts / "terminal-offline.png"), full_page=True)
    page.context.set_offline(False)
    page.wait_for_function("() => window.yingyan.pending.length === 0", timeout=20_000)
    incident = site.runtime.store.incidents(SYSTEM)[0]
    assert incident["state"] == "acknowledged"
    # A second alert while the page reconnects after the drop arrives, once.
    site.runtime.store.ingest_incident(site.runtime.run, engine_incident(2, camera="K1", position=20.0))
    site.runtime.dispatcher.wake()
    page.wait_for_function("() => window.yingyan.alerts.length === 2", timeout=20_000)
    assert page.evaluate("() => new Set(window.yingyan.alerts.map(a => a.alert_id)).size") == 2
    assert not errors, errors


def test_the_health_page_shows_stale_streams(site: LiveServer, chromium: Any, artifacts: Path) -> None:
    page, errors, _ = _page(chromium)
    page.goto(f"{site.http}/console")
    _login(page, "disp_east")
    page.click("nav.tabs button[data-view='health']")
    rows = page.wait_for_selector("#health-table tr.stale")
    assert rows is not None and len(page.query_selector_all("#health-table tr.stale")) == 3  # no pipeline runs here
    page.screenshot(path=str(artifacts / "console-health.png"))
    assert not errors, errors


def test_a_lost_connection_is_said_on_the_console_and_it_recovers_by_itself(
    site: LiveServer, chromium: Any, artifacts: Path
) -> None:
    page, errors, _ = _page(chromium)
    page.goto(f"{site.http}/console")
    _login(page, "disp_east")
    page.wait_for_selector("#conn.up")
    page.evaluate("() => window.yingyan.live.socket.close()")  # the connection drops
    page.wait_for_selector("#banner.show:has-text('连接中断')")
    page.screenshot(path=str(artifacts / "console-connection-lost.png"))
    page.wait_for_selector("#conn.up", timeout=15_000)  # back, by itself
    page.wait_for_selector("#banner", state="hidden")
    # What came while it was away is there: a new incident pushed after the reconnect.
    site.runtime.store.ingest_incident(site.runtime.run, engine_incident(2, camera="K1", position=20.0))
    site.runtime.dispatcher.wake()
    page.wait_for_function("() => document.querySelectorAll('#queue li[data-incident]').length === 2", timeout=15_000)
    assert not errors, errors


def test_a_terminal_passed_to_another_officer_shows_nothing_of_the_first_and_sends_their_taps_only_as_them(
    site: LiveServer, chromium: Any, artifacts: Path
) -> None:
    from sqlalchemy import select

    page, errors = _tap_offline(chromium, site)
    with site.runtime.db.sessions.begin() as s:  # meanwhile the officer's session ends
        s.execute(update(m.LoginSession).values(revoked=True))
    page.context.set_offline(False)
    page.wait_for_selector("#login[open]", timeout=15_000)  # the queued tap asks for its officer's login…
    _login(page, "disp_east")  # …but another user logs in on the phone
    page.wait_for_selector("#who:has-text('disp_east')")
    page.wait_for_function("() => window.yingyan.user === 'disp_east' && window.yingyan.alerts.length === 1")
    assert page.evaluate("() => window.yingyan.pending.length") == 0  # not the first officer's queue
    page.screenshot(path=str(artifacts / "terminal-second-user.png"), full_page=True)
    assert site.runtime.store.incidents(SYSTEM)[0]["state"] == "alerted"  # the tap was not sent as disp_east
    with site.runtime.db.sessions.begin() as s:  # this session ends too: the socket closes, the login shows
        s.execute(update(m.LoginSession).values(revoked=True))
    page.wait_for_selector("#login[open]", timeout=15_000)
    _login(page, "off_east")
    page.wait_for_function("() => window.yingyan.user === 'off_east' && window.yingyan.pending.length === 0",
                           timeout=20_000)  # fmt: skip
    incident_id = site.runtime.store.incidents(SYSTEM)[0]["id"]
    assert site.runtime.store.incidents(SYSTEM)[0]["state"] == "acknowledged"
    with site.runtime.db.sessions() as s:
        step = s.scalar(select(m.Step).where(m.Step.incident_id == incident_id, m.Step.action == "acknowledge"))
        assert step is not None and step.actor == "off_east"
    assert not errors, errors
