"""Labeled examples from the team: Slack clicks ("Not a complaint", a reported miss) and imports.

The feedback table is what `complaint-monitor train` learns from. A text labeled twice keeps its
latest label (a "Not a complaint" later reopened is removed by `storage.alerts`, a re-import with a
corrected label wins), so the model never sees one text as both; except that a deliberate label
(an import, "Not a complaint", a reported miss) always wins over a "Resolved" click, which is
only a weak one (`Kind`), whichever came last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, func, select

from monitor.models import AlertState, LabeledRow, fingerprint
from monitor.storage.database import Database
from monitor.storage.tables import AlertRow, FeedbackRow

IMPORT_ORIGIN = "import"
SLACK_ORIGIN = "slack"
"""A click in Slack: "Resolved" (1), "Not a complaint" (0), a reported miss (1)."""
_BARE_LINK = re.compile(r"<?https?://\S+>?")


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: int
    """New texts, or texts whose label changed."""
    unchanged: int
    """Already stored with the same label: importing a file twice adds nothing."""
    relabeled: int
    """Of `added`, texts stored before with the other label; the import's label wins."""


class Kind(StrEnum):
    """How a label was given, which says how far to trust it (`[classifier]` gives each a
    training weight). Told apart when read, not when written: a Slack label is a row of origin
    "slack" whichever button made it, so labels stored before this distinction count too."""

    EXPLICIT = "explicit"
    """A person said which it is: a `feedback import` row, or "Not a complaint" in Slack."""
    RESOLVED = "resolved"
    """An alert closed with "Resolved": the team handled it, so most likely a complaint, but a
    question answered or an alert closed to clear the queue is resolved too. Weak."""
    MISSED = "missed"
    """`/complaint-monitor missed <link>`: someone went out of their way to report a complaint
    the monitor let through."""


@dataclass(frozen=True, slots=True)
class Examples:
    rows: tuple[LabeledRow, ...]
    max_id: int
    """The newest feedback row among them: a model trained on these is current up to it."""
    by_origin: dict[str, int]
    """Of `rows`, how many came from each origin ("import", "slack")."""
    kinds: tuple[Kind, ...] = ()
    """Beside `rows`: how each label was given."""

    @property
    def by_kind(self) -> dict[str, int]:
        """Of `rows`, how many of each `Kind` (every kind named, 0 included): what `train`
        reports it used."""
        return {kind.value: self.kinds.count(kind) for kind in Kind}


class FeedbackStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def import_rows(
        self, rows: Sequence[LabeledRow], *, source: str, now: datetime
    ) -> ImportReport:
        """Store labeled rows in one transaction (all or nothing); repeats are skipped."""
        known = self.examples()
        latest = {  # a text only a "Resolved" click labeled is worth labeling deliberately
            fingerprint(r.text): r.label
            for r, kind in zip(known.rows, known.kinds, strict=True)
            if kind is not Kind.RESOLVED
        }
        weak = {fingerprint(r.text): r.label for r in known.rows}
        added = unchanged = relabeled = 0
        with self.database.session() as session:
            for row in rows:
                key = fingerprint(row.text)
                before = latest.get(key)
                if before == row.label:
                    unchanged += 1
                    continue
                relabeled += weak.get(key, row.label) != row.label
                latest[key] = weak[key] = row.label
                added += 1
                session.add(
                    FeedbackRow(
                        post_id=None,
                        text=row.text,
                        label=row.label,
                        origin=IMPORT_ORIGIN,
                        author=source[:128],
                        created_at=now,
                    )
                )
        return ImportReport(added, unchanged, relabeled)

    def examples(self) -> Examples:
        """Every labeled text once, oldest first: its latest deliberate label, else its latest
        "Resolved" click.

        One query. The feedback table is the training set, so it is read whole (it is bounded
        by `[retention] feedback_days`); what a Slack label was is looked up in `alerts` per
        label, through its unique index on `post_id` (a scalar subquery: never a join that
        could read every alert)."""
        alert_state = (
            select(AlertRow.state)
            .where(AlertRow.post_id == FeedbackRow.post_id)
            .correlate(FeedbackRow)
            .scalar_subquery()
        )
        with self.database.session() as session:
            stored = session.execute(
                select(
                    FeedbackRow.id,
                    FeedbackRow.text,
                    FeedbackRow.label,
                    FeedbackRow.origin,
                    alert_state,
                )
                .where(FeedbackRow.label.in_((0, 1)))
                .order_by(FeedbackRow.id)
            ).all()
        latest: dict[str, tuple[LabeledRow, str, Kind]] = {}
        for _id, text, label, origin, state in stored:
            if _BARE_LINK.fullmatch(text.strip()):
                continue  # a miss reported by link for a post we never stored: no text to learn
            key = fingerprint(text)
            kind = _kind(origin, int(label), state)
            before = latest.get(key)
            if before is not None and before[2] is not Kind.RESOLVED and kind is Kind.RESOLVED:
                continue  # a person's deliberate label outranks a click that closed an alert
            latest.pop(key, None)  # re-insert: the latest label, at its latest position
            latest[key] = (LabeledRow(text, int(label)), origin, kind)
        kept = list(latest.values())
        origins: dict[str, int] = {}
        for _, origin, _ in kept:
            origins[origin] = origins.get(origin, 0) + 1
        max_id = max((row[0] for row in stored), default=0)
        return Examples(
            tuple(row for row, _, _ in kept), max_id, origins, tuple(kind for _, _, kind in kept)
        )

    def feedback(self) -> list[tuple[int | None, str, int, str, str | None]]:
        """(post id, text, label, origin, author) of every feedback row, oldest first."""
        with self.database.session() as session:
            rows = session.execute(
                select(
                    FeedbackRow.post_id,
                    FeedbackRow.text,
                    FeedbackRow.label,
                    FeedbackRow.origin,
                    FeedbackRow.author,
                ).order_by(FeedbackRow.id)
            ).all()
        return [(p, t, lbl, o, a) for p, t, lbl, o, a in rows]

    def count_after(self, feedback_id: int) -> int:
        """Labels newer than a model: enough of them and the daemon retrains."""
        with self.database.session() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(FeedbackRow)
                    .where(FeedbackRow.id > feedback_id)
                )
                or 0
            )

    def purge_before(self, cutoff: datetime) -> int:
        """`[retention] feedback_days`: labeled texts are customer text too."""
        with self.database.session() as session:
            result = session.execute(delete(FeedbackRow).where(FeedbackRow.created_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)


def _kind(origin: str, label: int, alert_state: str | None) -> Kind:
    """A Slack label 1 on a post whose alert is resolved came from "Resolved" (reopening it takes
    the label back); any other label 1 from Slack is a reported miss."""
    if origin != SLACK_ORIGIN or label == 0:
        return Kind.EXPLICIT
    return Kind.RESOLVED if alert_state == AlertState.RESOLVED.value else Kind.MISSED
