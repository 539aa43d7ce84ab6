"""The database schema as typed SQLAlchemy 2 models, and the mappers between rows and the
values of `monitor.models` (every store reads and writes through these, so a row becomes a
`Post`, `Verdict` or `Alert` in one place). Storage knows nothing of Slack or platforms.

It stays whole past 600 lines: a model, its row builder and its column builder (the hot path's
way to the same values, issue 16) change together, and side by side they are changed together
(tests/storage/test_store_columns.py checks the builders agree)."""

from __future__ import annotations

import operator
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    and_,
    false,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from monitor.brand import handle_key, placeholder_author
from monitor.models import (
    Alert,
    AlertState,
    Author,
    DeliveryStatus,
    Label,
    Person,
    Post,
    Reason,
    Severity,
    Verdict,
)
from monitor.sanitize import (
    AUTHOR_ID_LENGTH,
    ERROR_LENGTH,
    EXTERNAL_ID_LENGTH,
    HANDLE_LENGTH,
    LANGUAGE_LENGTH,
    NAME_LENGTH,
    PLATFORM_LENGTH,
    SOURCE_LENGTH,
)
from monitor.storage.database import json_dumps, orjson_text

FLAGGED_SQL = "label <> 'not_complaint'"
"""A classification that flagged its post (any label but `Label.NOT_COMPLAINT`)."""


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware datetimes on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class PostRow(Base):
    """A mention that matched the brand. Unique on (platform, external_id): stored once."""

    __tablename__ = "posts"
    __table_args__ = (
        Index("uq_posts_platform_external_id", "platform", "external_id", unique=True),
        # Retention (oldest first) and the history view's daily counts, read from the index
        # alone (migration 0009).
        Index("ix_posts_fetched_at_platform_id", "fetched_at", "platform", "id"),
        # The history view (storage.history): newest first and date ranges, a search by
        # handle, an author's earlier posts, each source's newest post.
        Index("ix_posts_created_at_id", "created_at", "id"),
        Index("ix_posts_author_key", "author_key"),
        Index("ix_posts_platform_author", "platform", "author_id", "created_at"),
        Index("ix_posts_source_fetched_at", "source", "fetched_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(PLATFORM_LENGTH))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    source: Mapped[str] = mapped_column(String(SOURCE_LENGTH))
    author_id: Mapped[str] = mapped_column(String(AUTHOR_ID_LENGTH))
    author_handle: Mapped[str] = mapped_column(String(HANDLE_LENGTH))
    author_key: Mapped[str] = mapped_column(String(HANDLE_LENGTH), default="", server_default="")
    """`brand.handle_key(author_handle)`: the history view searches by handle on an index."""
    author_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    author_followers: Mapped[int | None]
    author_verified: Mapped[bool] = mapped_column(default=False)
    url: Mapped[str] = mapped_column(Text)
    contact_url: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(LANGUAGE_LENGTH))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    fetched_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]
    """When the platform says the text was last edited (the stored text is that version)."""
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    """A review's stars, 1 to 5 (`sanitize` keeps it in range); NULL where there is none."""

    classification: Mapped[ClassificationRow | None] = relationship(back_populates="post")
    alert: Mapped[AlertRow | None] = relationship(back_populates="post")


class ClassificationRow(Base):
    __tablename__ = "classifications"
    __table_args__ = (
        # The history view's flagged posts per day by severity (migration 0009).
        Index(
            "ix_classifications_flagged",
            "post_id",
            "severity",
            postgresql_where=text(FLAGGED_SQL),
            sqlite_where=text(FLAGGED_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), unique=True)
    """On PostgreSQL a statement trigger, not this foreign key, checks it (migration 0015)."""
    label: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    sentiment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    vip: Mapped[bool] = mapped_column(default=False)
    muted: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Its author was muted: stored and counted, never alerted."""
    classifier_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]

    post: Mapped[PostRow] = relationship(back_populates="classification")


ESCALATION_DUE = f"state = '{AlertState.OPEN.value}' AND escalated_at IS NULL"
"""The partial index's condition: a query says it with the state a literal
(`AlertStore._overdue`), so a planner can match it without the value (SQLite matches only
literals, and so would a generic plan of PostgreSQL's)."""
REMINDER_DUE = f"state = '{AlertState.CLAIMED.value}' AND reminded_at IS NULL"


class AlertRow(Base):
    """The transactional outbox: written with the post, sent by the deliverer, never dropped.

    status: a `DeliveryStatus` value; state: an `AlertState` value (what the team did with it).
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_due", "status", "next_attempt_at"),
        # The queries that run on a timer (migration 0006): storms, digest, stats, escalation.
        Index("ix_alerts_created_at", "created_at"),
        Index("ix_alerts_sent_at", "sent_at"),
        Index("ix_alerts_escalation", "state", "escalated_at", "sent_at"),
        Index("ix_alerts_reminder", "state", "reminded_at", "claimed_at"),
        # The escalation and reminder scans' candidates exactly, for PostgreSQL (migration
        # 0014): at 1M posts it answered the escalation scan from the reminder index by the
        # state alone, reading every open alert (30,000, 15-19 ms), as it cannot know that few
        # open alerts are still unescalated. SQLite seeks the two above on all three columns.
        Index(
            "ix_alerts_escalation_due",
            "sent_at",
            sqlite_where=text(ESCALATION_DUE),
            postgresql_where=text(ESCALATION_DUE),
        ),
        Index(
            "ix_alerts_reminder_due",
            "claimed_at",
            sqlite_where=text(REMINDER_DUE),
            postgresql_where=text(REMINDER_DUE),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), unique=True)
    """On PostgreSQL a statement trigger, not this foreign key, checks it (migration 0015)."""
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str | None] = mapped_column(String(64))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome_unknown: Mapped[bool] = mapped_column(default=False)
    """An attempt was started and its result never recorded (crash, timeout, lost reply):
    look for the message in the channel before sending again."""
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # The team's workflow on a sent alert (storage.alerts: clicks, escalation; storage.storms).
    state: Mapped[str] = mapped_column(
        String(16), default=AlertState.OPEN.value, server_default=AlertState.OPEN.value
    )
    """What the buttons set."""
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_by_name: Mapped[str | None] = mapped_column(String(256))
    claimed_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_by_name: Mapped[str | None] = mapped_column(String(256))
    resolved_at: Mapped[datetime | None]
    """When it was closed: resolved, or marked not a complaint."""
    escalated_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    topic: Mapped[str | None] = mapped_column(String(64))
    """What the complaint is about (a keyword cluster or the strongest problem cue): storms."""
    storm_id: Mapped[int | None] = mapped_column(
        ForeignKey("storms.id", ondelete="SET NULL", name="fk_alerts_storm_id")
    )
    """Set when the alert was posted in a storm's thread instead of on its own."""

    post: Mapped[PostRow] = relationship(back_populates="alert")


class QuarantineRow(Base):
    """A post the database refused even after `monitor.sanitize` (`PostStore.store_poll`): set
    aside with the error so the rest of its poll is stored and its source moves on, for a
    person to look at (`stats` counts them)."""

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(SOURCE_LENGTH))
    platform: Mapped[str] = mapped_column(String(PLATFORM_LENGTH))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    """Clipped and cleaned: it may be what the database refused."""
    error: Mapped[str] = mapped_column(String(ERROR_LENGTH))
    """The exception's class and a short description, no customer text."""
    post: Mapped[str] = mapped_column(Text)
    """The post as ASCII JSON (`sanitize.post_as_json`), exactly as it was refused."""
    created_at: Mapped[datetime]


class SourceCursorRow(Base):
    """A source's position, written in the same transaction as the posts it covers."""

    __tablename__ = "source_cursors"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    cursor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class SourceLeaseRow(Base):
    """Which replica polls a source, until when (several daemons on one PostgreSQL)."""

    __tablename__ = "source_leases"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class DailyCountRow(Base):
    """What retention keeps of purged posts: counts per day, platform and label, for `stats`."""

    __tablename__ = "daily_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(32), primary_key=True)
    posts: Mapped[int] = mapped_column(Integer, default=0)
    alerts_sent: Mapped[int] = mapped_column(Integer, default=0)


class FeedbackRow(Base):
    """A person's verdict on a text: labeled examples the classifier learns from."""

    __tablename__ = "feedback"
    __table_args__ = (
        Index("ix_feedback_post_id", "post_id"),  # retention deletes posts: no scan per post
        Index("ix_feedback_created_at", "created_at"),  # the digest's day
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str] = mapped_column(String(32))
    """Where it came from: slack, import, ..."""
    author: Mapped[str | None] = mapped_column(String(128))
    """Who gave it (a Slack user id, or the import file)."""
    created_at: Mapped[datetime]


class AlertEventRow(Base):
    """Who did what to an alert, when: every button click, escalation and reminder."""

    __tablename__ = "alert_events"
    __table_args__ = (
        Index("ix_alert_events_alert_id", "alert_id"),
        Index("ix_alert_events_created_at", "created_at"),  # the digest's clicks of the day
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(64))
    user_name: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]


class MutedAuthorRow(Base):
    """Authors muted from Slack ("Mute author"): the pipeline skips them, as brand.muted_authors."""

    __tablename__ = "muted_authors"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    handle: Mapped[str] = mapped_column(String(256), primary_key=True)
    """Lower case, without @."""
    muted_by: Mapped[str | None] = mapped_column(String(64))
    muted_by_name: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    """None: until someone unmutes; past: the mute has lapsed and counts for nothing."""


class StormRow(Base):
    """A burst of complaints on one topic, posted as one parent message and a thread."""

    __tablename__ = "storms"
    __table_args__ = (Index("ix_storms_channel_topic", "channel", "topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str | None] = mapped_column(String(64))
    """None: the default channel."""
    topic: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    last_alert_at: Mapped[datetime]
    parent_channel: Mapped[str | None] = mapped_column(String(64))
    parent_ts: Mapped[str | None] = mapped_column(String(32))
    shown_count: Mapped[int] = mapped_column(Integer, default=0)
    """The count the parent message shows now (updated with chat.update when it changes)."""


class DigestRow(Base):
    """One row per daily digest sent, so a restart or a second replica never sends it twice."""

    __tablename__ = "digests"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    claimed_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    slack_ts: Mapped[str | None] = mapped_column(String(32))


# -- rows to values --------------------------------------------------------------------------


def post_from_row(row: PostRow) -> Post:
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
        edited_at=row.edited_at,
        rating=row.rating,
    )


def verdict_from_row(row: ClassificationRow) -> Verdict:
    return Verdict(
        label=Label(row.label),
        score=row.score,
        severity=Severity(row.severity),
        reasons=tuple(Reason(**r) for r in row.reasons),
        sentiment=dict(row.sentiment),
        classifier_version=row.classifier_version,
    )


def alert_from_rows(
    alert: AlertRow, post: PostRow, classification: ClassificationRow, muted: MutedAuthorRow | None
) -> Alert:
    """`muted`: the author's row in `muted_authors`, if they are muted."""
    return Alert(
        alert_id=alert.id,
        post=post_from_row(post),
        verdict=verdict_from_row(classification),
        vip=classification.vip,
        channel=alert.channel,
        post_id=post.id,
        status=DeliveryStatus(alert.status),
        attempts=alert.attempts,
        outcome_unknown=alert.outcome_unknown,
        last_attempt_at=alert.last_attempt_at,
        slack_ts=alert.slack_ts,
        sent_at=alert.sent_at,
        state=AlertState(alert.state or AlertState.OPEN),
        claimed_by=_person(alert.claimed_by, alert.claimed_by_name),
        claimed_at=alert.claimed_at,
        resolved_by=_person(alert.resolved_by, alert.resolved_by_name),
        resolved_at=alert.resolved_at,
        muted_by=Person(muted.muted_by or "", muted.muted_by_name) if muted is not None else None,
        muted_until=muted.expires_at if muted is not None else None,
        topic=alert.topic,
        storm_id=alert.storm_id,
    )


def _person(user_id: str | None, name: str | None) -> Person | None:
    return Person(user_id, name) if user_id else None


def load_alerts(
    session: Session,
    where: ColumnElement[bool],
    *,
    order_by: tuple[Any, ...] = (AlertRow.created_at, AlertRow.id),
    limit: int | None = None,
) -> list[Alert]:
    """The alerts matching `where`, each with its post, verdict and whether its author is muted:
    the one way every store reads an `Alert` (oldest first unless `order_by` says otherwise)."""
    query = (
        select(AlertRow, PostRow, ClassificationRow, MutedAuthorRow)
        .join(PostRow, AlertRow.post_id == PostRow.id)
        .join(ClassificationRow, ClassificationRow.post_id == PostRow.id)
        .outerjoin(
            MutedAuthorRow,
            and_(
                MutedAuthorRow.platform == PostRow.platform,
                MutedAuthorRow.handle == handle_key_sql(PostRow.author_handle),
            ),
        )
        .where(where)
        .order_by(*order_by)
        .limit(limit)
    )
    alerts = [alert_from_rows(*row) for row in session.execute(query).all()]
    return _with_earlier_complaints(session, alerts) if alerts else alerts


EARLIER_COMPLAINTS_DAYS = 90
"""How far back an alert counts its author's earlier complaints ("3 earlier complaints from
this author in 90 days")."""


def counts_as_complaint() -> ColumnElement[bool]:
    """A post that counts among its author's complaints: judged one, and not marked "not a
    complaint" by the team. Needs `ClassificationRow` joined and `AlertRow` outer-joined."""
    return and_(
        ClassificationRow.label == Label.COMPLAINT.value,
        or_(AlertRow.state.is_(None), AlertRow.state != AlertState.NOT_COMPLAINT.value),
    )


def _with_earlier_complaints(session: Session, alerts: list[Alert]) -> list[Alert]:
    """Each alert with how many complaints its author posted in the 90 days before it, in one
    query for the batch; complaints the team marked "not a complaint" do not count, nor do
    placeholder authors (everyone a platform cannot name shares them)."""
    window = timedelta(days=EARLIER_COMPLAINTS_DAYS)
    known = [a for a in alerts if not placeholder_author(a.post.author.id)]
    by_platform: dict[str, set[str]] = {}
    for alert in known:
        by_platform.setdefault(alert.post.platform, set()).add(alert.post.author.id)
    if not known:
        return alerts
    oldest = min(a.post.created_at for a in known) - window
    newest = max(a.post.created_at for a in known)
    complaints: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    for platform, authors in by_platform.items():
        rows = session.execute(
            select(PostRow.author_id, PostRow.created_at, PostRow.id)
            .join(ClassificationRow, ClassificationRow.post_id == PostRow.id)
            .outerjoin(AlertRow, AlertRow.post_id == PostRow.id)
            .where(
                PostRow.platform == platform,
                PostRow.author_id.in_(sorted(authors)),
                PostRow.created_at >= oldest,
                PostRow.created_at < newest,
                counts_as_complaint(),
            )
        )
        for author_id, created_at, post_id in rows:
            complaints.setdefault((platform, author_id), []).append((created_at, post_id))
    counted: list[Alert] = []
    for alert in alerts:
        post = alert.post
        if placeholder_author(post.author.id):
            counted.append(alert)
            continue
        since = post.created_at - window
        earlier = sum(
            1
            for created_at, post_id in complaints.get((post.platform, post.author.id), [])
            if since <= created_at < post.created_at and post_id != alert.post_id
        )
        counted.append(replace(alert, earlier_complaints=earlier))
    return counted


def mute_active(now: datetime) -> ColumnElement[bool]:
    """A mute that has not lapsed by `now`."""
    return or_(MutedAuthorRow.expires_at.is_(None), MutedAuthorRow.expires_at > now)


def handle_key_sql(column: Any) -> Any:
    """`monitor.brand.handle_key` in SQL (trimmed, no leading @, lower case): a mute stored by
    handle key must find "@Dana" as it finds "dana"."""
    return func.lower(func.ltrim(func.trim(column), "@"))


# -- values to rows (for the dialect's INSERT, `database.insert`) -----------------------------


def post_values(post: Post, source: str, now: datetime) -> dict[str, Any]:
    return {
        "platform": post.platform,
        "external_id": post.external_id,
        "source": source,
        "author_id": post.author.id,
        "author_handle": post.author.handle,
        "author_key": handle_key(post.author.handle)[:HANDLE_LENGTH],
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
        "edited_at": post.edited_at,
        "rating": post.rating,
    }


def classification_values(
    post_id: int, verdict: Verdict, vip: bool, now: datetime, *, muted: bool = False
) -> dict[str, Any]:
    return {
        "post_id": post_id,
        "label": verdict.label.value,
        "score": verdict.score,
        "severity": verdict.severity.value,
        "reasons": [_reason_dict(r) for r in verdict.reasons],
        "sentiment": verdict.sentiment,
        "vip": vip,
        "muted": muted,
        "classifier_version": verdict.classifier_version,
        "created_at": now,
    }


def alert_values(
    post_id: int, priority: int, channel: str | None, topic: str | None, now: datetime
) -> dict[str, Any]:
    """A pending alert, due now."""
    return {
        "post_id": post_id,
        "status": DeliveryStatus.PENDING.value,
        "priority": priority,
        "channel": channel,
        "topic": topic,
        "attempts": 0,
        "outcome_unknown": False,
        "created_at": now,
        "next_attempt_at": now,
    }


# -- values to columns (for `database.insert_columns`: a poll's rows without a dict per row) --
# The same values as `post_values`, `classification_values` and `alert_values` (which the
# post-by-post retry of a refused batch still uses, through SQLAlchemy; a test checks they
# agree), read a column at a time: a dict per row and per table, then taken apart again, was
# most of what Python spent storing a poll (issue 16).

_POST_FIELDS = {
    "platform": "platform",
    "external_id": "external_id",
    "author_id": "author.id",
    "author_handle": "author.handle",
    "author_name": "author.display_name",
    "author_followers": "author.followers",
    "author_verified": "author.verified",
    "url": "url",
    "contact_url": "contact_url",
    "text": "text",
    "language": "language",
    "extra": "extra",
    "created_at": "created_at",
    "edited_at": "edited_at",
    "rating": "rating",
}
"""The `posts` columns read straight from a `Post`: the column and the attribute it is."""
_POST_GETTERS = {column: operator.attrgetter(path) for column, path in _POST_FIELDS.items()}
_label = operator.attrgetter("label._value_")  # the member's value, read in C (not a property)
_score = operator.attrgetter("score")
_severity = operator.attrgetter("severity._value_")
_reasons = operator.attrgetter("reasons")
_sentiment = operator.attrgetter("sentiment")
_version = operator.attrgetter("classifier_version")
CLASSIFICATION_JSON_TEXT = ("reasons",)
"""The column of `classification_columns` given as JSON text already (`reasons_json`)."""


def post_columns(posts: Sequence[Post], source: str, now: datetime) -> dict[str, Sequence[Any]]:
    """`post_values` of each post, a column at a time, each read by a C-level `attrgetter`
    (no tuple nor dict per post: fewer objects for the garbage collector to count, too);
    `source` and `now` given once."""
    if not posts:
        return {}
    columns: dict[str, Sequence[Any]] = {
        column: list(map(get, posts)) for column, get in _POST_GETTERS.items()
    }
    keys = list(map(handle_key, columns["author_handle"]))
    if max(map(len, keys)) > HANDLE_LENGTH:  # lower case may be longer
        keys = [key[:HANDLE_LENGTH] for key in keys]
    columns["author_key"] = keys
    columns["source"] = [source] * len(posts)
    columns["fetched_at"] = [now] * len(posts)
    return columns


def classification_columns(
    post_ids: Sequence[int],
    verdicts: Sequence[Verdict],
    vip: Sequence[bool],
    muted: Sequence[bool],
    now: datetime,
) -> dict[str, Sequence[Any]]:
    """`classification_values` of each verdict, a column at a time, its reasons as JSON text
    (`reasons_json`: insert with `json_text=CLASSIFICATION_JSON_TEXT`)."""
    if not verdicts:
        return {}
    return {
        "post_id": post_ids,
        "label": list(map(_label, verdicts)),
        "score": list(map(_score, verdicts)),
        "severity": list(map(_severity, verdicts)),
        "reasons": reasons_json_column(list(map(_reasons, verdicts))),
        "sentiment": list(map(_sentiment, verdicts)),
        "vip": vip,
        "muted": muted,
        "classifier_version": list(map(_version, verdicts)),
        "created_at": [now] * len(verdicts),
    }


def alert_columns(
    post_ids: Sequence[int],
    priority: Sequence[int],
    channel: Sequence[str | None],
    topic: Sequence[str | None],
    now: datetime,
) -> dict[str, Sequence[Any]]:
    """`alert_values` of each alert, a column at a time: pending, due now."""
    count = len(post_ids)
    return {
        "post_id": post_ids,
        "status": [DeliveryStatus.PENDING.value] * count,
        "priority": priority,
        "channel": channel,
        "topic": topic,
        "attempts": [0] * count,
        "outcome_unknown": [False] * count,
        "created_at": [now] * count,
        "next_attempt_at": [now] * count,
    }


def reasons_json_column(column: Sequence[Sequence[Reason]]) -> list[str]:
    """`reasons_json` of each verdict's reasons: each verdict's remembered JSON joined in
    C, and only the reasons not remembered yet (a learned model's, new to each post) taken
    the long way, one by one (a `TypeError` from the join to find them cost 0.5 µs a post)."""
    remembered = _REASON_TEXTS.get
    found: list[str] = []
    append = found.append
    for reasons in column:
        texts = list(map(remembered, map(id, reasons)))
        append(
            _joined(reasons, texts) if None in texts else f"[{','.join(cast(list[str], texts))}]"
        )
    return found


def reasons_json(reasons: Sequence[Reason]) -> str:
    """`json_dumps` of the reasons as `classification_values` gives them (a dict per reason),
    byte for byte, from each reason's JSON remembered by identity (`_REASON_TEXTS`): the
    classifier memoises its `Reason`s (about 2,700 distinct ones in 10,000 posts), and a dict
    per reason written anew each time cost three times as much. Where a reason's JSON would
    send `json_dumps` to json.dumps (a null, a value orjson refuses), `json_dumps` of them."""
    return _joined(reasons, list(map(_REASON_TEXTS.get, map(id, reasons))))


def _joined(reasons: Sequence[Reason], texts: list[str | None]) -> str:
    """`reasons_json` of `reasons`, given the JSON remembered of each (None: not yet)."""
    for at, known in enumerate(texts):
        if known is None:
            written = _reason_text(reasons[at])
            if written is None:
                return json_dumps([_reason_dict(r) for r in reasons])
            texts[at] = written
    return f"[{','.join(cast(list[str], texts))}]"


def _reason_text(reason: Reason) -> str | None:
    """orjson's JSON of a reason's dict; None where `json_dumps` would not use it. Remembered
    from its second sighting on: a learned model gives every post a reason of its own, and
    10,000 of those remembered at once pushed out the scorer's common reasons every couple of
    polls of 5,000 posts (`_REASONS_SEEN`)."""
    key = id(reason)
    text = _REASON_TEXTS.get(key)
    if text is not None:
        return text
    text = orjson_text(_reason_dict(reason))
    if text is None:
        return None
    if _REASONS_SEEN.get(key) is reason:
        with _REASONS_LOCK:  # every id in `_REASON_TEXTS` is a kept reason's, at every moment
            if len(_REASONS_KEPT) >= _REASONS_REMEMBERED:
                _REASON_TEXTS.clear()
                _REASONS_KEPT.clear()
            _REASONS_KEPT[key] = reason
            _REASON_TEXTS[key] = text
    else:
        if len(_REASONS_SEEN) >= _REASONS_REMEMBERED:
            _REASONS_SEEN.clear()
        _REASONS_SEEN[key] = reason
    return text


_REASONS_REMEMBERED = 10_000
_REASONS_KEPT: dict[int, Reason] = {}
"""The reasons whose JSON is remembered, kept alive: while one is, no other object has its id,
so a text found by id (without the lock: sources may be polled in threads) is the reason's."""
_REASON_TEXTS: dict[int, str] = {}
"""A reason's JSON by its id (`id(reason)`: a frozen dataclass hashes its fields in Python)."""
_REASONS_LOCK = threading.Lock()
_REASONS_SEEN: dict[int, Reason] = {}
"""Reasons seen once, by id, kept alive (so an id found here is the reason's while it is):
a one-off reason fills this, never `_REASON_TEXTS`; cleared when full."""


def _reason_dict(reason: Reason) -> dict[str, Any]:
    return {"cue": reason.cue, "weight": reason.weight, "detail": reason.detail}
