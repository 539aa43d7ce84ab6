"""The Reddit connector's HTTP side: praw's requests made to answer quickly, errors sorted.

praw must never hold the scheduler for long, so every HTTP call goes through `Requestor` (praw's
documented ``requestor_class`` hook). It enforces our timeout, fails fast on 5xx and connection
errors instead of letting prawcore retry with sleeps, and keeps the ``x-ratelimit-*`` budget
itself (`RateBudget`): when it is spent, the next call raises `TransientError` until the reset
instead of letting prawcore sleep up to ten minutes.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import prawcore
import requests

from monitor.clock import Clock
from monitor.errors import AuthError, ConfigError, TransientError

TOKEN_PATH = "/api/v1/access_token"
FEED_ALTERNATIVE = (
    "Reddit requires approval for new API apps since 2026; without one, a "
    '`type = "feed"` source on https://www.reddit.com/r/<sub>/new/.rss watches Reddit'
)
"""Said wherever Reddit refuses or lacks the app's credentials: the feeds need none."""


class RateBudget:
    """Reddit's ``x-ratelimit-*`` budget, read from every API response.

    prawcore would sleep inside the call when the budget is spent (up to the ten-minute reset)
    and pace calls with sleeps of up to 10 s; a scheduler thread must not. So the requestor takes
    the headers away from prawcore, and a call made while the budget is spent raises
    `TransientError` with the seconds to the reset instead.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.remaining: float | None = None
        self.reset_at: datetime | None = None

    def check(self) -> None:
        if self.remaining is None or self.remaining >= 1 or self.reset_at is None:
            return
        wait = (self.reset_at - self.clock.now()).total_seconds()
        if wait > 0:
            raise TransientError(
                f"Reddit's rate limit is spent; it resets in {wait:.0f}s", retry_after=wait
            )

    def take(self, headers: MutableMapping[str, str]) -> None:
        remaining = headers.pop("x-ratelimit-remaining", None)
        headers.pop("x-ratelimit-used", None)
        reset = headers.pop("x-ratelimit-reset", None)
        if remaining is None:
            if self.remaining is not None:
                self.remaining -= 1
            return
        try:
            self.remaining = float(remaining)
            self.reset_at = self.clock.now() + timedelta(seconds=float(reset or 0))
        except ValueError:
            self.remaining = self.reset_at = None

    def seconds_to_reset(self) -> float | None:
        if self.reset_at is None:
            return None
        return max(0.0, (self.reset_at - self.clock.now()).total_seconds())

    def spent(self, seconds: float) -> None:
        self.remaining = 0
        self.reset_at = self.clock.now() + timedelta(seconds=seconds)


class Requestor(prawcore.Requestor):
    """praw's HTTP layer, made to answer quickly: see the module docstring."""

    def __init__(self, *, budget: RateBudget, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.budget = budget

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        method, url = str(args[0]).upper(), str(args[1])
        path = urlsplit(url).path
        api_call = not path.endswith(TOKEN_PATH)  # the token endpoint has its own limits
        if api_call:
            self.budget.check()
        try:
            # prawcore passes its own 16 s default on API calls; ours wins everywhere.
            kwargs["timeout"] = self.timeout
            response: requests.Response = self._http.request(*args, **kwargs)
        except requests.RequestException as err:
            raise TransientError(
                f"cannot reach Reddit ({method} {path}): {type(err).__name__}"
            ) from err
        if api_call:
            self.budget.take(response.headers)
        if response.status_code == 429:
            wait = self.budget.seconds_to_reset() if api_call else None
            if not wait:
                wait = float_or_none(response.headers.get("retry-after")) or 60.0
            self.budget.spent(wait)
            raise TransientError(
                f"Reddit rate limit (429) on {method} {path}; pausing {wait:.0f}s",
                retry_after=wait,
            )
        if response.status_code >= 500:
            # prawcore would retry twice with ~4 s of sleeps; the scheduler's backoff does it.
            raise TransientError(f"Reddit answered {response.status_code} for {method} {path}")
        return response


def float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Credentials:
    """The variables that hold the Reddit credentials, to name the one that was refused."""

    client_id_env: str
    client_secret_env: str
    username_env: str
    password_env: str
    password_grant: bool

    def refused(self) -> tuple[str, str]:
        """The credential to blame for a refused login, and the names to check."""
        if self.password_grant:
            return self.password_env, f"{self.username_env} / {self.password_env}"
        return self.client_secret_env, f"{self.client_id_env} / {self.client_secret_env}"


def translate(
    err: prawcore.PrawcoreException, names: Credentials, listing: str | None
) -> Exception:
    """prawcore's error as ours; `listing` is the key of the listing being read, if any."""
    where = f" reading {listing}" if listing else ""
    if isinstance(err, prawcore.OAuthException):
        credential, checks = names.refused()
        return AuthError(
            f"Reddit refused the login ({err.error}): check {checks}. {FEED_ALTERNATIVE}",
            credential=credential,
        )
    if isinstance(err, prawcore.ResponseException) and err.response.url.endswith(TOKEN_PATH):
        return AuthError(
            f"Reddit refused the app's credentials (HTTP {err.response.status_code} from the "
            f"token endpoint): check {names.client_id_env} / {names.client_secret_env}. "
            f"{FEED_ALTERNATIVE}",
            credential=names.client_secret_env,
        )
    if isinstance(err, prawcore.InvalidToken):
        credential, checks = names.refused()
        return AuthError(
            f"Reddit rejected a fresh access token{where}: check {checks}", credential=credential
        )
    if isinstance(err, prawcore.InsufficientScope | prawcore.Forbidden):
        if listing == "mentions":
            return AuthError(
                f"Reddit refused the inbox of the account in {names.username_env} "
                f"({reason(err)}); use a script app whose developer is that account",
                credential=names.username_env,
            )
        return AuthError(
            f"Reddit answered 403 Forbidden{where} ({reason(err)}): the app may be "
            f"blocked or its user_agent refused; check {names.client_id_env} and user_agent. "
            f"{FEED_ALTERNATIVE}",
            credential=names.client_id_env,
        )
    if isinstance(err, prawcore.BadRequest):
        return ConfigError(f"Reddit refused the request{where} as malformed (HTTP 400)")
    return TransientError(f"Reddit request failed{where}: {err}")


def reason(err: prawcore.PrawcoreException) -> str:
    """Reddit's reason for a refusal ("private", "quarantined", "banned"...), else the status."""
    if isinstance(err, prawcore.Redirect):
        return f"redirected to {err.path}: no such subreddit"
    if isinstance(err, prawcore.ResponseException):
        try:
            body = err.response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("reason"):
            return str(body["reason"])
        return f"HTTP {err.response.status_code}"
    return str(err)
