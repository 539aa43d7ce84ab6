"""`replay`: stored posts judged again with today's config; what would change, nothing written.

Posts are stored by the real `Pipeline` (matching, muting, classifying, one transaction), with
yesterday's config; each test then replays them with a tuned one, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.cli import main
from monitor.clock import FakeClock
from monitor.models import Author, Cursor, FetchResult, Post
from monitor.pipeline import Pipeline
from monitor.replay import (
    Change,
    ChangeKind,
    ReplayReport,
    format_json,
    format_text,
    replay,
    shorten,
    summary_line,
)
from monitor.storage import Database, PostStore
from monitor.storage.tables import Base
from tests.factories import config_file
from tests.fakes.slack import FakeSlack

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=30)
BRAND: dict[str, Any] = {"name": "Acme", "handles": ["acme"]}

# id: (author, text). Scores with the default config in the comments.
RECENT = {
    "refund": ("dana", "@acme still waiting on my refund for order 48213, three weeks now"),
    # complaint 0.92, medium
    "charged": ("lee", "@acme you charged my card twice and nobody answers. Not happy."),
    # complaint 0.99, medium
    "parcel": ("grace", "@acme my parcel is late"),  # complaint 0.76, low
    "logout": ("sam", "acme app logs me out sometimes"),  # not a complaint, 0.38
    "praise": ("miguel", "Loving the new Acme app update, checkout is so much faster!"),  # 0.16
}
OLD = {"old": ("dana", "@acme where is my parcel")}  # complaint 0.76, stored 40 days ago


class ListConnector:
    """Just enough of a connector for `Pipeline.poll`: these posts, once."""

    kind = "x"
    informational = False

    def __init__(self, posts: list[Post]) -> None:
        self.name = "x-main"
        self.posts = posts

    def poll(self, cursor: Cursor | None) -> FetchResult:
        return FetchResult(posts=self.posts, cursor={"n": len(self.posts)})


def url(post_id: str) -> str:
    return f"https://x.com/status/{post_id}"


def store(post_store: PostStore, posts: dict[str, tuple[str, str]], at: datetime) -> None:
    """As the daemon would have, with the default config, at `at`."""
    brand = BrandSettings(**BRAND)
    items = [
        Post(
            platform="x",
            external_id=post_id,
            author=Author(id=handle, handle=handle, followers=100),
            text=text,
            url=url(post_id),
            created_at=at - timedelta(minutes=5),
            language="en",
        )
        for post_id, (handle, text) in posts.items()
    ]
    pipeline = Pipeline(brand, post_store, Classifier(ClassifierSettings(), brand), FakeClock(at))
    report = pipeline.poll(ListConnector(items))  # type: ignore[arg-type]
    assert report.stored == len(items)


@pytest.fixture
def post_store(database_url: str) -> Iterator[PostStore]:
    database = Database(database_url)
    database.upgrade()
    post_store = PostStore(database)
    store(post_store, OLD, NOW - timedelta(days=40))
    store(post_store, RECENT, NOW - timedelta(days=1))
    yield post_store
    database.close()


def run(
    post_store: PostStore,
    since: datetime = SINCE,
    *,
    brand: dict[str, Any] | None = None,
    **classifier: Any,
) -> ReplayReport:
    settings = BrandSettings(**(BRAND | (brand or {})))
    scorer = Classifier(ClassifierSettings(**classifier), settings)
    return replay(post_store, scorer, settings, since)


def by_url(report: ReplayReport, kind: ChangeKind) -> dict[str, Change]:
    return {change.url: change for change in report.of(kind)}


def test_stored_verdicts_stream_oldest_first_since_the_cutoff(post_store: PostStore) -> None:
    rows = list(post_store.stored_verdicts(NOW - timedelta(days=50), batch_size=2))
    assert [row.external_id for row in rows] == ["old", *RECENT]
    assert (rows[0].label, rows[0].severity, rows[0].author_handle) == ("complaint", "low", "dana")
    assert [row.external_id for row in post_store.stored_verdicts(SINCE)] == list(RECENT)


def test_the_same_config_changes_nothing(post_store: PostStore) -> None:
    report = run(post_store)
    assert (report.replayed, report.unchanged, report.changes) == (5, 5, [])
    assert summary_line(report) == (
        "replayed 5 posts since 2026-10-24: 0 newly flagged, 0 no longer flagged, "
        "0 severity changes, 5 unchanged"
    )


def test_lowering_the_threshold_shows_newly_flagged_posts(post_store: PostStore) -> None:
    report = run(post_store, threshold=0.35)
    flagged = by_url(report, ChangeKind.NEWLY_FLAGGED)
    assert set(flagged) == {url("logout")}  # the praise stays below even 0.35
    change = flagged[url("logout")]
    assert (change.old_label, change.new_label) == ("not_complaint", "complaint")
    assert change.old_score == pytest.approx(0.378, abs=0.01)
    assert change.new_score == change.old_score, "same scorer, same score: only the bar moved"
    assert (change.old_severity, change.new_severity) == (None, "low")
    assert report.unchanged == 4


def test_an_extra_cue_flags_a_post_and_says_so(post_store: PostStore) -> None:
    report = run(post_store, extra_cues={"logs me out": 1.5})
    flagged = by_url(report, ChangeKind.NEWLY_FLAGGED)
    assert set(flagged) == {url("logout")}
    change = flagged[url("logout")]
    assert change.new_score is not None and change.new_score > 0.5 > change.old_score
    assert change.reasons[0] == 'configured phrase "logs me out" (+1.50)'


def test_raising_the_threshold_shows_no_longer_flagged_and_ignores_older_posts(
    post_store: PostStore,
) -> None:
    report = run(post_store, threshold=0.95)
    gone = by_url(report, ChangeKind.NO_LONGER_FLAGGED)
    assert set(gone) == {url("refund"), url("parcel")}, "the 40-day-old post is not replayed"
    assert gone[url("refund")].old_severity == "medium"
    assert gone[url("refund")].new_severity is None
    # still flagged, but now within the borderline margin of the higher bar: low
    down = by_url(report, ChangeKind.SEVERITY_DOWN)
    assert set(down) == {url("charged")}
    assert (down[url("charged")].old_severity, down[url("charged")].new_severity) == (
        "medium",
        "low",
    )
    assert report.replayed == 5

    older = run(post_store, NOW - timedelta(days=50), threshold=0.95)
    assert older.replayed == 6
    assert url("old") in by_url(older, ChangeKind.NO_LONGER_FLAGGED)


def test_a_new_vip_raises_severity(post_store: PostStore) -> None:
    report = run(post_store, brand={"vip_authors": ["@Grace"]})
    up = by_url(report, ChangeKind.SEVERITY_UP)
    assert set(up) == {url("parcel")}
    assert (up[url("parcel")].old_severity, up[url("parcel")].new_severity) == ("low", "medium")
    assert any("VIP author" in reason for reason in up[url("parcel")].reasons)
    assert report.count(ChangeKind.NEWLY_FLAGGED, ChangeKind.NO_LONGER_FLAGGED) == 0


def test_posts_todays_filters_would_skip_are_no_longer_flagged(post_store: PostStore) -> None:
    # No handles: "@acme" then matches as the brand's name, a term match that `exclude`
    # drops. A post addressed to a handle is always kept (issue 15 item 14, test_brand_mentions).
    filters = {"exclude": ["parcel"], "muted_authors": ["lee", "miguel"], "handles": []}
    report = run(post_store, brand=filters)
    gone = by_url(report, ChangeKind.NO_LONGER_FLAGGED)
    assert set(gone) == {url("parcel"), url("charged")}
    assert (gone[url("parcel")].new_label, gone[url("parcel")].new_score) == ("off_brand", None)
    assert gone[url("charged")].new_label == "muted"
    assert report.skipped == 3, "miguel's praise is skipped too, but was never flagged"
    assert report.unchanged == 3
    assert "(3 would now be skipped: off-brand or muted)" in summary_line(report)


def test_a_post_by_a_handle_the_brand_now_lists_as_its_own_is_no_longer_flagged(
    post_store: PostStore,
) -> None:
    # dana's refund complaint was stored as a complaint; the team then lists "dana" among the
    # brand's handles (say, its support agent's account): polls would not flag dana's posts now.
    report = run(post_store, brand={"handles": ["acme", "dana"]})
    gone = by_url(report, ChangeKind.NO_LONGER_FLAGGED)
    assert set(gone) == {url("refund")}
    assert gone[url("refund")].new_label == "not_complaint"
    assert gone[url("refund")].reasons[0] == "written by the brand's own account @dana"


def dump(post_store: PostStore) -> dict[str, list[tuple[Any, ...]]]:
    with post_store.database.engine.connect() as connection:
        return {
            table.name: sorted(map(tuple, connection.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
        }


def test_replay_writes_nothing(post_store: PostStore) -> None:
    before = dump(post_store)
    assert len(before["posts"]) == 6 and len(before["alerts"]) == 4
    report = run(post_store, threshold=0.35, brand={"vip_authors": ["grace"]})
    assert report.changes, "a replay that changes verdicts..."
    assert dump(post_store) == before, "...still writes no row: no verdict, no alert"


def test_text_output_is_grouped_one_line_per_text_and_limited() -> None:
    report = ReplayReport(since=SINCE, replayed=1234, unchanged=1230)
    hostile = "acme \x1b[2J\x1b[31mrefund\u202e\nplease " + "x" * 200
    for n in range(3):
        report.changes.append(
            Change(
                kind=ChangeKind.NEWLY_FLAGGED,
                post_id=n,
                platform="x",
                url=url(str(n)),
                text=hostile,
                old_label="not_complaint",
                new_label="complaint",
                old_score=0.41,
                new_score=0.55,
                old_severity=None,
                new_severity="low",
                reasons=("refund (+1.20)",),
            )
        )
    report.changes.append(
        replace(
            report.changes[0],
            kind=ChangeKind.SEVERITY_UP,
            post_id=9,
            old_label="complaint",
            old_severity="low",
            new_severity="medium",
        )
    )
    lines = list(format_text(report, limit=2))
    assert lines[0] == "newly flagged (3):"
    assert lines[1] == f"  #0 x  score 0.41 -> 0.55  severity - -> low  {url('0')}"
    assert lines[2].startswith("    acme [2J[31mrefund please xxx") and len(lines[2]) == 104
    assert "\x1b" not in "\n".join(lines) and "\u202e" not in "\n".join(lines)
    assert lines[3] == "    why: refund (+1.20)"
    assert "  ... and 1 more" in lines
    assert "severity changed (1):" in lines
    assert any("severity low -> medium (up)" in line for line in lines)
    assert not any(line.startswith("no longer flagged") for line in lines), "empty: left out"
    assert lines[-1] == (
        "replayed 1,234 posts since 2026-10-24: 3 newly flagged, 0 no longer flagged, "
        "1 severity change, 1,230 unchanged"
    )
    assert len(shorten(hostile)) == 100 and shorten("short\ttext\n") == "short text"

    objects = [json.loads(line) for line in format_json(report, limit=1)]
    assert [o["kind"] for o in objects] == ["newly_flagged", "severity_up", "summary"]
    assert objects[0]["text"] == hostile, "scripts get the whole text"
    assert objects[-1]["newly_flagged"] == 3, "counts stay complete under --limit"


def write_config(tmp_path: Path, database_url: str, slack: FakeSlack, threshold: float) -> Path:
    return config_file(
        tmp_path,
        slack_url=slack.base_url,
        database={"url": database_url},
        classifier={"threshold": threshold},
    )


def test_cli_prints_changes_and_summary_and_sends_nothing(
    database_url: str,
    tmp_path: Path,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TEST_SLACK_TOKEN", fake_slack.token)
    database = Database(database_url)
    database.upgrade()
    now = datetime.now(UTC)
    store(PostStore(database), OLD, now - timedelta(days=40))
    store(PostStore(database), RECENT, now - timedelta(hours=1))
    database.close()
    config = str(write_config(tmp_path, database_url, fake_slack, threshold=0.35))

    assert main(["replay", "--config", config, "--since", "30d"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "newly flagged (1):"
    assert out[1].endswith(f"score 0.38 -> 0.38  severity - -> low  {url('logout')}")
    assert out[2] == "    acme app logs me out sometimes"
    assert out[-1] == (
        f"replayed 5 posts since {(now - timedelta(days=30)).date()}: 1 newly flagged, "
        "0 no longer flagged, 0 severity changes, 4 unchanged"
    )

    assert main(["replay", "--config", config, "--since", "60d", "--json", "--limit", "0"]) == 0
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(objects) == 1
    assert objects[0] | {"since": None} == {
        "kind": "summary",
        "since": None,
        "replayed": 6,
        "newly_flagged": 1,
        "no_longer_flagged": 0,
        "severity_up": 0,
        "severity_down": 0,
        "unchanged": 5,
        "skipped": 0,
    }

    assert main(["replay", "--config", config, "--limit", "-1"]) == 2
    assert fake_slack.calls == [], "replay never talks to Slack"
