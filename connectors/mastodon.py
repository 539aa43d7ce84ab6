"""Mastodon through Mastodon.py: mentions of the brand's account, hashtag timelines and full-text
status searches, on one or more instances (each with its own access token).

Streams. Per instance: ``mentions`` (``notifications(types=["mention"])``), one ``#tag`` stream per
hashtag (``timeline_hashtag``) and one ``search:<q>`` stream per query (``search_v2``, statuses; the
docs give ``min_id`` the timelines' meaning there too). Each stream keeps, in the cursor, the newest
id it has returned. Ids are snowflake strings on Mastodon (ULIDs on GoToSocial): both order by
(length, text), which is integer order for the first and time order for the second.

Paging. A stream goes on with ``min_id`` = its newest id: Mastodon answers the page *right
after* it (``since_id`` would answer the newest page and leave a hole below it in a burst), so a
burst comes oldest page first, `max_pages_per_poll` pages a poll, and the next poll goes on from
the last id returned (``more``). A stream's first poll reads the newest page only (bounded).

Faults. ``ratelimit_method="throw"``: a 429 raises at once (Mastodon.py would otherwise sleep in
the scheduler's thread) and becomes `TransientError` with the wait until ``X-RateLimit-Reset``,
so only this source pauses. 401 and 403 are `AuthError` naming the token's variable; 5xx,
network errors, timeouts and bodies that are not JSON are `TransientError`; a 404 (wrong URL)
is `ConfigError`. One instance failing fails the poll (nothing is stored, the cursor stays), so
put instances that fail independently in separate sources.

Posts. The content (HTML) becomes plain text through `connectors._web.html_to_text`; a content
warning comes first. ``edited_at`` becomes `Post.edited_at` (same id: the pipeline judges the
new text again). The id is the status's ``uri``, the same on every instance, so a status seen
through two instances (or as a mention and under a hashtag) is one post. The private next step
is a direct-visibility mention: `contact_url` opens the instance's compose form (``/share``)
with ``@user@domain`` filled in; the operator sets the visibility to a private mention
("direct") there (Mastodon's form takes no visibility from the URL).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)
from pydantic import Field, ValidationInfo, field_validator, model_validator

from connectors._web import DEFAULT_RATE_LIMIT_WAIT, html_to_text
from connectors.base import (
    Connector,
    CursorState,
    Fetched,
    SourceSettings,
    distinct_queries,
    http_base_url,
)
from monitor.brand import BrandSettings
from monitor.clock import Clock
from monitor.errors import AuthError, ConfigError, TransientError
from monitor.models import Author, Post
from monitor.settings_base import StrictModel, secrets_required

__all__ = ["MastodonConnector", "MastodonCursor", "MastodonInstance", "MastodonSettings"]

MASTODON_VERSION = "4.3.0"
"""Told to Mastodon.py so it never looks the version up (one request less per start)."""
USER_AGENT = "complaint-monitor/0.1 (+mastodon connector)"
MENTIONS = "mentions"
EMPTY = "0"
"""The position of a stream that had nothing at its first poll: ``min_id=0`` reads it all."""
_HASHTAG = re.compile(r"\w+")


class MastodonInstance(StrictModel):
    """One instance (``[[sources.instances]]``): its URL, the brand account's token there, and
    what to read on it."""

    url: str
    """The instance, e.g. ``https://mastodon.social``."""
    name: str = ""
    """Its key in the cursor and the logs; defaults to the URL's host."""
    access_token_env: str = Field(default="MASTODON_ACCESS_TOKEN", min_length=1)
    """The variable holding the brand account's access token (scopes ``read:notifications``
    and ``read:statuses``)."""
    mentions: bool = True
    """Mentions of the brand's account (its notifications of type ``mention``)."""
    hashtags: list[str] = Field(default_factory=list)
    """Hashtag timelines, without the ``#`` (a leading one is dropped)."""
    search: list[str] = Field(default_factory=list)
    """Full-text status searches (``search_v2``), where the instance has full-text search
    (Elasticsearch or OpenSearch) and only over posts whose authors opted in to search."""

    @field_validator("url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_base_url(value, "https://mastodon.social")

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, values: list[str]) -> list[str]:
        tags: dict[str, str] = {}
        for raw in values:
            tag = raw.strip().removeprefix("#")
            if not _HASHTAG.fullmatch(tag):
                raise ValueError(f"{raw!r} is not a hashtag (letters, digits, _)")
            tags.setdefault(tag.lower(), tag)
        return list(tags.values())

    @field_validator("search")
    @classmethod
    def _queries(cls, values: list[str]) -> list[str]:
        return distinct_queries(values)

    @model_validator(mode="after")
    def _ready(self, info: ValidationInfo) -> MastodonInstance:
        if not self.name:
            object.__setattr__(self, "name", urlsplit(self.url).netloc)
        if not (self.mentions or self.hashtags or self.search):
            raise ValueError(
                f"instance {self.name}: nothing to read: set mentions, hashtags or search"
            )
        if secrets_required(info) and self.secret("access_token") is None:
            raise ValueError(
                f"environment variable {self.access_token_env} is not set: set it to the brand "
                f"account's access token on {self.name} (Preferences > Development > New "
                "application, scopes read:notifications and read:statuses)"
            )
        return self

    @property
    def domain(self) -> str:
        return urlsplit(self.url).netloc


class MastodonSettings(SourceSettings):
    """One ``[[sources]]`` table with ``type = "mastodon"``."""

    type: Literal["mastodon"]
    instances: list[MastodonInstance] = Field(min_length=1)
    page_size: int = Field(default=40, ge=1, le=40)
    """Items per request (Mastodon's largest hashtag page is 40)."""
    max_pages_per_poll: int = Field(default=5, ge=1, le=100)
    """Requests one stream may make in one poll; a bigger burst goes on at the next poll."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _unique_names(self) -> MastodonSettings:
        names = [instance.name for instance in self.instances]
        if len(names) != len(set(names)):
            raise ValueError("two instances have the same name: give them distinct names")
        return self


@dataclass(frozen=True, slots=True, kw_only=True)
class MastodonCursor(CursorState):
    instances: dict[str, dict[str, str]] = field(default_factory=dict)
    """Instance name -> stream (``mentions``, ``#tag``, ``search:<q>``) -> the newest id
    returned. Streams and instances removed from the config are forgotten."""


@dataclass(frozen=True, slots=True)
class _Stream:
    key: str
    read: Callable[[str | None, int], list[Any]]
    """One page: (min_id or None for the newest page, limit) -> items, newest first."""
    status_of: Callable[[Mapping[str, Any]], Mapping[str, Any] | None]


@dataclass(slots=True)
class _Read:
    posts: list[Post]
    newest: str | None
    more: bool


class MastodonConnector(Connector[MastodonSettings, MastodonCursor]):
    kind = "mastodon"
    settings_class = MastodonSettings
    cursor_class = MastodonCursor
    requires = {"mastodon": "mastodon", "bs4": "mastodon"}

    def __init__(
        self, settings: MastodonSettings, brand: BrandSettings, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, brand, clock)
        self._clients: dict[str, Mastodon] = {}
        for instance in settings.instances:
            token = instance.secret("access_token")
            if token is None:
                raise ConfigError(
                    f"source {self.name}: the environment variable {instance.access_token_env} "
                    f"is not set (the access token on {instance.name})"
                )
            self._clients[instance.name] = Mastodon(
                access_token=token.get_secret_value(),
                api_base_url=instance.url,
                mastodon_version=MASTODON_VERSION,
                # "none" would leave the version unparsed (1.0.0), and search_v2 would refuse
                # min_id; "created" parses the one given and looks nothing up
                version_check_mode="created",
                ratelimit_method="throw",
                request_timeout=settings.timeout_seconds,
                session=requests.Session(),
                user_agent=USER_AGENT,
            )

    # -- fetch ------------------------------------------------------------------------------

    def fetch(self, cursor: MastodonCursor | None) -> Fetched[MastodonCursor]:
        saved = cursor.instances if cursor else {}
        found: dict[str, Post] = {}
        positions: dict[str, dict[str, str]] = {}
        more = False
        for instance in self.settings.instances:
            streams = positions[instance.name] = {}
            before = saved.get(instance.name, {})
            for stream in self._streams(instance):
                read = self._read(instance, stream, before.get(stream.key))
                for post in read.posts:
                    found.setdefault(post.external_id, post)
                if read.newest is not None:
                    streams[stream.key] = read.newest
                more = more or read.more
        posts = sorted(found.values(), key=lambda p: p.created_at)
        return Fetched(posts, MastodonCursor(instances=positions), more)

    def _streams(self, instance: MastodonInstance) -> Iterator[_Stream]:
        client = self._clients[instance.name]
        if instance.mentions:
            yield _Stream(
                MENTIONS,
                lambda min_id, limit: client.notifications(
                    types=["mention"], min_id=min_id, limit=limit
                ),
                lambda notification: _mapping(notification.get("status")),
            )
        for tag in instance.hashtags:
            yield _Stream(
                f"#{tag.lower()}",
                partial(_hashtag_page, client, tag),
                lambda status: status,
            )
        for query in instance.search:
            yield _Stream(
                f"search:{query}",
                partial(_search_page, client, query),
                lambda status: status,
            )

    def _read(self, instance: MastodonInstance, stream: _Stream, newest: str | None) -> _Read:
        """The stream's items after `newest`, oldest first, up to the page cap."""
        posts: list[Post] = []
        first_poll = newest is None
        limit = self.settings.page_size
        for _ in range(self.settings.max_pages_per_poll):
            with self._translated(instance, stream.key):
                page = stream.read(newest, limit)
            # Mastodon.py casts an object where a list belongs into the list of its keys
            if not isinstance(page, list) or (page and not any(map(_mapping, page))):
                raise TransientError(
                    f"Mastodon instance {instance.name} sent no list of objects ({stream.key})"
                )
            items = [
                item
                for item in map(_mapping, page)
                if item is not None and _is_id(item.get("id")) and _after(item["id"], newest)
            ]
            if not items:  # nothing newer (also a server that ignores min_id: no busy loop)
                return _Read(posts, newest or EMPTY, more=False)
            for item in sorted(items, key=lambda i: _order(i["id"])):
                status = stream.status_of(item)
                post = to_post(status, instance) if status is not None else None
                if post is not None:
                    posts.append(post)
                newest = str(item["id"])
            if first_poll or len(page) < limit:
                # A stream empty at its first poll reads from its very start next time.
                return _Read(posts, newest or EMPTY, more=False)
        return _Read(posts, newest, more=True)

    @contextmanager
    def _translated(self, instance: MastodonInstance, what: str) -> Iterator[None]:
        """Mastodon.py's errors as the project's, the library's kept as the cause."""
        where = f"Mastodon instance {instance.name} ({what})"
        variable = instance.access_token_env
        try:
            yield
        except MastodonRatelimitError as err:
            wait = self._reset_wait(instance)
            raise TransientError(
                f"{where}: rate limit (429); pausing {wait:.0f}s", retry_after=wait
            ) from err
        except MastodonUnauthorizedError as err:
            raise AuthError(
                f"{where} refused the access token in {variable} (401, {_message(err)}): "
                "create a new token for the brand's account",
                credential=variable,
            ) from err
        except MastodonServerError as err:
            raise TransientError(f"{where} answered {_status(err)}") from err
        except MastodonNetworkError as err:
            cause = err.__cause__ or err.__context__  # Mastodon.py raises it inside `except`
            raise TransientError(f"cannot reach {where}: {type(cause).__name__}") from err
        except MastodonNotFoundError as err:
            raise ConfigError(f"{where} answered 404: check the instance's url") from err
        except MastodonAPIError as err:
            status = _status(err)
            if status is None:  # a 200 whose body is not JSON (a proxy's error page)
                raise TransientError(f"{where} sent a body that is not JSON") from err
            if status == 403:
                raise AuthError(
                    f"{where} refused the token in {variable} (403, {_message(err)}): it needs "
                    "the scopes read:notifications and read:statuses",
                    credential=variable,
                ) from err
            raise ConfigError(f"{where} refused the request ({status}, {_message(err)})") from err
        except MastodonError as err:  # version or argument errors: our request is wrong
            raise ConfigError(f"{where}: {type(err).__name__}: {err}") from err

    def _reset_wait(self, instance: MastodonInstance) -> float:
        """Seconds to ``X-RateLimit-Reset``. Mastodon.py keeps the reset as a system-clock epoch
        (corrected by the server's ``Date``), so it is compared with the system clock."""
        reset = self._clients[instance.name].ratelimit_reset
        if isinstance(reset, int | float) and reset > time.time():
            return float(reset) - time.time()
        return DEFAULT_RATE_LIMIT_WAIT

    # -- the rest of the interface ----------------------------------------------------------

    def check_credentials(self) -> str:
        """``verify_credentials`` on every instance (whose token each one is), and one page of
        each search: an instance without full-text search finds nothing, which is said."""
        found = []
        for instance in self.settings.instances:
            client = self._clients[instance.name]
            with self._translated(instance, "verify_credentials"):
                account = client.account_verify_credentials()
            found.append(f"@{account.get('acct')}@{instance.domain}")
            for query in instance.search:
                with self._translated(instance, f"search:{query}"):
                    hits = _search_page(client, query, None, 1)
                if not hits:
                    found.append(
                        f"(search {query!r} on {instance.name} found nothing: the instance may "
                        "lack full-text search, or no opted-in post matches yet)"
                    )
        return f"authenticated as {', '.join(found)}"

    def close(self) -> None:
        for client in self._clients.values():
            client.session.close()


def to_post(status: Mapping[str, Any], instance: MastodonInstance) -> Post | None:
    """A status as a post; None for a boost (its original is read where it appears) or one
    without the fields a post needs."""
    account = _mapping(status.get("account"))
    status_id, created = status.get("id"), _datetime(status.get("created_at"))
    if status.get("reblog") or account is None or not _is_id(status_id) or created is None:
        return None
    acct = str(account.get("acct") or account.get("username") or "")
    if not acct:
        return None
    # A local account's acct has no domain: its profile URL has the one people mention it by
    # (an instance's web domain may differ from its API host).
    home = urlsplit(_str(account.get("url"))).netloc or instance.domain
    full_acct = acct if "@" in acct else f"{acct}@{home}"
    text = "\n\n".join(
        part
        for part in (
            html_to_text(_str(status.get("spoiler_text"))),
            html_to_text(_str(status.get("content"))),
        )
        if part
    )
    extra: dict[str, Any] = {
        "instance": instance.name,
        "visibility": _str(status.get("visibility")) or "public",
        "is_reply": status.get("in_reply_to_id") is not None,
    }
    tags = status.get("tags")
    if isinstance(tags, list):
        extra["tags"] = [str(t.get("name")) for t in tags if isinstance(t, Mapping)][:20]
    if status.get("spoiler_text"):
        extra["content_warning"] = True
    followers = account.get("followers_count")
    language = status.get("language")
    return Post(
        platform="mastodon",
        external_id=_str(status.get("uri")) or f"{instance.url}/statuses/{status_id}",
        author=Author(
            id=full_acct,
            handle=full_acct,
            display_name=_str(account.get("display_name")) or None,
            followers=followers if isinstance(followers, int) else None,
        ),
        text=text,
        url=_str(status.get("url")) or _str(status.get("uri")),
        created_at=created,
        language=language if isinstance(language, str) and language else None,
        contact_url=f"{instance.url}/share?text={quote(f'@{full_acct} ', safe='@')}",
        extra=extra,
        edited_at=_datetime(status.get("edited_at")),
    )


def _hashtag_page(client: Mastodon, tag: str, min_id: str | None, limit: int) -> list[Any]:
    page: list[Any] = client.timeline_hashtag(tag, min_id=min_id, limit=limit)
    return page


def _search_page(client: Mastodon, query: str, min_id: str | None, limit: int) -> list[Any]:
    """Statuses of a full-text search, newer than `min_id` (``resolve`` off: no remote look-ups
    on our behalf)."""
    found = client.search_v2(
        query, resolve=False, result_type="statuses", min_id=min_id, limit=limit
    )
    statuses = found.get("statuses") if isinstance(found, Mapping) else None
    if not isinstance(statuses, list):
        raise TransientError("Mastodon search answered without a statuses list")
    return statuses


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _is_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value) != ""


def _order(item_id: Any) -> tuple[int, str]:
    """Snowflakes order as integers, ULIDs as text: (length, text) does both."""
    text = str(item_id)
    return (len(text), text)


def _after(item_id: Any, newest: str | None) -> bool:
    return newest is None or _order(item_id) > _order(newest)


def _datetime(value: Any) -> datetime | None:
    """Mastodon.py parses timestamps to aware datetimes; a string is parsed as ISO 8601."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _status(err: MastodonError) -> int | None:
    """The HTTP status in a Mastodon.py API error (``args[1]``), None when there is none."""
    status = err.args[1] if len(err.args) > 1 else None
    return status if isinstance(status, int) else None


def _message(err: MastodonError) -> str:
    """The instance's ``error`` text (not customer text), cut short."""
    message = err.args[3] if len(err.args) > 3 else None
    return " ".join(str(message).split())[:200] if message else "no error message"
