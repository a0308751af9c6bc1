"""Database engines and migrations: SQLite (WAL) by default, PostgreSQL by URL.

``open_database(url)`` brings the schema to the newest migration (Alembic) and returns the
engine and a session factory. SQLite gets write-ahead logging, foreign keys and a busy
timeout, so the API, the dispatcher and the incident engine can share one file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker

from yingyan.errors import YingyanError
from yingyan.service import models as m

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000  # SQLite: how long a writer waits for another's lock before "database is locked"
WAL_AUTOCHECKPOINT_PAGES = 20_000  # SQLite: a commit checkpoints by itself only past ~80 MB of log (a fallback)
CONNECT_TIMEOUT_S = 5  # PostgreSQL: how long connecting may take (an unreachable server fails, not hangs)


class DatabaseError(YingyanError):
    """The database cannot be opened or brought up to date; the message names it (without its password)."""


@dataclass(frozen=True)
class Database:
    """An open database: its engine and a session factory."""

    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()

    def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database file as far as readers allow, waiting on
        nobody (PASSIVE); nothing for PostgreSQL."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def probe_write(self, instance: str, timeout_s: float = 1.5) -> str | None:
        """Write this instance's probe row and commit, waiting at most about ``timeout_s`` for a lock:
        ``None`` when the database takes writes, else why not (a read alone misses a locked SQLite
        file or a full disk)."""
        now = datetime.now(UTC)
        sqlite_file = self.engine.dialect.name == "sqlite"
        insert = sqlite.insert if sqlite_file else postgresql.insert
        statement = (
            insert(m.ServiceProbe)
            .values(id=instance, at=now)
            .on_conflict_do_update(index_elements=["id"], set_={"at": now})
        )
        try:
            with self.engine.connect() as connection:
                if sqlite_file:
                    connection.exec_driver_sql(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
                else:
                    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}")
                try:
                    connection.execute(statement)
                    connection.commit()
                finally:
                    connection.rollback()
                    if sqlite_file:
                        connection.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                        connection.commit()
        except (SQLAlchemyError, OSError) as error:
            return f"database {self.url}: {reason_of(error)}"
        return None


def reason_of(error: BaseException) -> str:
    """A database error's own first line (the driver's words, without SQL or parameters)."""
    original = getattr(error, "orig", None) if isinstance(error, DBAPIError) else None
    text = str(original if original is not None else error).strip()
    return (text.splitlines() or [type(error).__name__])[0][:200] or type(error).__name__


def transient(error: BaseException) -> bool:
    """Whether a database error may pass by itself (locked, disk full, connection lost, server down),
    so that the work is worth trying again, rather than a fault of the data written."""
    if isinstance(error, OSError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, (IntegrityError, ProgrammingError)):
        return False
    return isinstance(error, (OperationalError, DBAPIError))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Checkpoints are the housekeeping's (Database.checkpoint, every few seconds, beside the alert path): a
    # commit that had to copy the log into the file itself would hold its alert up by that I/O.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and a busy timeout."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"database URL {url!r} is not a valid SQLAlchemy URL") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        parsed, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection_engine"] = engine
    return config


def open_database(url: str, upgrade: bool = True) -> Database:
    """Open ``url``, migrate it to the newest schema (unless ``upgrade`` is false) and return it."""
    engine = make_engine(url)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        if upgrade:
            command.upgrade(alembic_config(engine), "head")
    except (SQLAlchemyError, OSError) as error:
        engine.dispose()
        raise DatabaseError(f"database {shown}: cannot open ({reason_of(error)})") from None
    log.info("database %s at schema %s", shown, current_revision(engine))
    return Database(engine, sessionmaker(engine, expire_on_commit=False))


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (``None`` before the first migration)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return str(row[0]) if row else None
