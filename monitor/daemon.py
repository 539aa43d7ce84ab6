"""Wires the parts together and runs them: on a schedule, or once (for cron, smoke checks, tests).

APScheduler 3 runs one job per source (`poll:<name>`, its own interval and jitter, one instance at
a time, coalesced) and one delivery job; a slow or failing source never holds the others. The job
store is in memory and rebuilt from the config at start-up: cursors live in our own tables.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from connectors import connector_for
from connectors.base import Connector
from monitor.classifier import Classifier
from monitor.classifier.second_opinion import build_second_opinion
from monitor.classifier.training import NotEnoughFeedback
from monitor.clock import Clock, SystemClock
from monitor.config import MonitorConfig
from monitor.delivery import Deliverer, DeliveryReport
from monitor.errors import StorageUnavailable
from monitor.health import Health, Outage
from monitor.learning import Learner
from monitor.notify import Notifier
from monitor.pipeline import Pipeline
from monitor.slack.app import SlackApp
from monitor.slack.routing import Router, TopicFinder
from monitor.slack.sink import SlackNotifier, build_notifier
from monitor.sources import SourceRunner
from monitor.storage import Database, Storage

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 8.0
"""In-flight work gets this long at SIGTERM; systemd's stop timeout is longer, and a poll cut
short loses nothing (its transaction never committed, its cursor never moved)."""


def build_connectors(config: MonitorConfig, clock: Clock) -> list[Connector[Any, Any]]:
    return [
        connector_for(settings.type)(settings, config.brand, clock)
        for settings in config.enabled_sources()
    ]


class Daemon:
    def __init__(
        self,
        config: MonitorConfig,
        *,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.database = Database(config.database_url)
        self.storage = Storage(self.database, config.slack.channel)
        self.notifier: Notifier = notifier or build_notifier(config.slack)
        self.learner = Learner(
            config.classifier,
            config.brand,
            config.daemon.state_path,
            self.storage.feedback,
            self.clock,
        )
        self.second_opinion = build_second_opinion(config.classifier, self.clock)
        self.pipeline = Pipeline(
            config.brand,
            self.storage.posts,
            Classifier(config.classifier, config.brand),  # the model is loaded in `prepare`
            self.clock,
            route=Router(config.slack),
            topic=TopicFinder(config.slack.storms.topics),
            second_opinion=self.second_opinion.review if self.second_opinion else None,
        )
        self._model_file: str | None = None
        self._training_blocked: str | None = None
        self.slack_app: SlackApp | None = None
        if isinstance(self.notifier, SlackNotifier):  # buttons, storms, escalation, digest
            self.slack_app = SlackApp(config.slack, self.notifier, self.storage, self.clock)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        lease = timedelta(seconds=config.daemon.lease_seconds)
        self.runners = [
            SourceRunner(
                connector,
                self.pipeline,
                self.storage.leases,
                self.clock,
                self.notifier.notify,
                owner=self.owner,
                lease=lease,
            )
            for connector in build_connectors(config, self.clock)
        ]
        # Alerts a dead process claimed are retried one lease after its claim (the check
        # before a resend makes that safe), the same configured period as a source's lease.
        self.deliverer = Deliverer(self.storage.outbox, self.notifier, self.clock, lease=lease)
        self._scheduler: BackgroundScheduler | None = None
        self.database_health = Health("database", log, self.clock, remind_seconds=60.0)

    def prepare(self) -> None:
        """Take the single-process lock (SQLite), bring the schema up to date, and check that
        every Slack channel configured is private with the bot in it."""
        self.database.acquire_single_process_lock()
        self.database.upgrade()
        if self.database.is_sqlite:  # alone on the file: the leases left are a dead process's
            taken = self.storage.leases.take_over_all(self.owner)
            if taken:
                log.info("took over %d source lease(s) of a previous process at once", taken)
        if self.slack_app is not None:
            self.slack_app.verify_channels()
        self._load_model()
        log.info(
            "ready: database=%s sources=%s notifier=%s classifier=%s",
            self.database.display_url,
            ",".join(r.name for r in self.runners),
            type(self.notifier).__name__,
            self.pipeline.classifier.version,
        )

    def close(self) -> None:
        if self.slack_app is not None:
            self.slack_app.close()
        for runner in self.runners:
            runner.release()
            runner.connector.close()
        if self.second_opinion is not None:
            self.second_opinion.close()
        self.notifier.close()
        self.database.close()

    # -- one pass ----------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Poll every source once, then deliver everything due. True when all went well."""
        for runner in self.runners:
            runner.poll()
        healthy = all(runner.healthy for runner in self.runners)
        report = self.deliver()
        return healthy and report is not None and report.failed == 0

    def deliver(self) -> DeliveryReport | None:
        """Deliver until nothing is due now; None when the database is unreachable."""
        total = DeliveryReport()
        try:
            while True:
                storms = self.slack_app.deliver_storms().sent if self.slack_app else 0
                report = self.deliverer.deliver_due()
                report.sent += storms
                total.sent += report.sent
                total.failed += report.failed
                total.deferred += report.deferred
                total.found_in_channel += report.found_in_channel
                total.previewed += report.previewed
                total.parked += report.parked
                if not (report.sent or report.found_in_channel or report.previewed):
                    break
        except StorageUnavailable as err:
            self._database_down(err)
            return None
        self._database_up()
        return total

    def _database_down(self, err: StorageUnavailable) -> None:
        def said(_outage: Outage) -> str:
            return f"database unavailable ({err}); alerts wait in the outbox, retrying"

        self.database_health.fail("unavailable", str(err), said, reminder=said, level=logging.ERROR)

    def _database_up(self) -> None:
        self.database_health.recover(
            lambda outage: (
                f"database is back after {outage.seconds(self.clock.now()):.0f}s; delivery resumed"
            )
        )

    def purge_old_posts(self) -> int:
        """`[retention]`: posts older than `days`, labeled examples older than `feedback_days`."""
        retention = self.config.retention
        purged = 0
        try:
            if retention.days:
                cutoff = self.clock.now() - timedelta(days=retention.days)
                purged = self.storage.posts.purge_before(cutoff, retention.batch_size)
                log.info("retention purged=%d posts older than %d days", purged, retention.days)
            if retention.feedback_days:
                cutoff = self.clock.now() - timedelta(days=retention.feedback_days)
                dropped = self.learner.feedback.purge_before(cutoff)
                log.info(
                    "retention purged=%d labeled examples older than %d days",
                    dropped,
                    retention.feedback_days,
                )
        except StorageUnavailable as err:
            log.warning("retention skipped: %s; it runs again tomorrow", err)
        return purged

    # -- learning ------------------------------------------------------------------------------

    def refresh_model(self) -> None:
        """Pick up a model `complaint-monitor train` promoted, and retrain (auto_train) once
        `retrain_after_feedback` new labels arrived. Training runs in this job's thread; polls
        and delivery carry on in theirs."""
        try:
            if self.learner.models.current_name() != self._model_file:
                self._load_model()
            settings = self.config.classifier
            if not (settings.auto_train and settings.use_model):
                return
            if not self.learner.retrain_due(self.pipeline.classifier.model):
                return
            outcome = self.learner.train()
        except NotEnoughFeedback as err:
            if str(err) != self._training_blocked:
                log.info("not retrained yet: %s", err)
            self._training_blocked = str(err)
            return
        except StorageUnavailable as err:
            log.warning("retraining skipped: %s; it is tried again later", err)
            return
        self._training_blocked = None
        report = outcome.result.report()
        log.info(
            "trained %s on %d labels: cross-validated macro-F1 %.3f, scorer alone %.3f; %s",
            outcome.result.model.name,
            report["examples"],
            report["cross_validated"]["macro_f1"],
            report["scorer_only"]["macro_f1"],
            "promoted" if outcome.promoted else "NOT promoted (it did not beat the scorer)",
        )
        if outcome.promoted:
            self._load_model()

    def _load_model(self) -> None:
        self._model_file = self.learner.models.current_name()
        classifier = self.learner.live_classifier()
        if classifier.version != self.pipeline.classifier.version:
            log.info("classifier is now %s", classifier.version)
        self.pipeline.classifier = classifier  # one assignment: a poll sees the old or the new

    # -- the schedule ------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        scheduler.add_listener(self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        now = datetime.now(UTC)
        for runner in self.runners:
            settings = runner.connector.settings
            scheduler.add_job(
                self._poll_job,
                "interval",
                args=[runner],
                id=f"poll:{runner.name}",
                seconds=settings.interval_seconds,
                jitter=settings.jitter_seconds or None,
                next_run_time=now,
                replace_existing=True,
            )
        scheduler.add_job(
            self._deliver_job,
            "interval",
            id="deliver",
            seconds=self.config.daemon.deliver_interval_seconds,
            next_run_time=now,
        )
        if self.config.retention.days or self.config.retention.feedback_days:
            scheduler.add_job(
                self.purge_old_posts,
                "interval",
                id="retention",
                hours=24,
                next_run_time=now + timedelta(minutes=5),
            )
        scheduler.add_job(
            self.refresh_model,
            "interval",
            id="learn",
            minutes=self.config.classifier.retrain_check_minutes,
            next_run_time=now + timedelta(seconds=30),
        )
        if self.slack_app is not None:
            self.slack_app.schedule(scheduler)
            self.slack_app.start()
        self._scheduler = scheduler
        scheduler.start()
        stop.wait()
        log.info("stopping: finishing work in flight (at most %.0fs)", SHUTDOWN_GRACE_SECONDS)
        self._shutdown(scheduler)

    def _shutdown(self, scheduler: BackgroundScheduler) -> None:
        waiter = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
        waiter.start()
        waiter.join(SHUTDOWN_GRACE_SECONDS)
        if waiter.is_alive():
            log.warning(
                "work still in flight after %.0fs; exiting anyway (nothing is lost: "
                "an unfinished poll never committed)",
                SHUTDOWN_GRACE_SECONDS,
            )
        else:
            log.info("stopped cleanly")

    def _poll_job(self, runner: SourceRunner) -> None:
        report = runner.poll()
        if report is None or self._scheduler is None:
            return
        if report.alerts:
            self._run_soon("deliver")
        if report.more:
            self._run_soon(f"poll:{runner.name}", delay=1.0)

    def _deliver_job(self) -> None:
        self.deliver()

    def _run_soon(self, job_id: str, delay: float = 0.0) -> None:
        assert self._scheduler is not None
        try:
            self._scheduler.modify_job(
                job_id, next_run_time=datetime.now(UTC) + timedelta(seconds=delay)
            )
        except Exception:  # the scheduler is shutting down; the next regular run will do
            log.debug("could not reschedule %s", job_id, exc_info=True)

    @staticmethod
    def _on_job_event(event: JobExecutionEvent) -> None:
        if event.exception is not None:
            log.error("job %s failed: %r", event.job_id, event.exception)
        else:
            log.warning("job %s missed its run time (the machine was busy or asleep)", event.job_id)
