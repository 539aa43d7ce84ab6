"""`store_poll` writes a poll's rows a column at a time through the driver (issue 16). It must
store the same values, byte for byte, as SQLAlchemy's own INSERT from a dict per row, which the
post-by-post retry of a refused batch still uses. Checked on SQLite and PostgreSQL, odd values
included (those PostgreSQL's JSON document cannot carry take the array path)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import text

from monitor.models import Author, Reason
from monitor.storage import Database, NewPost, Storage, tables
from monitor.storage.database import insert_columns, json_dumps, orjson_text
from monitor.storage.posts import _store_one
from monitor.storage.tables import (
    AlertRow,
    ClassificationRow,
    PostRow,
    alert_columns,
    alert_values,
    classification_columns,
    classification_values,
    post_columns,
    post_values,
    reasons_json,
    reasons_json_column,
)
from tests.storage.factories import NOW, post, verdict

INDIA = timezone(timedelta(hours=5, minutes=30))


def odd_items() -> list[NewPost]:
    """Posts and verdicts with the values the short ways treat apart (JSON that orjson refuses
    or would write otherwise, -0.0 and infinities, times not in UTC), all of which PostgreSQL
    accepts: what it refuses is quarantined (tests/storage/test_quarantine.py)."""
    base, judged = post("1"), verdict()
    return [
        NewPost(base, judged, False, 10),
        NewPost(
            replace(
                post("2", handle="İSTANBUL"),  # lower case is longer: the key is clipped
                created_at=datetime(2026, 11, 23, 17, 30, 0, 999_999, tzinfo=INDIA),
                edited_at=NOW - timedelta(seconds=1),
                rating=4,
                contact_url="https://x.com/messages/2",
                author=Author(id="7", handle="@Dana ", display_name="Dana ☕", verified=True),
                text='café ☕ 😀 \u2028 "quoted" \\ back',
            ),
            replace(judged, score=-0.0, sentiment={"neg": 1e-300, "pos": 5e-324}),
            True,
            110,
            channel="C9",
            topic="refund",
        ),
        NewPost(
            replace(post("3"), extra={"big": 2**70, "none": None, "nested": {"f": [0.1, 1e300]}}),
            replace(judged, reasons=(), sentiment=cast(dict[str, float], {"none": None})),
            False,
            None,
        ),
        NewPost(
            replace(post("4"), extra=cast(dict[str, Any], {1: "a key that is not a str"})),
            replace(judged, reasons=(Reason("odd", 2**70, "∞"), Reason("x", 1 / 3, "l'app"))),
            False,
            20,
            muted=True,
        ),
        NewPost(
            replace(post("5"), created_at=datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC)),
            replace(judged, score=math.inf),
            False,
            5,
        ),
    ]


def stored(database: Database) -> list[tuple[str, ...]]:
    """Every column of every post with its verdict and alert (ids aside: they differ between
    two runs on PostgreSQL), each value as its exact text and type."""
    tables = {"p": PostRow, "c": ClassificationRow, "a": AlertRow}
    columns = [
        (alias, column.name)
        for alias, table in tables.items()
        for column in table.__table__.columns
        if column.name not in ("id", "post_id")
    ]
    with database.engine.connect() as connection:
        if database.is_sqlite:  # the value's type and exact text (a float's repr)
            values = ", ".join(f"typeof({a}.{c}), {a}.{c}" for a, c in columns)
        else:  # PostgreSQL's text of each value is exact (floats shortest-exact)
            values = ", ".join(f"{a}.{c}::text" for a, c in columns)
        rows = connection.execute(
            text(
                f"SELECT {values} FROM posts p JOIN classifications c ON c.post_id = p.id "
                "LEFT JOIN alerts a ON a.post_id = p.id ORDER BY p.external_id"
            )
        )
        return [tuple(map(repr, row)) for row in rows]


def exact_floats() -> list[NewPost]:
    """The odd items with scores JSON carries exactly (so PostgreSQL reads every table from
    one JSON document; -0.0 and infinities send a batch to the arrays)."""
    scores = [5e-324, 1e300, 1 / 3, 2.5e-8, 0.1]
    return [
        replace(item, verdict=replace(item.verdict, score=score))
        for item, score in zip(odd_items(), scores, strict=True)
    ]


def negative_zero() -> list[NewPost]:
    """The odd items with -0.0 the only odd score: with an infinity in the batch too, a wrong
    -0.0 would go unseen (the infinity, written null, has the batch retried post by post)."""
    return [
        replace(item, verdict=replace(item.verdict, score=0.5)) if n == 4 else item
        for n, item in enumerate(odd_items())
    ]


@pytest.mark.parametrize("make", [odd_items, exact_floats, negative_zero])
def test_a_poll_stores_what_sqlalchemy_stored_from_a_dict_per_row(
    database: Database, make: Callable[[], list[NewPost]]
) -> None:
    storage = Storage(database, "C1")
    items = make()
    poll = storage.posts.store_poll(source="s", platform="x", new_posts=items, cursor={}, now=NOW)
    assert (poll.inserted, poll.alerts, poll.quarantined) == (5, 3, 0)
    fast = stored(database)
    with database.session() as session:
        for table in ("alerts", "classifications", "posts"):
            session.execute(text(f"DELETE FROM {table}"))
    with database.session() as session:
        assert [_store_one(session, "s", item, NOW) for item in items] == [(1, 1)] * 2 + [
            (1, 0),
            (1, 0),
            (1, 1),
        ]
    assert stored(database) == fast


def test_the_column_builders_give_the_values_the_row_builders_give() -> None:
    items = odd_items()
    columns = post_columns([i.post for i in items], "s", NOW)
    rows = [post_values(i.post, "s", NOW) for i in items]
    assert columns.keys() == rows[0].keys()
    assert {k: list(v) for k, v in columns.items()} == {k: [r[k] for r in rows] for k in rows[0]}
    verdicts = classification_columns(
        [1, 2, 3, 4, 5],
        [i.verdict for i in items],
        [i.vip for i in items],
        [i.muted for i in items],
        NOW,
    )
    rows = [
        classification_values(n, i.verdict, i.vip, NOW, muted=i.muted)
        for n, i in enumerate(items, 1)
    ]
    expected: dict[str, list[Any]] = {k: [r[k] for r in rows] for k in rows[0]}
    expected["reasons"] = list(map(json_dumps, expected["reasons"]))  # given as JSON text
    assert verdicts.keys() == expected.keys()
    assert repr({k: list(v) for k, v in verdicts.items()}) == repr(expected)  # NaN, -0.0
    alerts = alert_columns([1, 2], [10, 20], ["C9", None], [None, "refund"], NOW)
    rows = [alert_values(1, 10, "C9", None, NOW), alert_values(2, 20, None, "refund", NOW)]
    assert {k: list(v) for k, v in alerts.items()} == {k: [r[k] for r in rows] for k in rows[0]}


@pytest.mark.parametrize(
    "reasons",
    [
        (),
        (Reason("refund", 1.2, "refund"),),
        (Reason("sentiment", -0.5, 'VADER "x" ☕'), Reason("link", 0.0, "")),
        (Reason("odd", math.nan, "null"),),  # json.dumps writes NaN
        (Reason("big", 1e16, "x"), Reason("small", 1e-7, "y")),
    ],
)
def test_remembered_reasons_are_written_as_their_dicts_were(reasons: tuple[Reason, ...]) -> None:
    dicts = [{"cue": r.cue, "weight": r.weight, "detail": r.detail} for r in reasons]
    assert reasons_json(reasons) == json_dumps(dicts)
    assert reasons_json(reasons) == json_dumps(dicts)  # seen twice: remembered from now on
    assert reasons_json(reasons) == json_dumps(dicts)  # remembered: the same text again
    assert reasons_json_column([reasons, reasons]) == [json_dumps(dicts)] * 2


def test_one_off_reasons_never_push_out_the_remembered_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A learned model gives every post a reason of its own: they must not make the scorer's
    common reasons be written again (which cost 7-14 µs a post with a model)."""
    written: list[str] = []

    def counted(value: dict[str, Any]) -> str | None:
        written.append(value["cue"])
        return orjson_text(value)

    monkeypatch.setattr(tables, "orjson_text", counted)
    common = Reason("refund", 1.2, "refund")
    reasons_json([common])
    reasons_json([common])
    written.clear()
    for n in range(2 * tables._REASONS_REMEMBERED + 1):
        one_off = Reason("learned", n / 7, f"model-1: {n}")
        dicts = [_dict_of(common), _dict_of(one_off)]
        assert reasons_json_column([(common, one_off)]) == [json_dumps(dicts)]
    assert "refund" not in written


def _dict_of(reason: Reason) -> dict[str, Any]:
    return {"cue": reason.cue, "weight": reason.weight, "detail": reason.detail}


def test_columns_of_unequal_lengths_are_refused(database: Database) -> None:
    columns = post_columns([post("1"), post("2")], "s", NOW)
    columns["text"] = ["only one"]
    with database.session() as session, pytest.raises(ValueError, match="unequal"):
        insert_columns(session, PostRow, columns)
