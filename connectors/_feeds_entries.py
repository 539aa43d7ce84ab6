"""The feeds connector's items: one feed entry (RSS, Atom or JSON Feed) as a `Post`.

feedparser gives every RSS and Atom dialect one shape (platform-apis-2.md §4); JSON Feed
(jsonfeed.org 1.0/1.1), which feedparser 6 does not read, is put in the same shape here
(`json_feed_entries`), so one function turns any entry into a post.

Reddit's feeds (the way to read Reddit without an approved API app) get their own touches: the
entry's ``t3_``/``t1_`` id is the post's id, as the Reddit connector stores it, so a post read by
both is stored once; only the post's own text is kept (``<div class="md">``, not Reddit's
"submitted by ... [link] [comments]" footer); the author is the user, not ``/u/user``.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from connectors._web import html_to_text
from monitor.models import Author, Post

REDDIT_WEB = "https://www.reddit.com"
_REDDIT_ID = re.compile(r"t[13]_[0-9a-z]+")
_JSON_FEED = "https://jsonfeed.org/version/"


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    """What identifies the entry within its feed (its id, else its link, else its text)."""
    when: datetime | None
    """Published (else updated) time, when the feed gives one."""
    post: Post


def is_reddit(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "reddit.com" or host.endswith(".reddit.com")


def to_entry(
    raw: Mapping[str, Any], feed: Mapping[str, Any], feed_url: str, platform: str, now: datetime
) -> Entry:
    """One feedparser entry (or a JSON Feed item in its shape) as an `Entry`; `now` dates an
    entry the feed does not date."""
    reddit = platform == "reddit"
    key = _key(raw, reddit)
    when = _when(raw.get("published_parsed")) or _when(raw.get("updated_parsed"))
    author = _author(raw, feed, reddit)
    title = _title(raw)
    body = _body(raw, reddit)
    link = _str(raw.get("link")) or feed_url
    extra: dict[str, Any] = {"feed": html_to_text(_str(feed.get("title")), 200)}
    rating = _str(raw.get("im_rating"))
    if rating:  # Apple's customer reviews: the stars given
        extra["rating"] = rating
        title = f"{title} ({rating}★)" if title else f"{rating}★"
    if reddit:
        labels = [_str(tag.get("label")) for tag in raw.get("tags") or [] if isinstance(tag, dict)]
        extra["subreddit"] = next((label[2:] for label in labels if label.startswith("r/")), "")
    text = "\n\n".join(part for part in (title, body) if part)
    post = Post(
        platform=platform,
        external_id=key if reddit or ":" in key else f"{feed_url}#{key}",
        author=Author(id=author, handle=author),
        text=text,
        url=link,
        created_at=when or now,
        language=_language(raw, feed),
        contact_url=(
            f"{REDDIT_WEB}/message/compose/?to={quote(author, safe='')}"
            if reddit and author != "[deleted]"
            else None
        ),
        extra=extra,
    )
    return Entry(key, when, post)


def seen_key(key: str) -> str:
    """The entry's key as the cursor keeps it: short and of one length, whatever the feed."""
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:16]


def _key(raw: Mapping[str, Any], reddit: bool) -> str:
    entry_id = _str(raw.get("id")).strip()
    if reddit:
        # feedparser resolves Atom ids against the feed URL: ".../r/acme/new/t3_1abc2d"
        last = entry_id.rsplit("/", 1)[-1]
        if _REDDIT_ID.fullmatch(last):
            return last
    if entry_id:
        return entry_id
    link = _str(raw.get("link")).strip()
    if link:
        return link
    text = f"{_str(raw.get('title'))}\n{_str(raw.get('summary'))}"
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def _when(value: Any) -> datetime | None:
    if isinstance(value, time.struct_time):
        try:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
        except (OverflowError, ValueError, OSError):
            return None
    return value if isinstance(value, datetime) else None


def _author(raw: Mapping[str, Any], feed: Mapping[str, Any], reddit: bool) -> str:
    detail = raw.get("author_detail")
    name = _str(raw.get("author")) or (
        _str(detail.get("name")) if isinstance(detail, Mapping) else ""
    )
    name = " ".join(name.split())
    if reddit:
        return name.removeprefix("/u/").removeprefix("u/") or "[deleted]"
    return name or html_to_text(_str(feed.get("title")), 200) or "unknown"


def _title(raw: Mapping[str, Any]) -> str:
    title = _str(raw.get("title"))
    detail = raw.get("title_detail")
    kind = _str(detail.get("type")) if isinstance(detail, Mapping) else ""
    return html_to_text(title) if "html" in kind else " ".join(title.split())


def _body(raw: Mapping[str, Any], reddit: bool) -> str:
    """The entry's text: its first content item, else its summary; HTML made plain."""
    contents = [c for c in raw.get("content") or [] if isinstance(c, Mapping)]
    value, kind = "", "text/html"
    if contents:
        value, kind = _str(contents[0].get("value")), _str(contents[0].get("type")) or kind
    if not value:
        value = _str(raw.get("summary"))
        detail = raw.get("summary_detail")
        kind = _str(detail.get("type")) if isinstance(detail, Mapping) else "text/html"
    if "html" not in kind:
        return value.strip()
    if reddit:  # the post's own text; a link post has none, only Reddit's footer
        return html_to_text(value, only=("div", "md"))
    return html_to_text(value)


def _language(raw: Mapping[str, Any], feed: Mapping[str, Any]) -> str | None:
    for content in raw.get("content") or []:
        if isinstance(content, Mapping) and _str(content.get("language")):
            return _str(content.get("language"))
    return _str(raw.get("language")) or _str(feed.get("language")) or None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


# -- JSON Feed ----------------------------------------------------------------------------------


def json_feed(body: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """A JSON Feed's head and items in feedparser's shape; None when `body` is not one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not _str(data.get("version")).startswith(_JSON_FEED):
        return None
    head = {"title": _str(data.get("title")), "language": _str(data.get("language"))}
    items = data.get("items")
    entries = (
        [_json_item(item) for item in items if isinstance(item, dict)]
        if isinstance(items, list)
        else []
    )
    return head, entries


def _json_item(item: Mapping[str, Any]) -> dict[str, Any]:
    authors: list[Any] = list(item["authors"]) if isinstance(item.get("authors"), list) else []
    authors.append(item.get("author"))  # JSON Feed 1.0 has one
    names = [_str(a.get("name")) for a in authors if isinstance(a, Mapping)]
    content = []
    if _str(item.get("content_html")):
        content.append({"type": "text/html", "value": item["content_html"]})
    elif _str(item.get("content_text")):
        content.append({"type": "text/plain", "value": item["content_text"]})
    return {
        "id": _str(item.get("id")) or (str(item["id"]) if isinstance(item.get("id"), int) else ""),
        "link": _str(item.get("url")),
        "title": _str(item.get("title")),
        "title_detail": {"type": "text/plain"},
        "content": content,
        "summary": _str(item.get("summary")),
        "summary_detail": {"type": "text/plain"},
        "published_parsed": _iso(item.get("date_published")),
        "updated_parsed": _iso(item.get("date_modified")),
        "author": next((name for name in names if name), ""),
        "language": _str(item.get("language")),
    }


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
