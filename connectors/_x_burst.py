"""The X connector's reading state per query: where a burst of pages stands, and its cursor.

X answers newest first. A query's burst is read page by page down to its since_id; when the page
cap stops it, the next poll goes on from the saved page token (or below the oldest post read when
X refuses the token or a page came truncated), so nothing is read twice and nothing skipped. A
query with no since_id yet reads down to a ``start_time`` instead (its first poll's starting
point, kept in the cursor until a post is read).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from connectors._x_api import PagePosition
from connectors._x_posts import Page, newest


@dataclass(frozen=True, slots=True, kw_only=True)
class XBurst:
    """A burst stopped by the page cap: read down to `floor` (the since_id it started from);
    `top` is the newest id it read (the next since_id); it goes on from `next_token`, or below
    `oldest` when X refuses the token."""

    floor: str | None = None
    top: str | None = None
    next_token: str | None = None
    anchor: str | None = None
    """The until_id the token chain started from."""
    oldest: str | None = None
    start_time: datetime | None = None
    """With no `floor`: the burst reads down to posts created at this time (a first poll)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class XQueryCursor:
    since_id: str | None = None
    burst: XBurst | None = None
    paused_until: datetime | None = None
    start_time: datetime | None = None
    """A query with no since_id yet (its first polls found nothing) reads from this time on:
    the starting point stored by the first poll, even an empty one."""


@dataclass(slots=True)
class Burst:
    """One query's reading in one poll, moved page by page, and what is saved afterwards.

    X answers ids above `floor` (since_id) and below `anchor` (until_id), from `token`, newest
    first; `top` is the newest id read, `oldest` the oldest (to go on below it when a token is
    refused). `finished` means read down to the floor: `top` becomes the since_id.
    """

    saved: XQueryCursor
    floor: str | None
    top: str | None = None
    token: str | None = None
    anchor: str | None = None
    oldest: str | None = None
    start_time: datetime | None = None
    """With no `floor`: read down to posts created at this time (a query's starting point)."""
    resumed: bool = False
    finished: bool = False
    paused_until: datetime | None = None

    @classmethod
    def resume(cls, saved: XQueryCursor, first_start: datetime) -> Burst:
        """Where `saved` stands; a query never read starts at `first_start` (the backfill)."""
        b = saved.burst
        if b is None:
            start = None if saved.since_id is not None else saved.start_time or first_start
            return cls(saved, saved.since_id, start_time=start)
        start = b.start_time if b.floor is None else None
        return cls(saved, b.floor, b.top, b.next_token, b.anchor, b.oldest, start, resumed=True)

    @property
    def position(self) -> PagePosition:
        return PagePosition(
            since_id=self.floor,
            until_id=self.anchor,
            token=self.token,
            start_time=self.start_time if self.floor is None else None,
        )

    def took(self, page: Page) -> None:
        if self.top is None:
            self.top = page.newest_id
        if page.oldest_id is not None:
            self.oldest = page.oldest_id
        self.token = page.next_token
        if not page.complete and page.oldest_id is not None:
            self.anchor = page.oldest_id  # no token came with it: go on below its oldest post

    def token_refused(self) -> bool:
        """Go on below the oldest post read instead of from the token, if there is one."""
        if self.token is None or self.oldest is None:
            return False
        self.token, self.anchor = None, self.oldest
        return True

    def since_refused(self) -> None:
        self.floor, self.token, self.anchor = None, None, self.oldest

    def read_above(self) -> None:
        """The burst is read: go on with what came while it was being read."""
        self.floor = newest(self.top, self.floor)
        if self.floor is not None:
            self.start_time = None
        self.top = self.token = self.anchor = self.oldest = None
        self.resumed = False

    def cursor(self) -> XQueryCursor:
        if self.finished:
            since_id = newest(self.top, self.floor)
            return XQueryCursor(
                since_id=since_id,
                start_time=self.start_time if since_id is None else None,
                paused_until=self.paused_until,
            )
        moved = XBurst(
            floor=self.floor,
            top=self.top,
            next_token=self.token,
            anchor=self.anchor,
            oldest=self.oldest,
            start_time=self.start_time if self.floor is None else None,
        )
        saved = self.saved
        before = saved.burst or XBurst(
            floor=saved.since_id, start_time=saved.start_time if saved.since_id is None else None
        )
        return replace(
            self.saved,
            burst=self.saved.burst if moved == before else moved,
            paused_until=self.paused_until,
        )
