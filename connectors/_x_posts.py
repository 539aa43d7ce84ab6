"""The X connector's pages: an API v2 page read into normalized posts, salvaging a truncated one.

No tweepy here: a page is a `requests.Response` and its JSON.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from connectors._x_api import Query
from monitor.errors import TransientError
from monitor.models import Author, Post

log = logging.getLogger("connectors.x")

NOT_A_LANGUAGE = frozenset({"und", "zxx", "qam", "qct", "qht", "qme", "qst", "art"})
"""X's ``lang`` codes for "undetermined", "only media", "only mentions"...: no language."""

USERNAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")
_DIGITS = re.compile(r"^[0-9]{1,30}$")


@dataclass
class Page:
    posts: list[Post]
    read: int
    """Posts X sent (and bills), valid or not."""
    newest_id: str | None
    oldest_id: str | None
    next_token: str | None
    complete: bool
    """False when the body was not valid JSON and its posts were salvaged: no next token."""
    user_ids: list[str] = field(default_factory=list)
    """The users X sent in ``includes.users`` (each a user read, as X bills them)."""

    @property
    def last(self) -> bool:
        """Nothing below this page: X sent no posts, or a whole page without a next token."""
        return self.read == 0 or (self.complete and self.next_token is None)


def parse_page(response: requests.Response, query: Query, now: datetime, source: str) -> Page:
    complete = True
    try:
        body = response.json()
    except ValueError:
        body, complete = _salvage(response.text), False
    if not isinstance(body, dict):
        body, complete = {}, False
    data = body.get("data")
    tweets = [t for t in data if isinstance(t, dict)] if isinstance(data, list) else []
    if not complete and not tweets:
        raise TransientError("X sent a page that is not valid JSON")
    if not complete:
        log.warning(
            "source=%s query %r: X sent a page that is not valid JSON; %d posts salvaged",
            source,
            query.key,
            len(tweets),
        )
    includes = body.get("includes")
    users_raw = includes.get("users") if isinstance(includes, dict) else None
    users = {str(u.get("id")): u for u in users_raw or [] if isinstance(u, dict) and u.get("id")}
    posts = []
    for tweet in tweets:
        post = to_post(tweet, users, query, now)
        if post is None:
            log.warning(
                "source=%s query %r: skipped a post without a numeric id: %.200r",
                source,
                query.key,
                tweet,
            )
        else:
            posts.append(post)
    meta: dict[str, Any] = body["meta"] if isinstance(body.get("meta"), dict) else {}
    ids = sorted((p.external_id for p in posts), key=id_order)
    token = meta.get("next_token") if complete else None
    return Page(
        posts=posts,
        read=len(tweets),
        newest_id=str_id(meta.get("newest_id")) or (ids[-1] if ids else None),
        oldest_id=str_id(meta.get("oldest_id")) or (ids[0] if ids else None),
        next_token=token if isinstance(token, str) and token else None,
        complete=complete,
        user_ids=[uid for uid in (str_id(u) for u in users) if uid is not None],
    )


def to_post(
    tweet: dict[str, Any], users: dict[str, dict[str, Any]], query: Query, now: datetime
) -> Post | None:
    tweet_id = str_id(tweet.get("id"))
    if tweet_id is None:
        return None
    author_id = str_id(tweet.get("author_id"))
    user = users.get(author_id or "", {})
    username = user.get("username")
    if not isinstance(username, str) or not USERNAME.match(username):
        username = None  # missing from includes (suspended, or a partial page)
    metrics = user.get("public_metrics")
    followers = metrics.get("followers_count") if isinstance(metrics, dict) else None
    name = user.get("name")
    lang = tweet.get("lang") if isinstance(tweet.get("lang"), str) else None
    extra = _flags(tweet, query)
    if lang in NOT_A_LANGUAGE:
        extra["lang"], lang = lang, None
    return Post(
        platform="x",
        external_id=tweet_id,
        author=Author(
            id=author_id or "unknown",
            handle=username or author_id or "unknown",
            display_name=name if isinstance(name, str) else None,
            followers=followers if isinstance(followers, int) else None,
            verified=user.get("verified") is True,
        ),
        text=_text(tweet),
        url=(
            f"https://x.com/{username}/status/{tweet_id}"
            if username
            else f"https://x.com/i/web/status/{tweet_id}"
        ),
        created_at=timestamp(tweet.get("created_at")) or now,
        language=lang,
        contact_url=(
            f"https://x.com/messages/compose?recipient_id={author_id}" if author_id else None
        ),
        extra=extra,
        revises=_earlier_versions(tweet, tweet_id),
    )


def _earlier_versions(tweet: dict[str, Any], tweet_id: str) -> tuple[str, ...]:
    """An edited post is a new post on X; ``edit_history_tweet_ids`` lists every version,
    oldest first, this one included."""
    history = tweet.get("edit_history_tweet_ids")
    if not isinstance(history, list):
        return ()
    return tuple(i for i in (str_id(v) for v in history) if i is not None and i != tweet_id)


def _text(tweet: dict[str, Any]) -> str:
    note = tweet.get("note_tweet")
    text = note.get("text") if isinstance(note, dict) else None  # long posts: the full text
    if isinstance(text, str):
        return text
    return tweet["text"] if isinstance(tweet.get("text"), str) else ""


def _flags(tweet: dict[str, Any], query: Query) -> dict[str, Any]:
    references = tweet.get("referenced_tweets")
    kinds = (
        {r.get("type") for r in references if isinstance(r, dict)}
        if isinstance(references, list)
        else set()
    )
    return {
        "conversation_id": str_id(tweet.get("conversation_id")),
        "is_reply": "replied_to" in kinds,
        "is_quote": "quoted" in kinds,
        "query": query.key,
    }


# -- ids and times ----------------------------------------------------------------------------


def id_order(post_id: str) -> tuple[int, str]:
    """Numeric ids in numeric order, without int() on anything odd."""
    return (len(post_id), post_id)


def newest(a: str | None, b: str | None) -> str | None:
    ids = [i for i in (a, b) if i is not None]
    return max(ids, key=id_order) if ids else None


def str_id(value: Any) -> str | None:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return text if _DIGITS.match(text) else None


def timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# -- truncated pages --------------------------------------------------------------------------


def _salvage(text: str) -> dict[str, Any]:
    """The complete objects at the start of a truncated page's ``data`` and ``users`` lists."""
    found: dict[str, Any] = {}
    for key in ("data", "users"):
        items = _leading_objects(text, f'"{key}"')
        if items:
            found[key] = items
    if "users" in found:
        found["includes"] = {"users": found.pop("users")}
    return found


def _leading_objects(text: str, key: str) -> list[Any]:
    start = text.find(key)
    bracket = text.find("[", start) if start >= 0 else -1
    if bracket < 0:
        return []
    decoder = json.JSONDecoder()
    items: list[Any] = []
    position = bracket + 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        try:
            item, position = decoder.raw_decode(text, position)
        except ValueError:
            return items
        items.append(item)
