"""Issue 15, item 22: recovery after a crash is as fast as safety allows.

A restarted daemon on SQLite holds the single-process file lock, so the source leases it finds are
its dead predecessor's: it takes them over at once instead of standing by for a lease period.
Alerts a dead process had claimed are retried after the configured `[daemon] lease_seconds`, not
a hard-coded two minutes. Each test prints the times it measured (run with -s to see them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.clock import FakeClock
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.models import Alert
from monitor.notify import Delivered
from tests.factories import config_file

COMPLAINT = "@acme you charged my card twice and support hasn't answered in 4 days ({n})"
LEASE_SECONDS = 30
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Recorder:
    """A notifier that records what it sends (and can take time doing it)."""

    def __init__(self, clock: FakeClock | None = None, seconds_per_send: float = 0.0) -> None:
        self.sent: list[int] = []
        self.notices: list[str] = []
        self.clock = clock
        self.seconds_per_send = seconds_per_send

    def send(self, alert: Alert, now: datetime) -> Delivered:
        self.sent.append(alert.alert_id)
        if self.clock is not None:
            self.clock.advance(self.seconds_per_send)
        return Delivered("C1", f"1.{len(self.sent):06d}")

    send_minimal = send

    def find_existing(self, alert_id: int, channel: str | None, since: datetime) -> None:
        return None

    def notify(self, text: str) -> None:
        self.notices.append(text)

    def check(self) -> str:
        return "recorder"

    def close(self) -> None:
        pass


def write_complaints(feed: Path, start: int, count: int) -> None:
    with feed.open("a", encoding="utf-8") as handle:
        for n in range(start, start + count):
            line = {"id": str(n), "platform": "x", "author": f"user{n}", "lang": "en"}
            handle.write(json.dumps({**line, "text": COMPLAINT.format(n=n)}) + "\n")


def daemon(
    tmp_path: Path,
    clock: FakeClock,
    database_url: str | None = None,
    notifier: Recorder | None = None,
) -> Daemon:
    tables: dict[str, dict[str, object]] = {"daemon": {"lease_seconds": LEASE_SECONDS}}
    if database_url is not None:
        tables["database"] = {"url": database_url}
    config = load_config(config_file(tmp_path, **tables))
    started = Daemon(config, clock=clock, notifier=notifier or Recorder())
    started.prepare()
    return started


def crash(dead: Daemon) -> None:
    """What SIGKILL leaves: leases and claims in the database, the file lock gone with the
    process (nothing is released)."""
    dead.database.close()


def test_item_22_a_restart_on_sqlite_takes_over_its_dead_processes_lease_at_once(
    tmp_path: Path,
) -> None:
    clock = FakeClock(START)
    write_complaints(tmp_path / "feed.jsonl", 0, 2)
    first = daemon(tmp_path, clock)
    assert first.runners[0].poll() is not None  # it holds the source's lease for 30 s
    crash(first)

    clock.advance(1)
    write_complaints(tmp_path / "feed.jsonl", 2, 2)
    restarted_at = clock.now()
    second = daemon(tmp_path, clock)
    report = second.runners[0].poll()

    assert report is not None, "the restarted daemon stood by for its dead predecessor's lease"
    assert report.stored == 2
    print(f"restart -> first poll: {(clock.now() - restarted_at).total_seconds():.0f} s")
    second.close()


def test_item_22_on_postgresql_a_live_replicas_lease_is_still_respected(
    tmp_path: Path, postgres_url: str
) -> None:
    """The take-over is for SQLite only: on PostgreSQL a lease may be another live replica's."""
    clock = FakeClock(START)
    write_complaints(tmp_path / "feed.jsonl", 0, 2)
    first = daemon(tmp_path, clock, postgres_url)
    assert first.runners[0].poll() is not None

    second = daemon(tmp_path, clock, postgres_url)

    assert second.runners[0].poll() is None  # standing by
    clock.advance(LEASE_SECONDS)
    assert second.runners[0].poll() is not None  # the lease ran out: taken over
    first.database.close()
    second.close()


def test_item_22_alerts_a_dead_process_claimed_are_retried_after_the_configured_lease(
    tmp_path: Path, database_url: str
) -> None:
    clock = FakeClock(START)
    write_complaints(tmp_path / "feed.jsonl", 0, 3)
    first = daemon(tmp_path, clock, database_url)
    assert first.deliverer.lease == timedelta(seconds=LEASE_SECONDS)
    first.runners[0].poll()
    claimed = first.storage.outbox.claim_due(clock.now(), first.deliverer.lease)
    assert len(claimed) == 3
    crash(first)  # killed with the batch claimed, nothing sent

    restarted_at = clock.now()
    recorder = Recorder()
    second = daemon(tmp_path, clock, database_url, recorder)
    clock.advance(LEASE_SECONDS - 1)
    second.deliver()
    assert recorder.sent == []  # still within the dead process's claim
    clock.advance(1)
    second.deliver()

    assert sorted(recorder.sent) == sorted(a.alert_id for a in claimed)
    waited = (clock.now() - restarted_at).total_seconds()
    print(f"restart -> last alert: {waited:.0f} s (lease_seconds={LEASE_SECONDS})")
    assert waited == LEASE_SECONDS
    second.close()


def test_item_22_a_batch_whose_claim_runs_out_gives_the_rest_back(tmp_path: Path) -> None:
    """With a short lease a slow batch (one message a second per channel is Slack's pace) must
    not outlive its claim: what is not sent by half the lease goes back, untried."""
    clock = FakeClock(START)
    write_complaints(tmp_path / "feed.jsonl", 0, 5)
    recorder = Recorder(clock, seconds_per_send=LEASE_SECONDS * 0.4)
    running = daemon(tmp_path, clock, notifier=recorder)
    running.runners[0].poll()

    report = running.deliverer.deliver_due()

    assert (report.sent, report.deferred) == (2, 3)
    assert running.storage.outbox.claim_due(clock.now(), timedelta(seconds=1)) != []
    running.close()


@pytest.fixture(autouse=True)
def _state_per_test(tmp_path: Path) -> None:
    (tmp_path / "feed.jsonl").touch()
