"""`complaint-monitor status` through the real CLI, on the database a daemon run wrote: exit 0
when all is well, 1 when something needs a person (a refused token, a parked alert, a silent
source, a service that stopped polling, a database out of reach), 2 when there is no database
at this version's schema; it never creates or migrates one."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.storage import Database, Storage
from tests.factories import config_file
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.fakes.x_api import FakeXApi

COMPLAINTS = [
    "@acme still waiting on my refund for order 48213, three weeks now",
    "@acme you charged my card twice and nobody answers. Not happy.",
]


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        monkeypatch.setenv("TEST_SLACK_TOKEN", fake.token)
        yield fake


def write_feed(path: Path, texts: list[str]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for n, text in enumerate(texts):
            line = {"id": f"p{n}", "platform": "x", "author": "dana", "text": text, "lang": "en"}
            handle.write(json.dumps(line) + "\n")


def status(config: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["status", "--config", str(config), *flags])
    return code, capsys.readouterr().out


def status_json(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code, out = status(config, capsys, "--json")
    return code, json.loads(out)


def database_of(tmp_path: Path) -> Path:
    return tmp_path / "state" / "monitor.db"


def test_all_well_is_a_table_a_json_object_and_exit_0(
    tmp_path: Path, slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    write_feed(tmp_path / "feed.jsonl", COMPLAINTS)
    config = config_file(tmp_path, slack_url=slack.base_url)
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert len(slack.messages) == 2

    code, out = status(config, capsys)
    assert code == 0
    header, row = out.splitlines()[2:4]
    assert header.split() == [
        "SOURCE", "PLATFORM", "STATE", "LAST", "POLL", "OK", "LAST", "POST", "STORED",
        "POSTS", "24H", "ALERTS", "24H",
    ]  # fmt: skip
    assert row.split()[:3] == ["feed", "jsonl", "ok"]
    assert row.split()[-2:] == ["2", "2"]
    assert "outbox    0 pending" in out
    assert "deliverer last alert sent to Slack 20" in out
    assert "model     none promoted yet: the scorer alone" in out
    assert "reachable, schema" in out and "(head)" in out
    assert out.rstrip().endswith("All is well.")

    code, report = status_json(config, capsys)
    assert code == 0 and report["ok"] is True and report["needs_a_person"] == []
    (feed,) = report["sources"]
    assert (feed["source"], feed["state"], feed["posts_24h"], feed["alerts_24h"]) == (
        "feed",
        "ok",
        2,
        2,
    )
    assert feed["last_success_at"] is not None and feed["last_post_at"] is not None
    assert report["outbox"]["pending"] == 0 and report["outbox"]["parked"] == 0
    assert report["outbox"]["last_sent_at"] is not None, "the deliverer has sent both alerts"
    database = report["database"]
    assert database["reachable"] and database["schema"] == database["schema_head"]


def test_a_refused_token_needs_a_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("X_BEARER_TOKEN", "not-the-token")
    with FakeXApi() as x:
        x.add_user("acme")
        source = {
            "type": "x",
            "name": "x",
            "api_base_url": x.base_url,
            "mentions_username": "acme",
            "searches": [],
        }
        config = config_file(tmp_path, sources=[source])
        assert main(["run", "--once", "--config", str(config)]) == 1

    monkeypatch.delenv("X_BEARER_TOKEN")  # status needs no secret
    code, out = status(config, capsys)
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("x "))
    assert "auth refused since" in row and "next try" in row
    assert "Needs a person:" in out
    problem = next(line for line in out.splitlines() if line.startswith("  - source x:"))
    assert "X_BEARER_TOKEN" in problem

    code, report = status_json(config, capsys)
    assert code == 1 and report["ok"] is False
    (x_source,) = report["sources"]
    assert x_source["state"] == "auth_failed" and "X_BEARER_TOKEN" in x_source["reason"]


def test_a_parked_alert_needs_a_person(
    tmp_path: Path, slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    write_feed(tmp_path / "feed.jsonl", COMPLAINTS[:1])
    config = config_file(tmp_path, slack_url=slack.base_url)
    slack.fault(Fault.status(200, error="invalid_blocks"), match="chat.postMessage", times=2)
    main(["run", "--once", "--config", str(config)])

    code, out = status(config, capsys)
    assert code == 1
    assert "1 parked: " in out and "invalid_blocks" in out
    assert "  - outbox: 1 alert(s) parked" in out


def test_a_silent_source_and_a_service_that_stopped_polling_need_a_person(
    tmp_path: Path, slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    write_feed(tmp_path / "feed.jsonl", COMPLAINTS)
    config = config_file(tmp_path, slack_url=slack.base_url)
    assert main(["run", "--once", "--config", str(config)]) == 0

    database = Database(f"sqlite:///{database_of(tmp_path)}")
    quiet_since = datetime.now(UTC) - timedelta(hours=6)
    assert Storage(database).source_status.mark_silent("feed", quiet_since)  # the watch's mark
    database.close()
    code, out = status(config, capsys)
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("feed "))
    assert "silent since " in row
    assert "far longer than its usual rhythm allows" in out

    with sqlite3.connect(database_of(tmp_path)) as db:  # the service stopped an hour ago
        stopped = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
        db.execute("update source_status set last_poll_at = ?, silent_since = null", (stopped,))
    code, out = status(config, capsys)
    assert code == 1
    assert "not polled since" in out and "is the service running?" in out


def test_status_never_creates_nor_migrates_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(tmp_path)
    assert main(["status", "--config", str(config)]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not database_of(tmp_path).exists()

    database_of(tmp_path).parent.mkdir(parents=True)
    sqlite3.connect(database_of(tmp_path)).close()  # a file with no schema
    assert main(["status", "--config", str(config)]) == 2
    assert "no schema yet" in capsys.readouterr().err
    with sqlite3.connect(database_of(tmp_path)) as db:
        assert db.execute("select name from sqlite_master").fetchall() == []


def test_an_unreachable_database_is_reported_and_needs_a_person(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(
        tmp_path, database={"url": "postgresql+psycopg://monitor@127.0.0.1:1/monitor"}
    )
    code, out = status(config, capsys)
    assert code == 1
    assert "database  postgresql+psycopg://monitor@127.0.0.1:1/monitor: UNREACHABLE" in out
    code, report = status_json(config, capsys)
    assert code == 1 and report["database"]["reachable"] is False
    assert report["needs_a_person"][0].startswith("database: unreachable")


def test_an_x_source_shows_its_spend_and_stats_its_cost_per_alert(
    tmp_path: Path,
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What reading X cost this month, read back by `status` and `stats` from the cursor the
    daemon stored: 3 posts by 2 authors at the default prices are 3 x 0.005 + 2 x 0.010 (+ the
    one lookup of the mentions account)."""
    with FakeXApi() as x:
        monkeypatch.setenv("X_BEARER_TOKEN", x.bearer_token)
        x.use_system_clock()
        for user in ("acme", "dana", "lee"):
            x.add_user(user)
        x.post("@acme still waiting on my refund for order 48213, three weeks now", author="dana")
        x.post("@acme you charged my card twice and nobody answers. Not happy.", author="lee")
        x.post("@acme thanks, all sorted now", author="dana")
        source = {
            "type": "x",
            "name": "x",
            "api_base_url": x.base_url,
            "mentions_username": "acme",
            "searches": [],
            "monthly_budget": 40,
            "backfill_seconds": 3600,
        }
        config = config_file(tmp_path, sources=[source], slack_url=slack.base_url)
        assert main(["run", "--once", "--config", str(config)]) == 0
    assert len(slack.messages) == 2
    monkeypatch.delenv("X_BEARER_TOKEN")  # status and stats need no secret

    code, out = status(config, capsys)
    assert code == 0, out
    spend = next(line for line in out.splitlines() if line.startswith("spend     x:"))
    assert "spent this month (3 post and 3 user reads)" in spend, spend
    assert "budget 40.00" in spend
    code, report = status_json(config, capsys)
    (x_source,) = report["sources"]
    assert x_source["spend"]["spent"] == pytest.approx(3 * 0.005 + 3 * 0.010, abs=0.01)
    assert x_source["spend"]["budget"] == 40

    capsys.readouterr()
    assert main(["stats", "--config", str(config)]) == 0
    costs = json.loads(capsys.readouterr().out)["cost_per_alert_by_source"]["x"]
    assert costs["alerts"] == 2
    assert costs["cost_per_alert"] == pytest.approx(0.045 / 2, abs=0.005)
