"""The history view's search time on N stored posts, on SQLite and PostgreSQL (goal: < 300 ms).

Fills a fresh database (migrated to head: the history indexes of migrations 0007 and 0008) with N
posts over 180 days by bulk inserts: three platforms, five sources, 200,000 authors of whom 20,000
post most, 15% complaints with alerts the team worked through, 30% of posts naming an order
number (one number is the rare term searched for). Then times each typical search the history
view runs, page 1 and a page further on (keyset), and the other pages' reads, as the median of 5
warm runs, with `HistoryStore` (the code the web pages call). `--without-indexes` drops the
history indexes first, to show what they buy; `--without-text-index` drops only migration 0008's
text index (`pg_trgm` GIN on PostgreSQL, the FTS5 trigram table and its triggers on SQLite), to
show the word searches before it: fill with `--keep DIR`, measure, then measure again with it.

    .venv/bin/python bench/history_search.py [--posts 1000000] [--database sqlite|postgresql|both]
        [--without-indexes | --without-text-index] [--keep DIR]

PostgreSQL: the test suite's server (127.0.0.1:5432, database test), in a schema of its own,
dropped afterwards (`--postgres-url` to change). SQLite: a file in a temporary directory, or in
`--keep DIR`, where a file already filled with the same N is reused (filling takes minutes);
with `--keep`, the PostgreSQL schema `bench_search_N` is kept and reused the same way.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _scratch import drop_schema, schema_exists, scratch_schema
from sqlalchemy import func, insert, select, text

from monitor.storage.database import Database
from monitor.storage.history import HistoryStore, Search
from monitor.storage.tables import (
    AlertEventRow,
    AlertRow,
    ClassificationRow,
    FeedbackRow,
    PostRow,
    SourceCursorRow,
)
from monitor.storage.text_index import TextIndex

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAYS = 180
HISTORY_INDEXES = (
    "ix_posts_created_at_id",
    "ix_posts_author_key",
    "ix_posts_platform_author",
    "ix_posts_source_fetched_at",
)
TEXT_INDEX = "ix_posts_text_trgm"
SOURCES = (
    ("x", "x-brand", 0.40),
    ("x", "x-handles", 0.20),
    ("reddit", "reddit-acme", 0.25),
    ("mastodon", "mastodon-social", 0.10),
    ("mastodon", "mastodon-fosstodon", 0.05),
)
COMPLAINTS = (
    "@acme still waiting on my refund for order {order}, three weeks now",
    "@acme you charged me twice and nobody answers",
    "acme app crashed again during checkout, lost my cart",
    "@acmehelp where is my package {order}? tracking hasn't moved in 6 days",
    "worst experience with acme ever, cancelled and no refund",
)
OTHERS = (
    "Loving the new acme app update, checkout is so fast now",
    "does acme ship to canada? asking for order {order}",
    "Thanks @acmehelp, sorted out in five minutes. Great service!",
    "acme summer sale starts today, picked up {n} things",
    "just watched a video about acme's new warehouse robots",
    "anyone know if acme is hiring in Austin?",
    "acme's keynote was interesting, new speakers look nice",
    "my cat sat on the acme box all day lol",
)
RARE_ORDER = "7340021"
BATCH = 20_000


def order_number(n: int) -> str:
    return str(1_000_000 + (n * 7919) % 9_000_000)


def author_of(n: int, rng: random.Random) -> int:
    return rng.randrange(20_000) if rng.random() < 0.7 else rng.randrange(20_000, 200_000)


def fill(database: Database, count: int, seed: int = 7) -> None:
    """`count` posts (ids 1..count, oldest first), their verdicts, alerts, clicks and labels."""
    rng = random.Random(seed)
    start = NOW - timedelta(days=DAYS)
    step = DAYS * 86_400 / count
    weights = [share for _, _, share in SOURCES]
    rare_at = count // 3
    event_id = feedback_id = alert_id = 0
    began = time.perf_counter()
    with database.engine.begin() as connection:
        connection.execute(
            insert(SourceCursorRow),
            [{"source": s, "platform": p, "cursor": {}, "updated_at": NOW} for p, s, _ in SOURCES],
        )
    for first in range(1, count + 1, BATCH):
        posts, verdicts, alerts, events, feedback = [], [], [], [], []
        for n in range(first, min(first + BATCH, count + 1)):
            platform, source, _ = rng.choices(SOURCES, weights)[0]
            created = start + timedelta(seconds=n * step + rng.uniform(-30, 30))
            author = author_of(n, rng)
            complaint = rng.random() < 0.15
            template = rng.choice(COMPLAINTS if complaint else OTHERS)
            order = RARE_ORDER if n == rare_at else order_number(n)
            body = template.format(order=order, n=n % 50)
            if n == rare_at or (rng.random() < 0.3 and "{order}" not in template):
                body += f" (order {order})"
            posts.append(
                {
                    "id": n,
                    "platform": platform,
                    "external_id": str(n),
                    "source": source,
                    "author_id": str(author),
                    "author_handle": f"User{author}" if author % 3 == 0 else f"user{author}",
                    "author_key": f"user{author}",
                    "author_name": f"User {author}",
                    "author_followers": rng.randrange(10_000),
                    "author_verified": False,
                    "url": f"https://example.com/{platform}/{n}",
                    "contact_url": None,
                    "text": f"{body} #{n}",
                    "language": "en",
                    "extra": {},
                    "created_at": created,
                    "fetched_at": created + timedelta(seconds=30),
                }
            )
            severity = (
                rng.choices(("low", "medium", "high"), (0.5, 0.35, 0.15))[0] if complaint else "low"
            )
            verdicts.append(
                {
                    "post_id": n,
                    "label": "complaint" if complaint else "not_complaint",
                    "score": 0.8 if complaint else 0.1,
                    "severity": severity,
                    "reasons": [{"cue": "refund", "weight": 0.4, "detail": "refund"}],
                    "sentiment": {"compound": -0.4},
                    "vip": False,
                    "classifier_version": "rules-1",
                    "created_at": created,
                }
            )
            if not complaint:
                continue
            alert_id += 1
            state = rng.choices(
                ("open", "claimed", "resolved", "not_complaint"), (0.2, 0.1, 0.5, 0.2)
            )[0]
            sent = created + timedelta(seconds=45)
            taken = sent + timedelta(minutes=rng.randrange(1, 120))
            alerts.append(
                {
                    "id": alert_id,
                    "post_id": n,
                    "status": "sent",
                    "priority": 10,
                    "channel": "C1",
                    "slack_ts": f"{int(sent.timestamp())}.{n % 1_000_000:06d}",
                    "attempts": 1,
                    "outcome_unknown": False,
                    "created_at": created,
                    "next_attempt_at": created,
                    "sent_at": sent,
                    "state": state,
                    "claimed_by": "U1" if state != "open" else None,
                    "claimed_at": taken if state != "open" else None,
                    "resolved_by": "U1" if state in ("resolved", "not_complaint") else None,
                    "resolved_at": taken if state in ("resolved", "not_complaint") else None,
                }
            )
            if state == "open":
                continue
            event_id += 1
            events.append(
                {
                    "id": event_id,
                    "alert_id": alert_id,
                    "action": "claim" if state == "claimed" else "resolve",
                    "user_id": "U1",
                    "user_name": "alice",
                    "created_at": taken,
                }
            )
            if state in ("resolved", "not_complaint"):
                feedback_id += 1
                feedback.append(
                    {
                        "id": feedback_id,
                        "post_id": n,
                        "text": body,
                        "label": 1 if state == "resolved" else 0,
                        "origin": "slack",
                        "author": "U1",
                        "created_at": taken,
                    }
                )
        with database.engine.begin() as connection:
            for table, rows in (
                (PostRow, posts),
                (ClassificationRow, verdicts),
                (AlertRow, alerts),
                (AlertEventRow, events),
                (FeedbackRow, feedback),
            ):
                if rows:
                    connection.execute(insert(table), rows)
        done = min(first + BATCH - 1, count)
        if done % 200_000 < BATCH:
            print(f"  filled {done:,} posts ({time.perf_counter() - began:.0f} s)", flush=True)
    with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            for name in ("posts", "classifications", "alerts", "alert_events", "feedback"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
            connection.execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))


def drop_history_indexes(database: Database) -> None:
    drop_text_index(database)
    with database.engine.begin() as connection:
        for name in HISTORY_INDEXES:
            connection.execute(text(f"DROP INDEX IF EXISTS {name}"))


def drop_text_index(database: Database) -> None:
    """Migration 0008's text index: SQLite's FTS5 table and triggers, or PostgreSQL's pg_trgm
    index (with 0013's copy of the text, its trigger and the watermark)."""
    with database.engine.begin() as connection:
        connection.execute(text(f"DROP INDEX IF EXISTS {TEXT_INDEX}"))
        if connection.dialect.name == "sqlite":
            for trigger in ("posts_text_insert", "posts_text_update", "posts_text_delete"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
        else:
            connection.execute(text("DROP TRIGGER IF EXISTS posts_text_follow ON posts"))
            connection.execute(text("DROP FUNCTION IF EXISTS posts_text_follow()"))
        connection.execute(text("DROP TABLE IF EXISTS posts_text"))
        connection.execute(text("DROP TABLE IF EXISTS text_index_state"))


def timed(run: Callable[[], object], repeat: int = 5) -> float:
    """Median milliseconds of `repeat` warm runs (one unmeasured run first)."""
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def deep_page(store: HistoryStore, search: Search, pages: int) -> Callable[[], object]:
    """Time only the last of `pages` pages: the keys are walked once, outside the timing."""
    page = store.search(search)
    for _ in range(pages - 1):
        if page.next_key is None:
            break
        page = store.search(search, page.next_key)
    key = page.next_key
    return lambda: store.search(search, key)


def measure(database: Database, label: str) -> list[tuple[str, str, float, int]]:
    store = HistoryStore(database)
    day = timedelta(days=1)
    with database.engine.connect() as connection:
        regular = connection.execute(
            select(PostRow.author_handle, func.count())
            .where(PostRow.author_id == "1234")
            .group_by(PostRow.author_handle)
        ).first()
    handle = f"@{regular[0]}" if regular else "@User1234"
    searches: list[tuple[str, Search]] = [
        ("text, common word (refund)", Search(text="refund")),
        (f"text, one post ({RARE_ORDER})", Search(text=RARE_ORDER)),
        ("text, no match (zzyzx)", Search(text="zzyzx")),
        ("text, two words (charged twice)", Search(text="charged twice")),
        (f"author ({handle.upper()})", Search(author=handle.upper())),
        (
            "last 7 days + platform reddit",
            Search(platform="reddit", since=NOW - 7 * day, until=NOW),
        ),
        (
            "30 days 3 months ago + mastodon",
            Search(platform="mastodon", since=NOW - 120 * day, until=NOW - 90 * day),
        ),
        ("severity high", Search(severity="high")),
        ("severity high + alert open", Search(severity="high", alert_state="open")),
        (
            "complaint + refund + x + 30 days",
            Search(text="refund", label="complaint", platform="x", since=NOW - 30 * day),
        ),
        (
            "source + alert not_complaint",
            Search(source="mastodon-fosstodon", alert_state="not_complaint"),
        ),
        ("no alert, text 'canada'", Search(text="canada", alert_state="none")),
    ]
    results: list[tuple[str, str, float, int]] = []
    for name, search in searches:
        found = len(store.search(search).rows)
        results.append((label, f"search: {name}", timed(partial(store.search, search)), found))
    for name, search in (
        ("severity high", Search(severity="high")),
        ("refund", Search(text="refund")),
    ):
        results.append((label, f"search page 20: {name}", timed(deep_page(store, search, 20)), 50))
    first_post = store.search(Search(author=handle)).rows
    if first_post:
        newest = first_post[0]
        results.append(
            (
                label,
                "author's earlier posts + 90-day complaints",
                timed(
                    lambda: store.author_history(
                        newest.platform,
                        newest.author_id,
                        newest.created_at,
                        since=newest.created_at - 90 * day,
                    )
                ),
                len(
                    store.author_history(
                        newest.platform, newest.author_id, newest.created_at
                    ).earlier
                ),
            )
        )
        results.append(
            (label, "one post with its alert", timed(lambda: store.post(newest.post_id)), 1)
        )
    results.append(
        (
            label,
            "daily counts, 30 days",
            timed(lambda: store.daily_counts(date(2026, 10, 25), date(2026, 11, 23))),
            30,
        )
    )
    results.append(
        (
            label,
            "feedback by week, 26 weeks",
            timed(lambda: store.feedback_weeks(NOW - 182 * day)),
            26,
        )
    )
    results.append((label, "sources and their health", timed(lambda: store.sources(NOW)), 5))
    exported = 0

    def export() -> None:
        nonlocal exported
        exported = sum(1 for _ in store.export(Search(severity="high")))

    results.append((label, "CSV rows: severity high (all)", timed(export, repeat=1), exported))
    return results


@contextmanager
def sqlite_database(count: int, keep: Path | None) -> Iterator[tuple[Database, bool]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = (keep or Path(tmp)) / f"history-{count}.db"
        reuse = path.exists()
        database = Database(f"sqlite:///{path}")
        try:
            yield database, reuse
        finally:
            database.close()


@contextmanager
def postgres_database(url: str, count: int, keep: bool) -> Iterator[tuple[Database, bool]]:
    name = f"bench_search_{count}" if keep else None
    reuse = name is not None and schema_exists(url, name)
    with scratch_schema(url, "bench_search", name=name, keep=keep) as schema:
        database = Database(schema)
        try:
            yield database, reuse
        finally:
            database.close()


def run(kind: str, args: argparse.Namespace) -> list[tuple[str, str, float, int]]:
    opened = (
        sqlite_database(args.posts, args.keep)
        if kind == "sqlite"
        else postgres_database(args.postgres_url, args.posts, args.keep is not None)
    )
    with opened as (database, reuse):
        database.upgrade()
        if not reuse:
            started = time.perf_counter()
            print(f"{kind}: filling {args.posts:,} posts", flush=True)
            fill(database, args.posts)
            print(f"{kind}: filled in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()  # as the daemon's job keeps it, every few seconds
        caught_up = TextIndex(database).catch_up(max_seconds=float("inf"))
        print(
            f"{kind}: text index caught up with {caught_up.indexed:,} posts in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        if args.without_indexes:
            drop_history_indexes(database)
        elif args.without_text_index:
            drop_text_index(database)
        label = kind + (
            " (no history indexes)"
            if args.without_indexes
            else " (no text index)"
            if args.without_text_index
            else ""
        )
        results = measure(database, label)
        if (args.without_indexes or args.without_text_index) and args.keep:  # not as filled
            drop_kept(kind, args)
        return results


def drop_kept(kind: str, args: argparse.Namespace) -> None:
    if kind == "sqlite":
        (args.keep / f"history-{args.posts}.db").unlink(missing_ok=True)
        return
    drop_schema(args.postgres_url, f"bench_search_{args.posts}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--without-indexes", action="store_true")
    parser.add_argument(
        "--without-text-index",
        action="store_true",
        help="drop migration 0008's text index (pg_trgm / FTS5) only: the search before it",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep (and reuse) the SQLite file in DIR and the PostgreSQL schema bench_search_N",
    )
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    results: list[tuple[str, str, float, int]] = []
    for kind in kinds:
        results += run(kind, args)
    print(f"\n{args.posts:,} posts; median of 5 warm runs (CSV: one run)\n")
    print(f"{'database':<34} {'operation':<48} {'ms':>9} {'rows':>7}")
    for database, operation, ms, rows in results:
        print(f"{database:<34} {operation:<48} {ms:>9.1f} {rows:>7}")


if __name__ == "__main__":
    main()
