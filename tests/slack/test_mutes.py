"""Issue 15, item 8: muting an author asks first, never silences a placeholder, and can be undone
from Slack and from the command line."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.models import Person
from tests.factories import config_file
from tests.fakes.slack import FakeSlack
from tests.slack.harness import REFUND, Harness, blocks_text, harness, wait_until


def _menu(message: dict[str, Any]) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == "cm_more":
                return dict(element)
    raise LookupError("no cm_more menu")


def _options(message: dict[str, Any]) -> list[str]:
    return [o["text"]["text"] for o in _menu(message)["options"]]


def _alert_texts(h: Harness) -> list[str]:
    return [m["text"] for m in h.alerts()]


def test_item_8_mute_author_asks_for_confirmation_first(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack) as h:
        h.feed(REFUND)
        h.run_once()
        [alert] = h.alerts()
        confirm = _menu(alert).get("confirm")
        assert confirm is not None, "Block Kit shows a confirm dialog before Mute author runs"
        assert confirm["style"] == "danger"
        assert "Mute" in confirm["title"]["text"] and "Unmute" in confirm["text"]["text"]
        assert len(confirm["title"]["text"]) <= 100 and len(confirm["text"]["text"]) <= 300
        assert all(len(confirm[k]["text"]) <= 30 for k in ("confirm", "deny"))


@pytest.mark.parametrize("author", [None, "[deleted]", "unknown", "[removed]"])
def test_item_8_a_placeholder_author_cannot_be_muted(
    tmp_path: Path, fake_slack: FakeSlack, database_url: str, author: str | None
) -> None:
    with harness(tmp_path, fake_slack, database_url=database_url) as h:

        def feed(text: str, n: int) -> None:
            record: dict[str, Any] = {"id": f"p{n}", "platform": "x", "text": text, "lang": "en"}
            if author is not None:  # None: a JSONL line without "author" ("unknown")
                record["author"] = author
            with h.feed_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

        feed(REFUND, 1)
        h.run_once()
        h.start_buttons()
        ts = h.alerts()[0]["ts"]
        fake_slack.click(ts, "cm_more", option="🔇 Mute author")
        wait_until(lambda: fake_slack.ephemerals)
        assert "cannot be muted" in fake_slack.ephemerals[0]["text"]
        assert h.storage.posts.muted_authors(h.clock.now()) == set()
        assert h.storage.alerts.events(1) == [], "a refused click records nothing"
        assert "Author muted" not in blocks_text(fake_slack.message(ts))

        feed("@acme my parcel never arrived, I need a refund now", 2)
        h.run_once()
        assert len(h.alerts()) == 2, "the next post from that placeholder is still alerted"


def test_item_8_a_mute_is_undone_from_slack(
    tmp_path: Path, fake_slack: FakeSlack, database_url: str
) -> None:
    with harness(tmp_path, fake_slack, database_url=database_url) as h:
        h.feed(REFUND, author="dana")
        h.run_once()
        h.start_buttons()
        ts = h.alerts()[0]["ts"]
        fake_slack.click(ts, "cm_more", option="🔇 Mute author", user="U0ALICE01")
        wait_until(lambda: "Author muted by" in blocks_text(fake_slack.message(ts)))
        muted = fake_slack.message(ts)
        assert _options(muted) == ["🔊 Unmute author", "↩️ Reopen"]
        assert "confirm" not in _menu(muted), "undoing needs no confirmation"
        [mute] = h.storage.alerts.mutes()
        assert (mute.platform, mute.handle) == ("x", "dana")
        assert mute.muted_by == Person("U0ALICE01", "alice")

        h.feed("@acme refund still missing, third time I ask", author="dana")
        h.run_once()
        assert len(h.alerts()) == 1, "muted"

        fake_slack.click(ts, "cm_more", option="🔊 Unmute author", user="U0BOB0002")
        wait_until(lambda: "Author muted" not in blocks_text(fake_slack.message(ts)))
        assert _options(fake_slack.message(ts)) == ["🔇 Mute author", "↩️ Reopen"]
        assert h.storage.posts.muted_authors(h.clock.now()) == set()
        assert [(a, u) for a, u, _ in h.storage.alerts.events(1)] == [
            ("mute", "U0ALICE01"),
            ("unmute", "U0BOB0002"),
        ]

        h.feed("@acme and my parcel is broken too, I want a refund", author="dana")
        h.run_once()
        assert len(h.alerts()) == 2, "alerted again once unmuted"


def test_item_8_mutes_are_listed_and_removed_from_the_cli(
    tmp_path: Path,
    fake_slack: FakeSlack,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with harness(tmp_path, fake_slack, database_url=database_url) as h:
        h.feed(REFUND, author="@Dana")
        h.run_once()
        h.storage.alerts.apply(1, "mute", Person("U0ALICE01", "alice"), h.clock.now())
    config = config_file(tmp_path, name="cli.toml", database={"url": database_url})

    capsys.readouterr()
    assert main(["mutes", "list", "--config", str(config)]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert '"platform": "x"' in line and '"handle": "dana"' in line
    assert '"muted_by": "U0ALICE01"' in line and '"muted_by_name": "alice"' in line
    assert '"muted_at": "2026-11-23T12:00' in line
    assert '"expires_at": null' in line and '"active": true' in line

    assert main(["mutes", "remove", "x", "@DANA", "--config", str(config)]) == 0
    assert "unmuted" in capsys.readouterr().err
    assert main(["mutes", "list", "--config", str(config)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["mutes", "remove", "x", "dana", "--config", str(config)]) == 1
    assert "is not muted" in capsys.readouterr().err


def test_item_8_a_muted_authors_posts_are_stored_and_counted_not_alerted(
    tmp_path: Path, fake_slack: FakeSlack, database_url: str
) -> None:
    with harness(tmp_path, fake_slack, database_url=database_url) as h:
        h.feed(REFUND, author="dana")
        h.run_once()
        h.storage.alerts.apply(1, "mute", Person("U0ALICE01", "alice"), h.clock.now())
        h.feed("@acme refund still missing, third time I ask", author="dana")
        h.run_once()
        assert len(h.alerts()) == 1, "no alert for a muted author"
        assert h.storage.posts.known_ids("x", ["p2"]) == {"p2"}, "but the post is stored"
        stats = h.storage.reports.stats(h.clock.now() - timedelta(days=1))
        assert stats["posts_muted"] == 1
        assert stats["posts_by_label"].get("complaint") == 2, "and judged like any other"


def test_item_8_a_mute_lapses_after_mute_days(
    tmp_path: Path, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    with harness(tmp_path, fake_slack, slack_table={"mute_days": 7}) as h:
        h.feed(REFUND, author="dana")
        h.run_once()
        h.start_buttons()
        ts = h.alerts()[0]["ts"]
        fake_slack.click(ts, "cm_more", option="🔇 Mute author")
        wait_until(lambda: "Author muted by" in blocks_text(fake_slack.message(ts)))
        [mute] = h.storage.alerts.mutes()
        assert mute.expires_at == h.clock.now() + timedelta(days=7)
        assert "until <!date^" in blocks_text(fake_slack.message(ts)), "the message says until"

        h.clock.advance(6 * 86400)
        h.feed("@acme refund still missing, third time I ask", author="dana")
        h.run_once()
        assert len(h.alerts()) == 1, "still muted on day 6"

        h.clock.advance(2 * 86400)
        h.feed("@acme day 8 and still no refund, this is a joke", author="dana")
        h.run_once()
        assert len(h.alerts()) == 2, "alerted again once the mute lapsed"
        h.daemon.purge_old_posts()  # the daily retention job forgets lapsed mutes
        assert h.storage.alerts.mutes() == []


def test_item_8_muting_a_vip_needs_a_second_confirmation(
    tmp_path: Path, fake_slack: FakeSlack, database_url: str
) -> None:
    with harness(
        tmp_path, fake_slack, database_url=database_url, brand={"vip_authors": ["dana"]}
    ) as h:
        h.feed(REFUND, author="dana")
        h.run_once()
        h.start_buttons()
        ts = h.alerts()[0]["ts"]

        fake_slack.click(ts, "cm_more", option="🔇 Mute author", user="U0ALICE01")
        wait_until(lambda: fake_slack.ephemerals)
        [question] = fake_slack.ephemerals
        assert question["user"] == "U0ALICE01" and "is a VIP" in question["text"]
        assert h.storage.alerts.mutes() == [], "the first click mutes nobody"
        assert "Author muted" not in blocks_text(fake_slack.message(ts))
        with pytest.raises(LookupError):  # only the person asked sees the question
            fake_slack.click_ephemeral(0, "cm_confirm_mute", user="U0BOB0002")

        fake_slack.click_ephemeral(0, "cm_confirm_mute", user="U0ALICE01")
        wait_until(lambda: "Author muted by" in blocks_text(fake_slack.message(ts)))
        [mute] = h.storage.alerts.mutes()
        assert (mute.handle, mute.muted_by) == ("dana", Person("U0ALICE01", "alice"))

        fake_slack.click_ephemeral(0, "cm_confirm_mute", user="U0ALICE01")
        wait_until(lambda: len(fake_slack.ephemerals) == 2)
        assert "expired or was already answered" in fake_slack.ephemerals[1]["text"]
        assert [a for a, _, _ in h.storage.alerts.events(1)] == ["mute"], "answered once"


def test_item_8_a_vip_question_expires(tmp_path: Path, fake_slack: FakeSlack) -> None:
    with harness(tmp_path, fake_slack, brand={"vip_authors": ["dana"]}) as h:
        h.feed(REFUND, author="dana")
        h.run_once()
        h.start_buttons()
        fake_slack.click(h.alerts()[0]["ts"], "cm_more", option="🔇 Mute author")
        wait_until(lambda: fake_slack.ephemerals)
        h.clock.advance(11 * 60)
        fake_slack.click_ephemeral(0, "cm_confirm_mute", user="U0ALICE01")
        wait_until(lambda: len(fake_slack.ephemerals) == 2)
        assert "expired" in fake_slack.ephemerals[1]["text"]
        assert h.storage.alerts.mutes() == []
