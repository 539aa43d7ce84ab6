"""A fake Reddit API on 127.0.0.1, spoken to over a real socket by the real praw client.

It speaks what praw 8 / prawcore 4 send and expect (see docs: platform-apis.md, "Reddit"):
the token endpoint (client-credentials and password grants, HTTP Basic client auth), bearer-token
listings with ``after`` paging, and ``x-ratelimit-remaining/used/reset`` on every response. Tests
queue failures by path (401 with ``www-authenticate``, 403, 429, 5xx) and mark subreddits
private, so the connector meets the library's own error handling rather than a patched stand-in.

    with FakeReddit() as reddit:
        post = reddit.add_post("acme", "Acme lost my order")
        praw.Reddit(..., oauth_url=reddit.base_url, reddit_url=reddit.base_url)
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BASE_CREATED = 1_795_431_600.0
"""2026-11-23 11:00 UTC, an hour before FakeClock's default start: items get increasing
created_utc from here unless given one."""

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _BASE36[rest] + digits
        if not number:
            return digits


@dataclass
class Failure:
    """A queued answer for the next request(s) whose path starts with `path`."""

    path: str
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    """Seconds to wait before answering (for client timeouts); status 0 answers normally."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str]
    token: str | None
    user_agent: str


class FakeReddit:
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
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.page_size = page_size
        """The most items a page holds, whatever ``limit`` asks (Reddit's is 100)."""
        self.rate_limit: dict[str, float] = {"remaining": 598.0, "used": 2, "reset": 300}
        """Sent as ``x-ratelimit-*`` on every response; tests change it."""
        self.token_lifetime = 86_400
        self.requests: list[Request] = []
        self.tokens: dict[str, str] = {}
        """Valid access tokens -> "app" or "user"."""
        self.forbidden: dict[str, tuple[int, str]] = {}
        """Subreddit (lower case) -> (status, reason): see `forbid`."""
        self._things: dict[str, dict[str, Any]] = {}
        self._order: dict[str, int] = {}
        self._mentions: list[str] = []
        self._failures: deque[Failure] = deque()
        self._ids = itertools.count(1_000_000)
        self._tokens = itertools.count(1)
        self._next_created = start
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> FakeReddit:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        fake = self

        class Handler(_Handler):
            reddit = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

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
        """Change an item in place (an edited title or body keeps its place and created_utc)."""
        with self._lock:
            self._things[fullname].update(fields)

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

    # -- failures -------------------------------------------------------------------------

    def fail(
        self,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next `times` requests under `path` with `status` (after `delay` seconds).

        401 carries ``www-authenticate: Bearer realm="reddit", error="invalid_token"`` by default,
        as Reddit's does (praw then refreshes the token and retries once).
        """
        with self._lock:
            self._failures.append(
                Failure(path.rstrip("/"), status, times, headers or {}, body, delay)
            )

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def paths(self, prefix: str = "") -> list[str]:
        """Request paths so far (optionally those starting with `prefix`)."""
        with self._lock:
            return [r.path for r in self.requests if r.path.startswith(prefix)]

    # -- request handling (called from the server threads) ------------------------------------

    def _take_failure(self, path: str) -> Failure | None:
        with self._lock:
            for failure in self._failures:
                if path.startswith(failure.path):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

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

    def answer(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        """The status, extra headers and JSON body for one request."""
        auth = headers.get("authorization", "")
        token = auth.split(" ", 1)[1] if auth.lower().startswith("bearer ") else None
        with self._lock:
            self.requests.append(
                Request(method, path, params, token, headers.get("user-agent", ""))
            )
        failure = self._take_failure(path)
        if failure is not None and failure.delay:
            time.sleep(failure.delay)
        if failure is not None and failure.status:
            extra = dict(failure.headers)
            if failure.status == 401:
                extra.setdefault("www-authenticate", 'Bearer realm="reddit", error="invalid_token"')
            body = (
                failure.body
                if failure.body is not None
                else {"message": _STATUS_TEXT.get(failure.status, "Error"), "error": failure.status}
            )
            return failure.status, extra, body
        if path == "/api/v1/access_token" and method == "POST":
            return self._token(params, headers)
        with self._lock:
            kind = self.tokens.get(token or "")
            if kind is None:
                return (
                    401,
                    {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'},
                    {"message": "Unauthorized", "error": 401},
                )
            return self._route(path, params, kind)

    def _token(
        self, form: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if headers.get("authorization", "") != f"Basic {expected}":
            return 401, {}, {"message": "Unauthorized", "error": 401}
        grant = form.get("grant_type")
        if grant == "password":
            if (form.get("username"), form.get("password")) != (self.username, self.password):
                return 200, {}, {"error": "invalid_grant"}
            kind = "user"
        elif grant == "client_credentials":
            kind = "app"
        else:
            return 200, {}, {"error": "unsupported_grant_type"}
        with self._lock:
            token = f"token-{next(self._tokens)}"
            self.tokens[token] = kind
        return (
            200,
            {},
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
                "scope": "*",
            },
        )

    def _route(
        self, path: str, params: dict[str, str], kind: str
    ) -> tuple[int, dict[str, str], Any]:
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["r"] and len(parts) == 3:
            sub, what = parts[1], parts[2]
            refused = self.forbidden.get(sub.lower())
            if refused:
                status, reason = refused
                body = {"reason": reason, "message": _STATUS_TEXT[status], "error": status}
                return status, {}, body
            in_sub = [n for n, d in self._things.items() if d["subreddit"].lower() == sub.lower()]
            if what == "new":
                return 200, {}, self._listing([n for n in in_sub if n.startswith("t3_")], params)
            if what == "comments":
                return 200, {}, self._listing([n for n in in_sub if n.startswith("t1_")], params)
            if what == "search":
                restrict = params.get("restrict_sr") in ("on", "1", "true", "True")
                found = self._search(params, sub if restrict else None)
                return 200, {}, self._listing(found, params)
        if parts == ["search"]:
            return 200, {}, self._listing(self._search(params, None), params)
        if parts == ["message", "mentions"]:
            if kind != "user":
                return (
                    403,
                    {"www-authenticate": 'Bearer realm="reddit", error="insufficient_scope"'},
                    {"message": "Forbidden", "error": 403},
                )
            mentions = [dict(self._things[n]) for n in self._mentions if n in self._things]
            listing = self._listing([m["name"] for m in mentions], params)
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
            return 200, {}, listing
        if parts == ["api", "v1", "me"]:
            if kind != "user":
                return (
                    403,
                    {"www-authenticate": 'Bearer realm="reddit", error="insufficient_scope"'},
                    {"message": "Forbidden", "error": 403},
                )
            return 200, {}, {"name": self.username, "id": "abc123", "created_utc": BASE_CREATED}
        return 404, {}, {"message": "Not Found", "error": 404}


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


class _Handler(BaseHTTPRequestHandler):
    reddit: FakeReddit
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server would

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        split = urlsplit(self.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(self.headers.get("content-length") or 0)
        if length:
            params.update(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
        path = split.path.rstrip("/") or "/"
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, body = self.reddit.answer(self.command, path, params, headers)
        payload = json.dumps(body).encode()
        rate = self.reddit.rate_limit
        self.send_response(status)
        self.send_header("content-type", "application/json; charset=UTF-8")
        self.send_header("content-length", str(len(payload)))
        self.send_header("x-ratelimit-remaining", f"{rate['remaining']:.1f}")
        self.send_header("x-ratelimit-used", str(int(rate["used"])))
        self.send_header("x-ratelimit-reset", str(int(rate["reset"])))
        for name, value in extra.items():
            self.send_header(name, value)
        if headers.get("connection", "").lower() == "close":
            self.send_header("connection", "close")  # as real servers answer prawcore's token POST
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _handle
    do_POST = _handle
