"""Silence is not "no complaints": a source quiet for longer than its own rhythm allows is told
about once, and once more when it speaks again. Synthetic weeks of stored posts in a real
database, an injected clock; nothing sleeps."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.clock import FakeClock
from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.models import Author
from monitor.silence import Rhythm, SilenceSettings, SilenceWatch, hour_of_week
from monitor.storage import Database, NewPost, SourceStatus, Storage
from tests.factories import config_file
from tests.storage.factories import post, verdict

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class World:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.clock = FakeClock(MONDAY_NOON)
        self.notices: list[str] = []
        self._next_id = 0

    def store(self, source: str, *written: datetime) -> None:
        """Posts of `source` written at these times, stored now."""
        items = []
        for created in written:
            self._next_id += 1
            item = post(f"{source}-{self._next_id}")
            item = replace(item, created_at=created, author=Author(id="a", handle="a"))
            items.append(NewPost(item, verdict(), vip=False, alert_priority=None))
        self.storage.posts.store_poll(
            source=source, platform="x", new_posts=items, cursor={}, now=self.clock.now()
        )

    def polled(self, source: str, state: str = "ok") -> None:
        """The runner's row for `source`, as a successful (or failing) poll leaves it."""
        now = self.clock.now()
        self.storage.source_status.record(
            SourceStatus(source, "x", state, since=now, updated_by="test", last_poll_at=now), now
        )

    def watch(self, *sources: str, **settings: float) -> SilenceWatch:
        return SilenceWatch(
            self.storage.source_status,
            sources,
            SilenceSettings(**settings),
            self.clock,
            self.notices.append,
        )

    def at(self, moment: datetime) -> None:
        self.clock.advance((moment - self.clock.now()).total_seconds())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    database = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    database.upgrade()
    yield World(Storage(database))
    database.close()


def every_hour(
    start: datetime, end: datetime, per_hour: int, hours: range = range(24)
) -> list[datetime]:
    """`per_hour` posts spread over each hour in [start, end) whose UTC hour is in `hours`."""
    times: list[datetime] = []
    moment = start
    while moment < end:
        if moment.hour in hours:
            step = HOUR / per_hour
            times += [moment + step * n for n in range(per_hour) if moment + step * n < end]
        moment += HOUR
    return times


# -- the rhythm ----------------------------------------------------------------------------


def test_the_rhythm_is_the_mean_of_each_hour_of_the_week() -> None:
    start = MONDAY_NOON - timedelta(days=14)
    counts = {start + HOUR * n: 4 for n in range(14 * 24)}  # 4 an hour for two weeks...
    counts[MONDAY_NOON - timedelta(days=7)] = 10  # ...but one Monday noon had 10
    rhythm = Rhythm.learn(counts, start, MONDAY_NOON)
    assert rhythm.rate_at(MONDAY_NOON) == 7.0  # (4 + 10) / 2
    assert rhythm.rate_at(MONDAY_NOON + HOUR) == 4.0
    assert hour_of_week(MONDAY_NOON) == 12
    # Half of Monday 12:00-13:00 and all of 13:00-14:00: 3.5 + 4.
    assert rhythm.expected(MONDAY_NOON + HOUR / 2, MONDAY_NOON + 2 * HOUR) == pytest.approx(7.5)


def test_an_hour_never_seen_counts_as_quiet() -> None:
    rhythm = Rhythm.learn({}, MONDAY_NOON - timedelta(days=1), MONDAY_NOON)
    assert rhythm.expected(MONDAY_NOON, MONDAY_NOON + timedelta(days=3)) == 0.0


# -- the watch, on stored posts --------------------------------------------------------------


def test_a_busy_source_gone_quiet_is_told_once_and_again_when_it_speaks(world: World) -> None:
    start = MONDAY_NOON - timedelta(days=28)
    world.store("x", *every_hour(start, MONDAY_NOON, 12))
    world.polled("x")
    watch = world.watch("x")
    last = MONDAY_NOON - HOUR / 12

    world.at(last + timedelta(hours=1, minutes=50))
    assert watch.check() == [] and world.notices == []  # unlikely already, but under 2 hours

    world.at(last + timedelta(hours=6))
    (silence,) = watch.check()
    assert silence.since == last
    assert world.notices == [world.notices[0]]
    notice = world.notices[0]
    assert notice.startswith("No mentions from x for 6 h; usually 12 an hour at this time")
    assert "72 expected" in notice
    assert world.storage.source_status.get("x").silent_since == last  # type: ignore[union-attr]

    world.clock.advance(3600)
    watch.check()
    assert len(world.notices) == 1, "said once"

    world.store("x", world.clock.now() - timedelta(minutes=1))
    assert watch.check() == []
    assert world.notices[1] == "Mentions from x again, after 7 h of silence."
    watch.check()
    assert len(world.notices) == 2
    assert world.storage.source_status.get("x").silent_since is None  # type: ignore[union-attr]


def test_a_source_quiet_at_night_as_every_night_is_not_silent(world: World) -> None:
    start = MONDAY_NOON.replace(hour=0) - timedelta(days=28)
    daytime = range(8, 20)
    world.store("day", *every_hour(start, MONDAY_NOON.replace(hour=20), 6, daytime))
    world.polled("day")
    watch = world.watch("day")

    world.at(MONDAY_NOON.replace(hour=7, minute=59) + timedelta(days=1))  # 12 h, all of it night
    assert watch.check() == [] and world.notices == []
    world.at(MONDAY_NOON.replace(hour=10, minute=30) + timedelta(days=1))  # 2.5 h of daytime
    assert len(watch.check()) == 1
    assert "usually 6.0 an hour at this time" in world.notices[0]


def test_a_source_with_under_a_week_of_history_stays_quiet(world: World) -> None:
    world.store("new", *every_hour(MONDAY_NOON - timedelta(days=6), MONDAY_NOON, 6))
    world.polled("new")
    world.at(MONDAY_NOON + timedelta(hours=10))
    assert world.watch("new").check() == [] and world.notices == []


def test_a_failing_source_is_left_to_its_failure_notice(world: World) -> None:
    world.store("x", *every_hour(MONDAY_NOON - timedelta(days=28), MONDAY_NOON, 3))
    world.polled("x", state="auth_failed")
    world.at(MONDAY_NOON + timedelta(hours=10))
    assert world.watch("x").check() == [] and world.notices == []


def test_how_unlikely_a_silence_must_be_is_configurable(world: World) -> None:
    # One post every 4 hours: 14 quiet hours have 2% odds (4 posts expected), not under 1%.
    every_4_hours = range(0, 24, 4)
    start = MONDAY_NOON - timedelta(days=28)
    world.store("sparse", *every_hour(start, MONDAY_NOON, 1, every_4_hours))
    world.polled("sparse")
    world.at(MONDAY_NOON.replace(hour=8) + timedelta(hours=14))
    assert 0.01 < math.exp(-4) < 0.1
    assert world.watch("sparse").check() == []
    assert len(world.watch("sparse", likelihood=0.1).check()) == 1
    assert "No mentions from sparse for 14 h" in world.notices[0]


def test_two_replicas_watching_tell_once(world: World) -> None:
    world.store("x", *every_hour(MONDAY_NOON - timedelta(days=28), MONDAY_NOON, 3))
    world.polled("x")
    world.at(MONDAY_NOON + timedelta(hours=5))
    first, second = world.watch("x"), world.watch("x")
    assert len(first.check()) == 1 and len(second.check()) == 1  # both see it...
    assert len(world.notices) == 1  # ...one tells


def test_an_unreachable_database_is_logged_and_the_next_check_goes_on(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.store("x", *every_hour(MONDAY_NOON - timedelta(days=28), MONDAY_NOON, 3))
    world.polled("x")
    world.at(MONDAY_NOON + timedelta(hours=5))
    broken = SilenceWatch(
        Storage(Database("postgresql+psycopg://postgres@127.0.0.1:1/none")).source_status,
        ["x"],
        SilenceSettings(),
        world.clock,
        world.notices.append,
    )
    with caplog.at_level(logging.WARNING, logger="monitor.silence"):
        assert broken.check() == []
        assert broken.check() == []
    said = [r.getMessage() for r in caplog.records if r.name == "monitor.silence"]
    assert len(said) == 1 and "silence watch: database unavailable" in said[0]
    assert world.notices == []
    assert len(world.watch("x").check()) == 1


# -- settings ------------------------------------------------------------------------------------


def test_the_thresholds_are_read_from_daemon_silence(tmp_path: Path) -> None:
    path = config_file(
        tmp_path, daemon={"silence": {"likelihood": 0.001, "min_hours": 6, "history_days": 14}}
    )
    silence = load_config(path).daemon.silence
    assert (silence.likelihood, silence.min_hours, silence.history_days) == (0.001, 6.0, 14)
    assert silence.enabled and silence.min_history_days == 7.0

    misspelled = config_file(tmp_path, name="bad.toml", daemon={"silence": {"min_hour": 6}})
    with pytest.raises(ConfigError, match=r"daemon.silence.min_hour: unknown key"):
        load_config(misspelled)
