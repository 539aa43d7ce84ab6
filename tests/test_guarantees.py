"""The README's guarantees, proven by injecting faults into a real daemon process.

Nothing lost, nothing twice: SIGKILL at random moments, Slack 429 storms, a database cut off for
30 seconds (through a loopback TCP proxy, never stopping the shared server), two replicas.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.cli import main
from tests.factories import config_file
from tests.fakes.slack import FakeSlack
from tests.fakes.tcp_proxy import TcpProxy

COMPLAINT_TEMPLATES = [
    "@acme still waiting on my refund for order {n}, three weeks now",
    "@acme you charged me twice for order {n} and nobody answers",
    "@acme where is my package {n}? tracking hasn't moved in a week",
]
OTHER_TEMPLATES = [
    "Loving the new acme app update, checkout is so fast now {n}",
    "Thanks @acme, sorted out in five minutes. Great service! {n}",
    "acme summer sale starts today, picked up {n} things",
    "just watched a video about acme's new warehouse robots #{n}",
    "anyone know if acme is hiring in Austin? {n}",
    "my cat sat on the acme box all day lol {n}",
]


def write_feed(path: Path, start: int, count: int, mode: str = "a") -> None:
    with path.open(mode, encoding="utf-8") as handle:
        for n in range(start, start + count):
            templates = COMPLAINT_TEMPLATES if n % 3 == 0 else OTHER_TEMPLATES
            text_ = templates[n % len(templates)].format(n=n)
            handle.write(
                json.dumps({"id": str(n), "platform": "x", "author": f"user{n}", "text": text_})
                + "\n"
            )


def write_config(tmp_path: Path, slack: FakeSlack, database_url: str, **daemon: object) -> Path:
    return config_file(
        tmp_path,
        slack_url=slack.base_url,
        daemon={"deliver_interval_seconds": 0.5, **daemon},
        database={"url": database_url},
        sources=[
            {
                "type": "jsonl",
                "name": "feed",
                "path": "feed.jsonl",
                "interval_seconds": 1,
                "max_lines_per_poll": 400,
            }
        ],
    )


def start_daemon(config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=os.environ.copy(),
    )


def database_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as connection:
        counts = {
            "posts": connection.execute(text("select count(*) from posts")).scalar_one(),
            "distinct_posts": connection.execute(
                text("select count(distinct external_id) from posts")
            ).scalar_one(),
            "alerts": connection.execute(text("select count(*) from alerts")).scalar_one(),
            "sent": connection.execute(
                text("select count(*) from alerts where status = 'sent'")
            ).scalar_one(),
        }
    engine.dispose()
    return counts


def alert_ids_in_slack(slack: FakeSlack) -> Counter[int]:
    return Counter(
        m["metadata"]["event_payload"]["alert_id"]
        for m in slack.messages
        if m.get("metadata", {}).get("event_type") == "complaint_alert"
    )


def run_until_delivered(config: Path, url: str, expected_alerts: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        main(["run", "--once", "--config", str(config)])
        counts = database_counts(url)
        if counts["posts"] == counts["distinct_posts"] and counts["sent"] == expected_alerts:
            return
        engine = create_engine(url)  # move backoffs due: we are not testing their length here
        with engine.begin() as connection:
            connection.execute(text("update alerts set next_attempt_at = created_at"))
        engine.dispose()
    raise AssertionError(f"not all delivered: {database_counts(url)}")


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> FakeSlack:
    with FakeSlack() as fake:
        monkeypatch.setenv("TEST_SLACK_TOKEN", fake.token)
        yield fake  # type: ignore[misc]


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, slack: FakeSlack, database_url: str
) -> None:
    seed = int(os.environ.get("KILL_TEST_SEED", random.randrange(1_000_000)))
    print(f"kill test seed: {seed} (set KILL_TEST_SEED to replay)")
    rng = random.Random(seed)
    total = 5000
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, 0, total, "w")
    config = write_config(tmp_path, slack, database_url)
    log_path = tmp_path / "daemon.log"
    for _ in range(20):
        process = start_daemon(config, log_path)
        time.sleep(rng.uniform(0.8, 3.0))
        process.kill()
        process.wait()
    complaints = sum(1 for n in range(total) if n % 3 == 0)
    run_until_delivered(config, database_url, expected_alerts=complaints)

    counts = database_counts(database_url)
    seen = alert_ids_in_slack(slack)
    duplicates = sum(c - 1 for c in seen.values() if c > 1)
    print(
        f"posts expected={total} stored={counts['posts']}; complaints expected={complaints} "
        f"alerts={counts['alerts']} in Slack={len(seen)} duplicates={duplicates}"
    )
    assert counts["posts"] == counts["distinct_posts"] == total
    assert counts["alerts"] == complaints
    assert len(seen) == complaints
    assert duplicates == 0


def test_429_storm_delivers_everything_once_and_honours_retry_after(
    tmp_path: Path, slack: FakeSlack
) -> None:
    url = f"sqlite:///{tmp_path / 'storm.db'}"
    write_feed(tmp_path / "feed.jsonl", 0, 30, "w")  # 10 complaints
    config = write_config(tmp_path, slack, url)
    slack.rate_limit_every = 3  # every third call answers 429 with Retry-After: 2
    slack.rate_limit_retry_after = 2
    log_path = tmp_path / "daemon.log"
    process = start_daemon(config, log_path)
    try:
        deadline = time.monotonic() + 60
        while len(alert_ids_in_slack(slack)) < 10 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    seen = alert_ids_in_slack(slack)
    assert len(seen) == 10 and max(seen.values()) == 1
    calls = [t for method, t in slack.call_times if method == "chat.postMessage"]
    limited = [t for t, status in zip(calls, slack.post_statuses, strict=True) if status == 429]
    assert limited, "the fake answered 429"
    for when in limited:
        after = [t for t in calls if t > when]
        if after:
            assert after[0] - when >= 1.9, "the next post came before Retry-After"


@pytest.mark.slow
def test_database_outage_is_survived_without_restart_or_loss(
    tmp_path: Path, slack: FakeSlack, postgres_url: str
) -> None:
    real = make_url(postgres_url)
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        feed = tmp_path / "feed.jsonl"
        write_feed(feed, 0, 30, "w")
        config = write_config(tmp_path, slack, proxied)
        log_path = tmp_path / "daemon.log"
        process = start_daemon(config, log_path)
        try:
            _wait(lambda: len(alert_ids_in_slack(slack)) == 10, 60)
            proxy.cut()
            write_feed(feed, 30, 30)  # arrives while the database is unreachable
            _wait(lambda: _both_saw_the_outage(log_path.read_text()), 60)
            time.sleep(5)  # more delivery rounds fail while it is down
            assert process.poll() is None, "the daemon kept running through the outage"
            proxy.restore()
            _wait(lambda: len(alert_ids_in_slack(slack)) == 20, 90)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
    log = log_path.read_text()
    assert "database is back after" in log
    assert "source=feed: the database answers again" in log, "no backoff sat out after it"
    assert "source=feed recovered after 1 failed polls" in log
    counts = database_counts(postgres_url)
    assert counts["posts"] == counts["distinct_posts"] == 60
    assert max(alert_ids_in_slack(slack).values()) == 1


@pytest.mark.slow
def test_two_replicas_share_the_work_and_the_survivor_takes_over(
    tmp_path: Path, slack: FakeSlack, postgres_url: str
) -> None:
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, 0, 300, "w")
    config = write_config(tmp_path, slack, postgres_url, lease_seconds=5)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    replicas = [start_daemon(config, logs[0]), start_daemon(config, logs[1])]
    try:
        _wait(lambda: len(alert_ids_in_slack(slack)) == 100, 90)
        polling = [i for i, path in enumerate(logs) if "poll source=feed" in path.read_text()]
        assert len(polling) == 1, "one replica polls the source, the other stands by"
        owner = polling[0]
        assert "standing by" in logs[1 - owner].read_text()
        replicas[owner].kill()
        killed_at = time.monotonic()
        write_feed(feed, 300, 30)
        _wait(lambda: "taken over by" in logs[1 - owner].read_text(), 30)
        takeover = time.monotonic() - killed_at
        print(f"survivor took over after {takeover:.1f}s (lease 5s)")
        assert takeover < 5 + 3
        _wait(lambda: len(alert_ids_in_slack(slack)) == 110, 60)
    finally:
        for process in replicas:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
    seen = alert_ids_in_slack(slack)
    assert max(seen.values()) == 1, "no alert was sent twice"
    counts = database_counts(postgres_url)
    assert counts["posts"] == counts["distinct_posts"] == 330


def _both_saw_the_outage(log: str) -> bool:
    """Delivery and the source's poll each failed on the unreachable database."""
    return "alerts wait in the outbox" in log and "source=feed failing: database unavailable" in log


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting")
