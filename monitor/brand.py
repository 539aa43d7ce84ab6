"""The brand: who we watch for, and whether a post talks about it (a leaf: imports no layer).

`BrandSettings` is the ``[brand]`` table: names, terms, exclusions, VIP and muted authors.
`BrandMatcher` compiles its terms, phrases, `*` wildcards, handles and exclusions once into
regular expressions; matching is case-insensitive and on word boundaries, so "acme" matches
"Acme's app" and "#acme" but not "acmeville" (unless the term is "acme*"). Handles are compared
one way everywhere: `handle_key`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from pydantic import Field, field_validator

from monitor.settings_base import StrictModel


def handle_key(handle: str) -> str:
    """How handles are compared everywhere: no @, case-insensitive."""
    return handle.strip().lstrip("@").lower()


class BrandSettings(StrictModel):
    """Who we watch for. A post must match `terms` or `handles` to count; `exclude` drops term
    matches only, never a post addressed to one of the `handles` ("@acmehelp ...")."""

    name: str = Field(min_length=1)
    handles: list[str] = Field(default_factory=list)
    """The brand's own account names (without @); mentioning one counts as a match."""
    terms: list[str] = Field(default_factory=list)
    """Words, multi-word phrases (optionally "quoted"), and `*` wildcards, case-insensitive."""
    exclude: list[str] = Field(default_factory=list)
    """Same syntax; a post matching any of these is not about the brand (e.g. "acme anvil"),
    unless it is addressed to one of the brand's handles."""
    languages: list[str] = Field(default_factory=lambda: ["en"])
    vip_authors: list[str] = Field(default_factory=list)
    vip_min_followers: int | None = Field(default=None, ge=0)
    muted_authors: list[str] = Field(default_factory=list)

    @field_validator("handles", "vip_authors", "muted_authors")
    @classmethod
    def _strip_at(cls, values: list[str]) -> list[str]:
        return [handle_key(v) for v in values if v.strip()]

    def is_vip(self, handle: str, followers: int | None) -> bool:
        if self.vip_authors and handle_key(handle) in self.vip_authors:  # none: no key made
            return True
        return (
            self.vip_min_followers is not None
            and followers is not None
            and followers >= self.vip_min_followers
        )

    def is_muted(self, handle: str) -> bool:
        return handle_key(handle) in self.muted_authors


@dataclass(frozen=True, slots=True)
class Match:
    matched: bool
    terms: tuple[str, ...]
    """The brand terms or handles found (what a user sees as "why")."""
    excluded_by: str | None = None
    addressed_despite: str | None = None
    """An exclusion the text also matches, overridden because the post is addressed to one of
    the brand's handles (exclusions apply to term matches only)."""

    def explain(self) -> str:
        if self.excluded_by:
            return f"excluded by {self.excluded_by!r}"
        if self.matched and self.addressed_despite:
            return (
                "matches " + ", ".join(repr(t) for t in self.terms) + "; addressed to the "
                f"brand, so kept although it also matches the exclusion {self.addressed_despite!r}"
                " (exclusions apply to term matches only)"
            )
        if self.matched:
            return "matches " + ", ".join(repr(t) for t in self.terms)
        return "mentions none of the brand's terms or handles"


def term_pattern(term: str, *, inside_handles: bool = True) -> str:
    """One config term as a regex: quotes stripped, spaces flexible, `*` = any word characters.

    `inside_handles=False` leaves "@acme" alone: the classifier counts handles as mentions and
    blanks only the brand's names.
    """
    words = term.strip().strip('"').strip("'").split()
    if not words:
        raise ValueError("empty brand term")
    parts = [r"\w*".join(re.escape(piece) for piece in word.split("*")) for word in words]
    before = r"(?<![\w])" if inside_handles else r"(?<![\w@])"
    return before + r"\s+".join(parts) + r"(?![\w])"


class BrandMatcher:
    """Terms, handles and exclusions. A post *addressed* to one of the brand's handles
    ("@acmehelp ...") is always kept: `exclude` is for term matches only, since a customer
    writing to the brand is never about something else ("@acmehelp my acme anvil order never
    arrived" is a complaint, not the cartoon)."""

    def __init__(self, brand: BrandSettings) -> None:
        terms = list(dict.fromkeys([brand.name, *brand.terms]))
        self._terms = [(t, re.compile(term_pattern(t), re.IGNORECASE)) for t in terms if t.strip()]
        self._terms += [
            (f"@{h}", re.compile(r"(?<![\w@])@?" + re.escape(h) + r"(?![\w])", re.IGNORECASE))
            for h in brand.handles
        ]
        self._exclusions = [(t, re.compile(term_pattern(t), re.IGNORECASE)) for t in brand.exclude]
        self._any = re.compile("|".join(f"(?:{p.pattern})" for _, p in self._terms), re.IGNORECASE)
        addressed = "|".join(re.escape(h) for h in brand.handles)
        self._addressed = (
            re.compile(r"(?<![\w@])@(?:" + addressed + r")(?![\w])", re.IGNORECASE)
            if addressed
            else None
        )

    def addressed(self, text: str) -> bool:
        """The text mentions one of the brand's handles with its @."""
        return self._addressed is not None and self._addressed.search(text) is not None

    def match(self, text: str) -> Match:
        excluded_by = next((t for t, pattern in self._exclusions if pattern.search(text)), None)
        addressed = self.addressed(text)
        if excluded_by is not None and not addressed:
            return Match(False, (), excluded_by=excluded_by)
        if not self._any.search(text):
            return Match(False, ())
        found = tuple(term for term, pattern in self._terms if pattern.search(text))
        return Match(True, found, addressed_despite=excluded_by)

    def matches(self, text: str) -> bool:
        if not self._any.search(text):
            return False
        if self.addressed(text):
            return True
        return not any(pattern.search(text) for _, pattern in self._exclusions)


def author_muted(
    brand: BrandSettings, slack_muted: Collection[tuple[str, str]], platform: str, handle: str
) -> bool:
    """Muted in the config (`brand.muted_authors`) or from Slack ("Mute author", stored as
    (platform, `handle_key`) pairs): the pipeline and `replay` drop the same posts."""
    return brand.is_muted(handle) or (platform, handle_key(handle)) in slack_muted


ACCOUNT_PLATFORMS = frozenset({"x", "bluesky", "mastodon", "reddit", "hackernews"})
"""Platforms where a handle names one account that only its owner posts from. Elsewhere (app
store reviews, feeds, the JSONL bridge's own platform) an author's name is whatever they typed,
so a customer calling themselves "acme" is still a customer."""


def brand_account(brand: BrandSettings, platform: str, handle: str) -> bool:
    """Written by one of the brand's own `handles` (its support team replying in public, its
    own announcements): never a complaint about the brand, so never an alert. The handle must
    match exactly, with its instance or domain where it has one ("acme@mastodon.social",
    "acme.bsky.social"): anyone can take "acme" on another Mastodon instance."""
    return platform in ACCOUNT_PLATFORMS and handle_key(handle) in brand.handles


PLACEHOLDER_AUTHORS = frozenset({"", "unknown", "[deleted]", "[removed]"})
"""Handles connectors give posts whose author they do not know (a JSONL line without
``author``, a deleted Reddit account): muting one would silence everyone who shares it, and
counting "their" earlier complaints would count strangers'."""


def placeholder_author(handle: str) -> bool:
    return handle_key(handle) in PLACEHOLDER_AUTHORS
