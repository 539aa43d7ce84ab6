"""/metrics, /healthz and /readyz: what Prometheus, systemd and a load balancer ask the daemon.

- ``/metrics``: `monitor.metrics.Metrics` in Prometheus' text format. Events were counted as
  they happened; states (the outbox, each source's pause and state, the X read budget, the
  team's claims and closes since the last scrape) are read here, at the scrape.
- ``/healthz``: the process answers and its scheduler is alive (its heartbeat job ran lately).
  Failing means "restart me".
- ``/readyz``: the daemon can do its work: the database answers ``select 1`` within a short
  timeout, every enabled source was polled within 3 intervals or is paused for a stated reason,
  and the oldest undelivered alert is younger than `[daemon] ready_outbox_max_age_seconds`.
  Failing means "look at me"; the JSON body names the check that failed and why.

Both answer 200 or 503 with ``{"status", "failed", "checks": {name: {"ok", "detail"}}}``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from monitor.clock import Clock
from monitor.errors import StorageUnavailable
from monitor.metrics import Heartbeat, Metrics
from monitor.sources import SourceRunner, SourceState
from monitor.storage import Database
from monitor.storage.alerts import AlertStore
from monitor.storage.outbox import Outbox

DATABASE_TIMEOUT = 2.0
"""Seconds `select 1` may take before the database counts as unreachable: a probe must answer
well inside a load balancer's or Prometheus' own timeout."""
POLLS_MISSED = 3
"""A source not polled for this many intervals (plus jitter) is stuck, unless it is paused."""


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str
    items: dict[str, str] = field(default_factory=dict)
    """Per-item details (each source), when the check covers several."""


def _answer(checks: dict[str, Check]) -> tuple[bool, dict[str, Any]]:
    failed = [name for name, check in checks.items() if not check.ok]
    body: dict[str, Any] = {
        "status": "failing" if failed else "ok",
        "failed": failed,
        "checks": {
            name: {"ok": check.ok, "detail": check.detail}
            | ({"items": check.items} if check.items else {})
            for name, check in checks.items()
        },
    }
    return not failed, body


class DatabasePing:
    """``select 1`` with a deadline. The query runs in a daemon thread; one that has not
    answered yet is waited for again by the next probe instead of starting another, so a hung
    database costs one thread, not one per probe."""

    def __init__(self, database: Database, timeout: float = DATABASE_TIMEOUT) -> None:
        self.database = database
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pending: Future[None] | None = None

    def __call__(self) -> str | None:
        """None when the database answered in time, else why not."""
        with self._lock:
            if self._pending is None or self._pending.done():
                self._pending = self._start()
            pending = self._pending
        try:
            pending.result(self.timeout)
        except FutureTimeout:
            return f"no answer to select 1 within {self.timeout:g}s"
        except StorageUnavailable as err:
            return str(err)
        except Exception as err:  # a refused statement, a driver surprise: not reachable either
            return f"select 1 failed: {type(err).__name__}"
        return None

    def _start(self) -> Future[None]:
        future: Future[None] = Future()

        def ping() -> None:
            try:
                with self.database.session() as session:
                    session.execute(text("select 1"))
            except BaseException as err:
                future.set_exception(err)
            else:
                future.set_result(None)

        threading.Thread(target=ping, name="readyz-database", daemon=True).start()
        return future


class Ops:
    """What the ops endpoints read; built by the daemon from the parts it already has."""

    def __init__(
        self,
        *,
        metrics: Metrics,
        heartbeat: Heartbeat,
        database: Database,
        outbox: Outbox,
        alerts: AlertStore,
        runners: Sequence[SourceRunner],
        clock: Clock,
        outbox_max_age: float,
        previews: bool = True,
        database_timeout: float = DATABASE_TIMEOUT,
    ) -> None:
        self.metrics = metrics
        self.heartbeat = heartbeat
        self.outbox = outbox
        self.alerts = alerts
        self.runners = list(runners)
        self.clock = clock
        self.outbox_max_age = outbox_max_age
        self.previews = previews
        """Whether printed previews still wait for Slack (False with the console notifier)."""
        self.ping = DatabasePing(database, database_timeout)
        self._started = clock.monotonic()
        self._scrape_lock = threading.Lock()
        self._handled_mark = clock.now()
        """Claims and closes at or after this are not counted yet (start-up: only new ones)."""
        self._handled_at_mark: set[tuple[int, str]] = set()

    # -- /metrics ------------------------------------------------------------------------------

    def scrape(self) -> bytes:
        with self._scrape_lock:  # two scrapes at once must not count a claim twice
            self._refresh()
        return self.metrics.exposition()

    def _refresh(self) -> None:
        metrics, now = self.metrics, self.clock.now()
        metrics.heartbeat_age.set(self.heartbeat.age)
        for runner in self.runners:
            paused = (runner.paused_until - now).total_seconds() if runner.paused_until else 0.0
            metrics.source_status(
                runner.name, runner.state.value, paused, runner.connector.gauges()
            )
        reachable = self.ping() is None
        if reachable:
            try:
                waiting = self.outbox.waiting(previews=self.previews)
                oldest = waiting.oldest_created_at
                age = (now - oldest).total_seconds() if oldest is not None else None
                metrics.outbox(waiting.count, age)
                self._count_handled()
            except StorageUnavailable:
                reachable = False
        metrics.database_up.set(1 if reachable else 0)

    def _count_handled(self) -> None:
        """Claims and closes since the last scrape, into the handling-time histograms. Those
        exactly at the mark were counted by the scrape that set it, and are skipped."""
        handled = self.alerts.handled_since(self._handled_mark)
        fresh = [
            h
            for h in handled
            if not (h.at == self._handled_mark and (h.alert_id, h.step) in self._handled_at_mark)
        ]
        for item in fresh:
            self.metrics.handled(item.step, item.severity, item.seconds)
        if fresh:
            mark = max(h.at for h in fresh)
            if mark != self._handled_mark:
                self._handled_mark, self._handled_at_mark = mark, set()
            self._handled_at_mark |= {(h.alert_id, h.step) for h in fresh if h.at == mark}

    # -- /healthz ------------------------------------------------------------------------------

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        heartbeat = self.heartbeat
        age = heartbeat.age
        detail = f"heartbeat {age:.0f}s ago"
        if not heartbeat.alive:
            detail = (
                f"no heartbeat for {age:.0f}s (expected every {heartbeat.interval:g}s): the "
                "scheduler is wedged or stopped"
            )
        return _answer({"scheduler": Check(heartbeat.alive, detail)})

    # -- /readyz -------------------------------------------------------------------------------

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        unreachable = self.ping()
        database = Check(unreachable is None, unreachable or "select 1 answered")
        outbox = Check(False, "not checked: the database does not answer")
        if database.ok:
            outbox = self._outbox_check()
        return _answer({"database": database, "sources": self._sources_check(), "outbox": outbox})

    def _sources_check(self) -> Check:
        items: dict[str, str] = {}
        stuck: list[str] = []
        for runner in self.runners:
            ok, items[runner.name] = self._source(runner)
            if not ok:
                stuck.append(runner.name)
        if stuck:
            return Check(False, f"not polled lately: {', '.join(stuck)}", items)
        return Check(True, f"{len(self.runners)} source(s) polled or paused for a reason", items)

    def _source(self, runner: SourceRunner) -> tuple[bool, str]:
        now = self.clock.now()
        if runner.state is SourceState.STANDBY:
            return True, "standby: another replica holds its lease and polls it"
        outage = runner.health.outage
        if runner.paused_until is not None and runner.paused_until > now and outage is not None:
            until = runner.paused_until.isoformat(timespec="seconds")
            return True, f"paused until {until} ({outage.state}): {outage.error}"
        settings = runner.connector.settings
        limit = POLLS_MISSED * (settings.interval_seconds + settings.jitter_seconds)
        last = self.metrics.last_poll(runner.name)
        age = self.clock.monotonic() - (last if last is not None else self._started)
        if age > limit:
            never = " (never polled since start-up)" if last is None else ""
            return False, f"not polled for {age:.0f}s, over {limit:.0f}s{never}"
        if last is None:
            return True, "starting: not polled yet"
        return True, f"{runner.state.value}: polled {age:.0f}s ago"

    def _outbox_check(self) -> Check:
        try:
            waiting = self.outbox.waiting(previews=self.previews)
        except StorageUnavailable as err:
            return Check(False, str(err))
        if waiting.oldest_created_at is None:
            return Check(True, "no alert waiting")
        age = (self.clock.now() - waiting.oldest_created_at).total_seconds()
        detail = f"{waiting.count} alert(s) waiting, the oldest for {age:.0f}s"
        if age > self.outbox_max_age:
            return Check(False, f"{detail}, over {self.outbox_max_age:.0f}s: is Slack refusing?")
        return Check(True, detail)


def _json(ok: bool, body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def ops_blueprint(ops: Ops) -> Blueprint:
    blueprint = Blueprint("ops", __name__)

    @blueprint.get("/metrics")
    def metrics() -> Response:
        return Response(
            ops.scrape(), headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}
        )

    @blueprint.get("/healthz")
    def healthz() -> Response:
        return _json(*ops.liveness())

    @blueprint.get("/readyz")
    def readyz() -> Response:
        return _json(*ops.readiness())

    return blueprint
