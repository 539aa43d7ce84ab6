"""The Slack notifier through the real slack_sdk client against the fake Slack on a socket."""

from __future__ import annotations

import io
import logging
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from monitor.errors import AuthError, ConfigError, OutcomeUnknown, TransientError
from monitor.notify import ConsoleNotifier, Delivered
from monitor.slack.settings import SlackSettings
from monitor.slack.sink import SlackNotifier, build_notifier
from tests.factories import NOW, make_alert
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack

TOKEN_ENV = "TEST_SLACK_TOKEN"


def settings_for(slack: FakeSlack | None, token: str | None = None, **keys: Any) -> SlackSettings:
    value = token if token is not None else (slack.token if slack is not None else None)
    env = {TOKEN_ENV: value} if value is not None else {}
    raw: dict[str, Any] = {"sink": "slack", "token_env": TOKEN_ENV, "channel": "C1"}
    if slack is not None:
        raw["base_url"] = slack.base_url
    raw.update(keys)
    return SlackSettings.model_validate(raw, context={"env": env})


@pytest.fixture
def notifier(fake_slack: FakeSlack) -> SlackNotifier:
    return SlackNotifier(settings_for(fake_slack, timeout_seconds=1))


def test_an_alert_lands_in_the_channel_escaped_with_its_id_as_metadata(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    delivered = notifier.send(make_alert(alert_id=42, text="<!channel> refund <@U9>"), NOW)
    [posted] = fake_slack.messages
    assert delivered == Delivered(channel="C1", ts=posted["ts"])
    assert posted["metadata"] == {
        "event_type": "complaint_alert",
        "event_payload": {"alert_id": 42},
    }
    blob = str(posted["blocks"]) + posted["text"]
    assert "&lt;!channel&gt; refund &lt;@U9&gt;" in blob
    assert "<!channel>" not in blob and "<@U9>" not in blob
    _, body = fake_slack.calls[-1]
    assert body["unfurl_links"] is False and body["unfurl_media"] is False


def test_each_message_gets_a_later_ts(fake_slack: FakeSlack, notifier: SlackNotifier) -> None:
    first = notifier.send(make_alert(alert_id=1), NOW)
    second = notifier.send(make_alert(alert_id=2), NOW)
    assert float(second.ts) > float(first.ts)


def test_a_message_can_name_its_own_channel(fake_slack: FakeSlack, notifier: SlackNotifier) -> None:
    fake_slack.channels["C2VIP"] = {"is_private": True, "is_member": True, "name": "vip"}
    delivered = notifier.send(make_alert(channel="C2VIP"), NOW)
    assert delivered.channel == "C2VIP"
    assert fake_slack.messages[0]["channel"] == "C2VIP"


def test_a_huge_hostile_post_is_accepted_by_slack(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    notifier.send(make_alert(text="<!here> " * 3000), NOW)  # the fake enforces Block Kit limits
    assert "(truncated, " in str(fake_slack.messages[0]["blocks"])


def test_an_empty_post_is_accepted_by_slack(fake_slack: FakeSlack, notifier: SlackNotifier) -> None:
    notifier.send(make_alert(text=""), NOW)
    assert len(fake_slack.messages) == 1


@pytest.mark.parametrize(
    "code", ["invalid_auth", "not_authed", "token_revoked", "account_inactive"]
)
def test_a_refused_token_is_an_auth_error_naming_the_variable(
    fake_slack: FakeSlack, notifier: SlackNotifier, code: str
) -> None:
    fake_slack.fault(Fault.status(200, error=code), match="chat.postMessage")
    with pytest.raises(AuthError) as caught:
        notifier.send(make_alert(), NOW)
    assert caught.value.credential == TOKEN_ENV
    assert TOKEN_ENV in str(caught.value) and code in str(caught.value)
    assert fake_slack.token not in str(caught.value)
    assert fake_slack.messages == []


def test_a_wrong_token_is_refused_and_never_shown(fake_slack: FakeSlack) -> None:
    notifier = SlackNotifier(settings_for(fake_slack, token="xoxb-wrong-one"))
    with pytest.raises(AuthError) as caught:
        notifier.check()
    assert "xoxb-wrong-one" not in str(caught.value)
    with pytest.raises(AuthError):
        notifier.send(make_alert(), NOW)


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ({}, "channel_not_found"),
        ({"is_member": False}, "not_in_channel"),
        ({"is_archived": True}, "is_archived"),
    ],
)
def test_a_wrong_channel_is_a_config_error_with_the_fix(
    fake_slack: FakeSlack, notifier: SlackNotifier, setup: dict[str, bool], code: str
) -> None:
    if setup:
        fake_slack.channels["C0OTHER"] = {"is_private": True, "name": "other", **setup}
    with pytest.raises(ConfigError) as caught:
        notifier.send(make_alert(channel="C0OTHER"), NOW)
    assert "C0OTHER" in str(caught.value) and code in str(caught.value)
    assert "/invite @app" in str(caught.value) or code == "is_archived"


def test_a_restricted_workspace_is_a_config_error(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    fake_slack.fault(Fault.status(200, error="restricted_action"), match="chat.postMessage")
    with pytest.raises(ConfigError, match=r"restricted_action.*ask an admin"):
        notifier.send(make_alert(), NOW)


def test_a_missing_scope_names_the_scope(fake_slack: FakeSlack, notifier: SlackNotifier) -> None:
    fake_slack.fault(Fault.status(200, error="missing_scope"), match="chat.postMessage")
    with pytest.raises(ConfigError, match="missing_scope"):
        notifier.send(make_alert(), NOW)


def test_rate_limit_carries_slacks_retry_after(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    fake_slack.fault(Fault.rate_limited(7), match="chat.postMessage")
    with pytest.raises(TransientError) as caught:
        notifier.send(make_alert(), NOW)
    assert caught.value.retry_after == 7.0
    assert not isinstance(caught.value, OutcomeUnknown)
    assert fake_slack.messages == []
    assert len(fake_slack.calls) == 1, "no retry inside the notifier: the deliverer owns retries"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(
    fake_slack: FakeSlack, notifier: SlackNotifier, status: int
) -> None:
    fake_slack.fault(Fault.status(status), match="chat.postMessage")
    with pytest.raises(TransientError, match=str(status)) as caught:
        notifier.send(make_alert(), NOW)
    assert caught.value.retry_after is None
    assert not isinstance(caught.value, OutcomeUnknown)
    assert len(fake_slack.calls) == 1


def test_other_slack_errors_are_transient(fake_slack: FakeSlack, notifier: SlackNotifier) -> None:
    fake_slack.fault(Fault.status(200, error="fatal_error"), match="chat.postMessage")
    with pytest.raises(TransientError, match="fatal_error") as caught:
        notifier.send(make_alert(), NOW)
    assert not isinstance(caught.value, OutcomeUnknown)


def test_a_lost_answer_is_outcome_unknown_and_sent_only_once(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    fake_slack.fault(Fault.drop_after(), match="chat.postMessage")
    with pytest.raises(OutcomeUnknown) as caught:
        notifier.send(make_alert(alert_id=9), NOW)
    assert caught.value.__cause__ is not None
    assert len(fake_slack.messages) == 1, "slack_sdk's connection retry would have posted twice"
    found = notifier.find_existing(9, None, datetime.now(UTC) - timedelta(minutes=1))
    assert found == Delivered(channel="C1", ts=fake_slack.messages[0]["ts"])


def test_a_slow_answer_beyond_the_timeout_is_outcome_unknown(fake_slack: FakeSlack) -> None:
    notifier = SlackNotifier(settings_for(fake_slack, timeout_seconds=0.3))
    fake_slack.fault(Fault.slow(3), match="chat.postMessage")
    with pytest.raises(OutcomeUnknown, match="no answer"):
        notifier.send(make_alert(), NOW)
    assert len(fake_slack.calls) == 1


def test_nothing_listening_is_transient_not_unknown() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = SlackSettings.model_validate(
        {
            "sink": "slack",
            "token_env": TOKEN_ENV,
            "channel": "C1",
            "base_url": f"http://127.0.0.1:{port}/api/",
        },
        context={"env": {TOKEN_ENV: "xoxb-x"}},
    )
    with pytest.raises(TransientError, match="cannot connect") as caught:
        SlackNotifier(settings).send(make_alert(), NOW)
    assert not isinstance(caught.value, OutcomeUnknown)


def test_find_existing_matches_by_alert_id_only(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    sent = {alert_id: notifier.send(make_alert(alert_id=alert_id), NOW) for alert_id in (1, 2, 3)}
    notifier.notify("source x paused")
    fake_slack.add_message("someone chatting", metadata=None)
    fake_slack.add_message(
        "another app", metadata={"event_type": "other", "event_payload": {"alert_id": 4}}
    )
    assert notifier.find_existing(2, None, since) == sent[2]
    assert notifier.find_existing(4, None, since) is None
    assert notifier.find_existing(99, "C1", since) is None
    method, body = fake_slack.calls[-1]
    assert method == "conversations.history"
    assert body["include_all_metadata"] == "1"


def test_find_existing_pages_back_through_a_busy_channel(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    target = notifier.send(make_alert(alert_id=5), NOW)
    for n in range(450):
        fake_slack.add_message(f"chatter {n}")
    assert notifier.find_existing(5, None, since) == target
    pages = [c for c in fake_slack.calls if c[0] == "conversations.history"]
    assert len(pages) == 3


def test_find_existing_ignores_messages_before_since() -> None:
    clock = [1_800_000_000.0]
    with FakeSlack(clock=lambda: clock[0]) as fake:
        notifier = SlackNotifier(settings_for(fake))
        notifier.send(make_alert(alert_id=1), NOW)
        clock[0] += 3600
        after = datetime.fromtimestamp(clock[0] - 60, UTC)
        assert notifier.find_existing(1, None, after) is None
        assert notifier.find_existing(1, None, after - timedelta(hours=2)) is not None


@pytest.mark.parametrize("queued", [Fault.status(500), Fault.rate_limited(3), Fault.slow(3)])
def test_find_existing_failing_keeps_the_outcome_unknown(
    fake_slack: FakeSlack, queued: Fault
) -> None:
    notifier = SlackNotifier(settings_for(fake_slack, timeout_seconds=0.3))
    fake_slack.fault(queued, match="conversations.history")
    with pytest.raises(OutcomeUnknown):
        notifier.find_existing(1, None, datetime.now(UTC))


def test_find_existing_in_a_channel_the_bot_left_is_a_config_error(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    fake_slack.channels["C1"]["is_member"] = False
    with pytest.raises(ConfigError, match="not_in_channel"):
        notifier.find_existing(1, None, datetime.now(UTC))


def test_notify_posts_escaped_text_and_never_raises(
    fake_slack: FakeSlack, notifier: SlackNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    notifier.notify("source <!channel> paused: quota reached")
    assert "&lt;!channel&gt;" in fake_slack.messages[0]["text"]
    assert "<!channel>" not in fake_slack.messages[0]["text"]
    fake_slack.fault(Fault.status(200, error="invalid_auth"), match="chat.postMessage")
    fake_slack.fault(Fault.status(503), match="chat.postMessage")
    with caplog.at_level(logging.WARNING):
        notifier.notify("first")
        notifier.notify("second")
    assert len(fake_slack.messages) == 1
    assert "could not post a notice" in caplog.text and "second" in caplog.text


def test_check_reports_the_bot_the_team_and_the_private_channel(
    fake_slack: FakeSlack, notifier: SlackNotifier
) -> None:
    assert notifier.check() == (
        "authenticated as complaint-monitor in Acme Corp; posting to private channel #complaints; "
        "no app-level token in SLACK_APP_TOKEN: alerts have no buttons"
    )


def test_check_proves_the_app_level_token_opens_socket_mode(fake_slack: FakeSlack) -> None:
    def with_app_token(value: str) -> SlackNotifier:
        raw = {
            "sink": "slack",
            "token_env": TOKEN_ENV,
            "app_token_env": "TEST_APP_TOKEN",
            "channel": "C1",
            "base_url": fake_slack.base_url,
        }
        env = {TOKEN_ENV: fake_slack.token, "TEST_APP_TOKEN": value}
        return SlackNotifier(SlackSettings.model_validate(raw, context={"env": env}))

    assert (
        with_app_token(fake_slack.app_token)
        .check()
        .endswith("Socket Mode: the app-level token works, buttons are on")
    )
    with pytest.raises(AuthError, match="refused the app-level token in TEST_APP_TOKEN"):
        with_app_token("xapp-revoked").check()


def test_check_refuses_a_public_channel(fake_slack: FakeSlack, notifier: SlackNotifier) -> None:
    fake_slack.channels["C1"]["is_private"] = False
    with pytest.raises(ConfigError, match="public"):
        notifier.check()


def test_check_on_a_channel_the_bot_cannot_see(fake_slack: FakeSlack) -> None:
    notifier = SlackNotifier(settings_for(fake_slack, channel="C0GONE"))
    with pytest.raises(ConfigError, match=r"C0GONE.*channel_not_found.*/invite @app"):
        notifier.check()


def test_the_token_never_reaches_the_logs(
    fake_slack: FakeSlack, notifier: SlackNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        notifier.check()
        notifier.send(make_alert(), NOW)
        fake_slack.fault(Fault.drop_after(), match="chat.postMessage")
        with pytest.raises(OutcomeUnknown):
            notifier.send(make_alert(), NOW)
    # slack_sdk's own wire traces are dropped at every level (monitor.logsetup: they quote
    # payloads); tests/test_logs.py proves that filter. Whatever is logged here, no token.
    assert fake_slack.token not in caplog.text
    assert make_alert().post.text not in caplog.text


# -- the console notifier -----------------------------------------------------------------------


def test_console_notifier_prints_a_readable_alert() -> None:
    out = io.StringIO()
    notifier = ConsoleNotifier(out)
    first = notifier.send(make_alert(text="refund please\n\x1b[2Jcleared?", vip=True), NOW)
    second = notifier.send(make_alert(), NOW)
    printed = out.getvalue()
    assert (first, second) == (Delivered("console", "1"), Delivered("console", "2"))
    assert "alert #7: HIGH complaint on X, 12 min ago" in printed
    assert "@dana (Dana R.) [VIP], 12,345 followers" in printed
    assert "| refund please" in printed
    assert "\x1b" not in printed, "terminal escapes in a post must not reach the terminal"
    assert "https://x.com/dana/status/1002" in printed
    assert "open a direct message: https://x.com/messages/compose?recipient_id=555" in printed
    assert "don't reply in public" in printed
    assert notifier.find_existing(7, None, NOW) is None
    assert notifier.check() == "console output (no Slack token set)"
    notifier.notify("source x paused")
    assert "notice: source x paused" in out.getvalue()


# -- choosing a notifier, and the settings that choose it ----------------------------------------


@pytest.mark.parametrize(
    ("raw", "env", "expected"),
    [
        ({"sink": "console"}, {"SLACK_BOT_TOKEN": "xoxb-1"}, ConsoleNotifier),
        ({}, {}, ConsoleNotifier),
        ({"channel": "C1"}, {}, ConsoleNotifier),
        ({}, {"SLACK_BOT_TOKEN": "xoxb-1"}, ConsoleNotifier),
        ({"channel": "C1"}, {"SLACK_BOT_TOKEN": "xoxb-1"}, SlackNotifier),
        ({"channel": "C1"}, {"SLACK_BOT_TOKEN": "  "}, ConsoleNotifier),
        ({"sink": "slack", "channel": "C1"}, {"SLACK_BOT_TOKEN": "xoxb-1"}, SlackNotifier),
    ],
)
def test_build_notifier_chooses(raw: dict[str, str], env: dict[str, str], expected: type) -> None:
    notifier = build_notifier(SlackSettings.model_validate(raw, context={"env": env}))
    assert type(notifier) is expected


def test_an_explicit_console_notifier_says_why() -> None:
    settings = SlackSettings.model_validate({"sink": "console"}, context={"env": {}})
    assert build_notifier(settings).check() == 'console output ([slack] sink = "console")'


@pytest.mark.parametrize(
    ("raw", "env", "message"),
    [
        ({"sink": "slack", "channel": "C1"}, {}, "SLACK_BOT_TOKEN is not set: export"),
        ({"sink": "slack", "channel": "C1"}, {}, 'or set sink = "console"'),
        ({"sink": "slack", "channel": "C1", "token_env": None}, {}, "needs token_env"),
        ({"sink": "slack"}, {"SLACK_BOT_TOKEN": "xoxb-1"}, 'needs channel = "C0123456789"'),
        ({"channel": "#complaints"}, {}, "use the channel's id"),
        ({"channel": "complaints"}, {}, "use the channel's id"),
        ({"base_url": "ftp://example.com/api/"}, {}, r"must be an http\(s\) URL"),
        ({"base_url": "127.0.0.1:9000/api/"}, {}, r"must be an http\(s\) URL"),
        ({"channel": "C1"}, {"SLACK_BOT_TOKEN": "xapp-1-abc"}, "app-level token"),
    ],
)
def test_settings_errors_name_the_problem_and_the_fix(
    raw: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        SlackSettings.model_validate(raw, context={"env": env})
    assert "xoxb-1" not in str(caught.value) and "xapp-1-abc" not in str(caught.value)


def test_settings_normalise_what_they_can() -> None:
    settings = SlackSettings.model_validate(
        {"channel": " C0123ABC ", "base_url": "http://127.0.0.1:9000/api"}, context={"env": {}}
    )
    assert settings.channel == "C0123ABC"
    assert settings.base_url == "http://127.0.0.1:9000/api/"


def test_console_settings_need_no_token_or_channel() -> None:
    settings = SlackSettings.model_validate({"sink": "console"}, context={"env": {}})
    assert settings.channel is None
