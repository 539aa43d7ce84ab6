"""The App Store connector against a fake App Store Connect API (tests/fakes/app_store_api.py)
that verifies every token with the public half of a key made here. The shared contract
(tests/connectors/test_contract.py) covers incremental reads, bursts, the cursor and the faults
every connector shares; this file covers what is the App Store's own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pydantic import ValidationError

from connectors.app_store import AppStoreConnector, AppStoreSettings
from monitor.brand import BrandSettings
from monitor.cli import main
from monitor.clock import FakeClock
from monitor.config import load_config
from monitor.errors import AuthError, ConfigError, TransientError
from monitor.models import FetchResult
from tests.factories import config_file
from tests.fakes.app_store_api import APP_ID, ISSUER_ID, KEY_ID, FakeAppStore, new_key
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack

BRAND = BrandSettings(name="Acme", terms=["acme"])
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
REVIEWS = "/customerReviews"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / f"AuthKey_{KEY_ID}.p8"


@pytest.fixture
def store(clock: FakeClock, key_path: Path) -> Iterator[FakeAppStore]:
    key = new_key(key_path)
    with FakeAppStore(key.public_key(), clock=lambda: clock.now().timestamp()) as fake:
        yield fake


def settings(store: FakeAppStore, key_path: Path, **overrides: Any) -> AppStoreSettings:
    raw = {
        "type": "app_store",
        "app_ids": [APP_ID],
        "issuer_id": ISSUER_ID,
        "key_id": KEY_ID,
        "private_key_path": str(key_path),
        "api_url": store.base_url,
        "timeout_seconds": 1,
    } | overrides
    return AppStoreSettings.model_validate(raw, context={"env": {}})


def connector(
    store: FakeAppStore, key_path: Path, clock: FakeClock, **overrides: Any
) -> AppStoreConnector:
    return AppStoreConnector(settings(store, key_path, **overrides), BRAND, clock)


def poll(source: AppStoreConnector, cursor: Any) -> FetchResult:
    """One poll, the cursor through JSON as the database keeps it."""
    result = source.poll(cursor)
    return FetchResult(result.posts, json.loads(json.dumps(result.cursor)), result.more)


def ids(result: FetchResult) -> list[str]:
    return [post.external_id for post in result.posts]


# -- posts --------------------------------------------------------------------------------------


def test_a_review_becomes_a_post_with_stars_title_first_territory_and_the_reply_page(
    store: FakeAppStore, key_path: Path, clock: FakeClock
) -> None:
    older = store.review(
        title="Fine", body="Does the job", rating=4, created=clock.now().timestamp() - 60
    )
    review = store.review(
        title="Charged twice", body="Acme billed me twice, no answer", rating=1, territory="GBR",
        nickname="Anne J",
    )  # fmt: skip

    result = poll(connector(store, key_path, clock), None)

    assert ids(result) == [older["id"], review["id"]]  # oldest first
    post = result.posts[1]
    assert post.platform == "app_store"
    assert post.rating == 1 and result.posts[0].rating == 4
    assert post.text == "Charged twice\n\nAcme billed me twice, no answer"
    assert post.extra == {"app_id": APP_ID, "territory": "GBR"}
    assert post.author.handle == "Anne J"
    assert post.created_at == START  # the fake writes it at -08:00
    reply_page = f"https://appstoreconnect.apple.com/apps/{APP_ID}/distribution/activity/ios/ratingsResponses"
    assert post.url == reply_page and post.contact_url == reply_page


def test_pages_are_followed_by_links_next_as_given_and_come_out_oldest_first(
    store: FakeAppStore, key_path: Path, clock: FakeClock
) -> None:
    new = store.review_many(450)

    result = poll(connector(store, key_path, clock), None)

    assert ids(result) == new and result.more is False
    requests = store.served(REVIEWS)
    assert len(requests) == 3
    assert requests[0].query["sort"] == "-createdDate" and requests[0].query["limit"] == "200"
    assert set(requests[1].query) == {"cursor", "limit"}  # the next link, nothing added
    assert poll(connector(store, key_path, clock), result.cursor).posts == []


def test_the_first_poll_reads_back_backfill_seconds_only(
    store: FakeAppStore, key_path: Path, clock: FakeClock
) -> None:
    now = clock.now().timestamp()
    store.review(body="too old", created=now - 3 * 86_400)
    recent = store.review(body="recent", created=now - 86_400)

    result = poll(connector(store, key_path, clock, backfill_seconds=2 * 86_400), None)

    assert ids(result) == [recent["id"]]
    assert len(store.served(REVIEWS)) == 1  # stopped at the first review below the floor


def test_a_review_listed_late_within_the_lookback_is_read_once_and_older_ones_are_not(
    store: FakeAppStore, key_path: Path, clock: FakeClock
) -> None:
    source = connector(store, key_path, clock, lookback_seconds=3600)
    first = poll(source, None)
    clock.advance(600)
    newest = store.review(body="just now")
    late = store.review(
        body="written 30 min ago, listed now", created=clock.now().timestamp() - 1800
    )
    too_late = store.review(body="written 2 h ago", created=clock.now().timestamp() - 7200)

    second = poll(source, first.cursor)
    third = poll(source, second.cursor)

    assert ids(second) == [late["id"], newest["id"]]
    assert too_late["id"] not in ids(second)
    assert third.posts == []


def test_a_stale_saved_page_link_restarts_the_burst_from_the_top_without_duplicates(
    store: FakeAppStore, key_path: Path, clock: FakeClock
) -> None:
    source = connector(store, key_path, clock, page_size=5, max_pages_per_poll=2)
    cursor = poll(source, None).cursor
    burst = store.review_many(23)
    first = poll(source, cursor)
    assert first.more is True
    store.stale_cursors()  # Apple's cursor expired between two polls

    seen = ids(first)
    cursor = first.cursor
    for _ in range(10):
        result = poll(source, cursor)
        seen += ids(result)
        cursor = result.cursor
        if not result.more:
            break

    assert sorted(seen) == sorted(burst) and len(seen) == len(set(seen))
    assert any(r.status == 400 for r in store.served(REVIEWS))


def test_a_next_link_to_another_host_is_not_followed(
    store: FakeAppStore, key_path: Path, clock: FakeClock
) -> None:
    store.review_many(3)

    def elsewhere(raw: bytes) -> bytes:
        data = json.loads(raw)
        data["links"]["next"] = "https://evil.example/v1/apps/1/customerReviews?cursor=x"
        return json.dumps(data).encode()

    store.fault(Fault.malformed(elsewhere), match=REVIEWS)
    with pytest.raises(TransientError, match="not followed"):
        poll(connector(store, key_path, clock), None)


# -- the token ----------------------------------------------------------------------------------


def test_the_token_is_es256_with_the_key_id_issuer_and_audience_and_lives_under_20_minutes(
    store: FakeAppStore, key_path: Path, clock: FakeClock
) -> None:
    connector(store, key_path, clock).check_credentials()

    (token,) = store.tokens
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KEY_ID, "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == ISSUER_ID and claims["aud"] == "appstoreconnect-v1"
    assert claims["iat"] == int(START.timestamp())
    assert 0 < claims["exp"] - claims["iat"] <= 20 * 60
    assert store.refusals == []


def test_the_token_is_reused_then_renewed_before_it_expires(
    store: FakeAppStore, key_path: Path, clock: FakeClock
) -> None:
    source = connector(store, key_path, clock)
    cursor = poll(source, None).cursor
    clock.advance(10 * 60)
    cursor = poll(source, cursor).cursor
    assert source.signer.minted == 1 and len(set(store.tokens)) == 1

    clock.advance(7 * 60 + 30)  # 17.5 min: the token would end within two minutes
    store.review(body="still crashing")
    result = poll(source, cursor)

    assert len(result.posts) == 1
    assert source.signer.minted == 2 and len(set(store.tokens)) == 2
    clock.advance(3 * 3600)  # an idle night: the next poll signs a new one, nothing refused
    assert poll(source, result.cursor).posts == []
    assert store.refusals == []


def test_a_wall_clock_stepped_back_does_not_keep_an_old_token(
    store: FakeAppStore, key_path: Path, clock: FakeClock
) -> None:
    source = connector(store, key_path, clock)
    source.check_credentials()
    clock.step(-3600)  # NTP sets the wall clock an hour back: by it the token has 80 min left
    clock.advance(18 * 60)  # but 18 minutes pass: Apple's clock says it ends in one

    source.check_credentials()

    assert source.signer.minted == 2 and store.refusals == []


def test_the_fake_refuses_expired_and_overlong_tokens(
    store: FakeAppStore, key_path: Path, clock: FakeClock
) -> None:
    """The fake checks what Apple checks, so the renewal tests above mean something."""
    key = key_path.read_text()
    now = int(clock.now().timestamp())
    for exp, reason in ((now - 1, "expired"), (now + 21 * 60, "exp more than 20 minutes ahead")):
        claims = {"iss": ISSUER_ID, "iat": now, "exp": exp, "aud": "appstoreconnect-v1"}
        token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": KEY_ID})
        store.refusals.clear()
        reply = requests.get(
            f"{store.base_url}/v1/apps/{APP_ID}", headers={"Authorization": f"Bearer {token}"}
        )
        assert reply.status_code == 401
        assert reply.json()["errors"][0]["code"] == "NOT_AUTHORIZED"
        assert store.refusals == [reason]


# -- faults -------------------------------------------------------------------------------------


def test_a_key_apple_does_not_know_is_an_auth_error_naming_the_key_after_one_retry(
    store: FakeAppStore, tmp_path: Path, clock: FakeClock
) -> None:
    other = tmp_path / "other.p8"
    new_key(other)
    source = connector(store, other, clock)

    with pytest.raises(AuthError) as caught:
        source.poll(None)

    assert caught.value.credential == KEY_ID
    message = str(caught.value)
    assert KEY_ID in message and "401" in message and "NOT_AUTHORIZED" in message
    assert "belong to one key" in message
    assert store.refusals == ["bad signature", "bad signature"]  # retried once, fresh token


def test_a_wrong_issuer_is_an_auth_error(
    store: FakeAppStore, key_path: Path, clock: FakeClock
) -> None:
    source = connector(store, key_path, clock, issuer_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(AuthError, match="issuer_id"):
        source.check_credentials()
    assert set(store.refusals) == {"wrong iss"}


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [
        (Fault.status(403), AuthError, "Customer Support"),
        (Fault.status(404), ConfigError, "app_ids"),
        (Fault.rate_limited(30), TransientError, "429"),
        (Fault.status(503), TransientError, "503"),
        (Fault.malformed(b"<html>gateway</html>"), TransientError, "not JSON"),
        (Fault.malformed(b'{"errors": []}'), TransientError, "without a data list"),
        (Fault.slow(1.5), TransientError, "did not answer in time"),
    ],
    ids=["403", "404", "429", "503", "not-json", "no-data", "timeout"],
)
def test_faults_are_the_projects_own_errors(
    store: FakeAppStore,
    key_path: Path,
    clock: FakeClock,
    fault: Fault,
    error: type[Exception],
    words: str,
) -> None:
    source = connector(store, key_path, clock)
    cursor = poll(source, None).cursor
    new = store.review_many(2)
    store.fault(fault, match=REVIEWS)

    with pytest.raises(error, match=words) as caught:
        source.poll(cursor)

    if fault.code == 429:
        assert isinstance(caught.value, TransientError) and caught.value.retry_after == 30
    assert ids(poll(source, cursor)) == new  # the next poll reads what the failed one missed


# -- the key file and the configuration ---------------------------------------------------------


def test_a_missing_key_file_is_refused_at_validation_naming_the_console_steps(
    store: FakeAppStore, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError) as caught:
        settings(store, tmp_path / "AuthKey_NOPE.p8")
    message = str(caught.value)
    assert "does not exist" in message and "Users and Access > Integrations" in message


@pytest.mark.parametrize(
    "content",
    [
        b"not a key at all\n",
        rsa.generate_private_key(65537, 2048).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        ),
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        ),
    ],
    ids=["garbage", "rsa", "p384"],
)
def test_a_key_file_that_is_not_an_app_store_key_is_a_config_error(
    store: FakeAppStore, tmp_path: Path, clock: FakeClock, content: bytes
) -> None:
    path = tmp_path / "AuthKey.p8"
    path.write_bytes(content)
    with pytest.raises(ValidationError, match="App Store Connect"):
        settings(store, path)
    # loaded without secrets (`stats`), a connector built anyway names the fix too
    lenient = AppStoreSettings.model_validate(
        {
            "type": "app_store", "app_ids": [APP_ID], "issuer_id": ISSUER_ID, "key_id": KEY_ID,
            "private_key_path": str(path),
        },
        context={"require_secrets": False},
    )  # fmt: skip
    with pytest.raises(ConfigError, match="private_key_path") as caught:
        AppStoreConnector(lenient, BRAND, clock)
    assert "PRIVATE KEY" not in str(caught.value).replace("'-----BEGIN PRIVATE KEY-----'", "")


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"app_ids": ["com.acme.app"]}, "not an Apple ID"),
        ({"app_ids": []}, "at least 1"),
        ({"issuer_id": "acme"}, "issuer_id"),
        ({"territories": ["US"]}, "alpha-3"),
        ({"ratings": [0]}, "1 to 5"),
        ({"reply_url": "https://x.example/{app}"}, "reply_url"),
        ({"page_size": 500}, "200"),
    ],
)
def test_settings_name_what_is_wrong(
    store: FakeAppStore, key_path: Path, overrides: dict[str, Any], words: str
) -> None:
    with pytest.raises(ValidationError, match=words):
        settings(store, key_path, **overrides)


def test_filters_go_to_apple_and_the_key_path_is_relative_to_the_config(
    store: FakeAppStore, key_path: Path, clock: FakeClock
) -> None:
    store.review(body="bad", rating=1, territory="USA")
    store.review(body="good", rating=5, territory="USA")
    store.review(body="bad elsewhere", rating=2, territory="FRA")
    raw = {
        "type": "app_store", "app_ids": [APP_ID], "issuer_id": ISSUER_ID, "key_id": KEY_ID,
        "private_key_path": key_path.name, "api_url": store.base_url, "ratings": [2, 1],
        "territories": ["usa"],
    }  # fmt: skip
    loaded = AppStoreSettings.model_validate(raw, context={"base_dir": key_path.parent})

    result = poll(AppStoreConnector(loaded, BRAND, clock), None)

    assert [post.text for post in result.posts] == ["bad"]
    assert store.served(REVIEWS)[0].query["filter[rating]"] == "1,2"


def test_check_config_masks_the_key_and_online_proves_it(
    store: FakeAppStore,
    key_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = {
        "type": "app_store", "app_ids": [APP_ID], "issuer_id": ISSUER_ID, "key_id": KEY_ID,
        "private_key_path": key_path.name, "api_url": store.base_url,
    }  # fmt: skip
    store.use_system_clock()
    with FakeSlack() as slack:
        monkeypatch.setenv("TEST_SLACK_TOKEN", slack.token)
        config = config_file(tmp_path, slack_url=slack.base_url, sources=[source])
        assert load_config(config).sources[0].secret("private_key") is not None

        assert main(["check-config", "--online", "--config", str(config)]) == 0
        out, err = capsys.readouterr()
        assert '"private_key": "********** (set)"' in out
        assert "PRIVATE KEY" not in out + err
        assert f"ok   source app_store: authenticated with API key {KEY_ID}; apps: Acme Shop" in err

        key_path.write_text("damaged")
        with pytest.raises(ConfigError, match="not an App Store Connect API key"):
            load_config(config)
