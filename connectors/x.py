"""X (Twitter): posts that mention the brand's account, and recent searches for its terms.

Built on tweepy's API v2 `Client` with the app's bearer token (App-only auth). Both endpoints
accept it, so no user-context credentials are needed. X access level: reading mentions
(``GET /2/users/:id/mentions``) and recent search (``GET /2/tweets/search/recent``) needs a
plan that includes reads, Basic or higher; the Free plan answers 403.

Why it is built the way it is:

- All state lives in the cursor (`XCursor`), which the pipeline stores in the same transaction
  as the posts: per query the newest id read (``since_id``), the place a page-capped burst
  stopped (`XBurst`), and a rate-limit pause; plus the month's read counter. A restart, or a
  failed store (the old cursor comes back), re-reads instead of skipping anything; storage drops
  the duplicates.
- X pages newest first. A poll follows the pagination tokens down to ``since_id`` or to
  `max_pages_per_poll` (`XConnector._pages`, praw's ListingGenerator idea); a burst stopped by the
  cap resumes next poll from its saved token (or, if X refuses the token or a page came
  truncated, from ``until_id`` = the oldest post read), so nothing is read twice and nothing
  skipped. Each poll's posts are returned oldest first; in a capped burst the later polls carry
  the older posts. A query's first poll reads back `backfill_seconds` (default an hour; X's
  ``start_time``), page after page like any burst, and stores that starting point even when it
  finds nothing, so the posts that come next are read from there, all of them; a first poll
  stopped by the page cap (or killed before its cursor was stored) is resumed (or read again).
- The default search leaves out what the mentions query returns (``-@<mentions_username>``),
  and a post two queries return in one poll counts once in the read budget.
- X's ``since_id`` is exclusive and its ids are unique and ordered, so unlike Reddit no window
  of ids seen at the boundary (`SeenWindow`) is needed: the newest id is the whole position.
- Nothing here sleeps: a 429 pauses that query (in the cursor) until ``x-rate-limit-reset``.
- Reads cost money (X's pay-per-use: a post read, a user read, each billed once per UTC day).
  The cursor counts them by kind (`XSpend`, with the ids read today, so a re-read the same day
  costs nothing and the next day costs again), `monthly_budget` paces them along the month
  (mentions first, searches wait first), and once a day the count is compared with X's own
  (``GET /2/usage/tweets``) in the log.
- The parts live beside this module: `_x_api` (tweepy, and its errors sorted into ours),
  `_x_posts` (a page into posts, a truncated page salvaged), `_x_budget` (the monthly read cap
  and the money: X's paid plans cap and bill the posts an app reads, so reading is paced along
  the month and stops with `QuotaExhausted` rather than running up a bill). What stays here is
  the poll itself, kept in one place so its order of reading can be followed top to bottom,
  with the settings and cursor it reads and writes, and `spend_report`, which reads that
  cursor with those settings' prices (past 600 lines for that reason: moving either away would
  split one shape over two files).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

import requests
from pydantic import Field, ValidationInfo, field_validator, model_validator

from connectors._x_api import PUBLIC_API, Query, RateLimited, Refused, XApi
from connectors._x_api import reset_time as _reset_time
from connectors._x_budget import (
    MIN_RESULTS,
    PRICE_PER_POST_READ,
    PRICE_PER_USER_READ,
    Allowance,
    Ledger,
    Prices,
    Purse,
    ReadBudget,
    SpendBudget,
    XReads,
    XSpend,
    money,
    project,
)
from connectors._x_burst import Burst, XBurst, XQueryCursor
from connectors._x_posts import USERNAME as _USERNAME
from connectors._x_posts import Page, id_order, parse_page
from connectors.base import (
    Connector,
    CursorState,
    CursorUnreadable,
    Fetched,
    SourceSettings,
    cursor_from_json,
)
from monitor.brand import BrandSettings
from monitor.clock import Clock
from monitor.errors import ConfigError, TransientError
from monitor.models import Cursor, Post
from monitor.settings_base import secret_from_env, secrets_required

log = logging.getLogger(__name__)

SEARCH_QUERY_LIMIT = 512
"""Longest recent-search query on the Basic plan; default queries are split to fit."""

__all__ = [
    "SEARCH_QUERY_LIMIT",
    "SpendReport",
    "XBurst",
    "XConnector",
    "XCursor",
    "XQueryCursor",
    "XSettings",
    "default_searches",
    "spend_report",
]


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
    backfill_seconds: float = Field(default=3600.0, ge=0, le=7 * 86_400)
    """A query's first poll reads posts this recent (0: from now, less X's 10 s). It stores that
    starting point even when it finds nothing, so what comes later is read from there."""
    monthly_read_cap: int | None = Field(default=None, ge=10)
    """Posts this source may read a calendar month (UTC), as your X plan bills them. Reading is
    paced along the month, warns at 80% and stops at the cap until the 1st. Set it a little
    under the plan's limit if other apps share the Project."""
    price_per_post_read: float = Field(default=PRICE_PER_POST_READ, ge=0)
    """What X bills for a post read, in the account's currency (default: X's published
    pay-per-use price, 0.005 dollars, August 2026)."""
    price_per_user_read: float = Field(default=PRICE_PER_USER_READ, ge=0)
    """What X bills for a user read (each author a page includes; default 0.010 dollars)."""
    monthly_budget: float | None = Field(default=None, gt=0)
    """Money this source may spend on reads a calendar month (UTC), in the account's currency.
    Reading is paced so it lasts the month: searches wait first, mentions go on; a notice at
    80% and one when searches first wait; reading stops before the budget would be overrun."""

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
        if not (self.enabled and secrets_required(info)):
            return self  # a command that never fetches (`stats`, `replay`) needs no token
        if secret_from_env(info, self.bearer_token_env) is None:
            raise ValueError(
                f"the environment variable {self.bearer_token_env} is not set: export "
                f"{self.bearer_token_env}=<the app's Bearer Token from the X developer portal, "
                "Keys and tokens>, or set enabled = false"
            )
        return self


# -- the cursor ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class XUser:
    """The mentions account's id, kept so a restart saves the lookup."""

    username: str
    id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class XCursor(CursorState):
    user: XUser | None = None
    queries: dict[str, XQueryCursor] = field(default_factory=dict)
    """By `Query.key`; a query removed from the config is forgotten, a new one starts at the
    newest page."""
    reads: XReads | None = None
    """None only in a cursor written before the read cap counted: the count starts at 0."""
    spend: XSpend | None = None
    """None only in a cursor written before reads were billed by kind: posts start from
    `reads`, users at 0."""


# -- one poll ---------------------------------------------------------------------------------


@dataclass
class _Poll:
    """What one fetch has gathered so far."""

    now: datetime
    allowance: Allowance
    ledger: Ledger
    purse: Purse
    prices: Prices
    posts: dict[str, Post] = field(default_factory=dict)
    more: bool = False
    progressed: bool = False
    failures: list[TransientError] = field(default_factory=list)
    paused_until: list[datetime] = field(default_factory=list)

    def take(self, page: Page) -> None:
        """Keep the page's posts and pay for them as X bills: a post or a user already read
        today (by another query, an earlier poll) costs nothing again."""
        self.progressed = True
        ids = [post.external_id for post in page.posts]
        posts, users = self.ledger.read(ids, page.read - len(ids), page.user_ids)
        self.allowance.spend(posts)
        self.purse.charge(self.prices.cost(posts, users))
        for post in page.posts:
            self.posts.setdefault(post.external_id, post)

    def take_user(self, user_id: str) -> None:
        """A user lookup is a user read."""
        _, users = self.ledger.read([], 0, [user_id])
        self.purse.charge(self.prices.cost(0, users))


# -- the connector ------------------------------------------------------------------------------


class XConnector(Connector[XSettings, XCursor]):
    kind = "x"
    settings_class = XSettings
    cursor_class = XCursor
    requires = {"tweepy": "x"}

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
        self.queries = self._build_queries()
        if not self.queries:
            raise ConfigError(
                f"source {settings.name} has nothing to read: set mentions_username, or "
                "searches, or add [brand] terms to build a search from"
            )
        self.api = XApi(
            token=token.get_secret_value(),
            credential=settings.bearer_token_env,
            base_url=settings.api_base_url,
            timeout=settings.timeout_seconds,
            clock=self.clock,
            source=settings.name,
        )
        self.budget = ReadBudget(
            settings.monthly_read_cap,
            settings.interval_seconds,
            min(MIN_RESULTS[q.kind] for q in self.queries),
            settings.name,
        )
        self.spend = SpendBudget(
            Prices(settings.price_per_post_read, settings.price_per_user_read),
            settings.monthly_budget,
            settings.interval_seconds,
            MIN_RESULTS[self.queries[0].kind],  # mentions when read: the last to stop
            settings.name,
            mentions=self.queries[0].kind == "mentions",
        )
        self._user_id: str | None = None
        self._usage_trouble: str | None = None
        """The UTC day a failed usage request was logged (once a day)."""

    @property
    def credential(self) -> str:
        return self.settings.bearer_token_env

    # -- fetch ------------------------------------------------------------------------------

    def fetch(self, cursor: XCursor | None) -> Fetched[XCursor]:
        now = self.clock.now()
        allowance = self.budget.open(cursor.reads if cursor else None, now)
        ledger = Ledger.open(cursor.spend if cursor else None, allowance.before, now)
        spent_before = self.spend.prices.cost(ledger.posts, ledger.users)
        poll = _Poll(
            now=now,
            allowance=allowance,
            ledger=ledger,
            purse=self.spend.open(ledger, now),
            prices=self.spend.prices,
        )
        self._remember_user(cursor)
        saved = cursor.queries if cursor else {}
        queries = {q.key: saved[q.key] for q in self.queries if q.key in saved}
        for query in self.queries:
            state = queries[query.key] = self._unpaused(
                query, queries.get(query.key, XQueryCursor()), poll
            )
            if state.paused_until is not None:
                continue
            if poll.allowance.left <= 0:
                break
            queries[query.key] = self._read_query(query, state, poll)
        reads = self.budget.close(poll.allowance, now)
        if not poll.progressed:
            self._raise_if_unread(poll)
        self._reconcile(poll.ledger, now)
        spend = self.spend.close(poll.ledger, poll.purse, spent_before, now)
        posts = sorted(poll.posts.values(), key=lambda p: id_order(p.external_id))
        user = XUser(username=self.queries[0].text, id=self._user_id) if self._user_id else None
        next_cursor = XCursor(
            user=user or (cursor.user if cursor else None),
            queries=queries,
            reads=reads,
            spend=spend,
        )
        more = poll.more and poll.allowance.left > 0 and not poll.purse.held
        return Fetched(posts, next_cursor, more=more)

    def _read_query(self, query: Query, state: XQueryCursor, poll: _Poll) -> XQueryCursor:
        """Read one query's pages; what was read is kept even when a later page fails."""
        burst = Burst.resume(state, poll.now - timedelta(seconds=self.settings.backfill_seconds))
        try:
            user_id = self._mentions_user_id(query, poll) if query.kind == "mentions" else ""
            for page in self._pages(query, burst, poll, user_id):
                poll.take(page)
        except RateLimited as limited:  # the user lookup (a page's 429 pauses in _pages)
            self._pause(query, burst, poll, limited.until, "answered 429 to the user lookup")
        except TransientError as err:
            log.warning("source=%s query %r: %s", self.name, query.key, err)
            poll.failures.append(err)
        return burst.cursor()

    def _pages(self, query: Query, burst: Burst, poll: _Poll, user_id: str) -> Iterator[Page]:
        """One query's pages, newest first (praw's ListingGenerator): each request goes on where
        `burst` stands and each page moves it on; stops at since_id (`burst.finished`), at the
        page cap (`poll.more`), when the read budget allows no page, or on a pause."""
        cap = self.settings.max_pages_per_poll
        pages = 0
        while True:
            if pages >= cap:
                poll.more = True
                return
            size = poll.allowance.page_size(query.kind, self.settings.page_size)
            if size is not None:
                size = poll.purse.page_size(query.kind, size)
            if size is None:
                return
            try:
                response = self.api.timeline(query, user_id, burst.position, size)
            except Refused as err:
                self._go_around(query, burst, err)
                continue
            except RateLimited as limited:
                self._pause(query, burst, poll, limited.until, "answered 429")
                return
            pages += 1
            page = parse_page(response, query, poll.now, self.name)
            burst.took(page)
            yield page
            self._pause_if_spent(query, burst, poll, response)
            if page.last:
                if burst.resumed and burst.paused_until is None and pages < cap:
                    burst.read_above()
                    continue
                burst.finished = True
                return
            if burst.paused_until is not None:
                return

    def _go_around(self, query: Query, burst: Burst, err: Refused) -> None:
        """X refused the page's parameters (400): go on another way, or raise `ConfigError`."""
        if burst.token_refused():  # expired, or not ours any more
            log.info(
                "source=%s query %r: X refused the saved page token; continuing below post %s "
                "instead",
                self.name,
                query.key,
                burst.anchor,
            )
            return
        start = burst.start_time
        if start is not None and "start_time" in err.parameters:
            earlier = start - timedelta(minutes=5)
            if earlier > self.clock.now() - timedelta(minutes=30):  # our clock ahead of X's
                log.warning(
                    "source=%s query %r: X refused start_time %s (%s); asking from %s instead",
                    self.name,
                    query.key,
                    f"{start:%H:%M:%S}",
                    err.detail,
                    f"{earlier:%H:%M:%S}",
                )
                burst.start_time = earlier
                return
        if burst.floor is not None and "since_id" in err.parameters:
            log.warning(
                "source=%s query %r: X no longer serves posts as old as the last one read "
                "(recent search covers 7 days); posts in between were missed",
                self.name,
                query.key,
            )
            burst.since_refused()
            return
        where = "mentions_username" if query.kind == "mentions" else "searches"
        raise ConfigError(
            f"source {self.name}: X rejected the query {query.key!r}: {err.detail}; "
            f"fix [[sources]] {where}"
        ) from err

    def _raise_if_unread(self, poll: _Poll) -> None:
        """Nothing was read: a failure, or every query paused, is the poll's error."""
        if poll.failures:
            raise TransientError(f"X could not be read: {poll.failures[0]}") from poll.failures[0]
        if len(poll.paused_until) == len(self.queries):
            until = min(poll.paused_until)
            raise TransientError(
                f"every X query is rate limited until {until:%H:%M:%S} UTC",
                retry_after=max(1.0, (until - poll.now).total_seconds()),
            )

    # -- rate limits ------------------------------------------------------------------------

    def _unpaused(self, query: Query, state: XQueryCursor, poll: _Poll) -> XQueryCursor:
        """The query's state, its pause lifted when the reset has come."""
        until = state.paused_until
        if until is None:
            return state
        if poll.now < until:
            poll.paused_until.append(until)
            return state
        log.info("source=%s query %r: rate limit reset; reading again", self.name, query.key)
        return replace(state, paused_until=None)

    def _pause(self, query: Query, burst: Burst, poll: _Poll, until: datetime, why: str) -> None:
        burst.paused_until = until
        poll.paused_until.append(until)
        log.warning(
            "source=%s query %r: X %s; this query pauses until %s UTC, the others go on",
            self.name,
            query.key,
            why,
            f"{until:%Y-%m-%d %H:%M:%S}",
        )

    def _pause_if_spent(
        self, query: Query, burst: Burst, poll: _Poll, response: requests.Response
    ) -> None:
        """Remaining 0 means the next request is a 429: pause now instead of asking for it."""
        if response.headers.get("x-rate-limit-remaining", "").strip() != "0":
            return
        reset = _reset_time(response)
        if reset is not None and reset > poll.now:
            self._pause(query, burst, poll, reset, "rate limit is spent")

    # -- the mentions account ---------------------------------------------------------------

    def _remember_user(self, cursor: XCursor | None) -> None:
        cached = cursor.user if cursor else None
        username = self.settings.mentions_username or ""
        if self._user_id is None and cached and cached.username.lower() == username.lower():
            self._user_id = cached.id or None

    def _user(self, cursor: XCursor | None) -> XUser | None:
        username = self.settings.mentions_username
        if username and self._user_id:
            return XUser(username=username, id=self._user_id)
        return cursor.user if cursor else None

    def _mentions_user_id(self, query: Query, poll: _Poll) -> str:
        """Resolved once, then kept in the instance and in the cursor (saves a call a restart)."""
        if self._user_id is None:
            user = self.api.user_id(query.text)
            if user is None:
                raise ConfigError(
                    f"source {self.name}: mentions_username = {query.text!r} is not an X account "
                    "(or it is suspended); fix it in [[sources]]"
                )
            poll.take_user(user)
            self._user_id = user
        return self._user_id

    # -- what X says was read -----------------------------------------------------------------

    def _reconcile(self, ledger: Ledger, now: datetime) -> None:
        """Once a UTC day, compare yesterday's post reads with X's own count
        (``GET /2/usage/tweets``) and log the difference; a plan that does not serve it (403,
        404) is logged once and not asked again that day; a failure is tried at the next poll."""
        today = f"{now:%Y-%m-%d}"
        if ledger.reconciled == today:
            return
        try:
            usage = self.api.usage(days=2)
        except (TransientError, RateLimited) as err:
            if self._usage_trouble != today:
                self._usage_trouble = today
                log.info("source=%s X's usage figures could not be read (%s)", self.name, err)
            return
        ledger.reconciled = today
        if usage is None:
            if self._usage_trouble is None:
                log.info(
                    "source=%s X's usage endpoint is not served on this plan (403/404): "
                    "spend is this source's own count",
                    self.name,
                )
            self._usage_trouble = today
            return
        yesterday = f"{now - timedelta(days=1):%Y-%m-%d}"
        theirs = _daily_usage(usage, yesterday)
        ours = ledger.daily.get(yesterday, 0)
        if theirs is None:
            log.info("source=%s X's usage has no figure for %s yet", self.name, yesterday)
            return
        log.log(
            logging.WARNING if theirs > ours else logging.INFO,
            "source=%s X counts %d post reads for the Project on %s, this source %d "
            "(difference %+d; other apps in the Project count there too)",
            self.name,
            theirs,
            yesterday,
            ours,
            theirs - ours,
        )

    def check_credentials(self) -> str:
        """A user lookup: cheap, and it reads no posts (nothing counts against the read cap)."""
        username = self.settings.mentions_username or next(iter(self.brand.handles), "XDevelopers")
        try:
            user_id = self.api.user_id(username)
        except RateLimited as limited:
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

    def _build_queries(self) -> list[Query]:
        queries: list[Query] = []
        if self.settings.mentions_username:
            queries.append(Query("mentions", self.settings.mentions_username))
        searches = self.settings.searches
        if searches is None:
            searches = default_searches(self.brand, mentions=self.settings.mentions_username)
        queries.extend(Query("search", s) for s in searches)
        return queries

    def gauges(self) -> Mapping[str, float]:
        """This month's reads and spend as of the last poll, what `monthly_read_cap` leaves,
        the month's projected spend and `monthly_budget`."""
        reads = self.budget.reads
        if reads is None:
            return {}
        now = self.clock.now()
        month = f"{now:%Y-%m}"
        used = reads.count if reads.month == month else 0
        figures = {"x_read_budget_used": float(used)}
        if self.budget.cap is not None:
            figures["x_read_budget_left"] = float(max(0, self.budget.cap - used))
        spend = self.spend.spend
        spent = self.spend.spent() if spend is not None and spend.month == month else 0.0
        figures["x_spend_this_month"] = spent
        figures["x_spend_projected"] = project(spent, now)
        if self.spend.budget is not None:
            figures["x_monthly_budget"] = self.spend.budget
        return figures

    def close(self) -> None:
        self.api.close()


@dataclass(frozen=True, slots=True)
class SpendReport:
    """An X source's spend this month, read from its stored cursor (`status`, `stats`)."""

    month: str
    spent: float
    projected: float
    budget: float | None
    post_reads: int
    user_reads: int

    def as_json(self) -> dict[str, object]:
        return {
            "month": self.month,
            "spent": round(self.spent, 2),
            "projected": round(self.projected, 2),
            "budget": self.budget,
            "post_reads": self.post_reads,
            "user_reads": self.user_reads,
        }

    def line(self) -> str:
        """For people: "12.34 spent this month, 40.10 projected, budget 50.00"."""
        budget = f"budget {money(self.budget)}" if self.budget is not None else "no budget set"
        return (
            f"{money(self.spent)} spent this month ({self.post_reads:,} post and "
            f"{self.user_reads:,} user reads), {money(self.projected)} projected, {budget}"
        )


def spend_report(settings: XSettings, stored: Cursor | None, now: datetime) -> SpendReport:
    """What the stored cursor says this month's reads cost, at the configured prices."""
    month = f"{now:%Y-%m}"
    posts = users = 0
    if stored is not None:
        try:
            cursor = cursor_from_json(XCursor, stored)
        except CursorUnreadable:
            cursor = XCursor()
        if cursor.spend is not None and cursor.spend.month == month:
            posts, users = cursor.spend.posts, cursor.spend.users
        elif cursor.reads is not None and cursor.reads.month == month:
            posts = cursor.reads.count
    prices = Prices(settings.price_per_post_read, settings.price_per_user_read)
    spent = prices.cost(posts, users)
    return SpendReport(month, spent, project(spent, now), settings.monthly_budget, posts, users)


def _daily_usage(usage: dict[str, object], day: str) -> int | None:
    """The Project's post reads on `day` in X's usage answer (counts are strings there)."""
    daily = usage.get("daily_project_usage")
    entries = daily.get("usage") if isinstance(daily, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and str(entry.get("date", ""))[:10] == day:
            try:
                return int(str(entry.get("usage")))
            except ValueError:
                return None
    return None


def default_searches(brand: BrandSettings, mentions: str | None = None) -> list[str]:
    """Recent-search queries for the brand's terms: no retweets, the brand's languages, its
    exclusions and its own accounts' posts (posts we would drop, or store as the brand's own,
    anyway cost reads), split to fit X's query length.

    With `mentions` (the account whose mentions are read), ``-@<mentions>`` leaves out what the
    mentions query already returns (replies to it included: they start with the @mention), so
    no post is paid for twice."""
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
    # only handles that can be X usernames: "acme.bsky.social" belongs to another platform
    suffix.extend(f"-from:{h}" for h in brand.handles if _USERNAME.match(h))
    if mentions:
        suffix.append(f"-@{mentions}")
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
