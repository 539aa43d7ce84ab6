"""The X connector's HTTP side: tweepy's API v2 `Client`, and its failures sorted into ours.

tweepy is asked for the raw `requests.Response`: it still builds the requests and sorts HTTP
errors, but the rate-limit headers stay readable and a truncated page can be salvaged. It
hard-codes https://api.twitter.com and sets no timeout; `_HostRewriter` fixes both.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest
from requests.utils import get_environ_proxies

from monitor.clock import Clock
from monitor.errors import AuthError, ConfigError, TransientError

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
DEFAULT_PAUSE = timedelta(seconds=60)
"""A 429 without a reset header pauses its query this long."""
SEARCH_WINDOW = timedelta(days=7) - timedelta(minutes=1)
"""Recent search's ``start_time`` must be within the last 7 days (with a margin)."""
START_TIME_LEAD = timedelta(seconds=10)
"""X refuses a ``start_time`` less than 10 seconds before the request."""
USAGE_FIELDS = ["daily_project_usage", "project_usage", "project_cap", "cap_reset_day"]


@dataclass(frozen=True)
class Query:
    kind: Literal["mentions", "search"]
    text: str
    """The search query, or the username whose mentions are read."""

    @property
    def key(self) -> str:
        """The query's name in the cursor and in each post's ``extra["query"]``."""
        return f"mentions:@{self.text.lower()}" if self.kind == "mentions" else self.text


@dataclass(frozen=True)
class PagePosition:
    """Which page to ask for: ids strictly between `since_id` and `until_id`, from `token`;
    with no `since_id`, posts created at or after `start_time` (a query's starting point)."""

    since_id: str | None
    until_id: str | None
    token: str | None
    start_time: datetime | None = None


class RateLimited(Exception):
    """A 429 (or a spent limit): this query waits until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"{until:%Y-%m-%d %H:%M:%S} UTC")
        self.until = until


class Refused(Exception):
    """X answered 400: `parameters` names what it refused (``since_id``, a page token...)."""

    def __init__(self, detail: str, parameters: set[str]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.parameters = parameters


class XApi:
    """tweepy's `Client` with the app's bearer token; every call raises our errors, `Refused`
    for a 400, or `RateLimited`."""

    def __init__(
        self,
        *,
        token: str,
        credential: str,
        base_url: str,
        timeout: float,
        clock: Clock,
        source: str,
    ) -> None:
        self.credential = credential
        self.base_url = base_url
        self.timeout = timeout
        self.clock = clock
        self.source = source
        self.client = tweepy.Client(
            bearer_token=token,
            return_type=requests.Response,
            wait_on_rate_limit=False,  # it sleeps inside the call, for minutes: never here
        )
        self.client.session.mount(PUBLIC_API + "/", _HostRewriter(base_url, timeout))

    def timeline(
        self, query: Query, user_id: str, at: PagePosition, max_results: int
    ) -> requests.Response:
        """One page of mentions or recent search, newest first."""
        params: dict[str, Any] = {
            "expansions": ["author_id"],
            "tweet_fields": TWEET_FIELDS,
            "user_fields": USER_FIELDS,
            "max_results": max_results,
        }
        if at.since_id is not None:
            params["since_id"] = at.since_id
        if at.until_id is not None:
            params["until_id"] = at.until_id
        if at.since_id is None and at.start_time is not None:
            params["start_time"] = self._start_time(query, at.start_time)
        if query.kind == "mentions":
            if at.token is not None:
                params["pagination_token"] = at.token
            return self._get(self.client.get_users_mentions, user_id, **params)
        if at.token is not None:
            params["next_token"] = at.token
        return self._get(
            self.client.search_recent_tweets, query.text, sort_order="recency", **params
        )

    def _start_time(self, query: Query, start: datetime) -> str:
        """`start` in X's format, moved into what X accepts: at least 10 s ago, and for recent
        search within its 7 days (older posts are not served anyway)."""
        now = self.clock.now()
        start = min(start, now - START_TIME_LEAD)
        if query.kind == "search":
            start = max(start, now - SEARCH_WINDOW)
        return f"{start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"

    def user_id(self, username: str) -> str | None:
        """The user id for a username, or None when X has no such (active) account."""
        try:
            response = self._get(self.client.get_user, username=username)
        except Refused as err:
            raise ConfigError(f"X rejected the username {username!r}: {err.detail}") from err
        try:
            body = response.json()
        except ValueError as err:
            raise TransientError("X sent a user lookup that is not valid JSON") from err
        data = body.get("data") if isinstance(body, dict) else None
        user_id = str(data.get("id", "")) if isinstance(data, dict) else ""
        return user_id if re.fullmatch(r"[0-9]{1,30}", user_id) else None

    def usage(self, days: int) -> dict[str, Any] | None:
        """X's own count of post reads for the app's Project (``GET /2/usage/tweets``; tweepy
        has no method for it), or None when the plan does not serve it (403, 404)."""
        params = {"days": days, "usage.fields": ",".join(USAGE_FIELDS)}
        try:
            response = self._get(self.client.request, "GET", "/2/usage/tweets", params=params)
        except (AuthError, ConfigError) as err:
            if isinstance(err.__cause__, tweepy.Forbidden | tweepy.NotFound):
                return None
            raise
        except Refused as err:
            raise TransientError(f"X refused the usage request: {err.detail}") from err
        try:
            body = response.json()
        except ValueError as err:
            raise TransientError("X sent a usage answer that is not valid JSON") from err
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise TransientError("X sent a usage answer without data")
        return data

    def close(self) -> None:
        self.client.session.close()

    def _get(self, call: Callable[..., Any], *args: Any, **params: Any) -> requests.Response:
        """One request, its failures sorted into ours."""
        try:
            response: requests.Response = call(*args, **params)
            return response
        except tweepy.TooManyRequests as err:
            now = self.clock.now()
            reset = reset_time(err.response)
            raise RateLimited(
                max(reset, now + timedelta(seconds=1)) if reset else now + DEFAULT_PAUSE
            ) from err
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
        except tweepy.BadRequest as err:
            raise Refused(_detail(err), _parameters(err)) from err
        except tweepy.NotFound as err:
            raise ConfigError(
                f"source {self.source}: X answered 404 for {err.response.url}: {_detail(err)}"
            ) from err
        except tweepy.HTTPException as err:  # 5xx and the rare other status
            status = err.response.status_code
            raise TransientError(f"X answered {status} {_detail(err)}") from err
        except requests.Timeout as err:
            raise TransientError(
                f"X did not answer within timeout_seconds = {self.timeout}"
            ) from err
        except requests.RequestException as err:
            raise TransientError(
                f"cannot reach X at {self.base_url}: {type(err).__name__}"
            ) from err


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


def reset_time(response: requests.Response) -> datetime | None:
    """When X's rate-limit window for this endpoint resets (``x-rate-limit-reset``)."""
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


def _parameters(err: tweepy.BadRequest) -> set[str]:
    """The parameters X's 400 names as the ones it refused."""
    names: set[str] = set()
    for error in err.api_errors:
        if isinstance(error, dict) and isinstance(error.get("parameters"), dict):
            names.update(str(name) for name in error["parameters"])
    return names
