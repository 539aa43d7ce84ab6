"""Run only the cue patterns a post could match, each as a literal-prefixed regex.

Searching ~30 many-branched patterns over every post would cost more than VADER itself. So each
cue pattern is split into its alternatives, every alternative is expanded until it starts with
literal text ("(?:still|been) waiting" becomes "still waiting" and "been waiting"), and the
alternatives are grouped by the first letters of that text. A post's words select the groups
that can match; each group is one regex starting with a literal, which `re` finds with a fast
scan. Alternatives that cannot start with a literal always run. Tests check that the gated
result always equals running every pattern in full.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from monitor.classifier.cues import Cue

_QUANTIFIERS = frozenset("?*+{")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789'#")
KEY_LENGTH = 4
"""A group is keyed by its first word's first 4 letters, or by the whole word if shorter; a
post offers its words and their first 4 letters."""
ALWAYS = ""
"""The key of alternatives that start with no usable literal: they run for every post."""
HASH = "#"
DIGIT = "0"
"""Keys for alternatives starting with "#" or a digit, present when the post has one."""


@dataclass(frozen=True, slots=True)
class Rule:
    cue: Cue
    position: int
    """The cue's place in CUES: fired cues are reported in a fixed order, whatever the post."""
    pattern: re.Pattern[str]


def _scan(pattern: str) -> Iterator[tuple[int, str, int, bool]]:
    """Each token of a pattern (an escape pair or one character): its index, the token, the
    group depth after it, and whether it is syntax (neither escaped nor inside a [class])."""
    depth = 0
    in_class = False
    i = 0
    while i < len(pattern):
        token = pattern[i : i + 2] if pattern[i] == "\\" else pattern[i]
        syntax = len(token) == 1 and not in_class
        if not syntax:
            in_class = in_class and token != "]"
        elif token == "[":
            in_class = True
        elif token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        yield i, token, depth, syntax
        i += len(token)


def _split_top(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern (respecting groups, classes and escapes)."""
    parts: list[str] = []
    current: list[str] = []
    for _, token, depth, syntax in _scan(pattern):
        if syntax and token == "|" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(token)
    parts.append("".join(current))
    return parts


def _group_end(pattern: str) -> int:
    """Index of the parenthesis closing the group that opens at index 0."""
    for i, token, depth, syntax in _scan(pattern):
        if syntax and token == ")" and depth == 0:
            return i
    raise ValueError(f"unbalanced group in cue pattern {pattern!r}")


def expand(alternative: str) -> list[str]:
    """Rewrite an alternative until its first word is plain text, by distributing groups and
    optional characters: "(?:a|b)c" -> "ac", "bc"; "can'?t x" -> "can't x", "cant x"."""
    if alternative.startswith("\\b"):
        alternative = alternative[2:]  # every alternative is matched at a word start anyway
    run = 0
    while run < len(alternative) and alternative[run] in _WORD_CHARS:
        run += 1
    head, tail = alternative[:run], alternative[run:]
    if tail.startswith("?") and head:  # the word's last character is optional
        return expand(head[:-1] + tail[1:]) + expand(head + tail[1:])
    if tail.startswith("(?:"):
        end = _group_end(tail)
        inner, after = _split_top(tail[3:end]), tail[end + 1 :]
        if after.startswith("?"):
            return expand(head + after[1:]) + [
                x for part in inner for x in expand(head + part + after[1:])
            ]
        if after[:1] not in _QUANTIFIERS:
            return [x for part in inner for x in expand(head + part + after)]
    return [alternative]


def _first_word(alternative: str) -> tuple[str, bool]:
    """The literal word an alternative starts with, and whether the word surely ends there
    (a space or boundary follows) rather than possibly continuing."""
    run = 0
    while run < len(alternative) and alternative[run] in _WORD_CHARS:
        run += 1
    word, tail = alternative[:run], alternative[run:]
    if tail[:1] in _QUANTIFIERS:  # "ugh+": the last letter repeats or is optional
        return word[:-1], False
    closing = tail.find("]")
    ends = (
        tail.startswith((" ", "\\s", "\\b", "\\W"))
        or (
            tail.startswith("[")  # a class of separators only, and not optional: "yeah[, ]+right"
            and not any(c.isalnum() for c in tail[1:closing])
            and tail[closing + 1 : closing + 2] not in ("?", "*")
        )
    )
    return word, ends


def _key(alternative: str) -> str:
    """Which key selects the alternative: its first word's first letters, the whole word when
    shorter (matched against whole words), or HASH, DIGIT, ALWAYS."""
    if alternative.startswith("\\d"):
        return DIGIT
    word, ends = _first_word(alternative)
    if word.startswith("#"):
        return HASH
    if word[:1].isdigit():
        return DIGIT
    if not word or not word[0].isalpha():
        return ALWAYS
    if len(word) >= KEY_LENGTH:
        return word[:KEY_LENGTH]
    return word if ends else ALWAYS


@dataclass(frozen=True, slots=True)
class _Key:
    check: re.Pattern[str]
    """Every alternative under this key, of any cue: one search rules them all out."""
    rules: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Index:
    """Every rule, in report order, and for each key a quick check and the rules it selects."""

    rules: tuple[Rule, ...]
    keys: dict[str, _Key]
    always: tuple[int, ...]

    def select(self, keys: set[str], text: str) -> list[Rule]:
        """The rules worth running on `text`, whose words begin with `keys`, in report order."""
        selected = list(self.always)
        for key in keys & self.keys.keys():
            entry = self.keys[key]
            if entry.check.search(text) is not None:
                selected.extend(entry.rules)
        selected.sort()
        return [self.rules[number] for number in selected]


def build_index(cues: Iterable[Cue]) -> Index:
    """Group each cue's expanded alternatives by key: one regex per (cue, key), one per key."""
    grouped: dict[tuple[int, str], list[str]] = {}
    by_position: dict[int, Cue] = {}
    for position, cue in enumerate(cues):
        by_position[position] = cue
        for alternative in _split_top(cue.pattern):
            for expanded in expand(alternative):
                key = _key(expanded)
                grouped.setdefault((position, key), []).append(expanded)
    rules: list[Rule] = []
    numbers: dict[str, list[int]] = {}
    alternatives_by_key: dict[str, list[str]] = {}
    for (position, key), alternatives in sorted(grouped.items()):
        numbers.setdefault(key, []).append(len(rules))
        alternatives_by_key.setdefault(key, []).extend(alternatives)
        pattern = re.compile(_group_pattern(key, alternatives))
        rules.append(Rule(by_position[position], position, pattern))
    keys = {
        key: _Key(re.compile(_group_pattern(key, alternatives_by_key[key])), tuple(found))
        for key, found in numbers.items()
        if key != ALWAYS
    }
    return Index(tuple(rules), keys, tuple(numbers.get(ALWAYS, ())))


def _group_pattern(key: str, alternatives: list[str]) -> str:
    """The shared key as a literal prefix, then a word-start check, then the rest of each."""
    if key in (ALWAYS, HASH, DIGIT):
        return r"(?<!\w)(?:" + "|".join(alternatives) + ")"
    rests = "|".join(alternative[len(key) :] for alternative in alternatives)
    return re.escape(key) + r"(?<!\w" + "." * len(key) + ")(?:" + rests + ")"


def full_pattern(cue: Cue) -> re.Pattern[str]:
    """The cue as one ungated regex: what the gated rules must always agree with."""
    return re.compile(r"(?<!\w)(?:" + cue.pattern + ")")
