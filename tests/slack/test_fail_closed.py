"""Issue 15, item 3: a channel that cannot be proven private gets nothing (fail closed).

With only ``groups:read`` (no ``channels:read``) Slack answers conversations.info on a PUBLIC
channel with ``missing_scope`` (``needed: channels:read``); the fake Slack does the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from monitor.cli import main
from monitor.delivery import CONFIG_RETRY
from monitor.models import DeliveryStatus
from tests.factories import SLACK_TOKEN_ENV, config_file
from tests.fakes.server import Fault
from tests.fakes.slack import README_SCOPES, FakeSlack
from tests.slack.harness import REFUND, harness

COMPLAINT = {"id": "c1", "platform": "x", "author": "dana", "text": REFUND, "lang": "en"}


@pytest.fixture
def public_slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    """Channel C1 is public and the app has the README's old scopes (no channels:read)."""
    channels = {"C1": {"is_private": False, "is_member": True, "name": "general"}}
    with FakeSlack(scopes=README_SCOPES, channels=channels) as fake:
        monkeypatch.setenv(SLACK_TOKEN_ENV, fake.token)
        yield fake


def test_the_fake_answers_missing_scope_for_a_public_channel_without_channels_read(
    public_slack: FakeSlack,
) -> None:
    client = WebClient(token=public_slack.token, base_url=public_slack.base_url)
    with pytest.raises(SlackApiError) as caught:
        client.conversations_info(channel="C1")
    assert caught.value.response["error"] == "missing_scope"
    assert caught.value.response["needed"] == "channels:read"


def test_item_3_a_channel_that_cannot_be_proven_private_stops_start_up(
    tmp_path: Path, public_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "feed.jsonl").write_text(json.dumps(COMPLAINT) + "\n")
    config = config_file(tmp_path, slack_url=public_slack.base_url)

    assert main(["run", "--once", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "[slack] channel C1 cannot be proven private" in err
    assert "channels:read" in err and "allow_public_channel = true" in err
    assert public_slack.messages == [], "nothing may be posted to an unproven channel"

    assert main(["check-config", "--online", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "FAIL slack: [slack] channel C1 cannot be proven private" in err
    assert "channels:read" in err and "allow_public_channel" in err


def test_item_3_an_unprovable_channel_is_accepted_only_when_its_config_allows_public(
    tmp_path: Path, public_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "feed.jsonl").write_text(json.dumps(COMPLAINT) + "\n")
    config = config_file(
        tmp_path, slack_url=public_slack.base_url, slack={"allow_public_channel": True}
    )
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert len(public_slack.messages) == 1
    assert main(["check-config", "--online", "--config", str(config)]) == 0
    assert "public allowed by [slack] channel" in capsys.readouterr().err


def test_item_3_slack_unreachable_at_start_up_posts_nothing_until_the_channel_is_proven(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    channels = {"C1": {"is_private": False, "is_member": True, "name": "general"}}
    with FakeSlack(scopes=README_SCOPES, channels=channels) as slack:
        slack.fault(Fault.status(503), match="conversations.info")
        with harness(tmp_path, slack, buttons=False) as h:  # start-up: a warning, no exit
            assert "not verified at start-up" in caplog.text
            h.feed(REFUND)
            h.run_once()
            assert slack.messages == [], "the channel was never proven private"
            [alert] = [a for a in (h.storage.alerts.alert(1),) if a is not None]
            assert alert.status is not DeliveryStatus.SENT

            slack.channels["C1"]["is_private"] = True  # the operator moved to a private channel
            h.clock.advance(CONFIG_RETRY.total_seconds())
            h.run_once()
            assert len(h.alerts()) == 1
            after = h.storage.alerts.alert(1)
            assert after is not None and after.status is DeliveryStatus.SENT
