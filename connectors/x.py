"""X (Twitter): posts that mention the brand's account, and recent searches for its terms.

Built on tweepy's API v2 `Client` with the app's bearer token (App-only auth). Both endpoints
accept it, so no user-context credentials are needed. X access level: reading mentions
(``GET /2/users/:id/mentions``) and recent search (``GET /2/tweets/search/recent``) needs a
plan that includes reads, Basic or higher; the Free plan answers 403.

Why it is built the way it is:

- All state lives in the cursor, which the pipeline stores in the same transaction as the posts:
  per query the newest id read (``since_id``), the place a page-capped burst stopped, and a
  rate-limit pause; plus the month's read counter. A restart, or a failed store (the old cursor
  comes back), re-reads instead of skipping anything; storage drops the duplicates.
- X pages newest first. A poll follows the pagination tokens down to ``since_id`` or to
  `max_pages_per_poll`; a burst stopped by the cap resumes next poll from its saved token (or,
  if X refuses the token or a page came truncated, from ``until_id`` = the oldest post read),
  so nothing is read twice and nothing skipped. Each poll's posts are returned oldest first;
  in a capped burst the later polls carry the older posts. A query's first poll reads only the
  newest page: it starts from now, not from a week of history.
- tweepy is asked for the raw `requests.Response`: it still builds the requests and sorts HTTP
  errors, but the rate-limit headers stay readable and a truncated page can be salvaged.
- Nothing here sleeps: a 429 pauses that query (in the cursor) until ``x-rate-limit-reset``.
- X's paid plans cap the posts an app may read a month, so `monthly_read_cap` paces reading
  along the month and stops it at the cap (`QuotaExhausted`) rather than running up a bill.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
import tweepy
from pydantic import Field, ValidationInfo, field_validator, model_validator
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest
from requests.utils import get_environ_proxies

from connectors.base import Connector
from monitor.clock import Clock
from monitor.config import BrandSettings, SourceSettings
from monitor.config_base import secret_from_env
from monitor.errors import AuthError, ConfigError, QuotaExhausted, TransientError
from monitor.models import Author, Cursor, FetchResult, Post

log = logging.getLogger(__name__)

# tweepy logs every request's headers, bearer token included, at DEBUG: keep that out of our logs.
logging.getLogger("tweepy.client").setLevel(logging.INFO)

PUBLIC_API = "https://api.twitter.com"
"""The host tweepy hard-codes; requests to it are rewritten to `api_base_url`."""
ACCESS_NEEDED = (
    "reading mentions and recent search needs an X API plan with read access (Basic or "
    "higher) for the app in a Project"
)
TWEET_FIELDS = [
    "author_id",
    "created_at",
    "lang",
    "conversation_id",
    "referenced_tweets",
    "note_tweet",
]
USER_FIELDS = ["name", "username", "public_metrics", "verified"]
MIN_RESULTS = {"mentions": 5, "search": 10}
"""X rejects smaller ``max_results`` on these endpoints."""
SEARCH_QUERY_LIMIT = 512
"""Longest recent-search query on the Basic plan; default queries are split to fit."""
DEFAULT_PAUSE = timedelta(seconds=60)
"""A 429 without a reset header pauses its query this long."""
NOT_A_LANGUAGE = frozenset({"und", "zxx", "qam", "qct", "qht", "qme", "qst", "art"})
"""X's ``lang`` codes for "undetermined", "only media", "only mentions"...: no language."""
CURSOR_VERSION = 1

_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")
_DIGITS = re.compile(r"^[0-9]{1,30}$")


class XSettings(SourceSettings):
    type: Literal["x"]
    bearer_token_env: str = Field(default="X_BEARER_TOKEN", min_length=1)
    """The environment variable holding the app's Bearer Token (developer portal, Keys and
    tokens). Mentions and search both work with it; no user-context credentials are used."""
    mentions_username: str | None = None
    """The brand's X account (without @) whose mentions to read; unset reads no mentions."""
    searches: list[str] | None = None
    """Recent-search queries in X's syntax. Unset: built from [brand] terms, exclude and
    languages, with -is:retweet. An empty list reads no searches."""
    api_base_url: str = PUBLIC_API
    """Where requests go (a proxy, or the tests' fake)."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_pages_per_poll: int = Field(default=5, ge=1, le=100)
    """Pages each query may read in one poll; a longer burst continues at the next poll."""
    page_size: int = Field(default=100, ge=10, le=100)
    monthly_read_cap: int | None = Field(default=None, ge=10)
    """Posts this source may read a calendar month (UTC), as your X plan bills them. Reading is
    paced along the month, warns at 80% and stops at the cap until the 1st. Set it a little
    under the plan's limit if other apps share the Project."""

    @field_validator("mentions_username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().lstrip("@")
        if not _USERNAME.match(value):
            raise ValueError("must be an X username: letters, digits and _ (without @)")
        return value

    @field_validator("searches")
    @classmethod
    def _queries(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        cleaned = [v.strip() for v in values]
        if not all(cleaned):
            raise ValueError("a query is an empty string")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("a query is listed twice")
        return cleaned

    @field_validator("api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError('must be an http(s) URL such as "https://api.twitter.com"')
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _token_is_set(self, info: ValidationInfo) -> XSettings:
        if self.enabled and secret_from_env(info, self.bearer_token_env) is None:
            raise ValueError(
                f"the environment variable {self.bearer_token_env} is not set: export "
                f"{self.bearer_token_env}=<the app's Bearer Token from the X developer portal, "
                "Keys and tokens>, or set enabled = false"
            )
        return self


@dataclass(frozen=True)
class _Query:
    kind: Literal["mentions", "search"]
    text: str
    """The search query, or the username whose mentions are read."""

    @property
    def key(self) -> str:
        """The query's name in the cursor and in each post's ``extra["query"]``."""
        return f"mentions:@{self.text.lower()}" if self.kind == "mentions" else self.text


@dataclass
class _Page:
    posts: list[Post]
    read: int
    """Posts X sent (and bills), valid or not."""
    newest_id: str | None
    oldest_id: str | None
    next_token: str | None
    complete: bool
    """False when the body was not valid JSON and its posts were salvaged: no next token."""


@dataclass
class _Poll:
    """What one fetch has gathered so far."""

    now: datetime
    allowance: float
    """Posts this poll may still read (the read cap's pacing); inf without a cap."""
    posts: dict[str, Post] = field(default_factory=dict)
    read: int = 0
    more: bool = False
    progressed: bool = False
    failures: list[TransientError] = field(default_factory=list)
    paused_until: list[datetime] = field(default_factory=list)


class _RateLimited(Exception):
    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


class _HostRewriter(HTTPAdapter):
    """tweepy hard-codes https://api.twitter.com and sets no timeout; this adapter fixes both."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = base_url
        self.timeout = timeout
        # the session chose proxies for api.twitter.com; these are the real host's (read once:
        # scanning the environment costs more than the rest of a page's work)
        self.proxies = get_environ_proxies(base_url)

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        if self.base_url != PUBLIC_API and url.startswith(PUBLIC_API + "/"):
            request.url = self.base_url + url[len(PUBLIC_API) :]
            proxies = self.proxies
        return super().send(
            request, stream=stream, timeout=self.timeout, verify=verify, cert=cert, proxies=proxies
        )


class XConnector(Connector[XSettings]):
    kind = "x"
    settings_class = XSettings
    requires = ("tweepy",)

    def __init__(
        self, settings: XSettings, brand: BrandSettings, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, brand, clock)
        token = settings.secret("bearer_token")
        if token is None:
            raise ConfigError(
                f"source {settings.name}: the environment variable {settings.bearer_token_env} "
                "is not set; export it (the app's Bearer Token)"
            )
        self.client = tweepy.Client(
            bearer_token=token.get_secret_value(),
            return_type=requests.Response,
            wait_on_rate_limit=False,  # it sleeps inside the call, for minutes: never here
        )
        self.client.session.mount(
            PUBLIC_API + "/", _HostRewriter(settings.api_base_url, settings.timeout_seconds)
        )
        self.queries = self._build_queries()
        if not self.queries:
            raise ConfigError(
                f"source {settings.name} has nothing to read: set mentions_username, or "
                "searches, or add [brand] terms to build a search from"
            )
        self._user_id: str | None = None
        self._pacing = False

    @property
    def credential(self) -> str:
        return self.settings.bearer_token_env

    # -- fetch ------------------------------------------------------------------------------

    def fetch(self, cursor: Cursor | None) -> FetchResult:
        now = self.clock.now()
        state = self._load(cursor, now)
        reads: dict[str, Any] = state["reads"]
        count_before = int(reads["count"])
        self._refuse_when_spent(count_before, now)
        poll = _Poll(now=now, allowance=self._allowance(count_before, now))
        queries: dict[str, dict[str, Any]] = state["queries"]
        for query in self.queries:
            query_state = queries.setdefault(query.key, {})
            if self._paused(query, query_state, poll):
                continue
            if poll.allowance <= 0:
                break
            try:
                self._read_query(query, query_state, poll, state, count_before)
            except TransientError as err:
                log.warning("source=%s query %r: %s", self.name, query.key, err)
                poll.failures.append(err)
        reads["count"] = count_before + poll.read
        self._report_reads(count_before, int(reads["count"]), now)
        self._report_pacing(poll)
        if not poll.progressed:
            if poll.failures:
                raise TransientError(f"X could not be read: {poll.failures[0]}") from (
                    poll.failures[0]
                )
            if len(poll.paused_until) == len(self.queries):
                until = min(poll.paused_until)
                raise TransientError(
                    f"every X query is rate limited until {until:%H:%M:%S} UTC",
                    retry_after=max(1.0, (until - now).total_seconds()),
                )
        posts = sorted(poll.posts.values(), key=lambda p: _id_order(p.external_id))
        return FetchResult(posts=posts, cursor=state, more=poll.more and poll.allowance > 0)

    def _read_query(
        self,
        query: _Query,
        query_state: dict[str, Any],
        poll: _Poll,
        state: dict[str, Any],
        count_before: int,
    ) -> None:
        """Read one query's pages, newest first, down to its since_id or the page cap."""
        burst: dict[str, Any] = query_state.get("burst") or {}
        floor: str | None = burst.get("floor") if burst else query_state.get("since_id")
        top: str | None = burst.get("top")
        token: str | None = burst.get("next_token")
        anchor: str | None = burst.get("anchor")  # the until_id the token chain started with
        oldest: str | None = burst.get("oldest")
        first_poll = floor is None and not burst
        resumed = bool(burst)
        before = (floor, top, token, anchor, oldest)
        try:
            user_id = self._mentions_user_id(query, state) if query.kind == "mentions" else ""
        except _RateLimited as limited:
            self._pause(query, query_state, poll, limited.until, "answered 429 to the user lookup")
            return
        pages, finished = 0, False
        try:
            while True:
                if pages >= self.settings.max_pages_per_poll:
                    poll.more = True
                    break
                max_results = self._max_results(query, poll, count_before)
                if max_results is None:
                    break
                try:
                    response = self._get(
                        self._request, query, user_id, floor, anchor, token, max_results
                    )
                except tweepy.BadRequest as err:
                    if token is not None and oldest is not None:  # expired, or not ours any more
                        log.info(
                            "source=%s query %r: X refused the saved page token; continuing below "
                            "post %s instead",
                            self.name,
                            query.key,
                            oldest,
                        )
                        token, anchor = None, oldest
                        continue
                    if floor is not None and _names(err, "since_id"):
                        log.warning(
                            "source=%s query %r: X no longer serves posts as old as the last one "
                            "read (recent search covers 7 days); posts in between were missed",
                            self.name,
                            query.key,
                        )
                        floor, token, anchor = None, None, oldest
                        continue
                    where = "mentions_username" if query.kind == "mentions" else "searches"
                    raise ConfigError(
                        f"source {self.name}: X rejected the query {query.key!r}: {_detail(err)}; "
                        f"fix [[sources]] {where}"
                    ) from err
                except _RateLimited as limited:
                    self._pause(query, query_state, poll, limited.until, "answered 429")
                    break
                pages += 1
                page = self._parse(response, query, poll.now)
                poll.progressed = True
                poll.read += page.read
                poll.allowance -= page.read
                for post in page.posts:
                    poll.posts.setdefault(post.external_id, post)
                if top is None:
                    top = page.newest_id
                if page.oldest_id is not None:
                    oldest = page.oldest_id
                token = page.next_token
                if not page.complete and page.oldest_id is not None:
                    anchor = page.oldest_id  # no token came with it: go on below its oldest post
                self._pause_if_spent(query, query_state, poll, response)
                paused = "paused_until" in query_state
                if first_poll or page.read == 0 or (page.complete and token is None):
                    if resumed and not paused and pages < self.settings.max_pages_per_poll:
                        # the burst is read: go on with what came while it was being read
                        floor, top, token, anchor, oldest = (
                            _newest(top, floor),
                            None,
                            None,
                            None,
                            None,
                        )
                        resumed = False
                        continue
                    finished = True
                    break
                if paused:
                    break
        finally:  # what was read is kept even when a later page fails
            if finished:
                query_state.pop("burst", None)
                query_state["since_id"] = _newest(top, floor)
            elif (floor, top, token, anchor, oldest) != before:
                query_state["burst"] = {
                    "floor": floor,
                    "top": top,
                    "next_token": token,
                    "anchor": anchor,
                    "oldest": oldest,
                }

    def _request(
        self,
        query: _Query,
        user_id: str,
        since_id: str | None,
        until_id: str | None,
        token: str | None,
        max_results: int,
    ) -> requests.Response:
        params: dict[str, Any] = {
            "expansions": ["author_id"],
            "tweet_fields": TWEET_FIELDS,
            "user_fields": USER_FIELDS,
            "max_results": max_results,
        }
        if since_id is not None:
            params["since_id"] = since_id
        if until_id is not None:
            params["until_id"] = until_id
        if query.kind == "mentions":
            if token is not None:
                params["pagination_token"] = token
            response: requests.Response = self.client.get_users_mentions(user_id, **params)
        else:
            if token is not None:
                params["next_token"] = token
            response = self.client.search_recent_tweets(query.text, sort_order="recency", **params)
        return response

    def _get(self, call: Callable[..., requests.Response], *args: Any) -> requests.Response:
        """One request, its failures sorted into ours (BadRequest is left to the caller)."""
        try:
            return call(*args)
        except tweepy.TooManyRequests as err:
            now = self.clock.now()
            reset = _reset_time(err.response)
            until = max(reset, now + timedelta(seconds=1)) if reset else now + DEFAULT_PAUSE
            raise _RateLimited(until) from err
        except tweepy.Unauthorized as err:
            raise AuthError(
                f"X refused the bearer token in {self.credential} (401 {_detail(err)}): create a "
                f"new Bearer Token in the X developer portal (Keys and tokens) and set "
                f"{self.credential}",
                credential=self.credential,
            ) from err
        except tweepy.Forbidden as err:
            raise AuthError(
                f"X refused access with the bearer token in {self.credential} "
                f"(403 {_detail(err)}): {ACCESS_NEEDED}",
                credential=self.credential,
            ) from err
        except tweepy.BadRequest:
            raise
        except tweepy.NotFound as err:
            raise ConfigError(
                f"source {self.name}: X answered 404 for {err.response.url}: {_detail(err)}"
            ) from err
        except tweepy.HTTPException as err:  # 5xx and the rare other status
            status = err.response.status_code
            raise TransientError(f"X answered {status} {_detail(err)}") from err
        except requests.Timeout as err:
            raise TransientError(
                f"X did not answer within timeout_seconds = {self.settings.timeout_seconds}"
            ) from err
        except requests.RequestException as err:
            raise TransientError(
                f"cannot reach X at {self.settings.api_base_url}: {type(err).__name__}"
            ) from err

    # -- mentions user ----------------------------------------------------------------------

    def _mentions_user_id(self, query: _Query, state: dict[str, Any]) -> str:
        """Resolved once, then kept in the instance and in the cursor (saves a call a restart)."""
        cached = state.get("user") or {}
        if self._user_id is None and str(cached.get("username", "")).lower() == query.text.lower():
            self._user_id = str(cached.get("id") or "") or None
        if self._user_id is None:
            user = self._lookup(query.text)
            if user is None:
                raise ConfigError(
                    f"source {self.name}: mentions_username = {query.text!r} is not an X account "
                    "(or it is suspended); fix it in [[sources]]"
                )
            self._user_id = user
        state["user"] = {"username": query.text, "id": self._user_id}
        return self._user_id

    def _lookup(self, username: str) -> str | None:
        """The user id for a username, or None when X has no such (active) account."""
        try:
            response = self._get(self._get_user, username)
        except tweepy.BadRequest as err:
            raise ConfigError(f"X rejected the username {username!r}: {_detail(err)}") from err
        try:
            body = response.json()
        except ValueError as err:
            raise TransientError("X sent a user lookup that is not valid JSON") from err
        data = body.get("data") if isinstance(body, dict) else None
        user_id = str(data.get("id", "")) if isinstance(data, dict) else ""
        return user_id if _DIGITS.match(user_id) else None

    def _get_user(self, username: str) -> requests.Response:
        response: requests.Response = self.client.get_user(username=username)
        return response

    def check_credentials(self) -> str:
        """A user lookup: cheap, and it reads no posts (nothing counts against the read cap)."""
        username = self.settings.mentions_username or next(iter(self.brand.handles), "XDevelopers")
        try:
            user_id = self._lookup(username)
        except _RateLimited as limited:
            raise TransientError(f"X user lookup is rate limited until {limited}") from limited
        authenticated = f"authenticated with the app bearer token in {self.credential}"
        if self.settings.mentions_username is None:
            return authenticated
        if user_id is None:
            raise ConfigError(
                f"source {self.name}: mentions_username = {username!r} is not an X account "
                "(or it is suspended)"
            )
        return f"{authenticated}; reading mentions of @{username} (user id {user_id})"

    # -- pages ------------------------------------------------------------------------------

    def _parse(self, response: requests.Response, query: _Query, now: datetime) -> _Page:
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
                self.name,
                query.key,
                len(tweets),
            )
        includes = body.get("includes")
        users_raw = includes.get("users") if isinstance(includes, dict) else None
        users = {
            str(u.get("id")): u for u in users_raw or [] if isinstance(u, dict) and u.get("id")
        }
        posts = []
        for tweet in tweets:
            post = self._post(tweet, users, query, now)
            if post is None:
                log.warning(
                    "source=%s query %r: skipped a post without a numeric id: %.200r",
                    self.name,
                    query.key,
                    tweet,
                )
            else:
                posts.append(post)
        meta: dict[str, Any] = body["meta"] if isinstance(body.get("meta"), dict) else {}
        ids = sorted((p.external_id for p in posts), key=_id_order)
        newest = _str_id(meta.get("newest_id")) or (ids[-1] if ids else None)
        oldest = _str_id(meta.get("oldest_id")) or (ids[0] if ids else None)
        token = meta.get("next_token") if complete else None
        return _Page(
            posts=posts,
            read=len(tweets),
            newest_id=newest,
            oldest_id=oldest,
            next_token=token if isinstance(token, str) and token else None,
            complete=complete,
        )

    def _post(
        self, tweet: dict[str, Any], users: dict[str, dict[str, Any]], query: _Query, now: datetime
    ) -> Post | None:
        tweet_id = _str_id(tweet.get("id"))
        if tweet_id is None:
            return None
        author_id = _str_id(tweet.get("author_id"))
        user = users.get(author_id or "", {})
        username = user.get("username")
        if not isinstance(username, str) or not _USERNAME.match(username):
            username = None  # missing from includes (suspended, or a partial page)
        metrics = user.get("public_metrics")
        followers = metrics.get("followers_count") if isinstance(metrics, dict) else None
        name = user.get("name")
        note = tweet.get("note_tweet")
        text = note.get("text") if isinstance(note, dict) else None  # long posts: the full text
        if not isinstance(text, str):
            text = tweet["text"] if isinstance(tweet.get("text"), str) else ""
        references = tweet.get("referenced_tweets")
        kinds = (
            {r.get("type") for r in references if isinstance(r, dict)}
            if isinstance(references, list)
            else set()
        )
        lang = tweet.get("lang") if isinstance(tweet.get("lang"), str) else None
        extra: dict[str, Any] = {
            "conversation_id": _str_id(tweet.get("conversation_id")),
            "is_reply": "replied_to" in kinds,
            "is_quote": "quoted" in kinds,
            "query": query.key,
        }
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
            text=text,
            url=(
                f"https://x.com/{username}/status/{tweet_id}"
                if username
                else f"https://x.com/i/web/status/{tweet_id}"
            ),
            created_at=_timestamp(tweet.get("created_at")) or now,
            language=lang,
            contact_url=(
                f"https://x.com/messages/compose?recipient_id={author_id}" if author_id else None
            ),
            extra=extra,
        )

    # -- rate limits ------------------------------------------------------------------------

    def _paused(self, query: _Query, query_state: dict[str, Any], poll: _Poll) -> bool:
        until = _timestamp(query_state.get("paused_until"))
        if until is None:
            query_state.pop("paused_until", None)
            return False
        if poll.now < until:
            poll.paused_until.append(until)
            return True
        del query_state["paused_until"]
        log.info("source=%s query %r: rate limit reset; reading again", self.name, query.key)
        return False

    def _pause(
        self,
        query: _Query,
        query_state: dict[str, Any],
        poll: _Poll,
        until: datetime,
        why: str,
    ) -> None:
        query_state["paused_until"] = until.isoformat()
        poll.paused_until.append(until)
        log.warning(
            "source=%s query %r: X %s; this query pauses until %s UTC, the others go on",
            self.name,
            query.key,
            why,
            f"{until:%Y-%m-%d %H:%M:%S}",
        )

    def _pause_if_spent(
        self, query: _Query, query_state: dict[str, Any], poll: _Poll, response: requests.Response
    ) -> None:
        """Remaining 0 means the next request is a 429: pause now instead of asking for it."""
        if response.headers.get("x-rate-limit-remaining", "").strip() != "0":
            return
        reset = _reset_time(response)
        if reset is not None and reset > poll.now:
            self._pause(query, query_state, poll, reset, "rate limit is spent")

    # -- read cap ---------------------------------------------------------------------------

    def _refuse_when_spent(self, count: int, now: datetime) -> None:
        cap = self.settings.monthly_read_cap
        if cap is None or cap - count >= self._smallest_request:
            return
        renews = _next_month(now)
        raise QuotaExhausted(
            f"source {self.name} has read {count} of its monthly_read_cap = {cap} X posts this "
            f"month; reading stops until {renews:%Y-%m-%d} 00:00 UTC (raise monthly_read_cap if "
            "your X plan allows more)",
            retry_after=(renews - now).total_seconds(),
        )

    @property
    def _smallest_request(self) -> int:
        return min(MIN_RESULTS[q.kind] for q in self.queries)

    def _allowance(self, count: int, now: datetime) -> float:
        """Posts this poll may read: what the month has accrued so far, less what was read.

        The budget grows linearly over the month, one poll interval ahead; unspent budget
        carries over, so a quiet start leaves room for a burst later.
        """
        cap = self.settings.monthly_read_cap
        if cap is None:
            return math.inf
        start, end = _month_start(now), _next_month(now)
        elapsed = (now - start).total_seconds() + self.settings.interval_seconds
        accrued = cap * min(1.0, elapsed / (end - start).total_seconds())
        return max(0.0, accrued - count)

    def _max_results(self, query: _Query, poll: _Poll, count_before: int) -> int | None:
        """The page size for the next request, or None when the budget allows no more."""
        if poll.allowance <= 0:
            return None
        smallest = MIN_RESULTS[query.kind]
        size = self.settings.page_size
        if self.settings.monthly_read_cap is not None:
            left = self.settings.monthly_read_cap - count_before - poll.read
            if left < smallest:
                return None  # the smallest page would overrun the cap
            size = min(size, left, max(smallest, math.ceil(poll.allowance)))
        return max(smallest, size)

    def _report_reads(self, before: int, after: int, now: datetime) -> None:
        cap = self.settings.monthly_read_cap
        if cap is None:
            return
        if after >= cap or cap - after < self._smallest_request:
            log.warning(
                "source=%s has read %d of its %d X posts this month: reading stops until %s",
                self.name,
                after,
                cap,
                f"{_next_month(now):%Y-%m-%d}",
            )
        elif before < 0.8 * cap <= after:
            log.warning(
                "source=%s has read %d of its %d X posts this month (80%%); reading stops at "
                "the cap until %s",
                self.name,
                after,
                cap,
                f"{_next_month(now):%Y-%m-%d}",
            )

    def _report_pacing(self, poll: _Poll) -> None:
        paced = poll.allowance <= 0 and self.settings.monthly_read_cap is not None
        if paced and not self._pacing:
            log.info(
                "source=%s is pacing its reads to last the month (monthly_read_cap = %d); "
                "the rest is read at the next polls",
                self.name,
                self.settings.monthly_read_cap,
            )
        self._pacing = paced

    # -- cursor and queries -----------------------------------------------------------------

    def _load(self, cursor: Cursor | None, now: datetime) -> dict[str, Any]:
        """A private copy of the cursor in the current shape, the month's counter rolled over."""
        state: dict[str, Any] = copy.deepcopy(cursor) if cursor else {}
        if state.get("v") != CURSOR_VERSION:
            state = {}
        month = f"{now:%Y-%m}"
        reads = state.get("reads")
        if not isinstance(reads, dict) or reads.get("month") != month:
            if isinstance(reads, dict):
                log.info("source=%s new month: the X read counter starts again", self.name)
            reads = {"month": month, "count": 0}
        old: dict[str, Any] = state["queries"] if isinstance(state.get("queries"), dict) else {}
        queries = {
            q.key: old[q.key] for q in self.queries if isinstance(old.get(q.key), dict)
        }  # a query removed from the config is forgotten; a new one starts at the newest page
        return {"v": CURSOR_VERSION, "user": state.get("user"), "queries": queries, "reads": reads}

    def _build_queries(self) -> list[_Query]:
        queries: list[_Query] = []
        if self.settings.mentions_username:
            queries.append(_Query("mentions", self.settings.mentions_username))
        searches = self.settings.searches
        if searches is None:
            searches = default_searches(self.brand)
        queries.extend(_Query("search", s) for s in searches)
        return queries

    def close(self) -> None:
        self.client.session.close()


def default_searches(brand: BrandSettings) -> list[str]:
    """Recent-search queries for the brand's terms: no retweets, the brand's languages, its
    exclusions (posts we would drop anyway cost reads), split to fit X's query length."""
    terms = list(dict.fromkeys(t for t in (_x_term(t) for t in brand.terms) if t))
    if not terms:
        return []
    suffix = ["-is:retweet"]
    langs = [f"lang:{lang}" for lang in brand.languages]
    if len(langs) == 1:
        suffix.append(langs[0])
    elif langs:
        suffix.append("(" + " OR ".join(langs) + ")")
    suffix.extend(f"-{t}" for t in (_x_term(e) for e in brand.exclude) if t)
    tail = " ".join(suffix)
    queries: list[str] = []
    group: list[str] = []
    for term in terms:
        if group and len(_search([*group, term], tail)) > SEARCH_QUERY_LIMIT:
            queries.append(_search(group, tail))
            group = []
        group.append(term)
    queries.append(_search(group, tail))
    return queries


def _search(terms: list[str], tail: str) -> str:
    head = terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"
    return f"{head} {tail}"


def _x_term(term: str) -> str:
    """A brand term in X's syntax: phrases quoted; X has no wildcards, so `acmeapp*` searches
    the word `acmeapp` (the brand matcher still applies the full pattern to what comes back)."""
    words = term.replace('"', " ").replace("*", " ").split()
    if not words:
        return ""
    return words[0] if len(words) == 1 else '"' + " ".join(words) + '"'


# -- small helpers ------------------------------------------------------------------------------


def _id_order(post_id: str) -> tuple[int, str]:
    """Numeric ids in numeric order, without int() on anything odd."""
    return (len(post_id), post_id)


def _newest(a: str | None, b: str | None) -> str | None:
    ids = [i for i in (a, b) if i is not None]
    return max(ids, key=_id_order) if ids else None


def _str_id(value: Any) -> str | None:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return text if _DIGITS.match(text) else None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(now: datetime) -> datetime:
    start = _month_start(now)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def _reset_time(response: requests.Response) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(response.headers["x-rate-limit-reset"]), UTC)
    except (KeyError, ValueError, OverflowError, OSError):
        return None


def _detail(err: tweepy.HTTPException) -> str:
    """What X says is wrong: the problem JSON's detail (or title), its reason, the messages."""
    try:
        body = err.response.json()
    except ValueError:
        body = None
    parts: list[str] = []
    if isinstance(body, dict):
        summary = body.get("detail") or body.get("title")
        if isinstance(summary, str):
            parts.append(summary)
        if isinstance(body.get("reason"), str):
            parts.append(f"reason: {body['reason']}")
    parts += [m for m in err.api_messages if isinstance(m, str) and m not in parts]
    return "; ".join(parts) or str(err.response.reason)


def _names(err: tweepy.BadRequest, parameter: str) -> bool:
    """Does X's 400 name this parameter as the one it refused?"""
    for error in err.api_errors:
        if isinstance(error, dict):
            params = error.get("parameters")
            if isinstance(params, dict) and parameter in params:
                return True
    return False


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
