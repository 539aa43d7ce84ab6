"""The history view's reads on SQLite and PostgreSQL: search filters, keyset paging, one post's
alert history, an author's earlier complaints, daily counts, the team's verdicts, sources; the
text index the word search uses (migration 0008) and the scan it falls back to."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text as sql_text

from monitor.models import Author, Label, Person, Severity
from monitor.storage import Database, NewPost, Storage
from monitor.storage.history import (
    NO_ALERT,
    HistoryStore,
    PageKey,
    Search,
)
from monitor.storage.source_status import SourceStatus, SourceStatusStore
from tests.conftest import POSTGRES_ADMIN_URL
from tests.factories import make_post, make_verdict
from tests.storage.factories import LEASE, NOW

ALICE = Person("U0ALICE01", "alice")


def item(
    n: int,
    *,
    text: str | None = None,
    handle: str = "dana",
    author_id: str | None = None,
    age: timedelta = timedelta(minutes=0),
    label: Label = Label.COMPLAINT,
    severity: Severity = Severity.MEDIUM,
    platform: str = "x",
) -> NewPost:
    """Post `n`, written `age` before NOW - n minutes (so higher n is older), alerted when it
    is a complaint."""
    post = make_post(
        platform=platform,
        external_id=str(n),
        author=Author(id=author_id or handle.lower(), handle=handle),
        text=text or f"acme refund {n}",
        url=f"https://example.com/{n}",
        created_at=NOW - age - timedelta(minutes=n),
    )
    verdict = make_verdict(label=label, severity=severity)
    complaint = label is not Label.NOT_COMPLAINT
    return NewPost(post, verdict, vip=False, alert_priority=10 if complaint else None)


def store(storage: Storage, *items: NewPost, source: str = "x-brand", now: datetime = NOW) -> None:
    platform = items[0].post.platform if items else "x"
    storage.posts.store_poll(
        source=source, platform=platform, new_posts=list(items), cursor={}, now=now
    )


def send_all(storage: Storage) -> None:
    for n, due in enumerate(storage.outbox.claim_due(NOW, LEASE, limit=500)):
        storage.outbox.record_sent(due.alert_id, channel="C1", ts=f"1.{n:06d}", now=NOW)


def ids(history: HistoryStore, search: Search) -> list[str]:
    return [row.external_id for row in history.search(search).rows]


@pytest.fixture
def history(storage: Storage) -> HistoryStore:
    return HistoryStore(storage.database)


def test_each_filter_narrows_the_search(storage: Storage, history: HistoryStore) -> None:
    store(
        storage,
        item(1, text="@acme my refund never came", handle="Dana"),
        item(2, text="acme refund please", handle="sam", severity=Severity.HIGH),
        item(3, text="love acme", handle="sam", label=Label.NOT_COMPLAINT),
        item(4, text="acme refund, old", handle="dana", age=timedelta(days=10)),
    )
    store(
        storage,
        item(5, text="acme on reddit", handle="rita", platform="reddit"),
        source="reddit-acme",
    )
    send_all(storage)
    storage.alerts.apply(2, "claim", ALICE, NOW)
    assert ids(history, Search()) == ["1", "2", "3", "5", "4"]
    assert ids(history, Search(text="REFUND")) == ["1", "2", "4"]
    assert ids(history, Search(text="refund never")) == ["1"]  # every word must appear
    assert ids(history, Search(author="@DANA")) == ["1", "4"]  # as brand.handle_key compares
    assert ids(history, Search(platform="reddit")) == ["5"]
    assert ids(history, Search(source="x-brand", label="not_complaint")) == ["3"]
    assert ids(history, Search(severity="high")) == ["2"]
    assert ids(history, Search(alert_state="claimed")) == ["2"]
    assert ids(history, Search(alert_state=NO_ALERT)) == ["3"]
    assert ids(history, Search(since=NOW - timedelta(days=1), until=NOW)) == ["1", "2", "3", "5"]
    assert ids(history, Search(until=NOW - timedelta(days=1))) == ["4"]
    first = history.search(Search(alert_state="claimed")).rows[0]
    assert (first.label, first.severity, first.alert_state, first.alert_status) == (
        "complaint",
        "high",
        "claimed",
        "sent",
    )


def test_like_wildcards_in_a_search_are_matched_literally(
    storage: Storage, history: HistoryStore
) -> None:
    store(
        storage,
        item(1, text="acme 50% off"),
        item(2, text="acme 500 off"),
        item(3, text="acme a_b"),
        item(4, text="acme axb"),
        item(5, text="acme back\\slash"),
        item(6, text="acme backslash"),
    )
    assert ids(history, Search(text="50%")) == ["1"]
    assert ids(history, Search(text="a_b")) == ["3"]
    assert ids(history, Search(text="back\\slash")) == ["5"]
    assert ids(history, Search(text="%")) == ["1"]


def test_keyset_pages_neither_skip_nor_repeat(storage: Storage, history: HistoryStore) -> None:
    """Three posts share a creation time (ties are broken by id), and a post stored between two
    pages does not shift the next one."""
    tied = [item(n, age=timedelta(minutes=-n)) for n in (10, 11, 12)]  # all at NOW
    store(storage, *tied, *(item(n) for n in range(1, 5)))
    seen: list[str] = []
    page = history.search(Search(), limit=3)
    seen += [row.external_id for row in page.rows]
    store(storage, item(99, age=timedelta(minutes=-200)))  # newer than everything
    while page.next_key is not None:
        key = PageKey.decode(page.next_key.encode())  # through a URL, as the page does
        page = history.search(Search(), key, limit=3)
        seen += [row.external_id for row in page.rows]
    assert seen == ["12", "11", "10", "1", "2", "3", "4"]
    assert PageKey.decode("not a key") is None


def test_one_post_with_its_alert_history_and_slack_link(
    storage: Storage, history: HistoryStore
) -> None:
    store(storage, item(1))
    send_all(storage)
    storage.alerts.apply(1, "claim", ALICE, NOW + timedelta(minutes=3))
    storage.alerts.apply(1, "resolve", Person("U0BOB0001", None), NOW + timedelta(minutes=9))
    post_id = history.search(Search()).rows[0].post_id
    detail = history.post(post_id)
    assert detail is not None and detail.verdict is not None and detail.alert is not None
    assert detail.post.text == "acme refund 1" and detail.source == "x-brand"
    assert [r.cue for r in detail.verdict.reasons] == [
        "refund_request",
        "waiting_time",
        "brand_mention",
    ]
    alert = detail.alert
    assert (alert.state, alert.claimed_by, alert.resolved_by) == (
        "resolved",
        ALICE,
        Person("U0BOB0001", None),
    )
    assert [(e.action, e.person, e.at) for e in alert.events] == [
        ("claim", ALICE, NOW + timedelta(minutes=3)),
        ("resolve", Person("U0BOB0001", None), NOW + timedelta(minutes=9)),
    ]
    assert alert.slack_link == "https://slack.com/app_redirect?channel=C1&message_ts=1.000000"
    assert history.post(post_id + 1000) is None


def test_an_authors_earlier_complaints_in_a_window(storage: Storage, history: HistoryStore) -> None:
    """What the Slack line "N earlier complaints from this author in 90 days" counts: complaints
    by the same author id, before the post, inside the window, not marked "Not a complaint"."""
    day = timedelta(days=1)
    store(
        storage,
        item(1, handle="dana"),  # the post the question is about
        item(2, handle="dana", age=10 * day),
        item(3, handle="Dana_New_Name", author_id="dana", age=20 * day),  # renamed, same id
        item(4, handle="dana", age=30 * day),  # marked "Not a complaint" below
        item(5, handle="dana", age=40 * day, label=Label.NOT_COMPLAINT),
        item(6, handle="dana", age=100 * day),  # outside the window
        item(7, handle="sam", age=5 * day),  # someone else
    )
    send_all(storage)
    rows = {row.external_id: row for row in history.search(Search(), limit=50).rows}
    storage.alerts.apply(4, "not_complaint", ALICE, NOW)  # alert ids follow insertion order
    now = rows["1"]
    found = history.author_history(
        "x", "dana", now.created_at, since=now.created_at - 90 * day, limit=3
    )
    assert found.complaints == 2
    assert [row.external_id for row in found.earlier] == ["2", "3", "4"]
    everything = history.author_history("x", "dana", now.created_at)
    assert everything.complaints == 3 and len(everything.earlier) == 5
    assert history.author_history("reddit", "dana", now.created_at).complaints == 0


def test_an_unknown_author_has_no_history(storage: Storage, history: HistoryStore) -> None:
    """Deleted and unnamed authors share a placeholder: they are not one person."""
    store(storage, *(item(n, handle="[deleted]", author_id="unknown") for n in (1, 2, 3)))
    found = history.author_history("x", "unknown", NOW)
    assert found.earlier == [] and found.complaints == 0


def test_daily_counts_by_platform_and_severity_include_purged_days(
    storage: Storage, history: HistoryStore
) -> None:
    old = NOW - timedelta(days=3)
    store(storage, item(1), item(2, label=Label.NOT_COMPLAINT), now=old)
    send_all(storage)
    assert storage.retention.purge(NOW - timedelta(days=2)).purged == 2  # kept as counts only
    store(storage, item(3, severity=Severity.HIGH), item(4, severity=Severity.HIGH))
    store(storage, item(5, platform="reddit", label=Label.NOT_COMPLAINT), source="reddit-acme")
    counts = history.daily_counts(NOW.date() - timedelta(days=4), NOW.date())
    assert counts.days[0] == date(2026, 11, 19) and len(counts.days) == 5
    assert counts.by_platform == {"reddit": [0, 0, 0, 0, 1], "x": [0, 2, 0, 0, 2]}
    assert counts.by_severity["high"] == [0, 0, 0, 0, 2]
    assert counts.by_severity["medium"] == [0, 0, 0, 0, 0]  # purged: no severity kept


def test_the_teams_verdicts_by_week(storage: Storage, history: HistoryStore) -> None:
    store(storage, item(1), item(2), item(3), item(4, label=Label.NOT_COMPLAINT))
    send_all(storage)
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # NOW's week starts that Monday
    storage.alerts.apply(1, "resolve", ALICE, monday)
    storage.alerts.apply(2, "resolve", ALICE, monday + timedelta(days=1))
    storage.alerts.apply(3, "not_complaint", ALICE, monday - timedelta(days=3))
    storage.alerts.report_missed("https://example.com/4", ALICE, monday)  # stored, no alert
    storage.alerts.report_missed("https://example.com/never-stored", ALICE, monday)
    weeks = history.feedback_weeks(NOW - timedelta(weeks=4))
    assert [(w.week, w.confirmed, w.false_alarms, w.misses) for w in weeks] == [
        (date(2026, 11, 16), 0, 1, 0),
        (date(2026, 11, 23), 2, 0, 2),
    ]
    assert weeks[0].precision == 0.0 and weeks[1].precision == 1.0


def test_sources_with_and_without_a_recorded_state(storage: Storage, history: HistoryStore) -> None:
    store(storage, item(1), now=NOW - timedelta(hours=30))
    store(storage, item(2), item(3))
    store(storage, item(4, platform="reddit"), source="reddit-acme")
    SourceStatusStore(storage.database).record(
        SourceStatus(
            source="x-brand",
            platform="x",
            state="auth_refused",
            since=NOW - timedelta(hours=1),
            updated_by="replica-1",
            reason="401 from X: renew the bearer token",
        ),
        NOW,
    )
    found = {s.source: s for s in history.sources(NOW)}
    assert found.keys() == {"x-brand", "reddit-acme"}
    x = found["x-brand"]
    assert x.status is not None and x.status.state == "auth_refused"
    assert (x.posts_24h, x.last_stored_at) == (2, NOW)
    reddit = found["reddit-acme"]
    assert reddit.status is None and reddit.cursor_saved_at == NOW and reddit.posts_24h == 1


def test_an_export_streams_every_match_beyond_a_page(
    storage: Storage, history: HistoryStore
) -> None:
    store(storage, *(item(n) for n in range(1, 121)))
    store(storage, item(500, text="something else"))
    exported = list(history.export(Search(text="refund"), batch_size=50))
    assert len(exported) == 120
    assert [row.external_id for row in exported[:3]] == ["1", "2", "3"]


def test_choices_list_what_has_polled(storage: Storage, history: HistoryStore) -> None:
    store(storage, item(1))
    store(storage, item(2, platform="reddit"), source="reddit-acme")
    choices = history.choices()
    assert choices.platforms == ["reddit", "x"] and choices.sources == ["reddit-acme", "x-brand"]
    assert NO_ALERT in choices.alert_states


# -- the text index (migration 0008) ------------------------------------------------------------


def test_the_text_index_finds_what_a_scan_of_every_post_found(
    storage: Storage, history: HistoryStore
) -> None:
    """A rare word, a word with % or _, a term of one or two letters (too short for a trigram:
    LIKE alone), FTS5's own syntax (quotes, AND, -, *) and case: the same posts as LIKE / ILIKE
    over every post found before migration 0008."""
    texts = {
        1: "acme order 7340021 arrived late",
        2: "acme order 7340022",
        3: "acme 50% off everything",
        4: "acme 500 off",
        5: "acme a_b test",
        6: "acme axb test",
        7: "ACME Refund please",
        8: "acme ok",
        9: "acme CAFÉ crème",
        10: 'acme "quoted" AND -minus*',
    }
    store(storage, *(item(n, text=body) for n, body in texts.items()))
    expected = {
        "7340021": ["1"],
        "734002": ["1", "2"],
        "50%": ["3"],
        "%": ["3"],
        "a_b": ["5"],
        "_": ["5"],
        "ok": ["8"],
        "50": ["3", "4"],
        "o": ["1", "2", "3", "4", "8", "10"],
        "refund": ["7"],
        "REFUND acme": ["7"],
        "acme refund ok": [],
        '"quoted"': ["10"],
        "and": ["10"],
        "-minus*": ["10"],
        'minus* "quoted" ac': ["10"],
        "zzyzx": [],
        "CAFÉ": ["9"],
        "acme ac\x00me": [],  # a NUL (pasted into the form) is in no stored text
    }
    for words, found in expected.items():
        assert ids(history, Search(text=words)) == found, words
    # Beyond ASCII, case folds as the database's own LIKE / ILIKE did: the index finds "CAFÉ"
    # for "café" on SQLite too, and the LIKE check over its candidates drops it.
    sqlite = storage.database.is_sqlite
    assert ids(history, Search(text="café")) == ([] if sqlite else ["9"])


def test_the_migration_builds_the_text_index(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    """Where the role may (the test server's may), the index is there: the searches above did
    not pass by the scan alone, and no warning was logged."""
    sqlite = storage.database.is_sqlite
    with storage.database.session() as session:
        found = session.scalar(
            sql_text("SELECT name FROM sqlite_master WHERE name = 'posts_text'")
            if sqlite
            else sql_text(
                "SELECT indexname FROM pg_indexes "
                "WHERE schemaname = current_schema() AND indexname = 'ix_posts_text_trgm'"
            )
        )
    assert found == ("posts_text" if sqlite else "ix_posts_text_trgm")
    migrated = caplog.get_records("setup")  # the `database` fixture migrates
    assert not [r for r in migrated if "no text index" in r.getMessage()]


def test_words_in_more_posts_than_the_index_hands_over_are_scanned_for(
    storage: Storage,
) -> None:
    """A common word (more candidates than `text_candidates`) is found newest first by the scan,
    the same posts and pages as through the index."""
    store(storage, *(item(n, text=f"acme Parcel {n}") for n in range(1, 8)), item(8))
    scanning = HistoryStore(storage.database, text_candidates=3)
    indexed = HistoryStore(storage.database)
    for history in (scanning, indexed):
        first = history.search(Search(text="parcel"), limit=4)
        rest = history.search(Search(text="parcel"), first.next_key, limit=4)
        assert [row.external_id for row in first.rows + rest.rows] == [str(n) for n in range(1, 8)]
        assert ids(history, Search(text="parcel 7")) == ["7"]


def test_the_text_index_follows_edits_and_purges(storage: Storage, history: HistoryStore) -> None:
    first, second = item(1, text="acme refund never came"), item(2, text="acme parcel lost")
    store(storage, first, second, now=NOW - timedelta(days=3))
    storage.text_index.catch_up()
    edit = replace(first, post=replace(first.post, text="acme wrong size shipped", edited_at=NOW))
    storage.posts.store_poll(
        source="x-brand", platform="x", new_posts=[], edits=[edit], cursor={}, now=NOW
    )
    assert ids(history, Search(text="refund")) == []
    assert ids(history, Search(text="wrong size")) == ["1"]
    assert _indexed(storage, "refund") == [] and len(_indexed(storage, "wrong")) == 1

    store(storage, item(3, text="acme parcel late"))
    storage.text_index.catch_up()
    send_all(storage)  # retention keeps a post whose alert is still to be sent
    assert storage.retention.purge(NOW - timedelta(days=2)).purged == 2
    assert ids(history, Search(text="parcel")) == ["3"]
    assert ids(history, Search(text="wrong")) == []
    assert len(_indexed(storage, "parcel")) == 1 and _indexed(storage, "wrong") == []


def _indexed(storage: Storage, word: str) -> list[int]:
    """The post ids SQLite's FTS5 table itself holds for `word` (a stale entry shows here even
    where the search's LIKE check would hide it); on PostgreSQL the search's rows, the GIN
    index being PostgreSQL's to keep."""
    if not storage.database.is_sqlite:
        history = HistoryStore(storage.database)
        return [row.post_id for row in history.search(Search(text=word)).rows]
    with storage.database.session() as session:
        found = session.scalars(
            sql_text("SELECT rowid FROM posts_text WHERE posts_text MATCH :trigrams"),
            # each of its trigrams, not the word as a phrase: the table keeps no positions (0011)
            {"trigrams": " AND ".join(f'"{word[n : n + 3]}"' for n in range(len(word) - 2))},
        )
        return list(found)


def test_without_pg_trgm_the_search_scans_and_finds_the_same(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A role that may not create the extension: the migration warns and goes on, and the word
    search (ILIKE over every post) finds what it found before. In a database of its own, where
    pg_trgm is not installed yet and the role has no CREATE on the database."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sql_text(f"CREATE ROLE {name} LOGIN"))
        connection.execute(sql_text(f"CREATE DATABASE {name}"))
    fresh = create_engine(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    with fresh.begin() as connection:
        connection.execute(sql_text(f"CREATE SCHEMA monitor AUTHORIZATION {name}"))
    fresh.dispose()
    database = Database(
        f"postgresql+psycopg://{name}@127.0.0.1:5432/{name}?options=-csearch_path%3Dmonitor"
    )
    try:
        with caplog.at_level(logging.WARNING):
            database.upgrade()
        assert "may not create the pg_trgm extension" in caplog.text
        storage = Storage(database, "C1")
        store(storage, item(1, text="acme order 7340021"), item(2, text="acme 50% off"))
        history = HistoryStore(database)
        assert ids(history, Search(text="7340021")) == ["1"]
        assert ids(history, Search(text="50%")) == ["2"]
        assert ids(history, Search(text="ORDER acme")) == ["1"]
    finally:
        database.close()
        with admin.connect() as connection:
            connection.execute(sql_text(f"DROP DATABASE {name} WITH (FORCE)"))
            connection.execute(sql_text(f"DROP ROLE {name}"))
        admin.dispose()
