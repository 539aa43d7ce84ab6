"""The team's work on sent alerts: the click state machine, its history, escalation and misses.

Each operation is one transaction; every click is logged in `alert_events` (who, what, when) in
the same transaction as the state it changes. Closing an alert ("Resolved", "Not a complaint")
is a label for the classifier: it is stored as feedback with the click, and taken back with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    delete,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from monitor.brand import handle_key, placeholder_author
from monitor.models import Alert, AlertState, DeliveryStatus, Person, Severity
from monitor.storage.database import Database, insert
from monitor.storage.feedback import SLACK_ORIGIN
from monitor.storage.tables import (
    AlertEventRow,
    AlertRow,
    ClassificationRow,
    FeedbackRow,
    MutedAuthorRow,
    PostRow,
    StormRow,
    load_alerts,
    mute_active,
)


class Action(StrEnum):
    """What a person can do to an alert (its buttons and menu)."""

    CLAIM = "claim"
    RESOLVE = "resolve"
    NOT_COMPLAINT = "not_complaint"
    REOPEN = "reopen"
    MUTE = "mute"
    UNMUTE = "unmute"


@dataclass(frozen=True, slots=True)
class ActionResult:
    alert: Alert
    """The alert as the click left it: what its message is re-rendered from."""
    changed: bool
    """False when the click changed nothing (a stale button, a second mute)."""
    refused: str | None = None
    """Why the click was refused (nothing recorded), e.g. muting a placeholder author."""


@dataclass(frozen=True, slots=True)
class Mute:
    """An author muted from Slack: who muted them, when, and until when."""

    platform: str
    handle: str
    muted_by: Person | None
    created_at: datetime
    expires_at: datetime | None = None
    """None: until someone unmutes."""

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class MissedReport:
    post_id: int | None
    """The stored post the URL points at, if we have it."""
    text: str


@dataclass(frozen=True, slots=True)
class Handled:
    """A person claimed ("claim") or closed ("resolve") an alert, `seconds` after it was sent."""

    alert_id: int
    step: str
    severity: str
    at: datetime
    seconds: float


class AlertStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- reading -----------------------------------------------------------------------------

    def alert(self, alert_id: int) -> Alert | None:
        with self.database.session() as session:
            alerts = load_alerts(session, AlertRow.id == alert_id)
        return alerts[0] if alerts else None

    def alerts_in_message(self, channel: str, ts: str) -> list[Alert]:
        """Every alert shown in one Slack message (one, or a storm reply's batch)."""
        with self.database.session() as session:
            return load_alerts(session, and_(AlertRow.channel == channel, AlertRow.slack_ts == ts))

    # -- clicks ------------------------------------------------------------------------------

    def apply(
        self,
        alert_id: int,
        action: Action | str,
        person: Person,
        now: datetime,
        *,
        mute_for: timedelta | None = None,
    ) -> ActionResult | None:
        """One click, recorded with its effect in one transaction; None: no such alert.
        `mute_for`: how long a mute lasts (None: until someone unmutes)."""
        try:
            action = Action(action)
        except ValueError:
            raise ValueError(f"unknown action {action!r}") from None
        with self.database.session(write=True) as session:  # reads, then writes
            row = session.get(AlertRow, alert_id, with_for_update=True)
            if row is None:
                return None
            post = session.get(PostRow, row.post_id)
            assert post is not None
            if action is Action.MUTE and placeholder_author(post.author_handle):
                alert = load_alerts(session, AlertRow.id == alert_id)[0]
                return ActionResult(
                    alert,
                    False,
                    refused=f"@{post.author_handle or '(no handle)'} is a placeholder the "
                    "platform gives unknown or deleted authors: muting it would silence every "
                    "post that shares it, so it cannot be muted",
                )
            if action is Action.MUTE:
                until = now + mute_for if mute_for is not None else None
                changed = _mute(session, post, person, now, until)
            else:
                changed = _STEPS[action](session, row, post, person, now)
            session.add(_event(alert_id, action.value, now, person))
            session.flush()
            alert = load_alerts(session, AlertRow.id == alert_id)[0]
        return ActionResult(alert, changed)

    def record_event(
        self, alert_id: int, action: str, now: datetime, person: Person | None = None
    ) -> None:
        """Something the daemon did to an alert (escalated, reminded), in its history."""
        with self.database.session() as session:
            session.add(_event(alert_id, action, now, person))

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
            post_id = post.id if post is not None else None
            text = post.text if post is not None else url
            session.add(_feedback(post_id, text, 1, person, now))
        return MissedReport(post_id, text)

    # -- mutes -------------------------------------------------------------------------------

    def mutes(self) -> list[Mute]:
        """Every author muted from Slack, oldest first."""
        with self.database.session() as session:
            rows = session.scalars(
                select(MutedAuthorRow).order_by(
                    MutedAuthorRow.created_at, MutedAuthorRow.platform, MutedAuthorRow.handle
                )
            ).all()
            return [
                Mute(
                    row.platform,
                    row.handle,
                    Person(row.muted_by, row.muted_by_name) if row.muted_by else None,
                    row.created_at,
                    row.expires_at,
                )
                for row in rows
            ]

    def remove_lapsed_mutes(self, now: datetime) -> int:
        """Forget mutes that lapsed by `now` (the retention job): they already count for
        nothing, and their alerts stop saying the author is muted."""
        with self.database.session() as session:
            result = session.execute(delete(MutedAuthorRow).where(~mute_active(now)))
            return int(getattr(result, "rowcount", 0) or 0)

    def unmute(self, platform: str, handle: str) -> bool:
        """Take a mute back (the CLI); False when that author was not muted."""
        with self.database.session() as session:
            return _delete_mute(session, platform.strip(), handle_key(handle))

    # -- escalation --------------------------------------------------------------------------

    def unclaimed_past_sla(self, now: datetime, sla: Mapping[Severity, timedelta]) -> list[Alert]:
        """Sent (on their own or in a storm's thread), still open, never escalated, older than
        their severity's SLA."""
        return self._overdue(
            AlertRow.sent_at,
            now,
            sla,
            AlertRow.state == literal(AlertState.OPEN.value, literal_execute=True),
            AlertRow.escalated_at.is_(None),
        )

    def thread_ts(self, alert: Alert) -> str | None:
        """The message to reply under about `alert`: its own, or for a complaint posted in a
        storm's thread, the storm's parent (Slack threads replies under a parent message)."""
        if alert.storm_id is None:
            return alert.slack_ts
        with self.database.session() as session:
            parent = session.scalar(select(StormRow.parent_ts).where(StormRow.id == alert.storm_id))
        return parent or alert.slack_ts

    def claimed_past_reminder(
        self, now: datetime, reminder: Mapping[Severity, timedelta]
    ) -> list[Alert]:
        """Claimed, not closed, never reminded, claimed longer ago than their severity's delay."""
        return self._overdue(
            AlertRow.claimed_at,
            now,
            reminder,
            AlertRow.state == literal(AlertState.CLAIMED.value, literal_execute=True),
            AlertRow.reminded_at.is_(None),
        )

    def handled_since(self, since: datetime) -> list[Handled]:
        """Claims and closes recorded at or after `since` on sent alerts, with how long after
        the alert reached Slack each came (the metrics' time to claim and to resolve, read at
        each scrape: the Slack adapter records the clicks, this reads them back)."""
        steps = (("claim", AlertRow.claimed_at), ("resolve", AlertRow.resolved_at))
        found: list[Handled] = []
        with self.database.session() as session:
            for step, column in steps:
                rows = session.execute(
                    select(AlertRow.id, ClassificationRow.severity, AlertRow.sent_at, column)
                    .join(ClassificationRow, ClassificationRow.post_id == AlertRow.post_id)
                    .where(column >= since, AlertRow.sent_at.is_not(None))
                ).all()
                found += [
                    Handled(alert_id, step, severity, at, (at - sent_at).total_seconds())
                    for alert_id, severity, sent_at, at in rows
                    if at is not None and sent_at is not None  # the query's filters: for mypy
                ]
        return found

    def _overdue(
        self,
        since: SQLColumnExpression[datetime | None],
        now: datetime,
        periods: Mapping[Severity, timedelta],
        *conditions: ColumnElement[bool],
    ) -> list[Alert]:
        """Sent alerts meeting `conditions` whose `since` is older than their severity's period.

        Two steps: the candidates from `alerts` alone, on the partial index
        `ix_alerts_escalation_due` or `ix_alerts_reminder_due` on PostgreSQL (bounded by the
        shortest period; the state written into the SQL, as `ESCALATION_DUE` says why), then
        those of them overdue for their severity, with their posts. In one query PostgreSQL
        read every verdict: it takes "open and never escalated" for a tenth of all alerts (most
        closed ones were never escalated either), where it is a few dozen."""
        overdue = [
            and_(ClassificationRow.severity == severity.value, since <= now - period)
            for severity, period in periods.items()
        ]
        if not overdue:
            return []
        sent = and_(AlertRow.status == DeliveryStatus.SENT.value, AlertRow.slack_ts.is_not(None))
        oldest_due = since <= now - min(periods.values())
        with self.database.session() as session:
            ids = session.scalars(
                select(AlertRow.id)
                .where(*conditions, oldest_due, sent)
                .order_by(AlertRow.created_at, AlertRow.id)
            ).all()
            return [  # a few hundred ids a statement: SQLite caps the parameters of one
                alert
                for start in range(0, len(ids), 500)
                for alert in load_alerts(
                    session, and_(AlertRow.id.in_(ids[start : start + 500]), or_(*overdue))
                )
            ]

    def mark_once(self, alert_id: int, what: str, now: datetime) -> bool:
        """Take the right to send an escalation ("escalated") or reminder ("reminded") once:
        False when it was taken already (by a previous run or another replica)."""
        column = _ONCE[what]
        with self.database.session() as session:
            result = session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, column.is_(None))
                .values({column.key: now})
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def unmark(self, alert_id: int, what: str) -> None:
        """The escalation could not be posted: let the next run try again."""
        column = _ONCE[what]
        with self.database.session() as session:
            session.execute(
                update(AlertRow).where(AlertRow.id == alert_id).values({column.key: None})
            )


_ONCE = {"escalated": AlertRow.escalated_at, "reminded": AlertRow.reminded_at}


# -- the state machine of a click ------------------------------------------------------------

Step = Callable[[Session, AlertRow, PostRow, Person, datetime], bool]
"""One action's effect on the alert's row; False when it changes nothing."""


def _claim(session: Session, row: AlertRow, post: PostRow, person: Person, now: datetime) -> bool:
    state = AlertState(row.state)
    if state.closed or (state is AlertState.CLAIMED and row.claimed_by == person.id):
        return False  # a stale button on a closed alert, or a double click
    row.state = AlertState.CLAIMED.value
    row.claimed_by, row.claimed_by_name, row.claimed_at = person.id, person.name, now
    return True


def _close(state: AlertState) -> Step:
    def close(
        session: Session, row: AlertRow, post: PostRow, person: Person, now: datetime
    ) -> bool:
        if row.state == state:
            return False
        if row.claimed_at is None:  # closing it is taking it
            row.claimed_by, row.claimed_by_name, row.claimed_at = person.id, person.name, now
        row.state = state.value
        row.resolved_by, row.resolved_by_name, row.resolved_at = person.id, person.name, now
        _drop_feedback(session, post.id)
        # The team's verdict is a label: resolved = a complaint, else a false alarm.
        label = 1 if state is AlertState.RESOLVED else 0
        session.add(_feedback(post.id, post.text, label, person, now))
        return True

    return close


def _reopen(session: Session, row: AlertRow, post: PostRow, person: Person, now: datetime) -> bool:
    if row.state == AlertState.OPEN:
        return False
    row.state = AlertState.OPEN.value
    row.claimed_by = row.claimed_by_name = row.claimed_at = None
    row.resolved_by = row.resolved_by_name = row.resolved_at = None
    _drop_feedback(session, post.id)  # a verdict taken back is no longer a label
    return True


def _mute(
    session: Session, post: PostRow, person: Person, now: datetime, until: datetime | None
) -> bool:
    key = handle_key(post.author_handle)
    session.execute(  # a lapsed mute of the same author is replaced by this one
        delete(MutedAuthorRow).where(
            MutedAuthorRow.platform == post.platform,
            MutedAuthorRow.handle == key,
            ~mute_active(now),
        )
    )
    inserted = session.execute(
        insert(session, MutedAuthorRow)
        .values(
            platform=post.platform,
            handle=key,
            muted_by=person.id,
            muted_by_name=person.name,
            created_at=now,
            expires_at=until,
        )
        .on_conflict_do_nothing(index_elements=["platform", "handle"])
        .returning(MutedAuthorRow.handle)
    ).first()
    return inserted is not None


def _unmute(session: Session, row: AlertRow, post: PostRow, person: Person, now: datetime) -> bool:
    return _delete_mute(session, post.platform, handle_key(post.author_handle))


def _delete_mute(session: Session, platform: str, handle: str) -> bool:
    result = session.execute(
        delete(MutedAuthorRow).where(
            MutedAuthorRow.platform == platform, MutedAuthorRow.handle == handle
        )
    )
    return bool(getattr(result, "rowcount", 0))


_STEPS: dict[Action, Step] = {
    Action.CLAIM: _claim,
    Action.RESOLVE: _close(AlertState.RESOLVED),
    Action.NOT_COMPLAINT: _close(AlertState.NOT_COMPLAINT),
    Action.REOPEN: _reopen,
    Action.UNMUTE: _unmute,
}


def _drop_feedback(session: Session, post_id: int) -> None:
    """The alert's earlier verdict from Slack: one label per alert, the latest click's."""
    session.execute(
        delete(FeedbackRow).where(
            FeedbackRow.post_id == post_id, FeedbackRow.origin == SLACK_ORIGIN
        )
    )


def _feedback(
    post_id: int | None, text: str, label: int, person: Person, now: datetime
) -> FeedbackRow:
    return FeedbackRow(
        post_id=post_id,
        text=text,
        label=label,
        origin=SLACK_ORIGIN,
        author=person.id,
        created_at=now,
    )


def _event(alert_id: int, action: str, now: datetime, person: Person | None) -> AlertEventRow:
    return AlertEventRow(
        alert_id=alert_id,
        action=action,
        user_id=person.id if person else None,
        user_name=person.name if person else None,
        created_at=now,
    )
