"""Find every cue a post matches in one pass, each with its first match.

Searching ~30 many-branched patterns over every post would cost more than VADER itself. So each
cue pattern is split into its alternatives, every alternative is expanded until it starts with
literal text ("(?:still|been) waiting" becomes "still waiting" and "been waiting"), and the
alternatives are grouped by the first letters of that text (a key): a cue counts only where a
word of the post starts with its key. All keys then go into one regex, a trie of their letters
at each word start with each key's alternatives in a named group (`_scan_pattern`): one
`finditer` over the post says which keys match and where they first do. Only a cue that shares
its key with another cue is searched again on its own, so each cue reports its own first match;
alternatives that start with no literal are searched when their text occurs. Tests check that
the scan always equals running each key's rules one by one, and never reports a cue its full
pattern would not match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

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
    key: str = ALWAYS
    alone: bool = False
    """The only rule under its key: the key's scan group is this rule's own regex."""


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
    """Every rule in report order, each key's check and rules, and one scan that finds, in a
    single pass over a post, every key whose alternatives match and where they first do."""

    rules: tuple[Rule, ...]
    keys: dict[str, _Key]
    always: tuple[int, ...]
    """Rules of the ALWAYS alternatives, whose first word is no key."""
    always_literals: tuple[str, ...]
    """The text those alternatives start with ("rip" of "rip[- ]?off"): a post containing none
    of them cannot match them. Empty: one starts with no literal text, they run on every post."""
    scan: re.Pattern[str]
    """At each word start, a trie of the keys' literal text, each leaf a named group holding
    that key's alternatives (see `_scan_pattern`)."""
    scanned: dict[str, tuple[str, str]]
    """Group name → (key, the literal text before the group)."""
    checked: frozenset[str]
    """Keys the scan leaves out (short words another key extends, like "can" and "can't"):
    each is checked by its own regex when the post has the word."""

    def fire(self, text: str, words: frozenset[str]) -> list[tuple[Cue, str]]:
        """Each cue matching `text` (lower-cased; `words` its `WORD` tokens) with its first
        match, in CUES order, as running each rule of the keys the words select would give:
        one scan of the post, then a search only for cues that share a key with another."""
        first: dict[str, str] = {}
        keys: set[str] | None = None
        for found in self.scan.finditer(text):
            name = found.lastgroup
            if name is None:
                continue
            key, literal = self.scanned[name]
            if key in first:
                continue
            if not _keyed_here(text, found.start(), key):  # rare: look at every word
                keys = keys if keys is not None else keys_of(words, text)
                if key not in keys:
                    continue
            first[key] = literal + found.group(name)
        literals = self.always_literals
        selected = [] if literals and not any(t in text for t in literals) else list(self.always)
        for key in first:
            selected.extend(self.keys[key].rules)
        if self.checked:
            keys = keys if keys is not None else keys_of(words, text)
        for key in self.checked & (keys or set()):
            entry = self.keys[key]
            if entry.check.search(text) is not None:
                selected.extend(entry.rules)
        selected.sort()
        fired: list[tuple[Cue, str]] = []
        last = -1
        for number in selected:
            rule = self.rules[number]
            if rule.position == last:
                continue
            if rule.alone and rule.key in first:  # the scan ran exactly this rule's regex
                fired.append((rule.cue, first[rule.key]))
                last = rule.position
                continue
            match = rule.pattern.search(text)
            if match is not None:
                fired.append((rule.cue, match.group()))
                last = rule.position
        return fired


WORD = re.compile(r"[a-z]+(?:'[a-z]+)*|[0-9]+")
"""A post's words, as the scorer cuts them: a key counts only if one of them starts with it."""
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_DIGIT = re.compile(r"\d")
_KEY_OF = itemgetter(slice(KEY_LENGTH))


def keys_of(words: frozenset[str], text: str) -> set[str]:
    """The keys a post's words select: each word's first letters, the short words whole, and
    HASH and DIGIT when the text has a "#" or a digit."""
    keys = set(map(_KEY_OF, words))
    keys.update(words)
    if "#" in text:
        keys.add(HASH)
    if _DIGIT.search(text) is not None:
        keys.add(DIGIT)
    return keys


def _keyed_here(text: str, start: int, key: str) -> bool:
    """Does the word starting at `start` select `key` (so `keys_of` surely has it)? HASH and
    DIGIT matches prove a "#" or a digit. A position inside a word ("n" of "rock'n") is no
    word start: False, and the caller looks at every word instead."""
    if key in (HASH, DIGIT):
        return True
    if (
        start >= 2
        and text[start - 1] == "'"
        and text[start - 2] in _LETTERS
        and text[start : start + 1] in _LETTERS
    ):
        return False
    word = WORD.match(text, start)
    if word is None:
        return False
    found = word.group()
    return found == key or (len(key) == KEY_LENGTH and found.startswith(key))


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
    numbers: dict[str, list[int]] = {}
    for number, (_, key) in enumerate(sorted(grouped)):
        numbers.setdefault(key, []).append(number)
    rules: list[Rule] = []
    alternatives_by_key: dict[str, list[str]] = {}
    for (position, key), alternatives in sorted(grouped.items()):
        alternatives_by_key.setdefault(key, []).extend(alternatives)
        pattern = re.compile(_group_pattern(key, alternatives))
        rules.append(Rule(by_position[position], position, pattern, key, len(numbers[key]) == 1))
    keys = {
        key: _Key(re.compile(_group_pattern(key, alternatives_by_key[key])), tuple(found))
        for key, found in numbers.items()
    }
    scanned, checked = _plan_scan(alternatives_by_key)
    always = alternatives_by_key.get(ALWAYS, [])
    literals = tuple(_literal(a) for a in always)
    return Index(
        tuple(rules),
        keys,
        tuple(numbers.get(ALWAYS, ())),
        () if "" in literals else literals,
        re.compile(_scan_pattern(scanned)),
        {name: (key, text) for name, (key, text, _) in scanned.items()},
        frozenset(checked),
    )


_Entry = tuple[str, str, list[str]]
"""(key, the literal text its alternatives start with, each alternative after that text)."""


def _literal(alternative: str) -> str:
    run = 0
    while run < len(alternative) and alternative[run] in _WORD_CHARS:
        run += 1
    if alternative[run : run + 1] in _QUANTIFIERS:  # "ugh+": the last letter repeats
        run -= 1
    return alternative[:run]


def _plan_scan(alternatives: dict[str, list[str]]) -> tuple[dict[str, _Entry], set[str]]:
    """Which keys the scan finds (named entries), and which keep their own check.

    The scan reports one entry per position, so two entries must never match at one position.
    A key of 4 letters is never a prefix of another; a shorter key is a whole word, and can
    share a position with a longer key only across a character that is not a word character
    ("can" and "can't"), and only if one of its alternatives goes on with something else than
    a space: such keys keep their own check. DIGIT alternatives start with a digit, which no
    other key does."""
    entries: dict[str, _Entry] = {}
    for key in alternatives:
        if key not in (ALWAYS, DIGIT):
            entries[f"k{len(entries)}"] = (key, key, [a[len(key) :] for a in alternatives[key]])
    if DIGIT in alternatives:
        entries["digits"] = (DIGIT, "", list(alternatives[DIGIT]))
    literals = {key: rests for key, text, rests in entries.values() if text}
    checked = {
        key
        for key, rests in literals.items()
        if any(o != key and o.startswith(key) and not o[len(key)].isalnum() for o in literals)
        and not all(rest.startswith((" ", "\\s")) for rest in rests)  # a space is no "'"
    }
    return {n: e for n, e in entries.items() if e[0] not in checked}, checked


def _scan_pattern(scanned: dict[str, _Entry]) -> str:
    """A zero-width match at each word start where some entry's alternatives match: the
    literals as a trie (a branch per next character, so a position costs a few comparisons,
    not one per key), each entry's alternatives, in the order its check has them, in a group
    of its name. `_plan_scan` made sure no two entries can match at one position, so the group
    says which key matched, and where: the leftmost match of that key's own regex."""
    trie: dict[str, Any] = {}
    for name, (_, text, _) in scanned.items():
        node = trie
        for letter in text:
            node = node.setdefault(letter, {})
        node[""] = name

    def branches(node: dict[str, Any]) -> str:
        options = []
        for letter, child in sorted(node.items()):
            if letter:
                options.append(re.escape(letter) + branches(child))
            else:
                options.append(f"(?P<{child}>(?:{'|'.join(scanned[child][2])}))")
        return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"

    return r"(?<!\w)(?=" + branches(trie) + ")"


def _group_pattern(key: str, alternatives: list[str]) -> str:
    """The shared key as a literal prefix, then a word-start check, then the rest of each."""
    if key in (ALWAYS, HASH, DIGIT):
        return r"(?<!\w)(?:" + "|".join(alternatives) + ")"
    rests = "|".join(alternative[len(key) :] for alternative in alternatives)
    return re.escape(key) + r"(?<!\w" + "." * len(key) + ")(?:" + rests + ")"


def full_pattern(cue: Cue) -> re.Pattern[str]:
    """The cue as one ungated regex: what the gated rules must always agree with."""
    return re.compile(r"(?<!\w)(?:" + cue.pattern + ")")
