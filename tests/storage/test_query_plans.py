"""Every query that runs on a timer finds its rows through an index, on SQLite and PostgreSQL.

Against months of history these queries ran every few seconds over every post, alert, click or
label ever stored (issue 16: the claim query 39 ms, the purge of one day 162 s with every poll
failing). Here each recurring operation is called through the real store method on a seeded
history; every statement it sends is captured as the database received it (a
`before_cursor_execute` listener) and explained (SQLite `EXPLAIN QUERY PLAN`; PostgreSQL
`EXPLAIN` after ANALYZE, with sequential scans priced out so that any plan still reading a
whole table has no other way). A full scan of posts, alerts, alert_events or feedback fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import String, cast, event, func, insert, literal, select, update

from monitor.models import AlertState, DeliveryStatus, Label, Severity
from monitor.storage import Database, NewPost, Storage
from monitor.storage.tables import AlertEventRow, AlertRow, FeedbackRow, PostRow
from tests.storage.factories import LEASE, NOW, numbered, post, verdict

WATCHED = ("posts", "alerts", "alert_events", "feedback")
"""The tables that grow with history."""
DAYS = 60
POSTS_PER_DAY = 40
SLA = {Severity.HIGH: timedelta(minutes=15), Severity.MEDIUM: timedelta(hours=1)}
REMINDERS = {Severity.HIGH: timedelta(hours=1), Severity.MEDIUM: timedelta(hours=4)}

Statement = tuple[str, Any]


def seed_history(storage: Storage) -> None:
    """`DAYS` days of polls (3 posts in 10 complaints, on four topics), then the team's work:
    alerts sent, most resolved, some claimed and reminded, some left open and escalated, every
    click an event and every resolution a label. The last hour's alerts are left open; the
    newest is still due."""
    severities = (Severity.HIGH, Severity.MEDIUM, Severity.LOW)
    topics = ("refund", "billing", "outage", "delivery")
    for day in range(DAYS):
        fetched = NOW - timedelta(days=DAYS - day) + timedelta(hours=day % 24)
        polled: list[NewPost] = []
        for i in range(POSTS_PER_DAY):
            n = day * POSTS_PER_DAY + i
            if n % 10 in (1, 4, 7):
                polled.append(numbered(n, severities[n % 3], topic=topics[n % 4]))
            else:
                polled.append(
                    NewPost(post(f"p{n}"), verdict(label=Label.NOT_COMPLAINT), False, None)
                )
        storage.posts.store_poll(source="s", platform="x", new_posts=polled, cursor={}, now=fetched)
    storage.posts.store_poll(
        source="s", platform="x", new_posts=[numbered(10**6)], cursor={}, now=NOW
    )
    sent_before = NOW - timedelta(minutes=1)
    share = AlertRow.id % 100
    with storage.database.session() as session:
        session.execute(
            update(AlertRow)
            .where(AlertRow.created_at < sent_before)
            .values(
                status=DeliveryStatus.SENT.value,
                channel="C1",
                slack_ts=cast(AlertRow.id, String),
                sent_at=AlertRow.created_at,
            )
        )
        worked = AlertRow.created_at < NOW - timedelta(hours=1)
        session.execute(
            update(AlertRow)
            .where(worked, share < 85)
            .values(
                state=AlertState.RESOLVED.value,
                claimed_by="U1",
                claimed_at=AlertRow.created_at,
                resolved_by="U1",
                resolved_at=AlertRow.created_at,
            )
        )
        session.execute(
            update(AlertRow)
            .where(worked, share >= 85, share < 93)
            .values(
                state=AlertState.CLAIMED.value,
                claimed_by="U2",
                claimed_at=AlertRow.created_at,
                reminded_at=AlertRow.created_at,
            )
        )
        session.execute(
            update(AlertRow).where(worked, share >= 93).values(escalated_at=AlertRow.created_at)
        )
        for action, column in (
            ("claim", AlertRow.claimed_at),
            ("resolve", AlertRow.resolved_at),
            ("escalate", AlertRow.escalated_at),
            ("remind", AlertRow.reminded_at),
        ):
            session.execute(
                insert(AlertEventRow).from_select(
                    ["alert_id", "action", "user_id", "created_at"],
                    select(AlertRow.id, literal(action), AlertRow.claimed_by, column).where(
                        column.is_not(None)
                    ),
                )
            )
        session.execute(
            insert(FeedbackRow).from_select(
                ["post_id", "text", "label", "origin", "author", "created_at"],
                select(
                    PostRow.id,
                    PostRow.text,
                    literal(1),
                    literal("slack"),
                    AlertRow.resolved_by,
                    AlertRow.resolved_at,
                )
                .join(AlertRow, AlertRow.post_id == PostRow.id)
                .where(AlertRow.resolved_at.is_not(None)),
            )
        )
        count = session.scalar(select(func.count()).select_from(AlertEventRow))
        assert count and count > 500, "the history is seeded"


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    database = Database(database_url)
    database.upgrade()
    storage = Storage(database, "C1")
    seed_history(storage)
    if not database.is_sqlite:  # what autovacuum does after a load; the daemon never
        with database.engine.begin() as connection:  # runs ANALYZE on SQLite, nor do we
            connection.exec_driver_sql("ANALYZE")
    yield storage
    database.close()


def captured(database: Database, operation: Callable[[], object]) -> list[Statement]:
    """The statements `operation` sends, with their parameters, as the database gets them."""
    statements: list[Statement] = []

    def record(
        _conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if not many and re.match(r"\s*(SELECT|UPDATE|DELETE|INSERT)", sql, re.IGNORECASE):
            statements.append((sql, parameters))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        operation()
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert statements, "the operation ran no query"
    return statements


def full_scans(database: Database, statements: list[Statement]) -> list[str]:
    """Each full scan of a `WATCHED` table, with the statement that made it."""
    found: list[str] = []
    with database.engine.connect() as connection:
        if not database.is_sqlite:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            leading: dict[str, str] = {
                index: column for index, column in connection.exec_driver_sql(LEADING_COLUMNS)
            }
        for sql, parameters in statements:
            if database.is_sqlite:
                rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
                scans = [
                    detail
                    for *_ids, detail in rows
                    if re.match(rf"SCAN ({'|'.join(WATCHED)})\b", detail)
                ]
            else:
                (plan,) = connection.exec_driver_sql(
                    f"EXPLAIN (FORMAT JSON) {sql}", parameters
                ).scalar_one()
                scans = list(_postgres_full_scans(plan["Plan"], leading))
            found += [f"{scan}\n    in: {_short(sql)}" for scan in scans]
        connection.rollback()
    return found


LEADING_COLUMNS = """
    SELECT index.relname, column_.attname
    FROM pg_index JOIN pg_class index ON index.oid = pg_index.indexrelid
    JOIN pg_attribute column_
      ON column_.attrelid = pg_index.indrelid AND column_.attnum = pg_index.indkey[0]
    WHERE index.relnamespace = current_schema()::regnamespace
"""
"""Each index's first column (expression indexes have none)."""


def _postgres_full_scans(node: dict[str, Any], leading: dict[str, str]) -> Iterator[str]:
    """A sequential scan of a watched table, or one of its indexes read whole: no condition on
    the index's first column (a condition on a later one reads every entry), or only
    ``IS NOT NULL`` (every row the column was ever set on)."""
    table = node.get("Relation Name")
    kind = node["Node Type"]
    if table in WATCHED and kind.endswith("Scan"):  # not ModifyTable: it writes what they find
        scans = list(_bitmap_index_scans(node)) if kind == "Bitmap Heap Scan" else [node]
        if kind == "Seq Scan" or any(_whole(scan, leading) for scan in scans):
            conditions = " ".join(scan.get("Index Cond", "") for scan in scans)
            yield f"{kind} on {table} ({conditions})"
    for child in node.get("Plans", []):
        yield from _postgres_full_scans(child, leading)


def _bitmap_index_scans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for child in node.get("Plans", []):
        if child["Node Type"] == "Bitmap Index Scan":
            yield child
        yield from _bitmap_index_scans(child)


def _whole(scan: dict[str, Any], leading: dict[str, str]) -> bool:
    condition = scan.get("Index Cond", "")
    first = leading.get(scan.get("Index Name", ""))
    return (
        not condition
        or re.fullmatch(r"\(\w+ IS NOT NULL\)", condition) is not None
        or (first is not None and not re.search(rf"\b{first}\b", condition))
    )


def _short(sql: str) -> str:
    return " ".join(sql.split())[:300]


def recurring(storage: Storage) -> dict[str, Callable[[], object]]:
    """What the daemon runs on a timer, called as the daemon calls it."""
    outbox, storms, alerts, reports = (
        storage.outbox,
        storage.storms,
        storage.alerts,
        storage.reports,
    )
    window = timedelta(minutes=10)
    day = NOW - timedelta(days=1)

    def storm_round() -> None:
        storms.storm_topics(NOW, window, 0)
        storm = storms.current_storm(None, "outage", NOW, window)
        storms.storm_count(storm, window)
        storms.claim_storm_members(storm, window, NOW, LEASE, limit=50)

    return {
        "claim (nothing due)": lambda: outbox.claim_due(NOW - timedelta(days=DAYS * 2), LEASE),
        "claim": lambda: outbox.claim_due(NOW, LEASE),
        "outbox waiting (metrics)": outbox.waiting,
        "storm detection": storm_round,
        "escalation scan": lambda: alerts.unclaimed_past_sla(NOW, SLA),
        "reminder scan": lambda: alerts.claimed_past_reminder(NOW, REMINDERS),
        "digest": lambda: reports.digest_data(day, NOW),
        "stats --since 7d": lambda: reports.stats(NOW - timedelta(days=7)),
        "response times --since 7d": lambda: reports.response_times(NOW - timedelta(days=7)),
        "retention, one day": lambda: storage.retention.purge(
            NOW - timedelta(days=DAYS - 1),
            batch_size=10,
            max_seconds=0,  # and what is left
        ),
    }


OPERATIONS = [
    "claim (nothing due)",
    "claim",
    "outbox waiting (metrics)",
    "storm detection",
    "escalation scan",
    "reminder scan",
    "digest",
    "stats --since 7d",
    "response times --since 7d",
    "retention, one day",
]


def test_no_recurring_query_reads_the_whole_history(storage: Storage) -> None:
    operations = recurring(storage)
    assert sorted(operations) == sorted(OPERATIONS)
    problems = {
        name: scans
        for name in OPERATIONS
        if (scans := full_scans(storage.database, captured(storage.database, operations[name])))
    }
    assert not problems, "full scans:\n" + json.dumps(problems, indent=1)


def test_training_reads_the_labels_once_and_each_alert_by_its_index(storage: Storage) -> None:
    """Issue 17, item 3: `train` tells a "Resolved" click from a reported miss by the label's
    alert. The feedback table is the training set and is read whole (retention bounds it); the
    alerts of its labels are found by their index, never by reading every alert or post."""
    statements = captured(storage.database, storage.feedback.examples)
    assert len(statements) == 1, "one query"
    scans = full_scans(storage.database, statements)
    assert all(re.match(r"(SCAN|Seq Scan on|Index Scan on) feedback\b", s) for s in scans), scans
    assert storage.feedback.examples().by_kind["resolved"] > 500


@pytest.mark.parametrize(
    ("operation", "index", "seek"),
    [
        ("escalation scan", "ix_alerts_escalation_due", "state=? AND escalated_at=?"),
        ("reminder scan", "ix_alerts_reminder_due", "state=? AND reminded_at=?"),
    ],
)
def test_escalation_and_reminder_candidates_are_found_without_reading_other_alerts(
    storage: Storage, operation: str, index: str, seek: str
) -> None:
    """At 1M posts PostgreSQL answered the escalation scan from an index on the state alone and
    read all 30,000 open alerts for the 60 never escalated (migration 0014): there the
    candidates' query must take the partial index that holds exactly them. SQLite seeks 0006's
    index on the state and the never-set column (or takes the partial index)."""
    database = storage.database
    first, *_rest = captured(database, recurring(storage)[operation])
    sql, parameters = first
    with database.engine.connect() as connection:
        if database.is_sqlite:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
            plan = "\n".join(str(detail) for *_ids, detail in rows)
        else:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = connection.exec_driver_sql(f"EXPLAIN {sql}", parameters)
            plan = "\n".join(str(line) for (line,) in rows)
        connection.rollback()
    if database.is_sqlite:
        assert index in plan or seek in plan, plan
    else:
        assert index in plan, plan
