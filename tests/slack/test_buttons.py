"""Buttons end to end: the fake Slack pushes clicks over a real Socket Mode WebSocket to slack_sdk's
real SocketModeClient in the daemon; the message is rewritten and the database records who did
what, when."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from monitor.models import Person
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.fakes.tcp_proxy import TcpProxy
from tests.slack.harness import REFUND, Harness, action_ids, blocks_text, harness, wait_until


def _db(h: Harness) -> sqlite3.Connection:
    return sqlite3.connect(h.tmp_path / "state" / "monitor.db")


def test_alerts_carry_claim_resolved_not_a_complaint_and_a_menu(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack) as h:
        h.feed(REFUND)
        assert h.run_once()
        [alert] = h.alerts()
        assert action_ids(alert) == ["cm_claim", "cm_resolve", "cm_not_complaint", "cm_more"]
        menu = alert["blocks"][-1]["elements"][-1]
        assert [o["text"]["text"] for o in menu["options"]] == ["🔇 Mute author", "↩️ Reopen"]


def test_without_an_app_token_alerts_go_out_without_buttons(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack, buttons=False) as h:
        h.feed(REFUND)
        assert h.run_once()
        [alert] = h.alerts()
        assert action_ids(alert) == []
        assert "still waiting on my refund" in blocks_text(alert)
        assert h.daemon.slack_app is not None and h.daemon.slack_app.listener is None


def test_claim_then_resolve_updates_the_message_and_records_who_and_when(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack) as h:
        h.feed(REFUND)
        h.run_once()
        h.start_buttons()
        [alert] = h.alerts()
        ts = alert["ts"]

        claim = fake_slack.click(ts, "cm_claim", user="U0ALICE01")
        assert fake_slack.socket_mode.wait_for_ack(claim), "acked within Slack's 3 seconds"
        assert claim.ack_seconds is not None and claim.ack_seconds < 3
        wait_until(lambda: "Claimed by <@U0ALICE01>" in blocks_text(fake_slack.message(ts)))
        claimed = fake_slack.message(ts)
        assert "<!date^" in blocks_text(claimed), "when, in each reader's time zone"
        assert "cm_claim" not in action_ids(claimed), "no Claim button once claimed"
        assert "still waiting on my refund" in blocks_text(claimed), "the alert itself stays"

        h.clock.advance(600)
        resolve = fake_slack.click(ts, "cm_resolve", user="U0BOB0002")
        assert fake_slack.socket_mode.wait_for_ack(resolve)
        wait_until(lambda: "Resolved by <@U0BOB0002>" in blocks_text(fake_slack.message(ts)))
        assert action_ids(fake_slack.message(ts)) == ["cm_more"], "closed: only the menu stays"

        with _db(h) as db:
            rows = db.execute(
                "select action, user_id, user_name, created_at from alert_events order by id"
            ).fetchall()
            state = db.execute("select state, claimed_by, resolved_by from alerts").fetchone()
        assert [(a, u, n) for a, u, n, _ in rows] == [
            ("claim", "U0ALICE01", "alice"),
            ("resolve", "U0BOB0002", "bob"),
        ]
        assert rows[0][3].startswith("2026-11-23 12:00") and rows[1][3].startswith(
            "2026-11-23 12:10"
        )
        assert state == ("resolved", "U0ALICE01", "U0BOB0002")


def test_not_a_complaint_and_resolved_become_labels_and_reopen_takes_them_back(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack) as h:
        h.feed(REFUND)
        h.run_once()
        h.start_buttons()
        ts = h.alerts()[0]["ts"]

        fake_slack.click(ts, "cm_not_complaint", user="U0BOB0002")
        wait_until(
            lambda: "Not a complaint, said <@U0BOB0002>" in blocks_text(fake_slack.message(ts))
        )
        assert h.storage.feedback.feedback() == [(1, REFUND, 0, "slack", "U0BOB0002")]

        fake_slack.click(ts, "cm_more", option="reopen:1", user="U0BOB0002")
        wait_until(lambda: "cm_claim" in action_ids(fake_slack.message(ts)))
        assert "said <@" not in blocks_text(fake_slack.message(ts))
        assert h.storage.feedback.feedback() == [], (
            "a mistaken click taken back is not a training label"
        )
        assert [a for a, _, _ in h.storage.alerts.events(1)] == ["not_complaint", "reopen"]

        fake_slack.click(ts, "cm_resolve", user="U0BOB0002")
        wait_until(lambda: h.storage.feedback.feedback() != [])
        assert h.storage.feedback.feedback() == [(1, REFUND, 1, "slack", "U0BOB0002")], (
            "a confirmed complaint"
        )


def test_mute_author_is_shown_recorded_and_honoured_by_the_next_poll(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack) as h:
        h.feed(REFUND, author="Dana")
        h.run_once()
        h.start_buttons()
        ts = h.alerts()[0]["ts"]
        fake_slack.click(ts, "cm_more", option="🔇 Mute author", user="U0ALICE01")
        wait_until(lambda: "Author muted by <@U0ALICE01>" in blocks_text(fake_slack.message(ts)))
        assert h.storage.posts.muted_authors(h.clock.now()) == {("x", "dana")}

        h.feed("@acme refund still missing, this is the third time I ask", author="@DANA")
        h.feed("@acme my parcel never arrived, need a refund", author="sam")
        h.run_once()
        authors = [m["text"] for m in h.alerts()[1:]]
        assert len(authors) == 1 and "@sam" in authors[0], "dana is muted, sam is not"


def test_missed_command_records_a_positive_label(tmp_path: Path, fake_slack: FakeSlack) -> None:
    with harness(tmp_path, fake_slack) as h:
        h.feed("Acme support was great today, thanks!", url="https://x.com/dana/status/77")
        h.run_once()
        assert h.alerts() == []
        h.start_buttons()
        known = fake_slack.slash_command("missed <https://x.com/dana/status/77>")
        assert fake_slack.socket_mode.wait_for_ack(known)
        assert known.ack is not None and "recorded" in known.ack["payload"]["text"]
        unknown = fake_slack.slash_command("missed https://reddit.com/r/acme/comments/abc")
        assert fake_slack.socket_mode.wait_for_ack(unknown)
        assert "never saw" in unknown.ack["payload"]["text"]  # type: ignore[index]
        rubbish = fake_slack.slash_command("missed <!channel>")
        assert fake_slack.socket_mode.wait_for_ack(rubbish)
        assert "Usage" in rubbish.ack["payload"]["text"]  # type: ignore[index]
        assert h.storage.feedback.feedback() == [
            (1, "Acme support was great today, thanks!", 1, "slack", "U0ALICE01"),
            (None, "https://reddit.com/r/acme/comments/abc", 1, "slack", "U0ALICE01"),
        ]


def test_clicks_still_work_after_the_connection_drops(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack) as h:
        h.feed(REFUND)
        h.run_once()
        h.start_buttons(ping_interval=0.3)
        ts = h.alerts()[0]["ts"]
        fake_slack.socket_mode.drop_connections()
        assert fake_slack.socket_mode.wait_for_connection(timeout=10, count=2), "reconnected"
        click = fake_slack.click(ts, "cm_claim")
        assert fake_slack.socket_mode.wait_for_ack(click, timeout=5)
        wait_until(lambda: "Claimed by" in blocks_text(fake_slack.message(ts)))
        assert fake_slack.socket_mode.tickets_issued >= 2, "a fresh URL from apps.connections.open"


def test_socket_mode_says_once_it_cannot_connect_and_once_it_is_back(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    with harness(tmp_path, fake_slack) as h:
        app = h.daemon.slack_app
        assert app is not None and app.listener is not None
        listener = app.listener
        listener.retry_seconds = 0.05
        fake_slack.fault(Fault.status(503), match="apps.connections.open", times=3)
        with caplog.at_level(logging.INFO, logger="monitor.slack.buttons"):
            app.start()
            wait_until(lambda: listener.connected, timeout=10)
        said = [r.getMessage() for r in caplog.records if r.name == "monitor.slack.buttons"]
        assert sum("cannot connect" in line for line in said) == 1, said
        assert any("connected after 3 failed attempts" in line for line in said), said


def test_a_disconnect_request_is_followed_by_a_new_connection(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack) as h:
        h.feed(REFUND)
        h.run_once()
        h.start_buttons()
        fake_slack.socket_mode.send_disconnect()
        assert fake_slack.socket_mode.wait_for_connection(timeout=10, count=2)
        click = fake_slack.click(h.alerts()[0]["ts"], "cm_resolve")
        assert fake_slack.socket_mode.wait_for_ack(click, timeout=5)
        wait_until(lambda: "Resolved by" in blocks_text(fake_slack.message(h.alerts()[0]["ts"])))


def test_a_failed_message_update_is_told_to_the_clicker_and_the_click_kept(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack) as h:
        h.feed(REFUND)
        h.run_once()
        h.start_buttons()
        fake_slack.fault(Fault.status(503), match="chat.update")
        fake_slack.click(h.alerts()[0]["ts"], "cm_claim")
        wait_until(lambda: fake_slack.ephemerals)
        assert fake_slack.ephemerals[0]["user"] == "U0ALICE01"
        assert "recorded" in fake_slack.ephemerals[0]["text"]
        assert [a for a, _, _ in h.storage.alerts.events(1)] == ["claim"]


def test_clicks_with_foreign_or_forged_values_change_nothing(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack) as h:
        h.feed(REFUND)
        h.run_once()
        h.start_buttons()
        assert h.storage.alerts.apply(999, "claim", Person("U0ALICE01"), h.clock.now()) is None
        envelope = fake_slack.socket_mode.push(
            "interactive",
            {
                "type": "block_actions",
                "user": {"id": "U0ALICE01"},
                "actions": [
                    {"action_id": "other_app_button", "value": "1"},
                    {"action_id": "cm_claim", "value": "drop table alerts"},
                ],
            },
        )
        assert fake_slack.socket_mode.wait_for_ack(envelope), "acked even when ignored"
        assert h.storage.alerts.events(1) == []


def test_a_click_during_a_database_outage_is_refused_politely_and_works_after(
    tmp_path: Path, fake_slack: FakeSlack, postgres_url: str
) -> None:
    real = make_url(postgres_url)
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        with harness(tmp_path, fake_slack, database_url=proxied) as h:
            h.feed(REFUND)
            h.run_once()
            h.start_buttons()
            ts = h.alerts()[0]["ts"]
            proxy.cut()
            click = fake_slack.click(ts, "cm_claim")
            assert fake_slack.socket_mode.wait_for_ack(click), "acked even with the database down"
            wait_until(lambda: fake_slack.ephemerals, timeout=15)
            assert "could not be recorded" in fake_slack.ephemerals[0]["text"]
            assert "Claimed by" not in blocks_text(fake_slack.message(ts))
            proxy.restore()
            fake_slack.click(ts, "cm_claim")
            wait_until(lambda: "Claimed by" in blocks_text(fake_slack.message(ts)), timeout=15)
