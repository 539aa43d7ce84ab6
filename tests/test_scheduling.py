"""The daemon's scheduler (`monitor.scheduling`): lanes, skipped and slow polls, clock steps.

Real APScheduler, real threads, intervals of a fraction of a second. A wall-clock step is made
with time-machine, which moves the process's wall clock (`time.time`, `datetime.now`, what
APScheduler reads) and leaves the monotonic clock alone, as NTP or ``date -s`` would: APScheduler
reads the wall clock in its scheduler loop and again in its executors, so no narrower seam makes
the step the same everywhere. The in-memory waits (a paused source, a rate-limited channel) are
covered by tests/test_clock_steps.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Literal

import pytest
import time_machine
from apscheduler.triggers.cron import CronTrigger

from connectors import RegistryEntry, registry
from connectors.base import Connector, CursorState, Fetched, SourceSettings
from monitor.clock import FakeClock
from monitor.config import parse_config
from monitor.daemon import Daemon
from monitor.models import Alert
from monitor.notify import Delivered
from monitor.scheduling import (
    DELIVERY,
    MAINTENANCE,
    POLL_WORKERS_CAP,
    POLLS,
    ClockStepGuard,
    Scheduler,
    poll_job_id,
    poll_workers,
)
from monitor.storage import NewPost
from tests.factories import make_post, make_verdict

HOUR = 3600.0
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
"""Where time-machine starts the wall clock (far from the digest's 09:00)."""
TICK = 0.05
"""The guard's tick in these tests (a second in the daemon)."""


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """True once `condition` holds (polled every 10 ms); the timeout only matters when it fails."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Runs:
    """A job that records when (monotonic) it ran."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self) -> None:
        self.times.append(time.monotonic())

    def count(self) -> int:
        return len(self.times)


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    made = Scheduler(poll_workers=2, guard_tick=TICK)
    yield made
    made.shutdown(wait=False)


def messages(caplog: pytest.LogCaptureFixture, needle: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if needle in r.getMessage()]


# -- clock steps ---------------------------------------------------------------------------------


def test_item_16_after_the_clock_is_set_back_an_hour_a_poll_still_runs_within_its_interval(
    scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    interval = 0.3
    runs = Runs()
    with time_machine.travel(NOON, tick=True) as traveller:
        scheduler.add_poll("x", runs, interval=interval)
        scheduler.start()
        assert wait_until(lambda: runs.count() == 1)

        traveller.shift(timedelta(hours=-1))  # NTP, or `date -s`
        stepped = time.monotonic()
        assert wait_until(lambda: runs.count() >= 3), "the poll waited for the clock to catch up"
    assert runs.times[1] - stepped < interval + 1.0  # its interval, and a busy machine's slack
    assert len(messages(caplog, "wall clock was set back by 3600s")) == 1


def test_item_16_after_the_clock_is_set_forward_a_daily_job_runs_at_its_time_not_missed(
    scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    runs = Runs()
    with time_machine.travel(NOON, tick=True) as traveller:
        scheduler.add_job(runs, id="retention", hours=24, first_run_in=0.5)
        scheduler.start()
        added = time.monotonic()
        traveller.shift(timedelta(hours=1))
        assert wait_until(lambda: runs.count() == 1), "the job was missed (an hour late)"
    assert runs.times[0] - added >= 0.4, "it ran at once instead of at its time"
    assert messages(caplog, "missed its run time") == []
    assert len(messages(caplog, "wall clock was set forward by 3600s")) == 1


def test_a_step_moves_interval_jobs_and_leaves_cron_jobs_at_their_wall_clock_time() -> None:
    scheduler = Scheduler(poll_workers=1, guard_tick=HOUR)  # the test plays the guard
    with time_machine.travel(NOON, tick=True) as traveller:
        scheduler.add_job(Runs(), id="learn", minutes=10, first_run_in=300)
        scheduler.add_job(Runs(), CronTrigger(hour=9, minute=0, timezone=UTC), id="digest")
        scheduler.add_delivery(Runs(), interval=60, first_run_in=30)
        scheduler.start()
        before = {job: scheduler.next_run_time(job) for job in ("learn", "digest", "deliver")}
        traveller.shift(timedelta(hours=1))
        scheduler.run_soon("deliver", delay=30)  # asked for after the step, in stepped time

        scheduler.clock_stepped(HOUR)

        after = {job: scheduler.next_run_time(job) for job in ("learn", "digest", "deliver")}
        now = datetime.now(UTC)
    scheduler.shutdown(wait=False)
    learn, deliver = after["learn"], after["deliver"]
    assert learn is not None and deliver is not None
    assert learn == before["learn"] + timedelta(hours=1)  # 300 s left, as before the step
    assert timedelta(seconds=290) < learn - now <= timedelta(seconds=300)
    assert after["digest"] == before["digest"], "09:00 means 09:00 on the wall clock"
    assert deliver - now <= timedelta(seconds=60), (
        "a run asked for after the step is not moved an hour: at most one interval from now"
    )


def test_the_guard_sees_a_step_not_time_passing_nor_a_slow_drift() -> None:
    clock = FakeClock()
    guard = ClockStepGuard(clock, tolerance=2.0)
    clock.advance(30)
    assert guard.check() is None
    clock.step(-HOUR)
    assert guard.check() == -HOUR
    assert guard.check() is None, "a step is said once"
    for _ in range(10):  # NTP slewing a second over ten ticks: never a step
        clock.advance(1)
        clock.step(0.1)
        assert guard.check() is None
    clock.step(5)
    assert guard.check() == 5


# -- lanes ---------------------------------------------------------------------------------------


def test_polls_blocked_on_a_slow_platform_do_not_delay_delivery(scheduler: Scheduler) -> None:
    platform_answers = threading.Event()
    for name in ("a", "b", "c", "d"):  # more than the two poll workers: all of them blocked
        scheduler.add_poll(name, platform_answers.wait, interval=0.1)
    deliveries = Runs()
    scheduler.add_delivery(deliveries, interval=0.1)
    scheduler.start()
    try:
        assert wait_until(lambda: deliveries.count() >= 5), "delivery waited for the polls"
    finally:
        platform_answers.set()


def test_maintenance_jobs_do_not_wait_for_each_other(scheduler: Scheduler) -> None:
    training = threading.Event()
    beats = Runs()
    scheduler.add_job(training.wait, id="learn", seconds=0.1, first_run_in=0)
    scheduler.add_job(training.wait, id="retention", seconds=0.1, first_run_in=0)
    scheduler.add_job(beats, id="heartbeat", seconds=0.1, first_run_in=0)
    scheduler.start()
    try:
        assert wait_until(lambda: beats.count() >= 3), "the heartbeat waited for a training"
    finally:
        training.set()


def test_each_job_runs_in_its_lane(scheduler: Scheduler) -> None:
    scheduler.add_poll("x", Runs(), interval=5)
    scheduler.add_delivery(Runs(), interval=2)
    scheduler.add_job(Runs(), id="learn", minutes=60)
    assert scheduler.job_ids(POLLS) == [poll_job_id("x")]
    assert scheduler.job_ids(DELIVERY) == ["deliver"]
    assert scheduler.job_ids(MAINTENANCE) == ["learn"]


def test_the_poll_pool_is_one_worker_per_source_capped_or_the_setting() -> None:
    assert poll_workers(3) == 3
    assert poll_workers(0) == 1
    assert poll_workers(500) == POLL_WORKERS_CAP
    assert poll_workers(500, configured=64) == 64
    config = parse_config(
        {
            "daemon": {"poll_workers": 4},
            "brand": {"name": "Acme"},
            "sources": [{"type": "jsonl", "path": "feed.jsonl"}],
        },
        env={},
    )
    assert config.daemon.poll_workers == 4


def test_stopping_does_not_hang_when_a_poll_asks_for_delivery_as_it_ends(
    scheduler: Scheduler,
) -> None:
    """APScheduler's shutdown(wait=True) waits for running jobs holding the lock that a job's
    `run_soon` needs: the daemon never stopped (systemd had to kill it)."""
    platform_answers = threading.Event()
    started = threading.Event()

    def poll() -> None:
        started.set()
        platform_answers.wait()
        scheduler.run_soon("deliver")  # the poll stored alerts

    scheduler.add_poll("x", poll, interval=5)
    scheduler.add_delivery(Runs(), interval=5)
    scheduler.start()
    assert started.wait(2)
    stopper = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
    stopper.start()
    time.sleep(0.1)
    assert stopper.is_alive(), "shutdown waits for the poll in flight"
    platform_answers.set()
    stopper.join(2)
    assert not stopper.is_alive(), "shutdown deadlocked with the poll's run_soon"


# -- skipped and slow polls ----------------------------------------------------------------------


def test_skipped_polls_are_said_once_then_counted_then_said_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()  # the log's minute; the scheduler runs in real time
    scheduler = Scheduler(poll_workers=1, clock=clock, guard_tick=TICK)
    platform_answers = threading.Event()
    scheduler.add_poll("slowpoke", platform_answers.wait, interval=0.05)
    caplog.set_level(logging.INFO, logger="monitor.scheduling")
    scheduler.start()
    try:
        assert wait_until(lambda: bool(messages(caplog, "source=slowpoke poll skipped")))
        time.sleep(0.3)  # about six more runs due while the first one waits
        skipped = messages(caplog, "source=slowpoke poll skipped")
        assert len(skipped) == 1, "one line when skipping starts, not one per skip"
        assert "the previous one has not finished" in skipped[0]

        clock.advance(61)  # a minute later the count is said, once
        assert wait_until(lambda: bool(messages(caplog, "polls skipped in the last 61s")))
        assert len(messages(caplog, "polls skipped in the last")) == 1

        platform_answers.set()
        assert wait_until(lambda: bool(messages(caplog, "source=slowpoke polls run on time")))
        over = messages(caplog, "polls run on time again")[0]
        assert int(over.split("; ")[1].split()[0]) >= 3, over  # "...; N were skipped in ..."
    finally:
        platform_answers.set()
        scheduler.shutdown(wait=False)
    assert len(messages(caplog, "source=slowpoke poll skipped")) == 1
    assert not messages(caplog, "maximum number of running instances"), (
        "APScheduler's own line per skip is left out"
    )


def test_a_source_slower_than_its_interval_says_so_once_and_when_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    scheduler = Scheduler(poll_workers=1, clock=clock, guard_tick=TICK)
    platform_seconds = [0.4]  # what the platform takes, on the fake clock (interval 0.1)

    def poll() -> None:
        clock.advance(platform_seconds[0])

    scheduler.add_poll("sluggish", poll, interval=0.1)
    caplog.set_level(logging.INFO, logger="monitor.scheduling")
    scheduler.start()
    try:
        assert wait_until(lambda: bool(messages(caplog, "slower than its interval")))
        time.sleep(0.5)  # several more slow polls
        slow = messages(caplog, "source=sluggish is slower than its interval")
        assert len(slow) == 1, slow
        assert "took 0.4s on average" in slow[0] and "interval of 0.1s" in slow[0]

        platform_seconds[0] = 0.02
        assert wait_until(lambda: bool(messages(caplog, "source=sluggish is back within")))
    finally:
        scheduler.shutdown(wait=False)
    assert "interval 0.1s" in messages(caplog, "is back within its interval")[0]


# -- through the daemon --------------------------------------------------------------------------


class BlockedSettings(SourceSettings):
    type: Literal["blocked"]


@dataclass(frozen=True, slots=True)
class BlockedCursor(CursorState):
    pass


class BlockedPlatform(Connector[BlockedSettings, BlockedCursor]):
    """A platform that does not answer until the test says so."""

    kind: ClassVar[str] = "blocked"
    settings_class = BlockedSettings
    cursor_class = BlockedCursor
    answers = threading.Event()

    def fetch(self, cursor: BlockedCursor | None) -> Fetched[BlockedCursor]:
        self.answers.wait(5)
        return Fetched([], BlockedCursor())


class Recorder:
    """A notifier that records what it was given."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    def send(self, alert: Alert, now: datetime) -> Delivered:
        self.sent.append(alert.alert_id)
        return Delivered("test", str(len(self.sent)))

    def send_minimal(self, alert: Alert, now: datetime) -> Delivered:
        return self.send(alert, now)

    def find_existing(self, alert_id: int, channel: str | None, since: datetime) -> None:
        return None

    def notify(self, text: str) -> None:
        pass

    def check(self) -> str:
        return "recorder"

    def close(self) -> None:
        pass


def test_the_daemon_delivers_while_every_poll_waits_on_its_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(registry(), "blocked", RegistryEntry("blocked", BlockedPlatform))
    BlockedPlatform.answers.clear()
    config = parse_config(
        {
            "daemon": {
                "state_dir": str(tmp_path),
                "poll_workers": 1,
                "deliver_interval_seconds": 0.2,
            },
            "brand": {"name": "Acme"},
            "sources": [
                {"type": "blocked", "name": f"blocked{n}", "interval_seconds": 1} for n in range(3)
            ],
        },
        env={},
    )
    notifier = Recorder()
    daemon = Daemon(config, notifier=notifier)
    daemon.prepare()
    post = make_post(created_at=datetime.now(UTC))
    daemon.storage.posts.store_poll(
        source="earlier",
        platform="x",
        new_posts=[NewPost(post, make_verdict(), False, 20)],
        cursor={},
        now=datetime.now(UTC),
    )
    caplog.set_level(logging.INFO, logger="monitor.scheduling")
    stop = threading.Event()
    running = threading.Thread(target=daemon.run_forever, args=(stop,), daemon=True)
    running.start()
    try:
        assert wait_until(lambda: len(notifier.sent) == 1), "the alert waited for the polls"
        assert messages(caplog, "1 poll worker(s) for 3 source(s)")
    finally:
        BlockedPlatform.answers.set()
        stop.set()
        running.join(10)
        daemon.close()
    assert not running.is_alive()
