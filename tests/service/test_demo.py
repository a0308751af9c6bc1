"""`yingyan demo`'s preparation: the simulation is reused by a second run, the database is not."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import SHORT_STALL
from yingyan.service.access import SYSTEM
from yingyan.service.demo import DEMO_USERS, add_demo_users, demo_site, simulate
from yingyan.service.runtime import ServeOptions, ServiceRuntime


def test_a_second_demo_reuses_the_simulation_and_starts_with_an_empty_database(
    short_stall_eval: Path, tmp_path: Path
) -> None:
    out = tmp_path / "demo"
    shutil.copytree(short_stall_eval / "short-stall" / "seed-1" / "sim", out / "sim")
    stamp = (out / "sim" / "manifest.json").stat().st_mtime_ns
    sim = simulate(out, str(SHORT_STALL), 1, None)
    assert sim == out / "sim" and (sim / "manifest.json").stat().st_mtime_ns == stamp  # not simulated again
    first = ServiceRuntime(demo_site(out, sim, "127.0.0.1", 0), ServeOptions(cameras=False))
    add_demo_users(first)
    from tests.service.conftest import engine_incident

    first.store.ingest_incident(first.run, engine_incident())
    assert len(first.store.incidents(SYSTEM)) == 1
    first.db.dispose()
    second = ServiceRuntime(demo_site(out, sim, "127.0.0.1", 0), ServeOptions(cameras=False))
    assert second.store.incidents(SYSTEM) == []
    assert [u.username for u in add_demo_users(second)] == [u.username for u in DEMO_USERS]  # no "exists already"
    second.db.dispose()
