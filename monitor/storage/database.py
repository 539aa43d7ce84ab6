"""The engine, sessions, migrations, and the translation of database failures into our errors.

Every failure to reach or lock the database surfaces as `StorageUnavailable` (a transient
error): the caller keeps its cursor unmoved and tries again, so nothing is lost.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, Insert, Select, create_engine, event, exc, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import ConfigError, StorageUnavailable

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x636D6F6E  # "cmon": any constant shared by all replicas
IMMEDIATE = "immediate"
"""`Database.session(write=True)` on SQLite: BEGIN IMMEDIATE (an execution option)."""


class Database:
    """One engine per process; `session()` is the only way in and always commits or rolls back."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # hide_parameters: a failed statement's message (logged, raised) never quotes the values
        # it carried, i.e. customer text (issue 15 item 2).
        kwargs: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite, "hide_parameters": True}
        if self.is_sqlite:
            self._prepare_sqlite_path()
            kwargs["connect_args"] = {"timeout": 5, "check_same_thread": False}
        else:
            kwargs |= {"pool_size": 5, "pool_recycle": 1800, "connect_args": {"connect_timeout": 5}}
        try:
            self.engine: Engine = create_engine(self.url, **kwargs)
        except (exc.ArgumentError, ModuleNotFoundError) as err:
            raise ConfigError(
                f"database url {self.url.render_as_string(hide_password=True)!r} is not usable: "
                f"{err}; for PostgreSQL: pip install 'complaint-monitor[postgres]'"
            ) from err
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        elif self.url.get_backend_name() == "postgresql":
            event.listen(self.engine, "connect", _postgres_settings)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(
            self.engine.execution_options(sqlite_begin=IMMEDIATE), expire_on_commit=False
        )
        self._lock_file: IO[str] | None = None

    def _prepare_sqlite_path(self) -> None:
        """Owner-only when we create them (posts are customer text): the directory 0700, the
        file 0600 (SQLite gives its -wal and -shm files the file's mode). A directory systemd's
        `StateDirectory=` made keeps the mode systemd gave it."""
        database = self.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return
        path = Path(database).expanduser()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        except OSError as err:
            raise ConfigError(
                f"cannot create the SQLite database {path}: {err.strerror}; make its directory "
                "writable by this user or set [daemon] state_dir"
            ) from err

    @property
    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A transaction: commit on success, roll back on any error, translate outages.

        ``write=True`` for a transaction that reads before it writes: on SQLite it takes the
        write lock at BEGIN (waiting up to the busy timeout for it), since a read transaction
        that tries to write after another connection committed fails at once with "database is
        locked" (WAL: its snapshot is stale), whatever the busy timeout."""
        sessions = self._writes if write else self._sessions
        try:
            with sessions() as session, session.begin():
                yield session
        except (exc.OperationalError, exc.InterfaceError) as err:
            raise StorageUnavailable(f"database unavailable: {_first_line(err)}") from err
        except exc.DBAPIError as err:
            if err.connection_invalidated:
                raise StorageUnavailable(f"database connection lost: {_first_line(err)}") from err
            raise

    def upgrade(self) -> None:
        """Apply pending Alembic migrations (idempotent; run at every start-up)."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        try:
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # Replicas starting together migrate one at a time; the others then find
                    # the schema at head. The lock is released when this transaction ends.
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except (exc.OperationalError, exc.InterfaceError) as err:
            raise StorageUnavailable(
                f"cannot migrate {self.display_url}: {_first_line(err)}"
            ) from err

    def schema_revision(self) -> SchemaRevision:
        """Where the schema is against this code's migrations, read and never changed: the
        read-only commands (`stats`, `status`, `replay`) refuse a schema that is not at head."""
        scripts = ScriptDirectory(str(MIGRATIONS_DIR))
        try:
            with self.engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
        except (exc.OperationalError, exc.InterfaceError) as err:
            raise StorageUnavailable(f"cannot read {self.display_url}: {_first_line(err)}") from err
        try:
            known = current is None or scripts.get_revision(current) is not None
        except CommandError:
            known = False  # written by a newer complaint-monitor
        return SchemaRevision(current, scripts.get_current_head() or "", known)

    def acquire_single_process_lock(self) -> None:
        """SQLite serves one daemon: a second `run` on the same file refuses to start."""
        if not self.is_sqlite or not self.url.database or self.url.database == ":memory:":
            return
        path = Path(self.url.database).expanduser().with_suffix(".lock")
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                f"the SQLite database {self.url.database} is in use by {holder}: SQLite serves "
                "one daemon at a time; stop the other one, or move to PostgreSQL to run replicas"
            ) from err
        handle.seek(0)
        handle.truncate()
        handle.write(f"complaint-monitor pid {os.getpid()}\n")
        handle.flush()
        self._lock_file = handle

    def close(self) -> None:
        self.engine.dispose()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


@dataclass(frozen=True, slots=True)
class SchemaRevision:
    current: str | None
    """The database's revision; None when it has no schema yet."""
    head: str
    """The newest revision this code knows."""
    known: bool
    """False when `current` is none of this code's revisions: a newer version migrated it."""

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def is_outage(err: BaseException) -> bool:
    """The database is away or locked (what `Database.session` raises as `StorageUnavailable`),
    as opposed to refusing one statement's values."""
    if isinstance(err, exc.OperationalError | exc.InterfaceError | StorageUnavailable):
        return True
    return isinstance(err, exc.DBAPIError) and err.connection_invalidated


def insert(session: Session, table: type[Any]) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT on both SQLite and PostgreSQL.

    Core, not the slower ORM bulk path. Typed Any: the two dialects' `on_conflict_*` methods
    differ in signature, and every caller uses the subset both share."""
    dialect = session.get_bind().dialect.name
    statement: Insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(
        table.__table__
    )
    return statement


def skip_locked(session: Session, query: Select[Any], of: Any = None) -> Select[Any]:
    """On PostgreSQL, lock the rows a claim selects and skip those another replica's claim has
    locked (``FOR UPDATE SKIP LOCKED``), so replicas split the work instead of racing for it.
    SQLite has one writer at a time, so there is nothing to skip."""
    if session.get_bind().dialect.name != "postgresql":
        return query
    return query.with_for_update(of=of, skip_locked=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite opens a transaction only before INSERT/UPDATE/DELETE, so CREATE TABLE ran in
    # autocommit: a process killed mid-migration left half a schema that every restart then
    # refused ("table ... already exists"). Its own transaction handling off, `_sqlite_begin`
    # opens every transaction, DDL and SAVEPOINTs included (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # A writer waits up to 5 s for the lock: retention's batches hold it for a few tens of ms
    # and pause between them, so a poll always gets its turn (issue 16).
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _postgres_settings(dbapi_connection: Any, _record: Any) -> None:
    # JIT compiles a query whose estimated cost passes jit_above_cost, e.g. `stats` looking up
    # each week's post's verdict: 90 ms of compiling for 80 ms of work (bench/history.py). Our
    # queries are short; none gains from it. (SQLAlchemy's recipe for a session setting.)
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    cursor.execute("SET jit = off")
    cursor.close()
    dbapi_connection.autocommit = autocommit


def _sqlite_begin(connection: Any) -> None:
    mode = connection.get_execution_options().get("sqlite_begin")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == IMMEDIATE else "BEGIN")


def _first_line(err: Exception) -> str:
    original = getattr(err, "orig", None) or err
    return str(original).strip().splitlines()[0] if str(original).strip() else type(err).__name__
