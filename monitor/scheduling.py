"""The daemon's scheduler: APScheduler 3 with one lane per kind of work, and a clock-step guard.

Three lanes (executors), so one kind of work never waits for another:

- **polls**: one job per source (`add_poll`), in a pool sized from the number of sources (capped;
  ``[daemon] poll_workers`` overrides it). A poll mostly waits on its platform, so a worker per
  source is cheap, and a slow platform holds only its own worker.
- **delivery**: the delivery round (`add_delivery`) has a worker of its own: however many polls
  wait on slow platforms, alerts go out.
- **maintenance**: everything else (`add_job`: retention, learning, Slack's escalation and
  digest, a heartbeat...), one worker per job, so a long training never delays another job.

Every job runs one instance at a time. A poll that is due while the previous one still runs is
skipped; that is said per source when it starts, at most once a minute while it lasts (with the
count) and when polls run on time again; a source whose polls keep taking longer than its
interval says so once, with its measured duration, and again when it is back within it.

**Clock steps.** APScheduler 3 keeps each job's next run as a wall-clock time and waits on a
monotonic timer: after the wall clock is set back an hour (NTP, ``date -s``), nothing is due for
an hour; set forward, every job is due at once and a daily one is "missed". `ClockStepGuard`
compares wall-clock and monotonic time every second; on a step beyond a tolerance it moves every
job's next run by the step (an interval job never further than one interval from now), which
wakes the scheduler, and logs the step once. Cron jobs (the digest at 09:00) mean wall-clock time
and are left alone. Stored times (the outbox's `next_attempt_at`) stay wall-clock; waits kept in
memory use `Clock.monotonic` (`monitor.clock`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.clock import Clock, SystemClock
from monitor.health import Health, Outage

log = logging.getLogger(__name__)

POLLS = "polls"
DELIVERY = "delivery"
MAINTENANCE = "default"
"""APScheduler's default executor is the maintenance lane: a job added without naming a lane
(``add_job``, or a plain APScheduler ``add_job``) is maintenance."""

POLL_WORKERS_CAP = 32
"""Default poll pool: one worker per source up to this. Enough for 50 sources that each take
2 s every 5 s (20 busy on average); more threads mostly add database connections waiting."""
DELIVERY_WORKERS = 1
"""Delivery rounds are serial by design (one instance at a time): one worker, never shared."""
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
"""One run at a time per job; runs missed while the machine was busy collapse into one."""

STEP_TOLERANCE_SECONDS = 2.0
"""A wall-clock jump larger than this in one tick is a step. NTP slews small offsets at under
a millisecond a second; both clocks are read together, so a loaded machine adds no drift."""
GUARD_TICK_SECONDS = 1.0

SLOW_POLLS = 3
"""Polls in a row over (or back within) the interval before a source's pace is said to change:
one slow answer from a platform is not news."""
SKIP_REMINDER_SECONDS = 60.0
ON_TIME_POLLS = 3
"""Polls started in a row without a skip before skipping is said to be over."""


def poll_workers(sources: int, configured: int | None = None) -> int:
    """The poll pool's size: `configured` (``[daemon] poll_workers``) or one per source, capped."""
    if configured is not None:
        return configured
    return max(1, min(sources, POLL_WORKERS_CAP))


def poll_job_id(source: str) -> str:
    return f"poll:{source}"


class _SkipWarningFilter(logging.Filter):
    """Drops APScheduler's own line for each skipped run: `Scheduler` reports skipped polls per
    source on change, with a count (at 50 sources, one line per skip was 670 lines a minute)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in str(record.msg)


_SKIP_WARNING_FILTER = _SkipWarningFilter()


class ClockStepGuard:
    """Says by how much the wall clock stepped since the last `check` (None: it did not).

    Elapsed wall-clock time minus elapsed monotonic time: zero while time just passes, the step
    when the wall clock is set. Checked each tick, so a slow drift never adds up to a "step".
    Linux's monotonic clock stops while the machine sleeps: a resume reads as a step forward,
    and jobs keep the wait they had left, which is what a step means for them too.
    """

    def __init__(self, clock: Clock, tolerance: float = STEP_TOLERANCE_SECONDS) -> None:
        self.clock = clock
        self.tolerance = tolerance
        self._wall, self._monotonic = self._read()

    def check(self) -> float | None:
        wall, monotonic = self._read()
        step = (wall - self._wall) - (monotonic - self._monotonic)
        self._wall, self._monotonic = wall, monotonic
        return step if abs(step) > self.tolerance else None

    def _read(self) -> tuple[float, float]:
        return self.clock.now().timestamp(), self.clock.monotonic()


@dataclass
class _Pace:
    """One source's polls: skipped runs and how long polls take against the interval."""

    source: str
    interval: float
    skips: Health
    slowness: Health
    on_time: int = 0
    """Polls started since the last skip."""
    recent: list[float] = field(default_factory=list)
    """The last `SLOW_POLLS` durations, seconds."""


class Scheduler:
    """The daemon's APScheduler, lanes and guard included (see the module docstring)."""

    def __init__(
        self,
        *,
        poll_workers: int,
        clock: Clock | None = None,
        step_tolerance: float = STEP_TOLERANCE_SECONDS,
        guard_tick: float = GUARD_TICK_SECONDS,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        """What the guard and the pace messages read. APScheduler itself reads the system
        clock, so in production this is the system clock too."""
        self.poll_workers = poll_workers
        self._step_tolerance = step_tolerance
        self.guard = ClockStepGuard(self.clock, step_tolerance)
        self._guard_tick = guard_tick
        self._stopping = threading.Event()
        self._guard_thread: threading.Thread | None = None
        self._paces: dict[str, _Pace] = {}
        self._lock = threading.Lock()
        self._in_flight = 0
        self._idle = threading.Condition()
        logging.getLogger("apscheduler.scheduler").addFilter(_SKIP_WARNING_FILTER)
        self._scheduler = BackgroundScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        self._scheduler.add_listener(
            self._job_event,
            EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_SUBMITTED,
        )

    # -- adding jobs -------------------------------------------------------------------------

    def add_poll(
        self,
        source: str,
        poll: Callable[[], object],
        *,
        interval: float,
        jitter: float | None = None,
        first_run_in: float | None = 0.0,
    ) -> None:
        """Poll `source` every `interval` seconds (plus up to `jitter`), first at once."""
        pace = _Pace(
            source,
            interval,
            skips=Health(
                f"source={source} polls", log, self.clock, remind_seconds=SKIP_REMINDER_SECONDS
            ),
            slowness=Health(f"source={source} pace", log, self.clock),
        )
        self._paces[poll_job_id(source)] = pace

        def timed_poll() -> None:
            started = self.clock.monotonic()
            try:
                poll()
            finally:
                self._poll_finished(pace, self.clock.monotonic() - started)

        self._add(
            timed_poll,
            IntervalTrigger(seconds=interval, jitter=jitter or None, timezone=UTC),
            job_id=poll_job_id(source),
            executor=POLLS,
            first_run_in=first_run_in,
        )

    def add_delivery(
        self, deliver: Callable[[], object], *, interval: float, first_run_in: float | None = 0.0
    ) -> None:
        """The delivery round, every `interval` seconds and whenever `run_soon("deliver")`."""
        self._add(
            deliver,
            IntervalTrigger(seconds=interval, timezone=UTC),
            job_id="deliver",
            executor=DELIVERY,
            first_run_in=first_run_in,
        )

    def add_job(
        self,
        func: Callable[[], object],
        trigger: str | Any = "interval",
        *,
        id: str,
        executor: str = MAINTENANCE,
        first_run_in: float | None = None,
        misfire_grace_time: int | None = None,
        **trigger_args: Any,
    ) -> None:
        """A maintenance job in one line, APScheduler's way: ``add_job(self.beat, id="heartbeat",
        seconds=10, first_run_in=0)``. `trigger` is "interval" (with `seconds=`, `minutes=`,
        `hours=`), "cron" or a trigger; `first_run_in` seconds from now, default the trigger's
        first time (an interval from now)."""
        self._add(
            func,
            trigger,
            job_id=id,
            executor=executor,
            first_run_in=first_run_in,
            misfire_grace_time=misfire_grace_time,
            **trigger_args,
        )

    def _add(
        self,
        func: Callable[[], object],
        trigger: Any,
        *,
        job_id: str,
        executor: str,
        first_run_in: float | None,
        misfire_grace_time: int | None = None,
        **trigger_args: Any,
    ) -> None:
        options: dict[str, Any] = dict(trigger_args)
        if first_run_in is not None:
            options["next_run_time"] = datetime.now(UTC) + timedelta(seconds=first_run_in)
        if misfire_grace_time is not None:
            options["misfire_grace_time"] = misfire_grace_time
        self._scheduler.add_job(
            self._tracked(func),
            trigger,
            id=job_id,
            name=job_id,
            executor=executor,
            replace_existing=True,
            **options,
        )

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the lanes, the jobs and the guard. The maintenance lane has one worker per
        maintenance job added so far (at least two: a job added later still finds one)."""
        maintenance = sum(1 for job in self._scheduler.get_jobs() if job.executor == MAINTENANCE)
        lanes = {
            POLLS: self.poll_workers,
            DELIVERY: DELIVERY_WORKERS,
            MAINTENANCE: max(2, maintenance),
        }
        for alias, workers in lanes.items():
            pool = ThreadPoolExecutor(workers, pool_kwargs={"thread_name_prefix": alias})
            self._scheduler.add_executor(pool, alias)
        self._scheduler.start()
        self._stopping.clear()
        self.guard = ClockStepGuard(self.clock, self._step_tolerance)  # from now on
        self._guard_thread = threading.Thread(
            target=self._watch_the_clock, name="clock-step-guard", daemon=True
        )
        self._guard_thread.start()
        log.info(
            "scheduler: %d poll worker(s) for %d source(s), %d for delivery, %d for maintenance",
            self.poll_workers,
            len(self._paces),
            DELIVERY_WORKERS,
            lanes[MAINTENANCE],
        )

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling; with `wait`, return once the jobs running now have finished. Runs
        queued for a worker are dropped (a poll that never started loses nothing).

        Never APScheduler's own ``shutdown(wait=True)``: it waits for the running jobs while
        holding the job-store lock, and a poll that asks for a delivery round (`run_soon`)
        waits for that lock: the daemon never stopped, and systemd had to kill it."""
        self._stopping.set()
        if self._guard_thread is not None:
            self._guard_thread.join()
        if not self._scheduler.running:
            return
        self._scheduler.shutdown(wait=False)
        if wait:
            with self._idle:
                self._idle.wait_for(lambda: self._in_flight == 0)

    def _tracked(self, func: Callable[[], object]) -> Callable[[], None]:
        """`func`, counted while it runs (for `shutdown`); a no-op once stopping."""

        def run() -> None:
            with self._idle:
                if self._stopping.is_set():
                    return
                self._in_flight += 1
            try:
                func()
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

        return run

    def run_soon(self, job_id: str, delay: float = 0.0) -> None:
        """Run `job_id` in `delay` seconds instead of at its next time (more to read, alerts to
        send). A job that is running then is skipped: its next regular run does the work."""
        if self._stopping.is_set():
            return
        try:
            self._scheduler.modify_job(
                job_id, next_run_time=datetime.now(UTC) + timedelta(seconds=delay)
            )
        except Exception:  # shutting down, or no such job: the next regular run will do
            log.debug("could not reschedule %s", job_id, exc_info=True)

    def next_run_time(self, job_id: str) -> datetime | None:
        job = self._scheduler.get_job(job_id)
        return None if job is None else job.next_run_time

    def job_ids(self, executor: str | None = None) -> list[str]:
        return [
            job.id
            for job in self._scheduler.get_jobs()
            if executor is None or job.executor == executor
        ]

    # -- the clock-step guard ----------------------------------------------------------------

    def _watch_the_clock(self) -> None:
        while not self._stopping.wait(self._guard_tick):  # a monotonic wait
            step = self.guard.check()
            if step is not None:
                self.clock_stepped(step)

    def clock_stepped(self, step: float) -> None:
        """Move every job's next run by `step` seconds, so each keeps the wait it had left."""
        now = datetime.now(UTC)
        moved = 0
        for job in self._scheduler.get_jobs():
            next_run = _after_step(job.trigger, job.next_run_time, step, now)
            if next_run is None:
                continue
            with suppress(JobLookupError):  # removed meanwhile
                self._scheduler.modify_job(job.id, next_run_time=next_run)  # wakes it up
                moved += 1
        log.warning(
            "the wall clock was set %s by %.0fs (NTP or a manual date change); %d job(s) "
            "moved with it, so none waits for the clock to catch up or runs all at once",
            "back" if step < 0 else "forward",
            abs(step),
            moved,
        )

    # -- skipped and slow polls --------------------------------------------------------------

    def _job_event(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_ERROR:
            assert isinstance(event, JobExecutionEvent)
            log.error("job %s failed: %r", event.job_id, event.exception)
        elif event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run time (the machine was busy or asleep)", event.job_id)
        elif (pace := self._paces.get(event.job_id)) is not None:
            with self._lock:
                if event.code == EVENT_JOB_MAX_INSTANCES:
                    self._poll_skipped(pace)
                else:
                    self._poll_started(pace)
        elif event.code == EVENT_JOB_MAX_INSTANCES:  # a delivery round asked for while one runs
            log.debug("job %s skipped: its previous run has not finished", event.job_id)

    def _poll_skipped(self, pace: _Pace) -> None:
        pace.on_time = 0

        def started(_outage: Outage) -> str:
            return (
                f"source={pace.source} poll skipped: the previous one has not finished (still "
                f"running, or waiting for one of the {self.poll_workers} poll workers); skipped "
                "polls are counted and reported at most once a minute"
            )

        def lasting(outage: Outage) -> str:  # outage.failures: the skips so far
            return (
                f"source={pace.source} {outage.failures} polls skipped in the last "
                f"{outage.seconds(self.clock.now()):.0f}s (interval {pace.interval:g}s)"
            )

        pace.skips.fail("skipping", "previous poll unfinished", started, reminder=lasting)

    def _poll_started(self, pace: _Pace) -> None:
        pace.on_time += 1
        if pace.skips.healthy or pace.on_time < ON_TIME_POLLS:
            return
        pace.skips.recover(
            lambda outage: (
                f"source={pace.source} polls run on time again; {outage.failures} were skipped "
                f"in {outage.seconds(self.clock.now()):.0f}s"
            )
        )

    def _poll_finished(self, pace: _Pace, seconds: float) -> None:
        with self._lock:
            pace.recent = [*pace.recent[-(SLOW_POLLS - 1) :], seconds]
            if len(pace.recent) < SLOW_POLLS:
                return
            average = sum(pace.recent) / len(pace.recent)
            if all(took > pace.interval for took in pace.recent):
                pace.slowness.fail(
                    "slow",
                    "slower than its interval",
                    lambda _outage: (
                        f"source={pace.source} is slower than its interval: its last "
                        f"{SLOW_POLLS} polls took {average:.1f}s on average (longest "
                        f"{max(pace.recent):.1f}s) against an interval of {pace.interval:g}s, "
                        "so it is polled less often than configured; raise interval_seconds "
                        "or find out why the platform answers slowly"
                    ),
                )
            elif all(took <= pace.interval for took in pace.recent):
                pace.slowness.recover(
                    lambda _outage: (
                        f"source={pace.source} is back within its interval: its last "
                        f"{SLOW_POLLS} polls took {average:.1f}s on average "
                        f"(interval {pace.interval:g}s)"
                    )
                )


def _after_step(
    trigger: Any, next_run: datetime | None, step: float, now: datetime
) -> datetime | None:
    """A job's next run after the wall clock stepped by `step`; None: leave it (paused, or a
    cron job, whose times are wall-clock by intent)."""
    if next_run is None or isinstance(trigger, CronTrigger):
        return None
    moved = next_run + timedelta(seconds=step)
    if isinstance(trigger, IntervalTrigger):  # set after the step (run_soon): not moved twice
        latest = now + trigger.interval + timedelta(seconds=trigger.jitter or 0)
        moved = min(moved, latest)
    return moved
