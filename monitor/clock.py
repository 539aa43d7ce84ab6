"""An injectable clock: time-dependent logic takes one so tests never sleep.

Two kinds of time, never mixed: `now()` is wall-clock time, for what is stored or shown (when a
post was written, an alert's `next_attempt_at` shared between replicas); `monotonic()` only ever
moves forward, for how long to wait in memory (a paused source, a rate-limited channel, the
second opinion's retry and budget). An NTP correction or a manual `date -s` steps the wall
clock, sometimes by hours; a wait measured on it would end an hour late (or at once).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps (only differences mean anything): for waits."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to (for tests and benchmarks)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        self._monotonic = 1_000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        """Time passes: both clocks move."""
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds

    def step(self, seconds: float) -> None:
        """The wall clock is set (NTP, `date -s`), by `seconds`, negative for back: the
        monotonic clock does not move."""
        self._now += timedelta(seconds=seconds)
