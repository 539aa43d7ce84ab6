"""A fake X API v2 on 127.0.0.1, spoken to over a real socket by the real tweepy `Client`.

It serves what the X connector uses, in X's wire format: ``GET /2/users/:id/mentions``
(``pagination_token``), ``GET /2/tweets/search/recent`` (``next_token``) and
``GET /2/users/by/username/:name``; results newest first, ``since_id`` and ``until_id``
exclusive, ``max_results`` checked (mentions 5..100, search 10..100), only the requested
``tweet.fields`` and ``user.fields`` returned, ``x-rate-limit-*`` headers on every response
(per endpoint, 15-minute windows, a 429 when spent), 401 problem JSON for a wrong bearer token.
Failures are queued: any status with X's problem JSON (429 with a reset time), a slow answer, a
mangled body, a dropped connection.

    with FakeXApi(clock=lambda: clock.now().timestamp()) as x:
        x.add_user("dana", followers=120)
        x.post("@acme where is my refund?", author="dana")
        settings: api_base_url = x.base_url, the bearer token env var set to x.bearer_token

Search matching is deliberately small, not X's parser: quoted phrases and words are OR-ed
(substring, case-insensitive), ``-word`` and ``-"phrase"`` exclude, ``lang:xx`` filters,
``-is:retweet`` drops retweets, other ``op:value`` tokens and parentheses are ignored.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

FIRST_ID = 1_860_000_000_000_000_000
"""Tweet ids look like X's snowflakes (19 digits) and grow with each post."""
WINDOW_SECONDS = 900

PROBLEMS: dict[int, dict[str, Any]] = {
    400: {
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    },
    401: {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
    403: {
        "client_id": "29000001",
        "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use "
        "keys and tokens from a Twitter developer App that is attached to a Project. You can "
        "create a project via the developer portal.",
        "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
        "title": "Client Forbidden",
        "required_enrollment": "Appropriate Level of API Access",
        "reason": "client-not-enrolled",
        "type": "https://api.twitter.com/2/problems/client-forbidden",
    },
    429: {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    },
    500: {
        "title": "Internal Server Error",
        "detail": "Internal Server Error",
        "type": "about:blank",
        "status": 500,
    },
    503: {
        "title": "Service Unavailable",
        "detail": "Service Unavailable",
        "type": "about:blank",
        "status": 503,
    },
}

_MENTIONS = re.compile(r"^/2/users/([^/]+)/mentions$")
_BY_USERNAME = re.compile(r"^/2/users/by/username/([^/]+)$")


@dataclass
class FakeRequest:
    path: str
    params: dict[str, str]
    status: int = 0


@dataclass
class _Failure:
    status: int
    match: Callable[[FakeRequest], bool]
    times: int
    reset: float | None
    body: bytes | None
    delay: float
    mangle: Callable[[bytes], bytes] | None
    drop: bool
    skip: int


@dataclass
class _Window:
    limit: int
    used: int = 0
    reset: float = 0.0


@dataclass
class _Tweet:
    id: int
    text: str
    author_id: str
    created_at: str
    lang: str
    conversation_id: str
    referenced: list[dict[str, str]] = field(default_factory=list)

    @property
    def is_retweet(self) -> bool:
        return any(r["type"] == "retweeted" for r in self.referenced)


class FakeXApi:
    """An in-process X API v2; a context manager. Its attributes are safe to read anytime.

    `clock` (epoch seconds, default `time.time`) drives rate-limit windows and ``created_at``:
    pass the test's clock so the connector and the server agree on when a reset comes.
    """

    def __init__(
        self,
        *,
        bearer_token: str = "test-bearer-token",
        clock: Callable[[], float] | None = None,
        rate_limit: int = 100_000,
    ) -> None:
        self.bearer_token = bearer_token
        self.rate_limit = rate_limit
        """Requests per 15-minute window on each endpoint."""
        self.tweets: dict[int, _Tweet] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.hidden_users: set[str] = set()
        """Author ids left out of ``includes.users`` (suspended accounts, partial answers)."""
        self.requests: list[FakeRequest] = []
        self.search_since_floor: int | None = None
        """Recent search answers 400 to a ``since_id`` below this (its 7-day window)."""
        self._clock = clock or time.time
        self._next_id = FIRST_ID
        self._token_generation = 0
        self._windows: dict[str, _Window] = {}
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeXApi:
        fake = self

        class Handler(_Handler):
            api = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use FakeXApi as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- data --------------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        *,
        name: str | None = None,
        followers: int = 0,
        verified: bool = False,
        user_id: str | None = None,
    ) -> str:
        with self._lock:
            user_id = user_id or str(1000 + len(self.users))
            self.users[user_id] = {
                "id": user_id,
                "name": name if name is not None else username.title(),
                "username": username,
                "public_metrics": {
                    "followers_count": followers,
                    "following_count": 10,
                    "tweet_count": 100,
                    "listed_count": 0,
                },
                "verified": verified,
            }
            return user_id

    def user_id(self, username: str) -> str:
        for user in self.users.values():
            if user["username"].lower() == username.lower():
                return str(user["id"])
        raise KeyError(username)

    def post(
        self,
        text: str,
        *,
        author: str,
        lang: str = "en",
        reply_to: str | None = None,
        quote_of: str | None = None,
        retweet_of: str | None = None,
    ) -> str:
        """Publish a post by `author` (a username, or an id not in `users`); returns its id."""
        with self._lock:
            try:
                author_id = self.user_id(author)
            except KeyError:
                author_id = author
            tweet_id = self._next_id
            self._next_id += 1
            referenced = [
                {"type": kind, "id": ref}
                for kind, ref in (
                    ("replied_to", reply_to),
                    ("quoted", quote_of),
                    ("retweeted", retweet_of),
                )
                if ref is not None
            ]
            created = datetime.fromtimestamp(self._clock(), UTC)
            self.tweets[tweet_id] = _Tweet(
                id=tweet_id,
                text=text,
                author_id=author_id,
                created_at=created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                lang=lang,
                conversation_id=reply_to or str(tweet_id),
                referenced=referenced,
            )
            return str(tweet_id)

    def post_many(self, count: int, text: str, *, author: str) -> list[str]:
        """`count` posts, oldest first; `text` may use ``{n}``."""
        return [self.post(text.format(n=n), author=author) for n in range(count)]

    # -- failures ----------------------------------------------------------------------------

    def fail(
        self,
        status: int = 200,
        *,
        path: str = "/2/",
        query: str | None = None,
        times: int = 1,
        reset_in: float | None = None,
        body: bytes | None = None,
        delay: float = 0.0,
        mangle: Callable[[bytes], bytes] | None = None,
        drop: bool = False,
        skip: int = 0,
    ) -> None:
        """The next `times` requests whose path starts with `path` (and, if given, whose search
        query is `query`) get `status` with X's problem JSON (or `body`), after `delay`
        seconds. Status 200 answers normally, then applies `mangle` to the body. 429 carries a
        reset `reset_in` seconds from the clock. `drop` closes the connection unanswered.
        `skip` lets that many matching requests through first."""

        def match(request: FakeRequest) -> bool:
            return request.path.startswith(path) and (
                query is None or request.params.get("query") == query
            )

        reset = None if reset_in is None else self._clock() + reset_in
        with self._lock:
            self._failures.append(
                _Failure(status, match, times, reset, body, delay, mangle, drop, skip)
            )

    def invalidate_tokens(self) -> None:
        """Pagination tokens issued so far are refused with a 400 (as if they had expired)."""
        with self._lock:
            self._token_generation += 1

    def served(self, path_prefix: str = "/2/") -> list[FakeRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # -- the API -----------------------------------------------------------------------------

    def take(self, request: FakeRequest) -> _Failure | None:
        """Record a request as it arrives and take the failure queued for it, if any."""
        with self._lock:
            self.requests.append(request)
            return self._take_failure(request)

    def respond(
        self, request: FakeRequest, failure: _Failure | None, authorization: str
    ) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            headers = self._count(self._endpoint(request.path), request)
            if failure is not None and failure.status != 200:
                if failure.status == 429 and failure.reset is not None:
                    headers["x-rate-limit-remaining"] = "0"
                    headers["x-rate-limit-reset"] = str(int(failure.reset))
                return failure.status, failure.body or _problem(failure.status), headers
            if authorization != f"Bearer {self.bearer_token}":
                return 401, _problem(401), headers
            if headers["x-rate-limit-remaining"] == "-1":
                headers["x-rate-limit-remaining"] = "0"
                return 429, _problem(429), headers
            status, payload = self._route(request)
            body = json.dumps(payload).encode()
            if failure is not None and failure.mangle is not None:
                body = failure.mangle(body)
            return status, body, headers

    def wait(self, seconds: float) -> None:
        self._closing.wait(seconds)

    def _take_failure(self, request: FakeRequest) -> _Failure | None:
        for failure in self._failures:
            if failure.match(request):
                if failure.skip > 0:
                    failure.skip -= 1
                    continue
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    @staticmethod
    def _endpoint(path: str) -> str:
        if _MENTIONS.match(path):
            return "mentions"
        if _BY_USERNAME.match(path):
            return "users"
        return path

    def _count(self, endpoint: str, request: FakeRequest) -> dict[str, str]:
        now = self._clock()
        window = self._windows.get(endpoint)
        if window is None or now >= window.reset:
            window = self._windows[endpoint] = _Window(
                self.rate_limit, 0, (now // WINDOW_SECONDS + 1) * WINDOW_SECONDS
            )
        window.used += 1
        remaining = window.limit - window.used
        return {
            "x-rate-limit-limit": str(window.limit),
            "x-rate-limit-remaining": str(max(remaining, -1)),
            "x-rate-limit-reset": str(int(window.reset)),
        }

    def _route(self, request: FakeRequest) -> tuple[int, dict[str, Any]]:
        path, params = request.path, request.params
        if path == "/2/tweets/search/recent":
            if "query" not in params:
                return _invalid("query", "", "The `query` query parameter can not be empty")
            return self._timeline(params, lambda t: _matches(params["query"], t), "next_token", 10)
        mentions = _MENTIONS.match(path)
        if mentions:
            user = self.users.get(mentions[1])
            if user is None:
                return 404, {"title": "Not Found Error", "type": "about:blank"}
            handle = "@" + str(user["username"]).lower()
            return self._timeline(params, lambda t: handle in t.text.lower(), "pagination_token", 5)
        by_name = _BY_USERNAME.match(path)
        if by_name:
            name = unquote(by_name[1])
            for user in self.users.values():
                if str(user["username"]).lower() == name.lower():
                    return 200, {"data": self._user(user, params, always=True)}
            return 200, {
                "errors": [
                    {
                        "value": name,
                        "detail": f"Could not find user with username: [{name}].",
                        "title": "Not Found Error",
                        "resource_type": "user",
                        "parameter": "username",
                        "resource_id": name,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                ]
            }
        return 404, {"title": "Not Found Error", "detail": f"no route {path}"}

    def _timeline(
        self,
        params: dict[str, str],
        wanted: Callable[[_Tweet], bool],
        token_name: str,
        smallest: int,
    ) -> tuple[int, dict[str, Any]]:
        limit = params.get("max_results", "10")
        if not limit.isdigit() or not smallest <= int(limit) <= 100:
            return _invalid(
                "max_results",
                limit,
                f"The `max_results` query parameter value [{limit}] is not between "
                f"{smallest} and 100",
            )
        bounds: dict[str, int] = {}
        for name in ("since_id", "until_id"):
            if name in params:
                if not params[name].isdigit():
                    return _invalid(name, params[name], f"Invalid '{name}':'{params[name]}'.")
                bounds[name] = int(params[name])
        floor = self.search_since_floor
        if token_name == "next_token" and floor and bounds.get("since_id", floor) < floor:
            value = params["since_id"]
            return _invalid(
                "since_id",
                value,
                f"Invalid 'since_id':'{value}'. 'since_id' must be a tweet id created after "
                "the start of the last 7 days.",
            )
        below = bounds.get("until_id")
        if token_name in params:
            position = self._read_token(params[token_name])
            if position is None:
                return _invalid(
                    token_name, params[token_name], f"Invalid {token_name}: expired or unknown"
                )
            below = position if below is None else min(below, position)
        found = sorted(
            (
                t
                for t in self.tweets.values()
                if t.id > bounds.get("since_id", 0)
                and (below is None or t.id < below)
                and wanted(t)
            ),
            key=lambda t: t.id,
            reverse=True,
        )
        page, rest = found[: int(limit)], found[int(limit) :]
        meta: dict[str, Any] = {"result_count": len(page)}
        if not page:
            return 200, {"meta": meta}
        meta |= {"newest_id": str(page[0].id), "oldest_id": str(page[-1].id)}
        if rest:
            meta["next_token"] = f"7140dibdnow9c7btw{self._token_generation:x}x{page[-1].id:x}"
        fields = set(params.get("tweet.fields", "").split(","))
        body: dict[str, Any] = {"data": [self._tweet(t, fields) for t in page]}
        if "author_id" in params.get("expansions", "").split(","):
            authors = dict.fromkeys(t.author_id for t in page)
            users = [
                self._user(self.users[a], params)
                for a in authors
                if a in self.users and a not in self.hidden_users
            ]
            if users:
                body["includes"] = {"users": users}
        body["meta"] = meta
        return 200, body

    def _read_token(self, token: str) -> int | None:
        match = re.fullmatch(r"7140dibdnow9c7btw([0-9a-f]+)x([0-9a-f]+)", token)
        if match is None or int(match[1], 16) != self._token_generation:
            return None
        return int(match[2], 16)

    @staticmethod
    def _tweet(tweet: _Tweet, fields: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(tweet.id),
            "text": tweet.text,
            "edit_history_tweet_ids": [str(tweet.id)],
        }
        optional = {
            "author_id": tweet.author_id,
            "created_at": tweet.created_at,
            "lang": tweet.lang,
            "conversation_id": tweet.conversation_id,
        }
        data |= {k: v for k, v in optional.items() if k in fields}
        if "referenced_tweets" in fields and tweet.referenced:
            data["referenced_tweets"] = tweet.referenced
        if "note_tweet" in fields and len(tweet.text) > 280:
            data["text"] = tweet.text[:279] + "\u2026"
            data["note_tweet"] = {"text": tweet.text}
        elif len(tweet.text) > 280:
            data["text"] = tweet.text[:279] + "\u2026"
        return data

    @staticmethod
    def _user(user: dict[str, Any], params: dict[str, str], always: bool = False) -> dict[str, Any]:
        fields = set(params.get("user.fields", "").split(","))
        data = {k: user[k] for k in ("id", "name", "username")}
        data |= {k: user[k] for k in ("public_metrics", "verified") if k in fields}
        return data


class _Handler(BaseHTTPRequestHandler):
    api: FakeXApi
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle's algorithm and delayed
        # ACKs add 40 ms to every keep-alive response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        request = FakeRequest(parts.path, dict(parse_qsl(parts.query)))
        failure = self.api.take(request)
        if failure is not None and failure.delay:
            self.api.wait(failure.delay)
        if failure is not None and failure.drop:
            self.close_connection = True
            self.connection.close()
            return
        status, body, headers = self.api.respond(
            request, failure, self.headers.get("Authorization", "")
        )
        request.status = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _problem(status: int) -> bytes:
    body = PROBLEMS.get(status) or {
        "title": f"HTTP {status}",
        "type": "about:blank",
        "status": status,
        "detail": f"HTTP {status}",
    }
    return json.dumps(body).encode()


def _invalid(parameter: str, value: str, message: str) -> tuple[int, dict[str, Any]]:
    return 400, {
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        **PROBLEMS[400],
    }


def _matches(query: str, tweet: _Tweet) -> bool:
    text = tweet.text.lower()
    try:
        tokens = shlex.split(query.replace("(", " ").replace(")", " "))
    except ValueError:
        tokens = query.split()
    wanted: list[str] = []
    langs: list[str] = []
    for token in tokens:
        lowered = token.lower()
        if lowered == "or":
            continue
        if lowered == "-is:retweet":
            if tweet.is_retweet:
                return False
        elif lowered.startswith("lang:"):
            langs.append(lowered.removeprefix("lang:"))
        elif lowered.startswith("-"):
            if lowered[1:] and lowered[1:] in text:
                return False
        elif ":" not in lowered:
            wanted.append(lowered)
    if langs and tweet.lang not in langs:
        return False
    return not wanted or any(w in text for w in wanted)
