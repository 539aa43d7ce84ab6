"""What `store_poll`'s short ways (orjson for the JSON columns, column-wise binding through the
driver) store: the same values, read back the same, on SQLite and PostgreSQL (issue 16)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text

from monitor.models import Reason
from monitor.storage import Database, NewPost, Storage
from monitor.storage.database import insert_rows, json_dumps, json_loads
from monitor.storage.tables import SourceCursorRow
from tests.storage.factories import LEASE, NOW, post, verdict

ODD_JSON: list[Any] = [
    {"text": "a lone \ud800 surrogate"},  # orjson refuses it
    {1: "a key that is not a str", None: 2},  # orjson refuses it
    {"big": 2**70, "small": -(2**70)},  # orjson refuses ints past 64 bits
    {"nan": math.nan, "inf": math.inf},  # orjson would write null
    [None, "null", {"a": None}],
]


@pytest.mark.parametrize("value", ODD_JSON)
def test_json_orjson_cannot_write_as_json_dumps_is_stored_exactly_as_before(value: Any) -> None:
    assert json_dumps(value) == json.dumps(value)


@pytest.mark.parametrize("value", ODD_JSON)
def test_json_written_before_reads_back_as_json_loads_read_it(value: Any) -> None:
    stored = json.dumps(value)
    for data in (stored, stored.encode()):
        assert repr(json_loads(data)) == repr(json.loads(stored))  # repr: NaN == NaN


def test_json_columns_read_back_what_was_stored(storage: Storage) -> None:
    extra = {
        "query": "acme",
        "big": 2**70,
        "id": 12345678901234567890,
        "floats": [0.1, 5e-324, 1e300, -0.0],
        "text": 'café ☕ 😀 \u2028 "quoted" \\ back',
        "nested": {"list": [1, None, True, False, "x"], "empty": {}},
    }
    judged = replace(
        verdict(),
        reasons=(Reason("refund", 1.2, "refund"), Reason("broken", 1 / 3, "l'app ☕")),
        sentiment={"neg": 0.123456789012345, "neu": 0.9, "pos": 0.0, "compound": -1e-9},
    )
    item = NewPost(replace(post("1"), extra=extra), judged, False, 10)
    cursor = {"since": "2026-11-23T12:00:00Z", "ids": [2**64, 2**70], "nested": {"n": None}}
    storage.posts.store_poll(source="s", platform="x", new_posts=[item], cursor=cursor, now=NOW)
    (alert,) = storage.outbox.claim_due(NOW, LEASE)
    assert alert.post.extra == extra
    assert alert.verdict == judged
    assert storage.posts.load_cursor("s") == cursor


TIMES = [
    NOW,
    datetime(2026, 11, 23, 12, 0, 0, 999_999, tzinfo=UTC),
    datetime(2000, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 11, 23, 17, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
]
CURSORS: list[Any] = [{"n": 1, "text": "café"}, {}, [], None, {1: "a key that is not a str"}]


def test_values_through_the_driver_are_stored_as_sqlalchemy_stores_them(database: Database) -> None:
    """The driver's short way and SQLAlchemy's own INSERT store the same values in the same
    form: on SQLite, times as the text the history view's date ranges compare."""
    with database.session() as session:
        for through_driver in (True, False):
            rows = [
                {"source": f"{through_driver}{n}", "platform": "x", "cursor": c, "updated_at": t}
                for n, (c, t) in enumerate(zip(CURSORS, TIMES, strict=True))
            ]
            insert_rows(session, SourceCursorRow, rows, through_driver=through_driver)
    with database.engine.connect() as connection:
        query = "SELECT source, CAST(cursor AS TEXT), updated_at FROM source_cursors"
        stored = {source: rest for source, *rest in connection.execute(text(query))}
    for n in range(len(TIMES)):
        fast, core = stored[f"True{n}"], stored[f"False{n}"]
        assert json.loads(fast[0]) == json.loads(core[0])
        assert fast[1] == core[1]
    if database.is_sqlite:
        assert stored["True0"][1] == stored["True4"][1] == "2026-11-23 12:00:00.000000"
        assert stored["True3"][1] == "0001-01-01 00:00:01.000000"
