"""Figures for people, read-only: `complaint-monitor stats`, response times, the daily digest.

Nothing here writes. Counts of posts already purged by retention come from `daily_counts`.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, func, select, true
from sqlalchemy.orm import Session

from monitor.models import Alert, AlertState, DeliveryStatus
from monitor.storage.alerts import Action
from monitor.storage.database import Database
from monitor.storage.feedback import SLACK_ORIGIN
from monitor.storage.outbox import undone
from monitor.storage.tables import (
    AlertEventRow,
    AlertRow,
    ClassificationRow,
    DailyCountRow,
    FeedbackRow,
    PostRow,
    QuarantineRow,
    load_alerts,
)

TAKING = (Action.CLAIM.value, Action.RESOLVE.value, Action.NOT_COMPLAINT.value)
"""The clicks that take an alert: closing one unclaimed counts as claiming it then."""


@dataclass(frozen=True, slots=True)
class DigestData:
    since: datetime
    until: datetime
    by_platform: dict[str, int]
    by_severity: dict[str, int]
    alerts_sent: int
    not_complaint_clicks: int
    median_seconds_to_claim: float | None
    top_topics: list[tuple[str, int]]
    slowest_unclaimed: list[Alert]

    @property
    def precision(self) -> float | None:
        """Share of alerts sent that the team did not mark "Not a complaint"."""
        if not self.alerts_sent:
            return None
        return max(0.0, (self.alerts_sent - self.not_complaint_clicks) / self.alerts_sent)


class Reports:
    def __init__(self, database: Database) -> None:
        self.database = database

    def stats(self, since: datetime) -> dict[str, Any]:
        """Posts by platform and label, alerts by status, the median time from post to alert,
        and why undelivered alerts wait, for posts fetched since `since`.

        Alerts are picked by their own `created_at` (on an index), not through their posts:
        `store_poll` writes an alert with its post, at the post's `fetched_at`."""
        recent: ColumnElement[bool] = PostRow.fetched_at >= since
        recent_alert: ColumnElement[bool] = AlertRow.created_at >= since
        by_platform: dict[str, int] = {}
        by_label: dict[str, int] = {}
        muted = 0  # stored and judged, not alerted: the author was muted
        with self.database.session() as session:
            for (platform, label, was_muted), count in _counts(
                session, _posts_with_verdicts(self.database.is_sqlite).where(recent)
            ).items():
                by_platform[platform] = by_platform.get(platform, 0) + count
                if label is not None:
                    by_label[label] = by_label.get(label, 0) + count
                muted += count if was_muted else 0
            by_status = _counts(session, select(AlertRow.status).where(recent_alert))
            delays = [
                (sent - created).total_seconds()
                for sent, created in session.connection()
                .execute(  # Core: rows, not ORM
                    select(AlertRow.sent_at, _post_created_at()).where(
                        recent_alert, AlertRow.sent_at.is_not(None)
                    )
                )
                .all()
                if sent is not None
            ]
            errors = _counts(
                session,
                select(AlertRow.last_error).where(
                    AlertRow.status.in_(undone(DeliveryStatus.SENT)),
                    AlertRow.last_error.is_not(None),
                ),
            )
            parked = _counts(  # all of them, however old: each needs a person to look
                session,
                select(AlertRow.last_error).where(AlertRow.status == DeliveryStatus.PARKED.value),
            )
            quarantined: dict[str, int] = {}  # posts the database refused, by exception class
            for error in session.scalars(
                select(QuarantineRow.error).where(QuarantineRow.created_at >= since)
            ):
                reason = error.split(":", 1)[0]
                quarantined[reason] = quarantined.get(reason, 0) + 1
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
            "posts_muted": muted or 0,
            "median_seconds_post_to_alert": round(statistics.median(delays), 1) if delays else None,
            "undelivered_alert_errors": errors,
            "posts_quarantined": sum(quarantined.values()),
            "quarantine_reasons": quarantined,
            "alerts_parked": sum(parked.values()),
            "parked_alert_reasons": parked,
        }

    def response_times(self, since: datetime) -> dict[str, dict[str, dict[str, float | int]]]:
        """Median and 90th percentile seconds from posting to the first claim and to the first
        resolution, by severity, for alerts sent since `since`. Closing an alert unclaimed
        counts as claiming it then."""
        with self.database.session() as session:
            # Executed as Core: tens of thousands of rows in a week, and the ORM's row loading
            # was a third of this method's time at 1M posts (nothing here needs ORM objects).
            rows = (
                session.connection()
                .execute(
                    select(
                        AlertRow.id,
                        ClassificationRow.severity,
                        AlertRow.sent_at,
                        AlertEventRow.action,
                        func.min(AlertEventRow.created_at),
                    )
                    .join(AlertRow, AlertEventRow.alert_id == AlertRow.id)
                    .join(ClassificationRow, ClassificationRow.post_id == AlertRow.post_id)
                    .where(
                        AlertRow.sent_at >= since,
                        AlertEventRow.action.in_(TAKING),
                        # implied (a click comes after the alert was sent), and on an index:
                        # without it PostgreSQL read every click ever made
                        AlertEventRow.created_at >= since,
                    )
                    .group_by(
                        AlertRow.id,
                        ClassificationRow.severity,
                        AlertRow.sent_at,
                        AlertEventRow.action,
                    )
                )
                .all()
            )
        alerts: dict[int, tuple[str, datetime, dict[str, datetime]]] = {}
        for alert_id, severity, sent_at, action, when in rows:
            if sent_at is None:
                continue
            alerts.setdefault(alert_id, (severity, sent_at, {}))[2][action] = when
        claims: dict[str, list[float]] = {}
        resolutions: dict[str, list[float]] = {}
        for severity, sent_at, actions in alerts.values():
            closed = [t for a, t in actions.items() if a != Action.CLAIM]
            claimed = [actions[Action.CLAIM]] if Action.CLAIM in actions else closed
            if claimed:
                claims.setdefault(severity, []).append((min(claimed) - sent_at).total_seconds())
            if closed:
                resolutions.setdefault(severity, []).append((min(closed) - sent_at).total_seconds())
        return {
            "time_to_claim_seconds": _summaries(claims),
            "time_to_resolve_seconds": _summaries(resolutions),
        }

    def digest_data(self, since: datetime, until: datetime, slowest: int = 5) -> DigestData:
        """The day's figures for the digest: alerts created in [since, until) by platform and
        severity, sent, marked "Not a complaint", the top topics, the median time to claim, and
        the `slowest` alerts still unclaimed."""
        period = and_(AlertRow.created_at >= since, AlertRow.created_at < until)
        with self.database.session() as session:
            # The day's alerts, each looking up its post's platform and its verdict's severity
            # (joined, PostgreSQL hashed every post to match them with a day's alerts).
            platform = select(PostRow.platform).where(PostRow.id == AlertRow.post_id)
            by_platform = _counts(session, select(platform.scalar_subquery()).where(period))
            severity = select(ClassificationRow.severity).where(
                ClassificationRow.post_id == AlertRow.post_id
            )
            by_severity = _counts(session, select(severity.scalar_subquery()).where(period))
            sent = _count(session, AlertRow, AlertRow.sent_at >= since, AlertRow.sent_at < until)
            wrong = _count(
                session,
                FeedbackRow,
                FeedbackRow.origin == SLACK_ORIGIN,
                FeedbackRow.label == 0,
                FeedbackRow.created_at >= since,
                FeedbackRow.created_at < until,
            )
            topics = _top_topics(session, period)
            delays = _claim_delays(session, since, until)
            unclaimed = load_alerts(session, AlertRow.id.in_(_oldest_open(until, slowest)))
        return DigestData(
            since=since,
            until=until,
            by_platform=by_platform,
            by_severity=by_severity,
            alerts_sent=sent,
            not_complaint_clicks=wrong,
            median_seconds_to_claim=statistics.median(delays) if delays else None,
            top_topics=topics,
            slowest_unclaimed=unclaimed,
        )


def _counts(session: Session, query: Select[*tuple[Any, ...]]) -> dict[Any, int]:
    """How many rows `query` yields for each value of its column (of its columns: a tuple).

    The rows are found in a subquery that the planner keeps apart (OFFSET 0, on SQLite and
    PostgreSQL): grouped in one query, SQLite walked a whole index sorted by the grouped
    column (every post, every alert) to save sorting the few rows the WHERE picks."""
    columns = list(query.offset(0).subquery().c)
    rows = session.execute(select(*columns, func.count()).group_by(*columns)).all()
    if len(columns) == 1:
        return {row[0]: int(row[1]) for row in rows}
    return {tuple(row[:-1]): int(row[-1]) for row in rows}


def _posts_with_verdicts(sqlite: bool) -> Select[*tuple[Any, ...]]:
    """Each post's platform with its verdict's label and muted flag, in one pass over the
    posts, each looking up its verdict on its unique index. Joined plainly, PostgreSQL hashed
    every verdict ever stored; a scalar subquery a column looked each verdict up twice (40 of
    the 117 ms for a week at 1M posts), so PostgreSQL looks it up once, LATERAL, which
    SQLite has not: its plain join already looks each verdict up once, on the index."""
    if sqlite:
        return select(PostRow.platform, ClassificationRow.label, ClassificationRow.muted).outerjoin(
            ClassificationRow, ClassificationRow.post_id == PostRow.id
        )
    verdict = (
        select(ClassificationRow.label, ClassificationRow.muted)
        .where(ClassificationRow.post_id == PostRow.id)
        .limit(1)  # one at most (unique), and PostgreSQL may not flatten it into a hash join
        .lateral()
    )
    return select(PostRow.platform, verdict.c.label, verdict.c.muted).outerjoin(verdict, true())


def _oldest_open(until: datetime, count: int) -> Select[tuple[int]]:
    """The `count` oldest alerts sent before `until` and still open (not in a storm's thread).

    The open alerts are found first, on `ix_alerts_escalation` (state first), apart (OFFSET 0),
    then sorted: in one ordered query with a LIMIT, PostgreSQL walked every alert from the
    oldest by `created_at`, expecting open ones early (none are, when the team keeps up)."""
    open_alerts = (
        select(AlertRow.id, AlertRow.created_at)
        .where(
            AlertRow.state == AlertState.OPEN.value,
            AlertRow.status == DeliveryStatus.SENT.value,
            AlertRow.sent_at < until,
            AlertRow.storm_id.is_(None),
        )
        .offset(0)
        .subquery()
    )
    return (
        select(open_alerts.c.id).order_by(open_alerts.c.created_at, open_alerts.c.id).limit(count)
    )


def _post_created_at() -> ScalarSelect[datetime]:
    """The alert's post's `created_at`, looked up alert by alert (on the primary key): joined,
    PostgreSQL may read every post to merge them with the few alerts of a week."""
    return select(PostRow.created_at).where(PostRow.id == AlertRow.post_id).scalar_subquery()


def _count(session: Session, table: type[Any], *where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def _top_topics(session: Session, period: ColumnElement[bool]) -> list[tuple[str, int]]:
    rows = session.execute(
        select(AlertRow.topic, func.count())
        .where(period, AlertRow.topic.is_not(None))
        .group_by(AlertRow.topic)
        .order_by(func.count().desc(), AlertRow.topic)
        .limit(5)
    ).all()
    return [(str(topic), int(count)) for topic, count in rows]


def _claim_delays(session: Session, since: datetime, until: datetime) -> list[float]:
    """Seconds from sending to the first click that took the alert, for alerts taken in
    [since, until).

    Only alerts with such a click in the period are read (clicks found by their time, on an
    index), then all their taking clicks: the first may be older than the period."""
    taken_in_period = select(AlertEventRow.alert_id).where(
        AlertEventRow.action.in_(TAKING),
        AlertEventRow.created_at >= since,
        AlertEventRow.created_at < until,
    )
    first_taken = func.min(AlertEventRow.created_at)
    rows = session.execute(
        select(AlertRow.sent_at, first_taken)
        .join(AlertEventRow, AlertEventRow.alert_id == AlertRow.id)
        .where(AlertRow.id.in_(taken_in_period), AlertEventRow.action.in_(TAKING))
        .group_by(AlertRow.id, AlertRow.sent_at)
        .having(first_taken >= since)
        .having(first_taken < until)
    ).all()
    return [
        (taken - sent_at).total_seconds()
        for sent_at, taken in rows
        if sent_at is not None and taken is not None
    ]


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p90 of 10 values is the 9th smallest): no interpolation, so
    the figure is a time someone actually waited."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def _summaries(values: Mapping[str, list[float]]) -> dict[str, dict[str, float | int]]:
    return {
        severity: {
            "count": len(seconds),
            "median": round(statistics.median(seconds), 1),
            "p90": round(percentile(seconds, 0.9), 1),
        }
        for severity, seconds in sorted(values.items())
    }
