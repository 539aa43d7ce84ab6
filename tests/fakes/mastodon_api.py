"""A fake Mastodon instance on 127.0.0.1, in its wire format (platform-apis-2.md §2).

It serves what the connector reads: ``GET /api/v1/notifications`` (``types[]``, ``min_id``,
``since_id``, ``max_id``, ``limit`` up to 80), ``GET /api/v1/timelines/tag/<tag>`` (limit up to 40),
``GET /api/v2/search`` (``type=statuses``: every word of ``q`` in a public status of an author who
opted in to search; nothing at all when `full_text_search` is off, as on an instance without
Elasticsearch), ``GET /api/v1/accounts/verify_credentials`` and ``GET /api/v2/instance``. Lists are
newest first; ``since_id`` gives the newest page above it, ``min_id`` the page right after it; a
``Link`` header carries ``rel="next"`` (``max_id``) and ``rel="prev"`` (``min_id``) as Mastodon
sends them. Ids are snowflake strings. Every answer carries ``X-RateLimit-Limit``, ``-Remaining``
and ``-Reset`` (ISO 8601, on the same clock as the ``Date`` header the HTTP server adds, as a real
instance's are); ``Fault.rate_limited(s)`` answers 429 with the reset `s` seconds away. A request
without the instance's token gets 401 ``{"error": "The access token is invalid"}``. Status
``content`` is HTML as Mastodon renders it (``<p>``, mentions as ``h-card`` links); `edit` changes a
status's content and sets ``edited_at``, keeping its id.

    with FakeMastodon(clock=lambda: clock.now().timestamp()) as social:
        social.mention("@acme my order never arrived", author="dana")
        settings: url = social.base_url, token in social.token
"""

from __future__ import annotations

import html
import itertools
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.fakes.server import FakeServer, Fault, Request, Response, route

FIRST_STATUS_ID = 113_500_000_000_000_001
FIRST_NOTIFICATION_ID = 3400
RATE_LIMIT = 300
"""Requests per five minutes per account (Mastodon's default)."""
WINDOW = 300.0
_MENTION = re.compile(r"@(\w+)")


def iso(stamp: float) -> str:
    """Mastodon's timestamps: UTC, milliseconds, ``Z``."""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FakeMastodon(FakeServer):
    """One in-process Mastodon instance with one brand account; a context manager."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        domain: str = "social.example",
        account: str = "acme",
        token: str = "mastodon-token-1",
    ) -> None:
        super().__init__()
        self._clock = clock or time.time
        self.domain = domain
        self.account = account
        self.token = token
        self.statuses: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self._status_ids = itertools.count(FIRST_STATUS_ID)
        self._notification_ids = itertools.count(FIRST_NOTIFICATION_ID)
        self.remaining = RATE_LIMIT
        self.full_text_search = True

    def use_system_clock(self) -> None:
        """Date statuses by the system clock (a connector on it)."""
        with self._lock:
            self._clock = time.time

    # -- content --------------------------------------------------------------------------

    def render(self, text: str) -> str:
        """Plain text as Mastodon renders it: escaped, paragraphs, mentions as h-card links."""
        paragraphs = []
        for part in text.split("\n\n"):
            escaped = html.escape(part)
            escaped = _MENTION.sub(
                lambda m: (
                    f'<span class="h-card" translate="no"><a href="https://{self.domain}/'
                    f'@{m[1]}" class="u-url mention">@<span>{m[1]}</span></a></span>'
                ),
                escaped,
            )
            paragraphs.append(f"<p>{escaped.replace(chr(10), '<br />')}</p>")
        return "".join(paragraphs)

    def status(
        self,
        text: str = "",
        *,
        author: str = "dana",
        remote: str | None = None,
        tags: list[str] | None = None,
        raw_html: str | None = None,
        language: str | None = "en",
        visibility: str = "public",
        spoiler: str = "",
        created: float | None = None,
    ) -> dict[str, Any]:
        """A status by `author` (on `remote`'s server when given); its JSON."""
        with self._lock:
            status_id = str(next(self._status_ids))
            home = remote or self.domain
            acct = f"{author}@{remote}" if remote else author
            stamp = self._clock() if created is None else created
            status: dict[str, Any] = {
                "id": status_id,
                "uri": f"https://{home}/users/{author}/statuses/{status_id}",
                "url": f"https://{home}/@{author}/{status_id}",
                "created_at": iso(stamp),
                "edited_at": None,
                "visibility": visibility,
                "language": language,
                "in_reply_to_id": None,
                "in_reply_to_account_id": None,
                "content": raw_html if raw_html is not None else self.render(text),
                "spoiler_text": spoiler,
                "sensitive": bool(spoiler),
                "reblog": None,
                "replies_count": 0,
                "reblogs_count": 0,
                "favourites_count": 0,
                "account": {
                    "id": str(100 + len(author)),
                    "username": author,
                    "acct": acct,
                    "display_name": author.title(),
                    "url": f"https://{home}/@{author}",
                    "followers_count": 42,
                    "bot": False,
                    "created_at": iso(stamp - 86_400),
                },
                "mentions": [
                    {
                        "id": "1",
                        "username": name,
                        "acct": name,
                        "url": f"https://{self.domain}/@{name}",
                    }
                    for name in _MENTION.findall(text)
                ],
                "tags": [
                    {"name": tag.lower(), "url": f"https://{self.domain}/tags/{tag.lower()}"}
                    for tag in tags or []
                ],
                "media_attachments": [],
                "emojis": [],
                "application": None,
            }
            self.statuses.append(status)
            return status

    def mention(self, text: str, **kwargs: Any) -> dict[str, Any]:
        """A status that mentions the brand's account, and its ``mention`` notification."""
        with self._lock:
            status = self.status(text, **kwargs)
            self.notifications.append(
                {
                    "id": str(next(self._notification_ids)),
                    "type": "mention",
                    "group_key": f"ungrouped-{status['id']}",
                    "created_at": status["created_at"],
                    "account": status["account"],
                    "status": status,
                }
            )
            return status

    def favourite(self) -> dict[str, Any]:
        """A notification that is not a mention (filtered out by ``types[]=mention``)."""
        with self._lock:
            notification = {
                "id": str(next(self._notification_ids)),
                "type": "favourite",
                "group_key": "favourite-1",
                "created_at": iso(self._clock()),
                "account": self.status("", author="fan")["account"],
                "status": None,
            }
            self.statuses.pop()
            self.notifications.append(notification)
            return notification

    def mention_many(self, count: int, text: str = "@acme broke {n}", **kwargs: Any) -> list[str]:
        """`count` mentions (``{n}`` numbered), oldest first; their ``uri``s."""
        return [self.mention(text.format(n=n), **kwargs)["uri"] for n in range(count)]

    def tagged_many(self, count: int, tag: str, text: str = "acme broke {n}") -> list[str]:
        return [self.status(text.format(n=n), tags=[tag])["uri"] for n in range(count)]

    def edit(self, status: dict[str, Any], text: str) -> None:
        """Mastodon's edit: same id, new content, ``edited_at`` set."""
        with self._lock:
            status["content"] = self.render(text)
            status["edited_at"] = iso(self._clock())

    # -- the API --------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        if request.path != "/api/v2/instance" and request.token != self.token:
            return Response(401, {"error": "The access token is invalid"})
        return super().dispatch(request)

    def headers_for(self, request: Request) -> dict[str, str]:
        self.remaining = max(0, self.remaining - 1)
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": iso(time.time() + WINDOW),
        }

    def error_response(self, request: Request, fault: Fault) -> Response:
        headers: dict[str, str] = {}
        if fault.code == 429:
            headers = {
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": iso(time.time() + (fault.retry_after or WINDOW)),
            }
            if fault.retry_after is None:
                del headers["X-RateLimit-Reset"]
        message = fault.error or {
            401: "The access token is invalid",
            404: "Record not found",
            429: "Too many requests",
        }.get(fault.code, "Internal server error")
        return Response(fault.code, {"error": message}, headers)

    @route("GET", "/api/v2/instance")
    def instance(self, request: Request) -> Response:
        return Response(
            200,
            {
                "domain": self.domain,
                "title": "Social Example",
                "version": "4.3.0",
                "configuration": {"statuses": {"max_characters": 500}},
            },
        )

    @route("GET", "/api/v1/accounts/verify_credentials")
    def verify_credentials(self, request: Request) -> Response:
        return Response(
            200,
            {"id": "1", "username": self.account, "acct": self.account, "display_name": "Acme"},
        )

    @route("GET", "/api/v2/search")
    def search(self, request: Request) -> Response:
        words = str(request.query.get("q", "")).lower().split()
        found = [
            s
            for s in self.statuses
            if self.full_text_search
            and s["visibility"] == "public"
            and s["account"].get("indexable", True)
            and all(word in html.unescape(s["content"]).lower() for word in words)
        ]
        page = self._page(request, found, "/api/v2/search", largest=40, default=20)
        return Response(200, {"accounts": [], "statuses": page.body, "hashtags": []}, page.headers)

    @route("GET", "/api/v1/notifications")
    def list_notifications(self, request: Request) -> Response:
        types = {value for key, value in request.query.items() if key.startswith("types")}
        items = [n for n in self.notifications if not types or n["type"] in types]
        return self._page(request, items, "/api/v1/notifications", largest=80, default=40)

    @route("GET", r"/api/v1/timelines/tag/(?P<tag>[^/]+)")
    def tag_timeline(self, request: Request, tag: str) -> Response:
        wanted = tag.lower()
        items = [
            s
            for s in self.statuses
            if s["visibility"] == "public" and any(t["name"] == wanted for t in s["tags"])
        ]
        return self._page(request, items, f"/api/v1/timelines/tag/{tag}", largest=40, default=20)

    def _page(
        self,
        request: Request,
        items: list[dict[str, Any]],
        path: str,
        *,
        largest: int,
        default: int,
    ) -> Response:
        """Mastodon's id paging over `items` (oldest first), answered newest first."""
        query = request.query
        limit = min(int(query.get("limit") or default), largest)
        chosen = sorted(items, key=lambda item: int(item["id"]))
        if query.get("max_id"):
            chosen = [i for i in chosen if int(i["id"]) < int(query["max_id"])]
        if query.get("since_id"):
            chosen = [i for i in chosen if int(i["id"]) > int(query["since_id"])]
        if query.get("min_id"):
            chosen = [i for i in chosen if int(i["id"]) > int(query["min_id"])][:limit]
        else:
            chosen = chosen[-limit:]
        page = list(reversed(chosen))
        headers = {}
        if page:
            url = f"{self.base_url}{path}"
            headers["Link"] = (
                f'<{url}?max_id={page[-1]["id"]}>; rel="next", '
                f'<{url}?min_id={page[0]["id"]}>; rel="prev"'
            )
        return Response(200, page, headers)


__all__ = ["FakeMastodon", "iso"]
