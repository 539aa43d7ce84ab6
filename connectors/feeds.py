"""Any RSS, Atom or JSON feed: Reddit without an approved API app, app-store reviews, status
pages, Google Alerts, a blog's comments.

Each URL is fetched with requests (a timeout, a deadline, at most `max_bytes`), conditionally:
the ``ETag`` and ``Last-Modified`` it sent last time go back as ``If-None-Match`` and
``If-Modified-Since``, so an unchanged feed answers 304 and costs nothing. The body goes to
feedparser (RSS and Atom in every dialect) or, for JSON Feed, to `_feeds_entries.json_feed`.

Feeds have no order to trust and no ``since``: an entry is new when its key (its id, else its
link) is not among the keys the cursor keeps for that URL. So a feed that shrinks, reorders or
republishes an entry posts nothing again; an entry edited in place keeps its id and is not
posted twice. The keys of every entry still in the feed are always kept (so a long feed never
repeats itself), older ones up to `MAX_SEEN`. A URL's first poll posts the entries published in
the last `backfill_seconds` and only remembers the others.

New entries come out oldest first, `max_posts_per_poll` at most; when a URL had more, its
validators are not advanced, so the next poll fetches it whole again and posts the rest.

One URL failing does not stop the others: its failure is logged on change (`Health`), a 429
pauses that URL until its ``Retry-After``, and only when no URL could be read does the poll
raise (the source backs off, or pauses and tells the team for a 4xx).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import feedparser
from pydantic import Field, field_validator

from connectors._feeds_entries import Entry, is_reddit, json_feed, seen_key, to_entry
from connectors._web import Http, Reply
from connectors.base import Connector, CursorState, Fetched, SourceSettings
from monitor.brand import BrandSettings
from monitor.clock import Clock
from monitor.errors import ConfigError, MonitorError, SourceError, TransientError
from monitor.health import Health

log = logging.getLogger(__name__)

__all__ = ["FeedConnector", "FeedCursor", "FeedSettings", "FeedState"]

MAX_SEEN = 2000
"""Keys kept per URL beyond those still in the feed."""
_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)


class FeedSettings(SourceSettings):
    """One ``[[sources]]`` table with ``type = "feed"``."""

    type: Literal["feed"]
    urls: list[str] = Field(min_length=1)
    interval_seconds: float = Field(default=300.0, ge=30, le=86_400)
    """Feeds change slowly and Reddit throttles anonymous readers: every 5 minutes."""
    platform: str = Field(default="", max_length=32)
    """What the posts are filed under; default ``reddit`` for Reddit's feeds (the same ids as
    the Reddit connector's, so a post read by both is stored once), else ``feed``."""
    user_agent: str = Field(default="complaint-monitor/0.1 (feed reader)", min_length=1)
    """Reddit refuses generic agents: name your app and contact."""
    max_posts_per_poll: int = Field(default=200, ge=1)
    backfill_seconds: float = Field(default=86_400.0, ge=0)
    """A URL's first poll posts entries published this recently (0: none, only later ones)."""
    max_bytes: int = Field(default=5_000_000, ge=10_000, le=200_000_000)
    """Largest feed body read (after decompression); a larger one is refused, not cut."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    notices: bool = False
    """A status page's feed: each new entry is posted to the team as a notice ("status page:
    ..."), stored, never judged as a complaint or alerted, whether or not it names the brand."""

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, values: list[str]) -> list[str]:
        urls = [value.strip() for value in values]
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{url!r} is not an http(s) URL")
        return list(dict.fromkeys(urls))

    def platform_of(self, url: str) -> str:
        return self.platform or ("reddit" if is_reddit(url) else "feed")


@dataclass(frozen=True, slots=True)
class FeedState:
    """One URL: the keys read (`seen_key`, oldest first) and the validators it sent."""

    seen: list[str] = field(default_factory=list)
    etag: str | None = None
    modified: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedCursor(CursorState):
    feeds: dict[str, FeedState] = field(default_factory=dict)
    """By URL; a URL removed from the config is forgotten."""


@dataclass(slots=True)
class _Read:
    """What one URL gave this poll."""

    url: str
    index: int
    state: FeedState
    etag: str | None = None
    modified: str | None = None
    present: set[str] = field(default_factory=set)
    """Keys (`seen_key`) of every entry in the feed now."""
    remembered: list[str] = field(default_factory=list)
    """Keys to keep without posting (too old on a first poll)."""
    returned: list[str] = field(default_factory=list)
    changed: bool = False
    """False for a 304: the state stays as it was."""
    cut: bool = False
    """Some new entries wait for the next poll (keep the old validators)."""


@dataclass(slots=True)
class _New:
    entry: Entry
    reads: list[_Read]
    position: int


class FeedConnector(Connector[FeedSettings, FeedCursor]):
    kind = "feed"
    settings_class = FeedSettings
    cursor_class = FeedCursor
    requires = {"feedparser": "feeds", "bs4": "feeds"}

    def __init__(
        self, settings: FeedSettings, brand: BrandSettings, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, brand, clock)
        self._http = Http(
            timeout=settings.timeout_seconds,
            max_bytes=settings.max_bytes,
            user_agent=settings.user_agent,
            clock=self.clock,
            platform="the feed",
        )
        self._health = {
            url: Health(f"source={self.name} feed {n} ({urlsplit(url).hostname})", log, self.clock)
            for n, url in enumerate(settings.urls, 1)
        }
        self._resume_at: dict[str, float] = {}
        """URL -> monotonic time its 429 pause ends."""

    @property
    def informational(self) -> bool:
        return self.settings.notices

    # -- fetch ----------------------------------------------------------------------------

    def fetch(self, cursor: FeedCursor | None) -> Fetched[FeedCursor]:
        states = dict(cursor.feeds) if cursor else {}
        now = self.clock.now()
        reads: list[_Read] = []
        new: dict[tuple[str, str], _New] = {}
        failures: list[tuple[str, MonitorError]] = []
        for index, url in enumerate(self.settings.urls):
            read = _Read(url, index, states.get(url) or FeedState())
            try:
                entries = self._entries(url, read)
            except (SourceError, ConfigError) as err:
                failures.append((url, err))
                continue
            reads.append(read)
            self._health[url].recover()
            first = url not in states
            seen = set(read.state.seen)
            for position, entry in enumerate(entries):
                key = seen_key(entry.key)
                read.present.add(key)
                if key in seen:
                    continue
                if first and (entry.when is None or entry.when < self._backfill_floor(now)):
                    read.remembered.append(key)
                    continue
                found = new.setdefault(entry.post.key, _New(entry, [], position))
                found.reads.append(read)
        if failures and not reads:
            self._give_up(failures)
        for url, failure in failures:
            self._failed(url, failure)
        taken, more = self._take(new, now)
        posts = [item.entry.post for item in taken]
        return Fetched(posts, self._next_cursor(states, reads), more)

    def _backfill_floor(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.settings.backfill_seconds)

    def _take(self, new: Mapping[tuple[str, str], _New], now: datetime) -> tuple[list[_New], bool]:
        """The new entries oldest first, up to the cap (undated ones in feed order: a feed lists
        newest first), and whether more wait; marks what each URL returned or left for later."""
        ordered = sorted(
            new.values(),
            key=lambda n: (n.entry.when or now, n.reads[0].index, -n.position),
        )
        cap = self.settings.max_posts_per_poll
        taken = ordered[:cap]
        for item in taken:
            for read in item.reads:
                read.returned.append(seen_key(item.entry.key))
        for item in ordered[cap:]:
            for read in item.reads:
                read.cut = True
        return taken, len(ordered) > cap

    def _next_cursor(self, states: Mapping[str, FeedState], reads: Iterable[_Read]) -> FeedCursor:
        feeds = {url: states[url] for url in self.settings.urls if url in states}
        for read in reads:
            if not read.changed:
                continue
            seen = [*read.state.seen, *read.remembered, *read.returned]
            feeds[read.url] = FeedState(
                seen=_trimmed(seen, read.present),
                etag=read.state.etag if read.cut else read.etag,
                modified=read.state.modified if read.cut else read.modified,
            )
        return FeedCursor(feeds=feeds)

    # -- one URL --------------------------------------------------------------------------

    def _entries(self, url: str, read: _Read) -> list[Entry]:
        """The URL's entries (none after a 304); raises `TransientError` or `ConfigError`."""
        resume_at = self._resume_at.get(url)
        if resume_at is not None:
            wait = resume_at - self.clock.monotonic()
            if wait > 0:
                raise TransientError(
                    f"feed {read.index + 1} is rate-limited for {wait:.0f}s more",
                    retry_after=wait,
                )
            del self._resume_at[url]
        what = f"feed {read.index + 1}, {urlsplit(url).hostname}"
        headers = {"Accept": _ACCEPT}
        if read.state.etag:
            headers["If-None-Match"] = read.state.etag
        if read.state.modified:
            headers["If-Modified-Since"] = read.state.modified
        try:
            reply = self._http.get(url, headers=headers, what=what)
        except TransientError as err:
            if err.retry_after:
                self._resume_at[url] = self.clock.monotonic() + err.retry_after
            raise
        if reply.status == 304:
            return []
        if reply.status != 200:
            raise ConfigError(self._refused(url, reply, what))
        read.changed = True
        read.etag = reply.headers.get("etag") or None
        read.modified = reply.headers.get("last-modified") or None
        return self._parse(url, reply, what)

    def _parse(self, url: str, reply: Reply, what: str) -> list[Entry]:
        platform = self.settings.platform_of(url)
        now = self.clock.now()
        content_type = reply.headers.get("content-type", "")
        if "json" in content_type or reply.body.lstrip()[:1] == b"{":
            parsed_json = json_feed(reply.body)
            if parsed_json is None:
                raise TransientError(f"{what} sent JSON that is not a JSON Feed (jsonfeed.org)")
            head, items = parsed_json
            return [to_entry(item, head, url, platform, now) for item in items]
        parsed: Any = feedparser.parse(
            reply.body,
            response_headers={
                "content-type": content_type or "application/xml",
                "content-location": reply.url,
            },
            # The HTML becomes plain text here (scripts dropped, links as their text), so
            # feedparser's sanitiser and link rewriting would be a second parse for nothing.
            sanitize_html=False,
            resolve_relative_uris=False,
        )
        if not parsed.entries and (parsed.bozo or not parsed.version):
            problem = type(parsed.get("bozo_exception")).__name__ if parsed.bozo else "no feed"
            raise TransientError(
                f"{what} is not a feed ({problem}; an HTML page may mean a block or a login page)"
            )
        return [to_entry(raw, parsed.feed, url, platform, now) for raw in parsed.entries]

    def _refused(self, url: str, reply: Reply, what: str) -> str:
        if reply.status in (401, 403) and is_reddit(url):
            return (
                f"Reddit refused {what} (HTTP {reply.status}): it blocks generic user agents and "
                "some networks; set user_agent to name your app and contact"
            )
        if reply.status in (404, 410):
            return f"{what}: no feed at this URL (HTTP {reply.status}); fix urls"
        return f"{what} was refused with HTTP {reply.status}; check urls"

    # -- failures -------------------------------------------------------------------------

    def _failed(self, url: str, err: MonitorError, *, quiet: bool = False) -> None:
        state = "rate_limited" if getattr(err, "retry_after", None) else "failing"
        self._health[url].fail(
            state,
            str(err),
            lambda outage: (
                f"{self._health[url].subject} {outage.state}: {outage.error}; the other feeds go on"
            ),
            quiet=quiet,
        )

    def _give_up(self, failures: list[tuple[str, MonitorError]]) -> None:
        """No URL could be read: the source fails with the most telling error (the soonest
        rate-limit reset, else the first), logged once by the source's own health."""
        for url, err in failures:
            self._failed(url, err, quiet=True)
        errors = [err for _url, err in failures]
        limited = [e for e in errors if isinstance(e, TransientError) and e.retry_after]
        if limited and len(limited) == len(errors):
            raise min(limited, key=lambda e: e.retry_after or 0.0)
        raise next((e for e in errors if not isinstance(e, TransientError)), errors[0])

    def check_credentials(self) -> str:
        """Feeds need no credentials: fetch each URL once (unconditionally) and say what came."""
        answered: list[str] = []
        failures: list[tuple[str, MonitorError]] = []
        for index, url in enumerate(self.settings.urls):
            try:
                entries = self._entries(url, _Read(url, index, FeedState()))
            except (SourceError, ConfigError) as err:
                failures.append((url, err))
                continue
            answered.append(f"feed {index + 1}: {len(entries)} entries")
        if not answered:
            self._give_up(failures)
        refused = [f"feed {self.settings.urls.index(url) + 1}: {err}" for url, err in failures]
        return "no credentials needed; " + "; ".join(answered + refused)

    def close(self) -> None:
        self._http.close()


def _trimmed(seen: list[str], present: set[str]) -> list[str]:
    """`seen` without repeats (the last place kept), at most `MAX_SEEN` beyond `present`."""
    unique = list(dict.fromkeys(reversed(seen)))[::-1]
    spare = len(unique) - len(present) - MAX_SEEN
    if spare <= 0:
        return unique
    kept: list[str] = []
    for key in unique:
        if spare > 0 and key not in present:
            spare -= 1
            continue
        kept.append(key)
    return kept
