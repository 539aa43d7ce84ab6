"""Storms: bursts of complaints on one topic, posted as one parent message and its thread.

Non-VIP alerts on a topic that crosses the threshold within the window are taken away from the
one-message-each deliverer (assigned to the storm and leased) and posted in the storm's thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, func, select, update

from monitor.models import Alert
from monitor.storage.database import Database, skip_locked
from monitor.storage.outbox import undone
from monitor.storage.tables import AlertRow, ClassificationRow, StormRow, load_alerts


@dataclass(frozen=True, slots=True)
class Storm:
    id: int
    channel: str | None
    """None: the default channel."""
    topic: str
    started_at: datetime
    last_alert_at: datetime
    parent_channel: str | None
    parent_ts: str | None
    shown_count: int
    """The count the parent message shows now."""


def storm_from_row(row: StormRow) -> Storm:
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


class StormStore:
    def __init__(self, database: Database, default_channel: str | None = None) -> None:
        self.database = database
        self.default_channel = default_channel
        """Alerts routed to the default channel are stored with channel None until sent, then
        with the channel id: storms compare them as one channel."""

    def _alert_channel(self) -> ColumnElement[str | None]:
        return func.coalesce(AlertRow.channel, self.default_channel)

    def _on_topic(self, storm: Storm, window: timedelta) -> ColumnElement[bool]:
        """Non-VIP alerts on the storm's topic and channel since the window before it started
        (those posted on their own before it was recognised count too)."""
        return and_(
            _same_channel(self._alert_channel(), storm.channel),
            AlertRow.topic == storm.topic,
            AlertRow.created_at >= storm.started_at - window,
            ClassificationRow.vip.is_(False),
        )

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
                    channel=channel, topic=topic, started_at=now, last_alert_at=now, shown_count=0
                )
                session.add(row)
            else:
                row.last_alert_at = now
            session.flush()
            return storm_from_row(row)

    def storms_since(self, since: datetime) -> list[Storm]:
        with self.database.session() as session:
            rows = session.scalars(
                select(StormRow).where(StormRow.last_alert_at >= since).order_by(StormRow.id)
            ).all()
            return [storm_from_row(r) for r in rows]

    def storm_count(self, storm: Storm, window: timedelta) -> int:
        """Complaints on the storm's topic (see `_on_topic`), sent or not."""
        with self.database.session() as session:
            count = session.scalar(
                select(func.count())
                .select_from(AlertRow)
                .join(ClassificationRow, ClassificationRow.post_id == AlertRow.post_id)
                .where(self._on_topic(storm, window))
            )
        return int(count or 0)

    def claim_storm_members(
        self, storm: Storm, window: timedelta, now: datetime, lease: timedelta, limit: int
    ) -> list[Alert]:
        """Take unsent alerts of this storm away from the one-message-each deliverer: they are
        assigned to the storm and leased (next attempt `lease` ahead) for its thread."""
        with self.database.session(write=True) as session:
            query = (
                select(AlertRow.id)
                .join(ClassificationRow, ClassificationRow.post_id == AlertRow.post_id)
                .where(
                    AlertRow.status.in_(undone()),
                    AlertRow.next_attempt_at <= now,
                    self._on_topic(storm, window),
                )
                .order_by(AlertRow.created_at, AlertRow.id)
                .limit(limit)
            )
            ids = list(session.scalars(skip_locked(session, query, of=AlertRow)))
            if not ids:
                return []
            session.execute(
                update(AlertRow)
                .where(AlertRow.id.in_(ids))
                .values(storm_id=storm.id, next_attempt_at=now + lease)
            )
            return load_alerts(session, AlertRow.id.in_(ids))

    def pending_storm_members(self, storm_id: int, now: datetime, limit: int) -> list[Alert]:
        """Alerts already assigned to the storm, unsent and due (a retry after a failure)."""
        with self.database.session() as session:
            return load_alerts(
                session,
                and_(
                    AlertRow.storm_id == storm_id,
                    AlertRow.status.in_(undone()),
                    AlertRow.next_attempt_at <= now,
                ),
                limit=limit,
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


def _same_channel(
    column: SQLColumnExpression[str | None], channel: str | None
) -> ColumnElement[bool]:
    return column.is_(None) if channel is None else column == channel
