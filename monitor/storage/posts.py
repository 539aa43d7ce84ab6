"""Posts: what the pipeline stores each poll and what it already knows (retention: `retention`).

`store_poll` is the heart: a poll's new posts, their verdicts, their pending alerts and the
source's next cursor are written in ONE transaction, so the cursor never moves past a post that
was not stored. Posts are inserted with ON CONFLICT DO NOTHING, so a page fetched twice (or by
two replicas) is stored once, and only the transaction that inserted a post writes its alert.
They go through the driver (`database.insert_columns`), one statement per table per poll, the
rows given a column at a time: much of what a post cost here was SQLAlchemy's per-row machinery,
then a dict per row and table, rather than the database (issue 16).

A post the database still refuses (after `monitor.sanitize`) does not block its source: the batch
is retried post by post, each in a SAVEPOINT, and the refused ones are set aside in the
`quarantine` table, in the same transaction as the rest and the cursor.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, String, any_, bindparam, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from monitor.models import Cursor, Post, Verdict
from monitor.sanitize import (
    ERROR_LENGTH,
    EXTERNAL_ID_LENGTH,
    PLATFORM_LENGTH,
    SOURCE_LENGTH,
    identifier,
    post_as_json,
    text_of,
)
from monitor.storage.database import Database, insert_columns, insert_rows, is_outage
from monitor.storage.tables import (
    CLASSIFICATION_JSON_TEXT,
    AlertRow,
    ClassificationRow,
    MutedAuthorRow,
    PostRow,
    QuarantineRow,
    SourceCursorRow,
    alert_columns,
    alert_values,
    classification_columns,
    classification_values,
    mute_active,
    post_columns,
    post_values,
)


@dataclass(frozen=True, slots=True)
class NewPost:
    """A post that passed the filters, with its verdict and whether it is a VIP's."""

    post: Post
    verdict: Verdict
    vip: bool
    alert_priority: int | None
    """None: no alert (not a complaint); otherwise the outbox priority (higher goes first)."""
    channel: str | None = None
    topic: str | None = None
    """What the complaint is about (groups storms); the pipeline's `topic` finds it."""
    muted: bool = False
    """Its author is muted: stored and counted with its verdict, never alerted."""


@dataclass(frozen=True, slots=True)
class StoredPoll:
    inserted: int
    alerts: int
    quarantined: int = 0
    quarantine_reasons: tuple[str, ...] = field(default=())
    """Why, one entry per distinct reason (an exception class): no customer text."""
    edited: int = 0
    """Stored posts whose edited text was stored and judged again."""
    edit_alerts: int = 0
    """Of those, how many newly qualified for an alert (they had none)."""


@dataclass(frozen=True, slots=True)
class StoredText:
    """What is stored of a post a platform says was edited: enough to tell a real change."""

    text: str
    edited_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredVerdict:
    """A stored post with the verdict it got when stored: what `replay` needs to judge it again."""

    post_id: int
    platform: str
    external_id: str
    url: str
    text: str
    language: str | None
    author_handle: str
    author_followers: int | None
    label: str
    score: float
    severity: str
    classifier_version: str
    rating: int | None = None
    """A review's stars (app stores), as stored with the post."""


class PostStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def load_cursor(self, source: str) -> Cursor | None:
        with self.database.session() as session:
            row = session.get(SourceCursorRow, source)
            return dict(row.cursor) if row is not None else None

    def known_ids(self, platform: str, external_ids: Iterable[str]) -> set[str]:
        """Which of these posts are stored already (so we don't classify them again)."""
        ids = list(dict.fromkeys(external_ids))
        found: set[str] = set()
        with self.database.session() as session:
            for chunk in _chunks(ids, 500):
                rows = session.scalars(
                    select(PostRow.external_id).where(
                        PostRow.platform == platform, _one_of(session, PostRow.external_id, chunk)
                    )
                )
                found.update(rows)
        return found

    def stored_texts(self, platform: str, external_ids: Iterable[str]) -> dict[str, StoredText]:
        """The stored text of these posts (those a platform reports as edited)."""
        ids = list(dict.fromkeys(external_ids))
        found: dict[str, StoredText] = {}
        with self.database.session() as session:
            for chunk in _chunks(ids, 500):
                rows = session.execute(
                    select(PostRow.external_id, PostRow.text, PostRow.edited_at).where(
                        PostRow.platform == platform, _one_of(session, PostRow.external_id, chunk)
                    )
                )
                found.update({i: StoredText(text, edited) for i, text, edited in rows})
        return found

    def alerted_ids(self, platform: str, external_ids: Iterable[str]) -> set[str]:
        """Which of these stored posts have an alert (an edit of one must not alert twice)."""
        ids = list(dict.fromkeys(external_ids))
        found: set[str] = set()
        with self.database.session() as session:
            for chunk in _chunks(ids, 500):
                rows = session.scalars(
                    select(PostRow.external_id)
                    .join(AlertRow, AlertRow.post_id == PostRow.id)
                    .where(
                        PostRow.platform == platform, _one_of(session, PostRow.external_id, chunk)
                    )
                )
                found.update(rows)
        return found

    def store_poll(
        self,
        *,
        source: str,
        platform: str,
        new_posts: Sequence[NewPost],
        cursor: Cursor,
        now: datetime,
        edits: Sequence[NewPost] = (),
    ) -> StoredPoll:
        """Posts, verdicts, alerts and the cursor, atomically; a post the database refuses is
        quarantined (in the same transaction) instead of holding back the rest and the cursor.

        `edits` are stored posts with a new text: the text and its verdict replace the old, and
        one that now qualifies gets the alert it never had (one that had one keeps it)."""
        with self.database.session() as session:
            # The SAVEPOINTs below nest in this one transaction (on SQLite too: the database
            # module opens it with BEGIN), so releasing one commits nothing on its own.
            _save_cursor(session, source, platform, cursor, now)
            edited, edit_alerts, edit_reasons = _store_edits(session, source, edits, now)
            try:
                with session.begin_nested():
                    inserted, alerts = _store_batch(session, source, new_posts, now)
                return StoredPoll(
                    inserted,
                    alerts,
                    len(edit_reasons),
                    tuple(dict.fromkeys(edit_reasons)),
                    edited,
                    edit_alerts,
                )
            except Exception as err:
                if is_outage(err):
                    raise
            inserted = alerts = 0
            reasons: list[str] = list(edit_reasons)
            for item in new_posts:  # the batch was refused: find the post(s) it was refused for
                try:
                    with session.begin_nested():
                        one, alerted = _store_one(session, source, item, now)
                except Exception as err:
                    if is_outage(err):
                        raise
                    reasons.append(_quarantine(session, source, item.post, err, now))
                    continue
                inserted, alerts = inserted + one, alerts + alerted
        return StoredPoll(
            inserted, alerts, len(reasons), tuple(dict.fromkeys(reasons)), edited, edit_alerts
        )

    def muted_authors(self, now: datetime) -> set[tuple[str, str]]:
        """(platform, lower-case handle) of every author muted from Slack ("Mute author") whose
        mute has not lapsed by `now`."""
        with self.database.session() as session:
            rows = session.execute(
                select(MutedAuthorRow.platform, MutedAuthorRow.handle).where(mute_active(now))
            )
            return {(platform, handle) for platform, handle in rows}

    def stored_verdicts(self, since: datetime, batch_size: int = 500) -> Iterator[StoredVerdict]:
        """Posts stored (fetched) since `since` with their verdicts, oldest first, for `replay`.

        Keyed on `fetched_at`, like `stats` and retention: what the daemon kept in that window,
        whatever the platform's own date says. Streamed `batch_size` rows at a time from one
        read-only query (a consistent snapshot), so a large store is never loaded at once.
        """
        query = (
            select(
                PostRow.id.label("post_id"),
                PostRow.platform,
                PostRow.external_id,
                PostRow.url,
                PostRow.text,
                PostRow.language,
                PostRow.author_handle,
                PostRow.author_followers,
                ClassificationRow.label,
                ClassificationRow.score,
                ClassificationRow.severity,
                ClassificationRow.classifier_version,
                PostRow.rating,
            )
            .join(ClassificationRow, ClassificationRow.post_id == PostRow.id)
            .where(PostRow.fetched_at >= since)
            .order_by(PostRow.fetched_at, PostRow.id)
            .execution_options(yield_per=batch_size)
        )
        with self.database.session() as session:
            for row in session.execute(query):
                yield StoredVerdict(**row._asdict())  # columns named as its fields


def _store_batch(
    session: Session, source: str, new_posts: Sequence[NewPost], now: datetime
) -> tuple[int, int]:
    """Posts, their verdicts and alerts: (posts inserted, alerts written). One statement per
    table through the driver, the rows given a column at a time (`insert_columns`): the hot
    path of every poll. `_store_one` is its post-by-post retry of a refused batch."""
    posts = [item.post for item in new_posts]
    rows = insert_columns(
        session,
        PostRow,
        post_columns(posts, source, now),
        returning=("id", "platform", "external_id"),
        on_conflict=("platform", "external_id"),
    )
    ids = {(platform, external_id): id_ for id_, platform, external_id in rows}
    found: list[int | None] = list(map(ids.get, map(_KEY, posts)))
    ours: Sequence[NewPost] = new_posts
    post_ids = cast(list[int], found)
    if None in found:  # another transaction stored these: theirs are its verdicts and alerts
        ours = [item for item, id_ in zip(new_posts, found, strict=True) if id_ is not None]
        post_ids = [id_ for id_ in found if id_ is not None]
    if not ours:
        return 0, 0
    verdict, vip, muted, priority, channel, topic = (list(map(get, ours)) for get in _NEW_POST)
    insert_columns(
        session,
        ClassificationRow,
        classification_columns(post_ids, verdict, vip, muted, now),
        json_text=CLASSIFICATION_JSON_TEXT,
    )
    alerted = [
        n for n, (p, m) in enumerate(zip(priority, muted, strict=True)) if p is not None and not m
    ]
    if alerted:
        insert_columns(
            session,
            AlertRow,
            alert_columns(
                [post_ids[n] for n in alerted],
                [priority[n] for n in alerted],
                [channel[n] for n in alerted],
                [topic[n] for n in alerted],
                now,
            ),
        )
    return len(ours), len(alerted)


_KEY = operator.attrgetter("platform", "external_id")
"""`Post.key`, read in C."""
_NEW_POST = [
    operator.attrgetter(name)
    for name in ("verdict", "vip", "muted", "alert_priority", "channel", "topic")
]


def _store_one(session: Session, source: str, item: NewPost, now: datetime) -> tuple[int, int]:
    """`_store_batch` of one post through SQLAlchemy's own INSERT, from a dict per row: the
    retry of a refused batch, where what is quarantined, and the error it is quarantined
    with, read as they always have."""
    rows = insert_rows(
        session,
        PostRow,
        [post_values(item.post, source, now)],
        returning=("id",),
        on_conflict=("platform", "external_id"),
        through_driver=False,
    )
    if not rows:  # another transaction stored it
        return 0, 0
    ((post_id,),) = rows
    verdict = classification_values(post_id, item.verdict, item.vip, now, muted=item.muted)
    insert_rows(session, ClassificationRow, [verdict], through_driver=False)
    if not _alerted(item):
        return 1, 0
    insert_rows(session, AlertRow, [_alert_values(post_id, item, now)], through_driver=False)
    return 1, 1


def _alerted(item: NewPost) -> bool:
    return item.alert_priority is not None and not item.muted


def _store_edits(
    session: Session, source: str, edits: Sequence[NewPost], now: datetime
) -> tuple[int, int, list[str]]:
    """(edits stored, alerts they newly earned, quarantine reasons), each edit in a SAVEPOINT:
    an edit the database refuses is set aside like a new post, and the old version stays."""
    edited = alerted = 0
    reasons: list[str] = []
    for item in edits:
        try:
            with session.begin_nested():
                alerted += _store_edit(session, item, now)
                edited += 1
        except Exception as err:
            if is_outage(err):
                raise
            reasons.append(_quarantine(session, source, item.post, err, now))
    return edited, alerted, reasons


def _store_edit(session: Session, item: NewPost, now: datetime) -> int:
    """One edit: the new text and verdict replace the old; 1 when it earned a new alert."""
    post = item.post
    row = session.scalars(
        select(PostRow).where(
            PostRow.platform == post.platform, PostRow.external_id == post.external_id
        )
    ).one()
    row.text, row.edited_at = post.text, post.edited_at
    row.rating = post.rating  # an edited review may change its stars too
    row.extra = {**(row.extra or {}), "edited": True}
    values = classification_values(row.id, item.verdict, item.vip, now, muted=item.muted)
    del values["post_id"]
    session.execute(
        update(ClassificationRow).where(ClassificationRow.post_id == row.id).values(**values)
    )
    if item.alert_priority is None or item.muted:
        return 0
    has_alert = session.scalar(select(AlertRow.id).where(AlertRow.post_id == row.id))
    if has_alert is not None:
        return 0
    insert_rows(session, AlertRow, [_alert_values(row.id, item, now)])
    return 1


def _quarantine(session: Session, source: str, post: Post, err: Exception, now: datetime) -> str:
    """Set `post` aside with why it was refused; returns the reason (the exception's class)."""
    reason = type(getattr(err, "orig", None) or err).__name__
    session.add(
        QuarantineRow(
            source=text_of(source, SOURCE_LENGTH),
            platform=text_of(post.platform, PLATFORM_LENGTH),
            external_id=identifier(post.external_id, EXTERNAL_ID_LENGTH),
            error=text_of(f"{reason}: {_describe(err)}", ERROR_LENGTH),
            post=post_as_json(post),
            created_at=now,
        )
    )
    session.flush()
    return reason


def _describe(err: Exception) -> str:
    """What the database said, without the values: its first line, and for an encoding error
    only which codec (its message quotes the character)."""
    if isinstance(err, UnicodeError):
        return "text the database cannot encode (a lone surrogate?)"
    original = getattr(err, "orig", None) or err
    lines = str(original).strip().splitlines()
    return lines[0][:200] if lines else type(original).__name__


def _alert_values(post_id: int, item: NewPost, now: datetime) -> dict[str, object]:
    assert item.alert_priority is not None
    return alert_values(post_id, item.alert_priority, item.channel, item.topic, now)


def _save_cursor(
    session: Session, source: str, platform: str, cursor: Cursor, now: datetime
) -> None:
    """Always a write statement (an upsert), even when nothing changes: see `store_poll`."""
    insert_rows(
        session,
        SourceCursorRow,
        [{"source": source, "platform": platform, "cursor": cursor, "updated_at": now}],
        on_conflict=("source",),
        update=("cursor", "updated_at"),
    )


def _one_of(session: Session, column: Any, ids: list[str]) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL `column = ANY(one array)`: psycopg reads a statement's
    placeholders in Python on every execution, and 500 of them cost more than the lookup."""
    if session.get_bind().dialect.name == "postgresql":
        result: ColumnElement[bool] = column == any_(
            bindparam("ids", ids, type_=postgresql.ARRAY(String))
        )
    else:
        result = column.in_(ids)
    return result


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
