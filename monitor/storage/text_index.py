"""The history view's text index, kept behind the polls (migration 0012).

A poll stores its posts and nothing more; `TextIndex.catch_up`, a maintenance job, indexes
what the polls stored since its last run, thousands of posts a transaction:

- SQLite: the FTS5 trigram table `posts_text` gets the posts above the watermark
  `text_index_state.indexed_upto`, in batches, each its own short transaction with a pause
  after it (as retention's), for at most `max_seconds` a run. FTS5 writes a segment per
  transaction, so a batch of thousands costs about 10 µs a post where the poll's own trigger
  cost 23 (`bench/store_poll.py`).
- PostgreSQL: inserts append to the pg_trgm GIN index's pending list, which `catch_up` merges
  into the index (`gin_clean_pending_list`); autovacuum would, later.

Nothing is ever missing from a search meanwhile: the history search reads the watermark in its
own snapshot and checks the posts above it with LIKE alone (`HistoryStore`); on PostgreSQL the
GIN index reads its pending list. A post is found the moment its poll commits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from monitor.clock import Clock, SystemClock
from monitor.storage.database import Database

log = logging.getLogger(__name__)

TEXT_TABLE = "posts_text"
"""SQLite's FTS5 trigram table over `posts.text` (migration 0008; `detail=none` since 0011)."""
STATE_TABLE = "text_index_state"
"""SQLite: one row, the largest post id the text table holds (migration 0012)."""
POSTGRES_INDEX = "ix_posts_text_trgm"


class IndexKind(StrEnum):
    """What migration 0008 could make here (`index_kind`)."""

    FTS5 = "fts5"
    """SQLite's FTS5 trigram table, with 0012's watermark."""
    GIN = "gin"
    """PostgreSQL's pg_trgm GIN index."""
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
    """SQLite: posts added to the text table; PostgreSQL: pending-list pages merged."""
    seconds: float
    behind: int
    """SQLite: stored posts still above the watermark (the run reached its time bound; the next
    runs go on, and the search checks them with LIKE meanwhile). 0: caught up."""


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
        self._may_clean = True
        """PostgreSQL: False once the role was refused `gin_clean_pending_list` (not the
        index's owner); autovacuum merges the list then."""

    def catch_up(self, max_seconds: float = 5.0) -> IndexRun:
        """Index what the polls stored since the last run, for at most about `max_seconds`
        (the batch under way is finished)."""
        started = self.clock.monotonic()
        kind = self._index_kind()
        if kind == IndexKind.GIN:
            return IndexRun(self._clean_pending_list(), self.clock.monotonic() - started, 0)
        if kind != IndexKind.FTS5:
            return IndexRun(0, 0.0, 0)
        deadline = started + max_seconds
        indexed = 0
        while True:
            with self.database.session(write=True) as session:
                batch = _index_batch(session, self.batch_size)
            indexed += batch
            if batch < self.batch_size:
                behind = 0
                break
            self.sleep(PAUSE_SECONDS)  # a poll waiting for the write lock takes it now
            if self.clock.monotonic() >= deadline:
                behind = self.behind()
                break
        return IndexRun(indexed, self.clock.monotonic() - started, behind)

    def behind(self) -> int:
        """SQLite: stored posts the text table does not hold yet; 0 elsewhere."""
        if self._index_kind() != IndexKind.FTS5:
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

    def _clean_pending_list(self) -> int:
        if not self._may_clean:
            return 0
        try:
            with self.database.session() as session:
                pages = session.scalar(
                    text("SELECT gin_clean_pending_list(CAST(:name AS regclass))"),
                    {"name": POSTGRES_INDEX},
                )
        except DBAPIError as err:  # only the index's owner may merge it
            self._may_clean = False
            log.warning(
                "text index: this role may not merge %s's pending list (%s); autovacuum "
                "merges it instead, and polls may now and then do it themselves",
                POSTGRES_INDEX,
                type(err.orig).__name__,
            )
            return 0
        return int(pages or 0)


def index_kind(session: Session) -> IndexKind:
    """What migration 0008 could make in this database."""
    if session.get_bind().dialect.name == "postgresql":
        found = session.scalar(
            text(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                "AND indexname = :name"
            ),
            {"name": POSTGRES_INDEX},
        )
        return IndexKind.GIN if found else IndexKind.NONE
    found = session.scalar(
        text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": STATE_TABLE},
    )
    return IndexKind.FTS5 if found else IndexKind.NONE


def _index_batch(session: Session, batch_size: int) -> int:
    """The next `batch_size` posts above the watermark into the text table, and the watermark
    raised past them, in the caller's write transaction (SQLite: no poll writes meanwhile, so
    no post can take an id below the new watermark unindexed)."""
    upto = session.scalar(text(f"SELECT indexed_upto FROM {STATE_TABLE} WHERE id = 1"))
    last = session.scalar(
        text("SELECT max(id) FROM (SELECT id FROM posts WHERE id > :upto ORDER BY id LIMIT :n)"),
        {"upto": upto, "n": batch_size},
    )
    if last is None:
        return 0
    result = session.execute(
        text(
            f"INSERT INTO {TEXT_TABLE} (rowid, text) "
            "SELECT id, text FROM posts WHERE id > :upto AND id <= :last"
        ),
        {"upto": upto, "last": last},
    )
    session.execute(
        text(f"UPDATE {STATE_TABLE} SET indexed_upto = :last WHERE id = 1"), {"last": last}
    )
    return int(getattr(result, "rowcount", 0) or 0)
