"""The deliverer: the outbox on SQLite and PostgreSQL, sent through the real Slack notifier to the
fake Slack on a socket. Whatever Slack does, an alert is delayed, never dropped, never sent twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from monitor.delivery import CONFIG_RETRY
from monitor.models import DeliveryStatus, Severity
from tests.fakes.server import Fault
from tests.outbox import Outbox


def test_due_alerts_go_out_vips_and_severe_first_and_are_recorded(outbox: Outbox) -> None:
    outbox.add("1", severity=Severity.LOW)
    outbox.add("2", severity=Severity.HIGH)
    outbox.add("3", severity=Severity.LOW, vip=True)

    report = outbox.deliverer.deliver_due()

    assert (report.sent, report.failed) == (3, 0)
    assert outbox.posted() == ["3", "2", "1"]
    assert set(outbox.states().values()) == {DeliveryStatus.SENT}
    assert outbox.deliverer.deliver_due().sent == 0  # sent once


def test_a_rate_limited_channel_waits_for_retry_after_and_loses_nothing(outbox: Outbox) -> None:
    outbox.add("1")
    outbox.add("2")
    outbox.slack.fault(Fault.rate_limited(30), match="chat.postMessage")

    report = outbox.deliverer.deliver_due()

    assert (report.sent, report.failed, report.deferred) == (0, 1, 1)
    assert outbox.slack.messages == []
    outbox.clock.advance(29)
    assert not outbox.deliverer.deliver_due()  # nothing is due before Slack's time
    outbox.clock.advance(1)
    assert outbox.deliverer.deliver_due().sent == 2
    assert sorted(outbox.posted()) == ["1", "2"]


def test_server_errors_back_off_with_jitter_and_the_alert_is_sent_later(outbox: Outbox) -> None:
    outbox.add("1")
    outbox.slack.fault(Fault.status(503), match="chat.postMessage", times=2)

    assert outbox.deliverer.deliver_due().failed == 1
    assert outbox.states() == {"1": DeliveryStatus.FAILED}
    outbox.clock.advance(5)  # the first step is 2.5 to 5 s
    assert outbox.deliverer.deliver_due().failed == 1
    outbox.clock.advance(10)  # the second, 5 to 10 s
    assert outbox.deliverer.deliver_due().sent == 1
    assert outbox.posted() == ["1"]


def test_a_refused_token_keeps_every_alert_pending_and_says_so_once_a_minute(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    for n in "123":
        outbox.add(n)
    outbox.slack.fault(Fault.status(200, error="invalid_auth"), match="chat.postMessage", times=2)
    caplog.set_level(logging.ERROR, logger="monitor.delivery")

    report = outbox.deliverer.deliver_due()
    assert (report.failed, report.deferred) == (1, 2)  # the rest of the round is pointless
    outbox.clock.advance(CONFIG_RETRY.total_seconds() - 1)
    assert not outbox.deliverer.deliver_due()
    outbox.clock.advance(1)
    outbox.deliverer.deliver_due()

    refused = [r for r in caplog.records if "alert delivery refused" in r.getMessage()]
    assert len(refused) == 2  # once at the start, once a minute later
    assert outbox.slack.messages == []
    outbox.clock.advance(CONFIG_RETRY.total_seconds())
    assert outbox.deliverer.deliver_due().sent == 3  # the token was fixed: all go out


def test_a_lost_answer_is_found_in_the_channel_not_sent_again(outbox: Outbox) -> None:
    outbox.add("1")
    outbox.slack.fault(Fault.drop_after(), match="chat.postMessage")

    assert outbox.deliverer.deliver_due().failed == 1
    assert len(outbox.slack.messages) == 1  # Slack has it; we never heard
    outbox.clock.advance(timedelta(minutes=15).total_seconds())
    report = outbox.deliverer.deliver_due()

    assert (report.found_in_channel, report.sent) == (1, 0)
    assert len(outbox.slack.messages) == 1
    assert outbox.states() == {"1": DeliveryStatus.SENT}
