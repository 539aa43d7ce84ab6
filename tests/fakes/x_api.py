"""A fake X API v2 on 127.0.0.1, spoken to over a real socket by the real tweepy `Client`.

It serves what the X connector uses, in X's wire format: ``GET /2/users/:id/mentions``
(``pagination_token``), ``GET /2/tweets/search/recent`` (``next_token``) and
``GET /2/users/by/username/:name``; results newest first, ``since_id`` and ``until_id``
exclusive, ``max_results`` checked (mentions 5..100, search 10..100), only the requested
``tweet.fields`` and ``user.fields`` returned, ``x-rate-limit-*`` headers on every response
(per endpoint, 15-minute windows, a 429 when spent), 401 problem JSON for a wrong bearer token.
Faults are scripted with the base's `fault` (tests/fakes/server.py): any status answers X's
problem JSON, and ``Fault.rate_limited(seconds)`` names the reset in ``x-rate-limit-*``.

It bills as X's pay-per-use does: every post a timeline returns and every user in its
``includes.users`` once per UTC day (`billed_posts`, `billed_users`), and serves the total as
``GET /2/usage/tweets`` in the X OpenAPI shape (counts as strings); `usage_allowed = False`
answers it 403 as on a plan without it.

    with FakeXApi(clock=lambda: clock.now().timestamp()) as x:
        x.add_user("dana", followers=120)
        x.post("@acme where is my refund?", author="dana")
        settings: api_base_url = x.base_url, the bearer token env var set to x.bearer_token

Search matching is deliberately small, not X's parser: quoted phrases and words are OR-ed
(substring, case-insensitive), ``-word`` and ``-"phrase"`` exclude, ``lang:xx`` filters,
``-is:retweet`` drops retweets, ``-from:user`` that user's posts, other ``op:value`` tokens and
parentheses are ignored.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from tests.fakes.server import FakeServer, Fault, Request, Response, route

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
    created: float
    """``created_at`` as epoch seconds (whole seconds, as X compares ``start_time``)."""
    lang: str
    conversation_id: str
    referenced: list[dict[str, str]] = field(default_factory=list)
    earlier_versions: list[str] = field(default_factory=list)
    """An edit is a new post whose ``edit_history_tweet_ids`` lists the earlier versions."""

    @property
    def is_retweet(self) -> bool:
        return any(r["type"] == "retweeted" for r in self.referenced)


class FakeXApi(FakeServer):
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
        super().__init__()
        self.bearer_token = bearer_token
        self.rate_limit = rate_limit
        """Requests per 15-minute window on each endpoint."""
        self.tweets: dict[int, _Tweet] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.hidden_users: set[str] = set()
        """Author ids left out of ``includes.users`` (suspended accounts, partial answers)."""
        self.search_since_floor: int | None = None
        """Recent search answers 400 to a ``since_id`` below this (its 7-day window)."""
        self.usage_allowed = True
        """False: ``GET /2/usage/tweets`` answers 403 (a plan without it)."""
        self.billed_posts: dict[str, set[int]] = {}
        """Post ids billed, by UTC day (``YYYY-MM-DD``): each once a day."""
        self.billed_users: dict[str, set[str]] = {}
        """User ids billed (in ``includes.users``, or looked up), by UTC day."""
        self._clock = clock or time.time
        self._next_id = FIRST_ID
        self._token_generation = 0
        self._windows: dict[str, _Window] = {}

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
                created=float(int(created.timestamp())),
                lang=lang,
                conversation_id=reply_to or str(tweet_id),
                referenced=referenced,
            )
            return str(tweet_id)

    def edit(self, tweet_id: str, text: str) -> str:
        """Edit a post as X does: a new post id whose edit history starts with the original."""
        with self._lock:
            original = self.tweets[int(tweet_id)]
            new_id = self._next_id
            self._next_id += 1
            created = datetime.fromtimestamp(self._clock(), UTC)
            self.tweets[new_id] = replace(
                original,
                id=new_id,
                text=text,
                created_at=created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                created=float(int(created.timestamp())),
                earlier_versions=[*original.earlier_versions, str(original.id)],
            )
            return str(new_id)

    def post_many(self, count: int, text: str, *, author: str) -> list[str]:
        """`count` posts, oldest first; `text` may use ``{n}``."""
        return [self.post(text.format(n=n), author=author) for n in range(count)]

    # -- test controls ---------------------------------------------------------------------

    def use_system_clock(self) -> None:
        """Date posts and judge ``start_time`` by the system clock (a connector on it)."""
        with self._lock:
            self._clock = time.time

    def invalidate_tokens(self) -> None:
        """Pagination tokens issued so far are refused with a 400 (as if they had expired)."""
        with self._lock:
            self._token_generation += 1

    # -- the API (handler threads) -----------------------------------------------------------

    def headers_for(self, request: Request) -> dict[str, str]:
        """Counts the request in its endpoint's 15-minute window: X sends the count on every
        answer, errors included."""
        with self._lock:
            now = self._clock()
            endpoint = self._endpoint(request.path)
            window = self._windows.get(endpoint)
            if window is None or now >= window.reset:
                window = self._windows[endpoint] = _Window(
                    self.rate_limit, 0, (now // WINDOW_SECONDS + 1) * WINDOW_SECONDS
                )
            window.used += 1
            return {
                "x-rate-limit-limit": str(window.limit),
                "x-rate-limit-remaining": str(max(window.limit - window.used, 0)),
                "x-rate-limit-reset": str(int(window.reset)),
            }

    def error_response(self, request: Request, fault: Fault) -> Response:
        """X's problem JSON; a 429 with a reset names it in ``x-rate-limit-*``."""
        body = PROBLEMS.get(fault.code) or {
            "title": f"HTTP {fault.code}",
            "type": "about:blank",
            "status": fault.code,
            "detail": fault.error or f"HTTP {fault.code}",
        }
        headers = {}
        if fault.retry_after is not None:
            reset = self._clock() + fault.retry_after
            headers = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(reset))}
        return Response(fault.code, body, headers)

    def dispatch(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.bearer_token}":
            return self.error_response(request, Fault.status(401))
        with self._lock:
            window = self._windows[self._endpoint(request.path)]
            if window.used > window.limit:
                return self.error_response(request, Fault.rate_limited())
            return super().dispatch(request)

    @staticmethod
    def _endpoint(path: str) -> str:
        if _MENTIONS.match(path):
            return "mentions"
        if _BY_USERNAME.match(path):
            return "users"
        return path

    def bill(self, posts: list[int], users: list[str]) -> None:
        """Charge reads as X does: once per resource per UTC day (callers hold the lock)."""
        day = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%d")
        self.billed_posts.setdefault(day, set()).update(posts)
        self.billed_users.setdefault(day, set()).update(users)

    def cost(self, post_price: float = 0.005, user_price: float = 0.010) -> float:
        """What X would bill for everything served so far."""
        with self._lock:
            posts = sum(len(ids) for ids in self.billed_posts.values())
            users = sum(len(ids) for ids in self.billed_users.values())
        return posts * post_price + users * user_price

    @route("GET", r"/2/usage/tweets")
    def _usage(self, request: Request) -> Response:
        """The Project's post reads by day (X OpenAPI shape: counts are strings)."""
        if not self.usage_allowed:
            return Response(403, PROBLEMS[403])
        days = request.query.get("days", "7")
        if not days.isdigit() or not 1 <= int(days) <= 90:
            return _invalid("days", days, f"The `days` query parameter value [{days}] is invalid")
        now = datetime.fromtimestamp(self._clock(), UTC)
        wanted = [
            (now - timedelta(days=n)).strftime("%Y-%m-%d") for n in reversed(range(int(days)))
        ]
        usage = [
            {"date": f"{day}T00:00:00.000Z", "usage": str(len(self.billed_posts.get(day, ())))}
            for day in wanted
        ]
        month = now.strftime("%Y-%m")
        total = sum(len(ids) for day, ids in self.billed_posts.items() if day.startswith(month))
        data: dict[str, Any] = {"project_id": "2020044302890438656", "project_cap": "3000000"}
        data |= {"project_usage": str(total), "cap_reset_day": 1}
        if "daily_project_usage" in request.query.get("usage.fields", "").split(","):
            data["daily_project_usage"] = {"project_id": data["project_id"], "usage": usage}
        return Response(200, {"data": data})

    @route("GET", r"/2/tweets/search/recent")
    def _search(self, request: Request) -> Response:
        params = request.query
        if "query" not in params:
            return _invalid("query", "", "The `query` query parameter can not be empty")
        names = {id_: str(user["username"]).lower() for id_, user in self.users.items()}

        def wanted(tweet: _Tweet) -> bool:
            return _matches(params["query"], tweet, names.get(tweet.author_id, ""))

        return self._timeline(params, wanted, "next_token", 10)

    @route("GET", r"/2/users/(?P<user_id>[^/]+)/mentions")
    def _mentions(self, request: Request, user_id: str) -> Response:
        user = self.users.get(user_id)
        if user is None:
            return Response(404, {"title": "Not Found Error", "type": "about:blank"})
        handle = "@" + str(user["username"]).lower()
        wanted: Callable[[_Tweet], bool] = lambda t: handle in t.text.lower()  # noqa: E731
        return self._timeline(request.query, wanted, "pagination_token", 5)

    @route("GET", r"/2/users/by/username/(?P<quoted>[^/]+)")
    def _by_username(self, request: Request, quoted: str) -> Response:
        name = unquote(quoted)
        for user in self.users.values():
            if str(user["username"]).lower() == name.lower():
                self.bill([], [str(user["id"])])
                return Response(200, {"data": self._user(user, request.query, always=True)})
        error = {
            "value": name,
            "detail": f"Could not find user with username: [{name}].",
            "title": "Not Found Error",
            "resource_type": "user",
            "parameter": "username",
            "resource_id": name,
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
        return Response(200, {"errors": [error]})

    def _timeline(
        self,
        params: dict[str, str],
        wanted: Callable[[_Tweet], bool],
        token_name: str,
        smallest: int,
    ) -> Response:
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
        start = None
        if "start_time" in params:
            start = _start_time(params["start_time"], self._clock(), token_name == "next_token")
            if isinstance(start, Response):
                return start
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
                and (start is None or t.created >= start)
                and wanted(t)
            ),
            key=lambda t: t.id,
            reverse=True,
        )
        page, rest = found[: int(limit)], found[int(limit) :]
        meta: dict[str, Any] = {"result_count": len(page)}
        if not page:
            return Response(200, {"meta": meta})
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
        self.bill(
            [t.id for t in page], [str(u["id"]) for u in body.get("includes", {}).get("users", [])]
        )
        body["meta"] = meta
        return Response(200, body)

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
            "edit_history_tweet_ids": [*tweet.earlier_versions, str(tweet.id)],
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


def _start_time(value: str, now: float, search: bool) -> float | Response:
    """X's ``start_time`` (``YYYY-MM-DDTHH:mm:ssZ``, RFC 3339; inclusive, whole seconds): at
    least 10 s before the request, and for recent search within the last 7 days."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return _invalid("start_time", value, f"Invalid 'start_time':'{value}'.")
    start = float(int(parsed.timestamp()))
    if start > now - 10:
        return _invalid(
            "start_time",
            value,
            f"Invalid 'start_time':'{value}'. 'start_time' must be a minimum of 10 seconds "
            "prior to the request time.",
        )
    earliest = now - 7 * 86_400
    if search and start < earliest:
        floor = datetime.fromtimestamp(earliest, UTC).strftime("%Y-%m-%dT%H:%MZ")
        return _invalid(
            "start_time",
            value,
            f"Invalid 'start_time':'{value}'. 'start_time' must be on or after {floor}",
        )
    return start


def _invalid(parameter: str, value: str, message: str) -> Response:
    errors = [{"parameters": {parameter: [value]}, "message": message}]
    return Response(400, {"errors": errors, **PROBLEMS[400]})


def _matches(query: str, tweet: _Tweet, author: str = "") -> bool:
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
        elif lowered.startswith("-from:"):
            if author and lowered.removeprefix("-from:") == author:
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
