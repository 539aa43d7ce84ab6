"""`complaint-monitor replay`: what would the current scorer and config flag differently?

A team tunes its terms, cues and threshold, replays the stored posts, reads what would change,
and only then restarts the daemon. Replay reads the store and the configuration and nothing
else: it writes no row, builds no Slack sink and sends no alert, so it is safe beside a
running daemon.

Each post is judged as `Pipeline` would judge it today: first the brand filters (a post the
current terms no longer match, or whose author is muted now, would not be stored, let alone
flagged), then `classify` with today's VIP list and follower counts, and a post by one of
the brand's own accounts is not a complaint, as in polls.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from monitor.brand import BrandMatcher, BrandSettings, author_muted, brand_account
from monitor.classifier import ClassifierLike
from monitor.models import Label, Reason, Severity, Verdict
from monitor.pipeline import BRAND_OWN, brand_own_verdict
from monitor.storage import PostStore, StoredVerdict

TOP_REASONS = 3
TEXT_WIDTH = 100
"""Longest text shown in the human-readable listing (one line, with the ellipsis)."""
OFF_BRAND = "off_brand"
MUTED = "muted"
"""`new_label` of a post the current brand filters would skip before classifying it."""


class ChangeKind(StrEnum):
    NEWLY_FLAGGED = "newly_flagged"
    NO_LONGER_FLAGGED = "no_longer_flagged"
    SEVERITY_UP = "severity_up"
    SEVERITY_DOWN = "severity_down"


@dataclass(frozen=True, slots=True)
class Change:
    """One post whose alerting would differ. Severities are None on a side that is not flagged
    (a stored non-complaint's "low" means nothing); `new_score` is None for a skipped post."""

    kind: ChangeKind
    post_id: int
    platform: str
    url: str
    text: str
    old_label: str
    new_label: str
    """A `Label` value, or `OFF_BRAND` / `MUTED` when today's filters would skip the post."""
    old_score: float
    new_score: float | None
    old_severity: str | None
    new_severity: str | None
    reasons: tuple[str, ...]
    """The new verdict's strongest reasons, as text."""


@dataclass(slots=True)
class ReplayReport:
    since: datetime
    replayed: int = 0
    unchanged: int = 0
    skipped: int = 0
    """Posts today's brand filters would drop (off-brand or muted), whatever their change."""
    changes: list[Change] = field(default_factory=list)

    def count(self, *kinds: ChangeKind) -> int:
        return sum(1 for change in self.changes if change.kind in kinds)

    def of(self, *kinds: ChangeKind) -> list[Change]:
        return [change for change in self.changes if change.kind in kinds]


def replay(
    posts: PostStore, classifier: ClassifierLike, brand: BrandSettings, since: datetime
) -> ReplayReport:
    """Judge every post stored since `since` again and compare with its stored verdict."""
    matcher = BrandMatcher(brand)
    muted = posts.muted_authors(datetime.now(UTC))  # "Mute author" clicks count, as in polls
    report = ReplayReport(since=since)
    for stored in posts.stored_verdicts(since):
        report.replayed += 1
        skip = None
        if not matcher.matches(stored.text):
            skip = (OFF_BRAND, "no longer matches the brand's terms")
        elif author_muted(brand, muted, stored.platform, stored.author_handle):
            skip = (MUTED, "the author is muted")
        if skip is not None:
            report.skipped += 1
            change = _skipped(stored, *skip)
        else:
            vip = brand.is_vip(stored.author_handle, stored.author_followers)
            verdict = classifier.classify(
                stored.text, language=stored.language, followers=stored.author_followers, vip=vip
            )
            if brand_account(brand, stored.platform, stored.author_handle):
                verdict = brand_own_verdict(verdict, stored.author_handle)
            change = _compare(stored, verdict)
        if change is None:
            report.unchanged += 1
        else:
            report.changes.append(change)
    return report


def _flagged(label: str) -> bool:
    """As `Verdict.is_complaint`: unsupported languages go to a person too."""
    return label != Label.NOT_COMPLAINT.value


def _skipped(stored: StoredVerdict, label: str, why: str) -> Change | None:
    if not _flagged(stored.label):
        return None
    return Change(
        kind=ChangeKind.NO_LONGER_FLAGGED,
        post_id=stored.post_id,
        platform=stored.platform,
        url=stored.url,
        text=stored.text,
        old_label=stored.label,
        new_label=label,
        old_score=stored.score,
        new_score=None,
        old_severity=stored.severity,
        new_severity=None,
        reasons=(why,),
    )


def _compare(stored: StoredVerdict, verdict: Verdict) -> Change | None:
    was, now = _flagged(stored.label), verdict.is_complaint
    if was and now:
        old_rank, new_rank = Severity(stored.severity).rank, verdict.severity.rank
        if old_rank == new_rank:
            return None
        kind = ChangeKind.SEVERITY_UP if new_rank > old_rank else ChangeKind.SEVERITY_DOWN
    elif now:
        kind = ChangeKind.NEWLY_FLAGGED
    elif was:
        kind = ChangeKind.NO_LONGER_FLAGGED
    else:
        return None
    return Change(
        kind=kind,
        post_id=stored.post_id,
        platform=stored.platform,
        url=stored.url,
        text=stored.text,
        old_label=stored.label,
        new_label=verdict.label.value,
        old_score=stored.score,
        new_score=verdict.score,
        old_severity=stored.severity if was else None,
        new_severity=verdict.severity.value if now else None,
        reasons=tuple(_reason_text(r) for r in top_reasons(verdict.reasons)),
    )


def top_reasons(reasons: tuple[Reason, ...], count: int = TOP_REASONS) -> list[Reason]:
    """The strongest `count`, after the note that the post is the brand's own and before the
    note that raised severity (a VIP, a large audience): they weigh nothing in the score, yet
    they are why a verdict or a severity changed."""
    strongest = sorted(reasons, key=lambda r: abs(r.weight), reverse=True)[:count]
    own = [r for r in reasons if r.cue == BRAND_OWN]
    return (
        own
        + [r for r in strongest if r.cue != BRAND_OWN]
        + [r for r in reasons if r.cue == "reach" and r not in strongest]
    )


def _reason_text(reason: Reason) -> str:
    what = reason.detail or reason.cue
    return f"{what} ({reason.weight:+.2f})" if reason.weight else what


# -- output ----------------------------------------------------------------------------------

GROUPS: tuple[tuple[str, tuple[ChangeKind, ...]], ...] = (
    ("newly flagged", (ChangeKind.NEWLY_FLAGGED,)),
    ("no longer flagged", (ChangeKind.NO_LONGER_FLAGGED,)),
    ("severity changed", (ChangeKind.SEVERITY_UP, ChangeKind.SEVERITY_DOWN)),
)
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def summary_line(report: ReplayReport) -> str:
    severity = report.count(ChangeKind.SEVERITY_UP, ChangeKind.SEVERITY_DOWN)
    line = (
        f"replayed {report.replayed:,} posts since {report.since.date().isoformat()}: "
        f"{report.count(ChangeKind.NEWLY_FLAGGED):,} newly flagged, "
        f"{report.count(ChangeKind.NO_LONGER_FLAGGED):,} no longer flagged, "
        f"{severity:,} severity change{'' if severity == 1 else 's'}, "
        f"{report.unchanged:,} unchanged"
    )
    if report.skipped:
        line += f" ({report.skipped:,} would now be skipped: off-brand or muted)"
    return line


def format_text(report: ReplayReport, limit: int | None = None) -> Iterator[str]:
    """Lines for a person: each group with its changes (at most `limit`), then the summary.

    Post texts and URLs come from strangers: control characters are removed so a post cannot
    move the cursor, recolour or rewrite the terminal it is printed to.
    """
    for title, kinds in GROUPS:
        changes = report.of(*kinds)
        if not changes:
            continue
        yield f"{title} ({len(changes):,}):"
        for change in changes[:limit] if limit is not None else changes:
            yield from _change_lines(change)
        hidden = len(changes) - limit if limit is not None else 0
        if hidden > 0:
            yield f"  ... and {hidden:,} more"
        yield ""
    yield summary_line(report)


def _change_lines(change: Change) -> Iterator[str]:
    arrow = {ChangeKind.SEVERITY_UP: " (up)", ChangeKind.SEVERITY_DOWN: " (down)"}
    new_score = f"{change.new_score:.2f}" if change.new_score is not None else change.new_label
    yield (
        f"  #{change.post_id} {clean(change.platform)}  "
        f"score {change.old_score:.2f} -> {new_score}  "
        f"severity {change.old_severity or '-'} -> {change.new_severity or '-'}"
        f"{arrow.get(change.kind, '')}  {clean(change.url)}"
    )
    yield f"    {shorten(change.text)}"
    if change.reasons:
        yield f"    why: {'; '.join(clean(r) for r in change.reasons)}"


def format_json(report: ReplayReport, limit: int | None = None) -> Iterator[str]:
    """One JSON object a line for scripts: each change (at most `limit` per group), then one
    ``{"kind": "summary", ...}`` with the complete counts. ASCII-only, so no post text can
    reach a terminal as a control sequence."""
    for _title, kinds in GROUPS:
        changes = report.of(*kinds)
        for change in changes[:limit] if limit is not None else changes:
            yield _json(change_data(change))
    yield _json(summary_data(report))


def change_data(change: Change) -> dict[str, Any]:
    return {
        "kind": change.kind.value,
        "post_id": change.post_id,
        "platform": change.platform,
        "url": change.url,
        "text": change.text,
        "old_label": change.old_label,
        "new_label": change.new_label,
        "old_score": round(change.old_score, 4),
        "new_score": round(change.new_score, 4) if change.new_score is not None else None,
        "old_severity": change.old_severity,
        "new_severity": change.new_severity,
        "reasons": list(change.reasons),
    }


def summary_data(report: ReplayReport) -> dict[str, Any]:
    return {
        "kind": "summary",
        "since": report.since.isoformat(),
        "replayed": report.replayed,
        "newly_flagged": report.count(ChangeKind.NEWLY_FLAGGED),
        "no_longer_flagged": report.count(ChangeKind.NO_LONGER_FLAGGED),
        "severity_up": report.count(ChangeKind.SEVERITY_UP),
        "severity_down": report.count(ChangeKind.SEVERITY_DOWN),
        "unchanged": report.unchanged,
        "skipped": report.skipped,
    }


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=True, separators=(", ", ": "))


def clean(text: str) -> str:
    """One line of printable text: whitespace runs become one space, control and bidi
    override characters go."""
    kept = (
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    )
    return " ".join("".join(kept).split())


def shorten(text: str, width: int = TEXT_WIDTH) -> str:
    """`clean`, cut to at most `width` characters with an ellipsis."""
    line = clean(text)
    return line if len(line) <= width else line[: width - 1].rstrip() + "\u2026"
