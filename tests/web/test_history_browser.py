"""The history view end to end in a real headless browser: Debian's chromium and chromedriver,
driven by Selenium, against the daemon's own waitress server (`WebServer`) on 127.0.0.1 serving
`create_app` with the history pages. Log in, search, open a post, export CSV; a post whose text
is a <script> shows as text and runs nothing. Screenshots of the search and post pages are saved
in test-artifacts/ (ignored by git).

One browser for the module (starting chromium is most of the cost); skipped, saying why, where
chromium, chromedriver or selenium is missing (`.ci/run` installs them).
"""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.clock import FakeClock
from monitor.metrics import Heartbeat, Metrics
from monitor.models import Author, Label, Person, Severity
from monitor.storage import Database, NewPost, Storage
from monitor.storage.history import HistoryStore
from monitor.web.app import create_app
from monitor.web.history import history_blueprint
from monitor.web.ops import Ops
from monitor.web.server import WebServer
from tests.factories import make_post, make_verdict
from tests.storage.factories import LEASE, NOW

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
TOKEN = "browser-test-token"
ALICE = Person("U0ALICE01", "alice")
SCRIPT_TEXT = '@acme <script>alert("xss");document.title="pwned"</script> refund now'

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="no headless browser: apt-get install chromium chromium-driver (.ci/run does)",
)

TEXTS = [
    ("@acme still waiting on my refund for order 48213, three weeks now", Severity.HIGH),
    ("@acme you charged me twice and nobody answers", Severity.MEDIUM),
    ("acme app crashed again during checkout, lost my cart", Severity.MEDIUM),
    ("@acmehelp where is my package? tracking hasn't moved in 6 days", Severity.LOW),
    ("worst experience with acme ever, cancelled and no refund", Severity.HIGH),
    ("Loving the new acme app update, checkout is so fast now", None),
    ("does acme ship to canada? asking for a friend", None),
]


def _item(n: int, text: str, severity: Severity | None, handle: str, platform: str) -> NewPost:
    post = make_post(
        platform=platform,
        external_id=str(n),
        author=Author(id=handle, handle=handle, display_name=handle.title(), followers=40 * n),
        text=text,
        url=f"https://example.com/{platform}/{n}",
        created_at=NOW - timedelta(hours=5 * n),
    )
    label = Label.COMPLAINT if severity else Label.NOT_COMPLAINT
    verdict = make_verdict(label=label, severity=severity or Severity.LOW)
    return NewPost(post, verdict, vip=False, alert_priority=10 if severity else None)


def _fill(storage: Storage) -> None:
    handles = ["dana", "sam", "rita", "lee"]
    for platform, source in (("x", "x-brand"), ("reddit", "reddit-acme")):
        items = [
            _item(n, text, severity, handles[n % len(handles)], platform)
            for n, (text, severity) in enumerate(TEXTS * 2, start=1 if platform == "x" else 20)
        ]
        storage.posts.store_poll(
            source=source, platform=platform, new_posts=items, cursor={}, now=NOW
        )
    script = _item(99, SCRIPT_TEXT, Severity.HIGH, "mallory", "x")
    storage.posts.store_poll(source="x-brand", platform="x", new_posts=[script], cursor={}, now=NOW)
    for n, due in enumerate(storage.outbox.claim_due(NOW, LEASE, limit=500)):
        storage.outbox.record_sent(due.alert_id, channel="C1", ts=f"1.{n:06d}", now=NOW)
    storage.alerts.apply(1, "claim", ALICE, NOW + timedelta(minutes=4))
    storage.alerts.apply(1, "resolve", ALICE, NOW + timedelta(minutes=25))
    storage.alerts.apply(2, "not_complaint", ALICE, NOW + timedelta(minutes=7))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server on a free port of 127.0.0.1, over a SQLite file with a few days' posts."""
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('db') / 'monitor.db'}")
    database.upgrade()
    storage = Storage(database, "C1")
    _fill(storage)
    clock = FakeClock(NOW + timedelta(hours=1))
    ops = Ops(
        metrics=Metrics(clock),
        heartbeat=Heartbeat(clock),
        database=database,
        outbox=storage.outbox,
        alerts=storage.alerts,
        runners=[],
        clock=clock,
        outbox_max_age=600,
    )
    history = history_blueprint(HistoryStore(database), TOKEN, clock=clock)
    server = WebServer(create_app(ops, history), "127.0.0.1:0")
    server.start()
    try:
        yield server.url
    finally:
        server.close()
        database.close()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(15)
    driver.implicitly_wait(5)  # a lookup right after a click waits for the next page to load
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _log_in(browser: Any, site: str) -> None:
    """Log in afresh (the module's one browser keeps its cookie between tests)."""
    browser.delete_all_cookies()
    browser.get(f"{site}/")
    assert "/login" in browser.current_url
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "login").click()
    WebDriverWait(browser, 5).until(lambda b: b.find_elements(By.ID, "search"))


def test_log_in_search_and_open_a_post(browser: Any, site: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{site}/")
    browser.find_element(By.ID, "token").send_keys("not the token")
    browser.find_element(By.ID, "login").click()
    assert browser.find_element(By.ID, "refused").is_displayed()
    _log_in(browser, site)

    box = browser.find_element(By.NAME, "q")
    box.send_keys("refund")
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 5).until(lambda b: "q=refund" in b.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
    assert len(rows) == 9  # two refund texts, twice on each platform, and the script post
    assert all("refund" in row.find_element(By.CLASS_NAME, "text").text for row in rows)
    browser.save_screenshot(str(ARTIFACTS / "history-search.png"))

    target = next(row for row in rows if "order 48213" in row.text and "x-brand" in row.text)
    target.find_element(By.CSS_SELECTOR, "td.when a").click()
    WebDriverWait(browser, 5).until(lambda b: "/posts/" in b.current_url)
    text = browser.find_element(By.ID, "post-text").text
    assert text == TEXTS[0][0]
    events = browser.find_element(By.ID, "events").text
    assert "claim" in events and "resolve" in events and "alice" in events
    link = browser.find_element(By.ID, "slack-link").get_attribute("href")
    assert link.startswith("https://slack.com/app_redirect?channel=C1&message_ts=")
    browser.save_screenshot(str(ARTIFACTS / "history-post.png"))


def test_a_script_in_a_post_is_shown_and_never_run(browser: Any, site: str) -> None:
    _log_in(browser, site)
    browser.get(f"{site}/?q=script")
    cell = browser.find_element(By.CSS_SELECTOR, "#results td.text")
    assert cell.text == SCRIPT_TEXT
    cell.find_element(By.XPATH, "../td[1]/a").click()
    WebDriverWait(browser, 5).until(lambda b: "/posts/" in b.current_url)
    assert browser.find_element(By.ID, "post-text").text == SCRIPT_TEXT
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018  # reading it is what raises
    assert browser.title != "pwned" and browser.title.startswith("Post ")
    assert browser.execute_script("return document.scripts.length") == 0


def test_export_a_search_as_csv(browser: Any, site: str, downloads: Path) -> None:
    _log_in(browser, site)
    browser.get(f"{site}/?platform=reddit&label=complaint")
    shown = len(browser.find_elements(By.CSS_SELECTOR, "#results tbody tr"))
    browser.find_element(By.ID, "export").click()
    deadline = time.monotonic() + 10
    while not (files := list(downloads.glob("posts-*.csv"))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert files, "the browser saved no CSV"
    with files[0].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == shown == 10
    assert {row["platform"] for row in rows} == {"reddit"}
    assert {row["label"] for row in rows} == {"complaint"}
