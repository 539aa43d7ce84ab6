"""Bluesky through the `atproto` client: searches for the brand's terms and mentions of its account.

Two kinds of stream, each with its own `SeenWindow` in the cursor:

- ``search:<query>``: ``app.bsky.feed.searchPosts`` with ``sort=latest`` and ``since`` = the
  window's floor, paged by its opaque ``cursor`` until the answer is exhausted. ``since`` is
  inclusive and compared with the post's *sortAt* (the earlier of createdAt and indexedAt), so
  that is the position a search window keeps.
- ``mentions``: ``app.bsky.notification.listNotifications`` (``reasons=mention``) of the account
  we log in as (the brand's), newest first, read down to the floor by ``indexedAt``.

A poll asks for everything at or after ``newest - lookback_seconds`` and skips the ids in the
window, so posts sharing a millisecond are neither skipped nor repeated and a post indexed late
is still read. All streams are merged, deduplicated by AT URI and returned oldest first, at most
`max_posts_per_poll`; each window moves over exactly what was returned (``more`` when capped).

Login. Search needs a logged-in session since 2025: ``createSession`` with the handle and an app
password from the environment. The client renews the session itself shortly before the access
JWT's ``exp`` (it reads our clock, so a test can move time); when the server still answers
``ExpiredToken``/``InvalidToken`` we refresh once (``refreshSession``) and, if the refresh token
is refused too, log in again; then the call is retried once. ``createSession`` is limited to 30
per 5 minutes, so the session lives as long as the connector.

Rate limits. Every answer carries ``ratelimit-limit/-remaining/-reset`` (reset in epoch seconds).
A 429, or a poll starting while the budget is spent, raises `TransientError` with the wait until
the reset, so only this source pauses. Bluesky asks not to use search for bulk reads: the
default interval is 120 s and cannot go below 60 s.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from atproto import AtUri, Client, Session, SessionEvent, models
from atproto_client.exceptions import (
    AtProtocolError,
    BadRequestError,
    InvokeTimeoutError,
    LoginRequiredError,
    ModelError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.request import Request
from pydantic import Field, ValidationInfo, field_validator, model_validator

from connectors.base import (
    Connector,
    CursorState,
    Fetched,
    SeenWindow,
    SourceSettings,
    brand_queries,
    distinct_queries,
    http_base_url,
)
from monitor.brand import BrandSettings
from monitor.clock import Clock
from monitor.errors import AuthError, ConfigError, TransientError
from monitor.models import Author, Post
from monitor.settings_base import secrets_required

log = logging.getLogger(__name__)

__all__ = ["BlueskyConnector", "BlueskyCursor", "BlueskySettings"]

WEB_URL = "https://bsky.app/profile/"
MENTIONS = "mentions"
MAX_SEEN = 1000
"""Ids kept per stream inside the lookback window (more are read again; storage drops them)."""
DEFAULT_RATE_LIMIT_WAIT = 60.0
"""Seconds to pause on a 429 that does not say when its window resets."""
EXPIRED = frozenset(("ExpiredToken", "InvalidToken"))
"""Error codes that mean "renew the session and try again", not "the password is wrong"."""
USER_AGENT = "complaint-monitor/0.1 (+bluesky connector)"
T = TypeVar("T")


class BlueskySettings(SourceSettings):
    """One ``[[sources]]`` table with ``type = "bluesky"``."""

    type: Literal["bluesky"]
    interval_seconds: float = Field(default=120.0, ge=60, le=86_400)
    """Bluesky asks not to use search for bulk reads: at least a minute between polls."""
    handle_env: str = Field(default="BLUESKY_HANDLE", min_length=1)
    """The brand's account (e.g. ``acme.bsky.social``); its mentions are read."""
    app_password_env: str = Field(default="BLUESKY_APP_PASSWORD", min_length=1)
    """An app password (Settings > Privacy and security > App passwords), never the main one."""
    service_url: str = "https://bsky.social"
    """The account's PDS or the entryway; ``/xrpc`` is appended by the client."""
    queries: list[str] = Field(default_factory=list)
    """searchPosts queries; default: the brand's name, terms and handles, one query each."""
    search: bool = True
    mentions: bool = True
    """Mentions of the logged-in account (listNotifications, reason mention)."""
    page_size: int = Field(default=100, ge=1, le=100)
    max_pages_per_poll: int = Field(default=10, ge=1, le=100)
    """Requests one stream may make in one poll; older items beyond are skipped with a warning."""
    max_posts_per_poll: int = Field(default=500, ge=1)
    """Posts returned per poll, oldest first; the rest follow at once on the next poll."""
    lookback_seconds: float = Field(default=300.0, ge=0, le=86_400)
    """Re-read this far below the newest stored post, for posts Bluesky indexes late."""
    backfill_seconds: float = Field(default=3_600.0, ge=0, le=7 * 86_400)
    """A stream's first poll reads posts this recent (0: from now on)."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("queries")
    @classmethod
    def _queries(cls, values: list[str]) -> list[str]:
        return distinct_queries(values)

    @field_validator("service_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_base_url(value, "https://bsky.social").removesuffix("/xrpc")

    @model_validator(mode="after")
    def _ready_to_run(self, info: ValidationInfo) -> BlueskySettings:
        """Fail at start-up, naming the variable, rather than at the first poll."""
        if not (self.search or self.mentions):
            raise ValueError("nothing to read: set search = true or mentions = true")
        if not self.enabled or not secrets_required(info):
            return self
        for key, variable in (("handle", self.handle_env), ("app_password", self.app_password_env)):
            if self.secret(key) is None:
                raise ValueError(
                    f"environment variable {variable} is not set: set it, or point {key}_env at "
                    f"the variable that holds the Bluesky {key.replace('_', ' ')}"
                )
        return self


@dataclass(frozen=True, slots=True, kw_only=True)
class BlueskyCursor(CursorState):
    streams: dict[str, SeenWindow] = field(default_factory=dict)
    """By stream (``search:<query>``, ``mentions``); a stream no longer configured is forgotten."""


@dataclass(slots=True)
class _Item:
    uri: str
    position: float
    post: Post
    streams: set[str] = field(default_factory=set)


class _Client(Client):  # type: ignore[misc]  # atproto ships no type information
    """atproto's client on our clock, so its "refresh before the JWT expires" follows the
    connector's clock (a test moves it; the fake server issues tokens on the same clock)."""

    def __init__(self, base_url: str, request: Request, clock: Clock) -> None:
        super().__init__(base_url, request=request)
        self._clock = clock

    def get_current_time(self) -> datetime:
        return self._clock.now()


class BlueskyConnector(Connector[BlueskySettings, BlueskyCursor]):
    kind = "bluesky"
    settings_class = BlueskySettings
    cursor_class = BlueskyCursor
    requires = {"atproto": "bluesky"}

    def __init__(
        self, settings: BlueskySettings, brand: BrandSettings, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, brand, clock)
        self.queries = (settings.queries or brand_queries(brand)) if settings.search else []
        if settings.search and not self.queries:
            raise ConfigError(f"source {self.name}: set queries, or [brand] name or terms")
        self.streams = [f"search:{query}" for query in self.queries]
        if settings.mentions:
            self.streams.append(MENTIONS)
        self._budget: tuple[int, float] | None = None
        """(remaining, reset epoch) from the last answer's ratelimit-* headers."""
        self._session: Session | None = None
        request = Request(
            timeout=settings.timeout_seconds,
            event_hooks={"response": [self._saw_response]},
        )
        request.add_additional_header("User-Agent", USER_AGENT)
        self._client = _Client(settings.service_url, request, self.clock)
        self._client.on_session_change(self._session_changed)

    # -- fetch ----------------------------------------------------------------------------

    def fetch(self, cursor: BlueskyCursor | None) -> Fetched[BlueskyCursor]:
        windows = {k: v for k, v in (cursor.streams if cursor else {}).items() if k in self.streams}
        known = {item_id for window in windows.values() for item_id in window.seen}
        first_floor = self.clock.now().timestamp() - self.settings.backfill_seconds
        found: dict[str, _Item] = {}
        for stream in self.streams:
            window = windows.get(stream)
            floor = window.floor(self.settings.lookback_seconds) if window else first_floor
            if window is None:
                windows[stream] = SeenWindow(newest=first_floor)
            read = self._mentions(floor) if stream == MENTIONS else self._search(stream, floor)
            for item in read:
                if item.position >= floor:
                    found.setdefault(item.uri, item).streams.add(stream)
        posts, capped, read_by_stream = self._consume(found, known)
        return Fetched(posts, self._next_cursor(windows, read_by_stream), capped)

    def _search(self, stream: str, floor: float) -> list[_Item]:
        query = stream.removeprefix("search:")
        params: dict[str, Any] = {
            "q": query,
            "sort": "latest",
            "since": _iso(floor),
            "limit": self.settings.page_size,
        }
        what = f"search {self.queries.index(query) + 1}"
        items: list[_Item] = []
        for _ in range(self.settings.max_pages_per_poll):
            page = self._call(what, lambda: self._client.app.bsky.feed.search_posts(params))
            for view in page.posts:
                item = _item(view.uri, view.author, view.record, view.indexed_at, sort_at=True)
                if item is not None:
                    items.append(item)
            if not page.cursor or not page.posts:
                return items
            params["cursor"] = page.cursor
        self._skipped(what)
        return items

    def _mentions(self, floor: float) -> list[_Item]:
        params: dict[str, Any] = {"reasons": ["mention"], "limit": self.settings.page_size}
        items: list[_Item] = []
        for _ in range(self.settings.max_pages_per_poll):
            page = self._call(
                "mentions", lambda: self._client.app.bsky.notification.list_notifications(params)
            )
            oldest = math.inf
            for note in page.notifications:
                if note.reason != "mention":
                    continue
                item = _item(note.uri, note.author, note.record, note.indexed_at, sort_at=False)
                if item is not None:
                    items.append(item)
                oldest = min(oldest, _timestamp(note.indexed_at) or math.inf)
            if not page.cursor or not page.notifications or oldest < floor:
                return items
            params["cursor"] = page.cursor
        self._skipped("mentions")
        return items

    def _skipped(self, what: str) -> None:
        log.warning(
            "source=%s %s: more than max_pages_per_poll = %d pages since the cursor; older posts "
            "are skipped (poll more often or raise max_pages_per_poll)",
            self.name,
            what,
            self.settings.max_pages_per_poll,
        )

    def _consume(
        self, found: Mapping[str, _Item], known: set[str]
    ) -> tuple[list[Post], bool, dict[str, list[tuple[str, float]]]]:
        """Oldest first up to the cap; each stream's window moves over exactly what is returned
        (and the known posts it read up to there)."""
        posts: list[Post] = []
        capped = False
        read: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for item in sorted(found.values(), key=lambda i: (i.position, i.uri)):
            if item.uri not in known:
                if len(posts) >= self.settings.max_posts_per_poll:
                    capped = True
                    break
                posts.append(item.post)
            for stream in item.streams:
                read[stream].append((item.uri, item.position))
        return posts, capped, read

    def _next_cursor(
        self, windows: Mapping[str, SeenWindow], read: Mapping[str, Iterable[tuple[str, float]]]
    ) -> BlueskyCursor:
        lookback = self.settings.lookback_seconds
        return BlueskyCursor(
            streams={
                stream: window.advanced(read.get(stream, ()), lookback=lookback, keep=MAX_SEEN)
                for stream, window in windows.items()
            }
        )

    # -- session, rate limits, errors ---------------------------------------------------------

    def _call(self, what: str, request: Callable[[], T]) -> T:
        """One XRPC call, logged in, the session renewed once if the server says it expired;
        every failure as one of our errors."""
        self._check_budget(what)
        try:
            if self._session is None:
                self._login()
            try:
                return request()
            except (BadRequestError, UnauthorizedError) as err:
                if _error_code(err) not in EXPIRED:
                    raise
                log.info("source=%s Bluesky session expired; renewing it", self.name)
            self._renew()
            return request()
        except AtProtocolError as err:
            raise self._translate(err, what) from err
        except httpx.TransportError as err:  # atproto maps timeouts and NetworkError only
            raise TransientError(f"cannot reach Bluesky ({what}): {type(err).__name__}") from err
        except ValueError as err:  # a 200 whose JSON does not parse (pydantic_core.from_json)
            raise TransientError(f"Bluesky sent a body that is not JSON ({what})") from err

    def _login(self) -> None:
        handle, password = self.settings.secret("handle"), self.settings.secret("app_password")
        if handle is None or password is None:
            raise AuthError(
                f"set {self.settings.handle_env} and {self.settings.app_password_env}",
                credential=self.settings.app_password_env,
            )
        try:
            self._client.login(
                handle.get_secret_value(), password.get_secret_value(), fetch_bsky_profile=False
            )
        except (UnauthorizedError, BadRequestError) as err:
            raise AuthError(
                f"Bluesky refused the login ({_error_code(err) or 'no reason given'}): check "
                f"{self.settings.handle_env} and the app password in "
                f"{self.settings.app_password_env}",
                credential=self.settings.app_password_env,
            ) from err

    def _renew(self) -> None:
        """refreshSession; when the refresh token is refused as well, a fresh login."""
        try:
            self._client._refresh_and_set_session()  # what the client runs before exp itself
        except (UnauthorizedError, BadRequestError, LoginRequiredError):
            log.info("source=%s Bluesky refused the session refresh; logging in again", self.name)
            self._session = None
            self._login()

    def _session_changed(self, event: SessionEvent, session: Session) -> None:
        self._session = session
        if event == SessionEvent.REFRESH:
            log.debug("source=%s Bluesky session refreshed", self.name)

    def _saw_response(self, response: httpx.Response) -> None:
        """httpx's response hook: the only place atproto shows the headers of a success."""
        remaining, reset = _rate_headers(response.headers)
        if remaining is not None and reset is not None:
            self._budget = (remaining, reset)

    def _check_budget(self, what: str) -> None:
        if self._budget is None:
            return
        remaining, reset = self._budget
        wait = reset - self.clock.now().timestamp()
        if remaining <= 0 and wait > 0:
            raise TransientError(
                f"Bluesky rate limit spent ({what}); pausing {wait:.0f}s", retry_after=wait
            )

    def _translate(self, err: AtProtocolError, what: str) -> Exception:
        """atproto's error as ours (AuthError, TransientError or ConfigError)."""
        if isinstance(err, RateLimitExceededError):
            wait = self._wait(err) or DEFAULT_RATE_LIMIT_WAIT
            return TransientError(
                f"Bluesky rate limit (429) ({what}); pausing {wait:.0f}s", retry_after=wait
            )
        if isinstance(err, InvokeTimeoutError):
            return TransientError(f"Bluesky did not answer in time ({what})")
        if isinstance(err, NetworkError):
            status = err.response.status_code if err.response is not None else "no answer"
            return TransientError(f"cannot reach Bluesky ({what}): {status}")
        if isinstance(err, ModelError):
            return TransientError(f"Bluesky sent an answer of an unexpected shape ({what})")
        if isinstance(err, UnauthorizedError | LoginRequiredError):
            return AuthError(
                f"Bluesky refused the session ({what}, {_error_code(err) or 'no reason'}): check "
                f"{self.settings.handle_env} and {self.settings.app_password_env}",
                credential=self.settings.app_password_env,
            )
        if isinstance(err, BadRequestError):
            if _error_code(err) in EXPIRED:
                return TransientError(f"Bluesky refused a fresh session as expired ({what})")
            return ConfigError(
                f"Bluesky refused the request ({what}, {_error_code(err) or 'HTTP 400'}); "
                "check queries"
            )
        if isinstance(err, RequestErrorBase) and err.response is not None:
            status = err.response.status_code
            if status >= 500:
                return TransientError(
                    f"Bluesky answered {status} ({what})", retry_after=self._wait(err)
                )
            return ConfigError(
                f"Bluesky answered {status} ({what}, {_error_code(err) or 'no reason'}); "
                "check service_url"
            )
        return TransientError(f"Bluesky request failed ({what}): {type(err).__name__}")

    def _wait(self, err: RequestErrorBase) -> float | None:
        """Seconds until ``ratelimit-reset`` (epoch seconds) on our clock, else Retry-After."""
        if err.response is None:
            return None
        headers = err.response.headers
        _, reset = _rate_headers(headers)
        if reset is not None:
            return max(0.0, reset - self.clock.now().timestamp())
        try:
            return max(0.0, float(headers.get("retry-after", "")))
        except ValueError:
            return None

    # -- the rest of the interface ----------------------------------------------------------

    def check_credentials(self) -> str:
        """Log in, then one search (one post) to show search answers for this account."""
        self._session = None
        params = {"q": self.queries[0] if self.queries else self.brand.name, "limit": 1}
        self._call("check", lambda: self._client.app.bsky.feed.search_posts(params))
        who = self._session.handle if self._session else "?"
        return f"authenticated as @{who}; search answered"

    def gauges(self) -> Mapping[str, float]:
        return {}

    def close(self) -> None:
        self._client.request._client.close()  # the httpx.Client atproto keeps


def to_post(uri: str, author: Any, record: Any, found_by: str) -> Post | None:
    """A post record as our Post; None for anything else (a record of another type)."""
    if not isinstance(record, models.AppBskyFeedPost.Record):
        return None
    at_uri = AtUri.from_str(uri)
    did = str(author.did)
    handle = str(author.handle or "")
    profile = did if not handle or handle == "handle.invalid" else handle
    created = _timestamp(record.created_at)
    return Post(
        platform="bluesky",
        external_id=uri,
        author=Author(id=did, handle=profile, display_name=author.display_name or None),
        text=record.text or "",
        url=f"{WEB_URL}{quote(profile, safe=':.')}/post/{quote(at_uri.rkey, safe='')}",
        created_at=datetime.fromtimestamp(created, UTC) if created else datetime.now(UTC),
        language=(record.langs or [None])[0],
        # Bluesky DMs only reach people who allow them from us: the profile is the next step.
        contact_url=f"{WEB_URL}{quote(profile, safe=':.')}",
        extra={"found_by": found_by, "is_reply": record.reply is not None},
    )


def _item(uri: str, author: Any, record: Any, indexed_at: str, *, sort_at: bool) -> _Item | None:
    """A post with its position: sortAt (the earlier of createdAt and indexedAt) for search,
    whose ``since`` compares with it; indexedAt for notifications, listed in that order."""
    indexed = _timestamp(indexed_at)
    if indexed is None:
        return None
    post = to_post(uri, author, record, "search" if sort_at else "mention")
    if post is None:
        return None
    created = _timestamp(getattr(record, "created_at", None))
    position = min(indexed, created) if sort_at and created is not None else indexed
    return _Item(uri, position, post)


def _timestamp(value: Any) -> float | None:
    """Epoch seconds of an ISO datetime as Bluesky writes it; None when it does not read."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _rate_headers(headers: Mapping[str, str]) -> tuple[int | None, float | None]:
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        remaining = int(lowered["ratelimit-remaining"])
    except (KeyError, ValueError):
        remaining = None
    try:
        reset = float(lowered["ratelimit-reset"])
    except (KeyError, ValueError):
        reset = None
    return remaining, reset


def _error_code(err: AtProtocolError) -> str:
    """The XRPC ``error`` of a refusal ("ExpiredToken", "AuthenticationRequired"...), or ""."""
    response = getattr(err, "response", None)
    content = getattr(response, "content", None)
    code = getattr(content, "error", None)
    return str(code)[:100] if code else ""
