"""A service process for the kill -9 test, run as ``python -m tests.service.burst_server SITE PORT FIRST COUNT
EVERY_S``: the service of SITE on PORT (no cameras), publishing COUNT incidents on its bus, numbered from
FIRST, one every EVERY_S seconds, as an engine would; then it serves until it is killed."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import uvicorn

from tests.service.conftest import engine_incident
from yingyan.bus import IncidentReport
from yingyan.service.api import create_app
from yingyan.service.runtime import ServeOptions, ServiceRuntime


def main() -> None:
    site, port, first, count, every = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(
        sys.argv[5]
    )
    runtime = ServiceRuntime(site, ServeOptions(cameras=False))
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_config=None,
                                           ws="websockets-sansio", lifespan="on"))  # fmt: skip

    def burst() -> None:
        while not server.started:
            time.sleep(0.05)
        for number in range(first, first + count):
            incident = engine_incident(number, position=100.0 * number)
            runtime.bus.publish(IncidentReport(incident, 1, runtime.run.run_key))
            time.sleep(every)

    threading.Thread(target=burst, daemon=True).start()
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn hands Ctrl-C on once it has shut down


if __name__ == "__main__":
    main()
