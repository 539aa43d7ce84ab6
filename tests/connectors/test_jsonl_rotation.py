"""Issue 15, item 13: a rotated or rewritten JSONL file loses no line that can still be read.

Rotations as logrotate does them: copytruncate (the file copied to ``<name>.1`` then truncated in
place), rename-and-create (renamed to ``<name>.1``, a new file created), a file renamed away or
deleted (finished through the descriptor still open), and a ``>`` rewrite with no copy."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from connectors.base import cursor_from_json
from connectors.jsonl import JsonlConnector, JsonlCursor, JsonlSettings
from monitor.brand import BrandSettings
from monitor.errors import TransientError
from monitor.models import Cursor, FetchResult

BRAND = BrandSettings(name="Acme")


def connector(path: Path, **extra: object) -> JsonlConnector:
    settings = JsonlSettings.model_validate({"type": "jsonl", "path": str(path), **extra})
    return JsonlConnector(settings, BRAND)


def lines(*ids: str) -> str:
    return "".join(
        json.dumps({"id": i, "author": "dana", "text": f"acme order {i} never arrived"}) + "\n"
        for i in ids
    )


def append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


def poll(source: JsonlConnector, cursor: Cursor | None) -> FetchResult:
    result = source.poll(cursor)
    return FetchResult(result.posts, json.loads(json.dumps(result.cursor)), result.more)


def ids(result: FetchResult) -> list[str]:
    return [p.external_id for p in result.posts]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "m.jsonl"
    file.write_text(lines("1", "2"))
    return file


def test_item_13_copytruncate_rewrite_is_read_from_the_start(path: Path) -> None:
    """Same inode, and the new content already as long as the old offset: the fingerprint of
    the first bytes shows the rewrite; the copy's unread tail is read first."""
    first = poll(connector(path), None)
    append(path, lines("3"))  # written after the poll, before the rotation
    shutil.copy(path, path.with_name("m.jsonl.1"))  # logrotate copytruncate
    with path.open("r+") as handle:
        handle.truncate(0)
    append(path, lines("10", "11", "12"))
    assert path.stat().st_size >= first.cursor["offset"]

    result = poll(connector(path), first.cursor)

    assert ids(result) == ["3", "10", "11", "12"]
    assert poll(connector(path), result.cursor).posts == []


def test_item_13_a_rewrite_with_no_copy_is_read_from_the_start_and_says_so(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = poll(connector(path), None)
    path.write_text(lines("10", "11", "12"))  # `>`: same inode, longer than the old offset

    with caplog.at_level(logging.WARNING):
        result = poll(connector(path), first.cursor)

    assert ids(result) == ["10", "11", "12"]
    assert "reading the new file from the start" in caplog.text


def test_item_13_rename_and_create_reads_the_rest_of_the_old_file_first(path: Path) -> None:
    first = poll(connector(path), None)
    append(path, lines("3", "4"))  # appended before the rename, never read
    path.rename(path.with_name("m.jsonl.1"))
    path.write_text(lines("9"))

    result = poll(connector(path), first.cursor)  # a new process: only the rotated name helps

    assert ids(result) == ["3", "4", "9"]
    assert result.posts[0].text == "acme order 3 never arrived"
    assert poll(connector(path), result.cursor).posts == []


def test_item_13_a_file_renamed_away_is_finished_through_the_open_descriptor(
    path: Path,
) -> None:
    source = connector(path)
    first = poll(source, None)
    append(path, lines("3"))
    path.unlink()  # deleted (or moved where no rotated name finds it)
    path.write_text(lines("9"))

    result = poll(source, first.cursor)

    assert ids(result) == ["3", "9"]
    source.close()


def test_item_13_the_old_file_is_resumed_across_polls_when_the_cap_stops_it(path: Path) -> None:
    first = poll(connector(path), None)
    append(path, lines("3", "4", "5"))
    path.rename(path.with_name("m.jsonl.1"))
    path.write_text(lines("9", "10"))

    one = poll(connector(path, max_lines_per_poll=2), first.cursor)
    two = poll(connector(path, max_lines_per_poll=2), one.cursor)
    three = poll(connector(path, max_lines_per_poll=2), two.cursor)

    assert (ids(one), one.more) == (["3", "4"], True)
    assert (ids(two), two.more) == (["5", "9"], True)
    assert (ids(three), three.more) == (["10"], False)


def test_item_13_rotated_before_the_new_file_exists_reads_the_old_rest_then_waits(
    path: Path,
) -> None:
    first = poll(connector(path), None)
    append(path, lines("3"))
    path.rename(path.with_name("m.jsonl.1"))

    rest = poll(connector(path), first.cursor)
    assert ids(rest) == ["3"]
    path.write_text(lines("9"))
    assert ids(poll(connector(path), rest.cursor)) == ["9"]
    path.unlink()
    path.with_name("m.jsonl.1").unlink()
    with pytest.raises(TransientError, match="does not exist"):
        connector(path).poll(rest.cursor)


def test_item_13_a_failed_store_after_a_rotation_reads_the_same_lines_again(path: Path) -> None:
    source = connector(path)
    first = poll(source, None)
    append(path, lines("3"))
    path.rename(path.with_name("m.jsonl.1"))
    path.write_text(lines("9"))

    assert ids(poll(source, first.cursor)) == ["3", "9"]
    assert ids(poll(source, first.cursor)) == ["3", "9"]  # the old cursor came back
    source.close()


def test_item_13_a_cursor_stored_before_the_fingerprint_still_reads(path: Path) -> None:
    size = path.stat().st_size
    old: Cursor = {"inode": os.stat(path).st_ino, "offset": size, "line": 2}  # no "v", no print
    assert cursor_from_json(JsonlCursor, old) == JsonlCursor(path.stat().st_ino, size, 2)
    append(path, lines("3"))

    result = poll(connector(path), old)

    assert ids(result) == ["3"]
    assert "v" not in result.cursor and len(result.cursor["fingerprint"]) == 32
