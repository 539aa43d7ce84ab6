"""The feedback table as training data: imports are idempotent, the last label wins."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.models import Label, LabeledRow, Person
from monitor.storage import AlertStore, Database, FeedbackStore, NewPost, PostStore
from tests.storage.factories import post, verdict

NOW = datetime(2026, 11, 23, tzinfo=UTC)
ROWS = [
    LabeledRow("@acme my order never arrived", 1),
    LabeledRow("@acme love the new app", 0),
    LabeledRow("@acme still no signal in Leeds", 1),
]


def test_importing_a_file_twice_adds_nothing_the_second_time(database: Database) -> None:
    store = FeedbackStore(database)
    first = store.import_rows(ROWS, source="team.csv", now=NOW)
    second = store.import_rows(ROWS, source="team.csv", now=NOW)

    assert (first.added, first.unchanged) == (3, 0)
    assert (second.added, second.unchanged) == (0, 3)
    examples = store.examples()
    assert list(examples.rows) == ROWS
    assert examples.by_origin == {"import": 3}


def test_a_corrected_label_wins_over_the_old_one(database: Database) -> None:
    store = FeedbackStore(database)
    store.import_rows(ROWS, source="team.csv", now=NOW)
    report = store.import_rows(
        [LabeledRow("  @ACME love the new app ", 1)], source="fix.csv", now=NOW
    )

    assert (report.added, report.relabeled) == (1, 1)
    rows = store.examples().rows
    assert len(rows) == 3  # spacing and case do not make a new text
    assert rows[-1] == LabeledRow("  @ACME love the new app ", 1)


def test_slack_feedback_is_training_data_too(database: Database) -> None:
    """A complaint reported missed in Slack arrives as a label 1, next to the imports."""
    store = FeedbackStore(database)
    store.import_rows(ROWS, source="team.csv", now=NOW)
    missed = NewPost(post("1"), verdict(label=Label.NOT_COMPLAINT), vip=False, alert_priority=None)
    PostStore(database).store_poll(source="x", platform="x", new_posts=[missed], cursor={}, now=NOW)
    AlertStore(database).report_missed("https://x.com/dana/status/1", Person("U1", "sam"), NOW)

    examples = store.examples()
    assert examples.by_origin == {"import": 3, "slack": 1}
    assert examples.rows[-1] == LabeledRow("acme refund 1", 1)
    assert store.count_after(0) == 4
    assert store.count_after(examples.max_id) == 0


def test_a_miss_reported_by_a_link_we_never_stored_teaches_nothing(database: Database) -> None:
    """`/complaint-monitor missed <link>` for an unknown post keeps the link as its only text:
    worth recording, but not a text to learn complaint language from."""
    store = FeedbackStore(database)
    store.import_rows(ROWS, source="team.csv", now=NOW)
    AlertStore(database).report_missed(
        "https://reddit.com/r/acme/comments/abc", Person("U1", "sam"), NOW
    )
    assert list(store.examples().rows) == ROWS
