"""Storage scenarios over the shared factories: complaints with the pipeline's priority, numbered
complaints on a topic, a way to "send" the outbox, and polls writing beside other work."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event

from monitor.errors import StorageUnavailable
from monitor.models import Author, Label, Post, Reason, Severity, Verdict
from monitor.storage import Database, NewPost, Outbox, PostStore
from monitor.storage.database import MIGRATIONS_DIR
from tests.factories import make_post, make_verdict

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
REFER_TO_POSTS = frozenset({"classifications", "alerts"})
"""The tables whose `post_id` refers to `posts`: by foreign keys on SQLite, by migration 0015's
statement triggers on PostgreSQL."""


def post(external_id: str, handle: str = "dana", text: str | None = None) -> Post:
    return make_post(
        external_id=external_id,
        author=Author(id=handle, handle=handle, followers=10),
        text=text or f"acme refund {external_id}",
        url=f"https://x.com/{handle}/status/{external_id}",
        created_at=NOW - timedelta(minutes=5),
        contact_url=None,
        extra={"query": "acme"},
    )


def verdict(severity: Severity = Severity.MEDIUM, label: Label = Label.COMPLAINT) -> Verdict:
    return make_verdict(
        label=label,
        score=0.8,
        severity=severity,
        reasons=(Reason("refund", 1.2, "refund"),),
        sentiment={"neg": 0.1, "neu": 0.9, "pos": 0.0, "compound": -0.1},
        classifier_version="test",
    )


def complaint(external_id: str, severity: Severity = Severity.MEDIUM, vip: bool = False) -> NewPost:
    """A complaint by @dana, with the pipeline's outbox priority."""
    priority = (100 if vip else 0) + 10 * severity.rank
    return NewPost(post(external_id), verdict(severity), vip=vip, alert_priority=priority)


def numbered(
    n: int, severity: Severity = Severity.MEDIUM, topic: str | None = None, vip: bool = False
) -> NewPost:
    """Complaint number `n` ("acme is down (n)") by its own author, @User<n>."""
    item = post(str(n), handle=f"User{n}", text=f"acme is down ({n})")
    return NewPost(item, verdict(severity), vip=vip, alert_priority=10, topic=topic)


def send_all(outbox: Outbox, now: datetime = NOW) -> None:
    """Everything due, recorded as sent to channel C1 (as the deliverer would)."""
    for n, due in enumerate(outbox.claim_due(now, LEASE, limit=500)):
        outbox.record_sent(due.alert_id, channel="C1", ts=f"1.{n:06d}", now=now)


@dataclass
class PollsMeanwhile:
    """What `polls_meanwhile` did, once its block has ended."""

    polls: int = 0
    failures: list[str] = field(default_factory=list)


@contextmanager
def polls_meanwhile(
    url: str, new_posts: Callable[[int], list[NewPost]]
) -> Iterator[PollsMeanwhile]:
    """Polls stored one after another into the SQLite file at `url` (poll n stores
    `new_posts(n)`) while the block runs, through a connection that gives up after waiting
    300 ms for the write lock (the daemon's waits 5 s); each give-up is a failure."""
    polling = Database(url)
    event.listen(polling.engine, "connect", _impatient)
    posts = PostStore(polling)
    done = threading.Event()
    record = PollsMeanwhile()

    def poll_until_done() -> None:
        while not done.is_set():
            try:
                posts.store_poll(
                    source="live",
                    platform="x",
                    new_posts=new_posts(record.polls),
                    cursor={"n": record.polls},
                    now=NOW,
                )
            except StorageUnavailable as err:
                record.failures.append(str(err))
            record.polls += 1

    poller = threading.Thread(target=poll_until_done)
    poller.start()
    try:
        yield record
    finally:
        done.set()
        poller.join()
        polling.close()


def _impatient(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA busy_timeout=300")
    cursor.close()


def migrate(database: Database, revision: str, *, down: bool = False) -> None:
    """Up or down to `revision`, as `Database.upgrade` runs Alembic: a migration's test with
    the rows a daemon at another revision stored."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
