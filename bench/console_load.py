"""The console under a city's load: 200 checkpoints, 50 open incidents (issue 6's goal: it stays responsive).

Run: .venv/bin/python bench/console_load.py [--cameras 200] [--incidents 50] [--rounds 20]

A site of N checkpoints 100 m apart on a corridor (both directions), each with a lane state, and
M open incidents spread over it, served on loopback; Debian's Chromium (headless, Playwright)
logs in as a dispatcher. Measured in the page: time from navigation to the map and the queue
drawn; the map's and the queue's render time; opening an incident (click to its detail
drawn) and stepping through the queue with the keyboard, over ``--rounds`` incidents; and a
burst of M incident updates pushed over the WebSocket while the page redraws.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.service.conftest import engine_incident, serve
from tests.traffic.test_meter import _calibration
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS
from yingyan.bus import IncidentReport
from yingyan.incidents.engine import LaneInterval
from yingyan.service.auth import add_user
from yingyan.service.runtime import ServeOptions, ServiceRuntime
from yingyan.service.workflow import Role

PASSWORD = "bench password 1"
COUNT_FRAMES = """() => {
  window.__frames = 0;
  const f = () => { window.__frames++; requestAnimationFrame(f); };
  requestAnimationFrame(f);
}"""  # frames the page draws meanwhile: a page busy for a long time draws few


def city(folder: Path, cameras: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cams, links = [], []
    half = cameras // 2
    for i in range(cameras):
        way = "east" if i < half else "west"
        k = i if i < half else i - half
        cam_id = f"C{i:03d}"
        (folder / f"{cam_id}.json").write_text(
            _calibration().model_copy(update={"camera_id": cam_id}).model_dump_json()
        )
        position = 100.0 * k if way == "east" else 100.0 * (half - 1 - k)
        cams.append({"id": cam_id, "name": f"环路 {cam_id}", "source": f"{cam_id}.mp4", "calibration": f"{cam_id}.json",
                     "position_m": position, "direction": way, "district": "city"})  # fmt: skip
        if k > 0:
            links.append({"upstream": f"C{i - 1:03d}", "downstream": cam_id, "distance_m": 100})
    site = {"name": "bench-city", "cameras": cams, "links": links, "service": {"data_dir": "data"}}
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=200)
    parser.add_argument("--incidents", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runtime = ServiceRuntime(city(folder / "site", args.cameras),
                                 ServeOptions(db_url=f"sqlite:///{folder / 'b.db'}", cameras=False))  # fmt: skip
        with runtime.db.sessions.begin() as s:
            add_user(s, "dispatcher", PASSWORD, Role.DISPATCHER, ["city"])
        states = [
            LaneInterval(cam.id, f"{cam.id}-L1", cam.direction, 0.0, 60.0, 900.0, 10.0 + (i * 7) % 50, 20.0,
                         (i * 3) % 5)
            for i, cam in enumerate(runtime.site.cameras)
        ]  # fmt: skip
        runtime.store.ingest_lane_states(runtime.run, states, [{} for _ in states])
        step = max(args.cameras // args.incidents, 1)
        for n in range(args.incidents):
            cam = runtime.site.cameras[(n * step) % args.cameras]
            incident = engine_incident(n + 1, camera=cam.id, position=(cam.position_m or 0.0) + 20.0,
                                       severity=1 + n % 4, camera_ids=(cam.id,))  # fmt: skip
            runtime.store.ingest_incident(runtime.run, incident)
        server = serve(runtime)
        rows: list[tuple[str, str]] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1920, "height": 1080})
                page.goto(f"{server.http}/console")
                page.fill("#login-user", "dispatcher")
                page.fill("#login-password", PASSWORD)
                started = time.perf_counter()
                page.click("#login-submit")
                page.wait_for_function(
                    f"() => document.querySelectorAll('#queue li[data-incident]').length === {args.incidents}"
                    f" && document.querySelectorAll('#network-svg g.cam').length === {args.cameras}"
                )
                ready = time.perf_counter() - started
                perf = page.evaluate("() => window.yingyan.perf")
                opens = []
                ids = page.evaluate(
                    "() => [...document.querySelectorAll('#queue li[data-incident]')].map(n => n.dataset.incident)"
                )
                for incident_id in ids[: args.rounds]:
                    t0 = time.perf_counter()
                    page.click(f"#queue li[data-incident='{incident_id}']")
                    page.wait_for_selector(f"#detail [data-incident='{incident_id}']")
                    opens.append((time.perf_counter() - t0) * 1000)
                keys = []
                for _ in range(args.rounds):
                    before = page.evaluate("() => window.yingyan.selected")
                    t0 = time.perf_counter()
                    page.keyboard.press("j")
                    shown = "document.querySelector(`#detail [data-incident='${window.yingyan.selected}']`)"
                    page.wait_for_function(f"() => window.yingyan.selected !== '{before}' && {shown}")
                    keys.append((time.perf_counter() - t0) * 1000)
                # A burst: every incident updated at once, pushed to the page.
                page.evaluate(COUNT_FRAMES)
                t0 = time.perf_counter()
                for n in range(args.incidents):
                    cam = runtime.site.cameras[(n * step) % args.cameras]
                    update = engine_incident(n + 1, camera=cam.id, position=(cam.position_m or 0.0) + 20.0,
                                             severity=4, camera_ids=(cam.id,))  # fmt: skip
                    runtime.bus.publish(IncidentReport(update, 2, runtime.run.run_key))
                page.wait_for_function(
                    f"() => document.querySelectorAll('#queue li.sev4').length === {args.incidents}", timeout=60_000
                )
                burst = time.perf_counter() - t0
                frames = page.evaluate("() => window.__frames")
                browser.close()
        finally:
            server.stop()
    rows = [
        ("checkpoints / open incidents", f"{args.cameras} / {args.incidents}"),
        ("login to map and queue drawn", f"{ready * 1000:.0f} ms"),
        ("map render (in the page)", f"{perf.get('map_ms', float('nan')):.1f} ms"),
        ("queue load and render", f"{perf.get('queue_ms', float('nan')):.1f} ms"),
        ("open an incident (click to detail), median / max", f"{statistics.median(opens):.0f} / {max(opens):.0f} ms"),
        ("next incident by keyboard, median / max", f"{statistics.median(keys):.0f} / {max(keys):.0f} ms"),
        (
            f"burst of {args.incidents} updates pushed and redrawn",
            f"{burst * 1000:.0f} ms ({frames} frames drawn meanwhile)",
        ),
    ]
    table = Table(title="console under load (headless Chromium, loopback)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
