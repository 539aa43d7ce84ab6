"""How each source is doing, kept in the database so another process can read it.

The daemon's `SourceRunner` writes one row per source when its state changes and after each
successful poll; the silence watch marks a source silent (and heard again); `complaint-monitor
status`, a separate process, reads the rows with the last day's counts and the outbox. A row is
the latest word of the replica that polls the source (`updated_by`).

The table lives here rather than in `tables.py` because it is this job's alone; it is declared on
the same `Base`, so the migrations and their check see it like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, Text, func, literal_column, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from monitor.models import DeliveryStatus
from monitor.sanitize import ERROR_LENGTH, PLATFORM_LENGTH, SOURCE_LENGTH, text_of
from monitor.storage.database import Database, insert
from monitor.storage.tables import AlertRow, Base, PostRow


class SourceStatusRow(Base):
    """One source's state as its runner last recorded it (see `SourceStatus`)."""

    __tablename__ = "source_status"

    source: Mapped[str] = mapped_column(String(SOURCE_LENGTH), primary_key=True)
    platform: Mapped[str] = mapped_column(String(PLATFORM_LENGTH))
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    since: Mapped[datetime]
    paused_until: Mapped[datetime | None]
    last_poll_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_post_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    told: Mapped[str | None] = mapped_column(String(32))
    told_budget: Mapped[str | None] = mapped_column(String(32))
    silent_since: Mapped[datetime | None]
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What `status` shows for a source, and what a runner taking it over picks up."""

    source: str
    platform: str
    state: str
    """A `monitor.sources.SourceState` value."""
    since: datetime
    """When this state began."""
    updated_by: str
    """The replica that wrote it (the lease owner)."""
    reason: str | None = None
    """The error in words (no customer text, no secret)."""
    paused_until: datetime | None = None
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_post_at: datetime | None = None
    """When a poll last stored a new post."""
    consecutive_failures: int = 0
    told: str | None = None
    """The failure state the team was told about and not yet told is over (None: nothing
    outstanding), so a restart neither repeats the notice nor forgets the "recovered" one."""
    told_budget: str | None = None
    """The read-budget level last told, as ``YYYY-MM:80``: once a month each."""
    silent_since: datetime | None = None
    """Set by the silence watch (`monitor.silence`) while the source is unusually quiet."""


RUNNER_COLUMNS = tuple(f.name for f in fields(SourceStatus) if f.name != "silent_since")
"""What a runner writes; `silent_since` is the silence watch's alone."""


@dataclass(frozen=True, slots=True)
class HourlyPosts:
    """A source's stored posts counted by the hour they were written (UTC, on the hour)."""

    counts: dict[datetime, int] = field(default_factory=dict)
    latest: datetime | None = None
    """The newest post's creation time."""


@dataclass(frozen=True, slots=True)
class OutboxState:
    """The outbox as an operator needs it: what waits, since when, and what was refused."""

    pending: int
    oldest_pending: datetime | None
    previewed: int
    """Printed by the console notifier, still owed to Slack."""
    parked: dict[str, int]
    """Alerts Slack refused for good, by reason."""
    last_sent: datetime | None = None
    """When the deliverer last got an alert into Slack (any replica)."""


class SourceStatusStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- the runner's side ------------------------------------------------------------------

    def record(self, status: SourceStatus, now: datetime) -> None:
        """Write the runner's view of its source (the silence mark is left as it is)."""
        values = {name: getattr(status, name) for name in RUNNER_COLUMNS}
        values["source"] = text_of(status.source, SOURCE_LENGTH)
        values["platform"] = text_of(status.platform, PLATFORM_LENGTH)
        values["reason"] = text_of(status.reason, ERROR_LENGTH) if status.reason else None
        values["updated_at"] = now
        with self.database.session() as session:
            statement = insert(session, SourceStatusRow).values(values)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["source"],
                    set_={k: v for k, v in values.items() if k != "source"},
                )
            )

    def get(self, source: str) -> SourceStatus | None:
        with self.database.session() as session:
            row = session.get(SourceStatusRow, source)
            return _status(row) if row is not None else None

    def all(self) -> list[SourceStatus]:
        with self.database.session() as session:
            rows = session.scalars(select(SourceStatusRow).order_by(SourceStatusRow.source))
            return [_status(row) for row in rows]

    # -- the silence watch's side ----------------------------------------------------------

    def mark_silent(self, source: str, since: datetime) -> bool:
        """Mark the source silent since `since`; True for the one caller that marked it (the
        one to tell people: with replicas, each runs the watch)."""
        return self._set_silence(source, since, SourceStatusRow.silent_since.is_(None))

    def mark_heard(self, source: str) -> datetime | None:
        """Clear the mark; the time the silence began, for the one caller that cleared it."""
        with self.database.session() as session:
            since = session.scalar(
                select(SourceStatusRow.silent_since).where(SourceStatusRow.source == source)
            )
            if since is None:
                return None
            cleared = self._update(
                session, source, SourceStatusRow.silent_since == since, silent_since=None
            )
            return since if cleared else None

    def _set_silence(self, source: str, since: datetime, free: ColumnElement[bool]) -> bool:
        with self.database.session() as session:
            return self._update(session, source, free, silent_since=since)

    @staticmethod
    def _update(session: Session, source: str, free: ColumnElement[bool], **values: Any) -> bool:
        result = session.execute(
            update(SourceStatusRow).where(SourceStatusRow.source == source, free).values(**values)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    def hourly_posts(self, since: datetime) -> dict[str, HourlyPosts]:
        """Posts written since `since`, by source and hour: what each source's rhythm is
        learned from. One grouped query; the posts' `fetched_at` index narrows it (a post
        written after `since` was fetched after it too)."""
        with self.database.session() as session:
            hour = _hour_of(session, PostRow.created_at)
            rows = session.execute(
                select(PostRow.source, hour, func.count(), func.max(PostRow.created_at))
                .where(PostRow.fetched_at >= since, PostRow.created_at >= since)
                .group_by(PostRow.source, hour)
            ).all()
        counts: dict[str, dict[datetime, int]] = {}
        latest: dict[str, datetime] = {}
        for source, bucket, count, newest in rows:
            counts.setdefault(source, {})[_as_hour(bucket)] = int(count)
            newest = _aware(newest)
            if newest is not None and (source not in latest or newest > latest[source]):
                latest[source] = newest
        return {source: HourlyPosts(counts[source], latest.get(source)) for source in counts}

    # -- what `status` reads -----------------------------------------------------------------

    def activity(self, since: datetime) -> dict[str, tuple[int, int]]:
        """Posts stored and alerts raised since `since`, by source."""
        with self.database.session() as session:
            posts = _by_source(session, select(PostRow.source).where(PostRow.fetched_at >= since))
            alerts = _by_source(
                session,
                select(PostRow.source)
                .join(AlertRow, AlertRow.post_id == PostRow.id)
                .where(AlertRow.created_at >= since),
            )
        return {s: (posts.get(s, 0), alerts.get(s, 0)) for s in posts.keys() | alerts.keys()}

    def outbox(self) -> OutboxState:
        waiting = AlertRow.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value])
        with self.database.session() as session:
            pending, oldest = session.execute(
                select(func.count(), func.min(AlertRow.created_at)).where(waiting)
            ).one()
            previewed = session.scalar(
                select(func.count()).where(AlertRow.status == DeliveryStatus.PREVIEWED.value)
            )
            parked = session.execute(
                select(AlertRow.last_error, func.count())
                .where(AlertRow.status == DeliveryStatus.PARKED.value)
                .group_by(AlertRow.last_error)
            ).all()
            last_sent = session.scalar(select(func.max(AlertRow.sent_at)))  # ix_alerts_sent_at
        return OutboxState(
            pending=int(pending or 0),
            oldest_pending=_aware(oldest),
            previewed=int(previewed or 0),
            parked={str(reason or "no reason recorded"): int(n) for reason, n in parked},
            last_sent=_aware(last_sent),
        )


def _status(row: SourceStatusRow) -> SourceStatus:
    return SourceStatus(**{f.name: getattr(row, f.name) for f in fields(SourceStatus)})


def _by_source(session: Session, query: Any) -> dict[str, int]:
    rows = session.execute(query.add_columns(func.count()).group_by(PostRow.source)).all()
    return {str(source): int(count) for source, count in rows}


def _hour_of(session: Session, column: Any) -> Any:
    """The UTC hour a timestamp falls in, in SQL. Literal arguments, not bound ones: PostgreSQL
    must see the GROUP BY expression as the very one selected."""
    if session.get_bind().dialect.name == "postgresql":
        utc = func.timezone(literal_column("'UTC'"), column)
        return func.date_trunc(literal_column("'hour'"), utc)
    # SQLite keeps UTC timestamps as "YYYY-MM-DD HH:MM:SS.ffffff" text (`UTCDateTime`).
    return func.strftime(literal_column("'%Y-%m-%d %H:00:00'"), column)


def _as_hour(value: Any) -> datetime:
    hour = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return hour.replace(tzinfo=UTC) if hour.tzinfo is None else hour.astimezone(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """`min()` over a column loses the column's type on some backends: make it UTC again."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
