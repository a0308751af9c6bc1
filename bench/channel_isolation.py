"""What a dead MQTT broker and a hanging webhook add to WebSocket alert delivery (issue 16's goal: ≤ 50 ms).

Run: .venv/bin/python bench/channel_isolation.py [--terminals 50] [--alerts 40] [--every 0.25] [--repeat 3]

The service runs here twice, on the same work: once with WebSocket terminals only (the baseline),
once with MQTT pointed at a port where no broker listens and a webhook whose platform takes each
request and never answers. Each time ``--terminals`` terminals (a second process, one WebSocket each)
receive ``--alerts`` alerts published one every ``--every`` seconds, as an engine publishes them;
the latency of each (alert, terminal) is its arrival at the terminal minus the service's decision
(``decided_epoch``). The two runs alternate ``--repeat`` times; prints p50, p99 and max of each run,
what the faulty channels added to p99 in each round, and the median of that (the figure).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.terminals import terminals
from tests.service.conftest import engine_incident, free_port, serve, write_site
from yingyan.bus import IncidentReport
from yingyan.service.auth import add_user
from yingyan.service.runtime import ServeOptions, ServiceRuntime
from yingyan.service.workflow import Role

PASSWORD = "bench password 1"


class _Hanging(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        time.sleep(3600)  # takes the request, never answers

    def log_message(self, *args: object) -> None:
        pass


def run(folder: Path, service: dict[str, Any], args: argparse.Namespace) -> tuple[np.ndarray, list[str]]:
    site = write_site(folder / "site", service)
    runtime = ServiceRuntime(site, ServeOptions(db_url=args.db or f"sqlite:///{folder / 'bench.db'}", cameras=False))
    with runtime.db.sessions.begin() as s:
        for u in range(args.terminals):
            add_user(s, f"officer{u}", PASSWORD, Role.OFFICER, ["east"])
    server = serve(runtime)
    try:
        tokens = [
            httpx.post(f"{server.http}/api/v1/auth/login", json={"username": f"officer{u}", "password": PASSWORD})
            .json()["token"]
            for u in range(args.terminals)
        ]  # fmt: skip
        context = multiprocessing.get_context("spawn")
        ready, results = context.Event(), context.Queue()
        clients = context.Process(
            target=terminals, args=(server.ws, tokens, list(range(args.terminals)), args.alerts, ready, results)
        )
        clients.start()
        if not ready.wait(120):
            raise RuntimeError("the terminals did not connect")
        time.sleep(1.0)
        for n in range(args.alerts):
            incident = engine_incident(n + 1, position=100.0 * (n + 1))
            runtime.bus.publish(IncidentReport(incident, 1, "bench"))
            time.sleep(args.every)
        got = results.get(timeout=300)
        clients.join(timeout=30)
        faults = [f["component"] for f in httpx.get(f"{server.http}/healthz").json()["faults"]]
    finally:
        server.stop()
    lost = args.terminals * args.alerts - sum(len(g) for g in got)
    if lost:
        raise RuntimeError(f"{lost} deliveries lost")
    return np.array([lat for per in got for _, lat in per]), faults


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--terminals", type=int, default=50)
    parser.add_argument("--alerts", type=int, default=40)
    parser.add_argument("--every", type=float, default=0.25, help="seconds between alerts")
    parser.add_argument("--db", default=None, help="database URL (default: a SQLite file per run)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the two runs (the median is the figure)")
    args = parser.parse_args()
    console = Console()
    os.environ.setdefault("YY_BENCH_HOOK_KEY", "bench-key")
    platform = ThreadingHTTPServer(("127.0.0.1", 0), _Hanging)
    platform.daemon_threads = True
    threading.Thread(target=platform.serve_forever, daemon=True).start()
    faulty = {
        "mqtt": {"port": free_port(), "timeout_s": 5.0},
        "webhooks": [{"name": "hangs", "url": f"http://127.0.0.1:{platform.server_port}/hook",
                      "secret_env": "YY_BENCH_HOOK_KEY", "timeout_s": 5.0}],
    }  # fmt: skip
    rows: list[tuple[str, np.ndarray]] = []
    added: list[float] = []
    for round_ in range(args.repeat):  # baseline and faulty in turn, each on a fresh service
        pair = []
        for name, service in (("WebSocket only", {}), ("+ dead MQTT broker, hanging webhook", faulty)):
            console.print(f"round {round_ + 1}, {name}: {args.terminals} terminals, {args.alerts} alerts one every "
                          f"{args.every} s")  # fmt: skip
            with tempfile.TemporaryDirectory() as tmp:
                latencies, faults = run(Path(tmp), service, args)
            console.print(f"  faults the service reported meanwhile: {', '.join(faults) or 'none'}")
            pair.append(latencies)
            rows.append((f"{round_ + 1}: {name}", latencies))
        added.append((np.percentile(pair[1], 99) - np.percentile(pair[0], 99)) * 1e3)
    table = Table(title="WebSocket alert latency (decision to arrival at the terminal)")
    for col in ("round: run", "deliveries", "p50 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right")
    for name, latencies in rows:
        table.add_row(name, str(len(latencies)), f"{np.percentile(latencies, 50) * 1e3:.1f}",
                      f"{np.percentile(latencies, 99) * 1e3:.1f}", f"{latencies.max() * 1e3:.1f}")  # fmt: skip
    console.print(table)
    median = float(np.median(added))
    console.print(f"p99 added by the faulty channels, per round: {', '.join(f'{a:+.1f}' for a in added)} ms; "
                  f"median {median:+.1f} ms (goal: ≤ 50 ms)")  # fmt: skip
    platform.shutdown()
    return 0 if median <= 50.0 else 1


if __name__ == "__main__":
    sys.exit(main())
