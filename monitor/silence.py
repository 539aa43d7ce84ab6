"""Silence is not "no complaints": a source that stops returning mentions is told about.

A source whose token works but whose query matches nothing any more (a renamed handle, a search
X quietly changed, an instance that answers empty pages) fails silently: every poll succeeds and
returns nothing. So each source learns its own rhythm from what it stored, the mean posts per
hour for each hour of the week (UTC) over the last `history_days`, and the watch asks how likely
the silence since its last post is under that rhythm: a Poisson count with the expected number of
posts over the silent span, so zero posts has probability ``exp(-expected)``. Below
`likelihood` (1%) and at least `min_hours` long, one notice; one more when mentions resume. A
source with under `min_history_days` of posts has no rhythm yet and stays quiet, and one that is
already failing is the failure notice's business (`monitor.sources`).

The mark lives in the source's status row (`SourceStatusStore.mark_silent`): `status` shows it,
a restart does not repeat the notice, and of several replicas running the watch one tells.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import Field

from monitor.clock import Clock
from monitor.errors import StorageUnavailable
from monitor.health import Health
from monitor.settings_base import StrictModel
from monitor.storage.source_status import HourlyPosts, SourceStatus, SourceStatusStore

log = logging.getLogger(__name__)

HOURS_A_WEEK = 7 * 24
HOUR = timedelta(hours=1)
OK = "ok"
"""`monitor.sources.SourceState.OK` (the core modules stay apart)."""


class SilenceSettings(StrictModel):
    """``[daemon.silence]``: when a quiet source is worth a notice."""

    enabled: bool = True
    likelihood: float = Field(default=0.01, gt=0, lt=1)
    """Tell when a silence this long is less likely than this under the source's own rhythm."""
    min_hours: float = Field(default=2.0, ge=0.25, le=24 * 28)
    """Never call a source silent sooner, however busy it usually is."""
    history_days: int = Field(default=28, ge=7, le=90)
    """The rhythm is learned from this many days of stored posts."""
    min_history_days: float = Field(default=7.0, ge=1, le=90)
    """A source with fewer days of posts has no rhythm yet: it is never called silent."""
    check_minutes: float = Field(default=10.0, ge=1, le=24 * 60)


def hour_of_week(moment: datetime) -> int:
    """0 for Monday 00:00-01:00 UTC, up to 167 for Sunday 23:00-24:00."""
    utc = moment.astimezone(UTC)
    return utc.weekday() * 24 + utc.hour


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Rhythm:
    """Mean posts per hour for each hour of the week (168 of them, Monday 00:00 UTC first)."""

    rates: tuple[float, ...]

    @classmethod
    def learn(cls, counts: Mapping[datetime, int], start: datetime, end: datetime) -> Rhythm:
        """From posts counted by hour (`counts`, keys on the hour, UTC), over the whole hours
        in [start, end): each hour of the week's mean over the times it occurred."""
        totals = [0] * HOURS_A_WEEK
        seen = [0] * HOURS_A_WEEK
        hour = _floor_hour(start)
        while hour < end:
            slot = hour_of_week(hour)
            seen[slot] += 1
            totals[slot] += counts.get(hour, 0)
            hour += HOUR
        return cls(tuple(t / n if n else 0.0 for t, n in zip(totals, seen, strict=True)))

    def rate_at(self, moment: datetime) -> float:
        return self.rates[hour_of_week(moment)]

    def expected(self, start: datetime, end: datetime) -> float:
        """Posts expected in [start, end): each hour's rate times the share of it covered."""
        total = 0.0
        hour = _floor_hour(start)
        while hour < end:
            covered = min(end, hour + HOUR) - max(start, hour)
            total += self.rates[hour_of_week(hour)] * covered / HOUR
            hour += HOUR
        return total


def likelihood_of_silence(expected: float) -> float:
    """Poisson: the probability of no post at all when `expected` were due."""
    return math.exp(-expected)


@dataclass(frozen=True, slots=True)
class Silence:
    """A source quiet for longer than its rhythm allows."""

    source: str
    since: datetime
    """Its last post's time."""
    expected: float
    """Posts its rhythm expected since then."""
    usual_rate: float
    """Its usual posts per hour at this hour of the week."""

    def hours(self, now: datetime) -> float:
        return (now - self.since) / HOUR


class SilenceWatch:
    """The scheduled job: tell once when a source falls silent, and once when it speaks again."""

    def __init__(
        self,
        store: SourceStatusStore,
        sources: Sequence[str],
        settings: SilenceSettings,
        clock: Clock,
        notify: Callable[[str], None],
    ) -> None:
        self.store = store
        self.sources = list(sources)
        self.settings = settings
        self.clock = clock
        self.notify = notify
        self.health = Health("silence watch", log, clock)

    def judge(self, posts: HourlyPosts | None, now: datetime, source: str) -> Silence | None:
        """The silence, when this source's quiet since its last post is too unlikely; None
        when it is not, or when the source has no rhythm yet."""
        settings = self.settings
        if posts is None or posts.latest is None or not posts.counts:
            return None
        first = min(posts.counts)
        if now - first < timedelta(days=settings.min_history_days):
            return None
        since = min(posts.latest, now)
        if now - since < timedelta(hours=settings.min_hours):
            return None
        # From the hour after its first (a source's first hour, like the window's, is partly
        # outside what was counted) to the end of its last: the silence itself would teach it
        # to expect silence.
        rhythm = Rhythm.learn(posts.counts, first + HOUR, _floor_hour(since) + HOUR)
        expected = rhythm.expected(since, now)
        if likelihood_of_silence(expected) >= settings.likelihood:
            return None
        return Silence(source, since, expected, rhythm.rate_at(now))

    def check(self) -> list[Silence]:
        """One pass over every source; the silences found (told or already told)."""
        now = self.clock.now()
        try:
            statuses = {status.source: status for status in self.store.all()}
            since = _floor_hour(now - timedelta(days=self.settings.history_days))
            hourly = self.store.hourly_posts(since)
            found = [
                silence
                for source in self.sources
                if (silence := self._check_one(source, statuses.get(source), hourly, now))
            ]
        except Exception as err:  # a side job: log it, try again at the next check
            if not isinstance(err, StorageUnavailable) and self.health.healthy:
                log.warning("silence watch failed", exc_info=True)  # a bug: its traceback once
            self.health.fail("failing", str(err), lambda o: f"silence watch: {o.error}")
            return []
        self.health.recover()
        return found

    def _check_one(
        self,
        source: str,
        status: SourceStatus | None,
        hourly: Mapping[str, HourlyPosts],
        now: datetime,
    ) -> Silence | None:
        if status is None:  # not polled yet (by this version): nothing to compare with
            return None
        posts = hourly.get(source)
        if status.silent_since is not None:
            if (
                posts is not None
                and posts.latest is not None
                and posts.latest > status.silent_since
            ):
                self._heard(source, now)
                return None
            return self.judge(posts, now, source)
        if status.state != OK:  # failing: its own notice says so
            return None
        silence = self.judge(posts, now, source)
        if silence is not None and self.store.mark_silent(source, silence.since):
            log.warning(
                "source=%s silent for %.1f h; %.1f posts expected",
                source,
                silence.hours(now),
                silence.expected,
            )
            self.notify(self._silent_notice(silence, now))
        return silence

    def _heard(self, source: str, now: datetime) -> None:
        since = self.store.mark_heard(source)
        if since is None:
            return
        hours = (now - since) / HOUR
        log.info("source=%s mentions again after %.1f h of silence", source, hours)
        self.notify(f"Mentions from {source} again, after {_hours(hours)} of silence.")

    def _silent_notice(self, silence: Silence, now: datetime) -> str:
        return (
            f"No mentions from {silence.source} for {_hours(silence.hours(now))}; usually "
            f"{_rate(silence.usual_rate)} an hour at this time ({silence.expected:.0f} expected "
            f"since the last one, a silence under {self.settings.likelihood:.0%} likely from its "
            f"last {self.settings.history_days} days). To do: check it still reads what it "
            "should: `complaint-monitor status`, the platform's status page, the source's "
            "query or handle and its token."
        )


def _hours(hours: float) -> str:
    return f"{hours:.0f} h" if hours >= 2 else f"{hours * 60:.0f} min"


def _rate(rate: float) -> str:
    return f"{rate:.0f}" if rate >= 10 else f"{rate:.1f}"
