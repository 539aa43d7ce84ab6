"""Routing rules, VIP priority and mentions, and the private-channel check, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.config import parse_config
from monitor.errors import ConfigError
from tests.factories import config_file
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.slack.harness import OUTAGE, REFUND, blocks_text, harness

PRIVATE = {"is_private": True, "is_member": True}


def add_channels(slack: FakeSlack, *ids: str, **info: Any) -> None:
    for channel in ids:
        slack.channels[channel] = {**PRIVATE, "name": channel.lower(), **info}


ROUTES = [
    {"platform": "reddit", "channel": "C2REDDIT"},
    {"severity": "high", "keyword": ["down", "outage"], "channel": "C3OUTAGE"},
    {"language": ["de", "fr"], "channel": "C4EUROPE"},
    {"author": ["@BigCorp"], "channel": "C5ACCOUNTS"},
    {"keyword": "refund", "channel": "C6BILLING"},
]


def test_first_matching_rule_wins_and_the_rest_go_to_the_default(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    add_channels(fake_slack, "C2REDDIT", "C3OUTAGE", "C4EUROPE", "C5ACCOUNTS", "C6BILLING")
    with harness(tmp_path, fake_slack, buttons=False, slack_table={"routes": ROUTES}) as h:
        h.feed(REFUND, platform="reddit", id="r1")  # reddit rule first, though it says refund
        h.feed(OUTAGE, id="o1")
        h.feed("@acme mein Paket ist nie angekommen, Rückerstattung bitte", lang="de", id="d1")
        h.feed("@acme our invoice was charged twice, fix it", author="bigcorp", id="b1")
        h.feed(REFUND, id="f1")
        h.feed("@acme the app crashed and I lost my order", id="z1")
        assert h.run_once()
    where = {m["metadata"]["event_payload"]["alert_id"]: m["channel"] for m in fake_slack.messages}
    by_text = {m["channel"]: blocks_text(m) for m in fake_slack.messages}
    assert sorted(where.values()) == sorted(
        ["C2REDDIT", "C3OUTAGE", "C4EUROPE", "C5ACCOUNTS", "C6BILLING", "C1"]
    )
    assert "Reddit" in by_text["C2REDDIT"]
    assert "site is down" in by_text["C3OUTAGE"]
    assert "Paket" in by_text["C4EUROPE"]
    assert "invoice" in by_text["C5ACCOUNTS"]
    assert "order 48213" in by_text["C6BILLING"]
    assert "app crashed" in by_text["C1"]


def test_a_route_on_stars_sends_low_reviews_to_their_channel_showing_the_stars(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    add_channels(fake_slack, "C7REVIEWS")
    routes = [{"rating": [1, 2], "channel": "C7REVIEWS"}]
    with harness(tmp_path, fake_slack, buttons=False, slack_table={"routes": routes}) as h:
        h.feed("Acme app crashes every time I open my cart, refund me", rating=2, id="low")
        h.feed("@acme the app crashed and I lost my order", id="plain")
        assert h.run_once()
    texts = {m["channel"]: blocks_text(m) for m in fake_slack.messages}
    assert sorted(m["channel"] for m in fake_slack.messages) == ["C1", "C7REVIEWS"]
    assert "every time I open my cart" in texts["C7REVIEWS"]
    assert "★★☆☆☆ 2 of 5" in texts["C7REVIEWS"], "the alert shows the stars"
    assert "of 5" not in texts["C1"], "a post with no rating shows none and matches no star rule"


def test_vip_goes_to_the_priority_channel_with_a_user_group_ping(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    add_channels(fake_slack, "C9VIP", "C6BILLING")
    with harness(
        tmp_path,
        fake_slack,
        buttons=False,
        brand={"vip_authors": ["grace_h"], "vip_min_followers": 50_000},
        slack_table={
            "vip": {"channel": "C9VIP", "mention": "S0VIPDESK"},
            "routes": [{"keyword": "refund", "channel": "C6BILLING"}],
        },
    ) as h:
        h.feed(REFUND, author="Grace_H", id="v1")  # VIP by handle, before any route
        h.feed("@acme my parcel is lost, nobody answers", author="star", followers=80_000, id="v2")
        h.feed(REFUND, author="nobody", followers=10, id="n1")
        assert h.run_once()
    vip = [m for m in fake_slack.messages if m["channel"] == "C9VIP"]
    assert len(vip) == 2
    for message in vip:
        assert message["text"].startswith("<!subteam^S0VIPDESK> "), "the notification pings"
        assert "<!subteam^S0VIPDESK> VIP complaint" in blocks_text(message)
        assert "⭐ VIP" in blocks_text(message)
    [plain] = [m for m in fake_slack.messages if m["channel"] == "C6BILLING"]
    assert "subteam" not in plain["text"] + blocks_text(plain)


def test_vip_without_a_priority_channel_is_pinged_where_the_routes_send_it(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(
        tmp_path,
        fake_slack,
        buttons=False,
        brand={"vip_authors": ["grace_h"]},
        slack_table={"vip": {"mention": "<!subteam^S0VIPDESK>"}},
    ) as h:
        h.feed(REFUND, author="grace_h")
        assert h.run_once()
    [message] = fake_slack.messages
    assert message["channel"] == "C1" and "<!subteam^S0VIPDESK>" in message["text"]


def _toml(tmp_path: Path, slack: FakeSlack, **slack_tables: Any) -> Path:
    (tmp_path / "feed.jsonl").write_text("")
    return config_file(tmp_path, slack_url=slack.base_url, slack=slack_tables)


@pytest.fixture
def slack_env(monkeypatch: pytest.MonkeyPatch, fake_slack: FakeSlack) -> FakeSlack:
    monkeypatch.setenv("TEST_SLACK_TOKEN", fake_slack.token)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    return fake_slack


def test_a_public_channel_is_refused_at_start_up_naming_the_key(
    tmp_path: Path, slack_env: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    add_channels(slack_env, "C2PUBLIC", is_private=False)
    config = _toml(tmp_path, slack_env, routes=[{"platform": "x", "channel": "C2PUBLIC"}])
    assert main(["run", "--once", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "[[slack.routes]] #1 channel C2PUBLIC (#c2public) is a public channel" in err
    assert "allow_public_channel = true" in err

    assert main(["check-config", "--online", "--config", str(config)]) == 2
    assert "FAIL slack: [[slack.routes]] #1 channel C2PUBLIC" in capsys.readouterr().err


def test_a_public_channel_is_accepted_when_its_config_allows_it(
    tmp_path: Path, slack_env: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    add_channels(slack_env, "C2PUBLIC", is_private=False)
    route = {"platform": "x", "channel": "C2PUBLIC", "allow_public_channel": True}
    config = _toml(tmp_path, slack_env, routes=[route])
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert main(["check-config", "--online", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "posting to private channel #complaints" in err
    assert "posting to PUBLIC channel #c2public (allowed by [[slack.routes]] #1 channel)" in err


def test_the_default_channel_may_not_be_public_either(
    tmp_path: Path, slack_env: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    slack_env.channels["C1"]["is_private"] = False
    assert main(["run", "--once", "--config", str(_toml(tmp_path, slack_env))]) == 2
    assert "[slack] channel C1 (#complaints) is a public channel" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"vip": {"channel": "C7OUT"}}, "[slack.vip] channel C7OUT"),
        ({"escalation": {"channel": "C7OUT"}}, "[slack.escalation] channel C7OUT"),
        ({"digest": {"time": "09:00", "channel": "C7OUT"}}, "[slack.digest] channel C7OUT"),
    ],
)
def test_every_target_channel_needs_the_bot_in_it(
    tmp_path: Path,
    slack_env: FakeSlack,
    capsys: pytest.CaptureFixture[str],
    table: dict[str, Any],
    key: str,
) -> None:
    add_channels(slack_env, "C7OUT", is_member=False)
    assert main(["run", "--once", "--config", str(_toml(tmp_path, slack_env, **table))]) == 2
    err = capsys.readouterr().err
    assert key in err and "/invite @app" in err


def test_slack_down_at_start_up_does_not_stop_the_daemon(
    tmp_path: Path, slack_env: FakeSlack
) -> None:
    slack_env.fault(Fault.status(503), match="conversations.info")
    assert main(["run", "--once", "--config", str(_toml(tmp_path, slack_env))]) == 0


@pytest.mark.parametrize(
    ("slack_table", "message"),
    [
        ({"routes": [{"channel": "C2"}]}, "a route needs at least one of platform"),
        ({"routes": [{"channel": "#billing", "platform": "x"}]}, "use the channel's id"),
        ({"vip": {"mention": "@vip-desk"}}, "user group's id"),
        ({"escalation": {"sla_minutes": {"high": 0}}}, "high: must be a positive number"),
        ({"escalation": {"sla_minutes": {"urgent": 5}}}, "sla_minutes.urgent"),
        ({"digest": {"time": "9am"}}, '"HH:MM" time of day'),
        ({"digest": {"time": "09:00", "timezone": "Mars/Olympus"}}, "IANA time zone"),
        ({"routes": [{"channel": "C2", "colour": "red"}]}, "routes[0].colour: unknown key"),
        ({"routes": [{"channel": "C2", "rating": [0, 1]}]}, "greater than or equal to 1"),
        ({"routes": [{"channel": "C2", "rating": "one"}]}, "routes[0].rating"),
    ],
)
def test_bad_workflow_settings_name_the_key_and_the_fix(
    slack_table: dict[str, Any], message: str
) -> None:
    data = {
        "brand": {"name": "Acme"},
        "slack": {"sink": "console", **slack_table},
        "sources": [{"type": "jsonl", "path": "m.jsonl"}],
    }
    with pytest.raises(ConfigError, match="slack") as caught:
        parse_config(data, env={})
    assert message in str(caught.value)


def test_an_app_token_variable_holding_a_bot_token_is_refused() -> None:
    data = {
        "brand": {"name": "Acme"},
        "slack": {"app_token_env": "APP", "token_env": "BOT"},
        "sources": [{"type": "jsonl", "path": "m.jsonl"}],
    }
    with pytest.raises(ConfigError, match=r"APP must hold the app-level token \(xapp-"):
        parse_config(data, env={"APP": "xoxb-1", "BOT": "xoxb-2"})
