"""Wires the parts together and runs them: on a schedule, or once (for cron, smoke checks, tests).

APScheduler 3 runs one job per source (`poll:<name>`, its own interval and jitter, one instance at
a time, coalesced) and one delivery job; a slow or failing source never holds the others. The job
store is in memory and rebuilt from the config at start-up: cursors live in our own tables.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import uuid
from datetime import timedelta
from typing import Any

from connectors import connector_for
from connectors.base import Connector
from monitor.classifier import Classifier
from monitor.classifier.fit_process import TrainingFailed
from monitor.classifier.second_opinion import build_second_opinion
from monitor.classifier.training import NotEnoughFeedback
from monitor.clock import Clock, SystemClock
from monitor.config import MonitorConfig
from monitor.delivery import Deliverer, DeliveryReport
from monitor.errors import ConfigError, StorageUnavailable
from monitor.health import Health, Outage, backoff
from monitor.learning import Learner
from monitor.metrics import Heartbeat, Metrics
from monitor.notify import Notifier
from monitor.pipeline import Pipeline
from monitor.scheduling import Scheduler, poll_job_id, poll_workers
from monitor.silence import SilenceWatch
from monitor.slack.app import SlackApp
from monitor.slack.routing import Router, TopicFinder
from monitor.slack.sink import SlackNotifier, build_notifier
from monitor.sources import SourceRunner
from monitor.storage import Database, Storage
from monitor.storage.history import HistoryStore
from monitor.systemd_notify import SystemdNotifier
from monitor.web.server import WebServer

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 8.0
"""In-flight work gets this long at SIGTERM; systemd's stop timeout is longer, and a poll cut
short loses nothing (its transaction never committed, its cursor never moved)."""
HEARTBEAT_SECONDS = 10.0
"""The scheduler's heartbeat job runs this often (at least twice per systemd `WatchdogSec=`)."""
UPKEEP_SECONDS = 10
"""The history view's word index catches up this often (what it has not reached yet, searches
check one post at a time, so a run every few seconds keeps that tail to a few polls), and
SQLite's WAL is checkpointed."""
UPKEEP_RETRY_CAP_SECONDS = 3600.0
"""After failures that are not outages, upkeep pauses 10 s, 20 s, 40 s... up to an hour."""
TEXT_INDEX_MAX_SECONDS = 5.0
"""A run's bound (the batch under way is finished); a backlog takes several runs."""


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
        self.metrics = Metrics(self.clock)
        self.systemd = SystemdNotifier.from_environment()
        watchdog = self.systemd.watchdog_seconds
        self.heartbeat = Heartbeat(
            self.clock, min(HEARTBEAT_SECONDS, watchdog / 2) if watchdog else HEARTBEAT_SECONDS
        )
        self.web: WebServer | None = None
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
        self.second_opinion = build_second_opinion(
            config.classifier, self.clock, self.metrics.second_opinion
        )
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
        self._text_index_behind = False
        self.upkeep_health = Health("text index upkeep", log, self.clock, remind_seconds=3600.0)
        self._upkeep_retry_at = 0.0
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
                on_poll=self.metrics.polled,
                on_error=self.metrics.poll_failed,
                status=self.storage.source_status,
                notify_after_failures=config.daemon.notify_after_failures,
                summary_every=timedelta(minutes=config.daemon.summary_minutes),
            )
            for connector in build_connectors(config, self.clock)
        ]
        self.silence = SilenceWatch(
            self.storage.source_status,
            [runner.name for runner in self.runners],
            config.daemon.silence,
            self.clock,
            self.notifier.notify,
        )
        # Alerts a dead process claimed are retried one lease after its claim (the check
        # before a resend makes that safe), the same configured period as a source's lease.
        self.deliverer = Deliverer(
            self.storage.outbox,
            self.notifier,
            self.clock,
            lease=lease,
            on_report=self.metrics.delivered,
        )
        self._scheduler: Scheduler | None = None
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
        if self.config.brand.handles:  # a rule that keeps posts from people: said, like a mute
            log.info(
                "the brand's own accounts, whose posts are stored and never alerted: %s",
                ", ".join(f"@{handle}" for handle in self.config.brand.handles),
            )
        log.info(
            "ready: database=%s sources=%s notifier=%s classifier=%s",
            self.database.display_url,
            ",".join(r.name for r in self.runners),
            type(self.notifier).__name__,
            self.pipeline.classifier.version,
        )

    def close(self) -> None:
        if self.web is not None:
            self.web.close()
        self.systemd.close()
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
        """Poll every source once, deliver everything due, then the upkeep that `run` does
        behind the polls (a `run-once` from cron would otherwise leave the text index ever
        further behind). True when all went well."""
        for runner in self.runners:
            runner.poll()
        healthy = all(runner.healthy for runner in self.runners)
        report = self.deliver()
        self.upkeep()
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
        outage = self.database_health.recover(
            lambda outage: (
                f"database is back after {outage.seconds(self.clock.now()):.0f}s; delivery resumed"
            )
        )
        if outage is not None:  # an outage the daemon saw end: the sources need not sit it out
            for runner in self.runners:
                runner.database_is_back()

    def purge_old_posts(self) -> int:
        """`[retention]`: posts older than `days`, labeled examples older than `feedback_days`;
        and mutes that lapsed (they already count for nothing; their alerts stop saying so)."""
        retention = self.config.retention
        purged = 0
        try:
            lapsed = self.storage.alerts.remove_lapsed_mutes(self.clock.now())
            if lapsed:
                log.info("%d lapsed mute(s) removed: those authors are alerted again", lapsed)
            if retention.days:
                cutoff = self.clock.now() - timedelta(days=retention.days)
                run = self.storage.retention.purge(
                    cutoff,
                    batch_size=retention.batch_size,
                    max_seconds=retention.max_seconds_per_run,
                )
                purged = run.purged
                behind = (
                    ""
                    if run.caught_up
                    else f"; behind: {run.remaining} older posts left after "
                    f"{retention.max_seconds_per_run:g}s, the next runs continue"
                )
                log.info(
                    "retention purged=%d posts older than %d days in %.1fs%s",
                    run.purged,
                    retention.days,
                    run.seconds,
                    behind,
                )
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

    def upkeep(self) -> None:
        """Work kept off the polls' path: the history view's word index catches up
        (`storage.text_index`), and SQLite's WAL is copied into the database file
        (`Database.checkpoint`). The index is logged when it falls behind and when it has
        caught up, not every run: searches find the posts it has not reached either way.

        A failure is said once with its error, reminded hourly, and tried again after a
        growing pause (`backoff`, up to an hour) rather than every 10 s: an outage heals by
        itself, a damaged index does not, and SQLite reports both as operational errors;
        "works again" when a run works."""
        if self.clock.monotonic() < self._upkeep_retry_at:
            return
        try:
            run = self.storage.text_index.catch_up(max_seconds=TEXT_INDEX_MAX_SECONDS)
            self.database.checkpoint()  # after: the index's own pages go too
        except Exception as err:  # said once, paused, tried again: never swallowed
            failures = self.upkeep_health.failures + 1
            self._upkeep_retry_at = self.clock.monotonic() + backoff(
                failures, UPKEEP_SECONDS, UPKEEP_RETRY_CAP_SECONDS
            )
            error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            self.upkeep_health.fail(
                "failed",
                error,
                lambda outage: (
                    f"text index upkeep failed ({outage.error}); searches check the posts it "
                    "has not reached one by one meanwhile. If the SQLite index is damaged, "
                    'stop the daemon and run: sqlite3 FILE "INSERT INTO posts_text(posts_text) '
                    "VALUES('rebuild')\""
                ),
                reminder=lambda outage: (
                    f"text index upkeep still failing after {outage.failures} tries "
                    f"({outage.error})"
                ),
                # an outage is delivery's to announce too; a damaged index is only ours
                level=logging.WARNING if isinstance(err, StorageUnavailable) else logging.ERROR,
            )
            return
        self._upkeep_retry_at = 0.0
        self.upkeep_health.recover(lambda _outage: "text index upkeep works again")
        self.metrics.text_index_behind.set(run.behind)
        if run.behind and not self._text_index_behind:
            log.warning(
                "text index behind: %d stored posts left after %.1fs (searches check them "
                "one by one meanwhile); the next runs continue",
                run.behind,
                run.seconds,
            )
        elif self._text_index_behind and not run.behind:
            log.info("text index caught up")
        self._text_index_behind = run.behind > 0

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
        except TrainingFailed:  # the learner's Health said why; the current model stays
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
        self.metrics.model_loaded(classifier.version)

    # -- the schedule ------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Schedule every job (`monitor.scheduling`: polls, delivery and maintenance each in
        their own lane) and run until `stop` is set."""
        scheduler = Scheduler(
            poll_workers=poll_workers(len(self.runners), self.config.daemon.poll_workers),
            clock=self.clock,
        )
        for runner in self.runners:
            settings = runner.connector.settings
            scheduler.add_poll(
                runner.name,
                functools.partial(self._poll_job, runner),
                interval=settings.interval_seconds,
                jitter=settings.jitter_seconds,
            )
        scheduler.add_delivery(
            self._deliver_job, interval=self.config.daemon.deliver_interval_seconds
        )
        scheduler.add_job(self.purge_old_posts, id="retention", hours=24, first_run_in=300)
        scheduler.add_job(self.upkeep, id="upkeep", seconds=UPKEEP_SECONDS)
        retrain = self.config.classifier.retrain_check_minutes
        scheduler.add_job(self.refresh_model, id="learn", minutes=retrain, first_run_in=30)
        if self.config.daemon.silence.enabled:
            every = self.config.daemon.silence.check_minutes
            scheduler.add_job(self.silence.check, id="silence", minutes=every, first_run_in=60)
        scheduler.add_job(
            self.beat, id="heartbeat", seconds=self.heartbeat.interval, first_run_in=0
        )
        if self.slack_app is not None:
            self.slack_app.schedule(scheduler)
            self.slack_app.start()
        self.serve_http()
        self._scheduler = scheduler
        scheduler.start()
        self.systemd.ready(self.status_line())
        stop.wait()
        self.systemd.stopping()
        log.info("stopping: finishing work in flight (at most %.0fs)", SHUTDOWN_GRACE_SECONDS)
        self._shutdown(scheduler)

    def _shutdown(self, scheduler: Scheduler) -> None:
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

    # -- operations: the HTTP port, the heartbeat, systemd ------------------------------------

    def serve_http(self) -> None:
        """Open `[daemon] http_listen` (when set): /metrics, /healthz, /readyz, and with
        `web_token_env` the read-only history pages at /."""
        settings = self.config.daemon
        listen = settings.http_listen
        if listen is None or self.web is not None:
            return
        from monitor.web.app import create_app  # Flask only when the port is on
        from monitor.web.history import history_blueprint
        from monitor.web.ops import Ops

        history = None
        if settings.web_token_env:
            token = settings.secret("web_token")
            if token is None:
                raise ConfigError(
                    f"[daemon] web_token_env names {settings.web_token_env}, which is not set: "
                    "set it (or a systemd credential of that name), or remove web_token_env to "
                    "turn the history pages off"
                )
            store = HistoryStore(self.database)
            history = history_blueprint(store, token.get_secret_value(), clock=self.clock)

        ops = Ops(
            metrics=self.metrics,
            heartbeat=self.heartbeat,
            database=self.database,
            outbox=self.storage.outbox,
            alerts=self.storage.alerts,
            runners=self.runners,
            clock=self.clock,
            outbox_max_age=self.config.daemon.ready_outbox_max_age_seconds,
            previews=not self.deliverer.preview,
        )
        self.web = WebServer(create_app(ops, history), listen)
        self.web.start()

    def beat(self) -> None:
        """The heartbeat job: it runs only while the scheduler runs jobs, so /healthz and
        systemd's watchdog (fed here) notice a wedged scheduler; systemd then restarts us."""
        self.heartbeat.beat()
        self.systemd.alive(self.status_line())

    def status_line(self) -> str:
        """systemd's one-line STATUS=, from memory only (it is sent at every heartbeat)."""
        states: dict[str, int] = {}
        for runner in self.runners:
            states[runner.state.value] = states.get(runner.state.value, 0) + 1
        sources = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        database = "ok" if self.database_health.healthy else "unavailable"
        return (
            f"sources: {sources or 'none'}; database {database}; "
            f"model {self.pipeline.classifier.version}"
        )

    def _poll_job(self, runner: SourceRunner) -> None:
        report = runner.poll()
        if report is None or self._scheduler is None:
            return
        if report.alerts:
            self._run_soon("deliver")
        if report.more:
            self._run_soon(poll_job_id(runner.name), delay=1.0)

    def _deliver_job(self) -> None:
        self.deliver()

    def _run_soon(self, job_id: str, delay: float = 0.0) -> None:
        if self._scheduler is not None:
            self._scheduler.run_soon(job_id, delay)
