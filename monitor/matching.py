"""Does a post talk about the brand? Terms, phrases, `*` wildcards, handles and exclusions.

Compiled once into regular expressions; matching is case-insensitive and on word boundaries, so
"acme" matches "Acme's app" and "#acme" but not "acmeville" (unless the term is "acme*").
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from monitor.config import BrandSettings


@dataclass(frozen=True, slots=True)
class Match:
    matched: bool
    terms: tuple[str, ...]
    """The brand terms or handles found (what a user sees as "why")."""
    excluded_by: str | None = None

    def explain(self) -> str:
        if self.excluded_by:
            return f"excluded by {self.excluded_by!r}"
        if self.matched:
            return "matches " + ", ".join(repr(t) for t in self.terms)
        return "mentions none of the brand's terms or handles"


def term_pattern(term: str) -> str:
    """One config term as a regex: quotes stripped, spaces flexible, `*` = any word characters."""
    words = term.strip().strip('"').strip("'").split()
    if not words:
        raise ValueError("empty brand term")
    parts = [r"\w*".join(re.escape(piece) for piece in word.split("*")) for word in words]
    return r"(?<![\w])" + r"\s+".join(parts) + r"(?![\w])"


class BrandMatcher:
    def __init__(self, brand: BrandSettings) -> None:
        terms = list(dict.fromkeys([brand.name, *brand.terms]))
        self._terms = [(t, re.compile(term_pattern(t), re.IGNORECASE)) for t in terms if t.strip()]
        self._terms += [
            (f"@{h}", re.compile(r"(?<![\w@])@?" + re.escape(h) + r"(?![\w])", re.IGNORECASE))
            for h in brand.handles
        ]
        self._exclusions = [(t, re.compile(term_pattern(t), re.IGNORECASE)) for t in brand.exclude]
        self._any = re.compile("|".join(f"(?:{p.pattern})" for _, p in self._terms), re.IGNORECASE)

    def match(self, text: str) -> Match:
        for term, pattern in self._exclusions:
            if pattern.search(text):
                return Match(False, (), excluded_by=term)
        if not self._any.search(text):
            return Match(False, ())
        found = tuple(term for term, pattern in self._terms if pattern.search(text))
        return Match(True, found)

    def matches(self, text: str) -> bool:
        if not self._any.search(text):
            return False
        return not any(pattern.search(text) for _, pattern in self._exclusions)


def handle_key(handle: str) -> str:
    """How handles are compared everywhere: no @, case-insensitive."""
    return handle.strip().lstrip("@").lower()


def author_muted(
    brand: BrandSettings, slack_muted: Collection[tuple[str, str]], platform: str, handle: str
) -> bool:
    """Muted in the config (`brand.muted_authors`) or from Slack ("Mute author", stored as
    (platform, `handle_key`) pairs): the pipeline and `replay` drop the same posts."""
    return brand.is_muted(handle) or (platform, handle_key(handle)) in slack_muted
