"""The Mastodon connector against fake instances on 127.0.0.1 (real HTTP, Mastodon's JSON).

What a user would notice: mentions and hashtag posts as plain text with their links and a
direct-mention next step, several instances in one source, edits judged again, bursts read oldest
first across polls, and each fault sorted into the project's errors with the cursor left where it
was (so the next poll reads what the failed one missed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.mastodon import MastodonConnector, MastodonSettings
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from monitor.errors import AuthError, ConfigError, TransientError
from monitor.models import Cursor, FetchResult
from tests.fakes.mastodon_api import FakeMastodon, iso
from tests.fakes.server import Fault

BRAND = BrandSettings(name="Acme", handles=["acme"], terms=["acme"])
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOKEN_ENV = "ACME_SOCIAL_TOKEN"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def social(clock: FakeClock) -> Iterator[FakeMastodon]:
    with FakeMastodon(clock=lambda: clock.now().timestamp()) as fake:
        yield fake


def connector(
    clock: FakeClock, *instances: FakeMastodon, env: dict[str, str] | None = None, **raw: Any
) -> MastodonConnector:
    tables = raw.pop("instances", None) or [
        {"url": fake.base_url, "name": fake.domain, "access_token_env": f"TOKEN_{n}"}
        for n, fake in enumerate(instances)
    ]
    env = env or {f"TOKEN_{n}": fake.token for n, fake in enumerate(instances)}
    settings = MastodonSettings.model_validate(
        {"type": "mastodon", "instances": tables, "timeout_seconds": 0.5} | raw,
        context={"env": env},
    )
    return MastodonConnector(settings, BRAND, clock)


def poll(source: MastodonConnector, cursor: Cursor | None) -> FetchResult:
    """One poll, the cursor through JSON as the database keeps it."""
    result = source.poll(cursor)
    return FetchResult(result.posts, json.loads(json.dumps(result.cursor)), result.more)


def ids(result: FetchResult) -> list[str]:
    return [post.external_id for post in result.posts]


# -- what a post looks like -----------------------------------------------------------------


def test_a_mention_becomes_plain_text_with_its_link_and_a_direct_mention_next_step(
    social: FakeMastodon, clock: FakeClock
) -> None:
    status = social.mention(
        "@acme refund & still waiting\n\nthree <weeks> now",
        author="bob",
        remote="example.social",
        language="de",
        spoiler="billing rant",
    )

    (post,) = poll(connector(clock, social), None).posts

    assert post.text == "billing rant\n\n@acme refund & still waiting\n\nthree <weeks> now"
    assert post.external_id == status["uri"]
    assert post.url == "https://example.social/@bob/" + status["id"]
    assert post.author.handle == "bob@example.social"
    assert post.author.display_name == "Bob" and post.author.followers == 42
    assert post.language == "de"
    assert post.created_at == START
    assert post.contact_url == f"{social.base_url}/share?text=@bob@example.social%20"
    assert post.extra["visibility"] == "public" and post.extra["content_warning"] is True
    assert post.edited_at is None


def test_a_local_author_is_named_with_the_instances_domain(
    social: FakeMastodon, clock: FakeClock
) -> None:
    social.mention("@acme where is my parcel", author="dana")

    (post,) = poll(connector(clock, social), None).posts

    assert post.author.handle == "dana@social.example"  # from the profile URL, not the API host


def test_the_requests_are_mentions_and_hashtag_timelines_paged_by_min_id_with_the_token(
    social: FakeMastodon, clock: FakeClock
) -> None:
    source = connector(
        clock,
        instances=[{"url": social.base_url, "access_token_env": "T", "hashtags": ["#AcmeAir"]}],
        env={"T": social.token},
        page_size=30,
    )
    social.mention("@acme hello")
    social.tagged_many(1, "acmeair")
    first = poll(source, None)
    poll(source, first.cursor)

    reads = [r for r in social.requests if r.path != "/api/v2/instance"]
    assert [(r.path, r.query) for r in reads] == [
        ("/api/v1/notifications", {"types[]": "mention", "limit": "30"}),
        ("/api/v1/timelines/tag/AcmeAir", {"limit": "30"}),
        (
            "/api/v1/notifications",
            {"types[]": "mention", "limit": "30", "min_id": social.notifications[0]["id"]},
        ),
        ("/api/v1/timelines/tag/AcmeAir", {"limit": "30", "min_id": social.statuses[1]["id"]}),
    ]
    assert {r.token for r in reads} == {social.token}
    assert all("complaint-monitor" in r.user_agent for r in reads)


def test_other_notifications_and_boosts_are_not_posts(
    social: FakeMastodon, clock: FakeClock
) -> None:
    social.favourite()
    boost = social.status("", author="fan", tags=["acme"])
    boost["reblog"] = social.status("acme original", tags=[])
    kept = social.mention("@acme my order is late")["uri"]

    source = connector(
        clock,
        instances=[{"url": social.base_url, "access_token_env": "T", "hashtags": ["acme"]}],
        env={"T": social.token},
    )
    assert ids(poll(source, None)) == [kept]


# -- the cursor -----------------------------------------------------------------------------


def test_the_first_poll_reads_the_newest_page_only_then_everything_after_it(
    social: FakeMastodon, clock: FakeClock
) -> None:
    social.mention_many(7, "@acme old {n}")
    source = connector(clock, social, page_size=5)

    first = poll(source, None)
    later = social.mention_many(3, "@acme new {n}")
    second = poll(source, first.cursor)

    assert [p.text for p in first.posts] == [f"@acme old {n}" for n in range(2, 7)]
    assert first.more is False
    assert ids(second) == later
    assert poll(source, second.cursor).posts == []


def test_a_stream_empty_at_its_first_poll_later_reads_a_burst_from_its_start(
    social: FakeMastodon, clock: FakeClock
) -> None:
    source = connector(clock, social, page_size=5, max_pages_per_poll=2)
    first = poll(source, None)
    burst = social.mention_many(12)

    seen: list[str] = []
    cursor, mores = first.cursor, []
    for _ in range(3):
        result = poll(source, cursor)
        seen += ids(result)
        mores.append(result.more)
        cursor = result.cursor

    assert first.posts == [] and first.cursor["instances"]["social.example"]["mentions"] == "0"
    assert seen == burst
    assert mores == [True, False, False]


def test_several_instances_each_with_its_token_and_a_cursor_of_its_own(
    social: FakeMastodon, clock: FakeClock
) -> None:
    with FakeMastodon(
        clock=lambda: clock.now().timestamp(), domain="other.example", token="t-2"
    ) as other:
        source = connector(clock, social, other)
        first = poll(source, None)
        clock.advance(1)
        a = social.mention("@acme one")["uri"]
        clock.advance(1)
        b = other.mention("@acme two")["uri"]
        clock.advance(1)
        c = social.mention("@acme three")["uri"]

        result = poll(source, first.cursor)

        assert ids(result) == [a, b, c]  # oldest first across instances
        assert set(result.cursor["instances"]) == {"social.example", "other.example"}
        assert [p.extra["instance"] for p in result.posts] == [
            "social.example",
            "other.example",
            "social.example",
        ]
        assert {r.token for r in other.requests if r.path != "/api/v2/instance"} == {"t-2"}


def test_a_status_seen_as_a_mention_and_under_a_hashtag_is_one_post(
    social: FakeMastodon, clock: FakeClock
) -> None:
    both = social.mention("@acme #acme is down again", tags=["acme"])["uri"]
    source = connector(
        clock,
        instances=[{"url": social.base_url, "access_token_env": "T", "hashtags": ["acme"]}],
        env={"T": social.token},
    )

    assert ids(poll(source, None)) == [both]


def test_an_edited_status_comes_again_with_its_new_text_and_edited_at(
    social: FakeMastodon, clock: FakeClock
) -> None:
    source = connector(clock, social)
    start = poll(source, None)
    status = social.mention("@acme thanks, all good")
    first = poll(source, start.cursor)
    clock.advance(60)
    social.edit(status, "@acme actually it broke again, refund please")

    again = poll(source, start.cursor)  # read again (a failed store, or a mention re-read)

    (before,) = first.posts
    (after,) = again.posts
    assert after.external_id == before.external_id == status["uri"]
    assert after.text == "@acme actually it broke again, refund please"
    assert before.edited_at is None
    assert after.edited_at == START + timedelta(seconds=60)


def test_a_full_text_search_reads_matching_statuses_oldest_first_across_polls(
    social: FakeMastodon, clock: FakeClock
) -> None:
    source = connector(
        clock,
        instances=[
            {
                "url": social.base_url,
                "access_token_env": "T",
                "mentions": False,
                "search": ["acme  refund"],
            }
        ],
        env={"T": social.token},
        page_size=3,
        max_pages_per_poll=2,
    )
    social.status("acme refund please, old")
    first = poll(source, None)
    social.status("nothing to see here")
    burst = [social.status(f"Acme: refund {n} still missing")["uri"] for n in range(7)]

    second = poll(source, first.cursor)
    third = poll(source, second.cursor)

    assert [p.text for p in first.posts] == ["acme refund please, old"]
    assert ids(second) + ids(third) == burst
    assert (second.more, third.more) == (True, False)
    (request, *_) = social.served("/api/v2/search")
    assert request.query == {
        "q": "acme refund",
        "type": "statuses",
        "limit": "3",
        "exclude_unreviewed": "1",
    }


def test_check_credentials_says_when_a_search_finds_nothing(
    social: FakeMastodon, clock: FakeClock
) -> None:
    social.full_text_search = False  # an instance without Elasticsearch
    social.status("acme refund")
    source = connector(
        clock,
        instances=[{"url": social.base_url, "access_token_env": "T", "search": ["acme"]}],
        env={"T": social.token},
    )

    answer = source.check_credentials()

    assert answer.startswith("authenticated as @acme@")
    assert "may lack full-text search" in answer


# -- faults ---------------------------------------------------------------------------------


FAULTS: list[tuple[str, Fault, type[Exception], float | None]] = [
    ("429 with X-RateLimit-Reset", Fault.rate_limited(120), TransientError, 120),
    ("429 without a reset: the window's", Fault.rate_limited(), TransientError, 300),
    ("500", Fault.status(500), TransientError, None),
    ("502", Fault.status(502), TransientError, None),
    ("503", Fault.status(503), TransientError, None),
    ("timeout", Fault.slow(1.0), TransientError, None),
    ("dropped connection", Fault.drop(), TransientError, None),
    ("HTML instead of JSON", Fault.malformed(b"<html>bad gateway</html>"), TransientError, None),
    ("JSON cut in half", Fault.malformed(), TransientError, None),
    ("an object, not a list", Fault.malformed(b'{"error": "?"}'), TransientError, None),
    ("401", Fault.status(401), AuthError, None),
    ("403 (missing scope)", Fault.status(403, error="outside the scopes"), AuthError, None),
    ("404 (wrong url)", Fault.status(404), ConfigError, None),
]


@pytest.mark.parametrize(("name", "fault", "error", "wait"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_fault_is_the_projects_error_and_the_next_poll_reads_what_was_missed(
    social: FakeMastodon,
    clock: FakeClock,
    name: str,
    fault: Fault,
    error: type[Exception],
    wait: float | None,
) -> None:
    source = connector(clock, social)
    first = poll(source, None)
    missed = social.mention("@acme lost my order")["uri"]
    social.fault(fault, match="/api/v1/notifications")

    with pytest.raises(error) as caught:
        source.poll(first.cursor)

    if name != "an object, not a list":  # Mastodon.py's error stays in the traceback
        assert caught.value.__cause__ is not None
    if name == "timeout":
        assert "ReadTimeout" in str(caught.value)
    if wait is not None:
        assert isinstance(caught.value, TransientError)
        assert caught.value.retry_after == pytest.approx(wait, abs=2)
    if error is AuthError:
        assert isinstance(caught.value, AuthError)
        assert caught.value.credential == "TOKEN_0"
        assert social.token not in str(caught.value)
    assert ids(poll(source, first.cursor)) == [missed]


def test_items_without_an_id_or_a_status_are_skipped_and_the_rest_are_read(
    social: FakeMastodon, clock: FakeClock
) -> None:
    source = connector(clock, social)
    first = poll(source, None)
    good = social.mention("@acme fine")["uri"]

    def broken(raw: bytes) -> bytes:
        page = json.loads(raw)
        page += [
            {"id": "", "type": "mention", "status": page[0]["status"]},
            {"id": "9999", "type": "mention", "status": None},
            {"id": "9998", "type": "mention", "status": {"id": "1", "content": "no account"}},
            "not an object",
        ]
        return json.dumps(page).encode()

    social.fault(Fault.malformed(broken), match="/api/v1/notifications")

    assert ids(poll(source, first.cursor)) == [good]


def test_a_server_that_ignores_min_id_gives_nothing_new_and_no_endless_more(
    social: FakeMastodon, clock: FakeClock
) -> None:
    social.mention_many(5)
    source = connector(clock, social, page_size=5)
    first = poll(source, None)
    newest_page = json.dumps(json.loads(json.dumps(social.notifications))[::-1]).encode()
    social.fault(Fault.malformed(newest_page), match="/api/v1/notifications", times=5)

    again = poll(source, first.cursor)

    assert again.posts == [] and again.more is False and again.cursor == first.cursor
    assert len(social.served("/api/v1/notifications")) == 2


def test_hostile_text_comes_out_plain_storable_and_bounded(
    social: FakeMastodon, clock: FakeClock
) -> None:
    social.mention(
        "",
        author="eve",
        raw_html="<p>acme\x00 <script>alert(1)</script><b>bold</b> &lt;!channel&gt;</p><p>"
        + "x" * 2_000_000
        + "</p>",
    )

    (post,) = poll(connector(clock, social), None).posts

    assert "\x00" not in post.text and "alert(1)" not in post.text and "<b>" not in post.text
    assert post.text.startswith("acme bold <!channel>")  # Slack escaping happens later, once
    assert len(post.text) <= 40_000


def test_check_credentials_names_the_account_on_every_instance(
    social: FakeMastodon, clock: FakeClock
) -> None:
    assert (
        connector(clock, social).check_credentials()
        == "authenticated as @acme@127.0.0.1:" + (social.base_url.rsplit(":", 1)[1])
    )
    wrong = connector(clock, social, env={"TOKEN_0": "stolen"})
    with pytest.raises(AuthError, match="TOKEN_0"):
        wrong.check_credentials()


def test_the_fakes_rate_limit_headers_and_link_header_are_mastodons(
    social: FakeMastodon, clock: FakeClock
) -> None:
    """The wire facts the connector relies on (platform-apis-2.md §2)."""
    social.mention_many(3)
    poll(connector(clock, social), None)
    social.fault(Fault.rate_limited(60))
    with pytest.raises(TransientError):
        connector(clock, social).poll(None)
    assert social.requests[-1].status == 429
    assert iso(0) == "1970-01-01T00:00:00.000Z"


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance", "message"),
    [
        ({"url": "ftp://x"}, "http"),
        ({"url": "https://m.example", "hashtags": ["acme air"]}, "not a hashtag"),
        ({"url": "https://m.example", "mentions": False}, "nothing to read"),
        ({"url": "https://m.example", "access_token_env": "UNSET"}, "UNSET is not set"),
    ],
)
def test_settings_refuse_what_cannot_work(instance: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MastodonSettings.model_validate(
            {"type": "mastodon", "instances": [instance]},
            context={"env": {"MASTODON_ACCESS_TOKEN": "t"}},
        )


def test_settings_name_instances_by_host_and_refuse_two_alike() -> None:
    env = {"MASTODON_ACCESS_TOKEN": "t"}
    one = MastodonSettings.model_validate(
        {"type": "mastodon", "instances": [{"url": "https://m.example/", "hashtags": ["#Acme"]}]},
        context={"env": env},
    )
    assert one.instances[0].name == "m.example" and one.instances[0].hashtags == ["Acme"]
    with pytest.raises(ValueError, match="same name"):
        MastodonSettings.model_validate(
            {"type": "mastodon", "instances": [{"url": "https://m.example"}] * 2},
            context={"env": env},
        )


def test_a_command_that_never_fetches_needs_no_token() -> None:
    settings = MastodonSettings.model_validate(
        {"type": "mastodon", "instances": [{"url": "https://m.example"}]},
        context={"env": {}, "require_secrets": False},
    )
    assert settings.instances[0].secret("access_token") is None
