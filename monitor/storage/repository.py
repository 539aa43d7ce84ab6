"""Everything the daemon reads and writes, as a few intention-revealing operations.

`store_poll` is the heart: a poll's new posts, their verdicts, their pending alerts and the
source's next cursor are written in ONE transaction, so the cursor never moves past a post that
was not stored. Posts are inserted with ON CONFLICT DO NOTHING, so a page fetched twice (or by
two replicas) is stored once, and only the transaction that inserted a post writes its alert.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Insert, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.models import Author, Cursor, Label, Post, Reason, Severity, Verdict
from monitor.storage.database import Database
from monitor.storage.tables import (
    AlertRow,
    ClassificationRow,
    DailyCountRow,
    FeedbackRow,
    MutedAuthorRow,
    PostRow,
    SourceCursorRow,
    SourceLeaseRow,
)


@dataclass(frozen=True, slots=True)
class NewPost:
    """A post that passed the filters, with its verdict and whether it is a VIP's."""

    post: Post
    verdict: Verdict
    vip: bool
    alert_priority: int | None
    """None: no alert (not a complaint); otherwise the outbox priority (higher goes first)."""
    channel: str | None = None
    topic: str | None = None
    """What the complaint is about (groups storms); see `monitor.slack.routing.TopicFinder`."""


@dataclass(frozen=True, slots=True)
class StoredPoll:
    inserted: int
    alerts: int


@dataclass(frozen=True, slots=True)
class DueAlert:
    alert_id: int
    post: Post
    verdict: Verdict
    vip: bool
    channel: str | None
    attempts: int
    outcome_unknown: bool
    last_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredVerdict:
    """A stored post with the verdict it got when stored: what `replay` needs to judge it again."""

    post_id: int
    platform: str
    external_id: str
    url: str
    text: str
    language: str | None
    author_handle: str
    author_followers: int | None
    label: str
    score: float
    severity: str
    classifier_version: str


class Repository:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- sources -------------------------------------------------------------------------

    def load_cursor(self, source: str) -> Cursor | None:
        with self.database.session() as session:
            row = session.get(SourceCursorRow, source)
            return dict(row.cursor) if row is not None else None

    def known_ids(self, platform: str, external_ids: Iterable[str]) -> set[str]:
        """Which of these posts are stored already (so we don't classify them again)."""
        ids = list(dict.fromkeys(external_ids))
        found: set[str] = set()
        with self.database.session() as session:
            for chunk in _chunks(ids, 500):
                rows = session.scalars(
                    select(PostRow.external_id).where(
                        PostRow.platform == platform, PostRow.external_id.in_(chunk)
                    )
                )
                found.update(rows)
        return found

    def store_poll(
        self,
        *,
        source: str,
        platform: str,
        new_posts: Sequence[NewPost],
        cursor: Cursor,
        now: datetime,
    ) -> StoredPoll:
        """Posts, verdicts, alerts and the cursor, atomically."""
        with self.database.session() as session:
            ids = self._insert_posts(session, source, new_posts, now)
            ours = [item for item in new_posts if item.post.key in ids]
            if ours:
                session.execute(
                    self._insert(session, ClassificationRow),
                    [_classification_values(ids[i.post.key], i, now) for i in ours],
                )
            alerts = [i for i in ours if i.alert_priority is not None]
            if alerts:
                session.execute(
                    self._insert(session, AlertRow),
                    [_alert_values(ids[i.post.key], i, now) for i in alerts],
                )
            self._save_cursor(session, source, platform, cursor, now)
        return StoredPoll(inserted=len(ours), alerts=len(alerts))

    def _insert_posts(
        self, session: Session, source: str, new_posts: Sequence[NewPost], now: datetime
    ) -> dict[tuple[str, str], int]:
        if not new_posts:
            return {}
        statement = self._insert(session, PostRow).on_conflict_do_nothing(
            index_elements=["platform", "external_id"]
        )
        returning = statement.returning(PostRow.id, PostRow.platform, PostRow.external_id)
        rows = session.execute(returning, [_post_values(i.post, source, now) for i in new_posts])
        return {(platform, external_id): id_ for id_, platform, external_id in rows}

    @staticmethod
    def _insert(session: Session, table: type[Any]) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT on both SQLite and PostgreSQL."""
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement: Insert = insert(table.__table__)  # Core, not the slower ORM bulk path
        return statement

    def _save_cursor(
        self, session: Session, source: str, platform: str, cursor: Cursor, now: datetime
    ) -> None:
        row = session.get(SourceCursorRow, source)
        if row is None:
            session.add(
                SourceCursorRow(source=source, platform=platform, cursor=cursor, updated_at=now)
            )
        else:
            row.cursor = cursor
            row.updated_at = now

    def acquire_lease(self, source: str, owner: str, now: datetime, period: timedelta) -> bool:
        """One replica polls a source at a time: take or renew its lease, unless another
        replica holds one that has not expired. A dead replica's lease expires within `period`."""
        with self.database.session() as session:
            session.execute(
                self._insert(session, SourceLeaseRow)
                .values(source=source, owner=owner, expires_at=now + period)
                .on_conflict_do_nothing(index_elements=["source"])
            )
            result = session.execute(
                update(SourceLeaseRow)
                .where(
                    SourceLeaseRow.source == source,
                    (SourceLeaseRow.owner == owner) | (SourceLeaseRow.expires_at <= now),
                )
                .values(owner=owner, expires_at=now + period)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def release_lease(self, source: str, owner: str) -> None:
        with self.database.session() as session:
            session.execute(
                delete(SourceLeaseRow).where(
                    SourceLeaseRow.source == source, SourceLeaseRow.owner == owner
                )
            )

    def lease_owner(self, source: str, now: datetime) -> str | None:
        with self.database.session() as session:
            row = session.get(SourceLeaseRow, source)
            return row.owner if row is not None and row.expires_at > now else None

    def muted_authors(self) -> set[tuple[str, str]]:
        """(platform, lower-case handle) of every author muted from Slack ("Mute author")."""
        with self.database.session() as session:
            rows = session.execute(select(MutedAuthorRow.platform, MutedAuthorRow.handle))
            return {(platform, handle) for platform, handle in rows}

    # -- the outbox ----------------------------------------------------------------------

    def claim_due(self, now: datetime, lease: timedelta, limit: int = 50) -> list[DueAlert]:
        """Take a batch of due alerts for this deliverer, VIPs and severe first, then oldest.

        Claiming pushes their next attempt `lease` into the future, so another replica (or the
        next round) leaves them alone; on PostgreSQL rows locked by another replica's claim are
        skipped (``FOR UPDATE SKIP LOCKED``), so replicas split the outbox instead of racing.
        A replica that dies mid-batch releases its share when the lease runs out.
        """
        with self.database.session() as session:
            query = (
                select(AlertRow.id)
                .where(AlertRow.status != "sent", AlertRow.next_attempt_at <= now)
                .order_by(AlertRow.priority.desc(), AlertRow.created_at, AlertRow.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(session.scalars(query))
            if not ids:
                return []
            rows = session.execute(
                select(AlertRow, PostRow, ClassificationRow)
                .join(PostRow, AlertRow.post_id == PostRow.id)
                .join(ClassificationRow, ClassificationRow.post_id == PostRow.id)
                .where(AlertRow.id.in_(ids))
                .order_by(AlertRow.priority.desc(), AlertRow.created_at, AlertRow.id)
            ).all()
            claimed = [
                DueAlert(
                    alert_id=alert.id,
                    post=_post_from_row(post),
                    verdict=_verdict_from_row(classification),
                    vip=classification.vip,
                    channel=alert.channel,
                    attempts=alert.attempts,
                    outcome_unknown=alert.outcome_unknown,
                    last_attempt_at=alert.last_attempt_at,
                )
                for alert, post, classification in rows
            ]
            session.execute(
                update(AlertRow).where(AlertRow.id.in_(ids)).values(next_attempt_at=now + lease)
            )
        return claimed

    def mark_attempt(self, alert_id: int, now: datetime) -> None:
        """Record that a send is starting, BEFORE it starts.

        If we die between here and `record_sent`, `outcome_unknown` stays set and the next
        attempt looks for the message in the channel before sending.
        """
        with self.database.session() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(attempts=AlertRow.attempts + 1, last_attempt_at=now, outcome_unknown=True)
            )

    def record_sent(self, alert_id: int, *, channel: str, ts: str, now: datetime) -> None:
        with self.database.session() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(
                    status="sent",
                    channel=channel,
                    slack_ts=ts,
                    sent_at=now,
                    outcome_unknown=False,
                    last_error=None,
                )
            )

    def record_failure(
        self, alert_id: int, *, error: str, retry_at: datetime, outcome_unknown: bool
    ) -> None:
        with self.database.session() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(
                    status="failed",
                    last_error=error[:2000],
                    next_attempt_at=retry_at,
                    outcome_unknown=outcome_unknown,
                )
            )

    def release(self, alert_ids: Iterable[int], retry_at: datetime) -> None:
        """Give claimed alerts back untried, due at `retry_at` (e.g. their channel is paused)."""
        ids = list(alert_ids)
        if not ids:
            return
        with self.database.session() as session:
            session.execute(
                update(AlertRow).where(AlertRow.id.in_(ids)).values(next_attempt_at=retry_at)
            )

    # -- retention -----------------------------------------------------------------------

    def purge_before(self, cutoff: datetime, batch_size: int = 500) -> int:
        """Delete posts fetched before `cutoff` with their verdicts and alerts, a batch per
        transaction (so the database is never locked for long), adding them to `daily_counts`
        first. Alerts not yet delivered are kept, with their posts: nothing unsent is purged."""
        purged = 0
        while True:
            with self.database.session() as session:
                rows = session.execute(
                    select(
                        PostRow.id,
                        PostRow.fetched_at,
                        PostRow.platform,
                        ClassificationRow.label,
                        AlertRow.status,
                    )
                    .outerjoin(ClassificationRow, ClassificationRow.post_id == PostRow.id)
                    .outerjoin(AlertRow, AlertRow.post_id == PostRow.id)
                    .where(PostRow.fetched_at < cutoff)
                    .where((AlertRow.id.is_(None)) | (AlertRow.status == "sent"))
                    .order_by(PostRow.id)
                    .limit(batch_size)
                ).all()
                if not rows:
                    return purged
                counts: dict[tuple[date, str, str], list[int]] = {}
                for _id, fetched_at, platform, label, status in rows:
                    key = (fetched_at.date(), platform, label or "unclassified")
                    entry = counts.setdefault(key, [0, 0])
                    entry[0] += 1
                    entry[1] += status == "sent"
                for (day, platform, label), (posts, sent) in counts.items():
                    self._add_daily_count(session, day, platform, label, posts, sent)
                ids = [row[0] for row in rows]
                session.execute(delete(AlertRow).where(AlertRow.post_id.in_(ids)))
                session.execute(delete(ClassificationRow).where(ClassificationRow.post_id.in_(ids)))
                session.execute(
                    update(FeedbackRow).where(FeedbackRow.post_id.in_(ids)).values(post_id=None)
                )
                session.execute(delete(PostRow).where(PostRow.id.in_(ids)))
                purged += len(ids)

    def _add_daily_count(
        self, session: Session, day: date, platform: str, label: str, posts: int, sent: int
    ) -> None:
        statement = self._insert(session, DailyCountRow).values(
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

    # -- reporting -----------------------------------------------------------------------

    def stats(self, since: datetime) -> dict[str, Any]:
        with self.database.session() as session:
            recent: ColumnElement[bool] = PostRow.fetched_at >= since
            by_platform = dict(
                session.execute(
                    select(PostRow.platform, func.count()).where(recent).group_by(PostRow.platform)
                ).all()
            )
            by_label = dict(
                session.execute(
                    select(ClassificationRow.label, func.count())
                    .join(PostRow)
                    .where(recent)
                    .group_by(ClassificationRow.label)
                ).all()
            )
            by_status = dict(
                session.execute(
                    select(AlertRow.status, func.count())
                    .join(PostRow)
                    .where(recent)
                    .group_by(AlertRow.status)
                ).all()
            )
            delays = [
                (sent - created).total_seconds()
                for sent, created in session.execute(
                    select(AlertRow.sent_at, PostRow.created_at)
                    .join(PostRow)
                    .where(recent, AlertRow.sent_at.is_not(None))
                ).all()
                if sent is not None
            ]
            errors = dict(
                session.execute(
                    select(AlertRow.last_error, func.count())
                    .where(AlertRow.status != "sent", AlertRow.last_error.is_not(None))
                    .group_by(AlertRow.last_error)
                ).all()
            )
            for platform, label, posts in session.execute(
                select(DailyCountRow.platform, DailyCountRow.label, DailyCountRow.posts).where(
                    DailyCountRow.day >= since.date()
                )
            ).all():
                by_platform[platform] = by_platform.get(platform, 0) + posts
                by_label[label] = by_label.get(label, 0) + posts
        return {
            "since": since.isoformat(),
            "posts_by_platform": by_platform,
            "posts_by_label": by_label,
            "alerts_by_status": by_status,
            "median_seconds_post_to_alert": round(statistics.median(delays), 1) if delays else None,
            "undelivered_alert_errors": errors,
        }

    def stored_verdicts(self, since: datetime, batch_size: int = 500) -> Iterator[StoredVerdict]:
        """Posts stored (fetched) since `since` with their verdicts, oldest first, for `replay`.

        Keyed on `fetched_at`, like `stats` and retention: what the daemon kept in that window,
        whatever the platform's own date says. Streamed `batch_size` rows at a time from one
        read-only query (a consistent snapshot), so a large store is never loaded at once.
        """
        query = (
            select(
                PostRow.id.label("post_id"),
                PostRow.platform,
                PostRow.external_id,
                PostRow.url,
                PostRow.text,
                PostRow.language,
                PostRow.author_handle,
                PostRow.author_followers,
                ClassificationRow.label,
                ClassificationRow.score,
                ClassificationRow.severity,
                ClassificationRow.classifier_version,
            )
            .join(ClassificationRow, ClassificationRow.post_id == PostRow.id)
            .where(PostRow.fetched_at >= since)
            .order_by(PostRow.fetched_at, PostRow.id)
            .execution_options(yield_per=batch_size)
        )
        with self.database.session() as session:
            for row in session.execute(query):
                yield StoredVerdict(**row._asdict())  # columns named as its fields


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _post_values(post: Post, source: str, now: datetime) -> dict[str, Any]:
    return {
        "platform": post.platform,
        "external_id": post.external_id,
        "source": source,
        "author_id": post.author.id,
        "author_handle": post.author.handle,
        "author_name": post.author.display_name,
        "author_followers": post.author.followers,
        "author_verified": post.author.verified,
        "url": post.url,
        "contact_url": post.contact_url,
        "text": post.text,
        "language": post.language,
        "extra": post.extra,
        "created_at": post.created_at,
        "fetched_at": now,
    }


def _classification_values(post_id: int, item: NewPost, now: datetime) -> dict[str, Any]:
    verdict = item.verdict
    return {
        "post_id": post_id,
        "label": verdict.label.value,
        "score": verdict.score,
        "severity": verdict.severity.value,
        "reasons": [
            {"cue": r.cue, "weight": r.weight, "detail": r.detail} for r in verdict.reasons
        ],
        "sentiment": verdict.sentiment,
        "vip": item.vip,
        "classifier_version": verdict.classifier_version,
        "created_at": now,
    }


def _alert_values(post_id: int, item: NewPost, now: datetime) -> dict[str, Any]:
    return {
        "post_id": post_id,
        "status": "pending",
        "priority": item.alert_priority,
        "channel": item.channel,
        "topic": item.topic,
        "attempts": 0,
        "outcome_unknown": False,
        "created_at": now,
        "next_attempt_at": now,
    }


def _post_from_row(row: PostRow) -> Post:
    return Post(
        platform=row.platform,
        external_id=row.external_id,
        author=Author(
            id=row.author_id,
            handle=row.author_handle,
            display_name=row.author_name,
            followers=row.author_followers,
            verified=row.author_verified,
        ),
        text=row.text,
        url=row.url,
        created_at=row.created_at,
        language=row.language,
        contact_url=row.contact_url,
        extra=dict(row.extra or {}),
    )


def _verdict_from_row(row: ClassificationRow) -> Verdict:
    return Verdict(
        label=Label(row.label),
        score=row.score,
        severity=Severity(row.severity),
        reasons=tuple(Reason(**r) for r in row.reasons),
        sentiment=dict(row.sentiment),
        classifier_version=row.classifier_version,
    )


__all__ = ["DueAlert", "NewPost", "Repository", "StoredPoll"]
