"""Runs one source's polls and sorts its failures, in one place (Home Assistant's coordinator).

Every failure goes through one table, `KNOWN_FAILURES`: transient (rate limit, 5xx, timeout,
database away) backs off until the platform's reset time or exponentially; a refused credential
or a bad setting pauses the source and tells the team once; a spent quota pauses it until the
quota renews and tells the team; anything unexpected logs its traceback and backs off.
`monitor.health.Health` logs when a source's state changes, not at every failure, and says when
it recovered.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

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

log = logging.getLogger(__name__)

AUTH_RETRY = timedelta(minutes=15)
"""A refused credential is retried this often, so a fixed secret takes effect without a restart."""


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
    """Post a notice: a person must act (renew a token, raise a plan)."""
    unexpected: bool = False
    """A bug or a library surprise: log the traceback."""


def _retry_after(err: Exception) -> float | None:
    return err.retry_after if isinstance(err, TransientError) else None


def _transient(err: Exception) -> Failure:
    retry_after = _retry_after(err)
    state = SourceState.RATE_LIMITED if retry_after else SourceState.FAILING
    return Failure(state, retry_after)


def _needs_a_person(err: Exception) -> Failure:
    return Failure(SourceState.AUTH_FAILED, AUTH_RETRY.total_seconds(), notify=True)


KNOWN_FAILURES: tuple[tuple[type[Exception], Callable[[Exception], Failure]], ...] = (
    (QuotaExhausted, lambda err: Failure(SourceState.QUOTA_EXHAUSTED, _retry_after(err), True)),
    (AuthError, _needs_a_person),
    (ConfigError, _needs_a_person),
    (TransientError, _transient),
)
"""The ladder, most specific first; anything else is `unexpected`."""


def classify_failure(err: Exception) -> Failure:
    for kind, sort in KNOWN_FAILURES:
        if isinstance(err, kind):
            return sort(err)
    return Failure(SourceState.FAILING, None, unexpected=True)


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
        self.health = Health(f"source={connector.name}", log, clock)
        self.standby = False
        self.paused_until: datetime | None = None
        """Wall-clock time the pause ends, as it was when the pause began (for people to read);
        the wait itself is measured on the monotonic clock (`_resume_at`), so a wall-clock step
        neither lengthens nor shortens it."""
        self._resume_at: float | None = None
        self._quarantine_told: set[str] = set()

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
        if self._resume_at is not None and self.clock.monotonic() < self._resume_at:
            return None
        now = self.clock.now()
        try:
            if not self.leases.acquire(self.name, self.owner, now, self.lease):
                self._stand_by()
                return None
            report = self.pipeline.poll(self.connector)
        except Exception as err:
            self._failed(err, classify_failure(err))
            return None
        self._recovered()
        log.info("poll %s", report.summary())
        self._tell_quarantined(report)
        return report

    def release(self) -> None:
        """Hand the source to another replica at once (at shutdown)."""
        with contextlib.suppress(StorageUnavailable):  # else it expires within one lease period
            self.leases.release(self.name, self.owner)

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

    def _stand_by(self) -> None:
        if not self.standby:
            holder = self.leases.owner(self.name, self.clock.now()) or "another replica"
            log.info("source=%s is polled by %s; standing by", self.name, holder)
        self.standby = True
        self.health.reset()

    def _failed(self, err: Exception, failure: Failure) -> None:
        if failure.unexpected:
            log.exception("source=%s unexpected error", self.name)
        failures = self.health.failures + 1
        delay = failure.pause
        if delay is None:
            delay = backoff(failures, self.backoff_base, self.backoff_cap)
        delay = max(0.0, delay)
        self._resume_at = self.clock.monotonic() + delay
        self.paused_until = self.clock.now() + timedelta(seconds=delay)
        what = "database" if isinstance(err, StorageUnavailable) else "source"
        message = str(err)

        def logged(outage: Outage) -> str:
            return f"{what}={self.name} {outage.state}: {message}; next try in {delay:.0f}s"

        changed = self.health.fail(failure.state, message, logged, quiet=failure.unexpected)
        if changed and failure.notify:
            self.notify(f"Source {self.name} is paused ({failure.state}): {message}")

    def _recovered(self) -> None:
        if self.standby:
            self.standby = False
            log.info("source=%s taken over by %s", self.name, self.owner)
        self.paused_until = None
        self._resume_at = None
        state = self.health.state

        def logged(outage: Outage) -> str:
            return (
                f"source={self.name} recovered after {outage.failures} failed polls "
                f"(was {outage.state})"
            )

        if self.health.recover(logged) is not None and state in (
            SourceState.AUTH_FAILED,
            SourceState.QUOTA_EXHAUSTED,
        ):
            self.notify(f"Source {self.name} is polling again.")
