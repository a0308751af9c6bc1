"""The whole loop in a real browser: `yingyan demo` on the short stall, played at 4× real time.

The stall is detected from the videos; its alert appears on the officer's terminal within
seconds of the decision; the officer acknowledges, confirms and reports on scene; the
dispatcher dispatches, clears, reports to the departments and closes on the console; the
report page shows the timeline; an officer of another district sees nothing of it. The
screenshots are kept under runs/test-artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.conftest import free_port

pytestmark = pytest.mark.slow
SHORT_STALL = Path(__file__).resolve().parents[1] / "data" / "short-stall.yaml"


@pytest.fixture
def demo(short_stall_eval: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`yingyan demo` as a user starts it, reusing the short stall's simulation (as a second run does)."""
    out = tmp_path / "demo"
    shutil.copytree(short_stall_eval / "short-stall" / "seed-1" / "sim", out / "sim")
    port = free_port()
    command = [sys.executable, "-m", "yingyan.cli", "demo", "--scenario", str(SHORT_STALL), "--out", str(out),
               "--speed", "4", "--port", str(port), "--no-open"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    yield base, process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            assert process.wait(timeout=30) == 0, "Ctrl-C did not stop the demo cleanly"
        finally:
            if process.poll() is None:
                process.kill()
        said = process.stdout.read() if process.stdout else ""
        assert "demo stopped" in said and "Traceback" not in said, said[-2000:]


def _login(page: Any, base: str, path: str, user: str, password: str) -> None:
    page.goto(f"{base}{path}")
    page.fill("#login-user", user)
    page.fill("#login-password", password)
    page.click("#login-submit")


def test_the_stall_goes_round_the_whole_loop_in_the_browser(
    demo: tuple[str, subprocess.Popen[str]], chromium: Any, artifacts: Path
) -> None:
    base, process = demo
    errors: list[str] = []
    officer = chromium.new_context(viewport={"width": 412, "height": 900}, is_mobile=True, has_touch=True).new_page()
    dispatcher = chromium.new_context(viewport={"width": 1600, "height": 950}).new_page()
    north = chromium.new_context(viewport={"width": 412, "height": 900}, is_mobile=True).new_page()
    for page in (officer, dispatcher, north):
        page.on("pageerror", lambda error: errors.append(str(error)))
    _login(officer, base, "/terminal", "officer", "demo-officer")
    _login(dispatcher, base, "/console", "dispatcher", "demo-dispatcher")
    _login(north, base, "/terminal", "officer_north", "demo-officer-north")
    officer.wait_for_selector("#conn.up", timeout=20_000)

    # The alert arrives on the terminal within seconds of the decision.
    card = officer.wait_for_selector("article.card", timeout=150_000)
    alert = officer.evaluate("() => window.yingyan.alerts[0]")
    lag = alert["arrived_epoch"] - alert["decided_epoch"]  # one clock: browser and service on this machine
    assert alert["cause"] == "stopped_vehicle" and alert["camera_id"] == "K2"
    assert lag < 3.0, f"alert on the terminal {lag:.2f} s after the decision"
    assert "停车" in card.inner_text()
    officer.wait_for_selector("article.card img")  # its snapshot
    officer.screenshot(path=str(artifacts / "terminal-alert.png"), full_page=True)
    incident_id = alert["incident_id"]

    def tap(page: Any, action: str) -> None:
        page.click(f"article.card[data-incident='{incident_id}'] button[data-action='{action}']")
        page.wait_for_function("() => window.yingyan.pending.length === 0")

    tap(officer, "acknowledge")
    officer.wait_for_selector(f"article.card[data-incident='{incident_id}'] button[data-action='confirm']")
    tap(officer, "confirm")

    # The dispatcher's console: a camera's live view with the analysis drawn on it, and its charts.
    dispatcher.click("nav.tabs button[data-view='cameras']")
    dispatcher.wait_for_function("() => document.querySelector('#liveview')?.naturalWidth > 0", timeout=20_000)
    dispatcher.wait_for_selector("#cam-view .uplot")
    dispatcher.screenshot(path=str(artifacts / "console-camera.png"))
    dispatcher.click("nav.tabs button[data-view='map']")
    # The dispatcher takes it on the console: dispatch, …
    dispatcher.wait_for_selector(f"#queue li[data-incident='{incident_id}']")
    dispatcher.click(f"#queue li[data-incident='{incident_id}']")
    dispatcher.wait_for_selector("#detail-state:has-text('已确认')")
    dispatcher.wait_for_selector("#snapshot")
    dispatcher.screenshot(path=str(artifacts / "console-incident.png"))
    dispatcher.click("#actions button[data-action='dispatch']")
    dispatcher.fill("#action-dialog input[name='unit']", "交警三中队 警车 023")
    dispatcher.click("#action-dialog button[type='submit']")
    dispatcher.wait_for_selector("#detail-state:has-text('已派警')")
    # … the officer arrives, …
    officer.reload()
    officer.wait_for_selector(f"article.card[data-incident='{incident_id}'] button[data-action='arrive']")
    tap(officer, "arrive")
    # … and the dispatcher clears, reports and closes.
    dispatcher.wait_for_selector("#actions button[data-action='clear']", timeout=10_000)
    dispatcher.click("#actions button[data-action='clear']")
    dispatcher.wait_for_selector("#detail-state:has-text('已清除')")
    dispatcher.click("#actions button[data-action='report']")
    assert dispatcher.is_checked("#action-dialog input[value='tow']")  # suggested for a stopped vehicle
    dispatcher.check("#action-dialog input[value='road']")
    dispatcher.click("#action-dialog button[type='submit']")
    dispatcher.wait_for_selector("#detail-state:has-text('已通报')")
    dispatcher.click("#actions button[data-action='close']")
    dispatcher.wait_for_selector("#detail-state:has-text('已结案')")
    dispatcher.click("#detail button:has-text('回放蔓延')")
    dispatcher.wait_for_selector("#spacetime")
    dispatcher.screenshot(path=str(artifacts / "console-closed.png"))

    report = dispatcher.context.new_page()
    report.goto(f"{base}/api/v1/incidents/{incident_id}/report.html")
    timeline = report.inner_text("#timeline")
    for step in ("acknowledge", "confirm", "dispatch", "arrive", "clear", "report", "close"):
        assert re.search(rf"\b{step}\b", timeline), step
    assert "交警三中队 警车 023" in report.content()
    report.screenshot(path=str(artifacts / "report.png"), full_page=True)

    # Another district's officer saw nothing of it, and cannot open it.
    assert north.query_selector_all("article.card") == []
    north.screenshot(path=str(artifacts / "terminal-other-district.png"))
    status = north.evaluate(f"async () => (await fetch('/api/v1/incidents/{incident_id}')).status")
    assert status == 404
    (artifacts / "loop.json").write_text(json.dumps({"incident": incident_id, "alert_lag_s": lag}), encoding="utf-8")
    assert not errors, errors
    assert process.poll() is None  # still serving
