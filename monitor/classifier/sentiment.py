"""VADER's `polarity_scores`, minus its per-character emoji pass for plain ASCII text.

`SentimentIntensityAnalyzer.polarity_scores` first walks the text one character at a time in
Python, swapping emoji for their names; that walk is a sixth of VADER's cost, and ASCII text
has no emoji to swap. For ASCII we run the rest of VADER's own steps unchanged (the same
result, checked by a test), except that a word outside VADER's lexicon (most words) scores 0
without the call to `sentiment_valence` that would only append that 0; anything else, or a
VADER whose internals differ from 3.3.x, goes through `polarity_scores` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vaderSentiment import vaderSentiment as vader

_INTERNALS = ("SentiText", "BOOSTER_DICT")
_METHODS = ("sentiment_valence", "_but_check", "score_valence")


class Sentiment:
    """One analyzer, built once (it reads its lexicon from disk), scoring many texts."""

    def __init__(self) -> None:
        self.analyzer = vader.SentimentIntensityAnalyzer()
        self._fast = (
            all(hasattr(vader, name) for name in _INTERNALS)
            and all(callable(getattr(self.analyzer, name, None)) for name in _METHODS)
            and isinstance(getattr(self.analyzer, "lexicon", None), dict)
        )

    def scores(self, text: str) -> dict[str, float]:
        """neg, neu, pos and compound, exactly as `polarity_scores(text)` returns them."""
        if not (self._fast and text.isascii()):
            scores: dict[str, float] = self.analyzer.polarity_scores(text)
            return scores
        fast: dict[str, float] = self._ascii_scores(text.strip())
        return fast

    def _ascii_scores(self, text: str) -> Any:
        """VADER 3.3.2's `polarity_scores` after its emoji pass, step for step."""
        analyzer = self.analyzer
        sentitext = vader.SentiText(text)
        booster: dict[str, float] = vader.BOOSTER_DICT
        lexicon: dict[str, float] = analyzer.lexicon
        valence: Callable[..., list[float]] = analyzer.sentiment_valence
        sentiments: list[float] = []
        words = sentitext.words_and_emoticons
        last = len(words) - 1
        contrast = False
        for i, item in enumerate(words):
            lowered = item.lower()
            contrast = contrast or lowered == "but"
            if lowered not in lexicon:  # `sentiment_valence` appends the 0 it was given
                sentiments.append(0)
                continue
            if lowered in booster or (
                i < last and lowered == "kind" and words[i + 1].lower() == "of"
            ):
                sentiments.append(0)
                continue
            sentiments = valence(0, sentitext, item, i, sentiments)
        if contrast:  # `_but_check` changes nothing without a "but"
            sentiments = analyzer._but_check(words, sentiments)
        return analyzer.score_valence(sentiments, text)
