"""Hacker News through Algolia's search API: stories and comments that name the brand.

``GET /api/v1/search_by_date?query=...&tags=(story,comment)&numericFilters=created_at_i>=N``
answers newest first, `hitsPerPage` at a time, `nbPages` pages deep (Algolia stops near 1,000
hits a query). No credentials; third parties report 10,000 requests an hour per IP.

The cursor keeps, per query, a `SeenWindow`: the newest ``created_at_i`` stored and the ids
stored at or after ``newest - lookback_seconds``. A poll asks for ``created_at_i >= floor`` and
skips the ids in the window, so several items in one second are never skipped (the filter keeps
that second) nor repeated (the window lists them), and an item Algolia indexes a little late is
still read. The window is saved with the posts, so it survives restarts.

Bursts. When the answer is one page (the usual poll) that page is all. When there are more, the
set is pinned at its newest second (so items arriving meanwhile do not shift the pages) and
read from its *last* page backwards: the oldest items come first, `max_posts_per_poll` of them,
and the next poll goes on from there (``more``). When Algolia cannot page down to the floor (more
than ~1,000 hits), the set is narrowed below its oldest reachable second until it can, within
`max_pages_per_poll` requests; what is still out of reach then is skipped with a warning.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, field_validator

from connectors._web import Http, html_to_text
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
from monitor.errors import ConfigError, TransientError
from monitor.models import Author, Post

log = logging.getLogger(__name__)

__all__ = ["HackerNewsConnector", "HackerNewsCursor", "HackerNewsSettings"]

ITEM_URL = "https://news.ycombinator.com/item?id="
USER_URL = "https://news.ycombinator.com/user?id="
MAX_SEEN = 1000
"""Ids kept per query inside the lookback window (more are read again; storage drops them)."""
MAX_BYTES = 20_000_000
"""An Algolia page of 1,000 long comments is a few MB; more is not an answer we expect."""
USER_AGENT = "complaint-monitor/0.1 (+hackernews connector)"
Kind = Literal["story", "comment"]
KINDS: tuple[Kind, ...] = ("story", "comment")


class HackerNewsSettings(SourceSettings):
    """One ``[[sources]]`` table with ``type = "hackernews"``."""

    type: Literal["hackernews"]
    interval_seconds: float = Field(default=120.0, ge=10, le=86_400)
    """Algolia is free and unauthenticated: poll politely."""
    queries: list[str] = Field(default_factory=list)
    """Algolia queries (all words must appear); default: the brand's name, terms and handles,
    one query each."""
    kinds: list[Kind] = Field(default_factory=lambda: list(KINDS), min_length=1)
    """Which items: sent as ``tags=(story,comment)``."""
    api_url: str = "https://hn.algolia.com/api/v1"
    hits_per_page: int = Field(default=100, ge=1, le=1000)
    max_pages_per_poll: int = Field(default=10, ge=1, le=100)
    """Requests one query may make in one poll (bursts; narrowing a set past Algolia's reach)."""
    max_posts_per_poll: int = Field(default=500, ge=1)
    """Posts returned per poll, oldest first; the rest follow at once on the next poll."""
    lookback_seconds: float = Field(default=300.0, ge=0, le=86_400)
    """Re-read this far below the newest stored item, for items Algolia indexes late."""
    backfill_seconds: float = Field(default=86_400.0, ge=0)
    """A query's first poll reads items this recent (0: from now on)."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("queries")
    @classmethod
    def _queries(cls, values: list[str]) -> list[str]:
        return distinct_queries(values)

    @field_validator("api_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_base_url(value, "https://hn.algolia.com/api/v1")


@dataclass(frozen=True, slots=True, kw_only=True)
class HackerNewsCursor(CursorState):
    queries: dict[str, SeenWindow] = field(default_factory=dict)
    """By query; a query removed from the config is forgotten."""


@dataclass(frozen=True, slots=True)
class _Page:
    hits: list[dict[str, Any]]
    page: int
    pages: int
    total: int
    per_page: int

    @property
    def reachable(self) -> bool:
        """Algolia pages down to the last hit (it stops near 1,000 hits a query)."""
        return self.pages * self.per_page >= self.total


@dataclass(slots=True)
class _Item:
    object_id: str
    created: int
    post: Post
    queries: set[str] = field(default_factory=set)

    @property
    def order(self) -> tuple[int, int, str]:
        return (self.created, len(self.object_id), self.object_id)  # ids are increasing numbers


class HackerNewsConnector(Connector[HackerNewsSettings, HackerNewsCursor]):
    kind = "hackernews"
    settings_class = HackerNewsSettings
    cursor_class = HackerNewsCursor
    requires = {"bs4": "hackernews"}

    def __init__(
        self, settings: HackerNewsSettings, brand: BrandSettings, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, brand, clock)
        self.queries = settings.queries or brand_queries(brand)
        if not self.queries:
            raise ConfigError(f"source {self.name}: set queries, or [brand] name or terms")
        self._http = Http(
            timeout=settings.timeout_seconds,
            max_bytes=MAX_BYTES,
            user_agent=USER_AGENT,
            clock=self.clock,
            platform="Hacker News (Algolia)",
        )

    # -- fetch ----------------------------------------------------------------------------

    def fetch(self, cursor: HackerNewsCursor | None) -> Fetched[HackerNewsCursor]:
        windows = dict(cursor.queries) if cursor else {}
        known = {item_id for window in windows.values() for item_id in window.seen}
        first_floor = self.clock.now().timestamp() - self.settings.backfill_seconds
        found: dict[str, _Item] = {}
        more = False
        for query in self.queries:
            window = windows.get(query)
            floor = window.floor(self.settings.lookback_seconds) if window else first_floor
            hits, query_more = self._scan(query, math.floor(floor), known)
            more = more or query_more
            if window is None:
                windows[query] = SeenWindow(newest=first_floor)
            for hit in hits:
                item = self._item(hit)
                if item is not None and item.created >= floor:
                    found.setdefault(item.object_id, item).queries.add(query)
        posts, capped, read = self._consume(found, known)
        return Fetched(posts, self._next_cursor(windows, read), more or capped)

    def _scan(self, query: str, floor: int, known: set[str]) -> tuple[list[dict[str, Any]], bool]:
        """The hits of `query` at or after `floor`, oldest first as far as read, and whether
        more remain for the next poll. See the module docstring for the order of the reads."""
        budget = self.settings.max_pages_per_poll
        first = self._search(query, floor, None, 0)
        budget -= 1
        if first.pages <= 1 and first.reachable:
            return first.hits, False
        # Pinned at the newest second read: later items do not shift the pages under us (one
        # that lands in that very second might; the lookback reads it again next poll).
        upper = max((_created(hit) or floor for hit in first.hits), default=floor)
        last = self._last_page(query, floor, upper, first.pages - 1)
        narrowed = False
        budget -= 1
        while not last.reachable and budget > 1 and last.hits:
            # Algolia cannot page down to the floor: look below the oldest second it reaches.
            upper = min(_created(hit) or upper for hit in last.hits)
            narrowed = True
            last = self._last_page(query, floor, upper, last.pages - 1)
            budget -= 1
        if not last.reachable:
            log.warning(
                "source=%s query %d: %d hits since the cursor, more than Algolia pages to; the "
                "oldest %d are skipped (poll more often or narrow the query)",
                self.name,
                self.queries.index(query) + 1,
                last.total,
                last.total - last.pages * last.per_page,
            )
        hits = list(last.hits)
        fresh = sum(1 for hit in hits if str(hit.get("objectID")) not in known)
        page = last.page
        while page > 0 and fresh < self.settings.max_posts_per_poll and budget > 0:
            page -= 1
            earlier = self._search(query, floor, upper, page)
            budget -= 1
            hits += earlier.hits
            fresh += sum(1 for hit in earlier.hits if str(hit.get("objectID")) not in known)
        return hits, page > 0 or narrowed  # pages not read, or newer hits above the narrowing

    def _last_page(self, query: str, floor: int, upper: int, guess: int) -> _Page:
        """The last page of the hits in [floor, upper]: `guess`, or where Algolia says it is."""
        page = self._search(query, floor, upper, max(0, guess))
        if page.pages and page.page != page.pages - 1:
            page = self._search(query, floor, upper, page.pages - 1)
        return page

    def _search(self, query: str, floor: int, upper: int | None, page: int) -> _Page:
        filters = f"created_at_i>={floor}"
        if upper is not None:
            filters += f",created_at_i<={upper}"
        params: dict[str, str | int] = {
            "query": query,
            "tags": f"({','.join(self.settings.kinds)})",
            "numericFilters": filters,
            "hitsPerPage": self.settings.hits_per_page,
            "page": page,
        }
        what = f"query {self.queries.index(query) + 1}, page {page}"
        reply = self._http.get(f"{self.settings.api_url}/search_by_date", params=params, what=what)
        if reply.status != 200:
            raise ConfigError(
                f"Hacker News (Algolia) refused the search ({what}) with HTTP {reply.status}: "
                f"{_message(reply.body)}; check api_url and queries"
            )
        try:
            data = json.loads(reply.body)
        except (ValueError, RecursionError) as err:
            raise TransientError(
                f"Hacker News (Algolia) sent a body that is not JSON ({what})"
            ) from err
        hits = data.get("hits") if isinstance(data, dict) else None
        if not isinstance(hits, list):
            raise TransientError(f"Hacker News (Algolia) sent JSON without hits ({what})")
        return _Page(
            hits=[hit for hit in hits if isinstance(hit, dict)],
            page=_int(data.get("page"), page),
            pages=_int(data.get("nbPages"), 1),
            total=_int(data.get("nbHits"), len(hits)),
            per_page=_int(data.get("hitsPerPage"), self.settings.hits_per_page) or 1,
        )

    def _item(self, hit: Mapping[str, Any]) -> _Item | None:
        object_id, created = str(hit.get("objectID") or ""), _created(hit)
        if not object_id or created is None:
            return None
        return _Item(object_id, created, to_post(hit, object_id, created))

    def _consume(
        self, found: Mapping[str, _Item], known: set[str]
    ) -> tuple[list[Post], bool, dict[str, list[tuple[str, float]]]]:
        """Oldest first up to the cap; each query's window moves over exactly what is returned
        (and the known items it read up to there)."""
        posts: list[Post] = []
        capped = False
        read: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for item in sorted(found.values(), key=lambda i: i.order):
            if item.object_id not in known:
                if len(posts) >= self.settings.max_posts_per_poll:
                    capped = True
                    break
                posts.append(item.post)
            for query in item.queries:
                read[query].append((item.object_id, float(item.created)))
        return posts, capped, read

    def _next_cursor(
        self, windows: Mapping[str, SeenWindow], read: Mapping[str, Iterable[tuple[str, float]]]
    ) -> HackerNewsCursor:
        lookback = self.settings.lookback_seconds
        return HackerNewsCursor(
            queries={
                query: windows[query].advanced(
                    read.get(query, ()), lookback=lookback, keep=MAX_SEEN
                )
                for query in self.queries
                if query in windows
            }
        )

    # -- the rest of the interface ----------------------------------------------------------

    def check_credentials(self) -> str:
        """One search (one hit) to show Algolia answers; Hacker News needs no credentials."""
        self._search(self.queries[0], 0, None, 0)
        return f"no credentials needed; Algolia answered for {len(self.queries)} queries"

    def close(self) -> None:
        self._http.close()


def to_post(hit: Mapping[str, Any], object_id: str, created: int) -> Post:
    """A story (title, outside link, text) or a comment (its text, and the story's title)."""
    tags: list[Any] = hit["_tags"] if isinstance(hit.get("_tags"), list) else []
    comment = "comment" in tags or (hit.get("comment_text") is not None and not hit.get("title"))
    author = str(hit.get("author") or "[deleted]")
    if comment:
        text = html_to_text(_str(hit.get("comment_text")))
    else:
        title = _str(hit.get("title"))
        text = "\n\n".join(
            part
            for part in (title, html_to_text(_str(hit.get("story_text"))), _str(hit.get("url")))
            if part
        )
    extra: dict[str, Any] = {"kind": "comment" if comment else "story"}
    for key in ("story_id", "parent_id", "points", "num_comments"):
        if isinstance(hit.get(key), int):
            extra[key] = hit[key]
    if comment and hit.get("story_title"):
        extra["story_title"] = _str(hit.get("story_title"))[:300]
    return Post(
        platform="hackernews",
        external_id=object_id,
        author=Author(id=author, handle=author),
        text=text,
        url=f"{ITEM_URL}{quote(object_id, safe='')}",
        created_at=datetime.fromtimestamp(created, UTC),
        # HN has no private messages: the profile is where an author may leave an address.
        contact_url=f"{USER_URL}{quote(author, safe='')}" if author != "[deleted]" else None,
        extra=extra,
    )


def _created(hit: Mapping[str, Any]) -> int | None:
    value = hit.get("created_at_i")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return default
    return value


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _message(body: bytes) -> str:
    """Algolia's ``message`` from an error body, cut short (it is not customer text)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return "no error message"
    message = data.get("message") if isinstance(data, dict) else None
    return " ".join(str(message).split())[:200] if message else "no error message"
