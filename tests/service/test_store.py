"""The store's database: migrations match the models on both back-ends, the camera side's messages
are idempotent, evidence waits for its clip, traffic states expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from tests.service.conftest import engine_incident
from yingyan.incidents.engine import LaneInterval
from yingyan.incidents.events import Event, EventType
from yingyan.service import models as m
from yingyan.service.config import ServiceConfig
from yingyan.service.db import current_revision, open_database
from yingyan.service.store import IncidentStore, RunContext
from yingyan.video import VideoWriter


def test_the_migrations_build_exactly_the_models_tables(db_url: str) -> None:
    db = open_database(db_url)
    try:
        assert current_revision(db.engine) == "0002"
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), m.Base.metadata)
        assert diff == []
        open_database(db_url).dispose()  # opening again (at head) changes nothing
    finally:
        db.dispose()


def test_a_database_of_the_first_schema_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    from alembic import command

    from yingyan.service.db import alembic_config, make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO districts (id, name) VALUES ('east', 'east')")
        connection.exec_driver_sql(
            "INSERT INTO users (id, username, display_name, password_hash, role, districts, supervisor, disabled,"
            " created_at) VALUES (1, 'u', 'u', 'x', 'officer', '[\"east\"]', 0, 0, '2026-01-01 00:00:00')"
        )
    engine.dispose()
    db = open_database(url)
    try:
        assert current_revision(db.engine) == "0002"
        with db.sessions() as s:
            assert [u.username for u in s.scalars(select(m.User))] == ["u"]
        assert db.probe_write("test") is None
    finally:
        db.dispose()


def _store(db_url: str, tmp_path: Path, **config: object) -> tuple[IncidentStore, RunContext]:
    store = IncidentStore(open_database(db_url), ServiceConfig.model_validate(config), tmp_path / "data")
    return store, RunContext("run-1", datetime(2026, 11, 23, 9, 30, tzinfo=UTC), tmp_path)


def test_redelivered_lane_states_and_events_change_nothing(db_url: str, tmp_path: Path) -> None:
    store, run = _store(db_url, tmp_path)
    states = [LaneInterval("K1", "K1-L1", "east", 60.0 * k, 60.0, 1200.0, 48.0, 25.0, 0) for k in range(3)]
    rows = [{"occupancy_pct": "7.5", "queue_m": ""} for _ in states]
    assert store.ingest_lane_states(run, states, rows) == 3
    assert store.ingest_lane_states(run, states, rows) == 0
    event = Event("K1-stopped_vehicle-t4-300", EventType.STOPPED_VEHICLE, "K1", "K1-L1", 30.0, 40.0, (12.0, 1.7))
    store.ingest_event(run, event)
    store.ingest_event(run, event)
    store.ingest_event(run, Event(**{**event.__dict__, "end_s": 95.0}))
    with store.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.LaneState)) == 3
        (row,) = s.scalars(select(m.Event)).all()
        assert row.ended_at == run.at(95.0) and row.started_at == run.at(30.0)
        state = s.scalars(select(m.LaneState).order_by(m.LaneState.window_start)).first()
        assert state is not None and state.occupancy_pct == 7.5 and state.queue_m is None
        assert state.window_start.tzinfo is not None  # stored instants come back as UTC
    store.db.dispose()


def test_a_clip_still_being_recorded_is_stored_once_it_is_complete(db_url: str, tmp_path: Path) -> None:
    store, run = _store(db_url, tmp_path)
    clip = tmp_path / "cameras" / "K2" / "evidence" / "e1.mp4"
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom")  # the recorder has started the file, not finished it
    incident_id = store.ingest_incident(run, engine_incident(evidence={"clip": str(clip)})).incident_id
    with store.db.sessions() as s:
        (evidence,) = s.scalars(select(m.Evidence)).all()
        assert evidence.status == "pending" and evidence.incident_id == incident_id
    assert store.sweep_evidence() == 0
    import numpy as np

    with VideoWriter(clip, 64, 48, fps=5) as writer:
        for k in range(10):
            writer.write(np.full((48, 64, 3), 20 * k, np.uint8))
    assert store.sweep_evidence() == 1
    with store.db.sessions() as s:
        stored = s.scalars(select(m.Evidence)).one()
        assert stored.status == "stored" and stored.size == clip.stat().st_size and len(stored.digest) == 64
        assert (tmp_path / "data" / "evidence" / stored.path).read_bytes() == clip.read_bytes()
    store.db.dispose()


def test_traffic_states_past_their_retention_are_deleted(db_url: str, tmp_path: Path) -> None:
    store, _ = _store(db_url, tmp_path, lane_state_retention_days=7)
    old = RunContext("old", datetime.now(UTC) - timedelta(days=10), tmp_path)
    new = RunContext("new", datetime.now(UTC) - timedelta(days=1), tmp_path)
    for run in (old, new):
        store.ingest_lane_states(run, [LaneInterval("K1", "K1-L1", "east", 0.0, 60.0, 900, 40, 20, 0)], [{}])
    assert store.prune_lane_states() == 1
    with store.db.sessions() as s:
        assert [r.window_start for r in s.scalars(select(m.LaneState))] == [new.at(0.0)]
    store.db.dispose()


def test_an_incident_is_alerted_once_its_report_says_so_and_its_ids_are_per_day(db_url: str, tmp_path: Path) -> None:
    store, run = _store(db_url, tmp_path)
    quiet = store.ingest_incident(run, engine_incident(alert_s=None, cause="recurrent", abnormal=False))
    assert quiet.alert_id is None
    first = store.ingest_incident(run, engine_incident(2, alert_s=None, position=300.0))
    assert first.alert_id is None and first.created
    alerted = store.ingest_incident(run, engine_incident(2, alert_s=61.0, position=300.0))
    assert alerted.alert_id == f"ALR-{first.incident_id}" and not alerted.created
    with store.db.sessions() as s:
        ids = sorted(s.scalars(select(m.Incident.id)))
        assert [i.split("-")[-1] for i in ids] == ["0001", "0002"]
        outbox = s.scalars(select(m.Outbox)).all()
        assert [(o.alert_id, o.channel, o.status) for o in outbox] == [(alerted.alert_id, "websocket", "pending")]
        steps = [st.action for st in s.scalars(select(m.Step).where(m.Step.incident_id == first.incident_id))]
        assert steps == ["detect", "alert"]
    store.db.dispose()


def test_a_camera_whose_configuration_changes_gets_a_new_version_and_keeps_the_old(db_url: str, tmp_path: Path) -> None:
    from tests.service.conftest import write_site
    from yingyan.site import load_site

    store, _ = _store(db_url, tmp_path)
    site_path = write_site(tmp_path / "site")
    site = load_site(site_path)
    store.sync_site(site)
    store.sync_site(site)  # unchanged: no new version
    rules = site.cameras[0].rules.model_copy(update={"stopped_dwell_s": 20.0})
    changed = site.model_copy(
        update={"cameras": [site.cameras[0].model_copy(update={"rules": rules}), *site.cameras[1:]]}
    )
    store.sync_site(changed)
    with store.db.sessions() as s:
        versions = [(c.camera_id, c.version) for c in s.scalars(select(m.CameraConfig).order_by(m.CameraConfig.id))]
        k1 = s.get(m.Camera, "K1")
        assert k1 is not None and k1.config_version == 2 and k1.district == "east"
        latest = s.scalars(select(m.CameraConfig).where(m.CameraConfig.camera_id == "K1", m.CameraConfig.version == 2))
        assert latest.one().config["rules"]["stopped_dwell_s"] == 20.0
    assert versions == [("K1", 1), ("K2", 1), ("K3", 1), ("K1", 2)]
    store.db.dispose()
