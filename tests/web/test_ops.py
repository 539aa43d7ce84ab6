"""/metrics, /healthz and /readyz over the real waitress server on 127.0.0.1, in front of a
real daemon: the fake X API polled, the fake Slack delivered to, PostgreSQL cut by a TCP
proxy. Time moves on the daemon's fake clock, so "not polled for 3 intervals" takes no wait."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Blueprint
from prometheus_client.parser import text_string_to_metric_families

from monitor.clock import FakeClock
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.errors import ConfigError
from monitor.metrics import Heartbeat, Metrics
from monitor.storage import Database, Storage
from monitor.web.app import create_app
from monitor.web.ops import Ops
from monitor.web.server import WebServer, parse_listen
from tests.factories import SLACK_TOKEN_ENV, config_file
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.x_api import FakeXApi

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
COMPLAINT = "@acme still waiting on my refund for order 48213, three weeks now"
LISTEN = {"http_listen": "127.0.0.1:0"}


def feed(tmp_path: Path, *texts: str) -> None:
    lines = [
        f'{{"id": "p{n}", "platform": "x", "author": "dana", "text": "{text}", "lang": "en"}}'
        for n, text in enumerate(texts)
    ]
    (tmp_path / "feed.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def get(daemon: Daemon, path: str) -> requests.Response:
    assert daemon.web is not None
    return requests.get(daemon.web.url + path, timeout=10)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def started() -> Iterator[list[Daemon]]:
    """Daemons a test starts, closed (HTTP port included) whatever happens."""
    daemons: list[Daemon] = []
    yield daemons
    for daemon in daemons:
        daemon.close()


def start(started: list[Daemon], config: Path, clock: FakeClock | None = None) -> Daemon:
    daemon = Daemon(load_config(config), clock=clock)
    started.append(daemon)
    daemon.prepare()
    daemon.serve_http()
    return daemon


@pytest.fixture
def x_api() -> Iterator[FakeXApi]:
    with FakeXApi() as fake:
        yield fake


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        monkeypatch.setenv(SLACK_TOKEN_ENV, fake.token)
        yield fake


def test_metrics_over_http_after_a_poll_of_x_and_a_delivery_to_slack(
    tmp_path: Path,
    x_api: FakeXApi,
    slack: FakeSlack,
    started: list[Daemon],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("X_BEARER_TOKEN", x_api.bearer_token)
    x_api.add_user("acme")
    x_api.add_user("dana", followers=10)
    x_api.post(COMPLAINT, author="dana")
    x_api.post("Thanks @acme, sorted out in five minutes. Great service.", author="dana")
    source = {
        "type": "x",
        "name": "x",
        "api_base_url": x_api.base_url,
        "mentions_username": "acme",
        "searches": [],
    }
    config = config_file(tmp_path, slack_url=slack.base_url, daemon=LISTEN, sources=[source])
    daemon = start(started, config)
    assert daemon.run_once()
    assert len(slack.messages) == 1

    response = get(daemon, "/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    labels = (("platform", "x"), ("source", "x"))
    assert samples[("complaint_monitor_posts_fetched_total", labels)] == 2
    assert samples[("complaint_monitor_posts_alerted_total", labels)] == 1
    assert samples[("complaint_monitor_deliveries_total", (("outcome", "sent"),))] == 1
    assert samples[("complaint_monitor_alert_latency_seconds_count", ())] == 1
    assert samples[("complaint_monitor_outbox_pending", ())] == 0
    assert samples[("complaint_monitor_x_read_budget_used", (("source", "x"),))] == 2
    version = daemon.pipeline.classifier.version
    assert samples[("complaint_monitor_model_info", (("version", version),))] == 1


def test_healthz_fails_when_the_scheduler_stops_beating(
    tmp_path: Path, started: list[Daemon], clock: FakeClock
) -> None:
    daemon = start(started, config_file(tmp_path, daemon=LISTEN), clock)
    daemon.beat()
    assert get(daemon, "/healthz").status_code == 200

    clock.advance(3 * daemon.heartbeat.interval + 1)
    response = get(daemon, "/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["scheduler"]
    assert "no heartbeat for 31s" in body["checks"]["scheduler"]["detail"]

    daemon.beat()  # the scheduler runs its heartbeat job again
    assert get(daemon, "/healthz").json() == {
        "status": "ok",
        "failed": [],
        "checks": {"scheduler": {"ok": True, "detail": "heartbeat 0s ago"}},
    }


def test_readyz_fails_on_a_source_not_polled_for_three_intervals(
    tmp_path: Path, started: list[Daemon], clock: FakeClock
) -> None:
    feed(tmp_path, COMPLAINT)
    daemon = start(started, config_file(tmp_path, daemon=LISTEN), clock)  # polled every 1 s
    assert get(daemon, "/readyz").status_code == 200  # just started: not due yet

    clock.advance(4)
    response = get(daemon, "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["sources"]
    assert body["checks"]["sources"]["items"]["feed"] == (
        "not polled for 4s, over 3s (never polled since start-up)"
    )

    daemon.run_once()
    body = get(daemon, "/readyz").json()
    assert body["status"] == "ok"
    assert body["checks"]["sources"]["items"]["feed"] == "ok: polled 0s ago"


def test_readyz_accepts_a_source_paused_for_a_stated_reason(
    tmp_path: Path, started: list[Daemon], clock: FakeClock
) -> None:
    daemon = start(started, config_file(tmp_path, daemon=LISTEN), clock)  # feed.jsonl missing
    daemon.run_once()
    clock.advance(20)  # far more than 3 intervals of 1 s, but the source waits out a pause
    response = get(daemon, "/readyz")
    detail = response.json()["checks"]["sources"]["items"]["feed"]
    assert response.status_code == 200, detail
    assert detail.startswith("paused until 2026-11-23T12:")
    assert "feed.jsonl" in detail


def test_readyz_fails_when_the_oldest_alert_waits_too_long(
    tmp_path: Path, slack: FakeSlack, started: list[Daemon], clock: FakeClock
) -> None:
    feed(tmp_path, COMPLAINT)
    source = {"type": "jsonl", "name": "feed", "path": "feed.jsonl", "interval_seconds": 60}
    config = config_file(
        tmp_path,
        slack_url=slack.base_url,
        daemon=LISTEN | {"ready_outbox_max_age_seconds": 60},
        sources=[source],
    )
    daemon = start(started, config, clock)
    slack.fault(Fault.status(503), match="chat.postMessage")
    assert not daemon.run_once()
    assert get(daemon, "/readyz").status_code == 200  # waiting, not for long yet

    clock.advance(61)
    response = get(daemon, "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["outbox"]
    assert body["checks"]["outbox"]["detail"] == (
        "1 alert(s) waiting, the oldest for 61s, over 60s: is Slack refusing?"
    )

    clock.advance(3600)  # past the retry's backoff; Slack answers again
    assert daemon.deliver() is not None and len(slack.messages) == 1
    assert get(daemon, "/readyz").json()["checks"]["outbox"]["detail"] == "no alert waiting"


def test_readyz_turns_503_when_postgresql_is_cut_and_200_when_it_is_back(
    tmp_path: Path, started: list[Daemon], postgres_url: str
) -> None:
    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        daemon = start(started, config_file(tmp_path, daemon=LISTEN, database={"url": url}))
        assert get(daemon, "/readyz").status_code == 200

        proxy.cut()
        response = get(daemon, "/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["failed"] == ["database", "outbox"]
        assert body["checks"]["database"]["detail"].startswith("database")
        assert body["checks"]["outbox"]["detail"] == "not checked: the database does not answer"
        metrics = get(daemon, "/metrics")
        assert metrics.status_code == 200  # the scrape still answers, and says so
        assert "complaint_monitor_database_up 0.0" in metrics.text
        assert get(daemon, "/healthz").status_code == 200  # alive: a restart would not help

        proxy.restore()
        response = get(daemon, "/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["checks"]["database"] == {"ok": True, "detail": "select 1 answered"}


def test_a_database_that_does_not_answer_fails_readiness_within_the_timeout(
    clock: FakeClock,
) -> None:
    """A server that accepts the connection and never answers (a hung host): /readyz must
    answer anyway, within its own short timeout."""
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    database = Database(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test")
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
        database_timeout=0.3,
    )
    try:
        ready, body = ops.readiness()
        again, _ = ops.readiness()  # waits for the same hung query, starts no second one
    finally:
        silent.close()
    assert not ready and not again
    assert body["checks"]["database"]["detail"] == "no answer to select 1 within 0.3s"


def test_a_taken_port_is_a_clear_configuration_error(clock: FakeClock) -> None:
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        with pytest.raises(ConfigError) as raised:
            WebServer(create_app(_bare_ops(clock)), f"127.0.0.1:{port}").start()
    finally:
        taken.close()
    message = str(raised.value)
    assert f"[daemon] http_listen = 127.0.0.1:{port}" in message
    assert "already in use" in message


def test_the_history_pages_are_one_argument_away(clock: FakeClock) -> None:
    pages = Blueprint("history", __name__)
    pages.add_url_rule("/", "index", lambda: "history")
    server = WebServer(create_app(_bare_ops(clock), history=pages), "127.0.0.1:0")
    server.start()
    try:
        assert requests.get(server.url + "/", timeout=10).text == "history"
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    finally:
        server.close()
    with pytest.raises(requests.ConnectionError):  # closed: nothing listens any more
        requests.get(server.url + "/healthz", timeout=2)


def test_the_daemon_serves_the_history_pages_behind_its_token(
    tmp_path: Path, started: list[Daemon], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed(tmp_path, COMPLAINT)
    monkeypatch.setenv("TEST_WEB_TOKEN", "open-sesame-0123456789")
    daemon_table = LISTEN | {"web_token_env": "TEST_WEB_TOKEN"}
    daemon = start(started, config_file(tmp_path, daemon=daemon_table), clock)
    daemon.run_once()
    assert daemon.web is not None
    url, session = daemon.web.url, requests.Session()
    assert "/login" in session.get(url + "/", timeout=10).url, "nothing without the token"
    session.post(url + "/login", data={"token": "open-sesame-0123456789"}, timeout=10)
    page = session.get(url + "/?q=refund", timeout=10)
    assert page.status_code == 200 and "48213" in page.text
    assert get(daemon, "/healthz").status_code == 200, "the ops endpoints need no login"


def test_a_history_token_variable_that_is_unset_stops_start_up(
    tmp_path: Path, started: list[Daemon], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_WEB_TOKEN", raising=False)
    daemon_table = LISTEN | {"web_token_env": "TEST_WEB_TOKEN"}
    daemon = Daemon(load_config(config_file(tmp_path, daemon=daemon_table)), clock=clock)
    started.append(daemon)
    with pytest.raises(ConfigError, match="TEST_WEB_TOKEN, which is not set"):
        daemon.serve_http()


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("[::1]:9464", ("::1", 9464)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
    ],
)
def test_listen_addresses(value: str, parsed: tuple[str, int]) -> None:
    assert parse_listen(value) == parsed


@pytest.mark.parametrize("value", ["9464", "localhost", ":9464", "127.0.0.1:http", "h:70000"])
def test_bad_listen_addresses_are_refused_at_load(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="http_listen"):
        load_config(config_file(tmp_path, daemon={"http_listen": value}))


def _bare_ops(clock: FakeClock) -> Ops:
    database = Database("sqlite://")
    storage = Storage(database)
    args: dict[str, Any] = {"database": database, "outbox": storage.outbox}
    return Ops(
        metrics=Metrics(clock),
        heartbeat=Heartbeat(clock),
        alerts=storage.alerts,
        runners=[],
        clock=clock,
        outbox_max_age=900,
        **args,
    )
