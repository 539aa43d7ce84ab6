"""The outbox: alerts the pipeline wrote as pending, taken by a deliverer, sent, never dropped.

A deliverer claims a batch (a lease: their next attempt moves `lease` ahead), records each
attempt BEFORE it starts, then records Slack's answer: sent, or a failure with its retry time.
An attempt whose answer never came keeps `outcome_unknown`, so the next one looks before sending.

Two more ends than "sent": the console notifier's preview (`DeliveryStatus.PREVIEWED`: printed,
not in Slack, so a Slack deliverer still claims it) and an alert Slack refused for good
(`DeliveryStatus.PARKED`: never claimed again, the reason kept in `last_error`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from monitor.models import Alert, DeliveryStatus
from monitor.storage.database import Database, skip_locked
from monitor.storage.tables import AlertRow, load_alerts

DELIVERY_ORDER = (AlertRow.priority.desc(), AlertRow.created_at, AlertRow.id)
"""VIPs and severe complaints first (their priority), then oldest."""
DONE = (DeliveryStatus.SENT, DeliveryStatus.PARKED)
"""Statuses no deliverer claims again."""


def undone(*done: DeliveryStatus) -> tuple[str, ...]:
    """Every status but `done` (and `DONE`), spelt out: ``status IN (...)`` finds them through
    the index on (status, next_attempt_at) where ``status NOT IN`` reads every alert ever sent."""
    return tuple(s.value for s in DeliveryStatus if s not in DONE and s not in done)


@dataclass(frozen=True, slots=True)
class Waiting:
    """The undelivered part of the outbox."""

    count: int
    oldest_created_at: datetime | None
    """When the oldest of them was written; None when none waits."""


class Outbox:
    def __init__(self, database: Database) -> None:
        self.database = database

    def claim_due(
        self, now: datetime, lease: timedelta, limit: int = 50, *, previews: bool = True
    ) -> list[Alert]:
        """Take a batch of due alerts for this deliverer, in `DELIVERY_ORDER`; with
        ``previews=False`` (the console deliverer) alerts already printed are left for Slack.

        Claiming pushes their next attempt `lease` into the future, so another replica (or the
        next round) leaves them alone; on PostgreSQL rows locked by another replica's claim are
        skipped, so replicas split the outbox instead of racing. A replica that dies mid-batch
        releases its share when the lease runs out.
        """
        due = undone() if previews else undone(DeliveryStatus.PREVIEWED)
        with self.database.session(write=True) as session:
            query = (
                select(AlertRow.id)
                .where(AlertRow.status.in_(due), AlertRow.next_attempt_at <= now)
                .order_by(*DELIVERY_ORDER)
                .limit(limit)
            )
            ids = list(session.scalars(skip_locked(session, query)))
            if not ids:
                return []
            claimed = load_alerts(session, AlertRow.id.in_(ids), order_by=DELIVERY_ORDER)
            session.execute(
                update(AlertRow).where(AlertRow.id.in_(ids)).values(next_attempt_at=now + lease)
            )
        return claimed

    def _update(self, alert_id: int, **values: Any) -> None:
        """One alert's row, in a transaction of its own."""
        with self.database.session() as session:
            session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(**values))

    def mark_attempt(self, alert_id: int, now: datetime) -> None:
        """Record that a send is starting, BEFORE it starts.

        If we die between here and `record_sent`, `outcome_unknown` stays set and the next
        attempt looks for the message in the channel before sending.
        """
        self._update(
            alert_id, attempts=AlertRow.attempts + 1, last_attempt_at=now, outcome_unknown=True
        )

    def record_sent(self, alert_id: int, *, channel: str, ts: str, now: datetime) -> None:
        self._update(
            alert_id,
            status=DeliveryStatus.SENT.value,
            channel=channel,
            slack_ts=ts,
            sent_at=now,
            outcome_unknown=False,
            last_error=None,
        )

    def record_previewed(self, alert_id: int) -> None:
        """The console printed it: not delivered, Slack still owes it (channel kept, no ts)."""
        self._update(
            alert_id, status=DeliveryStatus.PREVIEWED.value, outcome_unknown=False, last_error=None
        )

    def record_parked(self, alert_id: int, *, reason: str) -> None:
        """Slack refused it for good: set aside with the reason, never claimed again."""
        self._update(
            alert_id,
            status=DeliveryStatus.PARKED.value,
            last_error=reason[:2000],
            outcome_unknown=False,
        )

    def record_failure(
        self, alert_id: int, *, error: str, retry_at: datetime, outcome_unknown: bool
    ) -> None:
        self._update(
            alert_id,
            status=DeliveryStatus.FAILED.value,
            last_error=error[:2000],
            next_attempt_at=retry_at,
            outcome_unknown=outcome_unknown,
        )

    def waiting(self, *, previews: bool = True) -> Waiting:
        """How many alerts wait for delivery and since when (metrics and /readyz, at each
        scrape): what `claim_due` would take sooner or later, due now or not."""
        waiting = undone() if previews else undone(DeliveryStatus.PREVIEWED)
        with self.database.session() as session:
            count, oldest = session.execute(
                select(func.count(AlertRow.id), func.min(AlertRow.created_at)).where(
                    AlertRow.status.in_(waiting)
                )
            ).one()
        return Waiting(int(count), oldest)

    def release(self, alert_ids: Iterable[int], retry_at: datetime) -> None:
        """Give claimed alerts back untried, due at `retry_at` (e.g. their channel is paused)."""
        ids = list(alert_ids)
        if not ids:
            return
        with self.database.session() as session:
            session.execute(
                update(AlertRow).where(AlertRow.id.in_(ids)).values(next_attempt_at=retry_at)
            )
