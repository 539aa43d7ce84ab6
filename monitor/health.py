"""How a thing that can fail is doing, and the one place that says so (a leaf).

Home Assistant's update coordinator is the model: every loop that talks to something outside
(a source, the database, the LLM endpoint, Slack's Socket Mode) keeps a `Health`. It logs when
the thing starts failing, when the failure changes, at most once per `remind_seconds` while it
lasts, and once when it works again ("recovered after ..."), never at every failure. `backoff`
is the one formula for "wait longer after each failure", and `Throttle` says a repeated message
at most once a minute.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from monitor.clock import Clock

OK = "ok"


def backoff(failures: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after `failures` failures in a row: base, 2 base, 4 base... up to `cap`.

    With `rng`, a random half to full step (jitter), so replicas and alerts don't retry in step.
    """
    step: float = min(cap, base * 2.0 ** max(0, failures - 1))
    return step * rng.uniform(0.5, 1.0) if rng is not None else step


class Throttle:
    """Allows a message once per `interval` seconds per key (an error repeated every second
    must not flood the journal, but must keep being said).

    Time is monotonic (`time.monotonic`, or the `monotonic` a caller passes, e.g. its
    `Clock.monotonic`): a wall-clock step back must not silence a message for an hour."""

    def __init__(
        self, interval: float = 60.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self.monotonic = monotonic
        self._last: dict[str, float] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        """`now`, when given, is on the same monotonic scale (never a wall-clock timestamp)."""
        now = self.monotonic() if now is None else now
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        self._last[key] = now
        return True

    def reset(self) -> None:
        self._last.clear()


@dataclass
class Outage:
    """A failure that has lasted since `since`; what the caller counts while it lasts."""

    since: datetime
    state: str
    error: str
    failures: int = 1
    count: int = 0
    """Whatever the caller counts meanwhile (posts that kept the scorer's verdict, ...)."""

    def seconds(self, now: datetime) -> float:
        return (now - self.since).total_seconds()


Message = Callable[[Outage], str]
"""Builds a log line from the outage, so each caller keeps its own wording."""


class Health:
    """The health of one thing, logged on change: see the module docstring."""

    def __init__(
        self,
        subject: str,
        logger: logging.Logger,
        clock: Clock,
        *,
        remind_seconds: float | None = None,
    ) -> None:
        self.subject = subject
        self.log = logger
        self.clock = clock
        self.outage: Outage | None = None
        self._reminders = Throttle(remind_seconds, clock.monotonic) if remind_seconds else None

    @property
    def healthy(self) -> bool:
        return self.outage is None

    @property
    def state(self) -> str:
        return self.outage.state if self.outage is not None else OK

    @property
    def failures(self) -> int:
        return self.outage.failures if self.outage is not None else 0

    def fail(
        self,
        state: str,
        error: str,
        message: Message | None = None,
        *,
        reminder: Message | None = None,
        level: int = logging.WARNING,
        quiet: bool = False,
    ) -> bool:
        """Record a failure. Logs `message` when it starts or its state or error changes, and
        `reminder` (when given) at most once per `remind_seconds` while it lasts. True when this
        failure was news (it started or changed): the caller may tell people, once."""
        now = self.clock.now()
        outage = self.outage
        if outage is None:
            outage = self.outage = Outage(since=now, state=state, error=error)
            changed = True
        else:
            outage.failures += 1
            changed = (state, error) != (outage.state, outage.error)
            outage.state, outage.error = state, error
        stamp = self.clock.monotonic()
        if self._reminders is not None and changed:
            self._reminders.reset()
            self._reminders.allow(self.subject, stamp)
        if quiet:
            return changed
        if changed:
            self.log.log(level, "%s", (message or _default_failure)(outage))
        elif (
            reminder is not None and self._reminders and self._reminders.allow(self.subject, stamp)
        ):
            self.log.log(level, "%s", reminder(outage))
        return changed

    def recover(
        self, message: Message | None = None, *, level: int = logging.INFO
    ) -> Outage | None:
        """Record a success; the outage that ended (logged with `message`), or None if none."""
        outage, self.outage = self.outage, None
        if outage is None:
            return None
        self.log.log(level, "%s", (message or self._default_recovery)(outage))
        return outage

    def reset(self) -> None:
        """Forget an outage without a word (the thing is now someone else's to watch)."""
        self.outage = None

    def _remind_now(self, stamp: float) -> bool:
        return self._reminders is not None and self._reminders.allow(self.subject, stamp)

    def _default_recovery(self, outage: Outage) -> str:
        return (
            f"{self.subject} recovered after {outage.failures} failures in "
            f"{outage.seconds(self.clock.now()):.0f}s (was {outage.state})"
        )


def _default_failure(outage: Outage) -> str:
    return f"{outage.state}: {outage.error}"
