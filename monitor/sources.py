"""Runs one source's polls and sorts its failures, in one place (Home Assistant's coordinator).

Every failure goes through one table, `KNOWN_FAILURES`: transient (rate limit, 5xx, timeout,
database away) backs off until the platform's reset time or exponentially; a refused credential
or a bad setting pauses the source and tells the team at once; a spent quota pauses it until the
quota renews and tells the team; anything unexpected logs its traceback and backs off. A source
still failing after `notify_after_failures` polls or `notify_after` is worth a person's look
too: one notice says what fails and what to do (the table's last column), and one says when it
works again. `monitor.health.Health` logs when a source's state changes, not at every failure.

The runner also writes its state to the database (`SourceStatusStore`) for `complaint-monitor
status`, another process, and logs a poll that changed nothing at DEBUG, with an INFO summary
of each source every `summary_every`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from connectors._x_budget import ReadBudget, SpendBudget, money, next_month
from connectors.base import Connector
from monitor.clock import Clock
from monitor.errors import (
    AuthError,
    ConfigError,
    QuotaExhausted,
    StorageUnavailable,
    TransientError,
)
from monitor.health import Health, Outage, backoff
from monitor.pipeline import Pipeline, PollReport
from monitor.storage.leases import Leases
from monitor.storage.source_status import SourceStatus, SourceStatusStore
from monitor.text import truncate_plain

log = logging.getLogger(__name__)

AUTH_RETRY = timedelta(minutes=15)
"""A refused credential is retried this often, so a fixed secret takes effect without a restart."""
NOTIFY_AFTER_FAILURES = 3
NOTIFY_AFTER = timedelta(minutes=15)
"""A source failing this many polls in a row, or this long, is worth a notice."""
SUMMARY_EVERY = timedelta(minutes=60)
BUDGET_WARNING = 0.8
"""Share of a monthly read cap that earns a notice (the cap itself pauses the source)."""


class SourceState(StrEnum):
    OK = "ok"
    STANDBY = "standby"
    """Another replica holds this source's lease and polls it."""
    FAILING = "failing"
    RATE_LIMITED = "rate_limited"
    AUTH_FAILED = "auth_failed"
    QUOTA_EXHAUSTED = "quota_exhausted"


@dataclass(frozen=True, slots=True)
class Failure:
    """What a failure means for the source: its state, how long to pause, who to tell."""

    state: SourceState
    pause: float | None
    """Seconds; None: back off exponentially."""
    notify: bool = False
    """Tell people at once: only a person can fix it (renew a token, raise a plan)."""
    unexpected: bool = False
    """A bug or a library surprise: log the traceback."""
    advice: str = ""
    """What to do, for the notice."""


def _retry_after(err: Exception) -> float | None:
    return err.retry_after if isinstance(err, TransientError) else None


def _transient(err: Exception) -> Failure:
    retry_after = _retry_after(err)
    state = SourceState.RATE_LIMITED if retry_after else SourceState.FAILING
    return Failure(state, retry_after)


def _needs_a_person(err: Exception) -> Failure:
    return Failure(SourceState.AUTH_FAILED, AUTH_RETRY.total_seconds(), notify=True)


def _quota(err: Exception) -> Failure:
    return Failure(SourceState.QUOTA_EXHAUSTED, _retry_after(err), notify=True)


KNOWN_FAILURES: tuple[tuple[type[Exception], Callable[[Exception], Failure], str], ...] = (
    (
        QuotaExhausted,
        _quota,
        "raise the plan (and the source's monthly_read_cap), or let it wait for the quota to renew",
    ),
    (
        AuthError,
        _needs_a_person,
        "renew the token: put a valid one in the environment variable named above and "
        "restart the service",
    ),
    (
        ConfigError,
        _needs_a_person,
        "fix the setting named above in the configuration file and restart the service",
    ),
    (
        StorageUnavailable,
        _transient,
        "check the database: is it running and reachable from this server, is its disk full?",
    ),
    (
        TransientError,
        _transient,
        "check the instance: the platform's status page, the URL the source reads, this "
        "server's network; a rate limit that lasts means the plan allows fewer requests than "
        "interval_seconds asks for (raise the plan or poll less often)",
    ),
)
"""The ladder, most specific first: the error, what it means, what a person should do.
Anything else is `unexpected`."""
UNEXPECTED_ADVICE = (
    "this looks like a bug: the traceback is in the service's log (journalctl -u "
    "complaint-monitor); report it with that traceback"
)


def classify_failure(err: Exception) -> Failure:
    for kind, sort, advice in KNOWN_FAILURES:
        if isinstance(err, kind):
            return replace(sort(err), advice=advice)
    return Failure(SourceState.FAILING, None, unexpected=True, advice=UNEXPECTED_ADVICE)


@dataclass
class _Tally:
    """What a source did since its last INFO summary."""

    polls: int = 0
    failed: int = 0
    fetched: int = 0
    stored: int = 0
    alerts: int = 0
    edited: int = 0
    quarantined: int = 0

    def add(self, report: PollReport) -> None:
        self.polls += 1
        self.fetched += report.fetched
        self.stored += report.stored
        self.alerts += report.alerts
        self.edited += report.edited
        self.quarantined += report.quarantined


def _changed_something(report: PollReport) -> bool:
    return bool(report.stored or report.alerts or report.edited or report.quarantined)


class SourceRunner:
    """Polls one source through the pipeline; at most one replica polls it at a time."""

    def __init__(
        self,
        connector: Connector[Any, Any],
        pipeline: Pipeline,
        leases: Leases,
        clock: Clock,
        notify: Callable[[str], None] = lambda _text: None,
        *,
        owner: str = "local",
        lease: timedelta = timedelta(seconds=60),
        backoff_base: float = 30.0,
        backoff_cap: float = 1800.0,
        status: SourceStatusStore | None = None,
        notify_after_failures: int = NOTIFY_AFTER_FAILURES,
        notify_after: timedelta = NOTIFY_AFTER,
        summary_every: timedelta = SUMMARY_EVERY,
        on_poll: Callable[[PollReport], None] | None = None,
        on_error: Callable[[str, Exception], None] | None = None,
    ) -> None:
        self.connector = connector
        self.pipeline = pipeline
        self.leases = leases
        self.clock = clock
        self.notify = notify
        self.owner = owner
        self.lease = lease
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.status = status
        """Where the state is written for `complaint-monitor status` (None: nowhere)."""
        self.notify_after_failures = notify_after_failures
        self.notify_after = notify_after
        self.summary_every = summary_every
        self.on_poll = on_poll
        self.on_error = on_error
        """Told of each poll's report, and of each failed poll's error (the metrics)."""
        self.health = Health(f"source={connector.name}", log, clock)
        self.status_health = Health(f"source={connector.name} status", log, clock)
        """Writing the state is a side job: its failures are logged here, never raised."""
        self.standby = False
        self.paused_until: datetime | None = None
        """Wall-clock time the pause ends, as it was when the pause began (for people to read);
        the wait itself is measured on the monotonic clock (`_resume_at`), so a wall-clock step
        neither lengthens nor shortens it."""
        self._resume_at: float | None = None
        self._quarantine_told: set[str] = set()
        self._failing_since: float | None = None
        """Monotonic time the current outage began: how long it has lasted."""
        self._waiting_on_database = False
        """The last poll failed only because the database did not answer (see
        `database_is_back`)."""
        self._told: SourceState | None = None
        """The failure people were told about and not yet told is over."""
        self._told_budget: str | None = None
        self._taken_over = False
        """This runner has read what the last holder of the source recorded."""
        self._ok_since = clock.now()
        self._last_poll_at: datetime | None = None
        self._last_success_at: datetime | None = None
        self._last_post_at: datetime | None = None
        self._tally = _Tally()
        self._summary_due = clock.monotonic() + summary_every.total_seconds()

    @property
    def name(self) -> str:
        return self.connector.name

    @property
    def state(self) -> SourceState:
        if self.standby:
            return SourceState.STANDBY
        return SourceState(self.health.state)

    @property
    def healthy(self) -> bool:
        return self.health.healthy

    def poll(self) -> PollReport | None:
        """Poll unless paused. Never raises: every failure is sorted and recorded here."""
        self._summarize_when_due()
        if self._resume_at is not None and self.clock.monotonic() < self._resume_at:
            return None
        now = self.clock.now()
        try:
            if not self.leases.acquire(self.name, self.owner, now, self.lease):
                self._stand_by()
                return None
            self._take_over()
            self._last_poll_at = now
            report = self.pipeline.poll(self.connector)
        except Exception as err:
            if self.on_error is not None:
                self.on_error(self.name, err)
            self._failed(err, classify_failure(err))
            return None
        self._recovered()
        self._polled(report, now)
        if self.on_poll is not None:
            self.on_poll(report)
        self._tell_quarantined(report)
        self._tell_notices(report)
        self._tell_budget()
        self._record()
        return report

    def database_is_back(self) -> bool:
        """The database answered the daemon again: a source paused only because it could not
        store its poll tries again at its next turn instead of sitting out its backoff (up to
        `backoff_cap`), so posts that piled up during the outage reach people within a poll
        interval of the database's return. True when this source was woken."""
        if not self._waiting_on_database or self._resume_at is None:
            return False
        self._waiting_on_database = False
        self._resume_at = None
        self.paused_until = None
        log.info("source=%s: the database answers again; polling at its next turn", self.name)
        return True

    def release(self) -> None:
        """Hand the source to another replica at once (at shutdown)."""
        with contextlib.suppress(StorageUnavailable):  # else it expires within one lease period
            self.leases.release(self.name, self.owner)

    # -- a poll's outcome ------------------------------------------------------------------

    def _polled(self, report: PollReport, now: datetime) -> None:
        self._last_success_at = now
        if report.stored:
            self._last_post_at = now
        self._tally.add(report)
        level = logging.INFO if _changed_something(report) else logging.DEBUG
        log.log(level, "poll %s", report.summary())

    def _summarize_when_due(self) -> None:
        """One INFO line per source every `summary_every`: what it did meanwhile (the polls that
        changed nothing are only at DEBUG)."""
        if self.clock.monotonic() < self._summary_due:
            return
        self._summary_due = self.clock.monotonic() + self.summary_every.total_seconds()
        tally, self._tally = self._tally, _Tally()
        if self.standby and not tally.polls and not tally.failed:
            return
        log.info(
            "source=%s summary last %.0f min: state=%s polls=%d failed=%d fetched=%d new=%d "
            "alerts=%d edited=%d quarantined=%d",
            self.name,
            self.summary_every.total_seconds() / 60,
            self.state,
            tally.polls,
            tally.failed,
            tally.fetched,
            tally.stored,
            tally.alerts,
            tally.edited,
            tally.quarantined,
        )

    def _tell_quarantined(self, report: PollReport) -> None:
        """Posts the database refused were set aside: tell the team once per reason (no
        customer text: the quarantine table holds the posts)."""
        for reason in report.quarantine_reasons:
            if reason in self._quarantine_told:
                continue
            self._quarantine_told.add(reason)
            message = (
                f"Source {self.name}: the database refused {report.quarantined} post(s) "
                f"({reason}); they are in the quarantine table, the rest were stored and the "
                "source moves on."
            )
            log.warning("source=%s quarantined=%d reason=%s", self.name, report.quarantined, reason)
            self.notify(message)

    def _tell_notices(self, report: PollReport) -> None:
        """An informational source's new entries (a status page), oldest first, as notices."""
        for post in report.notices:
            text = truncate_plain(post.text, 400)
            self.notify(f"Status update from {self.name}: {text} {post.url}")

    def _tell_budget(self) -> None:
        """A monthly read cap or money budget 80% spent, and searches first held back by the
        money: tell the team once a month each, before the budget pauses the source (the pause
        itself is a `QuotaExhausted` failure, told at once)."""
        self._tell_spend()
        budget = getattr(self.connector, "budget", None)
        if not isinstance(budget, ReadBudget) or budget.cap is None or budget.reads is None:
            return
        reads, cap = budget.reads, budget.cap
        if reads.count < BUDGET_WARNING * cap or not self._budget_untold(reads.month, "080"):
            return
        renews = next_month(self.clock.now())
        self.notify(
            f"Source {self.name} has read {reads.count:,} of its {cap:,} posts this month "
            f"({100 * reads.count / cap:.0f}%): at the cap, reading stops until "
            f"{renews:%Y-%m-%d}. To do: raise the plan and monthly_read_cap if the rest of the "
            "month matters, or let it pause."
        )

    def _tell_spend(self) -> None:
        spend = getattr(self.connector, "spend", None)
        if not isinstance(spend, SpendBudget) or spend.budget is None or spend.spend is None:
            return
        month, spent, budget = spend.spend.month, spend.spent(), spend.budget
        renews = f"{next_month(self.clock.now()):%Y-%m-%d}"
        if spent >= BUDGET_WARNING * budget and self._budget_untold(month, "080"):
            self.notify(
                f"Source {self.name} has spent {money(spent)} of its X budget of "
                f"{money(budget)} this month ({100 * spent / budget:.0f}%): searches stop first, "
                f"then mentions, until {renews}. To do: raise monthly_budget if the rest of the "
                "month matters, or let it pause."
            )
        if spend.searches_held and self._budget_untold(month, "100"):
            self.notify(
                f"Source {self.name} has spent its X budget for the month so far ({money(spent)} "
                f"of {money(budget)}): searches wait for it to accrue, mentions go on. To do: "
                "raise monthly_budget, or narrow the searches."
            )

    def _budget_untold(self, month: str, level: str) -> bool:
        """True once per month and level: records it told (as ``YYYY-MM:080+100``)."""
        told_month, _, levels = (self._told_budget or "").partition(":")
        told = set(levels.split("+")) if told_month == month else set()
        if level in told:
            return False
        self._told_budget = f"{month}:{'+'.join(sorted(told | {level}))}"
        return True

    # -- failures and recovery -------------------------------------------------------------

    def _stand_by(self) -> None:
        if not self.standby:
            holder = self.leases.owner(self.name, self.clock.now()) or "another replica"
            log.info("source=%s is polled by %s; standing by", self.name, holder)
        self.standby = True
        self._taken_over = False  # the holder's word is the latest until this one polls again
        self._failing_since = None
        self.health.reset()

    def _failed(self, err: Exception, failure: Failure) -> None:
        if failure.unexpected:
            log.exception("source=%s unexpected error", self.name)
        self._tally.failed += 1
        failures = self.health.failures + 1
        delay = failure.pause
        if delay is None:
            delay = backoff(failures, self.backoff_base, self.backoff_cap)
        delay = max(0.0, delay)
        self._resume_at = self.clock.monotonic() + delay
        self.paused_until = self.clock.now() + timedelta(seconds=delay)
        if self._failing_since is None:
            self._failing_since = self.clock.monotonic()
        self._waiting_on_database = isinstance(err, StorageUnavailable)
        message = str(err)

        def logged(outage: Outage) -> str:
            return f"source={self.name} {outage.state}: {message}; next try in {delay:.0f}s"

        self.health.fail(failure.state, message, logged, quiet=failure.unexpected)
        self._tell_failure(failure, message)
        self._record()

    def _tell_failure(self, failure: Failure, message: str) -> None:
        """One notice per outage, when a person is needed at once or the source has failed
        long enough; another only when it turns into a different failure that needs a person."""
        if self._told is not None and not (failure.notify and failure.state != self._told):
            return
        failures = self.health.failures
        lasted = self.clock.monotonic() - (self._failing_since or self.clock.monotonic())
        due = (
            failure.notify
            or failures >= self.notify_after_failures
            or lasted >= self.notify_after.total_seconds()
        )
        if not due:
            return
        self._told = failure.state
        how_long = (
            f" after {failures} failed polls in {lasted / 60:.0f} min" if failures > 1 else ""
        )
        when = f"{self.paused_until:%Y-%m-%d %H:%M} UTC" if self.paused_until else "soon"
        self.notify(
            f"Source {self.name} is paused ({failure.state}){how_long}: {message}. "
            f"Next try {when}. To do: {failure.advice}"
        )

    def _recovered(self) -> None:
        if self.standby:
            self.standby = False
            log.info("source=%s taken over by %s", self.name, self.owner)
        self.paused_until = None
        self._resume_at = None
        self._failing_since = None
        self._waiting_on_database = False

        def logged(outage: Outage) -> str:
            return (
                f"source={self.name} recovered after {outage.failures} failed polls "
                f"(was {outage.state})"
            )

        if self.health.recover(logged) is not None or self._told is not None:
            self._ok_since = self.clock.now()
        if self._told is not None:
            self._told = None
            self.notify(f"Source {self.name} is polling again.")

    # -- the state in the database ---------------------------------------------------------

    def _take_over(self) -> None:
        """On the first poll this runner makes (at start-up, or after another replica held the
        source): pick up what was recorded, so a restart neither repeats a notice nor forgets
        to say the source recovered."""
        if self._taken_over or self.status is None:
            return
        try:
            recorded = self.status.get(self.name)
        except Exception as err:  # the poll finds out about the database by itself
            self._status_failed(err)
            return
        self._taken_over = True
        if recorded is None:
            return
        with contextlib.suppress(ValueError):  # a state this version does not know
            self._told = SourceState(recorded.told) if recorded.told else None
        self._told_budget = recorded.told_budget
        self._last_success_at = recorded.last_success_at
        self._last_post_at = recorded.last_post_at
        if recorded.state == SourceState.OK:
            self._ok_since = recorded.since

    def _record(self) -> None:
        """Write the state for `status`; a database that refuses is logged, never raised: the
        poll already succeeded or failed on its own."""
        if self.status is None or self.standby:
            return
        outage = self.health.outage
        status = SourceStatus(
            source=self.name,
            platform=self.connector.kind,
            state=self.state.value,
            since=outage.since if outage is not None else self._ok_since,
            updated_by=self.owner,
            reason=outage.error if outage is not None else None,
            paused_until=self.paused_until,
            last_poll_at=self._last_poll_at,
            last_success_at=self._last_success_at,
            last_post_at=self._last_post_at,
            consecutive_failures=self.health.failures,
            told=self._told.value if self._told is not None else None,
            told_budget=self._told_budget,
        )
        try:
            self.status.record(status, self.clock.now())
        except Exception as err:
            self._status_failed(err)
            return
        self.status_health.recover(
            lambda outage: (
                f"source={self.name} status is recorded again after {outage.failures} failures"
            )
        )

    def _status_failed(self, err: Exception) -> None:
        if not isinstance(err, StorageUnavailable) and self.status_health.healthy:
            log.warning("source=%s status not recorded", self.name, exc_info=True)  # a bug
        self.status_health.fail(
            "unrecorded",
            str(err),
            lambda outage: (
                f"source={self.name} status not recorded ({outage.error}); polling carries on"
            ),
        )
