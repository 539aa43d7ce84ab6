"""The daily digest: its content, its schedule, and that it goes out once a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from monitor.models import Person
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.slack.harness import OUTAGE, REFUND, Harness, blocks_text, harness

DIGEST = {"digest": {"time": "09:00", "timezone": "Europe/Paris", "channel": "C0DIGEST"}}


def _send(h: Harness) -> object:
    assert h.daemon.slack_app is not None and h.daemon.slack_app.digest is not None
    return h.daemon.slack_app.digest.send()


def test_the_digest_counts_waits_topics_and_precision(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    fake_slack.channels["C0DIGEST"] = {"is_private": True, "is_member": True, "name": "digest"}
    with harness(tmp_path, fake_slack, slack_table=DIGEST) as h:
        h.feed(OUTAGE, id="a")  # x, high, outage
        h.feed("@acme site is down, nothing loads", platform="reddit", id="b")  # reddit, high
        h.feed(REFUND, id="c")  # x, medium
        h.feed("@acme where is my refund?? two weeks of waiting", id="d", author="<!here>")
        h.run_once()
        start = h.clock.now()
        h.storage.alerts.apply(1, "claim", Person("U0ALICE01"), start + timedelta(minutes=4))
        h.storage.alerts.apply(2, "claim", Person("U0ALICE01"), start + timedelta(minutes=10))
        h.storage.alerts.apply(
            3, "not_complaint", Person("U0BOB0002"), start + timedelta(minutes=20)
        )
        h.clock.advance(8 * 3600)
        assert _send(h) is not None

        [digest] = [m for m in fake_slack.messages if m["channel"] == "C0DIGEST"]
        text = blocks_text(digest)
        assert digest["text"] == "📊 Complaint digest: 4 alerts in the last 24 h"
        assert "X 3, Reddit 1" in text
        assert "high 2" in text and "medium 2" in text and "low 0" in text
        assert "*Median time to claim*\\n10 min" in text, "4, 10 and 20 minutes"
        assert "75% (1 of 4 alerts marked Not a complaint)" in text
        assert "outage (2)" in text
        assert "alert #4" in text and "alert #1," not in text, "only the unclaimed one waits"
        assert "&lt;!here&gt;" in text and "<!here>" not in text


def test_the_digest_is_sent_once_a_day_and_again_the_next_day(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    fake_slack.channels["C0DIGEST"] = {"is_private": True, "is_member": True, "name": "digest"}
    with harness(tmp_path, fake_slack, slack_table=DIGEST) as h:
        assert _send(h) is not None
        assert _send(h) is None, "a restart or a second replica does not send it again"
        [only] = fake_slack.messages
        assert "0 alerts" in only["text"] and "n/a (no alerts sent)" in blocks_text(only)
        h.clock.advance(24 * 3600)
        assert _send(h) is not None
        assert len(fake_slack.messages) == 2


def test_a_digest_slack_refused_is_sent_on_the_next_try(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    fake_slack.channels["C0DIGEST"] = {"is_private": True, "is_member": True, "name": "digest"}
    with harness(tmp_path, fake_slack, slack_table=DIGEST) as h:
        fake_slack.fault(Fault.status(503), match="chat.postMessage")
        assert _send(h) is None
        assert _send(h) is not None
        assert len(fake_slack.messages) == 1


def test_the_digest_runs_at_its_local_time(tmp_path: Path, fake_slack: FakeSlack) -> None:
    fake_slack.channels["C0DIGEST"] = {"is_private": True, "is_member": True, "name": "digest"}
    with harness(tmp_path, fake_slack, buttons=False, slack_table=DIGEST) as h:
        scheduler = BackgroundScheduler(timezone=UTC)
        assert h.daemon.slack_app is not None
        h.daemon.slack_app.schedule(scheduler)
        job = scheduler.get_job("digest")
        now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        assert job.trigger.get_next_fire_time(None, now) == datetime(
            2026, 11, 24, 8, 0, tzinfo=UTC
        ), "09:00 in Paris is 08:00 UTC in November"
        assert scheduler.get_job("escalate") is None, "no buttons, no escalation"


def test_without_a_time_there_is_no_digest(tmp_path: Path, fake_slack: FakeSlack) -> None:
    with harness(tmp_path, fake_slack) as h:
        assert h.daemon.slack_app is not None and h.daemon.slack_app.digest is None
