"""Retention: old posts go, in short batches that never hold up a poll.

Each batch is its own short transaction (a few hundred posts with their verdicts, delivered
alerts and those alerts' history, counted in `daily_counts` first); between batches the purge
pauses long enough for a waiting poll to take SQLite's write lock (PostgreSQL locks rows, so a
poll never waits for it). A run stops after `max_seconds`; what it left is purged by the next
runs, and `PurgeRun` says how much is left.

Alerts not yet delivered (pending, failed, previewed, parked) are kept, with their posts:
nothing unsent is purged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, ScalarSelect, delete, func, select, update
from sqlalchemy.orm import Session

from monitor.clock import Clock, SystemClock
from monitor.models import DeliveryStatus
from monitor.storage.database import Database, insert
from monitor.storage.tables import (
    AlertRow,
    ClassificationRow,
    DailyCountRow,
    FeedbackRow,
    PostRow,
    QuarantineRow,
)

SQLITE_PAUSE_SECONDS = 0.2
"""Between two batches on SQLite: longer than the longest sleep of SQLite's busy handler
(100 ms), so a poll waiting for the write lock always gets it before the next batch."""
POSTGRES_PAUSE_SECONDS = 0.01
"""PostgreSQL locks rows: a poll never waits for a batch; the pause only yields the CPU."""


@dataclass(frozen=True, slots=True)
class PurgeRun:
    """What one run of retention did."""

    purged: int
    """Posts deleted (with their verdicts and delivered alerts)."""
    batches: int
    """Transactions that deleted something."""
    seconds: float
    remaining: int
    """Posts older than the cutoff still to purge, because the run reached its time bound: the
    next runs take them. 0: caught up."""

    @property
    def caught_up(self) -> bool:
        return self.remaining == 0


class Retention:
    def __init__(
        self,
        database: Database,
        clock: Clock | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        pause_seconds: float | None = None,
    ) -> None:
        """`clock` bounds a run (its monotonic time); `sleep` is how a pause is spent."""
        self.database = database
        self.clock: Clock = clock or SystemClock()
        self.sleep = sleep
        default_pause = SQLITE_PAUSE_SECONDS if database.is_sqlite else POSTGRES_PAUSE_SECONDS
        self.pause_seconds = default_pause if pause_seconds is None else pause_seconds

    def purge(
        self, cutoff: datetime, *, batch_size: int = 500, max_seconds: float = 120.0
    ) -> PurgeRun:
        """Delete posts fetched before `cutoff`, oldest first, for at most about `max_seconds`
        (the batch under way is finished); quarantined posts before `cutoff` too."""
        started = self.clock.monotonic()
        deadline = started + max_seconds
        with self.database.session() as session:  # quarantined posts hold customer text too
            session.execute(delete(QuarantineRow).where(QuarantineRow.created_at < cutoff))
        purged = batches = 0
        while True:
            with self.database.session(write=True) as session:
                batch = _purge_batch(session, cutoff, batch_size)
            purged, batches = purged + batch, batches + (batch > 0)
            if batch < batch_size:
                remaining = 0
                break
            self.sleep(self.pause_seconds)  # a poll waiting for the write lock takes it now
            if self.clock.monotonic() >= deadline:
                remaining = self.remaining(cutoff)
                break
        return PurgeRun(purged, batches, self.clock.monotonic() - started, remaining)

    def remaining(self, cutoff: datetime) -> int:
        """Posts fetched before `cutoff` that retention would delete."""
        with self.database.session() as session:
            count = session.scalar(
                select(func.count())
                .select_from(PostRow)
                .where(PostRow.fetched_at < cutoff, _purgeable())
            )
        return int(count or 0)


def _alert_status() -> ScalarSelect[str]:
    """The post's alert's status (None: no alert), looked up post by post on `post_id`: joined,
    PostgreSQL may read every alert to merge them with a batch of posts."""
    return select(AlertRow.status).where(AlertRow.post_id == PostRow.id).scalar_subquery()


def _purgeable() -> ColumnElement[bool]:
    """A post without an alert, or whose alert was delivered: nothing unsent is purged."""
    sent = DeliveryStatus.SENT.value
    return func.coalesce(_alert_status(), sent) == sent


def _purge_batch(session: Session, cutoff: datetime, batch_size: int) -> int:
    """One batch of retention, oldest first, counted in `daily_counts` before it is deleted.

    Every statement finds its rows by an index (`tests/storage/test_query_plans.py`): posts by
    `fetched_at`, the rest by `post_id` (the foreign-key checks of the deleted posts too), the
    verdict and alert of each post looked up post by post."""
    sent = DeliveryStatus.SENT.value
    verdict = select(ClassificationRow.label).where(ClassificationRow.post_id == PostRow.id)
    rows = session.execute(
        select(
            PostRow.id,
            PostRow.fetched_at,
            PostRow.platform,
            verdict.scalar_subquery(),
            _alert_status(),
        )
        .where(PostRow.fetched_at < cutoff, _purgeable())
        .order_by(PostRow.fetched_at, PostRow.id)
        .limit(batch_size)
    ).all()
    if not rows:
        return 0
    counts: dict[tuple[date, str, str], list[int]] = {}
    for _id, fetched_at, platform, label, status in rows:
        entry = counts.setdefault((fetched_at.date(), platform, label or "unclassified"), [0, 0])
        entry[0] += 1
        entry[1] += status == sent
    for (day, platform, label), (posts, alerts_sent) in counts.items():
        _add_daily_count(session, day, platform, label, posts, alerts_sent)
    ids = [row[0] for row in rows]
    session.execute(delete(AlertRow).where(AlertRow.post_id.in_(ids)))
    session.execute(delete(ClassificationRow).where(ClassificationRow.post_id.in_(ids)))
    session.execute(update(FeedbackRow).where(FeedbackRow.post_id.in_(ids)).values(post_id=None))
    session.execute(delete(PostRow).where(PostRow.id.in_(ids)))
    return len(ids)


def _add_daily_count(
    session: Session, day: date, platform: str, label: str, posts: int, sent: int
) -> None:
    statement = insert(session, DailyCountRow).values(
        day=day, platform=platform, label=label, posts=posts, alerts_sent=sent
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["day", "platform", "label"],
            set_={
                "posts": DailyCountRow.posts + posts,
                "alerts_sent": DailyCountRow.alerts_sent + sent,
            },
        )
    )
