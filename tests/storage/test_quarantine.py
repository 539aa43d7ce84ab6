"""Issue 15, items 1 and 2: a post the database refuses never blocks its source, and a refused
statement never carries customer text into a log line or an exception (SQLite and PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import monitor.storage.posts as posts_module
from connectors import base as connectors_base
from connectors.jsonl import JsonlConnector, JsonlSettings
from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.clock import FakeClock
from monitor.models import Author, Post
from monitor.pipeline import Pipeline, PollReport
from monitor.sanitize import (
    EXTERNAL_ID_LENGTH,
    HANDLE_LENGTH,
    LANGUAGE_LENGTH,
    PLATFORM_LENGTH,
)
from monitor.sources import SourceRunner
from monitor.storage import Database, NewPost, Storage
from monitor.storage.tables import PostRow, QuarantineRow
from tests.storage.factories import NOW, complaint, post

SECRET = "my card 4111 was charged twice"
"""Customer text that must never reach a log line or an exception message."""
BRAND = BrandSettings(name="Acme", handles=["acme"], languages=["en"])
COMPLAINT = "@acme you charged my card twice and support hasn't answered in 4 days"


def poisoned(item: NewPost, **changes: Any) -> NewPost:
    """`item` with its post changed as `changes` say, bypassing the connectors' normaliser."""
    author_changes = {k[7:]: v for k, v in changes.items() if k.startswith("author_")}
    post_changes = {k: v for k, v in changes.items() if not k.startswith("author_")}
    author = dataclasses.replace(item.post.author, **author_changes)
    return dataclasses.replace(
        item, post=dataclasses.replace(item.post, author=author, **post_changes)
    )


def quarantine_rows(storage: Storage) -> list[QuarantineRow]:
    with storage.posts.database.session() as session:
        return list(session.scalars(select(QuarantineRow).order_by(QuarantineRow.id)))


def stored_ids(storage: Storage) -> set[str]:
    with storage.posts.database.session() as session:
        return set(session.scalars(select(PostRow.external_id)))


# -- item 1: poison posts ------------------------------------------------------------------------


def test_item_1_a_poison_post_is_quarantined_and_the_rest_stored(storage: Storage) -> None:
    # A JavaScript bridge cut an emoji in half: no database can encode a lone surrogate.
    poison = poisoned(complaint("2"), text=f"{SECRET} \ud83d")

    stored = storage.posts.store_poll(
        source="feed",
        platform="x",
        new_posts=[complaint("1"), poison, complaint("3")],
        cursor={"offset": 300},
        now=NOW,
    )

    assert (stored.inserted, stored.alerts, stored.quarantined) == (2, 2, 1)
    assert stored.quarantine_reasons == ("UnicodeEncodeError",)
    assert stored_ids(storage) == {"1", "3"}
    assert storage.posts.load_cursor("feed") == {"offset": 300}  # the source moves on
    [row] = quarantine_rows(storage)
    assert (row.source, row.platform, row.external_id) == ("feed", "x", "2")
    assert row.error.startswith("UnicodeEncodeError: ")
    assert SECRET not in row.error
    kept = json.loads(row.post)  # the whole post, for a person to look at
    assert kept["text"] == f"{SECRET} \ud83d"
    assert kept["external_id"] == "2"


POISONS = {
    "nul_in_display_name": {"author_display_name": "Dana\x00"},
    "nul_in_text": {"text": "acme\x00 refund"},
    "language_too_long": {"language": "x" * (LANGUAGE_LENGTH + 1)},
    "external_id_too_long": {"external_id": "9" * (EXTERNAL_ID_LENGTH + 1)},
    "handle_too_long": {"author_handle": "h" * (HANDLE_LENGTH + 1)},
    "platform_too_long": {"platform": "p" * (PLATFORM_LENGTH + 1)},
}


@pytest.mark.parametrize("poison", POISONS.values(), ids=POISONS.keys())
def test_item_1_what_postgresql_refuses_is_quarantined_never_blocking(
    storage: Storage, poison: dict[str, Any]
) -> None:
    """SQLite accepts these as they are; PostgreSQL refuses them: either way each post is
    stored or quarantined, and the cursor moves."""
    new_posts = [complaint("1"), poisoned(complaint("2"), **poison), complaint("3")]

    stored = storage.posts.store_poll(
        source="feed", platform="x", new_posts=new_posts, cursor={"n": 1}, now=NOW
    )

    assert stored.inserted + stored.quarantined == 3
    assert {"1", "3"} <= stored_ids(storage)
    assert len(quarantine_rows(storage)) == stored.quarantined
    if storage.posts.database.is_sqlite:
        assert stored.quarantined == 0
    else:
        # psycopg's DataError, or its StringDataRightTruncation for a value too long
        [reason] = stored.quarantine_reasons
        assert stored.quarantined == 1 and reason.endswith(("DataError", "Truncation"))
        [row] = quarantine_rows(storage)
        assert row.error.startswith(f"{reason}: ")
        assert len(row.external_id) <= EXTERNAL_ID_LENGTH
        assert len(row.platform) <= PLATFORM_LENGTH
    assert storage.posts.load_cursor("feed") == {"n": 1}


def test_item_1_the_stored_posts_the_quarantine_and_the_cursor_commit_together(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The post-by-post retry runs in SAVEPOINTs inside the poll's one transaction: if the poll
    fails after some posts were stored again, none of it is committed (SQLite included)."""

    def broken(*_args: Any) -> str:
        raise RuntimeError("the quarantine could not be written")

    monkeypatch.setattr(posts_module, "_quarantine", broken)
    poison = poisoned(complaint("2"), text="\ud83d")

    with pytest.raises(RuntimeError):
        storage.posts.store_poll(
            source="feed",
            platform="x",
            new_posts=[complaint("1"), poison],
            cursor={"n": 1},
            now=NOW,
        )

    assert stored_ids(storage) == set()
    assert storage.posts.load_cursor("feed") is None


def test_item_1_a_poll_with_a_poison_post_stores_the_rest_and_tells_the_team_once(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """End to end, with the normaliser switched off so a poison post reaches the database:
    the poll succeeds, the cursor moves past it, and the team hears of it once per reason,
    with no customer text."""
    monkeypatch.setattr(connectors_base, "normalize_post", lambda post, _now: post)
    database = Database(database_url)
    database.upgrade()
    storage = Storage(database)
    clock = FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    feed = tmp_path / "feed.jsonl"
    connector = JsonlConnector(JsonlSettings(type="jsonl", name="feed", path=feed), BRAND, clock)
    pipeline = Pipeline(BRAND, storage.posts, Classifier(ClassifierSettings(), BRAND), clock)
    notices: list[str] = []
    runner = SourceRunner(connector, pipeline, storage.leases, clock, notices.append)

    def write(*lines: dict[str, Any]) -> None:
        with feed.open("a", encoding="utf-8") as handle:
            for line in lines:  # json.dumps writes a lone surrogate as its \\u escape
                handle.write(json.dumps({"platform": "x", "lang": "en", **line}) + "\n")

    write(
        {"id": "1", "author": "dana", "text": COMPLAINT},
        {"id": "2", "author": "erin", "text": f"{COMPLAINT} {SECRET} \ud83d"},
    )
    with caplog.at_level(logging.INFO):
        first = runner.poll()
        write(
            {"id": "3", "author": "finn", "text": COMPLAINT},
            {"id": "4", "author": "gail", "text": f"{COMPLAINT} \udc00"},
        )
        second = runner.poll()

    assert first is not None and second is not None
    assert (first.stored, first.quarantined) == (1, 1)
    assert (second.stored, second.quarantined) == (1, 1)
    assert stored_ids(storage) == {"1", "3"}
    assert runner.healthy
    assert len(notices) == 1  # once per source and reason
    assert "feed" in notices[0] and "UnicodeEncodeError" in notices[0]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "source=feed quarantined=1 reason=UnicodeEncodeError"
    ]
    assert not any(SECRET in record.getMessage() for record in caplog.records)
    assert all(SECRET not in notice for notice in notices)
    stats = storage.reports.stats(clock.now() - timedelta(days=1))
    assert stats["posts_quarantined"] == 2
    assert stats["quarantine_reasons"] == {"UnicodeEncodeError": 2}
    database.close()


def test_item_1_the_runner_tells_the_team_once_per_reason() -> None:
    class OnePoll:
        reasons: tuple[str, ...] = ("DataError",)

        def poll(self, _connector: Any) -> PollReport:
            return PollReport("feed", 3, 0, 0, 0, 2, 0, False, 0.0, 1, self.reasons)

    class AlwaysLeased:
        def acquire(self, *_args: Any) -> bool:
            return True

    class Named:
        name = "feed"

    notices: list[str] = []
    pipeline = OnePoll()
    runner = SourceRunner(
        Named(),  # type: ignore[arg-type]
        pipeline,  # type: ignore[arg-type]
        AlwaysLeased(),  # type: ignore[arg-type]
        FakeClock(),
        notices.append,
    )

    runner.poll()
    runner.poll()
    pipeline.reasons = ("DataError", "IntegrityError")
    runner.poll()

    assert len(notices) == 2
    assert "DataError" in notices[0] and "IntegrityError" in notices[1]


def test_item_1_stats_count_quarantined_posts(storage: Storage) -> None:
    storage.posts.store_poll(
        source="feed",
        platform="x",
        new_posts=[poisoned(complaint("1"), text="\ud800"), complaint("2")],
        cursor={},
        now=NOW,
    )

    stats = storage.reports.stats(NOW - timedelta(days=7))

    assert stats["posts_quarantined"] == 1
    assert stats["quarantine_reasons"] == {"UnicodeEncodeError": 1}
    assert storage.reports.stats(NOW + timedelta(days=1))["posts_quarantined"] == 0


def test_item_1_retention_purges_the_quarantine_too(storage: Storage) -> None:
    storage.posts.store_poll(
        source="feed",
        platform="x",
        new_posts=[poisoned(complaint("1"), text="\ud800")],
        cursor={},
        now=NOW,
    )

    storage.retention.purge(NOW + timedelta(days=1))

    assert quarantine_rows(storage) == []


def test_item_1_the_normaliser_makes_every_field_fit_its_column(storage: Storage) -> None:
    """What the connectors return (through `Connector.poll`) is what the schema accepts."""
    from monitor.sanitize import normalize_post

    raw = Post(
        platform="p" * 40,
        external_id="e\u0301" + "9" * 300,  # é decomposed: NFC makes it one character
        author=Author(
            id="a" * 300,
            handle="\x00" + "h" * 300,
            display_name=["Dana", "\x00Smith"],  # type: ignore[arg-type]
            followers=2**40,
        ),
        text="acme \ud83d refund\x00",
        url="https://example.com/\x00",
        created_at=datetime(2026, 1, 1),  # naive: taken as UTC
        language=["en"],  # type: ignore[arg-type]
        extra={"n": float("nan"), 1: {"deep": ("\ud800",)}, "o": object()},
    )

    clean = normalize_post(raw, NOW)
    stored = storage.posts.store_poll(
        source="feed",
        platform="x",
        new_posts=[dataclasses.replace(complaint("1"), post=clean)],
        cursor={},
        now=NOW,
    )

    assert (stored.inserted, stored.quarantined) == (1, 0)
    assert len(clean.platform) == PLATFORM_LENGTH
    assert len(clean.external_id) == EXTERNAL_ID_LENGTH and clean.external_id.startswith("é9")
    assert clean.author.display_name == "Dana Smith"
    assert clean.author.followers == 2**31 - 1
    assert clean.text == "acme \ufffd refund"
    assert clean.language == "en"
    assert clean.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert clean.extra["n"] is None and clean.extra["1"] == {"deep": ["\ufffd"]}
    assert isinstance(clean.extra["o"], str)
    long_ids = {normalize_post(post("x" * 200 + tail), NOW).external_id for tail in "ab"}
    assert len(long_ids) == 2  # two long ids stay two


def test_item_1_hostile_jsonl_lines_are_normalised_and_stored(
    database_url: str, tmp_path: Path
) -> None:
    """The JSONL cases from the issue, through the real connector and pipeline: all stored,
    none quarantined, the cursor at the end of the file."""
    database = Database(database_url)
    database.upgrade()
    storage = Storage(database)
    clock = FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    feed = tmp_path / "feed.jsonl"
    lines: list[dict[str, Any]] = [
        {"id": "1", "lang": "en-x-" + "q" * 20},
        {"id": "2", "platform": "p" * 40},
        {"id": "3" * 200},
        {"id": "4", "author": "a" * 200},
        {"id": "5", "author": "erin\ud83d"},
        {"id": "6", "lang": 7},
        {"id": "7", "author_name": ["Dana", "Smith"]},
        {"id": 8, "author_name": {"first": "Dana"}, "contact_url": 9, "followers": True},
        {"id": "9", "author_name": "Dana\x00"},
    ]
    feed.write_text(
        "".join(json.dumps({"text": f"{COMPLAINT} {SECRET}", **line}) + "\n" for line in lines),
        encoding="utf-8",
    )
    connector = JsonlConnector(JsonlSettings(type="jsonl", name="feed", path=feed), BRAND, clock)
    pipeline = Pipeline(BRAND, storage.posts, Classifier(ClassifierSettings(), BRAND), clock)

    report = pipeline.poll(connector)

    assert (report.fetched, report.stored, report.quarantined) == (9, 9, 0)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(PostRow)) == 9
        names = dict(session.execute(select(PostRow.external_id, PostRow.author_name)).all())
        langs = dict(session.execute(select(PostRow.external_id, PostRow.language)).all())
    assert names["7"] == "Dana Smith" and names["8"] is None and names["9"] == "Dana"
    assert langs["1"] == ("en-x-" + "q" * 20)[:LANGUAGE_LENGTH]
    assert langs["6"] == "en", "a lang that is not text is dropped, then detected from the text"
    cursor = storage.posts.load_cursor("feed")
    assert cursor is not None
    assert (cursor["offset"], cursor["line"]) == (feed.stat().st_size, 9)
    database.close()


# -- item 2: no SQL parameters in the journal ----------------------------------------------------


def test_item_2_a_failed_insert_shows_no_customer_text(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # before the engine exists: SQLAlchemy reads it then
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    database = Database(database_url)
    database.upgrade()
    row = {
        "platform": "x",
        "external_id": "1",
        "source": "feed",
        "author_id": "dana",
        "author_handle": "dana",
        "author_verified": False,
        "url": "https://x.com/dana/status/1",
        "text": SECRET,
        "extra": {},
        "created_at": NOW,
        "fetched_at": NOW,
    }

    # the second row breaks the unique key
    with pytest.raises(Exception) as raised, database.session() as session:
        session.execute(PostRow.__table__.insert(), [row])
        session.execute(PostRow.__table__.insert(), [row])

    text = f"{raised.value}\n{raised.value!r}"
    assert "parameters hidden" in text
    assert SECRET not in text
    assert SECRET not in caplog.text
    database.close()
