"""Alert latency under load: 1,000 terminals on WebSocket, a burst of incidents (issue 5's goal).

Run: .venv/bin/python bench/alert_push.py [--terminals 1000] [--incidents 20] [--db URL] [--clients N]

The service runs here (uvicorn on a loopback port, SQLite by default, the outbox dispatcher as
in `yingyan serve`); the terminals run in a second process (asyncio, one WebSocket each, the
terminal protocol: hello, alerts in, receipts out; ``--clients N`` spreads them over N processes).
Every terminal belongs to the district of
every incident, so each alert goes to all of them. A burst of incidents is published on the
bus at once, as the engine publishes them; the latency of each (alert, terminal) is its
receipt time at the terminal minus the service's decision time (``decided_epoch`` in the
alert; one clock, one machine). Prints p50, p99 and the maximum, and how many were lost.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.terminals import terminals
from tests.service.conftest import engine_incident, serve, write_site
from yingyan.bus import IncidentReport
from yingyan.service.auth import add_user
from yingyan.service.runtime import ServeOptions, ServiceRuntime
from yingyan.service.workflow import Role

PASSWORD = "bench password 1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--terminals", type=int, default=1000)
    parser.add_argument("--incidents", type=int, default=20)
    parser.add_argument("--users", type=int, default=50, help="officer accounts the terminals log in as")
    parser.add_argument("--db", default=None, help="database URL (default: a SQLite file)")
    parser.add_argument("--ws", default="websockets-sansio", help="uvicorn's WebSocket implementation")
    parser.add_argument("--clients", type=int, default=1, help="processes the terminals are spread over")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        site = write_site(folder / "site")
        runtime = ServiceRuntime(
            site, ServeOptions(db_url=args.db or f"sqlite:///{folder / 'bench.db'}", cameras=False)
        )
        with runtime.db.sessions.begin() as s:
            for u in range(args.users):
                add_user(s, f"officer{u}", PASSWORD, Role.OFFICER, ["east"])
        server = serve(runtime, args.ws)
        try:
            tokens = [
                httpx.post(f"{server.http}/api/v1/auth/login", json={"username": f"officer{u}", "password": PASSWORD})
                .json()["token"]
                for u in range(args.users)
            ]  # fmt: skip
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            readies = [context.Event() for _ in range(args.clients)]
            clients = [
                context.Process(target=terminals, args=(server.ws, tokens, list(range(c, args.terminals, args.clients)),
                                                        args.incidents, readies[c], results))
                for c in range(args.clients)
            ]  # fmt: skip
            started = time.monotonic()
            for client in clients:
                client.start()
            if not all(ready.wait(180) for ready in readies):
                console.print("[red]the terminals did not all connect[/]")
                return 1
            console.print(f"{args.terminals} terminals connected in {time.monotonic() - started:.1f} s "
                          f"({server.runtime.hub.connected} on the service's side)")  # fmt: skip
            time.sleep(1.0)
            burst = time.monotonic()
            for n in range(args.incidents):  # a burst: one incident every 40 m along K2's stretch, all at once
                incident = engine_incident(n + 1, position=500.0 + 45.0 * n)
                runtime.bus.publish(IncidentReport(incident, 1, "bench"))
            got = [per for _ in clients for per in results.get(timeout=300)]
            for client in clients:
                client.join(timeout=30)
            elapsed = time.monotonic() - burst
        finally:
            server.stop()
        latencies = np.array([lat for per in got for _, lat in per])
        expected = args.terminals * args.incidents
        received = {(k, a) for k, per in enumerate(got) for a, _ in per}
        duplicates = sum(len(per) for per in got) - len(received)
        table = Table(
            title=f"alert latency: {args.terminals} WebSocket terminals, a burst of {args.incidents} incidents"
        )
        for col in (
            "deliveries expected",
            "received",
            "lost",
            "duplicates",
            "p50 s",
            "p99 s",
            "max s",
            "burst done in s",
        ):
            table.add_column(col, justify="right")
        table.add_row(
            str(expected), str(len(received)), str(expected - len(received)), str(duplicates),
            f"{np.percentile(latencies, 50):.3f}", f"{np.percentile(latencies, 99):.3f}", f"{latencies.max():.3f}",
            f"{elapsed:.1f}",
        )  # fmt: skip
        console.print(table)
        console.print(f"database: {runtime.db.url}")
        return 0 if len(received) == expected and np.percentile(latencies, 99) <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
