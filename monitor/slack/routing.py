"""Which channel an alert goes to, whom it pings, and what it is about (its storm topic).

Routing runs in the pipeline, when the alert is written to the outbox, so a routed alert keeps
its channel through retries and restarts. Rules are tried in order and the first match wins;
a VIP's complaint goes to the VIP channel (when one is set) before any rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.brand import handle_key, term_pattern
from monitor.classifier.cues import CUES, Kind
from monitor.models import Post, Verdict
from monitor.slack.settings import RouteRule, SlackSettings

TOPICAL_KINDS = frozenset({Kind.PROBLEM, Kind.URGENT})
"""Cues that say what went wrong (an outage, a refund), not how upset the author is."""
_NOT_TOPICS = frozenset({"complaint_question", "demand", "still_not"})
"""Problem cues that say a complaint is there but not what it is about."""
TOPICAL_CUES = frozenset(c.name for c in CUES if c.kind in TOPICAL_KINDS) - _NOT_TOPICS


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: RouteRule
    keywords: re.Pattern[str] | None

    def matches(self, post: Post, verdict: Verdict) -> bool:
        rule = self.rule
        if rule.platform and post.platform.lower() not in rule.platform:
            return False
        if rule.severity and verdict.severity not in rule.severity:
            return False
        if rule.language and (post.language or "").lower() not in rule.language:
            return False
        if rule.author and handle_key(post.author.handle) not in rule.author:
            return False
        if rule.rating and post.rating not in rule.rating:
            return False
        return not (self.keywords is not None and not self.keywords.search(post.text))


def _any_of(terms: Sequence[str]) -> re.Pattern[str] | None:
    patterns = [term_pattern(t) for t in terms if t.strip().strip("\"'").strip()]
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


class Router:
    """Chooses an alert's channel; None means ``[slack] channel`` (the sink's default)."""

    def __init__(self, settings: SlackSettings) -> None:
        self.settings = settings
        self._rules = [_CompiledRule(rule, _any_of(rule.keyword)) for rule in settings.routes]

    def channel_for(self, post: Post, verdict: Verdict, vip: bool) -> str | None:
        if vip and self.settings.vip.channel:
            return self.settings.vip.channel
        for compiled in self._rules:
            if compiled.matches(post, verdict):
                return compiled.rule.channel
        return None

    def __call__(self, post: Post, verdict: Verdict, vip: bool) -> str | None:
        return self.channel_for(post, verdict, vip)


class TopicFinder:
    """A post's topic: the first configured keyword cluster it mentions, else its strongest
    problem cue (so 50 posts saying "site is down" in different words share "outage")."""

    def __init__(self, clusters: Mapping[str, Sequence[str]]) -> None:
        self._clusters = [
            (name, pattern)
            for name, terms in clusters.items()
            if (pattern := _any_of(terms)) is not None
        ]

    def topic_of(self, post: Post, verdict: Verdict) -> str | None:
        for name, pattern in self._clusters:
            if pattern.search(post.text):
                return name[:64]
        topical = [r for r in verdict.reasons if r.cue in TOPICAL_CUES and r.weight > 0]
        if not topical:
            return None
        return max(topical, key=lambda r: r.weight).cue[:64]

    def __call__(self, post: Post, verdict: Verdict) -> str | None:
        return self.topic_of(post, verdict)


def topic_label(topic: str) -> str:
    """What a reader sees: "lost_or_missing" → "lost or missing"."""
    return topic.replace("_", " ")
