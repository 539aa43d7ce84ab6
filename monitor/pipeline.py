"""One poll of one source, as a short sequence of stages.

fetch → drop what is stored (keeping edits of stored posts whose text changed) → drop posts off
the brand → classify (scorer, learned model, optional second opinion near the threshold) →
store posts, verdicts, pending alerts and the new cursor in ONE transaction. A muted author's
posts are stored and judged like any other, and never alerted; the brand's own posts (its
support team replying in public) are stored as not complaints, saying why; an edit replaces the
stored text and verdict, and alerts only when the post now qualifies and never had an alert.

Delivery is separate (`monitor.delivery`): an alert written here is sent even if Slack is down
now, or the process dies before it gets to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from connectors.base import Connector
from monitor.brand import BrandMatcher, BrandSettings, author_muted, brand_account
from monitor.classifier import Classifier
from monitor.classifier.language import detect
from monitor.clock import Clock
from monitor.frozen import builder
from monitor.models import Label, Post, Reason, Severity, Verdict
from monitor.storage import NewPost, PostStore
from monitor.storage.posts import StoredText

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollReport:
    source: str
    fetched: int
    already_stored: int
    muted: int
    off_brand: int
    stored: int
    alerts: int
    more: bool
    seconds: float
    quarantined: int = 0
    """Posts the database refused, set aside in the quarantine table (the rest were stored)."""
    quarantine_reasons: tuple[str, ...] = ()
    """Why they were refused: exception classes, no customer text."""
    edited: int = 0
    """Stored posts edited on the platform: their new text judged again (and stored)."""
    platform: str = ""
    notices: tuple[Post, ...] = ()
    """New posts of an informational source (a status page): for the team to read, not
    complaints."""
    flagged: int = 0
    """New posts the classifier called complaints (muted authors' included; `alerts` counts
    the alerts written)."""
    brand_own: int = 0
    """New posts by the brand's own accounts: stored as not complaints (`brand_own_verdict`)."""

    def summary(self) -> str:
        return (
            f"source={self.source} fetched={self.fetched} new={self.stored} "
            f"alerts={self.alerts} already_stored={self.already_stored} muted={self.muted} "
            f"brand_own={self.brand_own} off_brand={self.off_brand} edited={self.edited} "
            f"quarantined={self.quarantined} more={str(self.more).lower()} took={self.seconds:.2f}s"
        )


RouteFn = Callable[[Post, Verdict, bool], str | None]
"""(post, verdict, vip) → the alert's Slack channel; None: the default channel."""
TopicFn = Callable[[Post, Verdict], str | None]
"""(post, verdict) → what the complaint is about (storms group alerts by it)."""
ReviewFn = Callable[[str, Verdict], Verdict]
"""(text, verdict) → the verdict after a second opinion on posts near the threshold."""


BRAND_OWN = "brand_own_post"
"""The cue of the reason that says a post is the brand's own (it weighs nothing: it decides)."""


def brand_own_verdict(verdict: Verdict, handle: str) -> Verdict:
    """A post by one of the brand's own accounts (`brand.brand_account`) is not a complaint,
    whatever its words ("sorry your order hasn't arrived, DM us"): the classifier's score stays
    for the record, and the first reason says why it is not flagged."""
    why = Reason(BRAND_OWN, 0.0, f"written by the brand's own account @{handle}")
    return replace(verdict, label=Label.NOT_COMPLAINT, reasons=(why, *verdict.reasons))


def alert_priority(severity: Severity, vip: bool) -> int:
    """Best customers and severe complaints first: VIP outranks any severity."""
    return (100 if vip else 0) + 10 * severity.rank


class Pipeline:
    def __init__(
        self,
        brand: BrandSettings,
        posts: PostStore,
        classifier: Classifier,
        clock: Clock,
        *,
        route: RouteFn | None = None,
        topic: TopicFn | None = None,
        second_opinion: ReviewFn | None = None,
    ) -> None:
        self.brand = brand
        self.posts = posts
        self.classifier = classifier
        self.clock = clock
        self.matcher = BrandMatcher(brand)
        self.route = route
        self.topic = topic
        self.second_opinion = second_opinion

    def poll(self, connector: Connector[Any, Any]) -> PollReport:
        started = time.perf_counter()
        now = self.clock.now()
        cursor = self.posts.load_cursor(connector.name)
        result = connector.poll(cursor)
        fresh, edits = self._drop_stored(result.posts)
        informational = connector.informational  # the brand's own news: no brand filter
        matches = self.matcher.matches
        on_brand = fresh if informational else [p for p in fresh if matches(p.text)]
        edits = [p for p in edits if matches(p.text)]
        muted = self._muted(on_brand + edits, now)
        alerted = self._alerted_originals(on_brand)
        everything = self._judge(on_brand + edits, muted, alerted, informational)
        judged, rejudged = everything[: len(on_brand)], everything[len(on_brand) :]
        stored = self.posts.store_poll(
            source=connector.name,
            platform=connector.kind,
            new_posts=judged,
            cursor=result.cursor,
            now=now,
            edits=rejudged,
        )
        return PollReport(
            source=connector.name,
            fetched=len(result.posts),
            already_stored=len(result.posts) - len(fresh) - len(edits),
            muted=sum(1 for p in on_brand if p.key in muted) if muted else 0,
            off_brand=len(fresh) - len(on_brand),
            stored=stored.inserted,
            alerts=stored.alerts + stored.edit_alerts,
            more=result.more,
            seconds=time.perf_counter() - started,
            quarantined=stored.quarantined,
            quarantine_reasons=stored.quarantine_reasons,
            edited=stored.edited,
            notices=tuple(on_brand) if informational else (),
            platform=connector.kind,
            flagged=[new.verdict.label for new in judged].count(Label.COMPLAINT),
            brand_own=sum(1 for new in judged if _by_the_brand(new.verdict)),
        )

    def _drop_stored(self, posts: list[Post]) -> tuple[list[Post], list[Post]]:
        """(new posts, edits): posts stored before (and repeats within the page) are skipped
        before paying to classify, unless the platform says one was edited and its text is not
        the stored one."""
        platforms = {p.platform for p in posts}
        if len(platforms) == 1:  # nearly every poll: one platform's posts, in order already
            (platform,) = platforms
            return self._drop_stored_of(platform, {p.external_id: p for p in posts})
        unique = list({post.key: post for post in posts}.values())
        fresh: list[Post] = []
        edits: list[Post] = []
        for platform in platforms:
            mine = {p.external_id: p for p in unique if p.platform == platform}
            new, edited = self._drop_stored_of(platform, mine)
            fresh += new
            edits += edited
        order = {post.key: n for n, post in enumerate(unique)}
        return sorted(fresh, key=lambda p: order[p.key]), edits

    def _drop_stored_of(
        self, platform: str, mine: dict[str, Post]
    ) -> tuple[list[Post], list[Post]]:
        """`_drop_stored` for one platform's posts, by id (the last of each id, in the order
        the ids first came)."""
        known = self.posts.known_ids(platform, list(mine))
        if not known:
            return list(mine.values()), []
        fresh = [p for i, p in mine.items() if i not in known]
        edited = [p for i, p in mine.items() if i in known and p.edited_at is not None]
        if not edited:
            return fresh, []
        stored = self.posts.stored_texts(platform, [p.external_id for p in edited])
        return fresh, [p for p in edited if _is_new_edit(p, stored.get(p.external_id))]

    def _muted(self, posts: list[Post], now: datetime) -> set[tuple[str, str]]:
        """Keys of the posts whose author is muted: brand.muted_authors, and the authors muted
        from Slack with "Mute author" (until their mute lapses)."""
        if not posts:
            return set()
        muted = self.posts.muted_authors(now)
        brand = self.brand
        if not muted and not brand.muted_authors:
            return set()
        return {p.key for p in posts if author_muted(brand, muted, p.platform, p.author.handle)}

    def _alerted_originals(self, posts: list[Post]) -> set[str]:
        """Ids of stored posts that new ones revise (an X edit has a new id) and that already
        have an alert: the team has it, so the edit is stored without a second alert."""
        alerted: set[str] = set()
        for platform in {p.platform for p in posts if p.revises}:
            ids = [i for p in posts if p.platform == platform for i in p.revises]
            alerted |= self.posts.alerted_ids(platform, ids)
        return alerted

    def _judge(
        self,
        posts: list[Post],
        muted: set[tuple[str, str]],
        alerted: set[str],
        informational: bool = False,
    ) -> list[NewPost]:
        """Verdicts for the whole poll in one batch (the learned model scores it in arrays),
        each with its alert decision: none for an edit whose earlier version has one, nor for
        an informational source's posts (the runner posts those as notices). A post whose
        platform gave no language gets the one detected, when sure (`classifier.language`):
        a post in a language the scorer cannot read goes to a person, and the language is
        stored with the post for routing and the history view."""
        posts = [p if p.language else replace(p, language=detect(p.text)) for p in posts]
        is_vip = self.brand.is_vip
        vips = [is_vip(p.author.handle, p.author.followers) for p in posts]
        verdicts = self.classifier.classify_many(
            [p.text for p in posts],
            languages=[p.language for p in posts],
            followers=[p.author.followers for p in posts],
            vips=vips,
            ratings=[p.rating for p in posts],
        )
        second_opinion, route, topic = self.second_opinion, self.route, self.topic
        brand = self.brand
        judged: list[NewPost] = []
        append = judged.append
        for post, vip, verdict in zip(posts, vips, verdicts, strict=True):
            if brand.handles and brand_account(brand, post.platform, post.author.handle):
                verdict = brand_own_verdict(verdict, post.author.handle)
            elif second_opinion is not None:
                verdict = second_opinion(post.text, verdict)
            wants_alert = (
                (verdict.is_complaint or verdict.label is Label.UNSUPPORTED_LANGUAGE)
                and not informational
                and (not alerted or alerted.isdisjoint(post.revises))
            )
            append(
                _new_judged(
                    post=post,
                    verdict=verdict,
                    vip=vip,
                    alert_priority=alert_priority(verdict.severity, vip) if wants_alert else None,
                    channel=route(post, verdict, vip) if wants_alert and route else None,
                    topic=topic(post, verdict) if wants_alert and topic else None,
                    muted=bool(muted) and post.key in muted,
                )
            )
        return judged


def _by_the_brand(verdict: Verdict) -> bool:
    return bool(verdict.reasons) and verdict.reasons[0].cue == BRAND_OWN


_new_judged = builder(NewPost)
"""`NewPost(...)` without the frozen dataclass's slow ``__init__`` (one per post judged)."""


def _is_new_edit(post: Post, stored: StoredText | None) -> bool:
    """An edit worth judging again: the text differs from the stored one, and is not older."""
    if stored is None or stored.text == post.text:
        return False
    return not (stored.edited_at and post.edited_at and post.edited_at < stored.edited_at)
