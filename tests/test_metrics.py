"""The metrics, as Prometheus reads them: real polls of the fake X API, real deliveries to the
fake Slack, the team's clicks in the real database (SQLite and PostgreSQL), and the text
format parsed back by `prometheus_client.parser`."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from connectors.x import XConnector, XSettings
from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.second_opinion import SecondOpinion
from monitor.classifier.settings import ClassifierSettings
from monitor.clock import FakeClock
from monitor.delivery import Deliverer
from monitor.errors import AuthError, StorageUnavailable, TransientError
from monitor.metrics import Heartbeat, Metrics, error_kind
from monitor.models import Label, Person, Reason, Severity, Verdict
from monitor.pipeline import Pipeline
from monitor.slack.settings import SlackSettings
from monitor.slack.sink import SlackNotifier
from monitor.sources import SourceRunner
from monitor.storage import Database, Storage
from monitor.storage.alerts import Action
from monitor.web.ops import Ops
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.fakes.x_api import FakeXApi

BRAND = BrandSettings(
    name="Acme", handles=["acme", "acmehelp"], terms=["acme"], muted_authors=["sam"]
)
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
COMPLAINT = "@acme still waiting on my refund for order 48213, three weeks now"
PRAISE = "Thanks @acme, sorted out in five minutes. Great service."


def scraped(text: bytes | str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, parsed by Prometheus' own parser: (name, labels) -> value."""
    raw = text.decode() if isinstance(text, bytes) else text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(raw)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples[(name, frozenset(labels.items()))]


@dataclass
class World:
    clock: FakeClock
    x: FakeXApi
    slack: FakeSlack
    storage: Storage
    metrics: Metrics
    runner: SourceRunner
    deliverer: Deliverer
    ops: Ops

    def scrape(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        return scraped(self.ops.scrape())


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    clock = FakeClock(START)
    database = Database(database_url)
    database.upgrade()
    storage = Storage(database, "C1")
    metrics = Metrics(clock)
    with (
        FakeXApi(clock=lambda: clock.now().timestamp()) as x,
        FakeSlack() as slack,
    ):
        x.add_user("acme")
        x.add_user("dana", followers=10)
        x.add_user("sam")
        x.add_user("acmehelp")
        settings = XSettings.model_validate(
            {
                "type": "x",
                "name": "x-mentions",
                "api_base_url": x.base_url,
                "mentions_username": "acme",
                "searches": [],
                "monthly_read_cap": 10_000,
            },
            context={"env": {"X_BEARER_TOKEN": x.bearer_token}},
        )
        pipeline = Pipeline(BRAND, storage.posts, Classifier(ClassifierSettings(), BRAND), clock)
        runner = SourceRunner(
            XConnector(settings, BRAND, clock),
            pipeline,
            storage.leases,
            clock,
            on_poll=metrics.polled,
            on_error=metrics.poll_failed,
        )
        notifier = SlackNotifier(
            SlackSettings.model_validate(
                {"sink": "slack", "token_env": "T", "channel": "C1", "base_url": slack.base_url},
                context={"env": {"T": slack.token}},
            )
        )
        deliverer = Deliverer(
            storage.outbox, notifier, clock, rng=random.Random(7), on_report=metrics.delivered
        )
        ops = Ops(
            metrics=metrics,
            heartbeat=Heartbeat(clock),
            database=database,
            outbox=storage.outbox,
            alerts=storage.alerts,
            runners=[runner],
            clock=clock,
            outbox_max_age=900,
        )
        yield World(clock, x, slack, storage, metrics, runner, deliverer, ops)
        notifier.close()
    database.close()


def test_a_poll_and_a_delivery_show_in_the_scrape(world: World) -> None:
    world.x.post(COMPLAINT, author="dana")
    world.x.post(PRAISE, author="dana")
    world.x.post("@acme nice weather in Lisbon today", author="dana")
    assert world.runner.poll() is not None

    before = world.scrape()
    source = {"source": "x-mentions", "platform": "x"}
    assert value(before, "complaint_monitor_posts_fetched_total", **source) == 3
    assert value(before, "complaint_monitor_posts_stored_total", **source) == 3
    assert value(before, "complaint_monitor_posts_flagged_total", **source) == 1
    assert value(before, "complaint_monitor_posts_alerted_total", **source) == 1
    assert value(before, "complaint_monitor_posts_quarantined_total", **source) == 0
    assert value(before, "complaint_monitor_posts_muted_total", **source) == 0
    assert value(before, "complaint_monitor_posts_brand_own_total", **source) == 0
    assert value(before, "complaint_monitor_outbox_pending") == 1
    assert value(before, "complaint_monitor_x_read_budget_used", source="x-mentions") == 3
    assert value(before, "complaint_monitor_x_read_budget_left", source="x-mentions") == 9_997
    assert value(before, "complaint_monitor_source_state", source="x-mentions", state="ok") == 1

    world.clock.advance(40)  # the post was written at the start; Slack gets it 40 s later
    assert world.deliverer.deliver_due().sent == 1
    assert len(world.slack.messages) == 1

    after = world.scrape()
    assert value(after, "complaint_monitor_deliveries_total", outcome="sent") == 1
    assert value(after, "complaint_monitor_deliveries_total", outcome="failed") == 0
    assert value(after, "complaint_monitor_alert_latency_seconds_count") == 1
    assert value(after, "complaint_monitor_alert_latency_seconds_sum") == pytest.approx(40, abs=1)
    assert value(after, "complaint_monitor_alert_latency_seconds_bucket", le="30.0") == 0
    assert value(after, "complaint_monitor_alert_latency_seconds_bucket", le="60.0") == 1
    assert value(after, "complaint_monitor_outbox_pending") == 0
    assert value(after, "complaint_monitor_outbox_oldest_pending_age_seconds") == 0
    assert value(after, "complaint_monitor_database_up") == 1


def test_posts_kept_from_slack_by_a_mute_or_by_the_brands_own_account_are_counted(
    world: World,
) -> None:
    """A complaint that made no alert shows in the scrape as the rule that held it back, so a
    mute or a brand handle left in the config is visible rather than silent."""
    world.x.post(COMPLAINT, author="sam")  # muted in the config
    world.x.post(
        "@acme @dana so sorry your order hasn't arrived, still waiting on the courier? DM us",
        author="acmehelp",
    )
    world.x.post(COMPLAINT.replace("48213", "51001"), author="dana")
    assert world.runner.poll() is not None

    samples = world.scrape()
    source = {"source": "x-mentions", "platform": "x"}
    assert value(samples, "complaint_monitor_posts_stored_total", **source) == 3
    assert value(samples, "complaint_monitor_posts_muted_total", **source) == 1
    assert value(samples, "complaint_monitor_posts_brand_own_total", **source) == 1
    assert value(samples, "complaint_monitor_posts_alerted_total", **source) == 1


def test_no_post_id_author_or_text_becomes_a_label(world: World) -> None:
    """Label sets stay bounded: sources, platforms, kinds, outcomes, severities only."""
    post_id = world.x.post(COMPLAINT, author="dana")
    world.runner.poll()
    world.deliverer.deliver_due()
    text = world.ops.scrape().decode()
    assert post_id not in text
    assert "dana" not in text
    assert "refund" not in text


@pytest.mark.parametrize(
    ("fault", "kind", "state"),
    [
        (Fault.status(401), "auth", "auth_failed"),
        (Fault.rate_limited(retry_after=60), "rate_limit", "rate_limited"),
        (Fault.status(503), "transient", "failing"),
        (Fault.malformed(b"{not json"), "malformed", "failing"),
    ],
    ids=["auth", "rate-limit", "transient", "malformed"],
)
def test_failed_polls_are_counted_by_source_and_kind(
    world: World, fault: Fault, kind: str, state: str
) -> None:
    world.x.post(COMPLAINT, author="dana")
    world.x.fault(fault, match="/2/users", times=10)
    assert world.runner.poll() is None
    samples = world.scrape()
    assert (
        value(samples, "complaint_monitor_fetch_errors_total", source="x-mentions", kind=kind) == 1
    )
    assert value(samples, "complaint_monitor_source_paused_seconds", source="x-mentions") > 0
    assert value(samples, "complaint_monitor_source_state", source="x-mentions", state=state) == 1


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (AuthError("refused"), "auth"),
        (TransientError("429", retry_after=30), "rate_limit"),
        (TransientError("503"), "transient"),
        (StorageUnavailable("gone"), "database"),
        (KeyError("data"), "unexpected"),
    ],
)
def test_error_kinds(error: Exception, kind: str) -> None:
    assert error_kind(error) == kind


def test_a_malformed_answer_is_its_own_kind() -> None:
    try:
        try:
            raise ValueError("Expecting value")
        except ValueError as cause:
            raise TransientError("X sent a page that is not valid JSON") from cause
    except TransientError as err:
        assert error_kind(err) == "malformed"


def test_outbox_depth_and_age_grow_while_slack_refuses(world: World) -> None:
    world.x.post(COMPLAINT, author="dana")
    world.runner.poll()
    world.slack.fault(Fault.status(503), match="chat.postMessage", times=5)
    world.deliverer.deliver_due()
    world.clock.advance(300)
    samples = world.scrape()
    assert value(samples, "complaint_monitor_deliveries_total", outcome="failed") == 1
    assert value(samples, "complaint_monitor_outbox_pending") == 1
    assert value(samples, "complaint_monitor_outbox_oldest_pending_age_seconds") == 300


def test_time_to_claim_and_resolve_by_severity_counted_once(world: World) -> None:
    world.x.post(COMPLAINT, author="dana")
    world.runner.poll()
    world.deliverer.deliver_due()
    alert = world.storage.alerts.alert(1)
    assert alert is not None and alert.sent_at is not None
    severity = alert.verdict.severity.value
    person = Person("U1", "Sam")

    world.clock.advance(120)
    world.storage.alerts.apply(1, Action.CLAIM, person, world.clock.now())
    first = world.scrape()
    assert value(first, "complaint_monitor_alert_claim_seconds_count", severity=severity) == 1
    assert value(first, "complaint_monitor_alert_claim_seconds_sum", severity=severity) == 120

    world.clock.advance(480)
    world.storage.alerts.apply(1, Action.RESOLVE, person, world.clock.now())
    second = world.scrape()
    assert value(second, "complaint_monitor_alert_claim_seconds_count", severity=severity) == 1
    assert value(second, "complaint_monitor_alert_resolve_seconds_count", severity=severity) == 1
    assert value(second, "complaint_monitor_alert_resolve_seconds_sum", severity=severity) == 600

    third = world.scrape()  # nothing new: nothing counted twice
    assert value(third, "complaint_monitor_alert_resolve_seconds_count", severity=severity) == 1


def test_claims_from_before_the_start_are_not_counted(world: World) -> None:
    world.x.post(COMPLAINT, author="dana")
    world.runner.poll()
    world.deliverer.deliver_due()
    world.storage.alerts.apply(1, Action.CLAIM, Person("U1"), world.clock.now())
    world.clock.advance(1)
    restarted = Ops(  # a daemon started after the click
        metrics=Metrics(world.clock),
        heartbeat=Heartbeat(world.clock),
        database=world.storage.outbox.database,
        outbox=world.storage.outbox,
        alerts=world.storage.alerts,
        runners=[],
        clock=world.clock,
        outbox_max_age=900,
    )
    assert "complaint_monitor_alert_claim_seconds_count" not in restarted.scrape().decode()
    assert "complaint_monitor_alert_claim_seconds_count" in world.ops.scrape().decode()


def test_the_database_down_at_scrape_time_shows_as_a_gauge() -> None:
    clock = FakeClock(START)
    database = Database("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    storage = Storage(database)
    ops = Ops(
        metrics=Metrics(clock),
        heartbeat=Heartbeat(clock),
        database=database,
        outbox=storage.outbox,
        alerts=storage.alerts,
        runners=[],
        clock=clock,
        outbox_max_age=900,
    )
    samples = scraped(ops.scrape())
    assert value(samples, "complaint_monitor_database_up") == 0
    database.close()


def verdict(score: float) -> Verdict:
    label = Label.COMPLAINT if score >= 0.5 else Label.NOT_COMPLAINT
    return Verdict(label, score, Severity.LOW, (Reason("waiting", 0.9),), {}, "scorer-1")


def test_second_opinion_outcomes_are_counted() -> None:
    clock = FakeClock(START)
    metrics = Metrics(clock)
    with FakeOpenAI() as llm:
        settings = ClassifierSettings.model_validate(
            {
                "llm_base_url": llm.base_url,
                "llm_model": llm.model,
                "llm_timeout_seconds": 2.0,
                "llm_per_minute": 3,
            },
            context={"env": {}},
        )
        second = SecondOpinion(settings, clock, on_outcome=metrics.second_opinion)
        llm.then(llm.verdict(True, "slow app"))
        second.review("x", verdict(0.45))  # answered: a complaint
        second.review("x", verdict(0.45))  # answered: not one (the fake's default)
        second.review("x", verdict(0.95))  # not borderline: never asked, not counted
        llm.fault(Fault.status(500))
        second.review("x", verdict(0.45))  # the endpoint failed
        second.review("x", verdict(0.45))  # not asked: the pause after a failure
        clock.advance(61)
        llm.then(llm.verdict(False), times=3)
        for _ in range(4):
            second.review("x", verdict(0.45))  # three answered, the fourth over the budget
        second.close()
    samples = scraped(metrics.exposition())
    counts = {
        outcome: value(samples, "complaint_monitor_second_opinions_total", outcome=outcome)
        for outcome in ("complaint", "not_complaint", "unavailable", "paused", "budget")
    }
    assert counts == {
        "complaint": 1,
        "not_complaint": 4,
        "unavailable": 1,
        "paused": 1,
        "budget": 1,
    }


def test_each_metrics_object_counts_on_its_own_registry() -> None:
    clock = FakeClock(START)
    first, second = Metrics(clock), Metrics(clock)
    first.model_loaded("model-a")
    first.second_opinion("complaint")
    one, two = scraped(first.exposition()), scraped(second.exposition())
    assert value(one, "complaint_monitor_second_opinions_total", outcome="complaint") == 1
    assert value(two, "complaint_monitor_second_opinions_total", outcome="complaint") == 0
    assert value(one, "complaint_monitor_model_info", version="model-a") == 1
    assert all(not name.startswith("complaint_monitor") for name in REGISTRY._names_to_collectors)


def test_the_model_version_is_the_current_one_only() -> None:
    metrics = Metrics(FakeClock(START))
    metrics.model_loaded("scorer-1")
    metrics.model_loaded("model-20261123")
    samples = scraped(metrics.exposition())
    assert value(samples, "complaint_monitor_model_info", version="model-20261123") == 1
    assert ("complaint_monitor_model_info", frozenset({("version", "scorer-1")})) not in samples


def test_a_source_in_one_state_at_a_time() -> None:
    metrics = Metrics(FakeClock(START))
    metrics.source_status("x", "auth_failed", 900, {})
    metrics.source_status("x", "ok", 0, {"x_read_budget_used": 5, "unknown_gauge": 1})
    samples = scraped(metrics.exposition())
    assert value(samples, "complaint_monitor_source_state", source="x", state="ok") == 1
    assert value(samples, "complaint_monitor_source_state", source="x", state="auth_failed") == 0
    assert value(samples, "complaint_monitor_x_read_budget_used", source="x") == 5
    assert "unknown_gauge" not in metrics.exposition().decode()
