"""The Google Play connector against a fake Android Publisher API and token endpoint on
127.0.0.1 (tests/fakes/google_play_api.py): google-api-python-client and google-auth do the real
JWT exchange and requests over a socket. The shared behaviour (incremental reads, bursts, the
common faults, the end-to-end run) is in tests/connectors/test_contract.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.google_play import GooglePlayConnector, GooglePlaySettings
from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.cli import main
from monitor.clock import FakeClock
from monitor.config import load_config, masked_dump
from monitor.errors import AuthError, ConfigError, TransientError
from monitor.models import Cursor, FetchResult
from monitor.pipeline import Pipeline
from monitor.storage import Database, Storage
from tests.factories import config_file
from tests.fakes.google_play_api import PACKAGE, FakeGooglePlay, rsa_key
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack

BRAND = BrandSettings(name="Acme", terms=["acme"])
DEVELOPER, CONSOLE_APP = "5550001111222233334", "4972000000000000001"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))


@pytest.fixture
def play(clock: FakeClock) -> Iterator[FakeGooglePlay]:
    with FakeGooglePlay(clock=lambda: clock.now().timestamp()) as fake:
        yield fake


@pytest.fixture
def key_file(play: FakeGooglePlay, tmp_path: Path) -> Path:
    return play.service_account(tmp_path / "play-key.json")


def table(play: FakeGooglePlay, key_file: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "google_play",
        "service_account_file": str(key_file),
        "apps": [{"package_name": PACKAGE, "console_app_id": CONSOLE_APP}],
        "developer_id": DEVELOPER,
        "api_endpoint": f"{play.root_url}/",
        "timeout_seconds": 0.5,
    } | overrides


def connector(
    play: FakeGooglePlay, key_file: Path, clock: FakeClock, **overrides: Any
) -> GooglePlayConnector:
    settings = GooglePlaySettings.model_validate(table(play, key_file, **overrides))
    return GooglePlayConnector(settings, BRAND, clock)


def poll(source: GooglePlayConnector, cursor: Cursor | None) -> FetchResult:
    result = source.poll(cursor)
    return FetchResult(result.posts, json.loads(json.dumps(result.cursor)), result.more)


# -- what a review becomes ----------------------------------------------------------------------


def test_a_review_carries_its_stars_version_device_language_and_console_links(
    play: FakeGooglePlay, key_file: Path, clock: FakeClock
) -> None:
    review_id = play.review(
        "Crashes every time I open my cart", title="Useless", rating=1, language="pt_BR"
    )

    (post,) = poll(connector(play, key_file, clock), None).posts

    assert post.platform == "google_play" and post.external_id == review_id
    assert post.text == "Useless\n\nCrashes every time I open my cart"  # title, tab, body
    assert post.rating == 1
    assert post.language == "pt"
    assert post.author.handle == "Erin"
    assert post.created_at == clock.now()
    assert post.edited_at is None
    assert post.extra | {"developer_replied": None} == {
        "package": PACKAGE,
        "app_version": "4.2.0",
        "app_version_code": 4200,
        "device": "a52q",
        "device_name": "Galaxy A52",
        "android_version": 34,
        "thumbs_up": 0,
        "reviewer_language": "pt_BR",
        "developer_replied": None,
    }
    console = (
        f"https://play.google.com/console/u/0/developers/{DEVELOPER}/app/{CONSOLE_APP}"
        f"/user-feedback/review-details?reviewId={review_id}&corpus=PUBLIC_REVIEWS"
    )
    assert post.url == console
    assert post.contact_url == console  # the reply form is on the review's console page


def test_without_the_console_ids_the_link_is_the_store_page_and_there_is_no_reply_link(
    play: FakeGooglePlay, key_file: Path, clock: FakeClock
) -> None:
    review_id = play.review("Refund never came", reply="Sorry, we are on it")
    source = connector(play, key_file, clock, apps=[{"package_name": PACKAGE}], developer_id="")

    (post,) = poll(source, None).posts

    quoted = review_id.replace(":", "%3A")
    assert post.url == f"https://play.google.com/store/apps/details?id={PACKAGE}&reviewId={quoted}"
    assert post.contact_url is None
    assert post.extra["developer_replied"] is True


def test_an_edited_review_comes_back_with_its_new_text_as_an_edit(
    play: FakeGooglePlay, key_file: Path, clock: FakeClock
) -> None:
    source = connector(play, key_file, clock)
    review_id = play.review("Great app, five stars", rating=5)
    first = poll(source, None)
    clock.advance(3 * 86_400)  # edited days later, after the lookback
    play.edit(review_id, "Since 4.2 it crashes on start, refund please", rating=1)

    (edit,) = poll(source, first.cursor).posts

    assert edit.external_id == review_id
    assert edit.text == "Since 4.2 it crashes on start, refund please"
    assert edit.rating == 1
    assert edit.edited_at == clock.now()
    assert poll(source, poll(source, first.cursor).cursor).posts == []  # once


def test_pages_follow_the_next_page_token_and_the_first_poll_reads_googles_week(
    play: FakeGooglePlay, key_file: Path, clock: FakeClock
) -> None:
    play.review("from last month", modified=clock.now().timestamp() - 30 * 86_400)
    ids = play.review_many(12, "review {n}")
    source = connector(play, key_file, clock, page_size=5)

    result = poll(source, None)

    assert [p.external_id for p in result.posts] == ids  # oldest first; Google's week only
    tokens = [r.query.get("token") for r in play.served("/reviews")]
    assert tokens[0] is None and all(tokens[1:]) and len(tokens) == 3
    assert {r.query["maxResults"] for r in play.served("/reviews")} == {"5"}


def test_a_refused_page_token_reads_from_the_top_without_repeating(
    play: FakeGooglePlay, key_file: Path, clock: FakeClock
) -> None:
    play.review("existing")
    source = connector(play, key_file, clock, page_size=5, max_pages_per_poll=2)
    start = poll(source, None)
    burst = play.review_many(15, "burst {n}")
    first = poll(source, start.cursor)
    assert first.more
    play.fault(Fault.status(400, error="Invalid pagination token."), match="/reviews")

    rest = poll(source, first.cursor)
    again = poll(source, rest.cursor) if rest.more else rest

    seen = [p.external_id for p in (*first.posts, *rest.posts, *again.posts)]
    assert sorted(seen) == sorted(burst) and len(seen) == len(set(seen))


def test_every_configured_app_is_read_and_kept_apart_in_the_cursor(
    clock: FakeClock, tmp_path: Path
) -> None:
    other = "com.acme.wallet"
    with FakeGooglePlay(clock=lambda: clock.now().timestamp(), packages=(PACKAGE, other)) as play:
        key_file = play.service_account(tmp_path / "key.json")
        shop, wallet = play.review("shop crash"), play.review("wallet crash", package=other)
        apps = [{"package_name": PACKAGE}, {"package_name": other}]

        result = poll(connector(play, key_file, clock, apps=apps), None)

    assert {p.external_id: p.extra["package"] for p in result.posts} == {
        shop: PACKAGE,
        wallet: other,
    }
    assert sorted(result.cursor["apps"]) == [PACKAGE, other]


# -- the key file -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist"),
        ("{not json", "is not JSON"),
        ('{"type": "authorized_user", "client_id": "x"}', "is not a service-account key"),
        ('{"type": "service_account", "client_email": "a@b"}', "lacks private_key"),
    ],
)
def test_a_missing_or_wrong_key_file_is_a_config_error_naming_the_fix(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    config = config_file(
        tmp_path,
        sources=[
            {
                "type": "google_play",
                "service_account_file": "key.json",
                "apps": [{"package_name": PACKAGE}],
            }
        ],
    )

    with pytest.raises(ConfigError) as caught:
        load_config(config)

    assert expected in str(caught.value) and str(path) in str(caught.value)
    assert "Service accounts > Keys" in str(caught.value)


def test_a_key_that_is_no_key_is_a_config_error(
    play: FakeGooglePlay, key_file: Path, clock: FakeClock
) -> None:
    info = json.loads(key_file.read_text())
    key_file.write_text(json.dumps(info | {"private_key": "-----BEGIN PRIVATE KEY-----\nAAAA"}))

    with pytest.raises(ConfigError, match="no usable private key"):
        connector(play, key_file, clock)


def test_the_key_never_appears_in_the_printed_config(
    play: FakeGooglePlay, key_file: Path, tmp_path: Path
) -> None:
    config = load_config(config_file(tmp_path, sources=[table(play, key_file)]))

    dumped = json.dumps(masked_dump(config))

    assert "PRIVATE KEY" not in dumped and "private_key_id" not in dumped
    assert str(key_file) in dumped
    assert '"service_account": "********** (set)"' in dumped


# -- faults -------------------------------------------------------------------------------------


def test_a_key_google_refuses_is_an_auth_error_naming_the_file(
    play: FakeGooglePlay, clock: FakeClock, tmp_path: Path
) -> None:
    revoked = play.service_account(tmp_path / "revoked.json", key=rsa_key(1))

    with pytest.raises(AuthError) as caught:
        poll(connector(play, revoked, clock), None)

    assert caught.value.credential == str(revoked)
    assert "invalid_grant" in str(caught.value) and "new JSON key" in str(caught.value)
    assert play.paths() == ["/token"]  # no API call without a token


def test_a_revoked_access_token_is_renewed_once_then_an_auth_error(
    play: FakeGooglePlay, key_file: Path, clock: FakeClock
) -> None:
    source = connector(play, key_file, clock)
    play.review("crash")
    first = poll(source, None)
    play.tokens.clear()  # revoked on Google's side: google-auth trades the JWT again

    assert poll(source, None).posts == first.posts
    assert play.paths().count("/token") == 2

    play.fault(Fault.status(401), match="/reviews", times=10)
    with pytest.raises(AuthError, match="401") as caught:
        poll(source, None)
    assert caught.value.credential == str(key_file)


def test_an_app_the_account_was_not_invited_to_says_how_to_invite_it(
    play: FakeGooglePlay, key_file: Path, clock: FakeClock
) -> None:
    play.granted.clear()
    source = connector(play, key_file, clock)

    for call in (lambda: source.poll(None), source.check_credentials):
        with pytest.raises(AuthError) as caught:
            call()
        message = str(caught.value)
        assert "403" in message and "The caller does not have permission" in message
        assert play.client_email in message and "Users and permissions" in message


def test_an_unknown_package_is_a_config_error(
    play: FakeGooglePlay, key_file: Path, clock: FakeClock
) -> None:
    source = connector(play, key_file, clock, apps=[{"package_name": "com.acme.nothere"}])

    with pytest.raises(ConfigError, match=r"404.*check the package name"):
        source.poll(None)


@pytest.mark.parametrize(
    ("fault", "retry_after"),
    [
        (Fault.rate_limited(90), 90.0),
        (Fault.status(429), 60.0),  # no Retry-After: the project's default wait
        (Fault.status(500), None),
        (Fault.status(503), None),
        (Fault.malformed(), None),  # a body cut in half
    ],
)
def test_rate_limits_server_errors_and_broken_bodies_are_transient(
    play: FakeGooglePlay,
    key_file: Path,
    clock: FakeClock,
    fault: Fault,
    retry_after: float | None,
) -> None:
    review_id = play.review("crash")
    source = connector(play, key_file, clock)
    play.fault(fault, match="/reviews")

    with pytest.raises(TransientError) as caught:
        source.poll(None)

    assert caught.value.retry_after == retry_after
    assert [p.external_id for p in poll(source, None).posts] == [review_id]


def test_an_unreachable_api_is_transient(key_file: Path, clock: FakeClock) -> None:
    with FakeGooglePlay(clock=lambda: clock.now().timestamp()) as gone:
        endpoint = f"{gone.root_url}/"
    with FakeGooglePlay(clock=lambda: clock.now().timestamp()) as play:
        fresh = play.service_account(key_file.parent / "fresh.json")
        source = connector(play, fresh, clock, api_endpoint=endpoint)
        with pytest.raises(TransientError, match="cannot reach"):
            source.poll(None)


# -- the command line ---------------------------------------------------------------------------


def test_check_config_online_proves_the_key_and_the_invitation(
    play: FakeGooglePlay,
    key_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeSlack() as slack:
        monkeypatch.setenv("TEST_SLACK_TOKEN", slack.token)
        config = config_file(tmp_path, slack_url=slack.base_url, sources=[table(play, key_file)])

        assert main(["check-config", "--online", "--config", str(config)]) == 0
        err = capsys.readouterr().err
        assert f"ok   source google_play: authenticated as {play.client_email}" in err

        play.granted.clear()
        assert main(["check-config", "--online", "--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert "FAIL source google_play:" in err and "Users and permissions" in err
        assert "PRIVATE KEY" not in err


def test_an_edit_that_turns_a_review_into_a_complaint_is_judged_again_and_alerted(
    play: FakeGooglePlay, key_file: Path, clock: FakeClock, tmp_path: Path
) -> None:
    """Through the pipeline and SQLite: a happy review is stored without an alert; edited into
    a complaint, the same review is judged again and alerted, with its stars and console link."""
    database = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    database.upgrade()
    storage = Storage(database)
    pipeline = Pipeline(BRAND, storage.posts, Classifier(ClassifierSettings(), BRAND), clock)
    source = connector(play, key_file, clock)
    review_id = play.review("Love the Acme app, works great", rating=5)
    try:
        assert pipeline.poll(source).alerts == 0

        clock.advance(86_400)
        play.edit(review_id, "Acme charged my card twice, support never answers", rating=1)
        report = pipeline.poll(source)

        assert (report.edited, report.alerts, report.stored) == (1, 1, 0)
        (alert,) = storage.outbox.claim_due(
            datetime(2100, 1, 1, tzinfo=UTC), timedelta(minutes=2), 10
        )
        assert alert.post.text.startswith("Acme charged my card twice")
        assert alert.post.edited_at == clock.now()
        assert f"reviewId={review_id}" in alert.post.url
    finally:
        source.close()
        database.close()
