"""The history view's text index, kept behind the polls (migrations 0012 and 0013).

A poll stores its posts and nothing more; `TextIndex.catch_up`, a maintenance job, indexes
what the polls stored since its last run, thousands of posts a transaction, into a table the
polls never write, `posts_text`, up to a watermark `text_index_state.indexed_upto`: batches,
each its own short transaction with a pause after it (as retention's), for at most
`max_seconds` a run.

- SQLite: `posts_text` is an FTS5 trigram table over `posts` (external content). FTS5 writes a
  segment per transaction, so a batch of thousands costs about 10 µs a post where the poll's
  own trigger cost 23 (`bench/store_poll.py`).
- PostgreSQL: `posts_text` holds a copy of each post's text under a pg_trgm GIN index, which the
  poll's INSERT into `posts` kept up to date before 0013: about 30 µs of the server's time a
  post. Ids are taken when a post is inserted but seen when its poll commits, so a post with a
  smaller id may still appear below the newest one; the job takes a brief SHARE lock on `posts`
  to read an id below which every poll has committed (`_settled_upto`).

Nothing is ever missing from a search meanwhile: the history search reads the watermark in its
own snapshot and checks the posts above it with LIKE / ILIKE alone (`HistoryStore`). A post is
found the moment its poll commits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitor.clock import Clock, SystemClock
from monitor.errors import StorageUnavailable
from monitor.storage.database import Database

log = logging.getLogger(__name__)

TEXT_TABLE = "posts_text"
"""SQLite: the FTS5 trigram table over `posts.text` (migration 0008; `detail=none` since 0011).
PostgreSQL: a copy of the text under the pg_trgm GIN index (migration 0013)."""
STATE_TABLE = "text_index_state"
"""One row, the largest post id the text table holds (migrations 0012 and 0013)."""
LOCK_TIMEOUT_MS = 500
"""PostgreSQL: how long `_settled_upto` waits for the polls under way to commit (a poll takes
milliseconds); new polls wait behind it meanwhile. Not settled in time: the next run tries."""
LOCK_NOT_AVAILABLE = "55P03"


class IndexKind(StrEnum):
    """What migration 0008 could make here (`index_kind`)."""

    FTS5 = "fts5"
    """SQLite's FTS5 trigram table, with 0012's watermark."""
    GIN = "gin"
    """PostgreSQL's pg_trgm GIN index on a copy of the text, with 0013's watermark."""
    NONE = "none"
    """Neither: the search scans."""


BATCH_SIZE = 5000
"""Posts a transaction: FTS5's cost a post stops falling at a few thousand, and a batch takes
about 50 ms, which a poll waiting for SQLite's write lock hardly notices."""
PAUSE_SECONDS = 0.2
"""SQLite, between batches: longer than the busy handler's longest sleep (100 ms), so a poll
waiting for the write lock gets it first (as retention's pause)."""


@dataclass(frozen=True, slots=True)
class IndexRun:
    """What one `catch_up` did."""

    indexed: int
    """Posts added to the text table."""
    seconds: float
    behind: int
    """Stored posts still above the watermark (the run reached its time bound, or PostgreSQL's
    polls did not settle in time; the next runs go on, and the search checks them with LIKE
    meanwhile). 0: caught up."""


class TextIndex:
    def __init__(
        self,
        database: Database,
        clock: Clock | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.database = database
        self.clock: Clock = clock or SystemClock()
        self.sleep = sleep
        self.batch_size = batch_size
        self._kind: IndexKind | None = None
        """`index_kind`, read once."""

    def catch_up(self, max_seconds: float = 5.0) -> IndexRun:
        """Index what the polls stored since the last run, for at most about `max_seconds`
        (the batch under way is finished)."""
        started = self.clock.monotonic()
        kind = self._index_kind()
        if kind == IndexKind.NONE:
            return IndexRun(0, 0.0, 0)
        settled = None
        if kind == IndexKind.GIN:
            settled = self._settled_upto()
            if settled is None:
                return IndexRun(0, self.clock.monotonic() - started, self.behind())
        deadline = started + max_seconds
        indexed = 0
        while True:
            with self.database.session(write=True) as session:
                batch = _index_batch(session, kind, self.batch_size, settled)
            indexed += batch
            if batch < self.batch_size:
                behind = 0  # posts stored meanwhile are the next run's
                break
            self.sleep(PAUSE_SECONDS)  # a poll waiting for the write lock takes it now
            if self.clock.monotonic() >= deadline:
                behind = self.behind()
                break
        return IndexRun(indexed, self.clock.monotonic() - started, behind)

    def behind(self) -> int:
        """Stored posts the text table does not hold yet (0 without a text table)."""
        if self._index_kind() == IndexKind.NONE:
            return 0
        with self.database.session() as session:
            count = session.scalar(
                text(
                    f"SELECT count(*) FROM posts WHERE id > "
                    f"(SELECT indexed_upto FROM {STATE_TABLE} WHERE id = 1)"
                )
            )
        return int(count or 0)

    def _index_kind(self) -> IndexKind:
        if self._kind is None:
            with self.database.session() as session:
                self._kind = index_kind(session)
        return self._kind

    def _settled_upto(self) -> int | None:
        """PostgreSQL: the largest post id at a moment when no poll was under way, so every
        post at or below it is committed (or rolled back) for good: a SHARE lock waits for the
        transactions writing `posts` and keeps new ones out while the id is read. None when the
        polls under way did not finish within `LOCK_TIMEOUT_MS`."""
        try:
            with self.database.session(write=True) as session:
                session.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))
                session.execute(text("LOCK TABLE posts IN SHARE MODE"))
                return int(session.scalar(text("SELECT coalesce(max(id), 0) FROM posts")) or 0)
        except StorageUnavailable as err:
            if (
                getattr(getattr(err.__cause__, "orig", None), "sqlstate", None)
                != LOCK_NOT_AVAILABLE
            ):
                raise
            log.debug("text index: polls under way did not finish in time; the next run tries")
            return None


def index_kind(session: Session) -> IndexKind:
    """What migration 0008 could make in this database (0012 and 0013 then add the watermark
    beside it)."""
    if session.get_bind().dialect.name == "postgresql":
        found = session.scalar(
            text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename = :name"
            ),
            {"name": STATE_TABLE},
        )
        return IndexKind.GIN if found else IndexKind.NONE
    found = session.scalar(
        text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": STATE_TABLE},
    )
    return IndexKind.FTS5 if found else IndexKind.NONE


def _index_batch(session: Session, kind: IndexKind, batch_size: int, settled: int | None) -> int:
    """The next `batch_size` posts above the watermark (and at or below `settled`, where one is
    given) into the text table, and the watermark raised past them, in the caller's write
    transaction. SQLite: no poll writes meanwhile, so no post can take an id below the new
    watermark unindexed. PostgreSQL: the lock keeps an edit's trigger (`posts_text_follow`,
    0013) from changing a copy while this one is taken: the edit waits, or is waited for."""
    if kind == IndexKind.GIN:
        session.execute(text(f"LOCK TABLE {TEXT_TABLE} IN SHARE ROW EXCLUSIVE MODE"))
    upto = session.scalar(text(f"SELECT indexed_upto FROM {STATE_TABLE} WHERE id = 1"))
    bound = "" if settled is None else "AND id <= :settled "
    last = session.scalar(
        text(
            f"SELECT max(id) FROM (SELECT id FROM posts WHERE id > :upto {bound}"
            "ORDER BY id LIMIT :n) AS batch"
        ),
        {"upto": upto, "n": batch_size} | ({} if settled is None else {"settled": settled}),
    )
    if last is None:
        return 0
    key = "rowid" if kind == IndexKind.FTS5 else "id"
    result = session.execute(
        text(
            f"INSERT INTO {TEXT_TABLE} ({key}, text) "
            "SELECT id, text FROM posts WHERE id > :upto AND id <= :last"
        ),
        {"upto": upto, "last": last},
    )
    session.execute(
        text(f"UPDATE {STATE_TABLE} SET indexed_upto = :last WHERE id = 1"), {"last": last}
    )
    return int(getattr(result, "rowcount", 0) or 0)
