"""Issue 17, item 3: what the team does in Slack is training data, each kind of click for what it
is worth. "Resolved" is a weak complaint label, "Not a complaint" and a reported miss are
deliberate ones, and a deliberate label always wins over a weak one for the same text."""

from __future__ import annotations

from datetime import timedelta

from monitor.models import Label, LabeledRow, Person
from monitor.storage import NewPost, Storage
from monitor.storage.feedback import Kind
from tests.storage.factories import NOW, numbered, post, send_all, verdict

SAM = Person("U1", "sam")


def alerted(storage: Storage, *numbers: int) -> None:
    """Complaints "acme is down (n)" stored with an alert each (alert id n, in order), sent."""
    storage.posts.store_poll(
        source="x",
        platform="x",
        new_posts=[numbered(n) for n in numbers],
        cursor={},
        now=NOW,
    )
    send_all(storage.outbox)


def kinds(storage: Storage) -> dict[str, tuple[int, Kind]]:
    examples = storage.feedback.examples()
    return {
        row.text: (row.label, kind) for row, kind in zip(examples.rows, examples.kinds, strict=True)
    }


def test_each_slack_click_is_told_apart(storage: Storage) -> None:
    alerted(storage, 1, 2)
    storage.alerts.apply(1, "claim", SAM, NOW)
    storage.alerts.apply(1, "resolve", SAM, NOW + timedelta(minutes=5))
    storage.alerts.apply(2, "not_complaint", SAM, NOW)
    unflagged = NewPost(post("77"), verdict(label=Label.NOT_COMPLAINT), False, None)
    storage.posts.store_poll(source="x", platform="x", new_posts=[unflagged], cursor={}, now=NOW)
    storage.alerts.report_missed("https://x.com/dana/status/77", SAM, NOW)
    storage.feedback.import_rows([LabeledRow("@acme love the app", 0)], source="t.csv", now=NOW)

    assert kinds(storage) == {
        "acme is down (1)": (1, Kind.RESOLVED),
        "acme is down (2)": (0, Kind.EXPLICIT),
        "acme refund 77": (1, Kind.MISSED),
        "@acme love the app": (0, Kind.EXPLICIT),
    }
    assert storage.feedback.examples().by_kind == {"explicit": 2, "resolved": 1, "missed": 1}


def test_an_explicit_label_wins_over_a_resolved_click_whichever_came_last(
    storage: Storage,
) -> None:
    """The team imported "not a complaint" for a text, then someone resolved an alert with the
    same text (to clear the queue): the import stands. And an import after a resolved click
    replaces it, even with the same label, so the text counts at full weight."""
    alerted(storage, 1, 2)
    storage.feedback.import_rows([LabeledRow("ACME is down (1)", 0)], source="t.csv", now=NOW)
    storage.alerts.apply(1, "resolve", SAM, NOW + timedelta(minutes=1))
    storage.alerts.apply(2, "resolve", SAM, NOW + timedelta(minutes=1))
    report = storage.feedback.import_rows(
        [LabeledRow("acme is down (2)", 1)], source="later.csv", now=NOW + timedelta(hours=1)
    )

    assert (report.added, report.unchanged, report.relabeled) == (1, 0, 0)
    assert kinds(storage) == {
        "ACME is down (1)": (0, Kind.EXPLICIT),
        "acme is down (2)": (1, Kind.EXPLICIT),
    }
    assert storage.feedback.examples().by_kind == {"explicit": 2, "resolved": 0, "missed": 0}


def test_reopening_takes_the_weak_label_back_and_a_later_verdict_replaces_it(
    storage: Storage,
) -> None:
    alerted(storage, 1)
    storage.alerts.apply(1, "resolve", SAM, NOW)
    assert kinds(storage) == {"acme is down (1)": (1, Kind.RESOLVED)}
    storage.alerts.apply(1, "reopen", SAM, NOW + timedelta(minutes=1))
    assert kinds(storage) == {}
    storage.alerts.apply(1, "not_complaint", SAM, NOW + timedelta(minutes=2))
    assert kinds(storage) == {"acme is down (1)": (0, Kind.EXPLICIT)}


def test_labels_stored_before_the_kinds_existed_are_read_the_same(storage: Storage) -> None:
    """Nothing new is written: a Slack row is told apart by its alert when read, so the labels a
    team gave before this release are weighed by kind too (no migration)."""
    alerted(storage, 1, 2)
    storage.alerts.apply(1, "resolve", SAM, NOW)
    rows = storage.feedback.feedback()
    assert [(origin, label) for _post, _text, label, origin, _author in rows] == [("slack", 1)]
    assert kinds(storage)["acme is down (1)"] == (1, Kind.RESOLVED)
