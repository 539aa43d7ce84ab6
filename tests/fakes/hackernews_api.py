"""A fake Hacker News search API (Algolia) on 127.0.0.1, in its wire format.

It serves ``GET /api/v1/search_by_date`` as platform-apis-2.md §3 describes it: ``query`` (every
word must appear, case-insensitive, in the title, URL, author, story or comment text), ``tags``
(comma = AND, parentheses = OR), ``numericFilters`` on ``created_at_i``/``points``/
``num_comments`` with ``< <= = >= >`` (comma = AND), ``page`` (0-based) and ``hitsPerPage``;
hits newest first; ``nbHits``, ``page``, ``nbPages``, ``hitsPerPage``, ``processingTimeMS``,
``query``, ``params``. Like Algolia it pages only to `reach` hits (``nbPages`` stops there while
``nbHits`` counts all) and answers a page past the end with no hits. Story and comment hits
carry Algolia's fields (``comment_text``/``story_text`` are HTML, absent keys null). Errors are
Algolia's ``{"message": ..., "status": ...}``; ``Fault.rate_limited(s)`` adds ``Retry-After``.

    with FakeHackerNews(clock=lambda: clock.now().timestamp()) as hn:
        hn.add_comment("Acme's support never answered", author="dana")
        settings: api_url = hn.api_url
"""

from __future__ import annotations

import html
import itertools
import math
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from tests.fakes.server import FakeServer, Fault, Request, Response, route

FIRST_ID = 42_000_001
_NUMERIC = re.compile(r"\s*(created_at_i|points|num_comments)\s*(<=|>=|<|>|=)\s*(-?\d+)\s*")
_OPERATORS: dict[str, Callable[[int, int], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


def as_html(text: str) -> str:
    """Plain text as HN stores it: escaped, paragraphs as ``<p>`` (no closing tag)."""
    return "<p>".join(html.escape(part) for part in text.split("\n\n"))


class FakeHackerNews(FakeServer):
    """An in-process Algolia HN search; a context manager."""

    def __init__(self, *, clock: Callable[[], float] | None = None, reach: int = 1000) -> None:
        super().__init__()
        self._clock = clock or time.time
        self.reach = reach
        """Hits Algolia pages to (``paginationLimitedTo``)."""
        self.items: list[dict[str, Any]] = []
        self._ids = itertools.count(FIRST_ID)
        self._last_created = 0

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1"

    def use_system_clock(self) -> None:
        """Date items by the system clock (a connector on it)."""
        with self._lock:
            self._clock = time.time

    # -- content --------------------------------------------------------------------------

    def _created(self, created: int | None) -> int:
        """An explicit time, else now; never before the last item (HN's ids and times grow)."""
        if created is not None:
            return created
        self._last_created = max(int(self._clock()), self._last_created)
        return self._last_created

    def add_story(
        self,
        title: str,
        text: str | None = None,
        *,
        author: str = "pg",
        url: str | None = None,
        created: int | None = None,
        raw_html: str | None = None,
    ) -> dict[str, Any]:
        """An Ask HN (with `text`) or a link story (with `url`). Returns its hit."""
        with self._lock:
            item_id = next(self._ids)
            hit = {
                "objectID": str(item_id),
                "created_at_i": self._created(created),
                "author": author,
                "title": title,
                "url": url,
                "story_text": raw_html if raw_html is not None else (text and as_html(text)),
                "comment_text": None,
                "points": 1,
                "num_comments": 0,
                "story_id": item_id,
                "parent_id": None,
                "story_title": None,
                "story_url": None,
                "children": [],
                "_tags": ["story", f"author_{author}", f"story_{item_id}"]
                + (["ask_hn"] if title.startswith("Ask HN") else []),
            }
            self._add(hit)
            return hit

    def add_comment(
        self,
        text: str,
        *,
        author: str = "dana",
        story: dict[str, Any] | None = None,
        created: int | None = None,
        raw_html: str | None = None,
    ) -> dict[str, Any]:
        """A comment on `story` (a fresh one when None). `raw_html` is sent as it is."""
        with self._lock:
            if story is None:
                story = self.add_story("Ask HN: Who answers support tickets anymore?")
            item_id = next(self._ids)
            hit = {
                "objectID": str(item_id),
                "created_at_i": self._created(created),
                "author": author,
                "title": None,
                "url": None,
                "story_text": None,
                "comment_text": raw_html if raw_html is not None else as_html(text),
                "points": None,
                "num_comments": None,
                "story_id": story["story_id"],
                "parent_id": story["story_id"],
                "story_title": story["title"],
                "story_url": story["url"],
                "children": [],
                "_tags": ["comment", f"author_{author}", f"story_{story['story_id']}"],
            }
            story["children"].append(item_id)
            self._add(hit)
            return hit

    def comment_many(self, count: int, text: str = "acme broke {n}", **kwargs: Any) -> list[str]:
        """`count` comments (``{n}`` in `text` numbered), oldest first; their ids."""
        return [self.add_comment(text.format(n=n), **kwargs)["objectID"] for n in range(count)]

    def _add(self, hit: dict[str, Any]) -> None:
        stamp = hit["created_at_i"]
        hit["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(stamp))
        hit["updated_at"] = hit["created_at"]
        self.items.append(hit)

    # -- the API --------------------------------------------------------------------------

    @route("GET", "/api/v1/search_by_date")
    def search_by_date(self, request: Request) -> Response:
        params = request.query
        try:
            page = int(params.get("page", "0"))
            per_page = int(params.get("hitsPerPage", "20"))
            numeric = _numeric_filters(params.get("numericFilters", ""))
        except ValueError as err:
            return self.error_response(request, Fault.status(400, error=str(err)))
        if not 0 < per_page <= 1000 or page < 0:
            return self.error_response(request, Fault.status(400, error="invalid page"))
        words = params.get("query", "").lower().split()
        tags = _tag_groups(params.get("tags", ""))
        with self._lock:
            matched = [
                hit
                for hit in self.items
                if _has_words(hit, words)
                and all(set(group) & set(hit["_tags"]) for group in tags)
                and all(test(hit.get(name) or 0, value) for name, test, value in numeric)
            ]
        matched.sort(key=lambda hit: (hit["created_at_i"], int(hit["objectID"])), reverse=True)
        reachable = matched[: self.reach]
        pages = math.ceil(len(reachable) / per_page)
        hits = reachable[page * per_page : (page + 1) * per_page]
        return Response(
            200,
            {
                "hits": [_with_highlight(hit) for hit in hits],
                "nbHits": len(matched),
                "page": page,
                "nbPages": pages,
                "hitsPerPage": per_page,
                "exhaustiveNbHits": True,
                "query": params.get("query", ""),
                "params": urlencode(params),
                "processingTimeMS": 1,
            },
        )

    def error_response(self, request: Request, fault: Fault) -> Response:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after))
        message = fault.error or {429: "Too many requests", 404: "Not Found"}.get(
            fault.code, "Internal error"
        )
        return Response(fault.code, {"message": message, "status": fault.code}, headers)


def _numeric_filters(text: str) -> list[tuple[str, Callable[[int, int], bool], int]]:
    filters = []
    for part in filter(None, text.split(",")):
        found = _NUMERIC.fullmatch(part)
        if found is None:
            raise ValueError(f"invalid numericFilters: {part!r}")
        filters.append((found[1], _OPERATORS[found[2]], int(found[3])))
    return filters


def _tag_groups(text: str) -> list[list[str]]:
    """``story,(a,b)`` -> [[story], [a, b]]: each group must share a tag with the hit."""
    groups: list[list[str]] = []
    for found in re.finditer(r"\(([^)]*)\)|([^,()]+)", text):
        group = found[1] if found[1] is not None else found[2]
        names = [name.strip() for name in group.split(",") if name.strip()]
        if names:
            groups.append(names)
    return groups


def _has_words(hit: dict[str, Any], words: list[str]) -> bool:
    fields = ("title", "url", "author", "story_text", "comment_text")
    blob = " ".join(html.unescape(str(hit.get(name) or "")) for name in fields).lower()
    return all(word in blob for word in words)


def _with_highlight(hit: dict[str, Any]) -> dict[str, Any]:
    """Algolia adds ``_highlightResult``; the connector must not depend on it."""
    highlight = {
        name: {"value": hit[name], "matchLevel": "none", "matchedWords": []}
        for name in ("author", "title", "comment_text", "story_text")
        if hit.get(name)
    }
    return {**hit, "_highlightResult": highlight}
