"""The plain values that flow between the layers: a post, a verdict on it, an alert, a label.

A leaf: free of SQLAlchemy, Slack and every other layer, so connectors, the classifier, storage
and the Slack adapter all speak in these and nothing is copied field by field between shapes.
"""

from __future__ import annotations

import hashlib
import re
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
    edited_at: datetime | None = None
    """The platform says this text was edited then (same id, new text: Reddit, Mastodon)."""
    revises: tuple[str, ...] = ()
    """The ids of the earlier versions of this post, where an edit gets a new id (X)."""
    rating: int | None = None
    """A review's stars, 1 to 5 (app stores); None where the platform has no rating."""

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
        return _SEVERITY_RANKS[self.value]


_SEVERITY_RANKS = {"low": 1, "medium": 2, "high": 3}
"""`Severity.rank` (built once: alert priorities ask for it once a post)."""


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


@dataclass(frozen=True, slots=True)
class LabeledRow:
    """A text a person labeled (feedback, an evaluation file): what the model learns from."""

    text: str
    label: int
    """1 = complaint, 0 = not."""


_SPACE = re.compile(r"\s+")


def fingerprint(text: str) -> str:
    """Identifies a text regardless of spacing and case: `eval` excludes what a model saw, and
    feedback keeps one label per text."""
    return hashlib.sha256(_SPACE.sub(" ", text).strip().casefold().encode()).hexdigest()[:16]


class DeliveryStatus(StrEnum):
    """Where an alert is in the outbox."""

    PENDING = "pending"
    """Not tried yet."""
    FAILED = "failed"
    """Tried; retried at its next attempt time."""
    SENT = "sent"
    """Slack has it."""
    PREVIEWED = "previewed"
    """Printed by the console notifier only (a preview): not in Slack, so a Slack notifier still
    sends it; the console does not print it again."""
    PARKED = "parked"
    """Slack refused it for good, in full and in its minimal form: never claimed again; the
    reason is in `last_error`, `stats` counts it, a notice announced it."""


class AlertState(StrEnum):
    """What the team did with a sent alert (the buttons)."""

    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    NOT_COMPLAINT = "not_complaint"

    @property
    def closed(self) -> bool:
        return self in (AlertState.RESOLVED, AlertState.NOT_COMPLAINT)


@dataclass(frozen=True, slots=True)
class Person:
    """Who acted: a Slack user id (shown as a mention) and the name Slack sent with it."""

    id: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert, the one shape for every layer: the outbox hands it to a notifier, the Slack
    adapter renders it, a click re-renders it from what the database says now."""

    alert_id: int
    post: Post
    verdict: Verdict
    vip: bool
    channel: str | None
    """None: the notifier's default channel."""
    post_id: int | None = None
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    outcome_unknown: bool = False
    """A send was started and its answer never came: look before sending again."""
    last_attempt_at: datetime | None = None
    slack_ts: str | None = None
    sent_at: datetime | None = None
    state: AlertState = AlertState.OPEN
    claimed_by: Person | None = None
    claimed_at: datetime | None = None
    resolved_by: Person | None = None
    """Who closed it: resolved, or marked not a complaint."""
    resolved_at: datetime | None = None
    muted_by: Person | None = None
    """Set when the author is muted (by whom; an empty id when unknown)."""
    muted_until: datetime | None = None
    """When that mute lapses; None: until someone unmutes."""
    topic: str | None = None
    storm_id: int | None = None
    earlier_complaints: int | None = None
    """Complaints its author posted in the 90 days before this one (None: not counted)."""

    @property
    def acted_on(self) -> bool:
        """Someone did something with it (its message shows a status line)."""
        return self.state is not AlertState.OPEN or self.muted_by is not None
