"""One place that polls a source and sorts its failures (Home Assistant's update coordinator).

transient (rate limit, 5xx, timeout, database away): back off until the platform's reset time or
exponentially; authentication: pause for a while, tell the team once; quota spent: pause until
the quota renews, tell the team; anything unexpected: log the traceback, back off.
It logs when a source's state changes, not at every failure, and says when it recovered.
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
from monitor.pipeline import Pipeline, PollReport
from monitor.storage import Repository

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


@dataclass
class SourceStatus:
    state: SourceState = SourceState.OK
    failures: int = 0
    paused_until: datetime | None = None
    last_error: str | None = None


class SourceRunner:
    def __init__(
        self,
        connector: Connector[Any],
        pipeline: Pipeline,
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
        self.repository: Repository = pipeline.repository
        self.clock = clock
        self.notify = notify
        self.owner = owner
        self.lease = lease
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.status = SourceStatus()

    @property
    def name(self) -> str:
        return self.connector.name

    def poll(self) -> PollReport | None:
        """Poll unless paused. Never raises: every failure is sorted and recorded here."""
        now = self.clock.now()
        if self.status.paused_until and now < self.status.paused_until:
            return None
        try:
            if not self.repository.acquire_lease(self.name, self.owner, now, self.lease):
                self._standby()
                return None
            report = self.pipeline.poll(self.connector)
        except QuotaExhausted as err:
            self._pause(SourceState.QUOTA_EXHAUSTED, err, err.retry_after, notify=True)
        except AuthError as err:
            self._pause(SourceState.AUTH_FAILED, err, AUTH_RETRY.total_seconds(), notify=True)
        except ConfigError as err:
            self._pause(SourceState.AUTH_FAILED, err, AUTH_RETRY.total_seconds(), notify=True)
        except TransientError as err:
            state = SourceState.RATE_LIMITED if err.retry_after else SourceState.FAILING
            self._pause(state, err, err.retry_after or self._backoff())
        except Exception as err:  # a bug or a library surprise: keep the daemon alive
            log.exception("source=%s unexpected error", self.name)
            self._pause(SourceState.FAILING, err, self._backoff(), quiet=True)
        else:
            self._recovered()
            log.info("poll %s", report.summary())
            return report
        return None

    @property
    def healthy(self) -> bool:
        return self.status.state in (SourceState.OK, SourceState.STANDBY)

    def release(self) -> None:
        """Hand the source to another replica at once (at shutdown)."""
        with contextlib.suppress(StorageUnavailable):  # else it expires within one lease period
            self.repository.release_lease(self.name, self.owner)

    def _standby(self) -> None:
        if self.status.state is not SourceState.STANDBY:
            holder = self.repository.lease_owner(self.name, self.clock.now()) or "another replica"
            log.info("source=%s is polled by %s; standing by", self.name, holder)
        self.status = SourceStatus(state=SourceState.STANDBY)

    def _backoff(self) -> float:
        step: float = self.backoff_base * 2.0 ** max(0, self.status.failures - 1)
        return min(self.backoff_cap, step)

    def _pause(
        self,
        state: SourceState,
        err: Exception,
        seconds: float | None,
        *,
        notify: bool = False,
        quiet: bool = False,
    ) -> None:
        status = self.status
        status.failures += 1
        delay = seconds if seconds is not None else self._backoff()
        status.paused_until = self.clock.now() + timedelta(seconds=max(0.0, delay))
        message = str(err)
        changed = state != status.state or message != status.last_error
        status.state, status.last_error = state, message
        if changed and not quiet:
            what = "database" if isinstance(err, StorageUnavailable) else "source"
            log.warning(
                "%s=%s %s: %s; next try in %.0fs",
                what,
                self.name,
                state.value,
                message,
                delay,
            )
            if notify:
                self.notify(f"Source {self.name} is paused ({state.value}): {message}")

    def _recovered(self) -> None:
        status = self.status
        if status.state is SourceState.STANDBY:
            log.info("source=%s taken over by %s", self.name, self.owner)
        elif status.state is not SourceState.OK:
            log.info(
                "source=%s recovered after %d failed polls (was %s)",
                self.name,
                status.failures,
                status.state.value,
            )
            if status.state in (SourceState.AUTH_FAILED, SourceState.QUOTA_EXHAUSTED):
                self.notify(f"Source {self.name} is polling again.")
        self.status = SourceStatus()
