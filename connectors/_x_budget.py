"""The X connector's monthly read budget.

X's paid plans cap the posts an app may read a month, so `monthly_read_cap` paces reading along
the month and stops it at the cap (`QuotaExhausted`) rather than running up a bill. The month's
count lives in the cursor (`XReads`), stored with the posts it counts.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
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
