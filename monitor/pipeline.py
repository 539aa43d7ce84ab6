"""One poll of one source, as a short sequence of stages.

fetch → drop what is stored → drop muted authors and posts off the brand → classify (scorer,
learned model, optional second opinion near the threshold) → store posts, verdicts, pending
alerts and the new cursor in ONE transaction.

Delivery is separate (`monitor.delivery`): an alert written here is sent even if Slack is down
now, or the process dies before it gets to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.base import Connector
from monitor.brand import BrandMatcher, BrandSettings, author_muted
from monitor.classifier import Classifier
from monitor.clock import Clock
from monitor.models import Label, Post, Severity, Verdict
from monitor.storage import NewPost, PostStore

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

    def summary(self) -> str:
        return (
            f"source={self.source} fetched={self.fetched} new={self.stored} "
            f"alerts={self.alerts} already_stored={self.already_stored} muted={self.muted} "
            f"off_brand={self.off_brand} quarantined={self.quarantined} "
            f"more={str(self.more).lower()} took={self.seconds:.2f}s"
        )


RouteFn = Callable[[Post, Verdict, bool], str | None]
"""(post, verdict, vip) → the alert's Slack channel; None: the default channel."""
TopicFn = Callable[[Post, Verdict], str | None]
"""(post, verdict) → what the complaint is about (storms group alerts by it)."""
ReviewFn = Callable[[str, Verdict], Verdict]
"""(text, verdict) → the verdict after a second opinion on posts near the threshold."""


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
        cursor = self.posts.load_cursor(connector.name)
        result = connector.poll(cursor)
        fresh = self._drop_stored(result.posts)
        on_brand = [p for p in fresh if self.matcher.matches(p.text)]
        kept = self._drop_muted(on_brand)
        stored = self.posts.store_poll(
            source=connector.name,
            platform=connector.kind,
            new_posts=[self._judge(post) for post in kept],
            cursor=result.cursor,
            now=self.clock.now(),
        )
        return PollReport(
            source=connector.name,
            fetched=len(result.posts),
            already_stored=len(result.posts) - len(fresh),
            muted=len(on_brand) - len(kept),
            off_brand=len(fresh) - len(on_brand),
            stored=stored.inserted,
            alerts=stored.alerts,
            more=result.more,
            seconds=time.perf_counter() - started,
            quarantined=stored.quarantined,
            quarantine_reasons=stored.quarantine_reasons,
        )

    def _drop_stored(self, posts: list[Post]) -> list[Post]:
        """Skip posts stored before (and repeats within the page) before paying to classify."""
        unique = list({post.key: post for post in posts}.values())
        known: set[tuple[str, str]] = set()
        for platform in {p.platform for p in unique}:
            ids = [p.external_id for p in unique if p.platform == platform]
            known |= {(platform, i) for i in self.posts.known_ids(platform, ids)}
        return [post for post in unique if post.key not in known]

    def _drop_muted(self, posts: list[Post]) -> list[Post]:
        """brand.muted_authors, and the authors muted from Slack with "Mute author"."""
        muted = self.posts.muted_authors() if posts else set()
        brand = self.brand
        return [p for p in posts if not author_muted(brand, muted, p.platform, p.author.handle)]

    def _judge(self, post: Post) -> NewPost:
        vip = self.brand.is_vip(post.author.handle, post.author.followers)
        verdict = self.classifier.classify(
            post.text, language=post.language, followers=post.author.followers, vip=vip
        )
        if self.second_opinion is not None:
            verdict = self.second_opinion(post.text, verdict)
        wants_alert = verdict.is_complaint or verdict.label is Label.UNSUPPORTED_LANGUAGE
        return NewPost(
            post=post,
            verdict=verdict,
            vip=vip,
            alert_priority=alert_priority(verdict.severity, vip) if wants_alert else None,
            channel=self.route(post, verdict, vip) if wants_alert and self.route else None,
            topic=self.topic(post, verdict) if wants_alert and self.topic else None,
        )
