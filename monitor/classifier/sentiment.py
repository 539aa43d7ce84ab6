"""VADER's `polarity_scores`, rewritten as one tight pass for text without emoji, same results.

VADER is the classifier's largest single cost per post, and most of it is overhead rather
than rules: a per-character emoji walk, a Python call per word to strip punctuation, words
lower-cased many times over (its negation and idiom checks rebuild a lower-cased copy of the
whole sentence for each lexicon word), and `sentiment_valence` called for every word although
only lexicon words (a few per post) can score. For text without emoji (checked in C, and
then VADER's walk changes nothing) this module lower-cases once (the whole text when ASCII),
strips punctuation in one comprehension, and applies VADER 3.3's rules (caps emphasis,
boosters, "no", negations of the 3 preceding words, "never so/this", "without doubt", idioms,
"kind of", "least", "but", punctuation emphasis, normalisation) to the lexicon words only, in
VADER's own float arithmetic order, so every score is identical bit for bit
(bench/sentiment_equivalence.py and tests/classifier/test_sentiment.py check it). Most lexicon
words have no rule word in the 3 words before them: they skip the rules that cannot apply,
and the four scores are rounded without `round`'s trip through decimal digits.

Anything else goes through `polarity_scores` itself: text with emoji, and a VADER whose
internals may differ (not 3.3.x, missing constants, or disagreeing on the probe sentences
scored at start-up).
"""

from __future__ import annotations

import importlib.metadata
import math
import string
from typing import Any

from vaderSentiment import vaderSentiment as vader

_PUNCTUATION = string.punctuation
_PROBES = (  # every rule the fast path reproduces; checked against VADER at start
    "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "The book was only kind of good, but the ending was not great??",
    "At least it isn't a horrible book. Roger is one of the least compelling",
    "Sentiment analysis has never been this good! never so bad, without a doubt excellent",
    "the shit, the bomb, yeah right, to die for, bus stop, bad ass, kiss of death",
    "no good at all, no problem, not bad or good, no way or happy, at least good",
    "I do NOT like this :( but :) is fine... really sort of nice ???? !!!!!",
    "Café GOOD, naïve İSTANBUL trip was BAD ΟΣ. “great” … but meh",
    "",
)


def _vader_supported(analyzer: Any) -> bool:
    """Is this VADER the 3.3.x whose rules the fast path reproduces?"""
    try:
        version = importlib.metadata.version("vaderSentiment")
    except importlib.metadata.PackageNotFoundError:
        return False
    constants = ("B_INCR", "C_INCR", "N_SCALAR", "NEGATE", "BOOSTER_DICT", "SPECIAL_CASES")
    return (
        version.startswith("3.3.")
        and all(hasattr(vader, name) for name in constants)
        and isinstance(getattr(analyzer, "lexicon", None), dict)
        and isinstance(getattr(analyzer, "emojis", None), dict)
        and not any(emoji.isascii() for emoji in analyzer.emojis)
        and not any(  # a -0.0 valence would make VADER's "+ 0.0" steps matter
            valence == 0 and math.copysign(1.0, valence) < 0
            for valence in analyzer.lexicon.values()
        )
    )


class Sentiment:
    """One analyzer, built once (it reads its lexicon from disk), scoring many texts."""

    def __init__(self) -> None:
        self.analyzer = vader.SentimentIntensityAnalyzer()
        self._fast = _vader_supported(self.analyzer)
        if self._fast:
            self._lexicon: dict[str, float] = self.analyzer.lexicon
            self._emojis = self.analyzer.emojis.keys()
            """VADER swaps these characters for words; a text without any is read as is."""
            self._booster: dict[str, float] = vader.BOOSTER_DICT
            self._special: dict[str, float] = vader.SPECIAL_CASES
            self._negate = frozenset(vader.NEGATE)
            self._scorable = frozenset(word for word in self._lexicon if word not in self._booster)
            """The words VADER scores: in the lexicon and no booster."""
            self._modifiers = frozenset(
                [*self._booster, *self._negate, "no", "so", "this", "least"]
            )
            """Words that change a lexicon word's valence from up to 3 words before it, with
            any word containing "n't" (the idioms are checked apart)."""
            self._c_incr: float = vader.C_INCR
            self._n_scalar: float = vader.N_SCALAR
            self._idiom_starts = frozenset(
                phrase.split(" ")[0] for phrase in [*self._special, *self._booster] if " " in phrase
            )
            """First words of the multi-word idioms and boosters: without one nearby, the
            idiom check cannot match anything."""
            self._fast = all(
                self._fast_scores(text) == self.analyzer.polarity_scores(text) for text in _PROBES
            )

    def scores(self, text: str) -> dict[str, float]:
        """neg, neu, pos and compound, exactly as `polarity_scores(text)` returns them."""
        if self._fast and (text.isascii() or self._emojis.isdisjoint(text)):
            return self._fast_scores(text)
        scores: dict[str, float] = self.analyzer.polarity_scores(text)
        return scores

    def _fast_scores(self, text: str) -> dict[str, float]:
        """`polarity_scores` for text without emoji: SentiText's words, lexicon words scored,
        then `_but_check` and `score_valence` over the lexicon words' valences only (the
        other words' zeros change no sum and only count as neutral)."""
        text = text.strip()
        original: list[str] | None = None
        """A non-ASCII text's words as written, to tell ALL CAPS (see `capitals` for ASCII)."""
        capitals = False
        """An ASCII text with capitals whose ALL CAPS words are not looked for yet: its words
        as written are cut only once a scored word may be one of them."""
        if text.isascii():  # lower-casing and punctuation-stripping commute: do each once
            lowered = text.lower()
            words = [s if len(s := w.strip(_PUNCTUATION)) > 2 else w for w in lowered.split()]
            capitals = lowered != text
            contracted = "n't" in lowered
        else:  # Unicode lower-casing may change a word's length: strip first, as VADER does
            original = [s if len(s := w.strip(_PUNCTUATION)) > 2 else w for w in text.split()]
            words = [word.lower() for word in original]
            contracted = True  # not looked for: the words before each lexicon word are
        count = len(words)
        if not count:
            return {"neg": 0.0, "neu": 0.0, "pos": 0.0, "compound": 0.0}
        scorable = self._scorable
        if scorable.isdisjoint(words):
            return {"neg": 0.0, "neu": 1.0, "pos": 0.0, "compound": 0.0}
        emphasis = None if original is None else _emphasis(original)
        """Which words are ALL CAPS, when only some are (VADER's `is_cap_diff`)."""
        lexicon = self._lexicon
        modifiers = self._modifiers
        idiom_starts = self._idiom_starts
        c_incr = self._c_incr
        last = count - 1
        valences: list[float] = []
        positions: list[int] = []
        for i, word in enumerate(words):
            if word not in scorable:
                continue
            if word == "kind" and i < last and words[i + 1] == "of":
                continue
            before = words[i - 3 : i] if i > 2 else words[:i]
            if modifiers.isdisjoint(before) and not (contracted and "n't" in " ".join(before)):
                # Nothing before can boost, negate or dampen: of VADER's steps only the word's
                # own valence, "no" before a lexicon word, caps and idioms can change anything
                # (the others add 0.0 or multiply by nothing, and the valence is never -0.0).
                valence = lexicon[word]
                if word == "no" and i != last and words[i + 1] in lexicon:
                    valence = 0.0
                if capitals and word.upper() in text:
                    # Only then may this word be ALL CAPS: most texts with capitals (a first
                    # word, "I") have none among their scored words, and are not split again.
                    emphasis, capitals = _emphasis(text.split()), False
                if emphasis is not None and emphasis[i]:
                    if valence > 0:
                        valence += c_incr
                    else:
                        valence -= c_incr
                if (
                    i > 2
                    and words[i - 3] not in lexicon
                    and (word in idiom_starts or not idiom_starts.isdisjoint(before))
                ):
                    valence = self._special_idioms_check(valence, words, i)
                valences.append(valence)
            else:
                if capitals:  # boosters before the word may be ALL CAPS too
                    emphasis, capitals = _emphasis(text.split()), False
                valences.append(self._valence(words, i, emphasis))
            positions.append(i)
        if "but" in words:
            _but_check(words.index("but"), valences, positions)
        return _score_valence(valences, count - len(valences), text)

    def _valence(self, words: list[str], i: int, emphasis: list[bool] | None) -> float:
        """`sentiment_valence` (with `scalar_inc_dec`, `_negation_check` and `_least_check`)
        for the lexicon word `words[i]`."""
        lexicon = self._lexicon
        word = words[i]
        valence = lexicon[word]
        if word == "no" and i != len(words) - 1 and words[i + 1] in lexicon:
            valence = 0.0  # "no" negates the next lexicon word instead of scoring itself
        if (
            (i > 0 and words[i - 1] == "no")
            or (i > 1 and words[i - 2] == "no")
            or (i > 2 and words[i - 3] == "no" and words[i - 1] in ("or", "nor"))
        ):
            valence = lexicon[word] * self._n_scalar
        if emphasis is not None and emphasis[i]:
            if valence > 0:
                valence += self._c_incr
            else:
                valence -= self._c_incr
        for start_i in range(3):
            j = i - (start_i + 1)
            if j < 0:
                break
            before = words[j]
            if before in lexicon:
                continue
            scalar = 0.0
            if before in self._booster:
                scalar = self._booster[before]
                if valence < 0:
                    scalar *= -1
                if emphasis is not None and emphasis[j]:
                    if valence > 0:
                        scalar += self._c_incr
                    else:
                        scalar -= self._c_incr
            if start_i == 1 and scalar != 0:
                scalar = scalar * 0.95
            if start_i == 2 and scalar != 0:
                scalar = scalar * 0.9
            valence = valence + scalar
            valence = self._negation_check(valence, words, start_i, i)
            if start_i == 2:
                valence = self._special_idioms_check(valence, words, i)
        if i > 1 and words[i - 1] not in lexicon and words[i - 1] == "least":
            if words[i - 2] != "at" and words[i - 2] != "very":
                valence = valence * self._n_scalar
        elif i > 0 and words[i - 1] not in lexicon and words[i - 1] == "least":
            valence = valence * self._n_scalar
        return valence

    def _negated(self, word: str) -> bool:
        """VADER's `negated([word])`: a negation word or any "n't" form."""
        return word in self._negate or "n't" in word

    def _negation_check(self, valence: float, words: list[str], start_i: int, i: int) -> float:
        """VADER's `_negation_check`, precedence of its `and`/`or` kept as written there."""
        if start_i == 0:
            if self._negated(words[i - 1]):
                valence = valence * self._n_scalar
        elif start_i == 1:
            if words[i - 2] == "never" and (words[i - 1] == "so" or words[i - 1] == "this"):
                valence = valence * 1.25
            elif words[i - 2] == "without" and words[i - 1] == "doubt":
                pass
            elif self._negated(words[i - 2]):
                valence = valence * self._n_scalar
        else:
            if (words[i - 3] == "never" and (words[i - 2] == "so" or words[i - 2] == "this")) or (
                words[i - 1] == "so" or words[i - 1] == "this"
            ):
                valence = valence * 1.25
            elif words[i - 3] == "without" and (words[i - 2] == "doubt" or words[i - 1] == "doubt"):
                pass
            elif self._negated(words[i - 3]):
                valence = valence * self._n_scalar
        return valence

    def _special_idioms_check(self, valence: float, words: list[str], i: int) -> float:
        """VADER's `_special_idioms_check` (only reached with i >= 3)."""
        three, two, one, zero = words[i - 3], words[i - 2], words[i - 1], words[i]
        starts = self._idiom_starts
        if three not in starts and two not in starts and one not in starts and zero not in starts:
            return valence  # every sequence below starts at one of these four words
        special = self._special
        twoone = f"{two} {one}"
        threetwoone = f"{three} {two} {one}"
        threetwo = f"{three} {two}"
        for seq in (f"{one} {zero}", f"{two} {one} {zero}", twoone, threetwoone, threetwo):
            if seq in special:
                valence = special[seq]
                break
        if len(words) - 1 > i:
            zeroone = f"{zero} {words[i + 1]}"
            if zeroone in special:
                valence = special[zeroone]
        if len(words) - 1 > i + 1:
            zeroonetwo = f"{zero} {words[i + 1]} {words[i + 2]}"
            if zeroonetwo in special:
                valence = special[zeroonetwo]
        for n_gram in (threetwoone, threetwo, twoone):
            if n_gram in self._booster:
                valence = valence + self._booster[n_gram]
        return valence


def _emphasis(original: list[str]) -> list[bool] | None:
    """VADER's `is_cap_diff` over the words as written (punctuation stripped or not: that
    never changes `isupper`): which are ALL CAPS, when some are and some are not; else None."""
    upper = list(map(str.isupper, original))
    return upper if 0 < len(upper) - sum(upper) < len(upper) else None


def _but_check(but: int, valences: list[float], positions: list[int]) -> None:
    """VADER's `_but_check`, its quirk included: each value is looked up with `list.index`,
    so of equal values only the first occurrence is scaled. Zeros never equal a non-zero
    value, so running it over the lexicon words alone scales the same words the same way."""
    for sentiment in valences:
        si = valences.index(sentiment)
        if positions[si] < but:
            valences[si] = sentiment * 0.5
        elif positions[si] > but:
            valences[si] = sentiment * 1.5


def _score_valence(valences: list[float], zeros: int, text: str) -> dict[str, float]:
    """VADER's `score_valence` (with `_punctuation_emphasis`, `_sift_sentiment_scores` and
    `normalize`) given the lexicon words' valences and how many other words scored 0."""
    sum_s = float(sum(valences))  # zeros add nothing: the same float as VADER's sum
    ep_count = text.count("!")
    if ep_count > 4:
        ep_count = 4
    ep_amplifier = ep_count * 0.292
    qm_count = text.count("?")
    qm_amplifier: float = 0
    if qm_count > 1:
        qm_amplifier = qm_count * 0.18 if qm_count <= 3 else 0.96
    punct_emph_amplifier = ep_amplifier + qm_amplifier
    if sum_s > 0:
        sum_s += punct_emph_amplifier
    elif sum_s < 0:
        sum_s -= punct_emph_amplifier

    compound = sum_s / math.sqrt((sum_s * sum_s) + 15)
    if compound < -1.0:
        compound = -1.0
    elif compound > 1.0:
        compound = 1.0

    pos_sum = 0.0
    neg_sum = 0.0
    neu_count = zeros
    for sentiment_score in valences:
        if sentiment_score > 0:
            pos_sum += float(sentiment_score) + 1
        if sentiment_score < 0:
            neg_sum += float(sentiment_score) - 1
        if sentiment_score == 0:
            neu_count += 1

    if pos_sum > math.fabs(neg_sum):
        pos_sum += punct_emph_amplifier
    elif pos_sum < math.fabs(neg_sum):
        neg_sum -= punct_emph_amplifier

    total = pos_sum + math.fabs(neg_sum) + neu_count
    neg = math.fabs(neg_sum / total)
    neu = math.fabs(neu_count / total)
    pos = math.fabs(pos_sum / total)
    return {  # rounding keeps a zero as it is (and its sign)
        "neg": _round(neg, 3, 1000.0) if neg else neg,
        "neu": _round(neu, 3, 1000.0) if neu else neu,
        "pos": _round(pos, 3, 1000.0) if pos else pos,
        "compound": _round(compound, 4, 10000.0) if compound else compound,
    }


def _round(value: float, digits: int, scale: float) -> float:
    """`round(value, digits)` (scale = 10.0 ** digits) for |value| <= 1, a third of its cost.

    `round` converts to decimal digits, rounds the exact binary value half to even, and reads
    the digits back: the double nearest n / scale, which is what `n / scale` is in IEEE
    arithmetic. `value * scale` is off the exact product by under 1e-12, so n is the same
    integer unless the product is within that of a half: then `round` itself decides.
    """
    scaled = value * scale
    below = math.floor(scaled)
    fraction = scaled - below
    if -1e-9 < fraction - 0.5 < 1e-9:
        return round(value, digits)
    return math.copysign((below if fraction < 0.5 else below + 1) / scale, value)
