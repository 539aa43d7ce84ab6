"""The history view's reads: search stored posts, one post with its alert's history, an author's
earlier posts, daily counts, the classifier's precision from the team's feedback, and sources.

Nothing here writes. On PostgreSQL each read runs in a READ ONLY transaction with a statement
timeout, so a search typed in a browser can neither change the daemon's data nor hold a backend
for minutes, and REPEATABLE READ, so its statements share one snapshot (a search reads the
text index and the posts above its watermark in two). Searches are ordered newest first and
paged by keyset (`PageKey`): page 500 costs what page 1 costs, and a post stored while someone
pages never shifts the next page.

Indexes that make these fast on 1,000,000 posts are declared in `tables.py` (migration 0007),
and the text index, which cannot be (migration 0008: `pg_trgm` on PostgreSQL, an FTS5 trigram
table on SQLite, without positions since 0011, kept behind the polls since 0012 and 0013:
`storage.text_index`); `bench/history_search.py` measures them.

It runs past 600 lines because every query shares the read-only session, the keyset paging and
the filter building above the first query; split by page, each part would import them back.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    false,
    func,
    literal,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session

from monitor.brand import PLACEHOLDER_AUTHORS, handle_key, placeholder_author
from monitor.models import AlertState, Label, Person, Post, Severity, Verdict
from monitor.storage.database import Database
from monitor.storage.feedback import SLACK_ORIGIN
from monitor.storage.source_status import SourceStatus, SourceStatusStore
from monitor.storage.tables import (
    AlertEventRow,
    AlertRow,
    ClassificationRow,
    DailyCountRow,
    FeedbackRow,
    PostRow,
    SourceCursorRow,
    UTCDateTime,
    counts_as_complaint,
    post_from_row,
    verdict_from_row,
)
from monitor.storage.text_index import STATE_TABLE, TEXT_TABLE, IndexKind, index_kind

FLAGGED_LABEL_SQL: ColumnElement[str] = literal_column(f"'{Label.NOT_COMPLAINT.value}'")
"""Written into the SQL, not bound: the daily counts then match the predicate of the partial
index `ix_classifications_flagged` (migration 0009), which neither database proves of a
parameter when it plans."""
NO_ALERT = "none"
"""The alert-state filter for posts that have no alert (not flagged, or muted)."""
PAGE_SIZE = 50
MAX_TERMS = 8
"""Words of a text search, each of which must appear; more are ignored (each is a LIKE)."""
MAX_TERM_LENGTH = 200
TRIGRAM = 3
"""A word this long or longer is looked up in the text index (migration 0008); a shorter one
holds no trigram and is matched by LIKE alone."""
TEXT_CANDIDATES = 5000
"""SQLite: the most posts the text index hands the search as candidates. Words in more posts
than this are common enough that the newest-first scan with LIKE fills a page after a few
thousand rows (about 1 ms), while sorting all their posts would take most of a second (10% of
a million posts for "canada")."""
STATEMENT_TIMEOUT_MS = 10_000
"""PostgreSQL cancels a history query after this: a pathological search answers "database
unavailable" instead of holding a backend the daemon needs."""


@dataclass(frozen=True, slots=True)
class Search:
    """What a person asked for; empty strings and None mean "any"."""

    text: str = ""
    """Words that must all appear in the post's text, case-insensitively (ASCII only on
    SQLite, whose LIKE folds only ASCII); `%` and `_` are matched literally."""
    platform: str = ""
    source: str = ""
    author: str = ""
    """A handle, compared as `brand.handle_key` does: "@Dana" finds "dana"."""
    label: str = ""
    severity: str = ""
    alert_state: str = ""
    """An `AlertState` value, or `NO_ALERT`."""
    since: datetime | None = None
    """Posts created at or after this."""
    until: datetime | None = None
    """Posts created before this."""

    def terms(self) -> list[str]:
        return [word[:MAX_TERM_LENGTH] for word in self.text.split()][:MAX_TERMS]


@dataclass(frozen=True, slots=True)
class PageKey:
    """Where a page ends: the next page starts after this (created_at, id), newest first."""

    created_at: datetime
    post_id: int

    def encode(self) -> str:
        raw = f"{self.created_at.astimezone(UTC).isoformat()}|{self.post_id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> PageKey | None:
        """None for anything that is not a key this class wrote (a hand-edited URL)."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            when, post_id = raw.split("|")
            created_at = datetime.fromisoformat(when)
            if created_at.tzinfo is None:
                return None
            return cls(created_at.astimezone(UTC), int(post_id))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None


@dataclass(frozen=True, slots=True)
class PostSummary:
    """One line of a search result (and of the CSV export)."""

    post_id: int
    platform: str
    source: str
    external_id: str
    author_id: str
    author_handle: str
    author_name: str | None
    text: str
    url: str
    created_at: datetime
    label: str | None
    score: float | None
    severity: str | None
    alert_state: str | None
    """None: no alert."""
    alert_status: str | None
    """Where the alert is in the outbox (sent, pending, parked...)."""


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[PostSummary]
    next_key: PageKey | None
    """None on the last page."""


@dataclass(frozen=True, slots=True)
class AlertEvent:
    action: str
    person: Person | None
    at: datetime


@dataclass(frozen=True, slots=True)
class AlertHistory:
    """A post's alert: where it went in Slack and what the team did with it."""

    alert_id: int
    status: str
    state: str
    channel: str | None
    slack_ts: str | None
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    topic: str | None
    claimed_by: Person | None
    claimed_at: datetime | None
    resolved_by: Person | None
    resolved_at: datetime | None
    escalated_at: datetime | None
    events: list[AlertEvent]

    @property
    def slack_link(self) -> str | None:
        """Slack's documented redirect to a message: opens it in the app or the browser for
        whoever is signed in, without an API call (chat.getPermalink would need the token)."""
        if not self.channel or not self.slack_ts:
            return None
        return f"https://slack.com/app_redirect?channel={self.channel}&message_ts={self.slack_ts}"


@dataclass(frozen=True, slots=True)
class PostDetail:
    post_id: int
    source: str
    post: Post
    fetched_at: datetime
    verdict: Verdict | None
    vip: bool
    muted: bool
    """Its author was muted when it was stored: counted, never alerted."""
    alert: AlertHistory | None


@dataclass(frozen=True, slots=True)
class AuthorHistory:
    """An author's posts before a given moment (same platform, same author id)."""

    earlier: list[PostSummary]
    """Newest first, at most the `limit` asked for."""
    complaints: int
    """Earlier posts in the window flagged as complaints that the team did not mark "Not a
    complaint": what "3 earlier complaints from this author in 90 days" counts."""


@dataclass(frozen=True, slots=True)
class DailyCounts:
    """Posts stored per day by platform (purged days included, from `daily_counts`) and posts
    flagged per day by severity (stored posts only: retention keeps no severity)."""

    days: list[date]
    by_platform: dict[str, list[int]]
    by_severity: dict[str, list[int]]


@dataclass(frozen=True, slots=True)
class FeedbackWeek:
    """The team's verdicts in one week (Monday to Sunday, UTC)."""

    week: date
    confirmed: int
    """Alerts resolved: complaints the classifier got right."""
    false_alarms: int
    """Alerts marked "Not a complaint"."""
    misses: int
    """Complaints reported as missed (`/complaint-monitor missed`)."""

    @property
    def precision(self) -> float | None:
        judged = self.confirmed + self.false_alarms
        return self.confirmed / judged if judged else None


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A source as its runner last recorded it, and what its stored posts say."""

    source: str
    platform: str
    status: SourceStatus | None
    """None: no runner has recorded a state for it (a daemon from before `source_status`)."""
    cursor_saved_at: datetime | None
    """The last poll that committed (the cursor moves with the posts it covers)."""
    last_stored_at: datetime | None
    posts_24h: int


@dataclass(frozen=True, slots=True)
class Choices:
    """The values the search form offers."""

    platforms: list[str]
    sources: list[str]
    labels: list[str] = field(default_factory=lambda: [label.value for label in Label])
    severities: list[str] = field(default_factory=lambda: [s.value for s in Severity])
    alert_states: list[str] = field(
        default_factory=lambda: [state.value for state in AlertState] + [NO_ALERT]
    )


class HistoryStore:
    """Read-only queries for people (the history view) and for the Slack line about an
    author's earlier complaints."""

    def __init__(
        self,
        database: Database,
        statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
        text_candidates: int = TEXT_CANDIDATES,
    ) -> None:
        self.database = database
        self.statement_timeout_ms = statement_timeout_ms
        self.text_candidates = text_candidates
        self._kind: IndexKind | None = None
        """What migration 0008 could create (read once: the watermark of 0012 / 0013 is there
        when the table is)."""

    @contextmanager
    def _reading(self, *, timeout: bool = True) -> Iterator[Session]:
        with self.database.session() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
                if timeout:
                    session.execute(
                        text(f"SET LOCAL statement_timeout = {int(self.statement_timeout_ms)}")
                    )
            yield session

    def _candidates(self, session: Session, search: Search) -> list[int] | None:
        """The ids of the posts that may hold every word of the search, from the text table,
        or None to scan newest first with LIKE / ILIKE alone: no table, no word long enough
        for a trigram, or more than `text_candidates` posts (common words).

        SQLite: a post is a candidate when its FTS5 entry holds every trigram of every word,
        anywhere (the table keeps no positions since migration 0011, so a word cannot be asked
        for as a phrase). That is a superset of what LIKE finds: a post that holds the word
        holds its trigrams, and the tokenizer folds all of Unicode's case where LIKE folds only
        ASCII's. Each trigram is quoted, so FTS5's query syntax (`AND`, `NEAR`, `*`, `-`) and
        LIKE's wildcards in a search are matched literally. Not `text LIKE '%word%'` on the
        FTS5 table, which FTS5 serves from the same trigrams: SQLite then reads every
        candidate's text from `posts` to check it, and a common word ("refund", 5,001
        candidates) took 23 ms instead of 2 (1,000,000 posts).

        PostgreSQL: ILIKE on the indexed copy of the text, which pg_trgm's GIN index serves
        (migration 0013).

        Either way the LIKE / ILIKE conditions on `posts` stay and decide. The table holds the
        posts up to its watermark (`storage.text_index`); the posts stored since are
        candidates too, and LIKE alone decides for them. Asked for as ids, not as
        `id > watermark` beside the list: SQLite then planned a scan of every post newest
        first."""
        terms = [term for term in search.terms() if len(term) >= TRIGRAM]
        kind = self._text_index(session)
        if not terms or kind == IndexKind.NONE:
            return None
        if any("\x00" in term for term in terms):
            return None  # FTS5's parser stops at a NUL; `_search_query` finds nothing for one
        limit = {"limit": self.text_candidates + 1}
        if kind == IndexKind.FTS5:
            query = " AND ".join(
                '"' + trigram.replace('"', '""') + '"' for trigram in _trigrams(terms)
            )
            ids = session.scalars(
                text(
                    f"SELECT rowid FROM {TEXT_TABLE} WHERE {TEXT_TABLE} MATCH :query LIMIT :limit"
                ),
                {"query": query} | limit,
            ).all()
        else:
            words = " AND ".join(f"text ILIKE :w{n} ESCAPE '\\'" for n in range(len(terms)))
            ids = session.scalars(
                text(f"SELECT id FROM {TEXT_TABLE} WHERE {words} LIMIT :limit"),
                {f"w{n}": like_pattern(term) for n, term in enumerate(terms)} | limit,
            ).all()
        if len(ids) > self.text_candidates:
            return None
        tail = session.scalars(  # an id range: the few polls since the job's last run
            text(
                f"SELECT id FROM posts WHERE id > (SELECT indexed_upto FROM {STATE_TABLE} "
                "WHERE id = 1) LIMIT :limit"
            ),
            {"limit": self.text_candidates + 1 - len(ids)},
        ).all()
        candidates = [*ids, *tail]
        return None if len(candidates) > self.text_candidates else candidates

    def _text_index(self, session: Session) -> IndexKind:
        if self._kind is None:
            self._kind = index_kind(session)
        return self._kind

    # -- search ------------------------------------------------------------------------------

    def search(self, search: Search, after: PageKey | None = None, limit: int = PAGE_SIZE) -> Page:
        """One page of matches, newest first, starting after `after`."""
        with self._reading() as session:
            query = _search_query(session, search, self._candidates(session, search))
            if after is not None:
                query = query.where(
                    tuple_(PostRow.created_at, PostRow.id)
                    < tuple_(literal(after.created_at, UTCDateTime()), literal(after.post_id))
                )
            rows = [_summary(row) for row in session.execute(query.limit(limit + 1))]
        more = len(rows) > limit
        rows = rows[:limit]
        next_key = PageKey(rows[-1].created_at, rows[-1].post_id) if more else None
        return Page(rows, next_key)

    def export(self, search: Search, batch_size: int = 1000) -> Iterator[PostSummary]:
        """Every match, newest first, streamed `batch_size` rows at a time from one query (a
        server-side cursor on PostgreSQL): a large export never sits in memory. No statement
        timeout: an export of everything is allowed to take its time."""
        with self._reading(timeout=False) as session:
            query = _search_query(
                session, search, self._candidates(session, search)
            ).execution_options(yield_per=batch_size)
            for row in session.execute(query):
                yield _summary(row)

    def choices(self) -> Choices:
        """Platforms and sources that have polled (from their cursors: a small table)."""
        with self._reading() as session:
            rows = session.execute(select(SourceCursorRow.platform, SourceCursorRow.source)).all()
        return Choices(
            platforms=sorted({platform for platform, _ in rows}),
            sources=sorted({source for _, source in rows}),
        )

    # -- one post ----------------------------------------------------------------------------

    def post(self, post_id: int) -> PostDetail | None:
        with self._reading() as session:
            row = session.get(PostRow, post_id)
            if row is None:
                return None
            classification = session.scalar(
                select(ClassificationRow).where(ClassificationRow.post_id == post_id)
            )
            alert = session.scalar(select(AlertRow).where(AlertRow.post_id == post_id))
            history = _alert_history(session, alert) if alert is not None else None
            return PostDetail(
                post_id=row.id,
                source=row.source,
                post=post_from_row(row),
                fetched_at=row.fetched_at,
                verdict=verdict_from_row(classification) if classification else None,
                vip=bool(classification and classification.vip),
                muted=bool(classification and classification.muted),
                alert=history,
            )

    def author_history(
        self,
        platform: str,
        author_id: str,
        before: datetime,
        *,
        since: datetime | None = None,
        limit: int = 20,
    ) -> AuthorHistory:
        """The author's posts created before `before` (newest first, at most `limit`), and how
        many of those since `since` were complaints. An unknown author (a placeholder id or
        handle, shared by everyone a platform cannot name) has no history."""
        if placeholder_author(author_id) or author_id.strip().lower() in PLACEHOLDER_AUTHORS:
            return AuthorHistory([], 0)
        same_author = (
            PostRow.platform == platform,
            PostRow.author_id == author_id,
            PostRow.created_at < before,
        )
        with self._reading() as session:
            earlier: list[PostSummary] = []
            if limit > 0:
                query = _summary_query().where(*same_author).limit(limit)
                earlier = [_summary(row) for row in session.execute(query)]
            window = () if since is None else (PostRow.created_at >= since,)
            complaints = session.scalar(
                select(func.count())
                .select_from(PostRow)
                .join(ClassificationRow, ClassificationRow.post_id == PostRow.id)
                .outerjoin(AlertRow, AlertRow.post_id == PostRow.id)
                .where(
                    *same_author,
                    *window,
                    counts_as_complaint(),
                )
            )
        return AuthorHistory(earlier, int(complaints or 0))

    # -- figures -----------------------------------------------------------------------------

    def daily_counts(self, first: date, last: date) -> DailyCounts:
        """Days `first` to `last` (UTC, both included), by the day each post was stored."""
        since = datetime.combine(first, datetime.min.time(), UTC)
        until = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        index = {day: n for n, day in enumerate(days)}
        by_platform: dict[str, list[int]] = {}
        by_severity: dict[str, list[int]] = {s.value: [0] * len(days) for s in Severity}
        with self._reading() as session:
            day = _day(session, PostRow.fetched_at)
            stored = (PostRow.fetched_at >= since, PostRow.fetched_at < until)
            for when, platform, count in session.execute(
                select(day, PostRow.platform, func.count())
                .where(*stored)
                .group_by(day, PostRow.platform)
            ):
                _add(by_platform, platform, index, _as_date(when), count, len(days))
            for when, platform, count in session.execute(
                select(DailyCountRow.day, DailyCountRow.platform, func.sum(DailyCountRow.posts))
                .where(DailyCountRow.day >= first, DailyCountRow.day <= last)
                .group_by(DailyCountRow.day, DailyCountRow.platform)
            ):
                _add(by_platform, platform, index, _as_date(when), count, len(days))
            for when, severity, count in session.execute(
                select(day, ClassificationRow.severity, func.count())
                .join(ClassificationRow, ClassificationRow.post_id == PostRow.id)
                .where(*stored, ClassificationRow.label != FLAGGED_LABEL_SQL)
                .group_by(day, ClassificationRow.severity)
            ):
                _add(by_severity, severity, index, _as_date(when), count, len(days))
        return DailyCounts(days, dict(sorted(by_platform.items())), by_severity)

    def feedback_weeks(self, since: datetime) -> list[FeedbackWeek]:
        """Week by week since `since`, from the team's clicks in Slack: alerts resolved (right),
        marked "Not a complaint" (wrong), and complaints reported as missed. A reported miss is
        a label 1 whose post has no alert (or was never stored). Counted by day in SQL, so a
        year of clicks is a few hundred rows, not one per click."""
        with self._reading() as session:
            day = _day(session, FeedbackRow.created_at)
            alerted = AlertRow.id.is_not(None)
            rows = session.execute(
                select(day, FeedbackRow.label, alerted, func.count())
                .outerjoin(AlertRow, AlertRow.post_id == FeedbackRow.post_id)
                .where(FeedbackRow.origin == SLACK_ORIGIN, FeedbackRow.created_at >= since)
                .group_by(day, FeedbackRow.label, alerted)
            ).all()
        weeks: dict[date, list[int]] = {}
        for when, label, has_alert, count in rows:
            day_ = _as_date(when)
            counts = weeks.setdefault(day_ - timedelta(days=day_.weekday()), [0, 0, 0])
            kind = 1 if label == 0 else 0 if has_alert else 2
            counts[kind] += int(count)
        return [FeedbackWeek(week, *counts) for week, counts in sorted(weeks.items())]

    def sources(self, now: datetime) -> list[SourceHealth]:
        """Every source that has polled or recorded a state, with its newest stored post and
        its posts in the last 24 hours: indexed look-ups per source (sources are few, posts
        many), never a scan of the posts."""
        statuses = {status.source: status for status in SourceStatusStore(self.database).all()}
        with self._reading() as session:
            cursors = {
                source: (platform, saved_at)
                for source, platform, saved_at in session.execute(
                    select(
                        SourceCursorRow.source, SourceCursorRow.platform, SourceCursorRow.updated_at
                    )
                )
            }
            found = []
            for source in sorted(cursors.keys() | statuses.keys()):
                status = statuses.get(source)
                platform, saved_at = cursors.get(source, (status.platform if status else "", None))
                last = session.scalar(
                    select(func.max(PostRow.fetched_at)).where(PostRow.source == source)
                )
                recent = session.scalar(
                    select(func.count())
                    .select_from(PostRow)
                    .where(PostRow.source == source, PostRow.fetched_at >= now - timedelta(days=1))
                )
                found.append(
                    SourceHealth(source, platform, status, saved_at, _aware(last), int(recent or 0))
                )
        return found


# -- query pieces ----------------------------------------------------------------------------


def _summary_query() -> Select[*tuple[Any, ...]]:
    """Posts with their verdict and alert, newest first."""
    return (
        select(
            PostRow.id,
            PostRow.platform,
            PostRow.source,
            PostRow.external_id,
            PostRow.author_id,
            PostRow.author_handle,
            PostRow.author_name,
            PostRow.text,
            PostRow.url,
            PostRow.created_at,
            ClassificationRow.label,
            ClassificationRow.score,
            ClassificationRow.severity,
            AlertRow.state,
            AlertRow.status,
        )
        .outerjoin(ClassificationRow, ClassificationRow.post_id == PostRow.id)
        .outerjoin(AlertRow, AlertRow.post_id == PostRow.id)
        .order_by(PostRow.created_at.desc(), PostRow.id.desc())
    )


def _search_query(
    session: Session, search: Search, candidates: list[int] | None = None
) -> Select[*tuple[Any, ...]]:
    """`candidates`: the only posts that may match the words (`HistoryStore._candidates`)."""
    query = _summary_query()
    postgres = session.get_bind().dialect.name == "postgresql"
    for term in search.terms():
        if "\x00" in term:  # stored text holds none (`sanitize`); PostgreSQL refuses it as a value
            query = query.where(false())
            continue
        pattern = like_pattern(term)
        # ILIKE folds case on PostgreSQL; SQLite's LIKE folds ASCII case already, and its
        # `lower()` would fold no more. Either is the exact check of the text index's
        # candidates, and of every post where there are none.
        matches = (
            PostRow.text.ilike(pattern, escape="\\")
            if postgres
            else PostRow.text.like(pattern, escape="\\")
        )
        query = query.where(matches)
    if candidates is not None:
        query = query.where(PostRow.id.in_(candidates))
    if search.platform:
        query = query.where(PostRow.platform == search.platform)
    if search.source:
        query = query.where(PostRow.source == search.source)
    if search.label:
        query = query.where(ClassificationRow.label == search.label)
    if search.severity:
        query = query.where(ClassificationRow.severity == search.severity)
    if search.author.strip():
        query = query.where(PostRow.author_key == handle_key(search.author))
    if search.alert_state == NO_ALERT:
        # The join's own column: PostgreSQL turns the outer join into an anti-join and counts
        # the rows it keeps; on `alerts.id` it estimated one row and sorted every post with the
        # word ("no alert + canada": 0.5-1.3 s instead of 2 ms).
        query = query.where(AlertRow.post_id.is_(None))
    elif search.alert_state:
        query = query.where(AlertRow.state == search.alert_state)
    if search.since is not None:
        query = query.where(PostRow.created_at >= search.since)
    if search.until is not None:
        query = query.where(PostRow.created_at < search.until)
    return query


def _trigrams(terms: Sequence[str]) -> dict[str, None]:
    """Every run of three characters in the words, each once, in order (FTS5's trigram
    tokenizer indexes a text as these, case folded: the query is folded the same way)."""
    return dict.fromkeys(term[n : n + TRIGRAM] for term in terms for n in range(len(term) - 2))


def like_pattern(term: str) -> str:
    """`%term%` with the term's own `%`, `_` and `\\` matched literally (ESCAPE '\\')."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _summary(row: Sequence[object]) -> PostSummary:
    return PostSummary(*row)  # type: ignore[arg-type]  # columns in the dataclass's order


def _alert_history(session: Session, alert: AlertRow) -> AlertHistory:
    events = session.execute(
        select(
            AlertEventRow.action,
            AlertEventRow.user_id,
            AlertEventRow.user_name,
            AlertEventRow.created_at,
        )
        .where(AlertEventRow.alert_id == alert.id)
        .order_by(AlertEventRow.created_at, AlertEventRow.id)
    ).all()
    return AlertHistory(
        alert_id=alert.id,
        status=alert.status,
        state=alert.state,
        channel=alert.channel,
        slack_ts=alert.slack_ts,
        sent_at=alert.sent_at,
        attempts=alert.attempts,
        last_error=alert.last_error,
        topic=alert.topic,
        claimed_by=_person(alert.claimed_by, alert.claimed_by_name),
        claimed_at=alert.claimed_at,
        resolved_by=_person(alert.resolved_by, alert.resolved_by_name),
        resolved_at=alert.resolved_at,
        escalated_at=alert.escalated_at,
        events=[
            AlertEvent(action, _person(user_id, name), at) for action, user_id, name, at in events
        ],
    )


def _person(user_id: str | None, name: str | None) -> Person | None:
    return Person(user_id, name) if user_id else None


def _day(session: Session, column: SQLColumnExpression[datetime]) -> ColumnElement[object]:
    """The UTC calendar day of a stored time: SQLite keeps UTC text, PostgreSQL a timestamptz
    whose date depends on the session's time zone unless converted first."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _aware(value: object) -> datetime | None:
    """`max()` over a column loses the column's type on SQLite (it returns the stored text)."""
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _add(
    series: dict[str, list[int]],
    key: str,
    index: dict[date, int],
    day: date,
    count: object,
    length: int,
) -> None:
    position = index.get(day)
    if position is not None:
        series.setdefault(key, [0] * length)[position] += int(count or 0)  # type: ignore[call-overload]
