"""A fake Reddit API on 127.0.0.1, spoken to over a real socket by the real praw client.

It speaks what praw 8 / prawcore 4 send and expect (see docs: platform-apis.md, "Reddit"):
the token endpoint (client-credentials and password grants, HTTP Basic client auth), bearer-token
listings with ``after`` paging, and ``x-ratelimit-remaining/used/reset`` on every response. Tests
script faults with the base's `fault` (tests/fakes/server.py; a 401 carries ``www-authenticate``)
and mark subreddits private, so the connector meets the library's own error handling rather
than a patched stand-in.

    with FakeReddit() as reddit:
        post = reddit.add_post("acme", "Acme lost my order")
        praw.Reddit(..., oauth_url=reddit.base_url, reddit_url=reddit.base_url)
"""

from __future__ import annotations

import base64
import itertools
import re
from typing import Any

from tests.fakes.server import FakeServer, Fault, Request, Response, route

BASE_CREATED = 1_795_431_600.0
"""2026-11-23 11:00 UTC, an hour before FakeClock's default start: items get increasing
created_utc from here unless given one."""

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_INVALID_TOKEN = 'Bearer realm="reddit", error="invalid_token"'


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _BASE36[rest] + digits
        if not number:
            return digits


class FakeReddit(FakeServer):
    """An in-process Reddit; a context manager. Its attributes are safe to read at any time."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        username: str = "acme_support",
        password: str = "hunter2",
        page_size: int = 100,
        start: float = BASE_CREATED,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.page_size = page_size
        """The most items a page holds, whatever ``limit`` asks (Reddit's is 100)."""
        self.rate_limit: dict[str, float] = {"remaining": 598.0, "used": 2, "reset": 300}
        """Sent as ``x-ratelimit-*`` on every response; tests change it."""
        self.token_lifetime = 86_400
        self.tokens: dict[str, str] = {}
        """Valid access tokens -> "app" or "user"."""
        self.forbidden: dict[str, tuple[int, str]] = {}
        """Subreddit (lower case) -> (status, reason): see `forbid`."""
        self._things: dict[str, dict[str, Any]] = {}
        self._order: dict[str, int] = {}
        self._mentions: list[str] = []
        self._ids = itertools.count(1_000_000)
        self._tokens = itertools.count(1)
        self._next_created = start

    # -- content --------------------------------------------------------------------------

    def _created(self, created: float | None) -> float:
        if created is not None:
            return created
        self._next_created += 1
        return self._next_created

    def add_post(
        self,
        subreddit: str,
        title: str,
        selftext: str = "",
        *,
        author: str | None = "dana",
        created: float | None = None,
        url: str | None = None,
        score: int = 1,
    ) -> dict[str, Any]:
        """A submission (t3); `url` makes it a link post. Returns its JSON data."""
        with self._lock:
            post_id = _base36(next(self._ids))
            permalink = f"/r/{subreddit}/comments/{post_id}/{_slug(title)}/"
            data = {
                "id": post_id,
                "name": f"t3_{post_id}",
                "title": title,
                "selftext": selftext,
                "author": author if author is not None else "[deleted]",
                "subreddit": subreddit,
                "subreddit_name_prefixed": f"r/{subreddit}",
                "created_utc": self._created(created),
                "permalink": permalink,
                "url": url or f"https://www.reddit.com{permalink}",
                "is_self": url is None,
                "score": score,
                "num_comments": 0,
                "over_18": False,
                "edited": False,
            }
            self._add(data)
            return data

    def add_comment(
        self,
        post: dict[str, Any],
        body: str,
        *,
        author: str | None = "erin",
        created: float | None = None,
        score: int = 1,
    ) -> dict[str, Any]:
        """A comment (t1) on `post`. Returns its JSON data."""
        with self._lock:
            comment_id = _base36(next(self._ids))
            data = {
                "id": comment_id,
                "name": f"t1_{comment_id}",
                "body": body,
                "author": author if author is not None else "[deleted]",
                "subreddit": post["subreddit"],
                "created_utc": self._created(created),
                "permalink": f"{post['permalink']}{comment_id}/",
                "link_id": post["name"],
                "parent_id": post["name"],
                "link_title": post["title"],
                "edited": False,
                "link_permalink": f"https://www.reddit.com{post['permalink']}",
                "score": score,
            }
            self._add(data)
            return data

    def add_mention(
        self,
        post: dict[str, Any],
        body: str,
        *,
        author: str = "frank",
        created: float | None = None,
    ) -> dict[str, Any]:
        """A comment on `post` naming u/<username>; it lands in the account's mentions inbox."""
        with self._lock:
            comment = self.add_comment(post, body, author=author, created=created)
            self._mentions.append(comment["name"])
            return comment

    def _add(self, data: dict[str, Any]) -> None:
        self._things[data["name"]] = data
        self._order[data["name"]] = len(self._order)

    def edit(self, fullname: str, **fields: Any) -> None:
        """Change an item in place (an edited title or body keeps its place and created_utc;
        ``edited`` says when, as Reddit does: false until the first edit)."""
        with self._lock:
            thing = self._things[fullname]
            thing.update(fields)
            if {"title", "selftext", "body"} & fields.keys():
                thing["edited"] = self._created(None)

    def forbid(self, subreddit: str, reason: str = "private", status: int = 403) -> None:
        """Refuse a subreddit as Reddit does: 403 "private" or "quarantined", 404 "banned"."""
        with self._lock:
            self.forbidden[subreddit.lower()] = (status, reason)

    def allow(self, subreddit: str) -> None:
        with self._lock:
            self.forbidden.pop(subreddit.lower(), None)

    def delete(self, fullname: str) -> None:
        """Remove an item from every listing (as Reddit does with a deleted or removed post)."""
        with self._lock:
            self._things.pop(fullname, None)

    # -- test controls ------------------------------------------------------------------

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    # -- request handling (handler threads) -------------------------------------------------

    def headers_for(self, request: Request) -> dict[str, str]:
        rate = self.rate_limit
        return {
            "content-type": "application/json; charset=UTF-8",
            "x-ratelimit-remaining": f"{rate['remaining']:.1f}",
            "x-ratelimit-used": str(int(rate["used"])),
            "x-ratelimit-reset": str(int(rate["reset"])),
        }

    def error_response(self, request: Request, fault: Fault) -> Response:
        """Reddit's ``{"message", "error"}``; a 401 says why in ``www-authenticate`` (praw then
        renews its token and retries once); a 429 with a reset names it in the headers."""
        headers = {}
        if fault.code == 401:
            headers["www-authenticate"] = _INVALID_TOKEN
        if fault.code == 403 and fault.error:
            headers["www-authenticate"] = f'Bearer realm="reddit", error="{fault.error}"'
        if fault.retry_after is not None:
            headers |= {
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(fault.retry_after)),
            }
        body = {"message": _STATUS_TEXT.get(fault.code, "Error"), "error": fault.code}
        return Response(fault.code, body, headers)

    def dispatch(self, request: Request) -> Response:
        """Every route but the token endpoint wants a valid bearer token."""
        if request.path != "/api/v1/access_token" and request.token not in self.tokens:
            return self.error_response(request, Fault.status(401))
        with self._lock:
            return super().dispatch(request)

    def _listing(self, fullnames: list[str], params: dict[str, str]) -> dict[str, Any]:
        things = sorted(
            (self._things[f] for f in fullnames if f in self._things),
            key=lambda d: (d["created_utc"], self._order[d["name"]]),
            reverse=True,
        )
        start = 0
        after = params.get("after")
        if after:
            names = [t["name"] for t in things]
            start = names.index(after) + 1 if after in names else len(things)
        limit = max(1, min(int(params.get("limit", 25)), self.page_size))
        page = things[start : start + limit]
        more = start + limit < len(things)
        return {
            "kind": "Listing",
            "data": {
                "after": page[-1]["name"] if page and more else None,
                "before": None,
                "dist": len(page),
                "modhash": None,
                "geo_filter": "",
                "children": [{"kind": t["name"][:2], "data": dict(t)} for t in page],
            },
        }

    def _search(self, params: dict[str, str], subreddit: str | None) -> list[str]:
        terms = [
            t.strip().strip('"').lower()
            for t in re.split(r"\s+OR\s+", params.get("q", ""))
            if t.strip().strip('"')
        ]
        kind = "t1_" if params.get("type") == "comment" else "t3_"
        found = []
        for name, data in self._things.items():
            if not name.startswith(kind):
                continue
            if subreddit and data["subreddit"].lower() != subreddit.lower():
                continue
            haystack = " ".join(
                str(data.get(k, "")) for k in ("title", "selftext", "body", "url")
            ).lower()
            if any(term in haystack for term in terms):
                found.append(name)
        return found

    @route("POST", "/api/v1/access_token")
    def _token(self, request: Request) -> Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization", "") != f"Basic {expected}":
            return Response(401, {"message": "Unauthorized", "error": 401})
        form = request.params
        grant = form.get("grant_type")
        if grant == "password":
            if (form.get("username"), form.get("password")) != (self.username, self.password):
                return Response(200, {"error": "invalid_grant"})
            kind = "user"
        elif grant == "client_credentials":
            kind = "app"
        else:
            return Response(200, {"error": "unsupported_grant_type"})
        token = f"token-{next(self._tokens)}"
        self.tokens[token] = kind
        grant_body = {"token_type": "bearer", "expires_in": self.token_lifetime, "scope": "*"}
        return Response(200, {"access_token": token, **grant_body})

    @route("GET", r"/r/(?P<sub>[^/]+)/(?P<what>new|comments|search)")
    def _subreddit(self, request: Request, sub: str, what: str) -> Response:
        refused = self.forbidden.get(sub.lower())
        if refused:
            status, reason = refused
            return Response(
                status, {"reason": reason, "message": _STATUS_TEXT[status], "error": status}
            )
        in_sub = [n for n, d in self._things.items() if d["subreddit"].lower() == sub.lower()]
        if what == "new":
            return Response(
                200, self._listing([n for n in in_sub if n.startswith("t3_")], request.query)
            )
        if what == "comments":
            return Response(
                200, self._listing([n for n in in_sub if n.startswith("t1_")], request.query)
            )
        restrict = request.query.get("restrict_sr") in ("on", "1", "true", "True")
        found = self._search(request.query, sub if restrict else None)
        return Response(200, self._listing(found, request.query))

    @route("GET", "/search")
    def _search_all(self, request: Request) -> Response:
        return Response(200, self._listing(self._search(request.query, None), request.query))

    @route("GET", "/message/mentions")
    def _inbox(self, request: Request) -> Response:
        if self.tokens.get(request.token or "") != "user":
            return self.error_response(request, Fault.status(403, error="insufficient_scope"))
        mentions = [dict(self._things[n]) for n in self._mentions if n in self._things]
        listing = self._listing([m["name"] for m in mentions], request.query)
        for child in listing["data"]["children"]:
            data = child["data"]
            data["context"] = data.pop("permalink") + "?context=3"
            data.update(
                {
                    "subject": "username mention",
                    "type": "username_mention",
                    "was_comment": True,
                    "new": True,
                    "dest": self.username,
                }
            )
        return Response(200, listing)

    @route("GET", "/api/v1/me")
    def _me(self, request: Request) -> Response:
        if self.tokens.get(request.token or "") != "user":
            return self.error_response(request, Fault.status(403, error="insufficient_scope"))
        return Response(200, {"name": self.username, "id": "abc123", "created_utc": BASE_CREATED})


_STATUS_TEXT = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:50] or "post"
