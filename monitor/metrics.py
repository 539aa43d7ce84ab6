"""What the daemon counts, in Prometheus' terms: one `Metrics` object per daemon (a leaf).

The families live in the object's own `CollectorRegistry`, never the library's global one, so a
test, a benchmark or a second daemon in the same process each count on their own. The core
feeds it through small callbacks it already has a report for (`PollReport` from a source's
poll, the failure a poll raised, `DeliveryReport`, the second opinion's outcome); what is a state
rather than an event (the outbox, pauses, the X read budget, the team's handling times) is read
when Prometheus scrapes, by `monitor.web.ops`, and set here.

Label values are bounded: sources and platforms from the configuration, error kinds, outcomes
and severities from fixed lists. Never a post id, an author or a text.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Final, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
)

from monitor.clock import Clock
from monitor.errors import (
    AuthError,
    ConfigError,
    QuotaExhausted,
    StorageUnavailable,
    TransientError,
)

PREFIX: Final = "complaint_monitor"

POST_STAGES: Final = (
    "fetched",
    "stored",
    "flagged",
    "alerted",
    "quarantined",
    "muted",
    "brand_own",
)
"""The posts a poll counts, each a counter ``complaint_monitor_posts_<stage>_total``."""

ERROR_KINDS: Final = (
    "auth",
    "rate_limit",
    "quota",
    "transient",
    "malformed",
    "database",
    "config",
    "unexpected",
)
DELIVERY_OUTCOMES: Final = ("sent", "found_in_channel", "failed", "deferred", "previewed", "parked")
SECOND_OPINION_OUTCOMES: Final = ("complaint", "not_complaint", "unavailable", "paused", "budget")
"""What asking the model came to: its answer, a failed request, or not asked (the pause after a
failure, the per-minute budget)."""

CONNECTOR_GAUGES: Final = {
    "x_read_budget_used": "X posts read (and billed) this month by the source, as of its last poll",
    "x_read_budget_left": "X posts the source may still read this month under monthly_read_cap",
    "x_spend_this_month": "Money the source's X reads cost this month (X's pay-per-use prices)",
    "x_spend_projected": "The month's X spend if the rest of it reads at the pace so far",
    "x_monthly_budget": "The source's monthly_budget for X reads (absent: none set)",
}
"""What a connector's `gauges()` may report; other keys are ignored (a bounded set)."""

LATENCY_BUCKETS: Final = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400)
"""Seconds from a post's creation to its alert in Slack: a poll interval to a day (a backlog)."""
HANDLING_BUCKETS: Final = (60, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200)
"""Seconds from the alert in Slack to a person claiming or resolving it: a minute to 3 days."""
POLL_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def error_kind(err: BaseException) -> str:
    """The kind of a failed poll, one of `ERROR_KINDS`, from the error the connector raised.

    "malformed" is a transient error caused by an answer that did not parse (connectors raise
    ``TransientError(...) from ValueError``); "unexpected" is anything unsorted (a bug or a
    library surprise, often malformed data too).
    """
    if isinstance(err, QuotaExhausted):
        return "quota"
    if isinstance(err, StorageUnavailable):
        return "database"
    if isinstance(err, AuthError):
        return "auth"
    if isinstance(err, ConfigError):
        return "config"
    if isinstance(err, TransientError):
        if _caused_by_value_error(err):
            return "malformed"
        return "rate_limit" if err.retry_after else "transient"
    return "unexpected"


def _caused_by_value_error(err: BaseException) -> bool:
    """A ValueError (a JSON decode error among them) anywhere down the ``raise ... from``
    chain: connectors wrap the parse error, and a poll may wrap a query's error again."""
    cause = err.__cause__
    for _ in range(8):  # a chain is short; a cycle must not loop
        if cause is None:
            return False
        if isinstance(cause, ValueError):
            return True
        cause = cause.__cause__
    return False


class PollLike(Protocol):
    """What is counted of `monitor.pipeline.PollReport` (structural: a leaf imports no core)."""

    @property
    def source(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def fetched(self) -> int: ...
    @property
    def stored(self) -> int: ...
    @property
    def flagged(self) -> int: ...
    @property
    def alerts(self) -> int: ...
    @property
    def quarantined(self) -> int: ...
    @property
    def muted(self) -> int: ...
    @property
    def brand_own(self) -> int: ...
    @property
    def seconds(self) -> float: ...


class DeliveryLike(Protocol):
    """What is counted of `monitor.delivery.DeliveryReport`; its counts are read by the names
    in `DELIVERY_OUTCOMES`."""

    @property
    def sent_latencies(self) -> list[float]: ...


class Heartbeat:
    """The scheduler's pulse: a scheduled job calls `beat`; /healthz and the systemd watchdog
    trust the scheduler only while it keeps beating. Monotonic, so a clock step is no stall."""

    def __init__(self, clock: Clock, interval: float = 10.0) -> None:
        self.clock = clock
        self.interval = interval
        self._last = clock.monotonic()

    def beat(self) -> None:
        self._last = self.clock.monotonic()

    @property
    def age(self) -> float:
        """Seconds since the last beat (since start-up before the first)."""
        return max(0.0, self.clock.monotonic() - self._last)

    @property
    def stale_after(self) -> float:
        """A scheduler that missed three beats in a row is wedged, not merely busy."""
        return 3 * self.interval

    @property
    def alive(self) -> bool:
        return self.age < self.stale_after


class Metrics:
    """Every metric the daemon exports, in a registry of its own; thread-safe (the scheduler's
    jobs run in threads, Prometheus scrapes from the web server's)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        # No `*_created` series beside each counter and histogram: they double what a scrape
        # carries and Prometheus' text format does not use them (process-wide, like the env
        # variable PROMETHEUS_DISABLE_CREATED_SERIES that does the same).
        disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated upstream
        self.registry = CollectorRegistry()
        self._lock = threading.Lock()
        self._last_poll: dict[str, float] = {}
        self._states: dict[str, str] = {}
        source = ["source", "platform"]
        self.posts = {
            stage: Counter(
                f"{PREFIX}_posts_{stage}",
                f"Posts {stage} by each source's polls",
                source,
                registry=self.registry,
            )
            for stage in POST_STAGES
        }
        self.poll_seconds = Histogram(
            f"{PREFIX}_poll_seconds",
            "How long a successful poll took, fetch to commit",
            ["source"],
            buckets=POLL_BUCKETS,
            registry=self.registry,
        )
        self.fetch_errors = Counter(
            f"{PREFIX}_fetch_errors",
            "Failed polls by source and kind: " + ", ".join(ERROR_KINDS),
            ["source", "kind"],
            registry=self.registry,
        )
        self.source_paused = Gauge(
            f"{PREFIX}_source_paused_seconds",
            "Seconds left before a paused source is polled again (0: not paused)",
            ["source"],
            registry=self.registry,
        )
        self.source_state = Gauge(
            f"{PREFIX}_source_state",
            "1 for the state each source is in (ok, standby, failing, rate_limited...)",
            ["source", "state"],
            registry=self.registry,
        )
        self.connector_gauges = {
            name: Gauge(f"{PREFIX}_{name}", doc, ["source"], registry=self.registry)
            for name, doc in CONNECTOR_GAUGES.items()
        }
        self.outbox_pending = Gauge(
            f"{PREFIX}_outbox_pending",
            "Alerts waiting to be delivered to Slack (pending or failed, not yet sent)",
            registry=self.registry,
        )
        self.outbox_oldest_age = Gauge(
            f"{PREFIX}_outbox_oldest_pending_age_seconds",
            "Age of the oldest alert waiting for delivery (0: none waits)",
            registry=self.registry,
        )
        self.alert_latency = Histogram(
            f"{PREFIX}_alert_latency_seconds",
            "Seconds from a post's creation on the platform to its alert in Slack",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.deliveries = Counter(
            f"{PREFIX}_deliveries",
            "Delivery attempts by outcome: " + ", ".join(DELIVERY_OUTCOMES),
            ["outcome"],
            registry=self.registry,
        )
        self.claim_seconds = Histogram(
            f"{PREFIX}_alert_claim_seconds",
            "Seconds from an alert in Slack to a person claiming it, by severity",
            ["severity"],
            buckets=HANDLING_BUCKETS,
            registry=self.registry,
        )
        self.resolve_seconds = Histogram(
            f"{PREFIX}_alert_resolve_seconds",
            "Seconds from an alert in Slack to a person closing it, by severity",
            ["severity"],
            buckets=HANDLING_BUCKETS,
            registry=self.registry,
        )
        self.second_opinions = Counter(
            f"{PREFIX}_second_opinions",
            "Borderline posts for the second opinion, by outcome: "
            + ", ".join(SECOND_OPINION_OUTCOMES),
            ["outcome"],
            registry=self.registry,
        )
        self.model = Info(
            f"{PREFIX}_model", "The classifier version judging posts now", registry=self.registry
        )
        self.database_up = Gauge(
            f"{PREFIX}_database_up",
            "1 when the database answered the last scrape's queries, else 0",
            registry=self.registry,
        )
        self.text_index_behind = Gauge(
            f"{PREFIX}_text_index_behind_posts",
            "Stored posts the history view's text index has not reached yet (searches check "
            "them one by one meanwhile); 0 when it has caught up",
            registry=self.registry,
        )
        self.heartbeat_age = Gauge(
            f"{PREFIX}_scheduler_heartbeat_age_seconds",
            "Seconds since the scheduler's heartbeat job last ran",
            registry=self.registry,
        )
        for outcome in DELIVERY_OUTCOMES:  # each series exists from the start: rate() sees 0
            self.deliveries.labels(outcome)
        for outcome in SECOND_OPINION_OUTCOMES:
            self.second_opinions.labels(outcome)

    # -- events, fed by the core's callbacks ---------------------------------------------------

    def polled(self, report: PollLike) -> None:
        """A source's poll finished (`SourceRunner`'s `on_poll`)."""
        labels = (report.source, report.platform)
        counts = {
            "fetched": report.fetched,
            "stored": report.stored,
            "flagged": report.flagged,
            "alerted": report.alerts,
            "quarantined": report.quarantined,
            "muted": report.muted,
            "brand_own": report.brand_own,
        }
        for stage, count in counts.items():
            self.posts[stage].labels(*labels).inc(count)
        self.poll_seconds.labels(report.source).observe(report.seconds)
        with self._lock:
            self._last_poll[report.source] = self.clock.monotonic()

    def poll_failed(self, source: str, err: BaseException) -> None:
        """A source's poll raised (`SourceRunner`'s `on_error`): counted by `error_kind`."""
        self.fetch_errors.labels(source, error_kind(err)).inc()
        with self._lock:
            self._last_poll[source] = self.clock.monotonic()

    def last_poll(self, source: str) -> float | None:
        """When the source's last poll finished, succeeded or failed (`Clock.monotonic`)."""
        with self._lock:
            return self._last_poll.get(source)

    def delivered(self, report: DeliveryLike) -> None:
        """A delivery round finished (`Deliverer`'s `on_report`)."""
        for outcome in DELIVERY_OUTCOMES:
            count: int = getattr(report, outcome)
            if count:
                self.deliveries.labels(outcome).inc(count)
        for seconds in report.sent_latencies:
            self.alert_latency.observe(max(0.0, seconds))

    def second_opinion(self, outcome: str) -> None:
        """One borderline post and what asking the model came to (`SecondOpinion`)."""
        self.second_opinions.labels(outcome).inc()

    def model_loaded(self, version: str) -> None:
        self.model.info({"version": version})

    # -- states, set when Prometheus scrapes ---------------------------------------------------

    def source_status(
        self, source: str, state: str, paused_seconds: float, gauges: Mapping[str, float]
    ) -> None:
        self.source_paused.labels(source).set(max(0.0, paused_seconds))
        with self._lock:  # one state at a time per source: the one it left goes back to 0
            before = self._states.get(source)
            if before is not None and before != state:
                self.source_state.labels(source, before).set(0)
            self._states[source] = state
            self.source_state.labels(source, state).set(1)
        for name, value in gauges.items():
            gauge = self.connector_gauges.get(name)
            if gauge is not None:
                gauge.labels(source).set(value)

    def outbox(self, pending: int, oldest_age: float | None) -> None:
        self.outbox_pending.set(pending)
        self.outbox_oldest_age.set(max(0.0, oldest_age or 0.0))

    def handled(self, step: str, severity: str, seconds: float) -> None:
        """A person claimed ("claim") or closed ("resolve") an alert `seconds` after it was
        in Slack."""
        histogram = self.claim_seconds if step == "claim" else self.resolve_seconds
        histogram.labels(severity).observe(max(0.0, seconds))

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
