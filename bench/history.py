"""The queries that run on a timer, against months of history, on SQLite and PostgreSQL.

Fills a fresh database with N posts at a realistic daily rate (default 5,500 a day, so 1,000,000
posts are about six months): about 30% of them complaints whose alerts went through the team's
workflow (resolved, marked not a complaint, claimed and reminded, left open and escalated), each
click in `alert_events` and each closing click a label in `feedback`, as the Slack app leaves
them. The most recent day is written by the project's own `Pipeline.poll` (real classifier,
`PostStore.store_poll`); older days are bulk-inserted as the same rows (verdicts from the real
classifier), since the pipeline would take many minutes for a million posts. Then it times each
recurring operation with the store method the daemon calls, and prints a table in ms.

    .venv/bin/python bench/history.py [--posts 200000] [--database sqlite|postgresql|both]

PostgreSQL: the server of the test suite (127.0.0.1:5432, database test), in a schema of its
own, dropped afterwards (`--postgres-url` to change). SQLite: a file in a temporary directory.
The retention row purges the oldest day while a thread polls 100 new posts every 0.2 s, and
counts the polls whose write failed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _scratch import scratch_schema
from sqlalchemy import String, cast, text, update

from connectors.base import Connector, CursorState, Fetched, SourceSettings
from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.clock import FakeClock
from monitor.errors import StorageUnavailable
from monitor.models import AlertState, Author, DeliveryStatus, Post, Severity, Verdict
from monitor.pipeline import Pipeline, alert_priority
from monitor.storage import Database, Storage
from monitor.storage.tables import (
    AlertRow,
    Base,
    alert_values,
    classification_values,
    post_values,
)

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
END = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BRAND = BrandSettings(name="Acme", handles=["acme", "acmehelp"])
COMPLAINTS = [
    "@acme still waiting on my refund for order {n}, three weeks now",
    "@acme you charged me twice for order {n} and nobody answers",
    "acme app crashed again during checkout, lost my cart #{n}",
    "@acmehelp where is my package {n}? tracking hasn't moved in 6 days",
    "worst experience with acme ever, cancelled order {n} and no refund",
    "@acme site is down again, can't log in ({n})",
]
OTHERS = [
    "Loving the new acme app update, checkout is so fast now {n}",
    "does acme ship to canada? asking for order {n}",
    "Thanks @acmehelp, sorted out in five minutes. Great service! {n}",
    "acme summer sale starts today, picked up {n} things",
    "just watched a video about acme's new warehouse robots #{n}",
    "anyone know if acme is hiring in Austin? {n}",
    "acme's keynote was interesting, new speakers look nice {n}",
]
TOPICS = {"refund": "refund", "charged": "billing", "down": "outage", "package": "delivery"}
SLA = {Severity.HIGH: 15.0, Severity.MEDIUM: 60.0, Severity.LOW: 240.0}
REMINDERS = {Severity.HIGH: 60.0, Severity.MEDIUM: 240.0, Severity.LOW: 1440.0}
WORKFLOW_COLUMNS = (
    "claimed_by",
    "claimed_by_name",
    "claimed_at",
    "resolved_by",
    "resolved_by_name",
    "resolved_at",
    "escalated_at",
    "reminded_at",
)
"""Every bulk row carries every column (one executemany statement)."""
TEAM = [("U01", "Ana"), ("U02", "Ben"), ("U03", "Chen"), ("U04", "Dee")]


def topic_of(post: Post, verdict: Verdict) -> str | None:
    """A keyword's topic, as `[slack.storms] topics` would give."""
    return next((topic for word, topic in TOPICS.items() if word in post.text), None)


def make_post(n: int, when: datetime, complaint: bool) -> Post:
    pool = COMPLAINTS if complaint else OTHERS
    handle = f"user{n % 40_000}"
    platform = "x" if n % 5 else "reddit"
    return Post(
        platform=platform,
        external_id=str(n),
        author=Author(id=handle, handle=handle, followers=(n * 37) % 5000),
        text=pool[n % len(pool)].format(n=n),
        url=f"https://example.com/{platform}/{n}",
        created_at=when - timedelta(minutes=3),
        language="en",
    )


def is_complaint(n: int) -> bool:
    """About 30% of posts: 3 in 10."""
    return n % 10 in (1, 4, 7)


# -- the pipeline's source ---------------------------------------------------------------------


class GeneratedSettings(SourceSettings):
    type: Literal["generated"] = "generated"


@dataclass(frozen=True, slots=True)
class GeneratedCursor(CursorState):
    next: int


class Generated(Connector[GeneratedSettings, GeneratedCursor]):
    """Posts numbered from `first`, `per_poll` a poll, fetched at the clock's time."""

    kind: ClassVar[str] = "x"
    settings_class: ClassVar[type[SourceSettings]] = GeneratedSettings
    cursor_class = GeneratedCursor

    def __init__(self, name: str, first: int, per_poll: int, clock: FakeClock) -> None:
        super().__init__(GeneratedSettings(name=name), BRAND, clock)
        self.first, self.per_poll = first, per_poll

    def fetch(self, cursor: GeneratedCursor | None) -> Fetched[GeneratedCursor]:
        start = cursor.next if cursor else self.first
        now = self.clock.now()
        posts = [make_post(n, now, is_complaint(n)) for n in range(start, start + self.per_poll)]
        return Fetched(posts, GeneratedCursor(start + self.per_poll))


# -- filling -----------------------------------------------------------------------------------


@dataclass
class Filled:
    posts: int = 0
    alerts: int = 0
    events: int = 0
    labels: int = 0
    bulk_posts: int = 0
    pipeline_posts: int = 0
    seconds: float = 0.0
    states: dict[str, int] = field(default_factory=dict)


class Filler:
    """Writes the history, oldest day first."""

    def __init__(self, storage: Storage, per_day: int) -> None:
        self.storage = storage
        self.per_day = per_day
        self.classifier = Classifier(ClassifierSettings(), BRAND)
        self.verdicts: dict[str, Verdict] = {}
        self.filled = Filled()
        self.post_id = self.alert_id = 0

    def verdict(self, post: Post) -> Verdict:
        template = post.text.replace(post.external_id, "0")
        if template not in self.verdicts:
            self.verdicts[template] = self.classifier.classify(post.text, language="en")
        return self.verdicts[template]

    def bulk_day(self, day_start: datetime, first: int) -> None:
        """One day of posts written as `store_poll` writes them, and the team's clicks since."""
        posts: list[dict[str, Any]] = []
        verdicts: list[dict[str, Any]] = []
        alerts: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        labels: list[dict[str, Any]] = []
        step = timedelta(days=1) / self.per_day
        for i in range(self.per_day):
            n = first + i
            when = day_start + step * i
            post = make_post(n, when, is_complaint(n))
            verdict = self.verdict(post)
            self.post_id += 1
            posts.append({"id": self.post_id, **post_values(post, "generated", when)})
            verdicts.append(classification_values(self.post_id, verdict, False, when))
            if not verdict.is_complaint:
                continue
            self.alert_id += 1
            row = alert_values(
                self.post_id,
                alert_priority(verdict.severity, False),
                None,
                topic_of(post, verdict),
                when,
            )
            row["id"] = self.alert_id
            self._worked(row, post, when, events, labels, n)
            alerts.append(row)
        with self.storage.database.session() as session:
            session.execute(Base.metadata.tables["posts"].insert(), posts)
            session.execute(Base.metadata.tables["classifications"].insert(), verdicts)
            if alerts:
                session.execute(Base.metadata.tables["alerts"].insert(), alerts)
            if events:
                session.execute(Base.metadata.tables["alert_events"].insert(), events)
            if labels:
                session.execute(Base.metadata.tables["feedback"].insert(), labels)
        self.filled.bulk_posts += len(posts)
        self.filled.events += len(events)
        self.filled.labels += len(labels)

    def _worked(
        self,
        row: dict[str, Any],
        post: Post,
        when: datetime,
        events: list[dict[str, Any]],
        labels: list[dict[str, Any]],
        n: int,
    ) -> None:
        """What the team did with a sent alert, in realistic shares: 75% resolved, 10% not a
        complaint, 8% claimed and never closed (reminded), 7% left open (escalated)."""
        sent = when + timedelta(seconds=3)
        user, name = TEAM[n % len(TEAM)]
        row |= dict.fromkeys(WORKFLOW_COLUMNS) | {
            "status": DeliveryStatus.SENT.value,
            "channel": "C1",
            "slack_ts": f"{sent.timestamp():.6f}",
            "sent_at": sent,
            "attempts": 1,
            "last_attempt_at": sent,
        }
        share = (n * 7919) % 100
        claimed = sent + timedelta(minutes=5 + n % 50)
        closed = claimed + timedelta(minutes=20 + n % 200)

        def event(action: str, at: datetime, person: bool = True) -> None:
            events.append(
                {
                    "alert_id": row["id"],
                    "action": action,
                    "user_id": user if person else None,
                    "user_name": name if person else None,
                    "created_at": at,
                }
            )

        if share < 85:
            state = AlertState.RESOLVED if share < 75 else AlertState.NOT_COMPLAINT
            row |= {"claimed_by": user, "claimed_by_name": name, "claimed_at": claimed}
            row |= {"resolved_by": user, "resolved_by_name": name, "resolved_at": closed}
            if state is AlertState.RESOLVED:
                event("claim", claimed)
            event("resolve" if state is AlertState.RESOLVED else "not_complaint", closed)
            labels.append(
                {
                    "post_id": row["post_id"],
                    "text": post.text,
                    "label": 1 if state is AlertState.RESOLVED else 0,
                    "origin": "slack",
                    "author": user,
                    "created_at": closed,
                }
            )
        elif share < 93:
            state = AlertState.CLAIMED
            row |= {"claimed_by": user, "claimed_by_name": name, "claimed_at": claimed}
            row["reminded_at"] = claimed + timedelta(hours=4)
            event("claim", claimed)
            event("remind", row["reminded_at"], person=False)
        else:
            state = AlertState.OPEN
            row["escalated_at"] = sent + timedelta(hours=1)
            event("escalate", row["escalated_at"], person=False)
        row["state"] = state.value
        self.filled.states[state.value] = self.filled.states.get(state.value, 0) + 1

    def pipeline_day(self, day_start: datetime, first: int, per_poll: int = 100) -> int:
        """The last day through `Pipeline.poll`, a poll every few minutes; alerts older than an
        hour then sent (as the deliverer would): those older than 2 hours resolved, the next
        hour's escalated, the last hour's open."""
        clock = FakeClock(day_start)
        pipeline = Pipeline(BRAND, self.storage.posts, self.classifier, clock, topic=topic_of)
        connector = Generated("generated", first, per_poll, clock)
        polls = max(1, self.per_day // per_poll)
        for _ in range(polls):
            pipeline.poll(connector)
            clock.advance(86_400 / polls)
        sent: dict[str, Any] = {"status": DeliveryStatus.SENT.value, "channel": "C1", "attempts": 1}
        with self.storage.database.session() as session:  # the deliverer, then the team
            session.execute(
                update(AlertRow)
                .where(AlertRow.status == DeliveryStatus.PENDING.value)
                .values(**sent, slack_ts=cast(AlertRow.id, String), sent_at=AlertRow.created_at)
            )
            session.execute(
                update(AlertRow)
                .where(
                    AlertRow.created_at >= day_start, AlertRow.created_at < END - timedelta(hours=2)
                )
                .values(
                    state=AlertState.RESOLVED.value,
                    claimed_by="U01",
                    claimed_at=AlertRow.created_at,
                    resolved_by="U01",
                    resolved_at=AlertRow.created_at,
                )
            )
            session.execute(
                update(AlertRow)
                .where(
                    AlertRow.created_at < END - timedelta(hours=1), AlertRow.sent_at >= day_start
                )
                .where(AlertRow.state == AlertState.OPEN.value)
                .values(escalated_at=AlertRow.created_at)
            )
        self.filled.pipeline_posts += polls * per_poll
        return polls * per_poll


def fill(storage: Storage, posts: int, per_day: int) -> Filled:
    started = time.perf_counter()
    days = max(2, -(-posts // per_day))
    filler = Filler(storage, posts // days)
    first_day = END - timedelta(days=days)
    for day in range(days - 1):
        filler.bulk_day(first_day + timedelta(days=day), day * filler.per_day)
    if storage.database.url.get_backend_name() == "postgresql":
        with storage.database.session() as session:  # the bulk rows carried their own ids
            for table in ("posts", "classifications", "alerts", "alert_events", "feedback"):
                session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                )
    filler.pipeline_day(END - timedelta(days=1), (days - 1) * filler.per_day)
    storage.text_index.catch_up(max_seconds=float("inf"))  # as the daemon's job keeps it
    filled = filler.filled
    with storage.database.session() as session:
        counts = {
            table: int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("posts", "alerts", "alert_events", "feedback")
        }
    if storage.database.url.get_backend_name() == "postgresql":
        # What autovacuum has long done on a server with months of history: statistics, and
        # the visibility map that lets counts read indexes alone. Left to autovacuum, it ran
        # beside the timings just after the load (stats --since 7d: 325-512 ms in three runs).
        with storage.database.engine.connect() as connection:
            tables = (
                connection.exec_driver_sql(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
                .scalars()
                .all()
            )
            connection.rollback()
            vacuum = connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in tables:  # this run's schema, not the whole database
                vacuum.exec_driver_sql(f'VACUUM (ANALYZE) "{table}"')
    filled.posts, filled.alerts = counts["posts"], counts["alerts"]
    filled.events, filled.labels = counts["alert_events"], counts["feedback"]
    filled.seconds = time.perf_counter() - started
    return filled


# -- timing ------------------------------------------------------------------------------------


def median_ms(operation: Callable[[], object], repeat: int) -> float:
    operation()  # warm: caches, compiled statements, the first connection
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        operation()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@dataclass
class PurgeRun:
    purged: int
    seconds: float
    polls: int
    failed: int
    slowest_poll_ms: float
    error: str | None = None


def purge_with_polls(storage: Storage, cutoff: datetime, first: int) -> PurgeRun:
    """One day's retention while a thread polls 100 new posts every 0.2 s."""
    clock = FakeClock(END)
    pipeline = Pipeline(
        BRAND, storage.posts, Classifier(ClassifierSettings(), BRAND), clock, topic=topic_of
    )
    connector = Generated("live", first, 100, clock)
    stop = threading.Event()
    outcomes: list[tuple[bool, float]] = []

    def poll_forever() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                pipeline.poll(connector)
                outcomes.append((True, time.perf_counter() - started))
            except StorageUnavailable:
                outcomes.append((False, time.perf_counter() - started))
            clock.advance(0.2)
            stop.wait(0.2)

    poller = threading.Thread(target=poll_forever, daemon=True)
    poller.start()
    time.sleep(0.3)
    started = time.perf_counter()
    error = None
    try:
        purged = purge(storage, cutoff)
    except StorageUnavailable as err:  # the purge itself gave up: the daemon logs it, skipped
        purged, error = 0, str(err)
    seconds = time.perf_counter() - started
    time.sleep(0.3)
    stop.set()
    poller.join()
    failed = sum(1 for ok, _ in outcomes if not ok)
    slowest = max((s for _, s in outcomes), default=0.0) * 1000
    return PurgeRun(purged, seconds, len(outcomes), failed, slowest, error)


def purge(storage: Storage, cutoff: datetime) -> int:
    """As the daemon runs it, with `[retention]`'s defaults."""
    return storage.retention.purge(cutoff, batch_size=500, max_seconds=120.0).purged


def measure(storage: Storage, filled: Filled, per_day: int) -> dict[str, str]:
    now = END
    sla = {s: timedelta(minutes=m) for s, m in SLA.items()}
    reminders = {s: timedelta(minutes=m) for s, m in REMINDERS.items()}
    reports, alerts = storage.reports, storage.alerts
    window = timedelta(minutes=10)
    clock = FakeClock(END)
    poll_pipeline = Pipeline(
        BRAND, storage.posts, Classifier(ClassifierSettings(), BRAND), clock, topic=topic_of
    )
    fresh = Generated("fresh", 50_000_000, 100, clock)
    figures = {
        "claim (nothing due)": median_ms(
            lambda: storage.outbox.claim_due(now + timedelta(days=2), timedelta(minutes=2)), 20
        ),
        "storm detection": median_ms(lambda: storage.storms.storm_topics(now, window, 10), 20),
        "escalation scan": median_ms(lambda: alerts.unclaimed_past_sla(now, sla), 10),
        "reminder scan": median_ms(lambda: alerts.claimed_past_reminder(now, reminders), 10),
        "digest": median_ms(lambda: reports.digest_data(now - timedelta(days=1), now), 5),
        "stats --since 7d": median_ms(
            lambda: (
                reports.stats(now - timedelta(days=7)),
                reports.response_times(now - timedelta(days=7)),
            ),
            3,
        ),
        "poll of 100 new posts": median_ms(lambda: poll_pipeline.poll(fresh), 10),
    }
    row = {name: f"{ms:,.1f}" for name, ms in figures.items()}
    oldest = END - timedelta(days=max(2, -(-filled.posts // per_day)))
    run = purge_with_polls(storage, oldest + timedelta(days=1), 60_000_000)
    outcome = f"FAILED: {run.error}" if run.error else f"{run.purged:,} posts"
    row["purge of one day"] = (
        f"{run.seconds * 1000:,.0f} ({outcome}; {run.failed}/{run.polls} polls "
        f"failed, slowest {run.slowest_poll_ms:,.0f})"
    )
    return row


# -- databases ---------------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{tmp}/history.db")
        database.upgrade()
        try:
            yield database
        finally:
            database.close()


@contextmanager
def postgres_database(url: str) -> Iterator[Database]:
    with scratch_schema(url, "bench_history") as schema:
        database = Database(schema)
        try:
            database.upgrade()
            yield database
        finally:
            database.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--per-day", type=int, default=5_500)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    columns: dict[str, dict[str, str]] = {}
    for backend in backends:
        opened = sqlite_database() if backend == "sqlite" else postgres_database(args.postgres_url)
        with opened as database:
            storage = Storage(database, "C1")
            filled = fill(storage, args.posts, args.per_day)
            print(
                f"{backend}: {filled.posts:,} posts ({filled.bulk_posts:,} bulk-inserted as "
                f"store_poll writes them, {filled.pipeline_posts:,} through Pipeline.poll), "
                f"{filled.alerts:,} alerts (bulk days: {filled.states}), "
                f"{filled.events:,} alert events, {filled.labels:,} labels; "
                f"filled in {filled.seconds:,.0f} s",
                flush=True,
            )
            columns[backend] = measure(storage, filled, args.per_day)
    names = list(next(iter(columns.values())))
    width = max(len(n) for n in names) + 2
    print()
    print(f"{'ms, median':<{width}}" + "".join(f"{b:>60}" for b in columns))
    for name in names:
        print(f"{name:<{width}}" + "".join(f"{columns[b][name]:>60}" for b in columns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
