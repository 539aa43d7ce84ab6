"""Labeled examples from the team: Slack clicks ("Not a complaint", a reported miss) and imports.

The feedback table is what `complaint-monitor train` learns from. A text labeled twice keeps its
latest label (a "Not a complaint" later reopened is removed by `storage.alerts`, a re-import with a
corrected label wins), so the model never sees one text as both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from monitor.models import LabeledRow, fingerprint
from monitor.storage.database import Database
from monitor.storage.tables import FeedbackRow

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


@dataclass(frozen=True, slots=True)
class Examples:
    rows: tuple[LabeledRow, ...]
    max_id: int
    """The newest feedback row among them: a model trained on these is current up to it."""
    by_origin: dict[str, int]


class FeedbackStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def import_rows(
        self, rows: Sequence[LabeledRow], *, source: str, now: datetime
    ) -> ImportReport:
        """Store labeled rows in one transaction (all or nothing); repeats are skipped."""
        latest = {fingerprint(r.text): r.label for r in self.examples().rows}
        added = unchanged = relabeled = 0
        with self.database.session() as session:
            for row in rows:
                key = fingerprint(row.text)
                before = latest.get(key)
                if before == row.label:
                    unchanged += 1
                    continue
                relabeled += before is not None
                latest[key] = row.label
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
        """Every labeled text once, with its latest label, oldest first."""
        with self.database.session() as session:
            stored = session.execute(
                select(FeedbackRow.id, FeedbackRow.text, FeedbackRow.label, FeedbackRow.origin)
                .where(FeedbackRow.label.in_((0, 1)))
                .order_by(FeedbackRow.id)
            ).all()
        latest: dict[str, LabeledRow] = {}
        origins: dict[str, int] = {}
        for _id, text, label, origin in stored:
            if _BARE_LINK.fullmatch(text.strip()):
                continue  # a miss reported by link for a post we never stored: no text to learn
            key = fingerprint(text)
            latest.pop(key, None)  # re-insert: the latest label, at its latest position
            latest[key] = LabeledRow(text, int(label))
            origins[origin] = origins.get(origin, 0) + 1
        max_id = max((row[0] for row in stored), default=0)
        return Examples(tuple(latest.values()), max_id, origins)

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
