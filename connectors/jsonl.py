"""A file of mentions, one JSON object a line: the demo's source, and a bridge for other tools.

Another program (or a person with `echo >>`) appends lines; each poll reads what was added since
the byte offset in the cursor. Only complete lines are read, so a line being written is picked up
whole on the next poll. A line that is not valid JSON is logged with its line number.

Rotation. The cursor names the file by its inode and a fingerprint of its first bytes (up to 1 KiB,
never more than was read), so a rename, a truncation and an in-place rewrite (``>``, logrotate's
copytruncate) all show, even when the new content is already longer than the old offset. Then
the rest of the old file is read first, from the cursor's offset, then the new file from the
start (storage drops what was already stored). The old file is found through the descriptor
kept open since the last poll (a file renamed anywhere, or deleted, is still read to its end),
or beside the file under `rotated_names` (default ``<name>.1``; a copytruncate copy is
recognised by its first bytes). Recoverable: everything written to the old file before it was
renamed or copied, when the old file still exists under a rotated name or the daemon kept it
open. Not recoverable (a warning is logged): a ``>`` rewrite or truncation with no copy loses
what was written after the last poll; so does a rotation while the daemon was stopped when the
old file is neither under a rotated name nor kept open (e.g. compressed at once); lines
written by a writer that keeps its old descriptor after the old file was read to its end; a
rewrite that keeps the same first bytes and length is not seen as one.

Line format (only ``text`` is required)::

    {"id": "1001", "platform": "x", "author": "dana", "author_id": "42", "followers": 120,
     "text": "@acme still waiting on my refund", "url": "https://...",
     "created_at": "2026-11-23T10:00:00Z", "lang": "en", "contact_url": "https://...",
     "edited_at": "2026-11-23T10:05:00Z", "rating": 2}

``rating``: a review's stars (1-5), for a bridge from a review site; routes can match it.

A bridge that sees a post edited writes it again with the same ``id``, the new ``text`` and
``edited_at``: the pipeline judges the new text again (and alerts if it now qualifies).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import weakref
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal

import orjson
from pydantic import Field, ValidationInfo, field_validator

from connectors.base import Connector, CursorState, Fetched, SourceSettings
from monitor.brand import BrandSettings
from monitor.clock import Clock
from monitor.errors import TransientError
from monitor.frozen import builder
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
    rotated_names: list[str] = Field(default_factory=lambda: ["{name}.1"])
    """Where a rotated file is found beside the file (``{name}`` is the file's name; glob
    patterns allowed, e.g. ``"{name}-*"`` for logrotate's dateext): after a rotation the rest of
    the old file is read from there (or through the descriptor still open) before the new one."""

    @field_validator("path")
    @classmethod
    def _resolve(cls, path: Path, info: ValidationInfo) -> Path:
        return path if path.is_absolute() else base_dir_from(info) / path


@dataclass(frozen=True, slots=True)
class JsonlCursor(CursorState):
    """How far the file was read: which file (its inode, and a fingerprint of its first bytes),
    the byte offset and the line number."""

    version: ClassVar[int | None] = None  # stored without a version since the first release
    inode: int
    offset: int
    line: int
    fingerprint: str | None = None
    """`fingerprint` of the file's first ``min(offset, FINGERPRINT_BYTES)`` bytes; None in a
    cursor stored before it was kept (then only the inode and the size are compared)."""


_PLAIN = frozenset({str, int, bool, type(None)})
"""The values of a line orjson reads as json.loads does (it reads an integer past 64 bits as a
float; a float, a list or an object sends the line the long way)."""

FINGERPRINT_BYTES = 1024
"""How much of the start of the file identifies it (as filebeat's fingerprint does)."""


def fingerprint(handle: BinaryIO, offset: int) -> str:
    """A hash of the file's first ``min(offset, FINGERPRINT_BYTES)`` bytes: the bytes up to
    `offset` never change while a file is only appended to, so a rewrite shows."""
    head = os.pread(handle.fileno(), min(offset, FINGERPRINT_BYTES), 0)
    return hashlib.sha256(head).hexdigest()[:32]


@dataclass
class _Read:
    posts: list[Post]
    offset: int
    line: int
    more: bool


class JsonlConnector(Connector[JsonlSettings, JsonlCursor]):
    kind = "jsonl"
    settings_class = JsonlSettings
    cursor_class = JsonlCursor

    def __init__(
        self, settings: JsonlSettings, brand: BrandSettings, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, brand, clock)
        self._held: dict[tuple[int, int], BinaryIO] = {}
        """Descriptors kept open between polls (the cursor's file and the one before), by
        (device, inode): a file renamed away or deleted is still read to its end through them."""
        weakref.finalize(self, _close_all, self._held)
        self._url_prefix = f"file://{settings.path}#"
        """A line without ``url`` gets this and its id (settings are frozen)."""

    def fetch(self, cursor: JsonlCursor | None) -> Fetched[JsonlCursor]:
        current = self._open_path()
        opened = [current] if current is not None else []
        try:
            return self._fetch(cursor, current, opened)
        finally:
            held = {id(handle) for handle in self._held.values()}
            for handle in opened:
                if id(handle) not in held:
                    handle.close()

    def _fetch(
        self, cursor: JsonlCursor | None, current: BinaryIO | None, opened: list[BinaryIO]
    ) -> Fetched[JsonlCursor]:
        limit = self.settings.max_lines_per_poll
        posts: list[Post] = []
        if cursor is not None and current is not None and self._same_file(cursor, current):
            return self._follow(current, cursor.offset, cursor.line, limit, [])
        if cursor is not None:
            old = self._rotated(cursor, current, opened)
            if old is not None:
                read = self._read(old, cursor.offset, cursor.line, limit, rotated=True)
                posts = read.posts
                if read.more or current is None:
                    self._hold(old)
                    return Fetched(posts, self._cursor(old, read), more=read.more)
                log.info(
                    "source=%s %s was rotated; read the rest of the old file (%d posts), now "
                    "reading the new one from the start",
                    self.name,
                    self.settings.path,
                    len(posts),
                )
            elif current is not None:
                log.warning(
                    "source=%s %s was rotated, truncated or rewritten and the old file is not "
                    "beside it (%s): reading the new file from the start; lines added to the old "
                    "one after the last poll, if any, were not read",
                    self.name,
                    self.settings.path,
                    ", ".join(self.settings.rotated_names),
                )
        if current is None:
            raise self._missing()
        return self._follow(current, 0, 0, limit - len(posts), posts)

    def _follow(
        self, handle: BinaryIO, offset: int, line: int, limit: int, posts: list[Post]
    ) -> Fetched[JsonlCursor]:
        """Read `handle` (the file at the path) on from `offset`, after `posts`."""
        read = self._read(handle, offset, line, limit, rotated=False)
        self._hold(handle)
        return Fetched([*posts, *read.posts], self._cursor(handle, read), more=read.more)

    def _read(
        self, handle: BinaryIO, offset: int, line_number: int, limit: int, *, rotated: bool
    ) -> _Read:
        """Complete lines from `offset`, at most `limit` posts. A rotated file is written no
        more, so its last line is read even without its newline."""
        posts: list[Post] = []
        handle.seek(offset)
        readline, parse, append = handle.readline, self._parse, posts.append
        while len(posts) < limit:
            raw = readline()
            if not raw or (not raw.endswith(b"\n") and not rotated):
                break  # end of file, or a line still being written: read it whole next time
            offset += len(raw)
            line_number += 1
            post = parse(raw, line_number)
            if post is not None:
                append(post)
        rest = handle.readline()
        more = rest.endswith(b"\n") or (rotated and bool(rest))
        return _Read(posts, offset, line_number, more)

    @staticmethod
    def _cursor(handle: BinaryIO, read: _Read) -> JsonlCursor:
        return JsonlCursor(
            inode=os.fstat(handle.fileno()).st_ino,
            offset=read.offset,
            line=read.line,
            fingerprint=fingerprint(handle, read.offset),
        )

    # -- which file the cursor is in ---------------------------------------------------------

    def _open_path(self) -> BinaryIO | None:
        """The file at the path, or None when there is none (rotated, not yet re-created)."""
        path = self.settings.path
        try:
            return path.open("rb")
        except FileNotFoundError:
            return None
        except OSError as err:
            raise TransientError(f"cannot read {path}: {err.strerror}") from err

    def _missing(self) -> TransientError:
        path = self.settings.path
        return TransientError(f"{path} does not exist (yet); create it or fix [[sources]] path")

    @staticmethod
    def _same_file(cursor: JsonlCursor, handle: BinaryIO) -> bool:
        """The path still holds the file the cursor is in: same inode, not shorter, and (when the
        cursor has one) the same first bytes; a copytruncate or ``>`` rewrite fails the last."""
        stat = os.fstat(handle.fileno())
        if stat.st_ino != cursor.inode or stat.st_size < cursor.offset:
            return False
        return (
            cursor.fingerprint is None or fingerprint(handle, cursor.offset) == cursor.fingerprint
        )

    @staticmethod
    def _is_old_file(cursor: JsonlCursor, handle: BinaryIO) -> bool:
        """`handle` is the cursor's file after a rotation: renamed (same inode) or copied
        (copytruncate: the same first bytes), and at least as long as what was read."""
        stat = os.fstat(handle.fileno())
        if stat.st_size < cursor.offset:
            return False
        if cursor.fingerprint is None:
            return stat.st_ino == cursor.inode
        if fingerprint(handle, cursor.offset) != cursor.fingerprint:
            return False
        return stat.st_ino == cursor.inode or cursor.offset > 0

    def _rotated(
        self, cursor: JsonlCursor, current: BinaryIO | None, opened: list[BinaryIO]
    ) -> BinaryIO | None:
        """The cursor's file after a rotation: a descriptor still open on it, else a file beside
        the path under one of `rotated_names`; None when neither is found."""
        current_key = _key(current) if current is not None else None
        for key, handle in list(self._held.items()):
            if key != current_key and self._is_old_file(cursor, handle):
                return handle
        path = self.settings.path
        for pattern in self.settings.rotated_names:
            for candidate in sorted(path.parent.glob(pattern.format(name=path.name))):
                if candidate == path or not candidate.is_file():
                    continue
                try:
                    handle = candidate.open("rb")
                except OSError:
                    continue
                opened.append(handle)
                if self._is_old_file(cursor, handle):
                    return handle
        return None

    def _hold(self, handle: BinaryIO) -> None:
        """Keep `handle` open for the next polls (with the one held before it)."""
        key = _key(handle)
        before = self._held.pop(key, None)
        if before is not None and before is not handle:
            before.close()
        self._held[key] = handle
        while len(self._held) > 2:
            self._held.pop(next(iter(self._held))).close()

    def close(self) -> None:
        _close_all(self._held)

    def _parse(self, raw: bytes, line_number: int) -> Post | None:
        """The line's post. orjson reads the usual line (valid UTF-8, an object of strings and
        integers) straight from its bytes, in a fraction of json.loads' time; any other line is
        read again the long way, which says what is wrong with it as it always has, and reads
        what orjson would read otherwise (an integer past 64 bits, which orjson makes a float)."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # invalid UTF-8, NaN, a lone surrogate, a blank line, not JSON: the long way
        else:
            if (
                type(data) is dict
                and type(data.get("text")) is str
                and _PLAIN.issuperset(map(type, data.values()))
            ):
                return self._post(data, raw)
        return self._parse_slowly(raw, line_number)

    def _parse_slowly(self, raw: bytes, line_number: int) -> Post | None:
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
        except (ValueError, RecursionError) as err:  # also a 5,000-digit number, deep nesting
            log.error(
                "source=%s %s skipped: not valid JSON (%s); fix the writer",
                self.name,
                where,
                getattr(err, "msg", type(err).__name__),
            )
            return None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            log.error(
                'source=%s %s skipped: needs an object with a "text" string', self.name, where
            )
            return None
        return self._post(data, text.encode())

    def _post(self, data: dict[str, Any], line: bytes) -> Post:
        """`line`: the line as UTF-8 (undecodable bytes as U+FFFD): a post without an id is
        named by its hash. (Optional fields are looked at only when present, and the post is
        built without the frozen dataclass's slow ``__init__`` (`monitor.frozen`): this runs
        for every line.)"""
        get = data.get
        external_id = str(get("id") or hashlib.sha256(line).hexdigest()[:32])
        handle = str(get("author") or "unknown")
        followers, name, contact = get("followers"), get("author_name"), get("contact_url")
        language, edited, rating = get("lang"), get("edited_at"), get("rating")
        return _new_post(
            platform=str(get("platform") or self.settings.platform),
            external_id=external_id,
            author=_new_author(
                id=str(get("author_id") or handle),
                handle=handle,
                display_name=None if name is None else _optional_str(name),
                followers=followers if isinstance(followers, int) else None,
                verified=bool(get("verified", False)),
            ),
            text=data["text"],
            url=str(get("url") or self._url_prefix + external_id),
            created_at=_timestamp(get("created_at")) or self.clock.now(),
            language=language if type(language) is str else None,
            contact_url=None if contact is None else _optional_str(contact),
            extra={k: data[k] for k in _EXTRA if k in data}
            if "subreddit" in data or "title" in data
            else {},
            edited_at=None if edited is None else _timestamp(edited),
            revises=(),
            rating=rating if isinstance(rating, int) else None,
        )


_new_post = builder(Post)
_new_author = builder(Author)
_EXTRA = ("subreddit", "title")
"""Fields of a line kept in the post's `extra`."""


def _timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time with its offset; anything else is None."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is not None:
                return parsed
        except ValueError:
            pass
    return None


def _optional_str(value: Any) -> str | None:
    """A string field a writer may fill with anything: a list of strings is joined (a bridge's
    list of names), anything else that is not a string is None. `monitor.sanitize` does the rest
    (NUL, surrogates, sizes) for every connector."""
    if isinstance(value, list):
        value = " ".join(item for item in value if isinstance(item, str))
    return value if isinstance(value, str) and value else None


def _key(handle: BinaryIO) -> tuple[int, int]:
    stat = os.fstat(handle.fileno())
    return stat.st_dev, stat.st_ino


def _close_all(held: dict[tuple[int, int], BinaryIO]) -> None:
    for handle in held.values():
        handle.close()
    held.clear()
