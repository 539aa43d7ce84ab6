"""The one narrow interface every platform implements.

Given its settings and a cursor, `fetch` returns normalized posts (oldest to newest) and the next
cursor. A connector never touches the database or Slack: the pipeline stores the posts and the
cursor together, so a cursor can never move past a post that was not stored.

Each connector declares its cursor as a frozen dataclass (dlt's typed incremental state: the last
value read plus the ids seen at the boundary). The database keeps JSON (`monitor.models.Cursor`);
the conversion lives here, once: `Connector.poll` turns the stored JSON into the typed cursor,
calls `fetch`, and turns the next cursor back into JSON. A stored cursor that no longer reads
(another version, a damaged row) starts the source afresh, with a log line; storage drops what is
read again.

Every post leaves through `Connector.poll` normalised once, for every connector
(`monitor.sanitize.normalize_post`): no NUL, no lone surrogate, every field of its type and within
its column, ids NFC-normalised. So no platform can send a post the database refuses.

Adding a platform means one module here with one `Connector` subclass, its `SourceSettings`
subclass (a ``type: Literal["..."]`` field) and its cursor class; the registry finds it by itself.
"""

from __future__ import annotations

import heapq
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from monitor.brand import BrandSettings
from monitor.clock import Clock, SystemClock
from monitor.models import Cursor, FetchResult, Post
from monitor.sanitize import normalize_post
from monitor.settings_base import StrictModel

log = logging.getLogger(__name__)


class SourceSettings(StrictModel):
    """What every source table shares. Each connector subclasses this with its own `type`."""

    type: str
    name: str = ""
    """Unique name for logs, cursors and `stats`; defaults to the type."""
    interval_seconds: float = Field(default=60.0, ge=1, le=86_400)
    jitter_seconds: float = Field(default=0.0, ge=0, le=3_600)
    enabled: bool = True

    @model_validator(mode="after")
    def _default_name(self) -> SourceSettings:
        if not self.name:
            object.__setattr__(self, "name", self.type)
        return self


# -- cursors ------------------------------------------------------------------------------------


class CursorState:
    """Base of every connector's cursor: a frozen dataclass whose fields are JSON-able values
    (str, int, float, bool, datetime, nested cursor dataclasses, lists and dicts of them)."""

    __slots__ = ()
    version: ClassVar[int | None] = 1
    """Written as ``"v"`` and checked on load; None for a shape stored without one."""


CursorT = TypeVar("CursorT", bound=CursorState)
SettingsT = TypeVar("SettingsT", bound=SourceSettings)


class CursorUnreadable(ValueError):
    """A stored cursor of another version, or one that does not fit the cursor class."""


_ADAPTERS: dict[type[CursorState], TypeAdapter[Any]] = {}


def _adapter(cursor_class: type[CursorState]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(cursor_class)
    if adapter is None:
        adapter = _ADAPTERS[cursor_class] = TypeAdapter(cursor_class)
    return adapter


def cursor_to_json(cursor: CursorState) -> Cursor:
    """The cursor as the database keeps it; fields that are None are left out."""
    data: Cursor = _adapter(type(cursor)).dump_python(cursor, mode="json", exclude_none=True)
    if cursor.version is None:
        return data
    return {"v": cursor.version, **data}


def cursor_from_json(cursor_class: type[CursorT], data: Cursor) -> CursorT:
    """The typed cursor stored as `data`; raises `CursorUnreadable` when it does not fit."""
    if not isinstance(data, Mapping):
        raise CursorUnreadable(f"not an object: {type(data).__name__}")
    stored = data.get("v")
    if stored != cursor_class.version:
        raise CursorUnreadable(f"version {stored!r}, expected {cursor_class.version!r}")
    fields = {key: value for key, value in data.items() if key != "v"}
    try:
        cursor: CursorT = _adapter(cursor_class).validate_python(fields)
    except ValidationError as err:
        raise CursorUnreadable(f"{err.error_count()} fields do not fit") from err
    return cursor


@dataclass(frozen=True, slots=True)
class SeenWindow:
    """Where a newest-first listing without ``since_id`` was read to: the newest position read
    (a timestamp) and the ids read at or after ``newest - lookback``, at most `keep` of them
    (praw's BoundedSet, but saved in the cursor so it survives a restart).

    A listing is read down to `floor`; ids in the window are skipped there, so an item listed
    late inside the lookback is read once, and nothing depends on one anchor item surviving.
    """

    newest: float
    seen: dict[str, float] = field(default_factory=dict)
    """Id -> its position, newest first."""

    def floor(self, lookback: float) -> float:
        return self.newest - lookback

    def advanced(
        self, read: Iterable[tuple[str, float]], *, lookback: float, keep: int
    ) -> SeenWindow:
        """This window after `read` (id, position) pairs, trimmed to the lookback and `keep`."""
        seen = dict(self.seen)
        newest = self.newest
        for item_id, position in read:
            seen[item_id] = position
            newest = max(newest, position)
        floor = newest - lookback
        kept = heapq.nlargest(keep, ((p, i) for i, p in seen.items() if p >= floor))
        return SeenWindow(newest, {item_id: position for position, item_id in kept})


# -- connectors ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fetched(Generic[CursorT]):
    """What `fetch` returns: posts oldest to newest, and the typed cursor that follows them.

    `more` says the connector stopped early (a page cap) and has more to read right away.
    """

    posts: list[Post]
    cursor: CursorT
    more: bool = False


class Connector(ABC, Generic[SettingsT, CursorT]):
    """A source of posts. Subclasses declare their facts as class attributes."""

    kind: ClassVar[str]
    """The config's ``type`` for this connector, e.g. ``"x"``."""
    settings_class: ClassVar[type[SourceSettings]]
    cursor_class: type[CursorT]
    """The frozen dataclass `fetch` takes and returns (set in the class body)."""
    requires: ClassVar[Mapping[str, str]] = {}
    """Optional libraries: import name -> the pip extra that installs it, e.g.
    ``{"tweepy": "x"}``. The registry reads this from the module's source before importing it;
    when one is missing the type is listed unavailable with the ``pip install`` that fixes it.
    Write it as a literal dict."""

    def __init__(
        self, settings: SettingsT, brand: BrandSettings, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.brand = brand
        self.clock: Clock = clock or SystemClock()

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def informational(self) -> bool:
        """The source's posts are the brand's own news (a status page), not mentions: each new
        one is stored and posted as a notice, never judged as a complaint or alerted."""
        return False

    def poll(self, cursor: Cursor | None) -> FetchResult:
        """`fetch` on the cursor as the database stores it (JSON); the next cursor as JSON too.
        Posts come out normalised to what the schema accepts (`monitor.sanitize`)."""
        result = self.fetch(self.load_cursor(cursor))
        now = self.clock.now()
        posts = [normalize_post(post, now) for post in result.posts]
        return FetchResult(posts, cursor_to_json(result.cursor), result.more)

    def load_cursor(self, stored: Cursor | None) -> CursorT | None:
        """The typed cursor, or None (start afresh) for none or one that no longer reads."""
        if not stored:
            return None
        try:
            return cursor_from_json(self.cursor_class, stored)
        except CursorUnreadable as err:
            log.warning("source=%s stored cursor unreadable (%s); starting afresh", self.name, err)
            return None

    @abstractmethod
    def fetch(self, cursor: CursorT | None) -> Fetched[CursorT]:
        """Posts after `cursor` (None on the first poll), oldest first, and the cursor after them.

        Raise `AuthError` for refused credentials, `TransientError` (with `retry_after` when the
        platform says when) for anything worth retrying, `ConfigError` for bad settings; always
        ``raise ... from`` the library's error.
        """

    def check_credentials(self) -> str:
        """Try the credentials against the platform (for ``check-config --online``).

        Returns a short description of who we are authenticated as; raises like `fetch`.
        """
        return "no credentials needed"

    def gauges(self) -> Mapping[str, float]:
        """Read-only figures the connector keeps, for the metrics (e.g. the X read budget);
        names from `monitor.metrics.CONNECTOR_GAUGES`. Cheap: read at every scrape."""
        return {}

    def close(self) -> None:
        """Release sessions and files; called once at shutdown."""


# -- settings shared by connectors -------------------------------------------------------------


def http_base_url(value: str, example: str) -> str:
    """A base URL a connector calls: http(s) with a host, no trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL such as {example}")
    return value.rstrip("/")


def distinct_queries(values: list[str]) -> list[str]:
    """Search queries with their whitespace collapsed, each once; an empty one is an error."""
    queries = [" ".join(value.split()) for value in values]
    if not all(queries):
        raise ValueError("search queries must not be empty")
    return list(dict.fromkeys(queries))


def brand_queries(brand: BrandSettings) -> list[str]:
    """The brand's name, terms and handles, one plain query each (no wildcards, no leading @,
    no quotes), for platforms whose search has no OR."""
    queries: dict[str, str] = {}
    for term in [brand.name, *brand.terms, *brand.handles]:
        text = " ".join(term.replace("*", " ").strip().lstrip("@").strip("\"'").split())
        if text:
            queries.setdefault(text.lower(), text)
    return list(queries.values())
