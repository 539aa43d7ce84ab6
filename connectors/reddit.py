"""Reddit through praw: new posts and comments in subreddits, site-wide search, inbox mentions.

Reddit listings are newest first and have no ``since_id``. Each listing keeps, in the cursor, the
newest ``created_utc`` it has stored and the fullnames stored at or after ``newest -
lookback_seconds``. A poll reads a listing page by page until it meets an item older than that
floor; items in a seen set are skipped. Nothing hangs on one anchor post, so a post deleted or
edited between polls changes nothing, and the lookback catches posts that Reddit lists late (search
indexing, posts approved from the spam filter) without repeating the ones already stored.

praw must never hold the scheduler for long, so every HTTP call goes through `_Requestor` (praw's
documented ``requestor_class`` hook). It enforces our timeout, fails fast on 5xx and connection
errors instead of letting prawcore retry with sleeps, and keeps the ``x-ratelimit-*`` budget
itself: when it is spent, the next call raises `TransientError` until the reset instead of letting
prawcore sleep up to ten minutes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import praw
import prawcore
import requests
from praw.models import ListingGenerator
from pydantic import Field, field_validator, model_validator

from connectors.base import Connector
from monitor.clock import Clock
from monitor.config import BrandSettings, SourceSettings
from monitor.errors import AuthError, ConfigError, TransientError
from monitor.matching import BrandMatcher
from monitor.models import Author, Cursor, FetchResult, Post

log = logging.getLogger(__name__)

WEB_URL = "https://www.reddit.com"
"""Links for people always point at the website, whatever `reddit_url` the API calls use."""
PAGE_SIZE = 100
"""Reddit's largest page."""
MAX_SEEN = 1000
"""Fullnames kept per listing; more than this inside the lookback window may be read again
(storage drops the repeats)."""
UNREADABLE_RECHECK = timedelta(hours=6)
"""A private, quarantined or banned subreddit is tried again this often (it may reopen)."""
TOKEN_PATH = "/api/v1/access_token"
CURSOR_VERSION = 1

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
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL such as https://oauth.reddit.com")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _ready_to_run(self) -> RedditSettings:
        """Fail at start-up, naming the variable, rather than at the first poll."""
        if not self.enabled:
            return self
        if not (self.subreddits or self.search or self.mentions):
            raise ValueError("nothing to read: set subreddits, search or mentions = true")
        needed = [("client_id", self.client_id_env), ("client_secret", self.client_secret_env)]
        if self.mentions:
            needed += [("username", self.username_env), ("password", self.password_env)]
        for key, variable in needed:
            if self.secret(key) is None:
                why = (
                    " (mentions need the brand account's login)"
                    if key in ("username", "password")
                    else ""
                )
                raise ValueError(
                    f"environment variable {variable} is not set{why}: set it, or point "
                    f"{key}_env at the variable that holds the Reddit {key.replace('_', ' ')}"
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
class _Position:
    newest: float
    seen: dict[str, float] = field(default_factory=dict)
    """Fullname -> created_utc, for items at or after ``newest - lookback``."""


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


class _RateBudget:
    """Reddit's ``x-ratelimit-*`` budget, read from every API response.

    prawcore would sleep inside the call when the budget is spent (up to the ten-minute reset)
    and pace calls with sleeps of up to 10 s; a scheduler thread must not. So the requestor takes
    the headers away from prawcore, and a call made while the budget is spent raises
    `TransientError` with the seconds to the reset instead.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.remaining: float | None = None
        self.reset_at: datetime | None = None

    def check(self) -> None:
        if self.remaining is None or self.remaining >= 1 or self.reset_at is None:
            return
        wait = (self.reset_at - self.clock.now()).total_seconds()
        if wait > 0:
            raise TransientError(
                f"Reddit's rate limit is spent; it resets in {wait:.0f}s", retry_after=wait
            )

    def take(self, headers: MutableMapping[str, str]) -> None:
        remaining = headers.pop("x-ratelimit-remaining", None)
        headers.pop("x-ratelimit-used", None)
        reset = headers.pop("x-ratelimit-reset", None)
        if remaining is None:
            if self.remaining is not None:
                self.remaining -= 1
            return
        try:
            self.remaining = float(remaining)
            self.reset_at = self.clock.now() + timedelta(seconds=float(reset or 0))
        except ValueError:
            self.remaining = self.reset_at = None

    def seconds_to_reset(self) -> float | None:
        if self.reset_at is None:
            return None
        return max(0.0, (self.reset_at - self.clock.now()).total_seconds())

    def spent(self, seconds: float) -> None:
        self.remaining = 0
        self.reset_at = self.clock.now() + timedelta(seconds=seconds)


class _Requestor(prawcore.Requestor):
    """praw's HTTP layer, made to answer quickly: see the module docstring."""

    def __init__(self, *, budget: _RateBudget, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.budget = budget

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        method, url = str(args[0]).upper(), str(args[1])
        path = urlsplit(url).path
        api_call = not path.endswith(TOKEN_PATH)  # the token endpoint has its own limits
        if api_call:
            self.budget.check()
        try:
            # prawcore passes its own 16 s default on API calls; ours wins everywhere.
            kwargs["timeout"] = self.timeout
            response: requests.Response = self._http.request(*args, **kwargs)
        except requests.RequestException as err:
            raise TransientError(
                f"cannot reach Reddit ({method} {path}): {type(err).__name__}"
            ) from err
        if api_call:
            self.budget.take(response.headers)
        if response.status_code == 429:
            wait = self.budget.seconds_to_reset() if api_call else None
            if not wait:
                wait = _float(response.headers.get("retry-after")) or 60.0
            self.budget.spent(wait)
            raise TransientError(
                f"Reddit rate limit (429) on {method} {path}; pausing {wait:.0f}s",
                retry_after=wait,
            )
        if response.status_code >= 500:
            # prawcore would retry twice with ~4 s of sleeps; the scheduler's backoff does it.
            raise TransientError(f"Reddit answered {response.status_code} for {method} {path}")
        return response


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def default_search_query(brand: BrandSettings) -> str:
    """The brand's name, terms and handles OR-ed together (Reddit search has no wildcards)."""
    words: dict[str, str] = {}
    for term in [brand.name, *brand.terms, *brand.handles]:
        text = " ".join(term.strip().strip("\"'").replace("*", " ").split())
        if text:
            words.setdefault(text.lower(), f'"{text}"' if " " in text else text)
    return " OR ".join(words.values())


class RedditConnector(Connector[RedditSettings]):
    kind = "reddit"
    settings_class = RedditSettings
    requires = ("praw",)

    def __init__(
        self, settings: RedditSettings, brand: BrandSettings, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, brand, clock)
        self.matcher = BrandMatcher(brand)
        self.listings = self._listings()
        self._unreadable: dict[str, _Unreadable] = {}
        self._budget = _RateBudget(self.clock)
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
                f"source {self.name}: set {s.client_id_env} and {s.client_secret_env}"
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
            requestor_class=_Requestor,
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

    def fetch(self, cursor: Cursor | None) -> FetchResult:
        positions = self._load(cursor)
        known: set[str] = set()
        for stored in positions.values():
            known.update(stored.seen)
        now = self.clock.now()
        first_floor = now.timestamp() - self.settings.backfill_seconds
        found: dict[str, _Item] = {}
        for listing in self.listings:
            if not self._readable(listing, now):
                continue
            position = positions.get(listing.key)
            try:
                items = list(self._scan(listing, position, known, first_floor))
            except prawcore.PrawcoreException as err:
                if listing.subreddit and self._skip_subreddit(listing, err, now):
                    continue
                raise self._translate(err, listing) from err
            self._recovered(listing)
            if position is None:
                positions[listing.key] = _Position(newest=first_floor)
            for item in items:
                found.setdefault(item.fullname, item).listings.add(listing.key)
        posts, more = self._consume(found, positions)
        return FetchResult(posts=posts, cursor=self._dump(positions), more=more)

    def _scan(
        self, listing: _Listing, position: _Position | None, known: set[str], first_floor: float
    ) -> Iterator[_Item]:
        """New items of one listing, newest first, down to the floor (pages fetched lazily)."""
        floor = (
            first_floor if position is None else position.newest - self.settings.lookback_seconds
        )
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
            fullname, created = str(data.get("name", "")), _float(str(data.get("created_utc")))
            if not fullname or created is None:
                continue
            if created < floor:
                reached_floor = True
                break
            if fullname in known:
                continue
            yield _Item(fullname, created, self._post(data, listing))
        if position is not None and read >= limit and not reached_floor:
            log.warning(
                "source=%s %s: read %d items without reaching the last stored one; older new "
                "items are skipped. Raise limit or poll more often",
                self.name,
                listing.key,
                read,
            )

    def _consume(
        self, found: Mapping[str, _Item], positions: dict[str, _Position]
    ) -> tuple[list[Post], bool]:
        """Oldest first up to the per-poll cap; the cursor moves over exactly what is returned."""
        posts: list[Post] = []
        more = False
        for item in sorted(found.values(), key=lambda i: (i.created, i.fullname)):
            if item.post is not None:
                if len(posts) >= self.settings.max_posts_per_poll:
                    more = True
                    break
                posts.append(item.post)
            for key in item.listings:
                position = positions[key]
                position.newest = max(position.newest, item.created)
                position.seen[item.fullname] = item.created
        return posts, more

    # -- posts ----------------------------------------------------------------------------

    def _post(self, data: Mapping[str, Any], listing: _Listing) -> Post | None:
        fullname = str(data["name"])
        comment = fullname.startswith("t1_")
        author = data.get("author")
        handle = str(author) if author is not None else "[deleted]"
        if comment:
            text = str(data.get("body") or "")
            link = data.get("permalink") or data.get("context") or ""
        else:
            title, body = str(data.get("title") or ""), str(data.get("selftext") or "")
            link = data.get("permalink") or ""
            outside = "" if data.get("is_self", True) else str(data.get("url") or "")
            text = "\n\n".join(part for part in (title, body, outside) if part)
        if listing.prefilter and not self.matcher.matches(text):
            return None
        extra: dict[str, Any] = {
            "subreddit": str(data.get("subreddit") or ""),
            "score": data.get("score"),
            "kind": "comment" if comment else "post",
        }
        if comment:
            extra["parent_title"] = data.get("link_title")
        return Post(
            platform="reddit",
            external_id=fullname,
            author=Author(id=handle, handle=handle),
            text=text,
            url=f"{WEB_URL}{link}" if str(link).startswith("/") else str(link or WEB_URL),
            created_at=datetime.fromtimestamp(float(data["created_utc"]), UTC),
            contact_url=(
                f"{WEB_URL}/message/compose/?to={quote(handle)}"
                if handle not in ("[deleted]", "[removed]")
                else None
            ),
            extra=extra,
        )

    # -- cursor ---------------------------------------------------------------------------

    def _load(self, cursor: Cursor | None) -> dict[str, _Position]:
        if not cursor or cursor.get("v") != CURSOR_VERSION:
            return {}
        positions: dict[str, _Position] = {}
        for key, raw in (cursor.get("listings") or {}).items():
            try:
                seen = {str(k): float(v) for k, v in (raw.get("seen") or {}).items()}
                positions[str(key)] = _Position(float(raw["newest"]), seen)
            except (AttributeError, KeyError, TypeError, ValueError):
                log.warning(
                    "source=%s cursor for %s unreadable; starting it afresh", self.name, key
                )
        return positions

    def _dump(self, positions: Mapping[str, _Position]) -> Cursor:
        wanted = {listing.key for listing in self.listings}
        listings: dict[str, Any] = {}
        for key, position in positions.items():
            if key not in wanted:
                continue  # a listing removed from the config
            floor = position.newest - self.settings.lookback_seconds
            kept = sorted(((c, f) for f, c in position.seen.items() if c >= floor), reverse=True)[
                :MAX_SEEN
            ]
            listings[key] = {"newest": position.newest, "seen": {f: c for c, f in kept}}
        return {"v": CURSOR_VERSION, "listings": listings}

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
        reason = _reason(err)
        sub = listing.subreddit.lower()
        before = self._unreadable.get(sub)
        self._unreadable[sub] = _Unreadable(reason, now + UNREADABLE_RECHECK)
        if before is None or before.reason != reason:
            log.warning(
                "source=%s r/%s cannot be read (%s); skipping it, the other listings go on, "
                "retrying every %s",
                self.name,
                listing.subreddit,
                reason,
                UNREADABLE_RECHECK,
            )
        return True

    def _recovered(self, listing: _Listing) -> None:
        if listing.subreddit and self._unreadable.pop(listing.subreddit.lower(), None):
            log.info("source=%s r/%s can be read again", self.name, listing.subreddit)

    def _credentials(self) -> tuple[str, str]:
        s = self.settings
        if s.password_grant:
            return s.password_env, f"{s.username_env} / {s.password_env}"
        return s.client_secret_env, f"{s.client_id_env} / {s.client_secret_env}"

    def _translate(self, err: prawcore.PrawcoreException, listing: _Listing | None) -> Exception:
        s = self.settings
        where = f" reading {listing.key}" if listing else ""
        if isinstance(err, prawcore.OAuthException):
            credential, names = self._credentials()
            return AuthError(
                f"Reddit refused the login ({err.error}): check {names}",
                credential=credential,
            )
        if isinstance(err, prawcore.ResponseException) and err.response.url.endswith(TOKEN_PATH):
            return AuthError(
                f"Reddit refused the app's credentials (HTTP {err.response.status_code} from the "
                f"token endpoint): check {s.client_id_env} / {s.client_secret_env}",
                credential=s.client_secret_env,
            )
        if isinstance(err, prawcore.InvalidToken):
            credential, names = self._credentials()
            return AuthError(
                f"Reddit rejected a fresh access token{where}: check {names}",
                credential=credential,
            )
        if isinstance(err, prawcore.InsufficientScope | prawcore.Forbidden):
            if listing is not None and listing.key == "mentions":
                return AuthError(
                    f"Reddit refused the inbox of the account in {s.username_env} "
                    f"({_reason(err)}); use a script app whose developer is that account",
                    credential=s.username_env,
                )
            return AuthError(
                f"Reddit answered 403 Forbidden{where} ({_reason(err)}): the app may be "
                f"blocked or its user_agent refused; check {s.client_id_env} and user_agent",
                credential=s.client_id_env,
            )
        if isinstance(err, prawcore.BadRequest):
            return ConfigError(f"Reddit refused the request{where} as malformed (HTTP 400)")
        return TransientError(f"Reddit request failed{where}: {err}")

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
            raise self._translate(err, None) from err

    def close(self) -> None:
        self._http.close()


def _reason(err: prawcore.PrawcoreException) -> str:
    """Reddit's reason for a refusal ("private", "quarantined", "banned"...), else the status."""
    if isinstance(err, prawcore.Redirect):
        return f"redirected to {err.path}: no such subreddit"
    if isinstance(err, prawcore.ResponseException):
        try:
            body = err.response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("reason"):
            return str(body["reason"])
        return f"HTTP {err.response.status_code}"
    return str(err)
