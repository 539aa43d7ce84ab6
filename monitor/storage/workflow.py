"""The team's workflow on sent alerts: claims, resolutions, feedback, mutes, escalations, storms.

Kept beside the outbox `Repository` (same database, same tables) so the outbox stays small and
easy to reason about. Each operation is one transaction; every click is logged in
`alert_events` (who, what, when) in the same transaction as the state it changes.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from monitor.matching import handle_key
from monitor.models import Post, Severity, Verdict
from monitor.storage.database import Database
from monitor.storage.repository import Repository, _post_from_row, _verdict_from_row
from monitor.storage.tables import (
    AlertEventRow,
    AlertRow,
    ClassificationRow,
    DigestRow,
    FeedbackRow,
    MutedAuthorRow,
    PostRow,
    StormRow,
)

ACTIONS = ("claim", "resolve", "not_complaint", "reopen", "mute")
CLOSED_STATES = frozenset({"resolved", "not_complaint"})
FEEDBACK_ORIGIN = "slack"


@dataclass(frozen=True, slots=True)
class Person:
    """Who clicked: a Slack user id (shown as a mention) and the name Slack sent with it."""

    id: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class AlertView:
    """A sent (or pending) alert with its workflow state: what a message is re-rendered from."""

    alert_id: int
    post_id: int
    post: Post
    verdict: Verdict
    vip: bool
    channel: str | None
    slack_ts: str | None
    status: str
    sent_at: datetime | None
    state: str
    claimed_by: Person | None
    claimed_at: datetime | None
    resolved_by: Person | None
    resolved_at: datetime | None
    topic: str | None
    storm_id: int | None
    muted_by: Person | None
    """Set when the author is muted (by whom)."""
    outcome_unknown: bool = False
    """A send was started and its answer never came: look before sending again."""


@dataclass(frozen=True, slots=True)
class ActionResult:
    view: AlertView
    changed: bool
    """False when the click changed nothing (a stale button, a second mute)."""


@dataclass(frozen=True, slots=True)
class MissedReport:
    post_id: int | None
    """The stored post the URL points at, if we have it."""
    text: str


@dataclass(frozen=True, slots=True)
class Storm:
    id: int
    channel: str | None
    topic: str
    started_at: datetime
    last_alert_at: datetime
    parent_channel: str | None
    parent_ts: str | None
    shown_count: int


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
    slowest_unclaimed: list[AlertView]

    @property
    def precision(self) -> float | None:
        """Share of alerts sent that the team did not mark "Not a complaint"."""
        if not self.alerts_sent:
            return None
        return max(0.0, (self.alerts_sent - self.not_complaint_clicks) / self.alerts_sent)


class WorkflowStore:
    def __init__(self, database: Database, default_channel: str | None = None) -> None:
        self.database = database
        self.default_channel = default_channel
        """Alerts routed to the default channel are stored with channel None until sent, then
        with the channel id: storms compare them as one channel."""

    def _alert_channel(self) -> ColumnElement[str | None]:
        return func.coalesce(AlertRow.channel, self.default_channel)

    # -- reading alerts ----------------------------------------------------------------------

    def _views(
        self, session: Session, where: ColumnElement[bool], limit: int | None = None
    ) -> list[AlertView]:
        query = (
            select(AlertRow, PostRow, ClassificationRow, MutedAuthorRow)
            .join(PostRow, AlertRow.post_id == PostRow.id)
            .join(ClassificationRow, ClassificationRow.post_id == PostRow.id)
            .outerjoin(
                MutedAuthorRow,
                and_(
                    MutedAuthorRow.platform == PostRow.platform,
                    MutedAuthorRow.handle == func.lower(PostRow.author_handle),
                ),
            )
            .where(where)
            .order_by(AlertRow.created_at, AlertRow.id)
        )
        if limit is not None:
            query = query.limit(limit)
        return [_view(*row) for row in session.execute(query).all()]

    def alert(self, alert_id: int) -> AlertView | None:
        with self.database.session() as session:
            views = self._views(session, AlertRow.id == alert_id)
        return views[0] if views else None

    def alerts_in_message(self, channel: str, ts: str) -> list[AlertView]:
        """Every alert shown in one Slack message (one, or a storm reply's batch)."""
        with self.database.session() as session:
            return self._views(session, and_(AlertRow.channel == channel, AlertRow.slack_ts == ts))

    # -- clicks ------------------------------------------------------------------------------

    def apply(
        self, alert_id: int, action: str, person: Person, now: datetime
    ) -> ActionResult | None:
        """One click, recorded with its effect in one transaction; None: no such alert."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        with self.database.session() as session:
            row = session.get(AlertRow, alert_id, with_for_update=True)
            if row is None:
                return None
            post = session.get(PostRow, row.post_id)
            assert post is not None
            changed = _APPLY[action](session, row, post, person, now)
            session.add(
                AlertEventRow(
                    alert_id=alert_id,
                    action=action,
                    user_id=person.id,
                    user_name=person.name,
                    created_at=now,
                )
            )
            session.flush()
            view = self._views(session, AlertRow.id == alert_id)[0]
        return ActionResult(view, changed)

    def record_event(
        self, alert_id: int, action: str, now: datetime, person: Person | None = None
    ) -> None:
        with self.database.session() as session:
            session.add(
                AlertEventRow(
                    alert_id=alert_id,
                    action=action,
                    user_id=person.id if person else None,
                    user_name=person.name if person else None,
                    created_at=now,
                )
            )

    def events(self, alert_id: int) -> list[tuple[str, str | None, datetime]]:
        """(action, user id, when) oldest first: the alert's history."""
        with self.database.session() as session:
            rows = session.execute(
                select(AlertEventRow.action, AlertEventRow.user_id, AlertEventRow.created_at)
                .where(AlertEventRow.alert_id == alert_id)
                .order_by(AlertEventRow.id)
            ).all()
        return [(a, u, t) for a, u, t in rows]

    def report_missed(self, url: str, person: Person, now: datetime) -> MissedReport:
        """``/complaint-monitor missed <url>``: a complaint the classifier let through, label 1."""
        candidates = {url, url.rstrip("/"), url.rstrip("/") + "/"}
        with self.database.session() as session:
            post = session.scalars(
                select(PostRow).where(PostRow.url.in_(candidates)).order_by(PostRow.id).limit(1)
            ).first()
            text = post.text if post is not None else url
            session.add(
                FeedbackRow(
                    post_id=post.id if post is not None else None,
                    text=text,
                    label=1,
                    origin=FEEDBACK_ORIGIN,
                    author=person.id,
                    created_at=now,
                )
            )
        return MissedReport(post.id if post is not None else None, text)

    def feedback(self) -> list[tuple[int | None, str, int, str, str | None]]:
        """(post id, text, label, origin, author) of every feedback row, oldest first."""
        with self.database.session() as session:
            rows = session.execute(
                select(
                    FeedbackRow.post_id,
                    FeedbackRow.text,
                    FeedbackRow.label,
                    FeedbackRow.origin,
                    FeedbackRow.author,
                ).order_by(FeedbackRow.id)
            ).all()
        return [(p, t, lbl, o, a) for p, t, lbl, o, a in rows]

    # -- escalation --------------------------------------------------------------------------

    def unclaimed_past_sla(
        self, now: datetime, sla: Mapping[Severity, timedelta]
    ) -> list[AlertView]:
        """Sent on their own, still open, never escalated, older than their severity's SLA."""
        overdue = [
            and_(ClassificationRow.severity == severity.value, AlertRow.sent_at <= now - period)
            for severity, period in sla.items()
        ]
        if not overdue:
            return []
        with self.database.session() as session:
            return self._views(
                session,
                and_(
                    AlertRow.status == "sent",
                    AlertRow.state == "open",
                    AlertRow.escalated_at.is_(None),
                    AlertRow.storm_id.is_(None),
                    AlertRow.slack_ts.is_not(None),
                    or_(*overdue),
                ),
            )

    def claimed_past_reminder(
        self, now: datetime, reminder: Mapping[Severity, timedelta]
    ) -> list[AlertView]:
        overdue = [
            and_(ClassificationRow.severity == severity.value, AlertRow.claimed_at <= now - period)
            for severity, period in reminder.items()
        ]
        if not overdue:
            return []
        with self.database.session() as session:
            return self._views(
                session,
                and_(
                    AlertRow.status == "sent",
                    AlertRow.state == "claimed",
                    AlertRow.reminded_at.is_(None),
                    AlertRow.slack_ts.is_not(None),
                    or_(*overdue),
                ),
            )

    def mark_once(self, alert_id: int, what: str, now: datetime) -> bool:
        """Take the right to send an escalation ("escalated") or reminder ("reminded") once:
        False when it was taken already (by a previous run or another replica)."""
        column = {"escalated": AlertRow.escalated_at, "reminded": AlertRow.reminded_at}[what]
        with self.database.session() as session:
            result = session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, column.is_(None))
                .values({column.key: now})
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def unmark(self, alert_id: int, what: str) -> None:
        """The escalation could not be posted: let the next run try again."""
        column = {"escalated": AlertRow.escalated_at, "reminded": AlertRow.reminded_at}[what]
        with self.database.session() as session:
            session.execute(
                update(AlertRow).where(AlertRow.id == alert_id).values({column.key: None})
            )

    # -- stats -------------------------------------------------------------------------------

    def response_times(self, since: datetime) -> dict[str, dict[str, dict[str, float | int]]]:
        """Median and 90th percentile seconds from posting to the first claim and to the first
        resolution, by severity, for alerts sent since `since`. Closing an alert unclaimed
        counts as claiming it then."""
        with self.database.session() as session:
            rows = session.execute(
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
                    AlertEventRow.action.in_(("claim", "resolve", "not_complaint")),
                )
                .group_by(
                    AlertRow.id, ClassificationRow.severity, AlertRow.sent_at, AlertEventRow.action
                )
            ).all()
        alerts: dict[int, tuple[str, datetime, dict[str, datetime]]] = {}
        for alert_id, severity, sent_at, action, when in rows:
            if sent_at is None:
                continue
            alerts.setdefault(alert_id, (severity, sent_at, {}))[2][action] = when
        claims: dict[str, list[float]] = {}
        resolutions: dict[str, list[float]] = {}
        for severity, sent_at, actions in alerts.values():
            closed = [t for a, t in actions.items() if a != "claim"]
            claimed = [actions["claim"]] if "claim" in actions else closed
            if claimed:
                claims.setdefault(severity, []).append((min(claimed) - sent_at).total_seconds())
            if closed:
                resolutions.setdefault(severity, []).append((min(closed) - sent_at).total_seconds())
        return {
            "time_to_claim_seconds": _summaries(claims),
            "time_to_resolve_seconds": _summaries(resolutions),
        }

    # -- storms ------------------------------------------------------------------------------

    def storm_topics(
        self, now: datetime, window: timedelta, threshold: int
    ) -> list[tuple[str | None, str, int]]:
        """(channel, topic, count) of topics with more than `threshold` non-VIP alerts created
        within `window` of `now`: storms starting or going on."""
        with self.database.session() as session:
            channel = self._alert_channel()
            rows = session.execute(
                select(channel, AlertRow.topic, func.count())
                .join(ClassificationRow, ClassificationRow.post_id == AlertRow.post_id)
                .where(
                    AlertRow.topic.is_not(None),
                    AlertRow.created_at >= now - window,
                    ClassificationRow.vip.is_(False),
                )
                .group_by(channel, AlertRow.topic)
                .having(func.count() > threshold)
            ).all()
        return [(where, str(topic), int(count)) for where, topic, count in rows]

    def current_storm(
        self, channel: str | None, topic: str, now: datetime, window: timedelta
    ) -> Storm:
        """The storm on this topic still going (an alert within `window`), else a new one."""
        with self.database.session() as session:
            row = session.scalars(
                select(StormRow)
                .where(
                    _same_channel(StormRow.channel, channel),
                    StormRow.topic == topic,
                    StormRow.last_alert_at >= now - window,
                )
                .order_by(StormRow.id.desc())
                .limit(1)
            ).first()
            if row is None:
                row = StormRow(
                    channel=channel,
                    topic=topic,
                    started_at=now,
                    last_alert_at=now,
                    shown_count=0,
                )
                session.add(row)
            else:
                row.last_alert_at = now
            session.flush()
            return _storm(row)

    def storms_since(self, since: datetime) -> list[Storm]:
        with self.database.session() as session:
            rows = session.scalars(
                select(StormRow).where(StormRow.last_alert_at >= since).order_by(StormRow.id)
            ).all()
            return [_storm(r) for r in rows]

    def storm_count(self, storm: Storm, window: timedelta) -> int:
        """Complaints on the storm's topic since the window before it started (those posted on
        their own before it was recognised count too)."""
        with self.database.session() as session:
            count = session.scalar(
                select(func.count())
                .select_from(AlertRow)
                .join(ClassificationRow, ClassificationRow.post_id == AlertRow.post_id)
                .where(
                    _same_channel(self._alert_channel(), storm.channel),
                    AlertRow.topic == storm.topic,
                    AlertRow.created_at >= storm.started_at - window,
                    ClassificationRow.vip.is_(False),
                )
            )
        return int(count or 0)

    def claim_storm_members(
        self, storm: Storm, window: timedelta, now: datetime, lease: timedelta, limit: int
    ) -> list[AlertView]:
        """Take unsent alerts of this storm away from the one-message-each deliverer: they are
        assigned to the storm and leased (next attempt `lease` ahead) for its thread."""
        with self.database.session() as session:
            query = (
                select(AlertRow.id)
                .join(ClassificationRow, ClassificationRow.post_id == AlertRow.post_id)
                .where(
                    AlertRow.status != "sent",
                    AlertRow.next_attempt_at <= now,
                    _same_channel(self._alert_channel(), storm.channel),
                    AlertRow.topic == storm.topic,
                    AlertRow.created_at >= storm.started_at - window,
                    ClassificationRow.vip.is_(False),
                )
                .order_by(AlertRow.created_at, AlertRow.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(of=AlertRow, skip_locked=True)
            ids = list(session.scalars(query))
            if not ids:
                return []
            session.execute(
                update(AlertRow)
                .where(AlertRow.id.in_(ids))
                .values(storm_id=storm.id, next_attempt_at=now + lease)
            )
            return self._views(session, AlertRow.id.in_(ids))

    def pending_storm_members(self, storm_id: int, now: datetime, limit: int) -> list[AlertView]:
        """Alerts already assigned to the storm, unsent and due (a retry after a failure)."""
        with self.database.session() as session:
            return self._views(
                session,
                and_(
                    AlertRow.storm_id == storm_id,
                    AlertRow.status != "sent",
                    AlertRow.next_attempt_at <= now,
                ),
                limit,
            )

    def record_storm_parent(self, storm_id: int, channel: str, ts: str, shown: int) -> None:
        with self.database.session() as session:
            session.execute(
                update(StormRow)
                .where(StormRow.id == storm_id)
                .values(parent_channel=channel, parent_ts=ts, shown_count=shown)
            )

    def record_storm_shown(self, storm_id: int, shown: int) -> None:
        with self.database.session() as session:
            session.execute(
                update(StormRow).where(StormRow.id == storm_id).values(shown_count=shown)
            )

    # -- digest ------------------------------------------------------------------------------

    def digest_data(self, since: datetime, until: datetime, slowest: int = 5) -> DigestData:
        with self.database.session() as session:
            period = and_(AlertRow.created_at >= since, AlertRow.created_at < until)
            by_platform = {
                k: int(v)
                for k, v in session.execute(
                    select(PostRow.platform, func.count())
                    .join(AlertRow, AlertRow.post_id == PostRow.id)
                    .where(period)
                    .group_by(PostRow.platform)
                ).all()
            }
            by_severity = {
                k: int(v)
                for k, v in session.execute(
                    select(ClassificationRow.severity, func.count())
                    .join(AlertRow, AlertRow.post_id == ClassificationRow.post_id)
                    .where(period)
                    .group_by(ClassificationRow.severity)
                ).all()
            }
            sent = int(
                session.scalar(
                    select(func.count())
                    .select_from(AlertRow)
                    .where(AlertRow.sent_at >= since, AlertRow.sent_at < until)
                )
                or 0
            )
            wrong = int(
                session.scalar(
                    select(func.count())
                    .select_from(FeedbackRow)
                    .where(
                        FeedbackRow.origin == FEEDBACK_ORIGIN,
                        FeedbackRow.label == 0,
                        FeedbackRow.created_at >= since,
                        FeedbackRow.created_at < until,
                    )
                )
                or 0
            )
            topics = [
                (str(topic), int(count))
                for topic, count in session.execute(
                    select(AlertRow.topic, func.count())
                    .where(period, AlertRow.topic.is_not(None))
                    .group_by(AlertRow.topic)
                    .order_by(func.count().desc(), AlertRow.topic)
                    .limit(5)
                ).all()
            ]
            claim_delays = [
                (claimed - sent_at).total_seconds()
                for sent_at, claimed in session.execute(
                    select(AlertRow.sent_at, func.min(AlertEventRow.created_at))
                    .join(AlertEventRow, AlertEventRow.alert_id == AlertRow.id)
                    .where(
                        AlertEventRow.action.in_(("claim", "resolve", "not_complaint")),
                        AlertRow.sent_at.is_not(None),
                    )
                    .group_by(AlertRow.id, AlertRow.sent_at)
                    .having(func.min(AlertEventRow.created_at) >= since)
                    .having(func.min(AlertEventRow.created_at) < until)
                ).all()
                if sent_at is not None and claimed is not None
            ]
            unclaimed = self._views(
                session,
                and_(
                    AlertRow.status == "sent",
                    AlertRow.state == "open",
                    AlertRow.sent_at < until,
                    AlertRow.storm_id.is_(None),
                ),
                slowest,
            )
        return DigestData(
            since=since,
            until=until,
            by_platform=by_platform,
            by_severity=by_severity,
            alerts_sent=sent,
            not_complaint_clicks=wrong,
            median_seconds_to_claim=statistics.median(claim_delays) if claim_delays else None,
            top_topics=topics,
            slowest_unclaimed=unclaimed,
        )

    def claim_digest(self, day: date, now: datetime, stale: timedelta) -> bool:
        """Take the right to send `day`'s digest: False when it is sent or being sent (a claim
        older than `stale` without a send is taken over: its sender died)."""
        with self.database.session() as session:
            session.execute(
                Repository._insert(session, DigestRow)
                .values(day=day, claimed_at=now)
                .on_conflict_do_nothing(index_elements=["day"])
            )
            result = session.execute(
                update(DigestRow)
                .where(
                    DigestRow.day == day,
                    DigestRow.sent_at.is_(None),
                    or_(DigestRow.claimed_at == now, DigestRow.claimed_at <= now - stale),
                )
                .values(claimed_at=now)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def record_digest(self, day: date, ts: str | None, now: datetime) -> None:
        with self.database.session() as session:
            session.execute(
                update(DigestRow).where(DigestRow.day == day).values(sent_at=now, slack_ts=ts)
            )

    def release_digest(self, day: date) -> None:
        with self.database.session() as session:
            session.execute(
                delete(DigestRow).where(DigestRow.day == day, DigestRow.sent_at.is_(None))
            )


# -- the state machine of a click ------------------------------------------------------------


def _claim(session: Session, row: AlertRow, post: PostRow, person: Person, now: datetime) -> bool:
    if row.state in CLOSED_STATES or (row.state == "claimed" and row.claimed_by == person.id):
        return False  # a stale button on a closed alert, or a double click
    row.state = "claimed"
    row.claimed_by, row.claimed_by_name, row.claimed_at = person.id, person.name, now
    return True


def _close(state: str) -> Any:
    def close(
        session: Session, row: AlertRow, post: PostRow, person: Person, now: datetime
    ) -> bool:
        if row.state == state:
            return False
        if row.claimed_at is None:  # closing it is taking it
            row.claimed_by, row.claimed_by_name, row.claimed_at = person.id, person.name, now
        row.state = state
        row.resolved_by, row.resolved_by_name, row.resolved_at = person.id, person.name, now
        _drop_feedback(session, post.id)
        session.add(  # the team's verdict is a label: resolved = a complaint, else a false alarm
            FeedbackRow(
                post_id=post.id,
                text=post.text,
                label=1 if state == "resolved" else 0,
                origin=FEEDBACK_ORIGIN,
                author=person.id,
                created_at=now,
            )
        )
        return True

    return close


def _reopen(session: Session, row: AlertRow, post: PostRow, person: Person, now: datetime) -> bool:
    if row.state == "open":
        return False
    row.state = "open"
    row.claimed_by = row.claimed_by_name = row.claimed_at = None
    row.resolved_by = row.resolved_by_name = row.resolved_at = None
    _drop_feedback(session, post.id)  # a verdict taken back is no longer a label
    return True


def _mute(session: Session, row: AlertRow, post: PostRow, person: Person, now: datetime) -> bool:
    inserted = session.execute(
        Repository._insert(session, MutedAuthorRow)
        .values(
            platform=post.platform,
            handle=handle_key(post.author_handle),
            muted_by=person.id,
            muted_by_name=person.name,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["platform", "handle"])
        .returning(MutedAuthorRow.handle)
    ).first()
    return inserted is not None


def _drop_feedback(session: Session, post_id: int) -> None:
    """The alert's earlier verdict from Slack: one label per alert, the latest click's."""
    session.execute(
        delete(FeedbackRow).where(
            FeedbackRow.post_id == post_id, FeedbackRow.origin == FEEDBACK_ORIGIN
        )
    )


_APPLY = {
    "claim": _claim,
    "resolve": _close("resolved"),
    "not_complaint": _close("not_complaint"),
    "reopen": _reopen,
    "mute": _mute,
}


# -- helpers ---------------------------------------------------------------------------------


def _same_channel(column: Any, channel: str | None) -> ColumnElement[bool]:
    return column.is_(None) if channel is None else column == channel  # type: ignore[no-any-return]


def _person(user_id: str | None, name: str | None) -> Person | None:
    return Person(user_id, name) if user_id else None


def _view(
    alert: AlertRow, post: PostRow, classification: ClassificationRow, muted: MutedAuthorRow | None
) -> AlertView:
    return AlertView(
        alert_id=alert.id,
        post_id=post.id,
        post=_post_from_row(post),
        verdict=_verdict_from_row(classification),
        vip=classification.vip,
        channel=alert.channel,
        slack_ts=alert.slack_ts,
        status=alert.status,
        sent_at=alert.sent_at,
        state=alert.state or "open",
        claimed_by=_person(alert.claimed_by, alert.claimed_by_name),
        claimed_at=alert.claimed_at,
        resolved_by=_person(alert.resolved_by, alert.resolved_by_name),
        resolved_at=alert.resolved_at,
        topic=alert.topic,
        storm_id=alert.storm_id,
        muted_by=(Person(muted.muted_by or "", muted.muted_by_name) if muted is not None else None),
        outcome_unknown=alert.outcome_unknown,
    )


def _storm(row: StormRow) -> Storm:
    return Storm(
        id=row.id,
        channel=row.channel,
        topic=row.topic,
        started_at=row.started_at,
        last_alert_at=row.last_alert_at,
        parent_channel=row.parent_channel,
        parent_ts=row.parent_ts,
        shown_count=row.shown_count,
    )


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


__all__ = [
    "ActionResult",
    "AlertView",
    "DigestData",
    "MissedReport",
    "Person",
    "Storm",
    "WorkflowStore",
]
