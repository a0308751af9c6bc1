"""A longer fuzz run of the API from its OpenAPI spec (schemathesis), on SQLite or PostgreSQL.

Run: .venv/bin/python bench/api_fuzz.py [--examples 300] [--db URL]

Every operation gets ``--examples`` generated requests, valid and invalid by the schema, with an
administrator's session (logout aside), against the service on a real port. Prints how many
requests were sent, the status codes seen, and every 5xx (the goal: none).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

import schemathesis
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.service.conftest import engine_incident, make_runtime, serve
from tests.service.test_fuzz import fuzz


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=300, help="generated requests per operation")
    parser.add_argument("--db", default=None, help="database URL (default: a SQLite file)")
    args = parser.parse_args()
    console = Console()
    codes: Counter[int] = Counter()
    call = schemathesis.Case.call

    def counted(case: schemathesis.Case, *a: object, **k: object) -> object:
        response = call(case, *a, **k)  # type: ignore[arg-type]
        codes[response.status_code] += 1
        return response

    schemathesis.Case.call = counted  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server = serve(make_runtime(folder / "site", args.db or f"sqlite:///{folder / 'fuzz.db'}"))
        try:
            server.runtime.store.ingest_incident(server.runtime.run, engine_incident())
            failures = fuzz(server, args.examples)
        finally:
            server.stop()
    console.print(f"{sum(codes.values())} requests; status codes: {dict(sorted(codes.items()))}")
    for failure in failures:
        console.print(f"[red]{failure}[/]")
    console.print(f"server errors: {len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
