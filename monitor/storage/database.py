"""The engine, sessions, migrations, and the translation of database failures into our errors.

Every failure to reach or lock the database surfaces as `StorageUnavailable` (a transient
error): the caller keeps its cursor unmoved and tries again, so nothing is lost.

It stays whole past 600 lines: the driver-level INSERT (`insert_columns`) must bind every value
as the engine configured here binds it (its JSON serializer, its dialects' type processors),
and apart the two halves of that one contract would drift.
"""

from __future__ import annotations

import fcntl
import functools
import itertools
import json
import logging
import math
import operator
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Engine,
    Float,
    Insert,
    Select,
    Table,
    create_engine,
    event,
    exc,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import ConfigError, StorageUnavailable

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x636D6F6E  # "cmon": any constant shared by all replicas
IMMEDIATE = "immediate"
"""`Database.session(write=True)` on SQLite: BEGIN IMMEDIATE (an execution option)."""
CHECKPOINT_PAGES = 10_000
"""SQLite: WAL pages after which the poll that commits copies them into the database file
(`wal_autocheckpoint`; SQLite's default is 1,000, about 4 MB, which a busy poll reached every
few polls). The daemon checkpoints behind the polls every 10 s (`Database.checkpoint`), so a
poll hardly ever does: about 1.5 µs of CPU and 2.5 of wall a stored post less in polls of 5,000
(`bench/store_poll.py`). The bound (about 40 MB) holds where no daemon runs."""


class Database:
    """One engine per process; `session()` is the only way in and always commits or rolls back."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # hide_parameters: a failed statement's message (logged, raised) never quotes the values
        # it carried, i.e. customer text (issue 15 item 2).
        kwargs: dict[str, Any] = {
            "pool_pre_ping": not self.is_sqlite,
            "hide_parameters": True,
            "json_serializer": json_dumps,
            "json_deserializer": json_loads,
        }
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

    def checkpoint(self) -> int:
        """SQLite: copy what the WAL holds into the database file, as far as no reader still
        needs it (PASSIVE: waits for no one); the pages copied. The daemon does it behind the
        polls (`CHECKPOINT_PAGES`). Elsewhere nothing to do: 0."""
        if not self.is_sqlite:
            return 0
        try:
            with self.engine.connect() as connection:  # outside a transaction, as it must be
                raw = connection.connection.driver_connection
                assert raw is not None
                row = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except exc.OperationalError as err:
            raise StorageUnavailable(f"database unavailable: {_first_line(err)}") from err
        return int(row[2]) if row and row[2] > 0 else 0

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


def insert_rows(
    session: Session,
    table: type[Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    returning: tuple[str, ...] = (),
    on_conflict: tuple[str, ...] = (),
    update: tuple[str, ...] = (),
    through_driver: bool = True,
) -> Sequence[Sequence[Any]]:
    """INSERT many rows (all with the same keys): `insert_columns` for rows given as mappings.

    `through_driver=False`: SQLAlchemy's own INSERT instead, row by row as slow as it was, for
    a batch the database refused and that is retried post by post: what is quarantined, and
    the error it is quarantined with, read as they always have."""
    if not rows:
        return []
    if not through_driver:
        statement = insert(session, table)
        if on_conflict and update:
            changes = {c: statement.excluded[c] for c in update}
            statement = statement.on_conflict_do_update(index_elements=on_conflict, set_=changes)
        elif on_conflict:
            statement = statement.on_conflict_do_nothing(index_elements=on_conflict)
        if returning:
            statement = statement.returning(*(table.__table__.c[c] for c in returning))
        result = session.execute(statement, list(rows))
        return [tuple(row) for row in result.all()] if returning else []
    names = tuple(rows[0])
    if len(names) < 2:
        raise ValueError("insert_rows: give at least two columns")
    columns = zip(*map(operator.itemgetter(*names), rows), strict=True)
    return insert_columns(
        session,
        table,
        dict(zip(names, columns, strict=True)),
        returning=returning,
        on_conflict=on_conflict,
        update=update,
    )


def insert_columns(
    session: Session,
    table: type[Any],
    columns: Mapping[str, Sequence[Any]],
    *,
    json_text: tuple[str, ...] = (),
    returning: tuple[str, ...] = (),
    on_conflict: tuple[str, ...] = (),
    update: tuple[str, ...] = (),
) -> Sequence[Sequence[Any]]:
    """INSERT rows given a column at a time (equal lengths) through the driver: a poll's hot
    path, where a dict per row and per table was most of what Python spent (issue 16).

    Each value is bound as its column's type processor binds it, so it is stored exactly as a
    SQLAlchemy INSERT stores it, but a column at a time, and without the processor where the
    value is already what it would return (`_converter`); what is skipped is the per-row
    statement machinery (parameter dicts, insertmanyvalues, building and caching the
    statement). SQLite takes an executemany, or multi-row VALUES when rows are returned.
    PostgreSQL takes the whole batch in one statement and one parameter, the columns as one
    JSON document that orjson writes in C (`_RowWriter.document`): psycopg dumps an array
    parameter in pure Python, element by element, which was most of a poll's client CPU there
    (a text array, or an executemany in pipeline mode, cost more still: issue 16); one array
    per column (`unnest`) remains for a batch JSON cannot carry exactly.

    `json_text`: JSON columns whose values are JSON text already (`json_dumps`' text), stored as
    they are. `returning`: the columns to return of each row inserted. `on_conflict`: the
    unique columns a row may collide on; such a row is skipped, or given the `update` columns'
    new values."""
    names = tuple(columns)
    values = list(columns.values())
    if not values or not values[0]:
        return []
    if len(set(map(len, values))) > 1:
        raise ValueError(f"insert_columns into {table.__tablename__}: columns of unequal lengths")
    connection = session.connection()
    writer = _row_writer(
        connection.dialect, table.__table__, names, json_text, returning, on_conflict, update
    )
    values = writer.bind(values)
    if writer.arrays:  # PostgreSQL
        document = writer.as_document(values) if writer.document else None
        if document is not None:
            result = connection.exec_driver_sql(writer.document, (writer.jsonb(document),))
        else:
            result = connection.exec_driver_sql(writer.arrays, tuple(map(list, values)))
        return result.all() if returning else []
    rows = list(zip(*values, strict=True))
    if not returning:
        connection.exec_driver_sql(writer.sql(1), rows)
        return []
    found: list[Sequence[Any]] = []  # `Row`s: tuple-like, not copied into tuples
    for start in range(0, len(rows), writer.per_statement):
        chunk = rows[start : start + writer.per_statement]
        flat = tuple(itertools.chain.from_iterable(chunk))
        result = connection.exec_driver_sql(writer.sql(len(chunk)), flat)
        found += result.all()
    return found


_Column = Sequence[Any]
_Convert = Callable[[_Column], _Column]
_Bind = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _RowWriter:
    """One table's INSERT as its driver takes it, prepared once per dialect and column set."""

    columns: tuple[str, ...]
    converters: tuple[tuple[int, _Convert], ...]
    """(position, what turns that column's values into the driver's), for the columns whose
    type has a bind processor; the others go to the driver as they are."""
    head: str
    group: str
    tail: str
    per_statement: int
    document: str = ""
    """PostgreSQL (psycopg): the INSERT ... SELECT of the columns of one JSON document (an
    array per column, `as_document`), each value cast from its text to its column's type."""
    jsonb: Callable[[bytes], Any] = bytes
    """The document as psycopg takes it: as orjson wrote it (no str decoded and encoded again)."""
    arrays: str = ""
    """PostgreSQL: the INSERT ... SELECT FROM unnest(one array per column)."""
    floats: tuple[int, ...] = ()
    """The positions of the Float columns (see `as_document`)."""

    def sql(self, rows: int) -> str:
        return f"{self.head} VALUES {', '.join([self.group] * rows)}{self.tail}"

    def bind(self, columns: list[_Column]) -> list[_Column]:
        """The columns' values, each as its column's type binds it: a column is converted as
        a whole (a poll's booleans checked at once, its `now` formatted once)."""
        for n, convert in self.converters:
            columns[n] = convert(columns[n])
        return columns

    def as_document(self, columns: list[_Column]) -> bytes | None:
        """The columns as one JSON array of arrays (no tuple per row), from which PostgreSQL
        reads what psycopg's arrays would have given it: strings, integers and booleans as
        they are, times with their offset, JSON columns as their text, floats written
        shortest-exact (PostgreSQL reads them back to the same double). None where JSON would
        not say the same: a lone surrogate or an integer past 64 bits (orjson refuses them),
        NaN, infinities (orjson writes null) and -0.0 (jsonb's numbers have no negative zero)."""
        for n in self.floats:
            if not _plain_floats(columns[n]):
                return None
        try:
            return orjson.dumps(columns)
        except orjson.JSONEncodeError:
            return None


def _plain_floats(values: _Column) -> bool:
    """Finite numbers without a -0.0 (None or anything else: False)."""
    try:
        if not all(map(math.isfinite, values)):
            return False
    except TypeError:
        return False
    return 0.0 not in values or all(math.copysign(1.0, v) > 0 for v in values if v == 0.0)


@functools.lru_cache(maxsize=64)
def _row_writer(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    json_text: tuple[str, ...],
    returning: tuple[str, ...],
    on_conflict: tuple[str, ...],
    update: tuple[str, ...],
) -> _RowWriter:
    if len(columns) < 2:
        raise ValueError("insert_rows: give at least two columns")
    omitted = [
        c.name
        for c in table.columns
        if c.name not in columns and c.default is not None and c.server_default is None
    ]
    if omitted:  # Core would fill these in; the driver would leave them NULL
        raise ValueError(f"insert_rows into {table.name}: give {omitted} (a Python default)")
    quote = dialect.identifier_preparer.quote
    if dialect.paramstyle == "qmark":
        placeholder = "?"
    elif dialect.paramstyle in ("format", "pyformat"):
        placeholder = "%s"
    else:
        raise NotImplementedError(f"insert_rows: paramstyle {dialect.paramstyle!r}")
    types = [table.c[name].type for name in columns]
    tail = ""
    if on_conflict:
        targets = ", ".join(map(quote, on_conflict))
        if update:
            changes = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
            tail += f" ON CONFLICT ({targets}) DO UPDATE SET {changes}"
        else:
            tail += f" ON CONFLICT ({targets}) DO NOTHING"
    if returning:
        tail += f" RETURNING {', '.join(map(quote, returning))}"
    head = f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))})"
    document = arrays = ""
    jsonb: Callable[[bytes], Any] = bytes
    if dialect.name == "postgresql":
        # The bare type (VARCHAR, not VARCHAR(32)): an explicit cast would clip a long value
        # where the column refuses it, and a refused row is quarantined.
        casts = [_LENGTH.sub("", t.compile(dialect=dialect)) for t in types]
        arrays = f"{head} SELECT * FROM unnest({', '.join(f'%b::{c}[]' for c in casts)}){tail}"
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        from psycopg.types.json import Jsonb  # the PostgreSQL extra: imported if used

        # ROWS FROM zips the columns' elements (each column's array taken from the document
        # once); jsonb_array_elements_text gives each element's text, NULL for a null.
        values = ", ".join(f"r.c{n}::{c}" for n, c in enumerate(casts))
        elements = ", ".join(f"jsonb_array_elements_text(p.d -> {n})" for n in range(len(casts)))
        names = ", ".join(f"c{n}" for n in range(len(casts)))
        document = (
            f"{head} SELECT {values} FROM (SELECT %s::jsonb AS d) AS p, "
            f"ROWS FROM ({elements}) AS r ({names}){tail}"
        )
        jsonb = functools.partial(Jsonb, dumps=_unchanged)
    converters = (
        (n, None if name in json_text else _converter(t, dialect))
        for n, (name, t) in enumerate(zip(columns, types, strict=True))
    )
    return _RowWriter(
        columns=columns,
        converters=tuple((n, convert) for n, convert in converters if convert is not None),
        head=head,
        group=f"({', '.join([placeholder] * len(columns))})",
        tail=tail,
        per_statement=max(
            1,
            min(
                dialect.insertmanyvalues_page_size,
                dialect.insertmanyvalues_max_parameters // len(columns),
            ),
        ),
        document=document,
        jsonb=jsonb,
        arrays=arrays,
        floats=tuple(n for n, t in enumerate(types) if isinstance(t, Float)),
    )


_LENGTH = re.compile(r"\(\d+\)")


def _unchanged(document: bytes) -> bytes:
    return document


def _converter(type_: Any, dialect: Dialect) -> _Convert | None:
    """What binds a column of `type_` as SQLAlchemy would, value for value: its own bind
    processor, skipped where the value is already what the processor returns (a bool for a
    Boolean, a float for a Float, a UTC datetime on PostgreSQL) or done the same way faster (a
    dict or list as JSON text, a UTC datetime as SQLite's text). None: the type has no bind
    processor, its values go to the driver as they are."""
    process: Callable[[Any], Any] | None = type_.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    kind = getattr(type_, "impl_instance", type_)  # a TypeDecorator's underlying type
    sqlite_dialect = dialect.name == "sqlite"
    if isinstance(kind, Boolean):
        return _unless_all(bool, process)
    if isinstance(kind, Float) and sqlite_dialect and not kind.asdecimal:
        return _unless_all(float, process)
    if isinstance(kind, DateTime):
        return _each_datetime(process, sqlite=sqlite_dialect)
    if isinstance(kind, JSON) and sqlite_dialect:
        return _json_column(process, wrappers=())
    if isinstance(kind, JSON) and dialect.driver == "psycopg":
        from psycopg.types.json import Json, Jsonb  # the PostgreSQL extra: imported if used

        return _json_column(process, wrappers=(Json, Jsonb))
    return _each(process)


def _unless_all(kind: type, process: Callable[[Any], Any]) -> _Convert:
    """A column left as it is when every value is of `kind` (the processor would return it
    unchanged), else each value through `process`."""

    def convert(values: _Column) -> _Column:
        return values if set(map(type, values)) <= {kind} else list(map(process, values))

    return convert


def _each(process: Callable[[Any], Any]) -> _Convert:
    def convert(values: _Column) -> _Column:
        return list(map(process, values))

    return convert


def _each_datetime(process: Callable[[Any], Any], *, sqlite: bool) -> _Convert:
    """A time column: one conversion when every row has the same instant (a poll's `now`;
    equal datetimes are one instant, and the conversion of an aware datetime depends on the
    instant alone), else each value through `_utc_datetime`."""
    bind = _utc_datetime(process, sqlite=sqlite)

    def convert(values: _Column) -> _Column:
        if values and values.count(values[0]) == len(values):
            return [bind(values[0])] * len(values)
        return list(map(bind, values))

    return convert


def _utc_datetime(process: Callable[[Any], Any], *, sqlite: bool) -> _Bind:
    """`UTCDateTime`'s processor, with a short way for the usual value, a datetime in UTC:
    as it is for PostgreSQL's driver, or the text SQLAlchemy's SQLite DATETIME writes
    ("2026-11-23 09:05:00.000000", naive UTC: `tests/storage/test_json_and_binding.py` checks
    they are the same): its ISO text without the "+00:00" a UTC datetime's ends with."""

    def bind(value: Any) -> Any:
        if type(value) is not datetime or value.tzinfo is not UTC:
            return process(value)
        return value.isoformat(" ", "microseconds")[:-6] if sqlite else value

    return bind


def _json_column(process: Callable[[Any], Any], *, wrappers: tuple[type, ...]) -> _Convert:
    """A JSON column as text (`_json_text`); a column of dicts and lists, the usual one, with
    one orjson call per value and the checks `json_dumps` makes on each made once on the
    column (where one value needs json.dumps, every value goes through `json_dumps`)."""
    bind = _json_text(process, wrappers=wrappers)

    def convert(values: _Column) -> _Column:
        if set(map(type, values)) <= _DICT_OR_LIST:
            try:
                # Each decoded as soon as written: orjson's bytes, thousands of them kept
                # alive at once, cost more to allocate than orjson takes to write them.
                texts = list(map(bytes.decode, map(_orjson_dumps, values)))
            except orjson.JSONEncodeError:
                pass
            else:
                if "null" not in " ".join(texts):
                    return texts
        return list(map(bind, values))

    return convert


_DICT_OR_LIST = {dict, list}


def _json_text(process: Callable[[Any], Any], *, wrappers: tuple[type, ...]) -> _Bind:
    """A JSON column's value as the text it is stored as: the engine's serializer
    (`json_dumps`) of it, what SQLite's processor returns for a dict or a list, and what
    psycopg writes of the `Json` wrapper (one of `wrappers`) PostgreSQL's processor returns
    (the wrapper's dumps, else the connection's: the engine's serializer, SQLAlchemy sets it).
    Anything else goes through the processor: SQL NULL stays None."""

    def bind(value: Any) -> Any:
        kind = type(value)
        if kind is dict or kind is list:
            return json_dumps(value)
        bound = process(value)
        if type(bound) in wrappers:
            return (bound.dumps or json_dumps)(bound.obj)
        return bound

    return bind


_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
"""orjson refuses what json.dumps refuses (dataclasses, datetimes, subclasses of str, int,
dict, list: json.dumps is then called and behaves as it always did)."""
_orjson_dumps = functools.partial(orjson.dumps, option=_ORJSON_OPTIONS)
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19
"""19 digits in a row (after `_DIGITS_AS_ZEROS`): maybe an int orjson would read as a float.
(A regular expression takes ten times as long as orjson to say so.)"""


def json_dumps(value: Any) -> str:
    """The engine's JSON serializer: orjson (about ten times as fast as json.dumps: three JSON
    columns a post made it a fifth of `store_poll`, issue 16), and json.dumps, storing exactly
    what it stored before, wherever orjson would refuse the value or write another one: a lone
    surrogate, a key that is not a str, an int past 64 bits, NaN and infinities (orjson writes
    null for those; any null sends the value to json.dumps), a type json.dumps refuses too."""
    text = orjson_text(value)
    return json.dumps(value) if text is None else text


def orjson_text(value: Any) -> str | None:
    """`json_dumps(value)` where orjson writes it; None where it would be json.dumps'."""
    try:
        data = _orjson_dumps(value)
    except orjson.JSONEncodeError:  # a TypeError, as json.dumps raises
        return None
    return None if b"null" in data else data.decode()


def json_loads(data: str | bytes) -> Any:
    """The engine's JSON deserializer: orjson, and json.loads wherever orjson would refuse the
    text (NaN, an escaped lone surrogate, written by json.dumps) or read it otherwise (a number
    of 19 digits or more, which orjson reads as a float)."""
    raw = data if isinstance(data, bytes) else data.encode(errors="surrogatepass")
    if _LONG_NUMBER not in raw.translate(_DIGITS_AS_ZEROS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


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
    cursor.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
    cursor.close()


def _postgres_settings(dbapi_connection: Any, _record: Any) -> None:
    # JIT compiles a query whose estimated cost passes jit_above_cost, e.g. `stats` looking up
    # each week's post's verdict: 90 ms of compiling for 80 ms of work (bench/history.py). Our
    # queries are short; none gains from it. (SQLAlchemy's recipe for a session setting.)
    # psycopg prepares a statement run 5 times, and PostgreSQL may then settle on a generic
    # plan made from the statistics of the moment: planned on a young `posts` table, the
    # pipeline's "which of these 500 ids are stored" became a sequential scan, 130 ms instead
    # of about 10 ms once the table had grown (bench/pipeline.py on PostgreSQL). A plan for each
    # execution's values costs a fraction of a millisecond and never goes stale.
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    cursor.execute("SET jit = off")
    cursor.execute("SET plan_cache_mode = force_custom_plan")
    cursor.close()
    dbapi_connection.autocommit = autocommit


def _sqlite_begin(connection: Any) -> None:
    mode = connection.get_execution_options().get("sqlite_begin")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == IMMEDIATE else "BEGIN")


def _first_line(err: Exception) -> str:
    original = getattr(err, "orig", None) or err
    return str(original).strip().splitlines()[0] if str(original).strip() else type(err).__name__
