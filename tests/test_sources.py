"""The source runner: each known failure and the state it leads to (Home Assistant's table).

Every row is a real failure: the real tweepy client answered by the fake X API over a socket, a
JSONL file that is gone, a database that went away. The runner must pause the source for the
right time, tell the team only when a person must act, log the change once, and say when it
recovered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.jsonl import JsonlConnector, JsonlSettings
from connectors.x import XConnector, XSettings
from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.clock import FakeClock
from monitor.errors import AuthError, ConfigError, QuotaExhausted, TransientError
from monitor.pipeline import Pipeline
from monitor.sources import SourceRunner, SourceState, classify_failure
from monitor.storage import Database, Storage
from tests.fakes.server import Fault
from tests.fakes.x_api import FakeXApi

BRAND = BrandSettings(name="Acme", handles=["acme"], terms=["acme"])
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@dataclass
class World:
    clock: FakeClock
    x: FakeXApi
    storage: Storage
    notices: list[str]
    tmp_path: Path

    def runner(self, connector: XConnector | JsonlConnector) -> SourceRunner:
        pipeline = Pipeline(
            BRAND, self.storage.posts, Classifier(ClassifierSettings(), BRAND), self.clock
        )
        return SourceRunner(
            connector, pipeline, self.storage.leases, self.clock, self.notices.append
        )

    def x_source(self, token: str | None = None, **settings: object) -> SourceRunner:
        raw = {
            "type": "x",
            "name": "x",
            "api_base_url": self.x.base_url,
            "mentions_username": "acme",
            "searches": [],
            "page_size": 10,
            **settings,
        }
        env = {"X_BEARER_TOKEN": token or self.x.bearer_token}
        connector = XConnector(
            XSettings.model_validate(raw, context={"env": env}), BRAND, self.clock
        )
        return self.runner(connector)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = FakeClock(START)
    database = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    database.upgrade()
    with FakeXApi(clock=lambda: clock.now().timestamp()) as x:
        x.add_user("acme")
        x.add_user("dana", followers=10)
        x.post("@acme where is my refund?", author="dana")
        yield World(clock, x, Storage(database), [], tmp_path)
    database.close()


# -- the ladder, as a table ---------------------------------------------------------------------

KNOWN_ERRORS = [
    (QuotaExhausted("cap", retry_after=3600), SourceState.QUOTA_EXHAUSTED, 3600, True),
    (AuthError("refused"), SourceState.AUTH_FAILED, 900, True),
    (ConfigError("bad setting"), SourceState.AUTH_FAILED, 900, True),
    (TransientError("429", retry_after=42), SourceState.RATE_LIMITED, 42, False),
    (TransientError("503"), SourceState.FAILING, None, False),
    (RuntimeError("a bug"), SourceState.FAILING, None, False),
]


@pytest.mark.parametrize(("error", "state", "pause", "notify"), KNOWN_ERRORS)
def test_each_known_error_has_its_state(
    error: Exception, state: SourceState, pause: float | None, notify: bool
) -> None:
    failure = classify_failure(error)
    assert (failure.state, failure.pause, failure.notify) == (state, pause, notify)
    assert failure.unexpected is (type(error) is RuntimeError)


# -- real failures, end to end ------------------------------------------------------------------

Script = Callable[[World], SourceRunner]


def _x_answers(fault: Fault, times: int = 1) -> Script:
    def script(world: World) -> SourceRunner:
        world.x.fault(fault, match="/2/", times=times)
        return world.x_source()

    return script


def _wrong_token(world: World) -> SourceRunner:
    return world.x_source(token="not-the-token")


def _month_spent(world: World) -> SourceRunner:
    runner = world.x_source(monthly_read_cap=10)
    world.x.post_many(10, "@acme order {n} never arrived", author="dana")
    runner.poll()  # the first poll reads the newest page: all ten posts
    return runner


def _file_gone(world: World) -> SourceRunner:
    settings = JsonlSettings(type="jsonl", name="feed", path=world.tmp_path / "missing.jsonl")
    return world.runner(JsonlConnector(settings, BRAND, world.clock))


SCENARIOS = [
    # (what fails, the state, seconds paused, a notice for people?)
    ("X answers 401", _wrong_token, SourceState.AUTH_FAILED, 900.0, True),
    ("X answers 403", _x_answers(Fault.status(403)), SourceState.AUTH_FAILED, 900.0, True),
    (
        "X answers 429",
        _x_answers(Fault.rate_limited(120)),
        SourceState.RATE_LIMITED,
        120.0,
        False,
    ),
    ("X answers 503", _x_answers(Fault.status(503)), SourceState.FAILING, 30.0, False),
    ("X sends half a page", _x_answers(Fault.malformed()), SourceState.FAILING, 30.0, False),
    ("X hangs up", _x_answers(Fault.drop()), SourceState.FAILING, 30.0, False),
    ("the month's reads are spent", _month_spent, SourceState.QUOTA_EXHAUSTED, None, True),
    ("the JSONL file is gone", _file_gone, SourceState.FAILING, 30.0, False),
]


@pytest.mark.parametrize(
    ("script", "state", "paused", "notified"),
    [pytest.param(*row[1:], id=row[0]) for row in SCENARIOS],
)
def test_a_failure_pauses_the_source_in_its_state(
    world: World,
    script: Script,
    state: SourceState,
    paused: float | None,
    notified: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = script(world)
    caplog.set_level(logging.INFO, logger="monitor.sources")
    caplog.clear()

    assert runner.poll() is None
    assert runner.state is state
    assert not runner.healthy
    assert runner.paused_until is not None
    if paused is not None:
        assert runner.paused_until - world.clock.now() == timedelta(seconds=paused)
    else:  # until the 1st of next month
        assert runner.paused_until == datetime(2026, 12, 1, tzinfo=UTC)
    assert bool(world.notices) is notified
    assert [r.levelname for r in caplog.records if r.name == "monitor.sources"] == ["WARNING"]
    assert runner.name in caplog.text and state.value in caplog.text


def test_a_paused_source_is_not_polled_until_its_time(world: World) -> None:
    runner = _x_answers(Fault.status(503))(world)
    runner.poll()
    asked = len(world.x.served("/2/"))
    world.clock.advance(29)
    assert runner.poll() is None
    assert len(world.x.served("/2/")) == asked


def test_backoff_doubles_while_failing_and_the_log_says_it_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    runner = _x_answers(Fault.status(503), times=3)(world)
    caplog.set_level(logging.WARNING, logger="monitor.sources")
    pauses = []
    for _ in range(3):
        world.clock.advance(3600)
        runner.poll()
        assert runner.paused_until is not None
        pauses.append((runner.paused_until - world.clock.now()).total_seconds())
    assert pauses == [30.0, 60.0, 120.0]
    said = [r for r in caplog.records if r.name == "monitor.sources"]
    assert len(said) == 1  # the state did not change: said once


def test_recovery_is_logged_and_announced_when_people_were_told(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    runner = _x_answers(Fault.status(401), times=2)(world)
    caplog.set_level(logging.INFO, logger="monitor.sources")
    runner.poll()
    world.clock.advance(900)
    runner.poll()
    world.clock.advance(900)
    report = runner.poll()

    assert report is not None and runner.state is SourceState.OK and runner.healthy
    assert world.notices == [
        world.notices[0],
        "Source x is polling again.",
    ]
    assert world.notices[0].startswith("Source x is paused (auth_failed)")
    assert "source=x recovered after 2 failed polls (was auth_failed)" in caplog.text


def test_a_vanished_database_is_a_transient_failure_of_the_database(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    runner = world.x_source()
    world.storage.database.close()
    (world.tmp_path / "monitor.db").unlink()
    (world.tmp_path / "monitor.db").mkdir()  # the path can no longer be opened as a database
    caplog.set_level(logging.WARNING, logger="monitor.sources")

    assert runner.poll() is None
    assert runner.state is SourceState.FAILING
    assert "source=x failing: database unavailable" in caplog.text
    assert world.notices == []


def test_a_source_paused_by_the_database_polls_as_soon_as_the_database_is_back(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    runner = world.x_source()
    path = world.tmp_path / "monitor.db"
    world.storage.database.close()
    path.rename(world.tmp_path / "kept.db")
    path.mkdir()  # the database is gone for a while
    assert runner.poll() is None
    assert runner.poll() is None, "paused for its backoff (30 s)"

    path.rmdir()
    (world.tmp_path / "kept.db").rename(path)  # it is back, with everything it held
    caplog.set_level(logging.INFO, logger="monitor.sources")
    assert runner.database_is_back()
    report = runner.poll()  # no time has passed: the backoff is not sat out

    assert report is not None and report.stored == 1
    assert runner.state is SourceState.OK
    assert "source=x: the database answers again" in caplog.text
    assert not runner.database_is_back(), "nothing left to wake"


def test_a_source_paused_by_its_platform_keeps_its_pause_when_the_database_is_back(
    world: World,
) -> None:
    runner = _x_answers(Fault.status(503))(world)
    assert runner.poll() is None
    assert not runner.database_is_back()
    assert runner.poll() is None, "still paused: the platform, not the database, failed"
    world.clock.advance(31)
    assert runner.poll() is not None


def test_another_replica_holding_the_lease_means_standby_not_failure(world: World) -> None:
    first, second = world.x_source(), world.x_source()
    second.owner = "replica-b"
    assert first.poll() is not None
    assert second.poll() is None
    assert second.state is SourceState.STANDBY and second.healthy
    first.release()
    assert second.poll() is not None
    assert second.state is SourceState.OK
