"""The JSONL file source: appended lines are read once, partial and bad lines handled."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from connectors.jsonl import JsonlConnector, JsonlSettings
from monitor.brand import BrandSettings
from monitor.errors import TransientError

BRAND = BrandSettings(name="Acme")


def connector(path: Path, **extra: object) -> JsonlConnector:
    settings = JsonlSettings.model_validate({"type": "jsonl", "path": str(path), **extra})
    return JsonlConnector(settings, BRAND)


def line(post_id: str, text: str, **extra: object) -> str:
    return json.dumps({"id": post_id, "author": "dana", "text": text, **extra}) + "\n"


def test_a_line_being_written_is_read_whole_next_time(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    full = line("1", "acme refund please")
    path.write_text(full[:10])
    first = connector(path).poll(None)
    assert first.posts == []
    path.write_text(full)
    assert [p.text for p in connector(path).poll(first.cursor).posts] == ["acme refund please"]


def test_rotated_file_is_read_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(line("1", "a") + line("2", "b"))
    cursor = connector(path).poll(None).cursor
    path.unlink()
    path.write_text(line("9", "new file"))
    assert [p.external_id for p in connector(path).poll(cursor).posts] == ["9"]


def test_bad_lines_are_logged_with_their_line_number_and_the_rest_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(
        line("1", "ok").encode()
        + b"{not json\n"
        + b'{"id": "3", "text": "caf\xe9 acme broke my order"}\n'
        + b'["no", "text"]\n'
        + line("5", "").encode()
    )
    with caplog.at_level(logging.WARNING):
        result = connector(path).poll(None)
    assert [p.external_id for p in result.posts] == ["1", "3", "5"]
    assert result.posts[1].text == "caf\ufffd acme broke my order"
    assert "m.jsonl:2 skipped: not valid JSON" in caplog.text
    assert "m.jsonl:3 is not valid UTF-8" in caplog.text
    assert 'm.jsonl:4 skipped: needs an object with a "text" string' in caplog.text


def test_a_huge_post_is_read_intact(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    text = "acme " + "x" * 200_000
    path.write_text(line("1", text))
    assert connector(path).poll(None).posts[0].text == text


def test_page_cap_says_there_is_more(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text("".join(line(str(i), f"acme {i}") for i in range(5)))
    source = connector(path, max_lines_per_poll=2)
    first = source.poll(None)
    assert (len(first.posts), first.more) == (2, True)
    rest = source.poll(source.poll(first.cursor).cursor)
    assert ([p.external_id for p in rest.posts], rest.more) == (["4"], False)


def test_missing_file_is_transient_and_names_it(tmp_path: Path) -> None:
    with pytest.raises(TransientError, match="does not exist"):
        connector(tmp_path / "absent.jsonl").poll(None)


def test_fields_are_normalized(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(
        line("7", "acme", platform="x", followers=12, created_at="2026-11-23T10:00:00Z", lang="en")
    )
    post = connector(path).poll(None).posts[0]
    assert post.key == ("x", "7")
    assert post.author.followers == 12
    assert post.created_at.isoformat() == "2026-11-23T10:00:00+00:00"
    assert post.language == "en"
