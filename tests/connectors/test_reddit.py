"""The Reddit source, driven through the real praw client against a fake Reddit on 127.0.0.1."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.reddit import UNREADABLE_RECHECK, RedditConnector, RedditSettings
from monitor.brand import BrandSettings
from monitor.cli import main
from monitor.clock import FakeClock
from monitor.config import parse_config
from monitor.errors import AuthError, ConfigError, TransientError
from monitor.models import FetchResult
from tests.factories import config_file
from tests.fakes.reddit_api import FakeReddit
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack

BRAND = BrandSettings(name="Acme", handles=["acme_support"], terms=["acme"])
USER_AGENT = "linux:com.acme.complaint-monitor:0.1.0 (by u/acme_support)"


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit(page_size=10) as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # 12:00 UTC; the fake's items start at 11:00


def credentials(fake: FakeReddit) -> dict[str, str]:
    return {
        "REDDIT_CLIENT_ID": fake.client_id,
        "REDDIT_CLIENT_SECRET": fake.client_secret,
        "REDDIT_USERNAME": fake.username,
        "REDDIT_PASSWORD": fake.password,
    }


def make(
    fake: FakeReddit, clock: FakeClock, env: dict[str, str] | None = None, **settings: Any
) -> RedditConnector:
    raw = {
        "type": "reddit",
        "user_agent": USER_AGENT,
        "oauth_url": fake.base_url,
        "reddit_url": fake.base_url,
        "search": False,
        "lookback_seconds": 0,
    } | settings
    context = {"env": credentials(fake) | (env or {})}
    return RedditConnector(RedditSettings.model_validate(raw, context=context), BRAND, clock)


def ids(result: FetchResult) -> list[str]:
    return [post.external_id for post in result.posts]


# -- incremental and exact -------------------------------------------------------------------


def test_a_burst_across_pages_is_read_once_and_in_order(fake: FakeReddit, clock: FakeClock) -> None:
    source = make(fake, clock, subreddits=["acme"], include_comments=False)
    fake.add_post("acme", "acme before we started")
    first = source.poll(None)
    burst = [fake.add_post("acme", f"acme is down again ({i})") for i in range(35)]
    pages_before = len(fake.paths("/r/acme/new"))

    second = source.poll(first.cursor)

    assert ids(second) == [post["name"] for post in burst]
    assert second.more is False
    assert len(fake.paths("/r/acme/new")) - pages_before == 4  # 36 items in pages of 10
    assert [r.params.get("after") for r in fake.requests if r.path == "/r/acme/new"][-4:] == [
        None,
        burst[-10]["name"],
        burst[-20]["name"],
        burst[-30]["name"],
    ]
    pages_before = len(fake.paths("/r/acme/new"))
    assert source.poll(second.cursor).posts == []
    assert len(fake.paths("/r/acme/new")) - pages_before == 1  # stops at the first stored item


def test_a_deleted_or_edited_anchor_neither_loses_nor_repeats_posts(
    fake: FakeReddit, clock: FakeClock
) -> None:
    source = make(fake, clock, subreddits=["acme"], include_comments=False)
    older = fake.add_post("acme", "acme one")
    anchor = fake.add_post("acme", "acme two")
    first = source.poll(None)
    assert ids(first) == [older["name"], anchor["name"]]

    fake.delete(anchor["name"])
    fake.edit(older["name"], title="acme one (edited)")
    newer = [fake.add_post("acme", "acme three"), fake.add_post("acme", "acme four")]
    second = source.poll(first.cursor)

    assert ids(second) == [p["name"] for p in newer]
    assert source.poll(second.cursor).posts == []


def test_late_listed_items_within_the_lookback_are_read_once(
    fake: FakeReddit, clock: FakeClock
) -> None:
    source = make(fake, clock, subreddits=["acme"], lookback_seconds=300)
    top = fake.add_post("acme", "acme first", created=clock.now().timestamp() - 60)
    first = source.poll(None)
    assert ids(first) == [top["name"]]
    late = fake.add_post("acme", "acme approved late", created=top["created_utc"] - 200)
    too_late = fake.add_post("acme", "acme approved later", created=top["created_utc"] - 400)
    second = source.poll(first.cursor)
    assert ids(second) == [late["name"]]
    assert too_late["name"] not in ids(second)
    assert source.poll(second.cursor).posts == []


def test_the_first_poll_reads_back_only_as_far_as_backfill(
    fake: FakeReddit, clock: FakeClock
) -> None:
    now = clock.now().timestamp()
    fake.add_post("acme", "acme two days ago", created=now - 2 * 86_400)
    recent = fake.add_post("acme", "acme an hour ago", created=now - 3_600)
    assert ids(make(fake, clock, subreddits=["acme"]).poll(None)) == [recent["name"]]

    from_now = make(fake, clock, subreddits=["acme"], backfill_seconds=0)
    first = from_now.poll(None)
    assert first.posts == []
    fresh = fake.add_post("acme", "acme just now", created=now + 5)
    assert ids(from_now.poll(first.cursor)) == [fresh["name"]]


# -- what a post carries ---------------------------------------------------------------------


def test_posts_and_comments_are_separate_items_with_their_own_facts(
    fake: FakeReddit, clock: FakeClock
) -> None:
    post = fake.add_post("acme", "Acme app crashed", "It crashes at login", author="dana", score=5)
    comment = fake.add_comment(post, "same here, acme support is silent", author="erin", score=2)
    link = fake.add_post("acme", "status page", url="https://acme.example/outage", author="gus")
    gone = fake.add_post("acme", "acme deleted account", author=None)
    off_topic = fake.add_post("acme", "a picture of my cat")
    fake.add_comment(off_topic, "cute cat")

    posts = {p.external_id: p for p in make(fake, clock, subreddits=["acme"]).poll(None).posts}

    assert set(posts) == {post["name"], comment["name"], link["name"], gone["name"]}
    as_post = posts[post["name"]]
    assert as_post.platform == "reddit"
    assert as_post.text == "Acme app crashed\n\nIt crashes at login"
    assert as_post.author.id == as_post.author.handle == "dana"
    assert as_post.url == f"https://www.reddit.com{post['permalink']}"
    assert as_post.contact_url == "https://www.reddit.com/message/compose/?to=dana"
    assert as_post.created_at == datetime.fromtimestamp(post["created_utc"], UTC)
    assert as_post.extra == {"subreddit": "acme", "score": 5, "kind": "post"}
    as_comment = posts[comment["name"]]
    assert as_comment.external_id.startswith("t1_")
    assert as_comment.text == "same here, acme support is silent"
    assert as_comment.url == f"https://www.reddit.com{comment['permalink']}"
    assert as_comment.extra == {
        "subreddit": "acme",
        "score": 2,
        "kind": "comment",
        "parent_title": "Acme app crashed",
    }
    assert posts[link["name"]].text == "status page\n\nhttps://acme.example/outage"
    assert posts[gone["name"]].author.handle == "[deleted]"
    assert posts[gone["name"]].contact_url is None


def test_mentions_come_from_the_accounts_inbox_with_their_context_link(
    fake: FakeReddit, clock: FakeClock
) -> None:
    thread = fake.add_post("pcmasterrace", "Which router?")
    mention = fake.add_mention(thread, "ask u/acme_support, they never answer me")
    source = make(fake, clock, mentions=True)
    (post,) = source.poll(None).posts
    assert post.external_id == mention["name"]
    assert post.url == f"https://www.reddit.com{mention['permalink']}?context=3"
    assert post.extra["parent_title"] == "Which router?"
    assert post.extra["subreddit"] == "pcmasterrace"
    assert source.check_credentials() == "authenticated as u/acme_support"


def test_the_same_post_from_search_and_a_subreddit_is_returned_once(
    fake: FakeReddit, clock: FakeClock
) -> None:
    both = fake.add_post("acme", "acme refund still missing")
    elsewhere = fake.add_post("mildlyinfuriating", "acme charged me twice")
    source = make(fake, clock, subreddits=["acme"], include_comments=False, search=True)
    first = source.poll(None)
    assert ids(first) == [both["name"], elsewhere["name"]]
    assert [r.params["q"] for r in fake.requests if r.path == "/search"] == ["Acme OR acme_support"]
    later = fake.add_post("acme", "acme again")
    assert ids(source.poll(first.cursor)) == [later["name"]]


def test_search_queries_can_cover_comments_and_stay_inside_subreddits(
    fake: FakeReddit, clock: FakeClock
) -> None:
    post = fake.add_post("acme", "acme refund")
    comment = fake.add_comment(post, "my acme refund too")
    fake.add_post("other", "acme refund elsewhere")
    source = make(
        fake, clock, search=["acme refund"], search_comments=True, search_subreddits=["acme"]
    )
    assert ids(source.poll(None)) == [post["name"], comment["name"]]
    searches = [r.params for r in fake.requests if r.path == "/r/acme/search"]
    assert [(p["type"], p["restrict_sr"], p["sort"]) for p in searches] == [
        ("link", "on", "new"),
        ("comment", "on", "new"),
    ]


# -- the API as it really is -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"), [(403, "private"), (403, "quarantined"), (404, "banned")]
)
def test_an_unreadable_subreddit_is_skipped_beside_a_good_one(
    fake: FakeReddit,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    status: int,
    reason: str,
) -> None:
    fake.forbid("secret", reason, status)
    good = fake.add_post("acme", "acme broke my order")
    source = make(fake, clock, subreddits=["secret", "acme"])
    with caplog.at_level(logging.INFO, logger="connectors.reddit"):
        first = source.poll(None)
        second = source.poll(first.cursor)
    assert ids(first) == [good["name"]]
    assert second.posts == []
    assert caplog.text.count(f"r/secret cannot be read ({reason})") == 1
    assert fake.paths("/r/secret") == ["/r/secret/new"]  # not its comments, not the next poll

    clock.advance(UNREADABLE_RECHECK.total_seconds())
    fake.allow("secret")
    reopened = fake.add_post("secret", "acme leaked my data", created=clock.now().timestamp())
    with caplog.at_level(logging.INFO, logger="connectors.reddit"):
        third = source.poll(second.cursor)
    assert ids(third) == [reopened["name"]]
    assert "r/secret can be read again" in caplog.text


def test_429_pauses_the_source_until_the_reset_without_more_calls(
    fake: FakeReddit, clock: FakeClock
) -> None:
    source = make(fake, clock, subreddits=["acme"])
    fake.rate_limit["reset"] = 42
    fake.fault(Fault.rate_limited(), match="/r/acme/new")
    with pytest.raises(TransientError) as caught:
        source.poll(None)
    assert caught.value.retry_after == 42
    calls = len(fake.requests)
    with pytest.raises(TransientError):
        source.poll(None)
    assert len(fake.requests) == calls
    clock.advance(42)
    source.poll(None)


def test_a_spent_budget_raises_at_once_instead_of_sleeping_to_the_reset(
    fake: FakeReddit, clock: FakeClock
) -> None:
    source = make(fake, clock, subreddits=["acme"], include_comments=False)
    first = source.poll(None)
    fake.rate_limit.update(remaining=0, used=600, reset=120)
    second = source.poll(first.cursor)  # its one call succeeds and reports 0 left
    calls = len(fake.requests)
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        source.poll(second.cursor)  # prawcore itself would sleep 120 s here
    assert time.monotonic() - started < 1
    assert caught.value.retry_after == 120
    assert len(fake.requests) == calls
    fake.rate_limit.update(remaining=598, used=2, reset=300)
    clock.advance(120)
    source.poll(second.cursor)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_fails_fast_for_the_scheduler_to_retry(
    fake: FakeReddit, clock: FakeClock, status: int
) -> None:
    source = make(fake, clock, subreddits=["acme"], include_comments=False)
    fake.fault(Fault.status(status), match="/r/acme/new")
    started = time.monotonic()
    with pytest.raises(TransientError, match=str(status)) as caught:
        source.poll(None)
    assert time.monotonic() - started < 1  # prawcore would retry twice with ~4 s of sleeps
    assert caught.value.retry_after is None
    assert fake.paths("/r/acme/new") == ["/r/acme/new"]
    source.poll(None)


def test_unreachable_and_slow_servers_are_transient(fake: FakeReddit, clock: FakeClock) -> None:
    slow = make(fake, clock, subreddits=["acme"], include_comments=False, timeout_seconds=1)
    fake.fault(Fault.slow(1.5), match="/r/acme/new")
    with pytest.raises(TransientError, match="ReadTimeout"):
        slow.poll(None)
    fake.close()
    started = time.monotonic()
    with pytest.raises(TransientError, match="ConnectionError") as caught:
        slow.poll(None)
    assert time.monotonic() - started < 1
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize(
    ("settings", "env", "credential", "cause"),
    [
        ({"mentions": True}, {"REDDIT_PASSWORD": "wrong"}, "REDDIT_PASSWORD", "OAuthException"),
        ({}, {"REDDIT_CLIENT_SECRET": "wrong"}, "REDDIT_CLIENT_SECRET", "ResponseException"),
        (
            {"mentions": True},
            {"REDDIT_CLIENT_ID": "x"},
            "REDDIT_CLIENT_SECRET",
            "ResponseException",
        ),
        ({"client_secret_env": "ACME_SECRET"}, {"ACME_SECRET": "wrong"}, "ACME_SECRET", None),
    ],
)
def test_a_refused_login_names_the_credential(
    fake: FakeReddit,
    clock: FakeClock,
    settings: dict[str, Any],
    env: dict[str, str],
    credential: str,
    cause: str | None,
) -> None:
    source = make(fake, clock, env, subreddits=["acme"], **settings)
    with pytest.raises(AuthError) as caught:
        source.poll(None)
    assert caught.value.credential == credential
    assert credential in str(caught.value)
    assert "wrong" not in str(caught.value)
    if cause:
        assert type(caught.value.__cause__).__name__ == cause
    with pytest.raises(AuthError):
        source.check_credentials()


FEED_ALTERNATIVE = (
    "Reddit requires approval for new API apps since 2026",
    'type = "feed"',
    "https://www.reddit.com/r/<sub>/new/.rss",
)


def test_refused_or_missing_app_credentials_point_to_the_reddit_feeds(
    fake: FakeReddit, clock: FakeClock
) -> None:
    """A new API app may wait for Reddit's approval: the error says how to watch Reddit
    without one."""
    refused = make(fake, clock, {"REDDIT_CLIENT_SECRET": "wrong"}, subreddits=["acme"])
    with pytest.raises(AuthError) as polled:
        refused.poll(None)
    with pytest.raises(AuthError) as checked:
        refused.check_credentials()
    with pytest.raises(ConfigError) as missing:
        load({"type": "reddit", "user_agent": USER_AGENT}, {"REDDIT_CLIENT_ID": "id"})

    for caught in (polled, checked, missing):
        message = str(caught.value)
        assert all(part in message for part in FEED_ALTERNATIVE), message
        assert "wrong" not in message


def test_an_expired_token_is_renewed_by_praw(fake: FakeReddit, clock: FakeClock) -> None:
    source = make(fake, clock, subreddits=["acme"], include_comments=False)
    first = source.poll(None)
    fake.revoke_tokens()  # the next call gets 401 + www-authenticate: invalid_token
    post = fake.add_post("acme", "acme support hung up")
    assert ids(source.poll(first.cursor)) == [post["name"]]
    assert fake.paths("/api/v1/access_token") == ["/api/v1/access_token"] * 2


def test_an_app_only_check_reads_once(fake: FakeReddit, clock: FakeClock) -> None:
    source = make(fake, clock, subreddits=["acme"])
    assert source.check_credentials() == "authenticated as app REDDIT_CLIENT_ID (read-only)"
    assert fake.paths() == ["/api/v1/access_token", "/search"]
    grant = fake.requests[0]
    assert grant.user_agent.startswith(USER_AGENT)
    assert all(r.token for r in fake.requests[1:])


# -- configuration ---------------------------------------------------------------------------


def load(source: dict[str, Any], env: dict[str, str]) -> Any:
    return parse_config({"brand": {"name": "Acme"}, "sources": [source]}, env=env)


GOOD_ENV = {"REDDIT_CLIENT_ID": "id", "REDDIT_CLIENT_SECRET": "secret"}


@pytest.mark.parametrize(
    ("source", "env", "message"),
    [
        ({}, GOOD_ENV, "<platform>:<app id>:<version> (by u/<username>)"),
        ({"user_agent": "complaint-monitor/0.1"}, GOOD_ENV, "(by u/<username>)"),
        (
            {"user_agent": "python:myapp:v1.0 (by u/username)"},
            GOOD_ENV,
            "the app and user parts look generic",
        ),
        ({"user_agent": USER_AGENT}, {"REDDIT_CLIENT_ID": "id"}, "REDDIT_CLIENT_SECRET is not set"),
        (
            {"user_agent": USER_AGENT, "client_id_env": "ACME_REDDIT_ID"},
            GOOD_ENV,
            "ACME_REDDIT_ID is not set",
        ),
        ({"user_agent": USER_AGENT, "mentions": True}, GOOD_ENV, "REDDIT_USERNAME is not set"),
        ({"user_agent": USER_AGENT, "search": False}, GOOD_ENV, "nothing to read"),
        ({"user_agent": USER_AGENT, "subreddits": ["acme corp"]}, GOOD_ENV, "not a subreddit"),
        ({"user_agent": USER_AGENT, "oauth_url": "oauth.reddit.com"}, GOOD_ENV, "http(s) URL"),
    ],
)
def test_configuration_errors_say_what_to_fix(
    source: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load({"type": "reddit"} | source, env)
    assert message in str(caught.value)
    assert "sources[0]" in str(caught.value)


def test_a_good_configuration_and_a_disabled_one_without_secrets() -> None:
    config = load({"type": "reddit", "user_agent": USER_AGENT, "subreddits": ["r/Acme"]}, GOOD_ENV)
    (source,) = config.sources
    assert isinstance(source, RedditSettings)
    assert source.subreddits == ["Acme"]
    assert source.secret("client_secret") is not None
    assert load({"type": "reddit", "user_agent": USER_AGENT, "enabled": False}, {}).sources


# -- check-config ------------------------------------------------------------------------------


def write_monitor_config(tmp_path: Path, reddit: FakeReddit, slack: FakeSlack) -> Path:
    source = {
        "type": "reddit",
        "subreddits": ["acme"],
        "search": True,
        "user_agent": USER_AGENT,
        "oauth_url": reddit.base_url,
        "reddit_url": reddit.base_url,
    }
    return config_file(
        tmp_path,
        slack_url=slack.base_url,
        database={"url": f"sqlite:///{tmp_path / 'monitor.db'}"},
        brand={"handles": ["acme_support"]},
        sources=[source],
    )


def test_check_config_online_names_the_refused_reddit_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeReddit() as reddit, FakeSlack() as slack:
        for name, value in credentials(reddit).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("TEST_SLACK_TOKEN", slack.token)
        config = write_monitor_config(tmp_path, reddit, slack)
        assert main(["check-config", "--online", "--config", str(config)]) == 0
        assert "ok   source reddit: authenticated as app" in capsys.readouterr().err
        monkeypatch.setenv("REDDIT_CLIENT_SECRET", "revoked-secret")
        assert main(["check-config", "--online", "--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert "FAIL source reddit:" in err and "REDDIT_CLIENT_SECRET" in err
        assert 'type = "feed"' in err  # the way to watch Reddit without an approved app
        assert "revoked-secret" not in err
