"""Issue 15, item 16: the wall clock steps (NTP, `date -s`); waits do not.

Every wait kept in memory is measured on `Clock.monotonic`: a source's pause, a rate-limited
Slack channel, the second opinion's retry and budget window, `health.Throttle`. `FakeClock.step`
moves only the wall clock, as a step does; `advance` is time passing. What is stored stays
wall-clock (an outbox alert's `next_attempt_at` is shared between replicas), and moves with a step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.classifier.second_opinion import SecondOpinion
from monitor.classifier.settings import ClassifierSettings
from monitor.clock import FakeClock
from monitor.errors import TransientError
from monitor.health import Throttle
from monitor.models import DeliveryStatus, Label, Reason, Severity, Verdict
from monitor.pipeline import PollReport
from monitor.sources import SourceRunner
from monitor.storage import Database, Storage
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.server import Fault
from tests.outbox import Outbox

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HOUR = 3600.0


def test_item_16_fake_clock_step_moves_the_wall_clock_only() -> None:
    clock = FakeClock(START)
    before = clock.monotonic()
    clock.step(-HOUR)
    assert clock.now() == START - timedelta(hours=1)
    assert clock.monotonic() == before
    clock.advance(5)
    assert clock.now() == START - timedelta(hours=1) + timedelta(seconds=5)
    assert clock.monotonic() == before + 5


# -- the source runner ---------------------------------------------------------------------------


@dataclass
class _Source:
    name: str = "flaky"


class _Pipeline:
    """Fails as scripted, then polls fine; counts the polls that reached it."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.polls = 0

    def poll(self, connector: Any) -> PollReport:
        self.polls += 1
        if self.failures:
            raise self.failures.pop(0)
        return PollReport(connector.name, 0, 0, 0, 0, 0, 0, False, 0.0)


@pytest.fixture
def storage(tmp_path: Any) -> Iterator[Storage]:
    database = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    database.upgrade()
    yield Storage(database)
    database.close()


@pytest.mark.parametrize(
    ("failure", "pause"),
    [
        (TransientError("HTTP 429", retry_after=30.0), 30.0),  # the platform's reset time
        (TransientError("HTTP 503"), 30.0),  # the first backoff step
    ],
    ids=["rate-limited", "backoff"],
)
def test_item_16_a_clock_step_back_does_not_delay_a_retry(
    storage: Storage, failure: Exception, pause: float
) -> None:
    clock = FakeClock(START)
    pipeline = _Pipeline(failure)
    runner = SourceRunner(_Source(), pipeline, storage.leases, clock)  # type: ignore[arg-type]

    assert runner.poll() is None
    assert runner.paused_until == START + timedelta(seconds=pause)  # for people: wall-clock
    clock.step(-HOUR)  # NTP corrects the clock by an hour back
    clock.advance(pause - 1)
    assert runner.poll() is None and pipeline.polls == 1  # never sooner than intended
    clock.advance(1)
    assert runner.poll() is not None, "the retry waited for the wall clock to catch up"
    assert pipeline.polls == 2


def test_item_16_a_clock_step_forward_does_not_cut_a_pause_short(storage: Storage) -> None:
    clock = FakeClock(START)
    pipeline = _Pipeline(TransientError("HTTP 429", retry_after=600.0))
    runner = SourceRunner(_Source(), pipeline, storage.leases, clock)  # type: ignore[arg-type]
    runner.poll()
    clock.step(HOUR)
    assert runner.poll() is None and pipeline.polls == 1  # the platform said 10 minutes
    clock.advance(600)
    assert runner.poll() is not None


# -- the deliverer's per-channel pause (the outbox of tests/test_delivery.py) ---------------------


def test_item_16_a_clock_step_back_does_not_delay_a_rate_limited_channel(outbox: Outbox) -> None:
    outbox.add("1")
    outbox.slack.fault(Fault.rate_limited(30), match="chat.postMessage")
    assert outbox.deliverer.deliver_due().failed == 1  # the channel is paused for 30 s

    outbox.clock.step(-HOUR)
    outbox.add("2")  # stored after the step: due at once by the (stepped) wall clock
    outbox.clock.advance(29)
    assert outbox.deliverer.deliver_due().deferred == 1  # still Slack's 30 s
    assert outbox.posted() == []
    outbox.clock.advance(1)
    assert outbox.deliverer.deliver_due().sent == 1, "the channel stayed paused for an hour"
    assert outbox.posted() == ["2"]
    # stored times stay wall-clock (documented in monitor/delivery.py): alert 1's next attempt
    # is in the database for the replicas to share, and moved with the step
    assert outbox.status(1) is DeliveryStatus.FAILED


def test_item_16_a_clock_step_forward_does_not_end_a_channels_pause(outbox: Outbox) -> None:
    outbox.add("1")
    outbox.slack.fault(Fault.rate_limited(30), match="chat.postMessage")
    outbox.deliverer.deliver_due()
    outbox.clock.step(HOUR)
    outbox.add("2")
    report = outbox.deliverer.deliver_due()
    assert (report.sent, report.deferred) == (0, 2)  # Slack said 30 s: the step changes nothing
    outbox.clock.advance(30)
    assert outbox.deliverer.deliver_due().sent == 2


# -- the second opinion --------------------------------------------------------------------------


def _borderline() -> Verdict:
    return Verdict(Label.NOT_COMPLAINT, 0.45, Severity.LOW, (Reason("x", 0.1),), {}, "scorer-1")


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def _opinion(llm: FakeOpenAI, clock: FakeClock, **overrides: Any) -> SecondOpinion:
    values = {"llm_base_url": llm.base_url, "llm_model": llm.model, **overrides}
    return SecondOpinion(ClassifierSettings.model_validate(values), clock)


def test_item_16_a_clock_step_back_does_not_delay_the_second_opinions_retry(
    llm: FakeOpenAI,
) -> None:
    clock = FakeClock(START)
    opinion = _opinion(llm, clock)
    llm.fault(Fault.status(500))
    opinion.review("a", _borderline())  # fails: not asked again for 30 s
    clock.step(-HOUR)
    clock.advance(29)
    assert "next try in 1s" in opinion.review("b", _borderline()).reasons[-1].detail
    clock.advance(1)
    assert opinion.review("c", _borderline()).reasons[-1].detail.startswith("test-model agrees")
    assert len(llm.requests) == 2
    opinion.close()


def test_item_16_a_clock_step_back_does_not_stretch_the_budgets_minute(llm: FakeOpenAI) -> None:
    clock = FakeClock(START)
    opinion = _opinion(llm, clock, llm_per_minute=1)
    opinion.review("a", _borderline())
    clock.step(-HOUR)
    clock.advance(59)
    assert opinion.review("b", _borderline()).reasons[-1].detail.startswith("not asked")
    clock.advance(1)
    assert opinion.review("c", _borderline()).reasons[-1].detail.startswith("test-model agrees")
    assert len(llm.requests) == 2
    opinion.close()


def test_item_16_a_throttle_on_the_clocks_monotonic_ignores_steps() -> None:
    clock = FakeClock(START)
    throttle = Throttle(60.0, clock.monotonic)
    assert throttle.allow("key")
    clock.step(-HOUR)
    clock.advance(59)
    assert not throttle.allow("key")
    clock.advance(1)
    assert throttle.allow("key")
