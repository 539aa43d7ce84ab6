"""A file of mentions, one JSON object a line: the demo's source, and a bridge for other tools.

Another program (or a person with `echo >>`) appends lines; each poll reads what was added since
the byte offset in the cursor. Only complete lines are read, so a line being written is picked up
whole on the next poll. A rotated or truncated file is read again from the start (storage
dedups what was already seen). A line that is not valid JSON is logged with its line number.

Line format (only ``text`` is required)::

    {"id": "1001", "platform": "x", "author": "dana", "author_id": "42", "followers": 120,
     "text": "@acme still waiting on my refund", "url": "https://...",
     "created_at": "2026-11-23T10:00:00Z", "lang": "en", "contact_url": "https://..."}
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from connectors.base import Connector, CursorState, Fetched, SourceSettings
from monitor.errors import TransientError
from monitor.models import Author, Post
from monitor.settings_base import base_dir_from

log = logging.getLogger(__name__)


class JsonlSettings(SourceSettings):
    type: Literal["jsonl"]
    path: Path
    """The file to follow; relative paths are relative to the config file."""
    platform: str = Field(default="jsonl", min_length=1, max_length=32)
    """Platform of lines that don't name their own."""
    max_lines_per_poll: int = Field(default=10_000, ge=1)

    @field_validator("path")
    @classmethod
    def _resolve(cls, path: Path, info: ValidationInfo) -> Path:
        return path if path.is_absolute() else base_dir_from(info) / path


@dataclass(frozen=True, slots=True)
class JsonlCursor(CursorState):
    """How far the file was read: which file (its inode), the byte offset and the line number."""

    version: ClassVar[int | None] = None  # stored without a version since the first release
    inode: int
    offset: int
    line: int


class JsonlConnector(Connector[JsonlSettings, JsonlCursor]):
    kind = "jsonl"
    settings_class = JsonlSettings
    cursor_class = JsonlCursor

    def fetch(self, cursor: JsonlCursor | None) -> Fetched[JsonlCursor]:
        path = self.settings.path
        try:
            stat = path.stat()
            handle = path.open("rb")
        except FileNotFoundError as err:
            raise TransientError(
                f"{path} does not exist (yet); create it or fix [[sources]] path"
            ) from err
        except OSError as err:
            raise TransientError(f"cannot read {path}: {err.strerror}") from err
        offset, line_number = self._start(cursor, stat)
        posts: list[Post] = []
        with handle:
            handle.seek(offset)
            while len(posts) < self.settings.max_lines_per_poll:
                raw = handle.readline()
                if not raw.endswith(b"\n"):
                    break  # end of file, or a line still being written: read it whole next time
                offset += len(raw)
                line_number += 1
                post = self._parse(raw, line_number)
                if post is not None:
                    posts.append(post)
            more = bool(handle.readline().endswith(b"\n"))
        next_cursor = JsonlCursor(inode=stat.st_ino, offset=offset, line=line_number)
        return Fetched(posts=posts, cursor=next_cursor, more=more)

    def _start(self, cursor: JsonlCursor | None, stat: os.stat_result) -> tuple[int, int]:
        if cursor is None:
            return 0, 0
        if cursor.inode != stat.st_ino or stat.st_size < cursor.offset:
            log.info("source=%s file was rotated or truncated; reading from the start", self.name)
            return 0, 0
        return cursor.offset, cursor.line

    def _parse(self, raw: bytes, line_number: int) -> Post | None:
        where = f"{self.settings.path.name}:{line_number}"
        text = raw.decode("utf-8", errors="replace")
        if "\ufffd" in text and b"\xef\xbf\xbd" not in raw:
            log.warning(
                "source=%s %s is not valid UTF-8; undecodable bytes shown as \ufffd",
                self.name,
                where,
            )
        if not text.strip():
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            log.error(
                "source=%s %s skipped: not valid JSON (%s); fix the writer",
                self.name,
                where,
                err.msg,
            )
            return None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            log.error(
                'source=%s %s skipped: needs an object with a "text" string', self.name, where
            )
            return None
        return self._post(data, text)

    def _post(self, data: dict[str, Any], line: str) -> Post:
        platform = str(data.get("platform") or self.settings.platform)
        external_id = str(data.get("id") or hashlib.sha256(line.encode()).hexdigest()[:32])
        handle = str(data.get("author") or "unknown")
        followers = data.get("followers")
        return Post(
            platform=platform,
            external_id=external_id,
            author=Author(
                id=str(data.get("author_id") or handle),
                handle=handle,
                display_name=data.get("author_name"),
                followers=followers if isinstance(followers, int) else None,
                verified=bool(data.get("verified", False)),
            ),
            text=data["text"],
            url=str(data.get("url") or f"file://{self.settings.path}#{external_id}"),
            created_at=self._created_at(data.get("created_at")),
            language=data.get("lang"),
            contact_url=data.get("contact_url"),
            extra={k: data[k] for k in ("subreddit", "title") if k in data},
        )

    def _created_at(self, value: Any) -> datetime:
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                if parsed.tzinfo is not None:
                    return parsed
            except ValueError:
                pass
        return self.clock.now()
