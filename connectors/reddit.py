"""Reddit through praw: new posts and comments in subreddits, site-wide search, inbox mentions.

Reddit listings are newest first and have no ``since_id``. Each listing keeps, in the cursor, a
`SeenWindow`: the newest ``created_utc`` it has stored and the fullnames stored at or after
``newest - lookback_seconds``. A poll reads a listing page by page until it meets an item older
than that floor; items in a seen set are skipped. Nothing hangs on one anchor post, so a post
deleted or edited between polls changes nothing, and the lookback catches posts that Reddit lists
late (search indexing, posts approved from the spam filter) without repeating the ones already
stored.

praw must never hold the scheduler for long: every HTTP call goes through `_reddit_http`'s
`Requestor` and `RateBudget` (no sleeps, our timeout, 5xx and 429 fail fast). `_reddit_posts`
turns an item into a `Post`. What stays here (about 470 lines, a quarter of it the settings and
their validation) is the poll and its per-listing cursor, kept together so the reading order can
be followed top to bottom.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import praw
import prawcore
import requests
from praw.models import ListingGenerator
from pydantic import Field, ValidationInfo, field_validator, model_validator

from connectors._reddit_http import (
    FEED_ALTERNATIVE,
    Credentials,
    RateBudget,
    Requestor,
    float_or_none,
    reason,
    translate,
)
from connectors._reddit_posts import default_search_query, edited_at, to_post
from connectors.base import (
    Connector,
    CursorState,
    Fetched,
    SeenWindow,
    SourceSettings,
    http_base_url,
)
from monitor.brand import BrandMatcher, BrandSettings
from monitor.clock import Clock
from monitor.errors import ConfigError
from monitor.models import Post
from monitor.settings_base import secrets_required

log = logging.getLogger(__name__)

__all__ = ["RedditConnector", "RedditCursor", "RedditSettings", "default_search_query"]

PAGE_SIZE = 100
"""Reddit's largest page."""
MAX_SEEN = 1000
"""Fullnames kept per listing; more than this inside the lookback window may be read again
(storage drops the repeats)."""
UNREADABLE_RECHECK = timedelta(hours=6)
"""A private, quarantined or banned subreddit is tried again this often (it may reopen)."""

_USER_AGENT = re.compile(
    r"(?P<platform>[A-Za-z0-9][\w.\-]*):(?P<app>[A-Za-z0-9][\w.\-]*):(?P<version>v?\d[\w.\-]*)"
    r" \(by /?u/(?P<user>[\w\-]{3,20})\)"
)
_PLACEHOLDERS = frozenset(
    {
        "app", "appid", "app_id", "my_app", "myapp", "my-app", "yourapp", "your_app", "example",
        "test", "bot", "script", "praw", "reddit", "user", "username", "your_username",
        "yourusername", "someuser", "me", "platform",
    }
)  # fmt: skip
_USER_AGENT_HINT = (
    'user_agent must follow Reddit\'s format "<platform>:<app id>:<version> (by u/<username>)", '
    'e.g. "linux:com.acme.complaint-monitor:0.1.0 (by u/acme_support)"; Reddit throttles or '
    "blocks generic ones"
)
_SUBREDDIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{1,20}")


class RedditSettings(SourceSettings):
    """One ``[[sources]]`` table with ``type = "reddit"``."""

    type: Literal["reddit"]
    client_id_env: str = Field(default="REDDIT_CLIENT_ID", min_length=1)
    client_secret_env: str = Field(default="REDDIT_CLIENT_SECRET", min_length=1)
    username_env: str = Field(default="REDDIT_USERNAME", min_length=1)
    """The brand's account (a "script" app's developer); only read when `mentions` is on."""
    password_env: str = Field(default="REDDIT_PASSWORD", min_length=1)
    user_agent: str = Field(default="", validate_default=True)
    """Required, Reddit's format: ``<platform>:<app id>:<version> (by u/<username>)``."""
    subreddits: list[str] = Field(default_factory=list)
    """New posts (and comments) there, kept when they match the brand's terms."""
    include_comments: bool = True
    """Also read each subreddit's new comments."""
    search: bool | list[str] = True
    """Site-wide search, newest first: true searches for the brand's terms, or give queries."""
    search_comments: bool = False
    """Also search comments (``type=comment``) with the same queries."""
    search_subreddits: list[str] = Field(default_factory=list)
    """Run the searches inside these subreddits (``restrict_sr``) instead of site-wide."""
    mentions: bool = False
    """Username mentions of the brand's account (needs `username_env` and `password_env`)."""
    oauth_url: str = "https://oauth.reddit.com"
    reddit_url: str = "https://www.reddit.com"
    timeout_seconds: float = Field(default=10.0, ge=1, le=120)
    """Seconds per HTTP request (praw 8's own `timeout` setting never reaches prawcore)."""
    limit: int = Field(default=1000, ge=1, le=10_000)
    """Most items read from one listing in one poll (Reddit itself stops near 1000)."""
    max_posts_per_poll: int = Field(default=500, ge=1)
    """Posts returned per poll; the rest follow at once on the next poll (oldest first)."""
    lookback_seconds: float = Field(default=300.0, ge=0, le=86_400)
    """Re-read this far below the newest stored item, for posts Reddit lists late."""
    backfill_seconds: float = Field(default=86_400.0, ge=0)
    """On a listing's first poll, items this recent are read (0: start from now)."""

    @field_validator("user_agent")
    @classmethod
    def _reddit_user_agent(cls, value: str) -> str:
        value = value.strip()
        found = _USER_AGENT.fullmatch(value)
        if not found:
            raise ValueError(_USER_AGENT_HINT)
        generic = [
            part
            for part in ("app", "user")
            if found[part].lower() in _PLACEHOLDERS or "example" in found[part].lower()
        ]
        if generic:
            looks = "parts look" if len(generic) > 1 else "part looks"
            raise ValueError(f"{_USER_AGENT_HINT} (the {' and '.join(generic)} {looks} generic)")
        return value

    @field_validator("subreddits", "search_subreddits")
    @classmethod
    def _subreddit_names(cls, values: list[str]) -> list[str]:
        names: dict[str, str] = {}
        for raw in values:
            name = raw.strip().removeprefix("/").removeprefix("r/").strip("/")
            if not _SUBREDDIT.fullmatch(name):
                raise ValueError(f"{raw!r} is not a subreddit name (letters, digits, _)")
            names.setdefault(name.lower(), name)
        return list(names.values())

    @field_validator("search")
    @classmethod
    def _queries(cls, value: bool | list[str]) -> bool | list[str]:
        if isinstance(value, list):
            queries = [q.strip() for q in value]
            if not all(queries):
                raise ValueError("search queries must not be empty")
            return queries
        return value

    @field_validator("oauth_url", "reddit_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_base_url(value, "https://oauth.reddit.com")

    @model_validator(mode="after")
    def _ready_to_run(self, info: ValidationInfo) -> RedditSettings:
        """Fail at start-up, naming the variable, rather than at the first poll."""
        if not self.enabled:
            return self
        if not (self.subreddits or self.search or self.mentions):
            raise ValueError("nothing to read: set subreddits, search or mentions = true")
        if not secrets_required(info):
            return self  # a command that never fetches (`stats`, `replay`) needs no login
        needed = [("client_id", self.client_id_env), ("client_secret", self.client_secret_env)]
        if self.mentions:
            needed += [("username", self.username_env), ("password", self.password_env)]
        for key, variable in needed:
            if self.secret(key) is None:
                login = key in ("username", "password")
                why = " (mentions need the brand account's login)" if login else ""
                alternative = "" if login else f". {FEED_ALTERNATIVE}"
                raise ValueError(
                    f"environment variable {variable} is not set{why}: set it, or point "
                    f"{key}_env at the variable that holds the Reddit {key.replace('_', ' ')}"
                    f"{alternative}"
                )
        return self

    @property
    def password_grant(self) -> bool:
        """Mentions read the account's inbox, which needs a user token, not an app token."""
        return self.mentions


@dataclass(frozen=True, slots=True)
class _Listing:
    key: str
    """Stable name in the cursor, e.g. ``r/acme/new``."""
    path: str
    params: dict[str, str | int]
    subreddit: str | None = None
    """For subreddit listings: a 403 or 404 skips this subreddit only."""
    prefilter: bool = False
    """Keep only items that match the brand (subreddit listings carry everything)."""


@dataclass(slots=True)
class _Item:
    fullname: str
    created: float
    post: Post | None
    """None for an item the prefilter dropped (it still moves the cursor)."""
    listings: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Unreadable:
    reason: str
    recheck_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RedditCursor(CursorState):
    listings: dict[str, SeenWindow] = field(default_factory=dict)
    """By listing key (``r/acme/new``, ``search:acme``...); a listing removed from the config is
    forgotten."""


class RedditConnector(Connector[RedditSettings, RedditCursor]):
    kind = "reddit"
    settings_class = RedditSettings
    cursor_class = RedditCursor
    requires = {"praw": "reddit"}

    def __init__(
        self, settings: RedditSettings, brand: BrandSettings, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, brand, clock)
        # Subreddit listings carry everything posted there, so they are filtered by brand here,
        # although the pipeline filters every post again: off-brand items must not count
        # toward max_posts_per_poll (they still move the cursor).
        self.matcher = BrandMatcher(brand)
        self.listings = self._listings()
        self._unreadable: dict[str, _Unreadable] = {}
        self._budget = RateBudget(self.clock)
        self._http = requests.Session()
        self.reddit = self._client()

    # -- set-up ---------------------------------------------------------------------------

    def _client(self) -> praw.Reddit:
        s = self.settings

        def secret(name: str) -> str | None:
            value = s.secret(name)
            return value.get_secret_value() if value is not None else None

        if secret("client_id") is None or secret("client_secret") is None:
            raise ConfigError(
                f"source {self.name}: set {s.client_id_env} and {s.client_secret_env}. "
                f"{FEED_ALTERNATIVE}"
            )
        return praw.Reddit(
            client_id=secret("client_id"),
            client_secret=secret("client_secret"),
            # Passed even when None so a praw.ini or praw_* variable cannot switch accounts.
            username=secret("username") if s.password_grant else None,
            password=secret("password") if s.password_grant else None,
            refresh_token=None,
            user_agent=s.user_agent,
            oauth_url=s.oauth_url,
            reddit_url=s.reddit_url,
            check_for_updates=False,  # otherwise praw asks the package index at start-up
            check_for_async=False,  # we run in scheduler threads, not an event loop
            requestor_class=Requestor,
            requestor_kwargs={
                "budget": self._budget,
                "session": self._http,
                "timeout": s.timeout_seconds,
            },
        )

    def _listings(self) -> list[_Listing]:
        s = self.settings
        listings: list[_Listing] = []
        for sub in s.subreddits:
            listings.append(_Listing(f"r/{sub}/new", f"r/{sub}/new", {}, sub, prefilter=True))
            if s.include_comments:
                listings.append(
                    _Listing(f"r/{sub}/comments", f"r/{sub}/comments", {}, sub, prefilter=True)
                )
        if s.search:
            queries = s.search if isinstance(s.search, list) else [default_search_query(self.brand)]
            kinds = ["link", "comment"] if s.search_comments else ["link"]
            for query in queries:
                for kind in kinds:
                    params: dict[str, str | int] = {
                        "q": query,
                        "sort": "new",
                        "t": "all",
                        "type": kind,
                    }
                    suffix = "" if kind == "link" else ":comments"
                    if s.search_subreddits:
                        for sub in s.search_subreddits:
                            listings.append(
                                _Listing(
                                    f"r/{sub}/search:{query}{suffix}",
                                    f"r/{sub}/search",
                                    params | {"restrict_sr": "on"},
                                    sub,
                                )
                            )
                    else:
                        listings.append(_Listing(f"search:{query}{suffix}", "search", params))
        if s.mentions:
            listings.append(_Listing("mentions", "message/mentions", {}))
        return listings

    # -- fetch ----------------------------------------------------------------------------

    def fetch(self, cursor: RedditCursor | None) -> Fetched[RedditCursor]:
        windows = dict(cursor.listings) if cursor else {}
        known: set[str] = set()
        for stored in windows.values():
            known.update(stored.seen)
        now = self.clock.now()
        first_floor = now.timestamp() - self.settings.backfill_seconds
        found: dict[str, _Item] = {}
        for listing in self.listings:
            if not self._readable(listing, now):
                continue
            window = windows.get(listing.key)
            try:
                items = list(self._scan(listing, window, known, first_floor))
            except prawcore.PrawcoreException as err:
                if listing.subreddit and self._skip_subreddit(listing, err, now):
                    continue
                raise translate(err, self._credentials, listing.key) from err
            self._recovered(listing)
            if window is None:
                windows[listing.key] = SeenWindow(newest=first_floor)
            for item in items:
                found.setdefault(item.fullname, item).listings.add(listing.key)
        posts, more, read = self._consume(found)
        return Fetched(posts, self._next_cursor(windows, read), more)

    def _scan(
        self, listing: _Listing, window: SeenWindow | None, known: set[str], first_floor: float
    ) -> Iterator[_Item]:
        """New items of one listing, newest first, down to the floor (pages fetched lazily)."""
        floor = first_floor if window is None else window.floor(self.settings.lookback_seconds)
        limit = self.settings.limit
        generator = ListingGenerator(
            self.reddit,
            listing.path,
            limit=limit,
            params=dict(listing.params),
            request_limit=min(PAGE_SIZE, limit),
        )
        read = 0
        reached_floor = False
        for thing in generator:
            read += 1
            data = vars(thing)  # never getattr: a missing attribute makes praw fetch the item
            fullname, created = (
                str(data.get("name", "")),
                float_or_none(str(data.get("created_utc"))),
            )
            if not fullname or created is None:
                continue
            if created < floor:
                reached_floor = True
                break
            if fullname in known and edited_at(data) is None:
                continue  # an edited one is read again: the pipeline judges a changed text
            yield _Item(fullname, created, self._on_brand(to_post(data), listing))
        if window is not None and read >= limit and not reached_floor:
            log.warning(
                "source=%s %s: read %d items without reaching the last stored one; older new "
                "items are skipped. Raise limit or poll more often",
                self.name,
                listing.key,
                read,
            )

    def _on_brand(self, post: Post, listing: _Listing) -> Post | None:
        return None if listing.prefilter and not self.matcher.matches(post.text) else post

    def _consume(
        self, found: Mapping[str, _Item]
    ) -> tuple[list[Post], bool, dict[str, list[tuple[str, float]]]]:
        """Oldest first up to the per-poll cap; the cursor moves over exactly what is returned
        (and the prefiltered items among them): the (fullname, created) read, by listing."""
        posts: list[Post] = []
        more = False
        read: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for item in sorted(found.values(), key=lambda i: (i.created, i.fullname)):
            if item.post is not None:
                if len(posts) >= self.settings.max_posts_per_poll:
                    more = True
                    break
                posts.append(item.post)
            for key in item.listings:
                read[key].append((item.fullname, item.created))
        return posts, more, read

    def _next_cursor(
        self, windows: Mapping[str, SeenWindow], read: Mapping[str, list[tuple[str, float]]]
    ) -> RedditCursor:
        lookback = self.settings.lookback_seconds
        return RedditCursor(
            listings={
                listing.key: windows[listing.key].advanced(
                    read.get(listing.key, ()), lookback=lookback, keep=MAX_SEEN
                )
                for listing in self.listings
                if listing.key in windows
            }
        )

    # -- errors ---------------------------------------------------------------------------

    def _readable(self, listing: _Listing, now: datetime) -> bool:
        if listing.subreddit is None:
            return True
        known = self._unreadable.get(listing.subreddit.lower())
        return known is None or now >= known.recheck_at

    def _skip_subreddit(
        self, listing: _Listing, err: prawcore.PrawcoreException, now: datetime
    ) -> bool:
        """403/404/redirect on a subreddit: skip it, keep the others, log when that changes."""
        assert listing.subreddit is not None
        if not isinstance(err, prawcore.Forbidden | prawcore.NotFound | prawcore.Redirect):
            return False
        why = reason(err)
        sub = listing.subreddit.lower()
        before = self._unreadable.get(sub)
        self._unreadable[sub] = _Unreadable(why, now + UNREADABLE_RECHECK)
        if before is None or before.reason != why:
            log.warning(
                "source=%s r/%s cannot be read (%s); skipping it, the other listings go on, "
                "retrying every %s",
                self.name,
                listing.subreddit,
                why,
                UNREADABLE_RECHECK,
            )
        return True

    @property
    def _credentials(self) -> Credentials:
        s = self.settings
        return Credentials(
            s.client_id_env, s.client_secret_env, s.username_env, s.password_env, s.password_grant
        )

    def _recovered(self, listing: _Listing) -> None:
        if listing.subreddit and self._unreadable.pop(listing.subreddit.lower(), None):
            log.info("source=%s r/%s can be read again", self.name, listing.subreddit)

    # -- the rest of the interface ----------------------------------------------------------

    def check_credentials(self) -> str:
        """One cheap call that needs a token: ``/api/v1/me`` for the account, else a search."""
        try:
            if self.settings.password_grant:
                me = self.reddit.user.me()
                return f"authenticated as u/{me}"
            params: dict[str, str | int] = {"q": self.brand.name, "sort": "new"}
            list(ListingGenerator(self.reddit, "search", limit=1, params=params))  # one request
            return f"authenticated as app {self.settings.client_id_env} (read-only)"
        except prawcore.PrawcoreException as err:
            raise translate(err, self._credentials, None) from err

    def close(self) -> None:
        self._http.close()
