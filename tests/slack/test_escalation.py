"""SLA escalation and reminders, with an injected clock (no sleeping), and the stats they feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.clock import FakeClock
from monitor.models import Person
from monitor.storage.reports import percentile
from tests.factories import config_file
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.slack.harness import OUTAGE, REFUND, Harness, blocks_text, harness, wait_until

ESCALATION = {
    "escalation": {
        "sla_minutes": {"high": 15, "medium": 60},
        "reminder_minutes": {"medium": 120},
        "oncall_group": "S0ONCALL",
        "channel": "C8ESC",
    }
}


@pytest.fixture
def slack(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.channels["C8ESC"] = {"is_private": True, "is_member": True, "name": "escalations"}
    return fake_slack


def _escalate(h: Harness) -> None:
    assert h.daemon.slack_app is not None
    h.daemon.slack_app.escalate()


def _alert_ts(h: Harness, words: str) -> str:
    [alert] = [m for m in h.alerts() if words in blocks_text(m)]
    return str(alert["ts"])


def test_unclaimed_past_sla_pings_on_call_in_the_thread_and_the_escalation_channel_once(
    tmp_path: Path, slack: FakeSlack
) -> None:
    with harness(tmp_path, slack, slack_table=ESCALATION) as h:
        h.feed(OUTAGE)  # high
        h.feed(REFUND)  # medium
        h.run_once()
        high, medium = _alert_ts(h, "site is down"), _alert_ts(h, "order 48213")

        h.clock.advance(14 * 60)
        _escalate(h)
        assert slack.thread(high) == [] and len(slack.messages) == 2, "within the SLA: quiet"

        h.clock.advance(2 * 60)
        _escalate(h)
        [reply] = slack.thread(high)
        assert reply["text"].startswith("<!subteam^S0ONCALL> ")
        assert "Not claimed after 16 min" in reply["text"] and "@dana" in reply["text"]
        [copy] = [m for m in slack.messages if m["channel"] == "C8ESC"]
        assert "<!subteam^S0ONCALL>" in copy["text"]
        assert f"https://acme.slack.com/archives/C1/p{high.replace('.', '')}" in copy["text"]
        assert slack.thread(medium) == []

        h.clock.advance(30 * 60)
        _escalate(h)
        assert len(slack.thread(high)) == 1, "each escalation once"
        h.clock.advance(15 * 60)  # medium is 61 minutes old now
        _escalate(h)
        assert len(slack.thread(medium)) == 1
        assert [a for a, _, _ in h.storage.alerts.events(1)] == ["escalate"]


def test_a_claimed_alert_is_not_escalated_but_reminded_after_the_second_period(
    tmp_path: Path, slack: FakeSlack
) -> None:
    with harness(tmp_path, slack, slack_table=ESCALATION) as h:
        h.feed(REFUND)
        h.run_once()
        h.start_buttons()
        ts = h.alerts()[0]["ts"]
        h.clock.advance(30 * 60)
        slack.click(ts, "cm_claim", user="U0BOB0002")
        wait_until(lambda: "Claimed by" in blocks_text(slack.message(ts)))

        h.clock.advance(60 * 60)  # 90 min after posting, 60 after the claim
        _escalate(h)
        assert slack.thread(ts) == [], "claimed in time: no escalation, no reminder yet"
        h.clock.advance(61 * 60)
        _escalate(h)
        [reminder] = slack.thread(ts)
        assert reminder["text"].startswith("<@U0BOB0002> ")
        assert "claimed this 2 h 1 min ago" in reminder["text"]
        h.clock.advance(24 * 3600)
        _escalate(h)
        assert len(slack.thread(ts)) == 1, "reminded once"


def test_resolved_alerts_are_left_alone(tmp_path: Path, slack: FakeSlack) -> None:
    with harness(tmp_path, slack, slack_table=ESCALATION) as h:
        h.feed(OUTAGE)
        h.run_once()
        h.storage.alerts.apply(1, "resolve", Person("U0ALICE01", "alice"), h.clock.now())
        h.clock.advance(48 * 3600)
        _escalate(h)
        assert slack.thread(h.alerts()[0]["ts"]) == []


def test_an_escalation_slack_refused_is_tried_again_and_still_sent_once(
    tmp_path: Path, slack: FakeSlack
) -> None:
    with harness(tmp_path, slack, slack_table=ESCALATION) as h:
        h.feed(OUTAGE)
        h.run_once()
        ts = h.alerts()[0]["ts"]
        h.clock.advance(20 * 60)
        slack.fault(Fault.status(503), match="chat.postMessage")
        _escalate(h)
        assert slack.thread(ts) == []
        h.clock.advance(60)
        _escalate(h)
        _escalate(h)
        assert len(slack.thread(ts)) == 1


def test_without_buttons_nothing_escalates(tmp_path: Path, slack: FakeSlack) -> None:
    """Nobody could claim: escalating every alert would only be noise."""
    with harness(tmp_path, slack, buttons=False, slack_table=ESCALATION) as h:
        h.feed(OUTAGE)
        h.run_once()
        h.clock.advance(3600)
        _escalate(h)
        assert len(slack.messages) == 1


def test_stats_report_median_and_p90_time_to_claim_and_resolve_by_severity(
    tmp_path: Path, slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    # `stats` looks back from the system clock: the alerts are made now, not on a fixed date
    now = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with harness(tmp_path, slack, buttons=False, clock=now) as h:
        for n in range(10):
            h.feed(f"{REFUND} #{n}")
        h.feed(OUTAGE)
        h.run_once()
        start = h.clock.now()
        from datetime import timedelta

        for alert_id in range(1, 11):  # medium: claimed after 1..10 minutes, resolved 5 later
            claim_at = start + timedelta(minutes=alert_id)
            h.storage.alerts.apply(alert_id, "claim", Person("U0ALICE01"), claim_at)
            h.storage.alerts.apply(
                alert_id, "resolve", Person("U0ALICE01"), claim_at + timedelta(minutes=5)
            )
        h.storage.alerts.apply(
            11, "not_complaint", Person("U0BOB0002"), start + timedelta(seconds=30)
        )
    config = config_file(tmp_path, name="stats.toml")
    assert main(["stats", "--config", str(config)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["time_to_claim_seconds"] == {
        "high": {"count": 1, "median": 30.0, "p90": 30.0},
        "medium": {"count": 10, "median": 330.0, "p90": 540.0},
    }
    assert stats["time_to_resolve_seconds"]["medium"] == {
        "count": 10,
        "median": 630.0,
        "p90": 840.0,
    }


def test_percentile_is_a_time_someone_actually_waited() -> None:
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0
    assert percentile([float(n) for n in range(1, 101)], 0.9) == 90.0
