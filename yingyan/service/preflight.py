"""What ``yingyan serve`` runs, and the checks it passes before it starts (``yingyan serve --check``).

A misconfiguration is refused at start, each problem naming its field, instead of failing when
the first alert is sent: a webhook whose key variable is unset, an MQTT password variable that is
unset, a data folder that cannot be created or written, a database that cannot be opened (a
corrupt file, an unreachable server), cameras to analyse without a source or with a missing video
or calibration, a replay folder that is not a run, an ONNX model that is not there. What the
site file's models refuse (unknown keys, an unknown escalation channel, a camera district that is
not one of the listed districts) is refused when the file is read.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from yingyan.calibration import CameraCalibration
from yingyan.errors import ConfigError, YingyanError
from yingyan.perception.backends import SHIPPED_MODEL, DetectorName
from yingyan.service.db import reason_of
from yingyan.site import Site


@dataclass(frozen=True)
class ServeOptions:
    """What ``yingyan serve`` runs besides the service."""

    db_url: str | None = None
    host: str | None = None
    port: int | None = None
    cameras: bool = True  # run the site's camera pipelines and the engine
    replay: Path | None = None  # instead: replay a `yingyan run` output folder
    speed: float = 1.0  # files and replays at this multiple of real time
    start: datetime | None = None  # local time of stream second 0 (baseline time of day)
    baseline: Path | None = None
    detector: DetectorName = DetectorName.MOTION
    model: Path | None = None
    fps: float = 5.0


class PreflightError(ConfigError):
    """The service cannot start as configured; the message lists every problem, each naming its field."""


def resolve(root: Path, text: str) -> Path:
    path = Path(text)
    return path if path.is_absolute() else root / path


def data_dir(site: Site, root: Path) -> Path:
    return resolve(root, site.service.data_dir)


def database_url(site: Site, root: Path, options: ServeOptions) -> str:
    return options.db_url or site.service.database_url or f"sqlite:///{data_dir(site, root) / 'yingyan.db'}"


def problems(site: Site, site_path: Path, options: ServeOptions) -> list[str]:
    """Everything that would stop the service from working as configured (empty: it may start)."""
    root = site_path.parent
    found: list[str] = []
    service = site.service
    for i, hook in enumerate(service.webhooks):
        if not os.environ.get(hook.secret_env):
            found.append(f"service.webhooks.{i}.secret_env: environment variable {hook.secret_env} (the key of "
                         f"webhook {hook.name}) is not set")  # fmt: skip
    if service.mqtt is not None and service.mqtt.password_env and not os.environ.get(service.mqtt.password_env):
        found.append(f"service.mqtt.password_env: environment variable {service.mqtt.password_env} is not set")
    folder = data_dir(site, root)
    writable = _writable(folder)
    if writable is not None:
        found.append(f"service.data_dir: {folder}: {writable}")
    url = database_url(site, root, options)
    if writable is None or not url.startswith("sqlite"):
        database = _database(url)
        if database is not None:
            found.append(f"{'--db' if options.db_url else 'service.database_url'}: {database}")
    if options.replay is not None:
        if not (options.replay / "cameras").is_dir():
            found.append(f"--replay: {options.replay} is not the output folder of a `yingyan run` (no cameras/)")
    elif options.cameras:
        for i, cam in enumerate(site.cameras):
            found += _camera(i, cam.id, cam.source, cam.calibration, root)
        model = options.model or SHIPPED_MODEL
        if options.detector is not DetectorName.MOTION and not model.is_file():
            found.append(f"--model: {model}: no such file (the {options.detector.value} detector runs an ONNX model)")
    return found


def check(site: Site, site_path: Path, options: ServeOptions) -> None:
    """Raise PreflightError listing every problem, if any."""
    found = problems(site, site_path, options)
    if found:
        listed = "\n  ".join(found)
        raise PreflightError(f"{site_path}: the service cannot start as configured:\n  {listed}")


def _writable(folder: Path) -> str | None:
    """Why the data folder cannot be created or written, or ``None``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as error:
        return f"cannot create or write ({error.strerror or error})"
    return None


def _database(url: str) -> str | None:
    """Why the database cannot be opened (without changing it), or ``None``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "not a valid SQLAlchemy URL"
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:" or not Path(parsed.database).exists():
            return None  # created at start
        try:
            with sqlite3.connect(f"file:{parsed.database}?mode=ro", uri=True) as connection:
                connection.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError as error:
            return f"{shown}: cannot be opened ({error}); restore it from a backup or move it away"
        return None
    engine = create_engine(parsed, connect_args={"connect_timeout": 5} if "postgresql" in url else {})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return f"{shown}: cannot connect ({reason_of(error)})"
    finally:
        engine.dispose()
    return None


def _camera(index: int, camera_id: str, source: str | None, calibration: str, root: Path) -> list[str]:
    found = []
    where = f"cameras.{index}"
    if source is None:
        found.append(f"{where}.source: camera {camera_id} has no source (a simulation run without video): serve it "
                     "with --no-cameras or --replay RUN_DIR")  # fmt: skip
    elif "://" not in source and not resolve(root, source).exists():
        found.append(f"{where}.source: {resolve(root, source)} does not exist")
    try:
        CameraCalibration.load(resolve(root, calibration))
    except YingyanError as error:
        found.append(f"{where}.calibration: {error}")
    return found
