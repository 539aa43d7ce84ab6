"""The plain values that flow through the pipeline: a normalized post and a verdict on it.

These are deliberately free of SQLAlchemy and Slack so connectors and the classifier stay pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

Cursor = dict[str, Any]
"""A connector's position in its source: JSON-serializable, opaque to everyone but the connector."""


@dataclass(frozen=True, slots=True)
class Author:
    id: str
    handle: str
    display_name: str | None = None
    followers: int | None = None
    verified: bool = False


@dataclass(frozen=True, slots=True)
class Post:
    """A mention, normalized across platforms. `(platform, external_id)` identifies it."""

    platform: str
    external_id: str
    author: Author
    text: str
    url: str
    created_at: datetime
    language: str | None = None
    contact_url: str | None = None
    """A private next step: the link that opens a direct message to the author, if any."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Platform facts worth showing (subreddit, is_reply, conversation id...)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.external_id)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one `fetch` returns: posts oldest to newest, and the cursor that follows them.

    `more` says the connector stopped early (a page cap) and has more to read right away.
    """

    posts: list[Post]
    cursor: Cursor
    more: bool = False


class Label(StrEnum):
    COMPLAINT = "complaint"
    NOT_COMPLAINT = "not_complaint"
    UNSUPPORTED_LANGUAGE = "unsupported_language"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 1, "medium": 2, "high": 3}[self.value]


@dataclass(frozen=True, slots=True)
class Reason:
    """One cue that fired, with its weight in the score (positive pushes toward complaint)."""

    cue: str
    weight: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The classifier's decision on one text, with everything needed to explain it."""

    label: Label
    score: float
    severity: Severity
    reasons: tuple[Reason, ...]
    sentiment: dict[str, float]
    classifier_version: str

    @property
    def is_complaint(self) -> bool:
        """Unsupported languages are routed to a human too: never downplay what we can't read."""
        return self.label is not Label.NOT_COMPLAINT
