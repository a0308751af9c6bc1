"""A longer fuzz run of the API from its OpenAPI spec (schemathesis) and hostile inputs, on SQLite or PostgreSQL.

Run: .venv/bin/python bench/api_fuzz.py [--examples 300] [--postgres | --db URL]

Every operation gets ``--examples`` generated requests, valid and invalid by the schema, with an
administrator's session (logout aside), against the service on a real port; then the hostile
inputs of ``tests/service/test_fuzz.py`` (NUL characters and unpaired surrogates in every path,
query and body field, long strings, a 3 MB body, JSON nested 100,000 deep, bytes that are not
UTF-8, photos that are not images). ``--postgres`` runs on a fresh schema of the local
PostgreSQL (dropped after). Prints how many requests were sent, the status codes seen, and every
5xx (the goal: none).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

import schemathesis
from rich.console import Console
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.service.conftest import PG_ROOT, engine_incident, make_runtime, serve
from tests.service.test_fuzz import fuzz, hostile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=300, help="generated requests per operation")
    parser.add_argument("--db", default=None, help="database URL (default: a SQLite file)")
    parser.add_argument("--postgres", action="store_true", help="a fresh schema of the local PostgreSQL")
    args = parser.parse_args()
    console = Console()
    codes: Counter[int] = Counter()
    call = schemathesis.Case.call

    def counted(case: schemathesis.Case, *a: object, **k: object) -> object:
        response = call(case, *a, **k)  # type: ignore[arg-type]
        codes[response.status_code] += 1
        return response

    schemathesis.Case.call = counted  # type: ignore[method-assign]
    schema = f"yy_fuzz_{uuid.uuid4().hex[:8]}"
    root = create_engine(PG_ROOT) if args.postgres else None
    if root is not None:
        with root.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            url = args.db or f"sqlite:///{folder / 'fuzz.db'}"
            if root is not None:
                url = f"{PG_ROOT}?options=-csearch_path%3D{schema}"
            server = serve(make_runtime(folder / "site", url))
            try:
                server.runtime.store.ingest_incident(server.runtime.run, engine_incident())
                failures = fuzz(server, args.examples)
                sent, hostile_failures = hostile(server)
            finally:
                server.stop()
    finally:
        if root is not None:
            with root.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            root.dispose()
    console.print(f"database: {'PostgreSQL' if root is not None else url.split(':')[0]}")
    console.print(f"generated: {sum(codes.values())} requests; status codes: {dict(sorted(codes.items()))}")
    console.print(f"hostile: {sent} requests")
    for failure in failures + hostile_failures:
        console.print(f"[red]{failure}[/]")
    console.print(f"server errors: {len(failures) + len(hostile_failures)}")
    return 1 if failures or hostile_failures else 0


if __name__ == "__main__":
    sys.exit(main())
