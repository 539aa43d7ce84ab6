"""The complaint scorer: VADER sentiment plus complaint cues, summed as log-odds.

Sentiment alone misses most complaints: "@acme where is my refund?" is perfectly neutral to
VADER. So the score adds up evidence of a *problem* (waiting, money, broken things, silence,
questions and demands), of sarcasm (praise words around a problem), and of relief (thanks,
"sorted it"), then maps the sum through the logistic function to a 0..1 score. Every term that
fired is returned as a `Reason`, so the person reading the alert sees why.

`Classifier.classify` is a pure function of the text and the settings: VADER's analyzer and
every regular expression are built once in `__init__` (the cue scan once per process) and never
mutated afterwards; the only things that grow are memos of reasons already built (immutable
values, same for every post) and of language tags already judged.
`classify_many` scores a whole poll: the learned model weighs all its posts at once.

One module past 600 lines on purpose: how fired cues combine (what sets aside what, sarcasm,
requests, negativity aimed elsewhere, a late mention of the brand) is one decision, read top to
bottom beside the verdict it produces; the cue table is `cues.py`, the scan `gate.py`.
"""

from __future__ import annotations

import functools
import html
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, islice
from operator import attrgetter

from monitor.brand import BrandSettings, term_pattern
from monitor.classifier.cues import CUES, Cue, Kind
from monitor.classifier.gate import WORD, Index, build_index
from monitor.classifier.model import LearnedModel
from monitor.classifier.sentiment import Sentiment
from monitor.classifier.settings import ClassifierSettings
from monitor.frozen import builder
from monitor.models import Label, Reason, Severity, Verdict

VERSION = "scorer-1"

BIAS = -0.5
"""Log-odds of a post with no cue at all (score 0.38): below the default threshold of 0.5, yet
one problem cue (weight >= 1) tips it over. v2's problem patterns raised recall, so the bias
moved down 0.1 (from -0.4) to give some of it back as precision."""
VADER_NEGATIVE_WEIGHT = 2.6
"""Log-odds added per unit of negative VADER compound (compound -0.6 adds 1.56)."""
VADER_POSITIVE_WEIGHT = 2.0
"""Log-odds removed per unit of positive compound when no problem is described."""
VADER_POSITIVE_MIXED = 0.5
"""Share of that praise that counts next to a problem: "thanks, but my bag is still lost"."""
NO_TARGET_MARGIN = -0.5
"""Negativity addressing nobody and naming no service problem ("my dog died") is no complaint:
its weight is cancelled, and this much more is taken off."""
NO_TARGET_PROBLEM_WEIGHT = -0.6
"""A problem addressing nobody ("lost my keys again") may not be about any brand."""
INTENSITY_WEIGHT = 0.35
"""Per shouting signal (caps, "!!!", angry emoji, intensifier), only next to a problem."""
PERSONAL_WEIGHT = 0.3
"""A problem told in the first person ("my order", "I've been") is a customer's own problem."""
LINK_WEIGHT = -1.0
"""Posts carrying a link are mostly news, adverts and shares, seldom a customer's complaint."""
LINK_OWN_WEIGHT = -0.6
"""A link next to "my"/"I" is often the customer's photo or screenshot of the problem."""
HASHTAGS_MANY = 3
HASHTAGS_WEIGHT = -0.7
"""Three hashtags or more read as marketing, news or a fan post; a customer describing a
problem rarely tags it so much (unless a problem cue fired: then nothing is taken off)."""
IRONY_EMOJI_WEIGHT = 1.5
"""🙄 🙃 😒 say what "thanks for nothing" says."""
CLAP_WEIGHT = 0.8
"""👏 next to a problem is applause for nothing; weaker than an eye-roll, it needs a problem."""
ADDRESSED_WEIGHT = 0.25
"""A problem told to the brand's own handle is meant for the brand."""
RATING_WEIGHTS = {1: 2.2, 2: 1.6, 3: 0.0, 4: -1.2, 5: -1.8}
"""Log-odds per star count: one or two stars make a complaint on their own (BIAS + 1.6 > 0,
and a mildly positive text does not undo it), three says nothing either way, four or five
take a cue's worth off: "crashes sometimes, still love it ★★★★★" is no complaint."""
CLEAR_PRAISE = 0.5
"""VADER compound at or above which a low-star review's text "says otherwise" (no problem cue
fired): "Great app, love it" under one star is a mis-tap, not a complaint."""
MEDIUM_SCORE = 0.85
"""A complaint scoring this high (or shouting twice) is medium severity even without urgency."""
BORDERLINE_MARGIN = 0.1
"""A complaint within this of the threshold is low severity: flagged, but not pushed up front."""

UNKNOWN_LANGUAGES = frozenset({"", "und", "zxx", "unknown", "qme", "qht", "qam", "qct"})
"""Codes platforms use for "no language detected" (emoji-only, links): treated as supported."""

_URL = re.compile(r"[HWhw](?:(?<=[Hh])(?i:ttps?://)|(?<=[Ww])(?i:ww\.))\S+")
"""`https?://\\S+|www\\.\\S+` in any case. Case-blind from the start, it would be tried at every
position; starting with the class of its first letters (the only ones "(?i)h" and "(?i)w"
match), the engine skips straight to them: half the time on a post with a link."""
_MENTION = re.compile(r"@(?<![\w@]@)(\w{1,30})")
"""An "@" after no word character or "@" (checked once the "@" is found: a pattern that
starts with its literal is searched for that character, not tried at every position)."""
_NUMBER = re.compile(r"\d(?<![\w.]\d)\d*(?![\w.])")
"""Order numbers and prices are neutral, but VADER's lexicon reads "182" or "187" as slang.
A run of digits between no word character or "." (the check before it made after its first
digit, as with `_MENTION`)."""
_NUMBER_ASCII = re.compile(_NUMBER.pattern, re.ASCII)
"""`_NUMBER` for ASCII text, where `\\d` and `\\w` mean what they mean in Unicode: a table
lookup per character instead of a Unicode database call."""
_SECOND_PERSON = frozenset({"you", "your", "you're", "youre", "ur", "u", "y'all", "yall", "yours"})
_FIRST_PERSON = frozenset({"my", "our", "i've", "ive", "we've", "i'm", "im", "me", "us"})
_INTENSIFIERS = frozenset(
    {
        "so",
        "very",
        "extremely",
        "absolutely",
        "completely",
        "totally",
        "seriously",
        "ridiculously",
        "beyond",
        "literally",
        "incredibly",
        "insanely",
    }
)
SOFT_PROBLEMS = frozenset({"demand", "complaint_question", "billing", "scare_quotes"})
"""Problem cues that a plain request also fires ("can you help me?", "when will my bill
come?"): next to a request cue and no other problem, they are left out."""
WEAK_PROBLEMS = frozenset({"scare_quotes"})
"""Evidence too weak to call a link the customer's own photo: a quoted title in a shared
article keeps the link's discount."""
_PROBLEM, _URGENT, _NEGATIVE, _SARCASM, _IRONY = (
    Kind.PROBLEM,
    Kind.URGENT,
    Kind.NEGATIVE,
    Kind.SARCASM,
    Kind.IRONY,
)
_RELIEF, _GRATITUDE, _REQUEST, _ELSEWHERE, _NO_BREACH = (
    Kind.RELIEF,
    Kind.GRATITUDE,
    Kind.REQUEST,
    Kind.ELSEWHERE,
    Kind.NO_BREACH,
)
"""Kinds read once: on Python 3.11 a class attribute costs a lookup each time (~15 ns), and
`_score` reads some twenty for every post."""
_PROBLEM_KINDS = frozenset({_PROBLEM, _URGENT})
_OTHER_TARGETS = frozenset({_ELSEWHERE, _NO_BREACH})
_HARD = frozenset(c.name for c in CUES if c.kind in _PROBLEM_KINDS and c.name not in SOFT_PROBLEMS)
MISHAP_CUES = frozenset(
    {
        "waiting", "on_hold", "elapsed_time", "refund", "charged_wrongly", "billing", "cancelled",
        "delayed", "broken", "blocked", "lost_or_missing", "no_response", "still_not", "made_to",
        "arrived_damaged", "not_received", "wont_work", "still_stuck", "repeated",
        "below_expectation", "missed_window", "claim_vs_reality", "symptom", "outage", "safety",
    }
)  # fmt: skip
"""Problem cues that name an event, not a judgment of the brand: when the author says the event
was their own doing or a hypothesis (a NO_BREACH cue), they are set aside."""
SETTLED_CUES = frozenset({"refund", "billing", "charged_wrongly"})
"""Money cues a refund given ("thanks for refunding the fee") settles."""
_AWAY_KINDS = frozenset({Kind.PROBLEM, Kind.URGENT, Kind.NEGATIVE, Kind.SARCASM, Kind.IRONY})
_BREAKS = ".!?;,"
_LATE_MENTION = (
    "the negativity comes before the brand is named, and what is said to the brand is no problem"
)
_ELSEWHERE_DETAIL = "the negativity is about something else: politics, sport, the author's own slip"
_WEIGHT = attrgetter("weight")
_NO_TARGET = "addresses nobody and names no brand: maybe not about a brand at all"
_NO_TARGET_PROBLEM = Reason("no_target", NO_TARGET_PROBLEM_WEIGHT, _NO_TARGET)
_ADDRESSED = Reason("addressed_to_brand", ADDRESSED_WEIGHT, "@-mentions the brand")
_PERSONAL = Reason("personal", PERSONAL_WEIGHT, "the author's own problem")
_LINK = Reason("link", LINK_WEIGHT, "shares a link: news, advert or repost")
_HASHTAGS = Reason("hashtags", HASHTAGS_WEIGHT, "many hashtags: a share, an advert or news")
_LINK_OWN = Reason("link", LINK_OWN_WEIGHT, "shares a link, about the author's own case")
_IRONY_EMOJI = Reason("irony", IRONY_EMOJI_WEIGHT, "sarcasm: eye-roll emoji")
_CLAPPING = Reason("irony", CLAP_WEIGHT, "sarcasm: applause next to a problem")
MEMO_SIZE = 20_000
"""Reasons kept for reuse (a few MB at most)."""
_CAPS_WORD = re.compile(r"[A-Z](?<!\w[A-Z])[A-Z]{3,}\b")
"""A word of four capitals or more (its start checked after its first capital, as `_MENTION`)."""
_ANGRY_EMOJI = re.compile(
    "[\U0001f621\U0001f92c\U0001f44e\U0001f624\U0001f620\U0001f4a9\U0001f61e\U0001f629"
    "\U0001f62b\U0001f623\U0001f616\U0001f494\U0001f926\U0001f611\U0001f63e\U0001f47f"
    "\U0001f92e\U0001f922]"
)
"""😡🤬👎😤😠💩😞😩😫😣😖💔🤦😑😾👿🤮🤢"""
_EYE_ROLL = re.compile("[\U0001f644\U0001f643\U0001f612]")
"""🙄🙃😒: sarcasm in a single character."""
_LETTER_RUNS = bytes(c if 97 <= c <= 122 or c == 39 else 32 for c in range(256))
"""ASCII to spaces but for lower-case letters and "'": what is left are runs of `WORD`'s
letter words (see `_Text.vocabulary`). A table for `bytes.translate`, a plain C loop: on an
ASCII post, encoding, translating and decoding take half the time of `str.translate`, which
looks each character up in a dict."""
_COMPLAINT, _NOT_COMPLAINT = Label.COMPLAINT, Label.NOT_COMPLAINT
_LOW, _MEDIUM, _HIGH = Severity.LOW, Severity.MEDIUM, Severity.HIGH
"""Enum members read once: on Python 3.11 `Label.COMPLAINT` costs a call (~0.2 µs), and the
verdict of every post reads two or three of them."""
_new_verdict = builder(Verdict)
"""`Verdict(...)` without its frozen `__init__` (which sets each field through
`object.__setattr__`): ~0.2 µs less for every post."""
LANGUAGES_KEPT = 1_000
"""Language tags whose support is remembered (platforms send a few dozen distinct ones)."""
AT_ONCE = 64
"""Posts of a poll taken through each stage of scoring together (`Classifier._score_many`):
from 32 to 128 they cost the same; fewer lose part of the gain."""


@functools.cache
def _cue_index() -> Index:
    """The scan of CUES, built once per process (it compiles ~1,500 regexes, most of a
    second) and shared: an `Index` is never changed after it is built."""
    return build_index(CUES)


def _phrase_pattern(phrase: str) -> str:
    """A configured phrase as a regex: case-insensitive words, flexible spaces, word bounds."""
    words = phrase.lower().split()
    body = r"\s+".join(re.escape(w) for w in words)
    start = r"(?<!\w)" if words and words[0][:1].isalnum() else ""
    end = r"(?!\w)" if words and words[-1][-1:].isalnum() else ""
    return start + body + end


def _name_start(name: str) -> str:
    """The literal text every match of `term_pattern(name)` begins with (its first word up to
    a "*"), lower-cased; "" when it begins with a wildcard. Reads the name as `term_pattern`
    does."""
    words = name.strip().strip('"').strip("'").split()
    return words[0].split("*")[0].lower() if words else ""


def _language_code(language: str) -> str:
    return language.strip().lower().replace("_", "-").split("-")[0]


def _strength(reason: Reason) -> float:
    return abs(reason.weight)


@functools.lru_cache(maxsize=64)
def _rating_reason(rating: int, praised: bool) -> Reason:
    """The stars as the alert shows them ("1★ review"); out-of-range values (never produced by
    `sanitize`) are read as the nearest star count."""
    stars = min(5, max(1, rating))
    if praised and stars <= 2:
        return Reason("rating", 0.0, f"{stars}★ review, but the text praises or thanks")
    return Reason("rating", RATING_WEIGHTS[stars], f"{stars}★ review")


@functools.lru_cache(maxsize=16)
def _intensity(shouting: tuple[str, ...]) -> Reason:
    """The shouting signals as one reason (16 combinations at most, so each is built once)."""
    return Reason("intensity", INTENSITY_WEIGHT * len(shouting), ", ".join(shouting))


def names(fired: list[tuple[Cue, str]]) -> set[str]:
    """The problem cues among those fired."""
    return {cue.name for cue, _ in fired if cue.kind in _PROBLEM_KINDS}


def logistic(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(slots=True)
class _Text:
    """One post prepared once for every cue: the cleaned text VADER reads, and its words."""

    clean: str
    named: str
    """Before the brand's names were blanked: configured phrases may include them."""
    lowered: str
    mentions: list[str]
    has_link: bool
    hashtags: int
    names_brand: bool
    pieces: list[str] | None
    """The text around the @handles (`_MENTION.split`), when the post has one."""
    cut: list[str] | None = None
    """`words`, once cut."""
    vocabulary_cut: list[str] | None = None
    """`vocabulary`, once cut."""

    @property
    def words(self) -> list[str]:
        """The post's `WORD` tokens in order, cut on first use: many posts never need them
        (cutting costs as much as the rest of the preparation). A list, not a set: the
        scorer only asks whether a few words are among them (`isdisjoint`)."""
        if self.cut is None:
            self.cut = WORD.findall(self.lowered)
        return self.cut

    @property
    def vocabulary(self) -> list[str]:
        """For "is this word in the post?" on letter words ("my", "you're"): holds each letter
        word of `words` and no other ("" and numbers maybe), in no set order. An ASCII post is cut
        by `bytes.translate` and `split` (C loops, faster than `WORD.findall`): with every
        character but letters and "'" made a space, a run of letters with single "'" holds one
        `WORD` letter word, the run without its outer "'"; a "''" falls back to `words`."""
        if self.cut is not None:
            return self.cut
        if self.vocabulary_cut is None:
            lowered = self.lowered
            if not lowered.isascii():
                return self.words
            spaced = lowered.encode("ascii").translate(_LETTER_RUNS).decode("ascii")
            if "'" not in spaced:
                self.vocabulary_cut = spaced.split()
            elif "''" in spaced:
                return self.words
            else:
                self.vocabulary_cut = [run.strip("'") for run in spaced.split()]
        return self.vocabulary_cut


@dataclass(slots=True)
class _Scored:
    """The scorer's evidence on one post, before a model or the threshold has a say."""

    reasons: list[Reason]
    log_odds: float
    kinds: set[str]
    shouting: list[str]
    compound: float
    sentiment: dict[str, float]


class Classifier:
    """Scores posts for being complaints; build once, call `classify` for every post."""

    def __init__(
        self,
        settings: ClassifierSettings,
        brand: BrandSettings | None = None,
        model: LearnedModel | None = None,
    ) -> None:
        self.settings = settings
        self.brand = brand
        self.model = model
        """Learned from the team's feedback; it adjusts the score and says which words moved it."""
        self.version = VERSION if model is None else f"{VERSION}+{model.name}"
        self._sentiment = Sentiment()
        self._memo: dict[tuple[object, ...], Reason] = {}
        """Reasons already built, by (cue, matched words) or (compound, problem, sarcastic):
        Reasons are immutable, and building one (its detail formatted) costs as much as a cue."""
        self._index = _cue_index()
        self._supported = frozenset(_language_code(code) for code in settings.supported_languages)
        self._languages: dict[str, bool] = {}
        self._extra = tuple(
            (
                Reason("extra_cue", weight, f'configured phrase "{phrase}"'),
                Kind.PROBLEM if weight > 0 else Kind.RELIEF,
                re.compile(_phrase_pattern(phrase), re.IGNORECASE),
            )
            for phrase, weight in settings.extra_cues.items()
            if phrase.strip()
        )
        self._handles: frozenset[str] = frozenset()
        self._brand_names: re.Pattern[str] | None = None
        self._brand_starts: tuple[str, ...] | None = None
        """What every brand-name match starts with, lower-cased, when all are ASCII text (else
        None): an ASCII post holding none of them names no brand, unsearched."""
        if brand is not None:
            self._handles = frozenset(h.lower() for h in brand.handles)
            names = [n for n in dict.fromkeys([brand.name, *brand.terms]) if n.strip("\"' *")]
            names.sort(key=len, reverse=True)  # "acme app" is blanked whole, before "acme"
            if names:
                self._brand_names = re.compile(
                    "|".join(term_pattern(n, inside_handles=False) for n in names), re.IGNORECASE
                )
                starts = tuple(dict.fromkeys(_name_start(n) for n in names))
                if all(start and start.isascii() for start in starts):
                    self._brand_starts = starts

    def classify(
        self,
        text: str,
        *,
        language: str | None = None,
        followers: int | None = None,
        vip: bool = False,
        rating: int | None = None,
    ) -> Verdict:
        """Score one post. `language` outside `supported_languages` is routed to a person
        unscored; `vip` or `followers` >= `high_reach_followers` raise a complaint's severity;
        `rating` (a review's 1-5 stars) is evidence beside the text."""
        if language is not None and not self._is_supported(language):
            return self._unsupported(language, followers=followers, vip=vip)
        scored = self._score(text, rating)
        if self.model is not None:
            scored.log_odds, learned = self.model.explain(
                text, scored.log_odds, scored.compound, self.settings.threshold
            )
            scored.reasons.append(learned)
        return self._verdict(scored, followers, vip)

    def classify_many(
        self,
        texts: Sequence[str],
        *,
        languages: Sequence[str | None] | None = None,
        followers: Sequence[int | None] | None = None,
        vips: Sequence[bool] | None = None,
        ratings: Sequence[int | None] | None = None,
    ) -> list[Verdict]:
        """`classify` for a whole poll, in order: the learned model weighs every post's n-grams
        in one pass, which costs a fraction of doing it post by post. The optional sequences
        run beside `texts` (None: unknown language, unknown audience, no VIP, no stars)."""
        count = len(texts)
        languages = languages if languages is not None else [None] * count
        followers = followers if followers is not None else [None] * count
        vips = vips if vips is not None else [False] * count
        ratings = ratings if ratings is not None else [None] * count
        if not len(languages) == len(followers) == len(vips) == len(ratings) == count:
            raise ValueError(
                "classify_many: languages, followers, vips and ratings must match texts"
            )
        if self.model is None:
            return self._judge_each(texts, languages, followers, vips, ratings)
        verdicts: list[Verdict | None] = [None] * count
        judged: list[int] = []
        for index, language in enumerate(languages):
            if language is not None and not self._is_supported(language):
                verdicts[index] = self._unsupported(
                    language, followers=followers[index], vip=vips[index]
                )
            else:
                judged.append(index)
        gathered = self._score_many([texts[i] for i in judged], [ratings[i] for i in judged])
        scored = list(zip(judged, gathered, strict=True))
        if self.model is not None and scored:
            learned = self.model.explain_many(
                [texts[index] for index, _ in scored],
                [evidence.log_odds for _, evidence in scored],
                [evidence.compound for _, evidence in scored],
                self.settings.threshold,
            )
            for (_, evidence), (log_odds, reason) in zip(scored, learned, strict=True):
                evidence.log_odds = log_odds
                evidence.reasons.append(reason)
        for index, evidence in scored:
            verdicts[index] = self._verdict(evidence, followers[index], vips[index])
        return [verdict for verdict in verdicts if verdict is not None]

    def _judge_each(
        self,
        texts: Sequence[str],
        languages: Sequence[str | None],
        followers: Sequence[int | None],
        vips: Sequence[bool],
        ratings: Sequence[int | None],
    ) -> list[Verdict]:
        """`classify_many` without a model: no post waits for the whole poll, so each verdict
        is made as soon as its post is scored, and a poll's evidence (a list, a set and a dict a
        post) is never held at once: ~2 µs a post less, most of it the garbage collector's."""
        supported = self._languages.get  # a tag judged supported before needs no call
        judged = [
            language is None or supported(language) or self._is_supported(language)
            for language in languages
        ]
        evidence = self._score_many(compress(texts, judged), compress(ratings, judged))
        verdict = self._verdict
        verdicts: list[Verdict] = []
        for ok, language, audience, vip in zip(judged, languages, followers, vips, strict=True):
            if not ok and language is not None:
                verdicts.append(self._unsupported(language, followers=audience, vip=vip))
            else:
                verdicts.append(verdict(next(evidence), audience, vip))
        return verdicts

    def _verdict(self, scored: _Scored, followers: int | None, vip: bool) -> Verdict:
        """The threshold and severity on the evidence, as the alert shows it."""
        reasons = scored.reasons
        score = logistic(scored.log_odds)
        if len(reasons) > 1:  # `sort` calls the key even for one reason
            reasons.sort(key=_strength, reverse=True)
        is_complaint = score >= self.settings.threshold
        if is_complaint:
            severity = self._severity(
                score, scored.kinds, scored.shouting, scored.compound, followers, vip, reasons
            )
        else:
            severity = _LOW
        return _new_verdict(
            label=_COMPLAINT if is_complaint else _NOT_COMPLAINT,
            score=score,
            severity=severity,
            reasons=tuple(reasons),
            sentiment=scored.sentiment,
            classifier_version=self.version,
        )

    def with_model(self, model: LearnedModel | None) -> Classifier:
        """The same scorer with another model (or none): swapped in whole, never mutated."""
        return Classifier(self.settings, self.brand, model)

    def log_odds(self, text: str) -> tuple[float, float]:
        """The scorer's own log-odds (before any model) and VADER compound: the model's inputs."""
        scored = self._score(text)
        return scored.log_odds, scored.compound

    def _score(self, text: str, rating: int | None = None) -> _Scored:
        post = self._prepare(text)
        sentiment = self._sentiment.scores(self._vader_text(post))
        return self._weigh(text, rating, post, self._index.fire(post.lowered), sentiment)

    def _score_many(self, texts: Iterable[str], ratings: Iterable[int | None]) -> Iterator[_Scored]:
        """`_score` of each post in turn, done `AT_ONCE` posts at a time stage by stage: each
        post prepared and its cues scanned, then each one's VADER, then each one weighed. Post
        by post, each stage evicts the others' code and tables (the scan's compiled trie alone
        is half a MB, VADER's lexicon 7,500 words) from the CPU's caches: on
        bench/pipeline.py's posts that cost ~9 µs a post more, a quarter of the scorer."""
        prepare, fire, vader_text = self._prepare, self._index.fire, self._vader_text
        scores = self._sentiment.scores
        posts_and_ratings = zip(texts, ratings, strict=True)
        while batch := list(islice(posts_and_ratings, AT_ONCE)):
            posts = [prepare(text) for text, _ in batch]
            fired = [fire(post.lowered) for post in posts]
            sentiments = [scores(vader_text(post)) for post in posts]
            for (text, rating), post, cues, sentiment in zip(
                batch, posts, fired, sentiments, strict=True
            ):
                yield self._weigh(text, rating, post, cues, sentiment)

    def _weigh(
        self,
        text: str,
        rating: int | None,
        post: _Text,
        fired: list[tuple[Cue, str]],
        sentiment: dict[str, float],
    ) -> _Scored:
        """The evidence on a prepared post from its cues fired and its VADER scores."""
        kinds: set[str] = set()
        hard = False
        """A problem stated, beyond asking for help."""
        for cue, _ in fired:
            kinds.add(cue.kind)
            hard = hard or cue.name in _HARD
        if _NO_BREACH in kinds or (_RELIEF in kinds and hard):
            fired, kinds, hard = self._set_aside(fired, kinds)
        reasons: list[Reason] = []
        memo = self._memo

        for configured, kind, pattern in self._extra:
            if pattern.search(post.named):
                reasons.append(configured)
                kinds.add(kind)

        emoji = not text.isascii()
        ironic = emoji and bool(_EYE_ROLL.search(text))
        if kinds:
            asking = _REQUEST in kinds and not hard
            """Help asked, no problem stated: the question or "please help" is not evidence."""
            elsewhere = (_ELSEWHERE in kinds or _NO_BREACH in kinds) and not hard
            if asking:
                kinds.discard(_PROBLEM)
            problem = _PROBLEM in kinds or _URGENT in kinds
            ironic = _IRONY in kinds or ironic
            clapping = emoji and problem and "\U0001f44f" in text
            """👏 next to a problem applauds nothing: "3 days to reply... 👏"."""
            sarcastic = (
                ironic or clapping or (_SARCASM in kinds and (problem or _NEGATIVE in kinds))
            )
            unresolved = (problem or _NEGATIVE in kinds) and _RELIEF not in kinds
        else:  # no cue fired (half the posts): what each of the above comes to then
            asking = elsewhere = problem = clapping = unresolved = False
            sarcastic = ironic

        for cue, matched in fired:
            kind = cue.kind
            if kind == _SARCASM and not sarcastic:
                continue
            if asking and cue.name in SOFT_PROBLEMS:
                continue
            if kind == _REQUEST and not asking:
                continue
            if kind in _OTHER_TARGETS and not elsewhere:
                continue
            if kind == _GRATITUDE and (sarcastic or unresolved):
                continue  # thanks around an open problem is politeness or sarcasm
            reason = memo.get((cue.name, matched))
            if reason is None:
                reason = Reason(cue.name, cue.weight, f'{cue.why}: "{matched.strip()}"')
                memo = self._remember((cue.name, matched), reason)
            reasons.append(reason)
        if ironic and _IRONY not in kinds:
            reasons.append(_IRONY_EMOJI)
        elif clapping and not ironic:
            reasons.append(_CLAPPING)

        compound = sentiment["compound"]
        # 0.0 == -0.0, but their details differ ("+0.000", "-0.000"): zero is keyed by its text
        key = (compound if compound else str(compound), problem, sarcastic)
        reason = memo.get(key)
        if reason is None:
            reason = self._sentiment_reason(compound, problem, sarcastic)
            memo = self._remember(key, reason)
        reasons.append(reason)

        if problem and not self._handles.isdisjoint(map(str.lower, post.mentions)):
            reasons.append(_ADDRESSED)
        own: bool | None = None
        """Does the post say "my", "I've"...? Read at most once, when asked."""
        if problem:
            own = not _FIRST_PERSON.isdisjoint(post.vocabulary)
            if own:
                reasons.append(_PERSONAL)
        if post.hashtags >= HASHTAGS_MANY and not hard:
            reasons.append(_HASHTAGS)
        if post.has_link and not (problem and not WEAK_PROBLEMS.issuperset(names(fired))):
            if own is None:
                own = not _FIRST_PERSON.isdisjoint(post.vocabulary)
            reasons.append(_LINK_OWN if own else _LINK)

        negative = problem or compound < -0.05 or _NEGATIVE in kinds
        targeted = rating is not None or not negative or self._targeted(post)
        """A review is about the product it rates, whoever it addresses; and whom a post
        addresses matters only to its negativity (what follows reads `targeted` only then)."""
        shouting = self._shouting(text, post) if negative else []
        if shouting:
            reasons.append(_intensity(tuple(shouting)))

        if not targeted and problem:
            reasons.append(_NO_TARGET_PROBLEM)
        elif negative and post.pieces and post.pieces[0] and self._mentioned_late(post.pieces):
            # "awful week. drowning my sorrows with @brand pizza": the brand is the bright spot
            mood = sum(r.weight for r in reasons if r.weight > 0)
            reasons.append(Reason("elsewhere", -mood, _LATE_MENTION))
        elif elsewhere and negative:
            # the anger is about a game or an election, not the brand: cancel it
            mood = sum(r.weight for r in reasons if r.weight > 0)
            if mood > 0:
                reasons.append(Reason("elsewhere", -mood, _ELSEWHERE_DETAIL))
        elif not targeted and negative:
            # mood aimed at nobody ("traffic was awful"): cancel all of it, plus a margin
            mood = sum(r.weight for r in reasons if r.weight > 0)
            reasons.append(Reason("no_target", NO_TARGET_MARGIN - mood, _NO_TARGET))

        if rating is not None:
            praised = not problem and (
                _RELIEF in kinds or _GRATITUDE in kinds or compound >= CLEAR_PRAISE
            )
            reasons.append(_rating_reason(rating, praised))

        log_odds = BIAS + sum(map(_WEIGHT, reasons))
        return _Scored(reasons, log_odds, kinds, shouting, compound, sentiment)

    @staticmethod
    def _set_aside(
        fired: list[tuple[Cue, str]], kinds: set[str]
    ) -> tuple[list[tuple[Cue, str]], set[str], bool]:
        """Drop the problem cues a NO_BREACH cue explains (the author's slip, a hypothesis) and
        the money cues a refund given settles; the kinds and `hard` of what is left."""
        names = {cue.name for cue, _ in fired}
        drop: frozenset[str] = frozenset()
        if Kind.NO_BREACH in kinds:
            drop = MISHAP_CUES
        if "refund_given" in names:
            drop = drop | SETTLED_CUES
        if not drop:
            return fired, kinds, any(cue.name in _HARD for cue, _ in fired)
        kept = [(cue, matched) for cue, matched in fired if cue.name not in drop]
        return kept, {cue.kind for cue, _ in kept}, any(cue.name in _HARD for cue, _ in kept)

    def _mentioned_late(self, pieces: list[str]) -> bool:
        """Is the brand first @-mentioned after a clause of its own, with nothing wrong said
        from there on? "hate my job today, can't wait to get home to @games" vents about the
        job; the problem, if any, is before the handle and not addressed to it. `pieces`: the
        text around the handles of a post that does not open with one (half of those with one
        do: the caller asks only about the others)."""
        lead = pieces[0]
        cut = max(map(lead.rfind, _BREAKS))
        if cut < 0:
            return False
        before = WORD.findall(lead[:cut].lower())
        if len(before) < 3 or not _SECOND_PERSON.isdisjoint(before):
            return False
        tail = " ".join([lead[cut + 1 :], *pieces[1:]]).lower()
        if len(WORD.findall(tail)) < 2:
            return False
        if any(cue.kind in _AWAY_KINDS for cue, _ in self._index.fire(tail)):
            return False
        return self._sentiment.scores(_NUMBER.sub(" ", tail))["compound"] >= -0.05

    def _remember(
        self, key: tuple[object, ...], reason: Reason
    ) -> dict[tuple[object, ...], Reason]:
        """Keep a reason for the next post that fires the same cue on the same words (most do:
        "still waiting", "refund"); a full memo starts over rather than grow."""
        if len(self._memo) >= MEMO_SIZE:
            self._memo = {}
        self._memo[key] = reason
        return self._memo

    def _prepare(self, text: str) -> _Text:
        """Links, @handles and the brand's names are blanked, so "@united" or "Best Buy" don't
        read as praise to VADER, and cues never match inside a URL."""
        if "&" in text:
            text = html.unescape(text)
        is_ascii = text.isascii()  # O(1): most posts skip the search for curly quotes
        if not is_ascii and "\u2019" in text:
            text = text.replace("\u2019", "'")
        has_link = "http" in text or "www." in text
        if has_link:
            text = _URL.sub(" ", text)
        if not is_ascii and ("\u201c" in text or "\u201d" in text):
            text = text.replace("\u201c", '"').replace("\u201d", '"')
        mentions: list[str] = []
        pieces: list[str] | None = None
        if "@" in text:
            parts = _MENTION.split(text)
            mentions = parts[1::2]
            pieces = parts[0::2]
            text = " ".join(pieces)
            if not mentions:
                pieces = None
        text = " ".join(text.split())
        named = text
        names_brand = False
        lowered = text.lower()
        starts = self._brand_starts
        # An ASCII text can name the brand only where one of its names' starts occurs: a
        # substring test costs a tenth of the case-blind search, which tries every position.
        if self._brand_names is not None and (
            not is_ascii or starts is None or any(map(lowered.__contains__, starts))
        ):
            text, count = self._brand_names.subn(" ", text)
            if count:
                names_brand = True
                lowered = text.lower()
        hashtags = lowered.count("#")
        return _Text(text, named, lowered, mentions, has_link, hashtags, names_brand, pieces)

    @staticmethod
    def _vader_text(post: _Text) -> str:
        """What VADER reads: the cleaned text without its numbers."""
        clean = post.clean
        return (_NUMBER_ASCII if clean.isascii() else _NUMBER).sub(" ", clean)

    def _targeted(self, post: _Text) -> bool:
        """Does the post speak to someone (an @handle, "you") or name the brand? Without brand
        settings a hashtag may be the brand's name, so it counts too."""
        if post.mentions or post.names_brand or not _SECOND_PERSON.isdisjoint(post.vocabulary):
            return True
        return self._brand_names is None and "#" in post.lowered

    def _sentiment_reason(self, compound: float, problem: bool, sarcastic: bool) -> Reason:
        detail = f"VADER compound {compound:+.3f}"
        if compound < 0:
            weight = -VADER_NEGATIVE_WEIGHT * compound
        elif sarcastic:
            weight = 0.0
            if compound > 0:
                detail += " (praise read as sarcasm, ignored)"
        elif problem:
            weight = -VADER_POSITIVE_WEIGHT * VADER_POSITIVE_MIXED * compound
            if compound > 0:
                detail += " (praise next to a problem, half weight)"
        else:
            weight = -VADER_POSITIVE_WEIGHT * compound
        return Reason("sentiment", round(weight, 4) + 0.0, detail)

    def _shouting(self, text: str, post: _Text) -> list[str]:
        signals = []
        caps = _CAPS_WORD.findall(post.clean)
        if caps and (len(caps) >= 2 or len(caps[0]) >= 5):
            signals.append("capitals")
        if "!!" in text or "??" in text or "?!" in text or "!?" in text:
            signals.append("repeated !/?")
        if not text.isascii() and _ANGRY_EMOJI.search(text):
            signals.append("angry emoji")
        if not _INTENSIFIERS.isdisjoint(post.vocabulary):
            signals.append("intensifier")
        return signals

    def _is_supported(self, language: str) -> bool:
        """Remembered by tag: a poll repeats the same few ("en", "en-GB", "und") post after post."""
        supported = self._languages.get(language)
        if supported is None:
            code = _language_code(language)
            supported = code in UNKNOWN_LANGUAGES or code in self._supported
            if len(self._languages) < LANGUAGES_KEPT:
                self._languages[language] = supported
        return supported

    def _unsupported(self, language: str, *, followers: int | None, vip: bool) -> Verdict:
        """Never dropped: a person reads what the scorer cannot."""
        reasons = [
            Reason(
                "unsupported_language",
                0.0,
                f"language {language!r} is not in supported_languages; a person should read it",
            )
        ]
        severity = self._raise(Severity.LOW, followers, vip, reasons)
        return Verdict(
            label=Label.UNSUPPORTED_LANGUAGE,
            score=self.settings.threshold,
            severity=severity,
            reasons=tuple(reasons),
            sentiment={"neg": 0.0, "neu": 1.0, "pos": 0.0, "compound": 0.0},
            classifier_version=self.version,
        )

    def _severity(
        self,
        score: float,
        kinds: set[str],
        shouting: list[str],
        compound: float,
        followers: int | None,
        vip: bool,
        reasons: list[Reason],
    ) -> Severity:
        """Urgency (safety, legal, money, churn, outage) is high; anger is medium; else low."""
        if _URGENT in kinds:
            severity = _HIGH
        elif score < self.settings.threshold + BORDERLINE_MARGIN:
            severity = _LOW
        else:
            anger = len(shouting) + (compound <= -0.6) + (_NEGATIVE in kinds)
            medium = score >= MEDIUM_SCORE or anger >= 2
            severity = _MEDIUM if medium else _LOW
        return self._raise(severity, followers, vip, reasons)

    def _raise(
        self, severity: Severity, followers: int | None, vip: bool, reasons: list[Reason]
    ) -> Severity:
        """A VIP or a large audience raises severity one level: more people will see it."""
        reach = self.settings.high_reach_followers
        if vip:
            why = "VIP author"
        elif followers is not None and followers >= reach:
            why = f"{followers:,} followers (>= {reach:,})"
        else:
            return severity
        raised = _MEDIUM if severity is _LOW else _HIGH
        reasons.append(Reason("reach", 0.0, f"{why}: severity raised to {raised.value}"))
        return raised
