"""Fake feed servers on 127.0.0.1: Reddit's Atom feeds, RSS 2.0, a status page's Atom, Apple's
customer-review feed, Google Alerts and JSON Feed, in the wire formats of platform-apis-2.md §4.

Every feed answers with an ``ETag`` (a hash of the body) and ``Last-Modified`` (its last change),
and 304 with no body when ``If-None-Match`` or ``If-Modified-Since`` says the client has it, as
real servers do; Reddit's feeds honour ``limit`` (default 25, at most 100) and keep the newest.
A feed marked `gzip` is sent compressed to a client that accepts it. Faults are scripted with the
base's `fault` (a 429 carries ``Retry-After`` and Reddit's ``x-ratelimit-*``); `serve_raw` puts
any bytes at a path (a block page, a huge or broken feed).

    with FakeFeeds(clock=lambda: clock.now().timestamp()) as feeds:
        feeds.reddit("acme")                      # /r/acme/new/.rss
        feeds.add("/r/acme/new/.rss", "Refund missing", "Still no refund from Acme", author="carol")
        settings: urls = [feeds.url("/r/acme/new/.rss")]
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from html import escape
from typing import Any, Literal

from tests.fakes.server import FakeServer, Fault, Request, Response

Format = Literal["reddit", "rss", "atom", "apple", "json"]
ATOM = "http://www.w3.org/2005/Atom"
CONTENT_TYPES: dict[Format, str] = {
    "reddit": "application/atom+xml; charset=UTF-8",
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "apple": "application/xml; charset=utf-8",
    "json": "application/feed+json",
}


@dataclass
class Item:
    entry_id: str
    title: str
    text: str
    author: str | None
    published: float
    link: str
    rating: int | None = None
    raw_html: str | None = None
    """Sent as the entry's HTML content instead of `text` escaped into paragraphs."""


@dataclass
class Feed:
    path: str
    format: Format
    title: str
    items: list[Item] = field(default_factory=list)
    """Oldest first; served newest first."""
    changed: float = 0.0
    gzip: bool = False
    language: str | None = None


class FakeFeeds(FakeServer):
    """Feeds by path; a context manager."""

    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        self._clock = clock or time.time
        self.feeds: dict[str, Feed] = {}
        self.raw: dict[str, tuple[bytes, str]] = {}
        self._ids = itertools.count(1_000_000)
        self._last = 0.0

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def use_system_clock(self) -> None:
        with self._lock:
            self._clock = time.time

    # -- feeds ----------------------------------------------------------------------------

    def feed(self, path: str, format: Format, title: str = "", **options: Any) -> str:
        """A feed at `path`; its URL."""
        with self._lock:
            self.feeds[_normal(path)] = Feed(path, format, title or path, **options)
            return self.url(path)

    def reddit(self, subreddit: str) -> str:
        """Reddit's ``/r/<sub>/new/.rss``; its URL."""
        return self.feed(f"/r/{subreddit}/new/.rss", "reddit", f"newest submissions : {subreddit}")

    def add(
        self,
        path: str,
        title: str,
        text: str = "",
        *,
        author: str | None = "carol",
        published: float | None = None,
        entry_id: str | None = None,
        rating: int | None = None,
        raw_html: str | None = None,
    ) -> str:
        """A new entry in the feed at `path`; its id as the feed gives it."""
        with self._lock:
            feed = self.feeds[_normal(path)]
            number = next(self._ids)
            if published is None:
                self._last = max(self._clock(), self._last + 1)
                published = self._last
            if entry_id is None:
                entry_id = {
                    "reddit": f"t3_{_base36(number)}",
                    "apple": str(10_000_000_000 + number),
                }.get(feed.format, f"tag:{feed.format}.example,2026:{number}")
            link = (
                f"https://www.reddit.com/r/acme/comments/{entry_id[3:]}/entry/"
                if feed.format == "reddit"
                else f"https://{feed.format}.example/entries/{number}"
            )
            feed.items.append(
                Item(entry_id, title, text, author, published, link, rating, raw_html)
            )
            feed.changed = self._clock()
            return entry_id

    def add_many(self, path: str, count: int, text: str = "acme broke {n}") -> list[str]:
        return [self.add(path, text.format(n=n), "") for n in range(count)]

    def remove(self, path: str, entry_id: str) -> None:
        with self._lock:
            feed = self.feeds[_normal(path)]
            feed.items = [item for item in feed.items if item.entry_id != entry_id]
            feed.changed = self._clock()

    def shuffle(self, path: str) -> None:
        """Reverse the feed's order (a feed that reorders)."""
        with self._lock:
            feed = self.feeds[_normal(path)]
            feed.items.reverse()
            feed.changed = self._clock()

    def serve_raw(self, path: str, body: bytes, content_type: str = "text/html") -> str:
        with self._lock:
            self.raw[_normal(path)] = (body, content_type)
            return self.url(path)

    # -- serving --------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        path = _normal(request.path)
        with self._lock:
            if path in self.raw:
                body, content_type = self.raw[path]
                return Response(200, body, {"Content-Type": content_type})
            feed = self.feeds.get(path)
            if feed is None:
                return Response(404, b"<html>not found</html>", {"Content-Type": "text/html"})
            items = sorted(feed.items, key=lambda item: item.published, reverse=True)
            if feed.format == "reddit":
                limit = min(100, max(1, int(request.query.get("limit") or 25)))
                items = items[:limit]
            elif feed.format == "rss":
                items = feed.items[::-1]  # RSS as the publisher lists it (after a shuffle too)
            body = _render(feed, items).encode("utf-8", "surrogatepass")  # bad bytes stay bad
            changed = feed.changed
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        headers = {
            "Content-Type": CONTENT_TYPES[feed.format],
            "ETag": etag,
            "Last-Modified": formatdate(changed, usegmt=True),
        }
        if _not_modified(request, etag, changed):
            return Response(304, b"", {"ETag": etag, "Last-Modified": headers["Last-Modified"]})
        if feed.gzip and "gzip" in request.headers.get("accept-encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return Response(200, body, headers)

    def error_response(self, request: Request, fault: Fault) -> Response:
        headers = {"Content-Type": "text/html"}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after))
            headers["x-ratelimit-remaining"] = "0"
            headers["x-ratelimit-reset"] = str(int(fault.retry_after))
        return Response(fault.code, f"<html>error {fault.code}</html>".encode(), headers)


def _not_modified(request: Request, etag: str, changed: float) -> bool:
    if "if-none-match" in request.headers:
        return request.headers["if-none-match"] == etag
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return int(changed) <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False
    return False


def _normal(path: str) -> str:
    return path.split("?", 1)[0].rstrip("/") or "/"


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(stamp))


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{escape(part)}</p>" for part in text.split("\n\n") if part)


def _render(feed: Feed, items: list[Item]) -> str:
    if feed.format == "json":
        return json.dumps(_json_feed(feed, items))
    if feed.format == "rss":
        return _rss(feed, items)
    ET.register_namespace("", ATOM)
    ET.register_namespace("media", "http://search.yahoo.com/mrss/")
    ET.register_namespace("im", "http://itunes.apple.com/rss")
    root = ET.Element(f"{{{ATOM}}}feed")
    if feed.language:
        root.set("{http://www.w3.org/XML/1998/namespace}lang", feed.language)
    _sub(root, "title", feed.title)
    _sub(root, "id", feed.path)
    _sub(root, "updated", _iso(feed.changed or time.time()))
    for item in items:
        root.append(_atom_entry(feed, item))
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def _sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
    child.text = text
    return child


def _atom_entry(feed: Feed, item: Item) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    if item.author is not None:
        author = _sub(entry, "author")
        if feed.format == "reddit":
            _sub(author, "name", f"/u/{item.author}")
            _sub(author, "uri", f"https://www.reddit.com/user/{item.author}")
        else:
            _sub(author, "name", item.author)
    body = item.raw_html if item.raw_html is not None else _paragraphs(item.text)
    if feed.format == "reddit":
        _sub(entry, "category", term="acme", label="r/acme")
        who = f"/u/{item.author}" if item.author else "[deleted]"
        body = (
            f'<!-- SC_OFF --><div class="md">{body}</div><!-- SC_ON --> &#32; submitted by &#32; '
            f'<a href="https://www.reddit.com/user/{item.author}"> {who} </a> <br/> '
            f'<span><a href="{item.link}">[link]</a></span> &#32; '
            f'<span><a href="{item.link}">[comments]</a></span>'
        )
    if feed.format == "apple":
        ET.SubElement(entry, "{http://itunes.apple.com/rss}rating").text = str(item.rating or 1)
        _sub(entry, "content", item.text, type="text")
    else:
        _sub(entry, "content", body, type="html")
    _sub(entry, "id", item.entry_id)
    _sub(entry, "link", href=item.link)
    _sub(entry, "updated", _iso(item.published))
    if feed.format != "apple":
        _sub(entry, "published", _iso(item.published))
    _sub(entry, "title", item.title)
    return entry


def _rss(feed: Feed, items: list[Item]) -> str:
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, "title").text = feed.title
    ET.SubElement(channel, "link").text = "https://rss.example/"
    if feed.language:
        ET.SubElement(channel, "language").text = feed.language
    for item in items:
        node = ET.SubElement(channel, "item")
        ET.SubElement(node, "title").text = item.title
        ET.SubElement(node, "link").text = item.link
        ET.SubElement(node, "guid", {"isPermaLink": "false"}).text = item.entry_id
        ET.SubElement(node, "pubDate").text = formatdate(item.published, usegmt=True)
        ET.SubElement(node, "description").text = (
            item.raw_html if item.raw_html is not None else _paragraphs(item.text)
        )
        if item.author:
            ET.SubElement(node, "author").text = f"noreply@rss.example ({item.author})"
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(rss, encoding="unicode")


def _json_feed(feed: Feed, items: list[Item]) -> dict[str, Any]:
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "language": feed.language,
        "items": [
            {
                "id": item.entry_id,
                "url": item.link,
                "title": item.title,
                "content_html": item.raw_html if item.raw_html is not None else None,
                "content_text": item.text if item.raw_html is None else None,
                "date_published": _iso(item.published),
                "authors": [{"name": item.author}] if item.author else [],
            }
            for item in items
        ],
    }
