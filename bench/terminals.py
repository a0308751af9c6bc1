"""The terminals of the alert benchmarks: a process of WebSocket terminals speaking the terminal protocol
(hello, alerts in, receipts out), each recording when each alert arrived."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any


def terminals(url: str, tokens: list[str], ids: list[int], expect: int, ready: Any, results: Any) -> None:
    """A terminals' process: connect the terminals ``ids``, wait for ``expect`` alerts each (or time out)."""
    count = len(ids)
    import websockets

    async def one(k: int, got: list[tuple[str, float]], connected: asyncio.Event, counter: list[int]) -> None:
        async with websockets.connect(url, max_queue=None, open_timeout=60) as socket:
            hello = {"type": "hello", "token": tokens[ids[k] % len(tokens)], "terminal_id": f"t{ids[k]}"}
            await socket.send(json.dumps(hello))
            json.loads(await socket.recv())  # welcome
            counter[0] += 1
            if counter[0] == count:
                connected.set()
            while len(got) < expect:
                try:
                    raw = await asyncio.wait_for(socket.recv(), timeout=30.0)
                except TimeoutError:
                    return
                now = time.time()
                message = json.loads(raw)
                if message["type"] != "alerts":
                    continue
                for alert in message["alerts"]:
                    got.append((alert["alert_id"], now - float(alert["decided_epoch"])))
                received = [a["alert_id"] for a in message["alerts"]]
                await socket.send(json.dumps({"type": "received", "alert_ids": received}))

    async def main() -> None:
        connected = asyncio.Event()
        counter = [0]
        got: list[list[tuple[str, float]]] = [[] for _ in range(count)]
        tasks = []
        for k in range(count):
            tasks.append(asyncio.create_task(one(k, got[k], connected, counter)))
            if k % 50 == 49:
                await asyncio.sleep(0.05)  # do not knock on the door a thousand times at once
        await asyncio.wait_for(connected.wait(), timeout=120)
        ready.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        results.put(got)

    asyncio.run(main())
