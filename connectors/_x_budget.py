"""The X connector's monthly read budget, in posts and in money.

X's paid plans cap the posts an app may read a month, so `monthly_read_cap` paces reading along
the month and stops it at the cap (`QuotaExhausted`) rather than running up a bill. The month's
count lives in the cursor (`XReads`), stored with the posts it counts.

Since 2026 X bills reads one by one (a post read, a user read; each resource once per UTC day),
so `monthly_budget` does the same in money: `Ledger` bills a page as X does, `XSpend` keeps the
month's counts and today's ids in the cursor, `SpendBudget` paces the money (searches along the
month, mentions up to `MENTIONS_LEAD_DAYS` ahead, so searches are the first to wait) and never
lets a page cost more than what is left: each post is priced at its worst (a new author too).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitor.errors import QuotaExhausted

log = logging.getLogger("connectors.x")

MIN_RESULTS = {"mentions": 5, "search": 10}
"""X rejects smaller ``max_results`` on these endpoints."""


@dataclass(frozen=True, slots=True)
class XReads:
    """Posts read (and billed) in a calendar month, UTC."""

    month: str
    """``YYYY-MM``."""
    count: int = 0


@dataclass(slots=True)
class Allowance:
    """One poll's share of the budget."""

    month: str
    before: int
    """The month's count when the poll began."""
    left: float
    """Posts this poll may still read (the pacing); inf without a cap."""
    cap: int | None
    read: int = 0

    def spend(self, posts: int) -> None:
        self.read += posts
        self.left -= posts

    def page_size(self, kind: str, page_size: int) -> int | None:
        """The page size for the next request, or None when the budget allows no more."""
        if self.left <= 0:
            return None
        smallest = MIN_RESULTS[kind]
        size = page_size
        if self.cap is not None:
            remaining = self.cap - self.before - self.read
            if remaining < smallest:
                return None  # the smallest page would overrun the cap
            size = min(size, remaining, max(smallest, math.ceil(self.left)))
        return max(smallest, size)


class ReadBudget:
    """`monthly_read_cap` for one source: what each poll may read, and the warnings."""

    def __init__(
        self, cap: int | None, interval_seconds: float, smallest_request: int, source: str
    ) -> None:
        self.cap = cap
        self.interval_seconds = interval_seconds
        self.smallest_request = smallest_request
        self.source = source
        self.reads: XReads | None = None
        """The month's count after the last poll (None before the first): what the source's
        runner turns into the 80% notice for people."""
        self._pacing = False

    def open(self, saved: XReads | None, now: datetime) -> Allowance:
        """This poll's allowance; raises `QuotaExhausted` when the month's cap is spent."""
        month = f"{now:%Y-%m}"
        if saved is not None and saved.month != month:
            log.info("source=%s new month: the X read counter starts again", self.source)
        count = saved.count if saved is not None and saved.month == month else 0
        self._refuse_when_spent(count, now)
        return Allowance(month, count, self._allowance(count, now), self.cap)

    def close(self, allowance: Allowance, now: datetime) -> XReads:
        """The month's count after the poll; warns at 80% and at the cap, says when pacing."""
        after = allowance.before + allowance.read
        self._report_reads(allowance.before, after, now)
        self._report_pacing(allowance)
        self.reads = XReads(allowance.month, after)
        return self.reads

    def _refuse_when_spent(self, count: int, now: datetime) -> None:
        if self.cap is None or self.cap - count >= self.smallest_request:
            return
        renews = next_month(now)
        raise QuotaExhausted(
            f"source {self.source} has read {count} of its monthly_read_cap = {self.cap} X posts "
            f"this month; reading stops until {renews:%Y-%m-%d} 00:00 UTC (raise "
            "monthly_read_cap if your X plan allows more)",
            retry_after=(renews - now).total_seconds(),
        )

    def _allowance(self, count: int, now: datetime) -> float:
        """Posts this poll may read: what the month has accrued so far, less what was read.

        The budget grows linearly over the month, one poll interval ahead; unspent budget
        carries over, so a quiet start leaves room for a burst later.
        """
        if self.cap is None:
            return math.inf
        start, end = month_start(now), next_month(now)
        elapsed = (now - start).total_seconds() + self.interval_seconds
        accrued = self.cap * min(1.0, elapsed / (end - start).total_seconds())
        return max(0.0, accrued - count)

    def _report_reads(self, before: int, after: int, now: datetime) -> None:
        cap = self.cap
        if cap is None:
            return
        if after >= cap or cap - after < self.smallest_request:
            log.warning(
                "source=%s has read %d of its %d X posts this month: reading stops until %s",
                self.source,
                after,
                cap,
                f"{next_month(now):%Y-%m-%d}",
            )
        elif before < 0.8 * cap <= after:
            log.warning(
                "source=%s has read %d of its %d X posts this month (80%%); reading stops at "
                "the cap until %s",
                self.source,
                after,
                cap,
                f"{next_month(now):%Y-%m-%d}",
            )

    def _report_pacing(self, allowance: Allowance) -> None:
        paced = allowance.left <= 0 and self.cap is not None
        if paced and not self._pacing:
            log.info(
                "source=%s is pacing its reads to last the month (monthly_read_cap = %d); "
                "the rest is read at the next polls",
                self.source,
                self.cap,
            )
        self._pacing = paced


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(now: datetime) -> datetime:
    start = month_start(now)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


# -- the money: X's pay-per-use prices ----------------------------------------------------------

PRICE_PER_POST_READ = 0.005
"""Dollars per post read, X's published pay-per-use price (docs.x.com pricing, August 2026)."""
PRICE_PER_USER_READ = 0.010
"""Dollars per user read; each author in a page's ``includes.users`` counts as one."""
SPEND_WARNING = 0.8
"""Share of `monthly_budget` spent that earns the first notice."""
MENTIONS_LEAD_DAYS = 3.0
"""Days of budget kept for the mentions: they may run this far ahead of the pace (a busy day of
people writing to the brand is read the same day), and searches are paced to the budget less
this much, so they are the first to wait and never eat what the mentions need at the month's
end."""
DAY_IDS_KEPT = 5_000
"""Ids of each kind remembered as read today (X bills a resource once per UTC day). Past this,
the oldest are forgotten: a re-read of one is counted again, so the estimate errs high."""
DAYS_KEPT = 8
"""Days of post-read counts kept for the comparison with X's own usage figures."""


@dataclass(frozen=True, slots=True)
class Prices:
    post: float = PRICE_PER_POST_READ
    user: float = PRICE_PER_USER_READ

    @property
    def worst_post(self) -> float:
        """What a post can cost at most: itself and an author not yet read today."""
        return self.post + self.user

    def cost(self, posts: int, users: int) -> float:
        return posts * self.post + users * self.user


@dataclass(frozen=True, slots=True, kw_only=True)
class XSpend:
    """What the month's reads cost as X bills them: each post and each user once per UTC day.
    Stored in the cursor, so it moves with the posts it paid for."""

    month: str
    """``YYYY-MM`` (UTC)."""
    posts: int = 0
    """Post reads billed this month."""
    users: int = 0
    """User reads billed this month (authors in ``includes.users``, the account lookup)."""
    day: str = ""
    """``YYYY-MM-DD`` (UTC): the day the ids below were read on."""
    posts_today: tuple[str, ...] = ()
    users_today: tuple[str, ...] = ()
    daily: dict[str, int] = field(default_factory=dict)
    """Post reads billed by UTC day, the last `DAYS_KEPT` days: compared with X's usage."""
    reconciled: str | None = None
    """The UTC day X's usage endpoint was last asked (or refused): once a day."""

    def cost(self, prices: Prices) -> float:
        return prices.cost(self.posts, self.users)


@dataclass(slots=True)
class Ledger:
    """One poll's reads as X bills them, on top of what the cursor had: a post or a user read
    again the same UTC day costs nothing."""

    month: str
    day: str
    posts: int
    users: int
    posts_today: dict[str, None]
    users_today: dict[str, None]
    daily: dict[str, int]
    reconciled: str | None

    @classmethod
    def open(cls, saved: XSpend | None, legacy_posts: int, now: datetime) -> Ledger:
        """`saved` carried into `now`'s month and day; `legacy_posts`: a cursor written before
        spend was counted has only the month's post count."""
        month, day = f"{now:%Y-%m}", f"{now:%Y-%m-%d}"
        if saved is None:
            return cls(month, day, legacy_posts, 0, {}, {}, {}, None)
        same_month, same_day = saved.month == month, saved.day == day
        return cls(
            month,
            day,
            saved.posts if same_month else 0,
            saved.users if same_month else 0,
            dict.fromkeys(saved.posts_today) if same_day else {},
            dict.fromkeys(saved.users_today) if same_day else {},
            dict(saved.daily),
            saved.reconciled,
        )

    def read(self, post_ids: list[str], unidentified: int, user_ids: list[str]) -> tuple[int, int]:
        """Bill a page: its posts (`unidentified` ones X sent without a usable id count each
        time) and its users; returns the post and user reads that cost money."""
        new_posts = unidentified + _add(self.posts_today, post_ids)
        new_users = _add(self.users_today, user_ids)
        self.posts += new_posts
        self.users += new_users
        self.daily[self.day] = self.daily.get(self.day, 0) + new_posts
        return new_posts, new_users

    def saved(self) -> XSpend:
        days = sorted(self.daily)[-DAYS_KEPT:]
        return XSpend(
            month=self.month,
            posts=self.posts,
            users=self.users,
            day=self.day,
            posts_today=tuple(self.posts_today)[-DAY_IDS_KEPT:],
            users_today=tuple(self.users_today)[-DAY_IDS_KEPT:],
            daily={d: self.daily[d] for d in days},
            reconciled=self.reconciled,
        )


def _add(seen: dict[str, None], ids: list[str]) -> int:
    new = 0
    for item in ids:
        if item not in seen:
            seen[item] = None
            new += 1
    return new


@dataclass(slots=True)
class Purse:
    """One poll's money: what each kind of query may still spend, after the pace."""

    left: dict[str, float]
    """By query kind ("mentions", "search"): money this poll may spend, after the pace."""
    hard_left: float
    """Money left in the month's budget: never crossed, even by one page."""
    worst_post: float
    held: set[str] = field(default_factory=set)
    """Query kinds the pace held back this poll."""

    def charge(self, cost: float) -> None:
        for kind in self.left:
            self.left[kind] -= cost
        self.hard_left -= cost

    def page_size(self, kind: str, size: int) -> int | None:
        """At most `size` posts, as many as the money allows at their worst cost; None: wait.
        The pace may be overrun by one smallest page (so a small budget still reads), the
        month's budget never."""
        smallest = MIN_RESULTS[kind]
        if self.left[kind] <= 0:
            self.held.add(kind)
            return None
        if math.isinf(self.hard_left) or self.worst_post <= 0:
            return size  # no budget, or reads are free
        affordable = math.floor(self.hard_left / self.worst_post + 1e-9)
        if affordable < smallest:
            self.held.add(kind)
            return None
        paced = math.floor(self.left[kind] / self.worst_post + 1e-9)
        return max(smallest, min(size, paced, affordable))


class SpendBudget:
    """`monthly_budget` (money) for one source: the prices, the pace, the warnings, and the
    month's spend as of the last poll (for the notices, `status` and the metrics)."""

    def __init__(
        self,
        prices: Prices,
        budget: float | None,
        interval_seconds: float,
        smallest_request: int,
        source: str,
        mentions: bool = True,
    ) -> None:
        self.prices = prices
        self.mentions = mentions
        """The source reads mentions: keep `MENTIONS_LEAD_DAYS` of budget for them."""
        self.budget = budget
        self.interval_seconds = interval_seconds
        self.smallest_request = smallest_request
        """Posts in the smallest page of the query read last when the money runs out."""
        self.source = source
        self.spend: XSpend | None = None
        """The month's spend after the last poll (None before the first)."""
        self.searches_held = False
        """The last poll left searches unread because the budget so far was spent."""

    def open(self, ledger: Ledger, now: datetime) -> Purse:
        """This poll's money; raises `QuotaExhausted` when not even the smallest page of the
        last query standing (the mentions) fits in what is left of the month's budget."""
        if self.budget is None:
            return Purse({"mentions": math.inf, "search": math.inf}, math.inf, 0.0)
        spent = self.prices.cost(ledger.posts, ledger.users)
        left = self.budget - spent
        if left < self.smallest_request * self.prices.worst_post:
            renews = next_month(now)
            raise QuotaExhausted(
                f"source {self.source} has spent {money(spent)} of its monthly_budget = "
                f"{money(self.budget)} on X reads this month; reading stops until "
                f"{renews:%Y-%m-%d} 00:00 UTC (raise monthly_budget to read on)",
                retry_after=(renews - now).total_seconds(),
            )
        start, end = month_start(now), next_month(now)
        length = (end - start).total_seconds()
        accrued = min(1.0, ((now - start).total_seconds() + self.interval_seconds) / length)
        reserve = self.budget * min(1.0, MENTIONS_LEAD_DAYS * 86_400 / length)
        if not self.mentions:
            reserve = 0.0
        mentions_line = min(self.budget, self.budget * accrued + reserve)
        search_line = (self.budget - reserve) * accrued
        return Purse(
            {"mentions": mentions_line - spent, "search": search_line - spent},
            left,
            self.prices.worst_post,
        )

    def close(self, ledger: Ledger, purse: Purse, before: float, now: datetime) -> XSpend:
        """The month's spend after the poll; logs the 80% mark and a first hold of searches."""
        self.spend = ledger.saved()
        held = "search" in purse.held and self.budget is not None
        if held and not self.searches_held:
            log.info(
                "source=%s has spent the budget for the month so far (%s of %s by %s): "
                "searches wait for it to accrue, mentions go on",
                self.source,
                money(self.spent()),
                money(self.budget or 0.0),
                f"{now:%Y-%m-%d %H:%M}",
            )
        self.searches_held = held
        after = self.spent()
        if self.budget is not None and before < SPEND_WARNING * self.budget <= after:
            log.warning(
                "source=%s has spent %s of its %s X budget this month (80%%)",
                self.source,
                money(after),
                money(self.budget),
            )
        return self.spend

    def spent(self, spend: XSpend | None = None) -> float:
        spend = spend or self.spend
        return spend.cost(self.prices) if spend is not None else 0.0

    def projection(self, now: datetime) -> float:
        """The month's spend if the rest of it reads at the pace of the part gone by."""
        return project(self.spent(), now)


def project(spent: float, now: datetime) -> float:
    """`spent` so far this month, extrapolated to the month's end (from at least a day of it,
    so the first hours do not project a fortune)."""
    start, end = month_start(now), next_month(now)
    elapsed = max((now - start).total_seconds(), 86_400.0)
    length = (end - start).total_seconds()
    return spent * max(1.0, length / elapsed)


def money(amount: float) -> str:
    """An amount in the account's currency, as people read it ("12.35")."""
    return f"{amount:,.2f}"
