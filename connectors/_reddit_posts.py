"""The Reddit connector's items: a listing's JSON (a submission or a comment) as a `Post`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from monitor.brand import BrandSettings
from monitor.models import Author, Post

WEB_URL = "https://www.reddit.com"
"""Links for people always point at the website, whatever `reddit_url` the API calls use."""


def to_post(data: Mapping[str, Any]) -> Post:
    """A submission (``t3_``: title, body and outside link) or a comment (``t1_``: its body)."""
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
            f"{WEB_URL}/message/compose/?to={quote(handle, errors='replace')}"
            if handle not in ("[deleted]", "[removed]")
            else None
        ),
        extra=extra,
        edited_at=edited_at(data),
    )


def edited_at(data: Mapping[str, Any]) -> datetime | None:
    """Reddit's ``edited``: false, or when the author last edited the text (epoch seconds)."""
    value = data.get("edited")
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def default_search_query(brand: BrandSettings) -> str:
    """The brand's name, terms and handles OR-ed together (Reddit search has no wildcards)."""
    words: dict[str, str] = {}
    for term in [brand.name, *brand.terms, *brand.handles]:
        text = " ".join(term.strip().strip("\"'").replace("*", " ").split())
        if text:
            words.setdefault(text.lower(), f'"{text}"' if " " in text else text)
    return " OR ".join(words.values())
