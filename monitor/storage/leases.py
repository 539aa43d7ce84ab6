"""Who does a job when several replicas share one database: a source's poll, a day's digest.

Both are the same move: make sure the row exists (INSERT ... ON CONFLICT DO NOTHING), then take
it with one conditional UPDATE; the database lets exactly one replica's UPDATE match.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, update
from sqlalchemy.orm import Session

from monitor.storage.database import Database, insert
from monitor.storage.tables import DigestRow, SourceLeaseRow


class Leases:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- a source's poll -------------------------------------------------------------------

    def acquire(self, source: str, owner: str, now: datetime, period: timedelta) -> bool:
        """One replica polls a source at a time: take or renew its lease, unless another
        replica holds one that has not expired. A dead replica's lease expires within `period`."""
        taken = {"owner": owner, "expires_at": now + period}
        with self.database.session() as session:
            return _take(
                session,
                SourceLeaseRow,
                {"source": source} | taken,
                SourceLeaseRow.source == source,
                (SourceLeaseRow.owner == owner) | (SourceLeaseRow.expires_at <= now),
                taken,
            )

    def release(self, source: str, owner: str) -> None:
        with self.database.session() as session:
            session.execute(
                delete(SourceLeaseRow).where(
                    SourceLeaseRow.source == source, SourceLeaseRow.owner == owner
                )
            )

    def take_over_all(self, owner: str) -> int:
        """Drop every source lease `owner` does not hold, so its next poll takes them at once.

        Only for a process that has proved it is alone on the database (SQLite's single-process
        file lock): the leases left are its own dead predecessor's, and waiting for them to
        expire would only delay the first poll after a crash. Returns how many were dropped."""
        with self.database.session() as session:
            result = session.execute(delete(SourceLeaseRow).where(SourceLeaseRow.owner != owner))
            return int(getattr(result, "rowcount", 0) or 0)

    def owner(self, source: str, now: datetime) -> str | None:
        with self.database.session() as session:
            row = session.get(SourceLeaseRow, source)
            return row.owner if row is not None and row.expires_at > now else None

    # -- the daily digest, sent once -------------------------------------------------------

    def claim_digest(self, day: date, now: datetime, stale: timedelta) -> bool:
        """Take the right to send `day`'s digest: False when it is sent or being sent (a claim
        older than `stale` without a send is taken over: its sender died)."""
        with self.database.session() as session:
            return _take(
                session,
                DigestRow,
                {"day": day, "claimed_at": now},
                DigestRow.day == day,
                DigestRow.sent_at.is_(None)
                & or_(DigestRow.claimed_at == now, DigestRow.claimed_at <= now - stale),
                {"claimed_at": now},
            )

    def record_digest(self, day: date, ts: str | None, now: datetime) -> None:
        with self.database.session() as session:
            session.execute(
                update(DigestRow).where(DigestRow.day == day).values(sent_at=now, slack_ts=ts)
            )

    def release_digest(self, day: date) -> None:
        """The digest could not be sent: let the next run (or another replica) try again."""
        with self.database.session() as session:
            session.execute(
                delete(DigestRow).where(DigestRow.day == day, DigestRow.sent_at.is_(None))
            )


def _take(
    session: Session,
    table: type[Any],
    new_row: dict[str, Any],
    key: ColumnElement[bool],
    free: ColumnElement[bool],
    taken: dict[str, Any],
) -> bool:
    """Insert `new_row` unless its key exists, then set `taken` on it if it is `free`: True when
    this transaction took it (the primary key is the conflict target)."""
    keys = [column.name for column in table.__table__.primary_key]
    session.execute(
        insert(session, table).values(new_row).on_conflict_do_nothing(index_elements=keys)
    )
    result = session.execute(update(table).where(key, free).values(taken))
    return bool(getattr(result, "rowcount", 0) == 1)
