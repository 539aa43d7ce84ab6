"""The fake Slack itself: other tests trust it to behave like Slack, so pin what they rely on."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack


def client(slack: FakeSlack, token: str | None = None) -> WebClient:
    return WebClient(token=token or slack.token, base_url=slack.base_url, retry_handlers=[])


def test_wrong_token_unknown_channel_and_non_member(fake_slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as caught:
        client(fake_slack, "xoxb-nope").auth_test()
    assert caught.value.response["error"] == "invalid_auth"
    fake_slack.channels["C0OUT"] = {"is_private": True, "is_member": False, "name": "out"}
    for channel, error in [("C0NONE", "channel_not_found"), ("C0OUT", "not_in_channel")]:
        with pytest.raises(SlackApiError) as caught:
            client(fake_slack).chat_postMessage(channel=channel, text="hi")
        assert caught.value.response["error"] == error


def test_history_is_newest_first_paged_and_hides_metadata_unless_asked(
    fake_slack: FakeSlack,
) -> None:
    web = client(fake_slack)
    for n in range(5):
        web.chat_postMessage(
            channel="C1", text=f"m{n}", metadata={"event_type": "e", "event_payload": {"n": n}}
        )
    page = web.conversations_history(channel="C1", limit=3)
    assert [m["text"] for m in page["messages"]] == ["m4", "m3", "m2"]
    assert "metadata" not in page["messages"][0]
    rest = web.conversations_history(
        channel="C1",
        limit=3,
        cursor=page["response_metadata"]["next_cursor"],
        include_all_metadata=True,
    )
    assert [m["metadata"]["event_payload"]["n"] for m in rest["messages"]] == [1, 0]
    assert rest["has_more"] is False


def test_block_kit_limits_are_enforced(fake_slack: FakeSlack) -> None:
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError) as caught:
        client(fake_slack).chat_postMessage(channel="C1", text="t", blocks=too_long)
    assert caught.value.response["error"] == "invalid_blocks"
    assert fake_slack.messages == []


def test_a_rate_limit_storm_answers_every_nth_post_with_429(fake_slack: FakeSlack) -> None:
    fake_slack.rate_limit_every = 3
    fake_slack.rate_limit_retry_after = 2
    web = client(fake_slack)
    statuses = []
    for _ in range(6):
        try:
            web.chat_postMessage(channel="C1", text="x")
            statuses.append(200)
        except SlackApiError as err:
            statuses.append(err.response.status_code)
            assert err.response.headers["Retry-After"] == "2"
    assert statuses == fake_slack.post_statuses == [200, 200, 429, 200, 200, 429]
    assert len(fake_slack.messages) == 4
    assert [m for m, _ in fake_slack.call_times] == ["chat.postMessage"] * 6


def test_queued_errors_are_used_up_in_order(fake_slack: FakeSlack) -> None:
    fake_slack.fault(Fault.status(200, error="fatal_error"), match="chat.postMessage", times=2)
    web = client(fake_slack)
    for _ in range(2):
        with pytest.raises(SlackApiError):
            web.chat_postMessage(channel="C1", text="x")
    web.chat_postMessage(channel="C1", text="x")
    assert fake_slack.post_statuses == [200, 200, 200]
    assert len(fake_slack.messages) == 1
