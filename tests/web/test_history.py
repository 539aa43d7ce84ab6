"""The history pages through Flask's test client: login, paging, the CSV export, escaping of
customer text, a database that does not answer. Pages that read posts run on SQLite and on
PostgreSQL (`database_url`); the login alone runs on SQLite."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from monitor.clock import FakeClock
from monitor.errors import ConfigError
from monitor.models import Author, Label, Person
from monitor.storage import Database, NewPost, Storage
from monitor.storage.history import HistoryStore
from monitor.web.history import defuse, history_blueprint
from tests.factories import make_post, make_verdict
from tests.fakes.tcp_proxy import TcpProxy
from tests.storage.factories import LEASE, NOW

TOKEN = "correct horse battery staple"
ALICE = Person("U0ALICE01", "alice")
SCRIPT = '<script>document.title="pwned"</script>'


def item(
    n: int,
    *,
    text: str | None = None,
    handle: str = "dana",
    name: str | None = "Dana R.",
    url: str | None = None,
    label: Label = Label.COMPLAINT,
    platform: str = "x",
) -> NewPost:
    post = make_post(
        platform=platform,
        external_id=str(n),
        author=Author(id=handle, handle=handle, display_name=name),
        text=text or f"acme refund {n}",
        url=url or f"https://example.com/{n}",
        created_at=NOW - timedelta(minutes=n),
    )
    complaint = label is not Label.NOT_COMPLAINT
    return NewPost(
        post, make_verdict(label=label), vip=False, alert_priority=10 if complaint else None
    )


def store(storage: Storage, *items: NewPost, source: str = "x-brand") -> None:
    storage.posts.store_poll(
        source=source, platform=items[0].post.platform, new_posts=list(items), cursor={}, now=NOW
    )


def send_all(storage: Storage) -> None:
    for n, due in enumerate(storage.outbox.claim_due(NOW, LEASE, limit=500)):
        storage.outbox.record_sent(due.alert_id, channel="C1", ts=f"1.{n:06d}", now=NOW)


def make_app(database: Database, clock: FakeClock) -> Flask:
    app = Flask("test-history")
    app.register_blueprint(history_blueprint(HistoryStore(database), TOKEN, clock=clock))
    return app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    database = Database(database_url)
    database.upgrade()
    yield Storage(database, "C1")
    database.close()


@pytest.fixture
def client(storage: Storage, clock: FakeClock) -> FlaskClient:
    """Logged in, on SQLite and PostgreSQL."""
    client = make_app(storage.database, clock).test_client()
    assert client.post("/login", data={"token": TOKEN}).status_code == 302
    return client


@pytest.fixture
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('db') / 'monitor.db'}")
    database.upgrade()
    yield database
    database.close()


@pytest.fixture
def anonymous(sqlite_database: Database, clock: FakeClock) -> FlaskClient:
    return make_app(sqlite_database, clock).test_client()


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status
    return response.get_data(as_text=True)


# -- login ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/posts/1", "/trends", "/sources", "/export.csv?q=x"])
def test_every_page_needs_the_login(anonymous: FlaskClient, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_a_wrong_token_is_refused_and_the_right_one_sets_a_strict_cookie(
    anonymous: FlaskClient,
) -> None:
    refused = anonymous.post("/login", data={"token": TOKEN + "x"})
    assert refused.status_code == 403 and "not the one" in refused.get_data(as_text=True)
    assert "Set-Cookie" not in refused.headers
    assert anonymous.get("/").status_code == 302
    accepted = anonymous.post("/login", data={"token": TOKEN, "next": "/trends?days=7"})
    assert accepted.status_code == 302 and accepted.headers["Location"] == "/trends?days=7"
    cookie = accepted.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert TOKEN not in cookie
    assert anonymous.get("/trends?days=7").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_the_login_never_sends_you_to_another_site(anonymous: FlaskClient, target: str) -> None:
    response = anonymous.post("/login", data={"token": TOKEN, "next": target})
    assert response.headers["Location"] == "/"


def test_a_login_lapses_after_twelve_hours_and_logout_ends_it(
    anonymous: FlaskClient, clock: FakeClock
) -> None:
    anonymous.post("/login", data={"token": TOKEN})
    clock.advance(11 * 3600)
    assert anonymous.get("/sources").status_code == 200
    clock.advance(2 * 3600)
    assert anonymous.get("/sources").status_code == 302
    anonymous.post("/login", data={"token": TOKEN})
    assert anonymous.post("/logout").status_code == 302
    assert anonymous.get("/sources").status_code == 302


def test_an_empty_token_is_refused_at_start(sqlite_database: Database) -> None:
    with pytest.raises(ConfigError, match="web_token_env"):
        history_blueprint(HistoryStore(sqlite_database), "  ")


def test_pages_forbid_scripts_and_caching(anonymous: FlaskClient) -> None:
    response = anonymous.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert anonymous.get("/assets/style.css").status_code == 200  # the login page is styled


# -- pages over the database ----------------------------------------------------------------


def test_search_pages_keep_the_filters_until_the_last_page(
    storage: Storage, client: FlaskClient
) -> None:
    store(storage, *(item(n) for n in range(1, 56)), item(90, text="something else"))
    first = page(client, "/?q=refund&platform=x")
    assert first.count('class="text"') == 50
    next_link = re.search(r'href="([^"]+)" id="next"', first)
    assert next_link is not None
    second = page(client, next_link.group(1).replace("&amp;", "&"))
    assert second.count('class="text"') == 5 and 'id="next"' not in second
    assert "acme refund 55" in second and "acme refund 1<" not in second
    assert "something else" not in first + second
    assert 'value="refund"' in second  # the form still shows the search


def test_unknown_filter_values_are_said_and_ignored(storage: Storage, client: FlaskClient) -> None:
    store(storage, item(1))
    html = page(client, "/?state=bogus&since=yesterday")
    assert "unknown state" in html and "is not a date" in html
    assert "acme refund 1" in html


def test_the_csv_export_has_every_match_and_defuses_formulas(
    storage: Storage, client: FlaskClient
) -> None:
    store(
        storage,
        *(item(n) for n in range(1, 61)),
        item(61, text='=HYPERLINK("http://evil.example","refund")'),
        item(62, text='acme refund, "quoted"\nsecond line'),
        item(63, text="nothing to see", label=Label.NOT_COMPLAINT),
    )
    response = client.get("/export.csv?q=refund")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 62
    texts = {row["text"] for row in rows}
    assert '\'=HYPERLINK("http://evil.example","refund")' in texts
    assert 'acme refund, "quoted"\nsecond line' in texts
    assert rows[0]["created_at"] == (NOW - timedelta(minutes=1)).isoformat()
    assert rows[0]["label"] == "complaint" and rows[0]["alert_state"] == "open"


@pytest.mark.parametrize(
    ("cell", "exported"),
    [("=1+1", "'=1+1"), ("@acme hi", "'@acme hi"), ("-2", "'-2"), ("acme", "acme")],
)
def test_cells_a_spreadsheet_would_run_are_quoted(cell: str, exported: str) -> None:
    assert defuse(cell) == exported


def test_customer_text_is_shown_as_text_everywhere(storage: Storage, client: FlaskClient) -> None:
    store(
        storage,
        item(
            1,
            text=f"acme {SCRIPT} refund",
            handle="<b>bold</b>",
            name='"><img src=x onerror=alert(1)>',
            url="javascript:alert(1)",
        ),
    )
    for html in (page(client, "/?q=script"), page(client, "/posts/1")):
        assert "<script>" not in html and "<b>bold" not in html and "<img" not in html
        assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in html
    post_page = page(client, "/posts/1")
    assert 'href="javascript:' not in post_page
    assert "No link to the original (javascript:alert(1))" in post_page


def test_a_post_shows_its_verdict_alert_history_and_author(
    storage: Storage, client: FlaskClient
) -> None:
    store(storage, item(1), item(30), item(40, label=Label.NOT_COMPLAINT))
    send_all(storage)
    storage.alerts.apply(1, "claim", ALICE, NOW + timedelta(minutes=2))
    storage.alerts.apply(1, "resolve", ALICE, NOW + timedelta(minutes=5))
    html = page(client, "/posts/1")
    assert "acme refund 1" in html and "refund request" in html
    assert "by alice at 2026-11-23 12:02 UTC" in html  # claimed
    assert "by alice at 2026-11-23 12:05 UTC" in html  # closed
    assert 'href="https://slack.com/app_redirect?channel=C1&amp;message_ts=1.000000"' in html
    assert "1 earlier complaint from this author in the 90 days" in html
    assert "acme refund 30" in html and "acme refund 40" in html
    assert client.get("/posts/999").status_code == 404


def test_trends_draw_counts_and_the_teams_verdicts(storage: Storage, client: FlaskClient) -> None:
    store(storage, item(1), item(2), item(3, label=Label.NOT_COMPLAINT))
    store(storage, item(4, platform="reddit"), source="reddit-acme")
    send_all(storage)
    storage.alerts.apply(1, "resolve", ALICE, NOW)
    storage.alerts.apply(2, "not_complaint", ALICE, NOW)
    html = page(client, "/trends?days=7")
    assert "<title>2026-11-23 x: 3</title>" in html
    assert "<title>2026-11-23 reddit: 1</title>" in html
    assert "<title>2026-11-23 medium: 1</title>" not in html  # the factory's verdicts are high
    assert "<title>2026-11-23 high: 3</title>" in html
    assert re.search(
        r"<td>2026-11-23</td><td class=\"num\">1</td><td class=\"num\">1</td>"
        r"<td class=\"num\">50%</td>",
        html,
    )


def test_sources_say_what_is_known(storage: Storage, client: FlaskClient) -> None:
    store(storage, item(1), item(2))
    html = page(client, "/sources")
    assert "x-brand" in html and "not recorded" in html


def test_a_database_that_does_not_answer_is_a_503_page(postgres_url: str, clock: FakeClock) -> None:
    real = make_url(postgres_url)
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        proxied = real.set(host="127.0.0.1", port=proxy.port)
        database = Database(proxied.render_as_string(hide_password=False))
        database.upgrade()
        client = make_app(database, clock).test_client()
        client.post("/login", data={"token": TOKEN})
        assert client.get("/").status_code == 200
        proxy.cut()
        response = client.get("/")
        assert response.status_code == 503
        assert "The database is not answering" in response.get_data(as_text=True)
        proxy.restore()
        assert client.get("/").status_code == 200
        database.close()
