"""Find every cue a post matches in one pass, each with its first match.

Searching ~30 many-branched patterns over every post would cost more than VADER itself. So each
cue pattern is split into its alternatives, every alternative is expanded until it starts with
literal text ("(?:still|been) waiting" becomes "still waiting" and "been waiting"), and the
alternatives are grouped by the first letters of that text (a key): a cue counts only where a
word of the post starts with its key. All keys then go into one regex, a trie of their letters
at each word start ending in each key's alternatives (`_scan_pattern`): one scan over the post
says where some key matches, and there a small regex of that key captures each of its rules'
match (`_capture`), so each cue reports its own first match without being searched again;
alternatives that start with no literal are searched when the text they must contain occurs.
Tests check that the scan always equals running each key's rules one by one, and never reports a
cue its full pattern would not match.

Over 600 lines and kept whole: the regex rewriting (expanding alternatives, merging them into a
trie, sharing leading runs) and the scan that relies on its shapes are one algorithm, checked
as one by those tests; split, each half would depend on the other's private invariants.
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
class _Leaf:
    """A key the scan finds: its literal text, its rules, and a regex that, matched where the
    scan stopped, captures each rule's match there in a group (None where it does not match)."""

    key: str
    literal: str
    rules: tuple[int, ...]
    capture: re.Pattern[str]
    plain: bool
    """Letters only, and either `KEY_LENGTH` long or always followed by a space: the word
    found there selects the key unless it goes on from a word before it ("rock'n")."""


@dataclass(frozen=True, slots=True)
class Index:
    """Every rule in report order, each key's check and rules, and one scan that finds, in a
    single pass over a post, every rule of every key that matches, and where it first does."""

    rules: tuple[Rule, ...]
    keys: dict[str, _Key]
    always: tuple[int, ...]
    """Rules of the ALWAYS alternatives, whose first word is no key."""
    needles: tuple[tuple[str, int], ...]
    """(text, rule) for each `always` rule: text one of its alternatives must contain (" in a
    row" of "\\w+ times? in a row"), so a post containing none is not searched. "" (in every
    text) when an alternative has no such text."""
    scan: re.Pattern[str]
    """A character that is no word character, then a trie of the keys' literal text, each
    leaf a key's alternatives (see `_scan_pattern`): searched from each character on, it
    matches from the character before each word start where some key's alternatives match.
    Run over the post behind one space, so that the space stands before its first word: then
    its matches start at the post's word starts' positions, in the post's own numbering. A
    pattern that starts with a class of characters is tried at those characters only (the
    engine skips the letters of each word in a C loop); one that starts with `(?<!\\w)` starts
    a match at every character (about 0.4 µs a post more). It consumes what it matches, and
    `fire` searches again from the character after each match's start: a lookahead instead
    (zero-width matches, one `finditer`) costs the engine more at every word start than the
    few searches cost. `_check_padding` keeps cues from seeing the space."""
    leaves: dict[str, _Leaf]
    """Each key the scan finds, by its literal text ("" for DIGIT)."""
    checked: frozenset[str]
    """Keys the scan leaves out (short words another key extends, like "can" and "can't"):
    each is checked by its own regex when the post has the word."""
    scan_ascii: re.Pattern[str]
    """`scan` compiled with `re.ASCII`, for ASCII posts (nearly all): there `\\w`, `\\s`
    and `\\b` mean what they mean in Unicode, and testing them costs a table lookup, not a
    Unicode database call (the scan tests `\\W` at every character)."""

    def fire(self, text: str, words: Iterable[str] | None = None) -> list[tuple[Cue, str]]:
        """Each cue matching `text` (lower-cased; `words` its `WORD` tokens, cut here if None
        and needed) with its first match, in CUES order, as running each rule of the keys the
        words select would give: one scan of the post says where some key matches, and there
        each of that key's rules captures its own match, so no rule searches the whole post
        again."""
        first: dict[int, str] = {}
        keys: set[str] | None = None
        leaves = self.leaves
        search = (self.scan_ascii if text.isascii() else self.scan).search
        padded = " " + text  # the space: see `scan`
        found = search(padded)
        while found is not None:
            start = found.start()  # the key's place in `text`: one after `found`'s character
            found = search(padded, start + 1)
            for length in _LENGTHS:  # which key matched here: at most one can (`_plan_scan`)
                leaf = leaves.get(text[start : start + length])
                if leaf is None:
                    continue
                captured = leaf.capture.match(text, start)
                if captured is None or captured.lastindex is None:
                    continue
                if leaf.plain:
                    keyed = start < 2 or text[start - 1] != "'" or text[start - 2] not in _LETTERS
                else:
                    keyed = _keyed_here(text, start, leaf.key)
                if not keyed:  # rare: look at every word
                    keys = keys if keys is not None else keys_of(words, text)
                    if leaf.key not in keys:
                        break
                for number, matched in zip(leaf.rules, captured.groups(), strict=True):
                    if matched is not None and number not in first:
                        first[number] = matched
                break
        for needle, number in self.needles:
            if needle in text and number not in first:
                match = self.rules[number].pattern.search(text)
                if match is not None:
                    first[number] = match.group()
        if self.checked:
            keys = keys if keys is not None else keys_of(words, text)
            for key in self.checked & keys:
                entry = self.keys[key]
                if entry.check.search(text) is None:
                    continue
                for number in entry.rules:
                    match = self.rules[number].pattern.search(text)
                    if match is not None:
                        first[number] = match.group()
        if not first:
            return []
        fired: list[tuple[Cue, str]] = []
        last = -1
        for number in sorted(first):
            rule = self.rules[number]
            if rule.position != last:  # a cue's first matching rule speaks for it
                fired.append((rule.cue, first[number]))
                last = rule.position
        return fired


WORD = re.compile(r"[a-z]+(?:'[a-z]+)*|[0-9]+")
"""A post's words, as the scorer cuts them: a key counts only if one of them starts with it."""
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_DIGIT = re.compile(r"\d")
_KEY_OF = itemgetter(slice(KEY_LENGTH))
_LENGTHS = tuple(range(KEY_LENGTH, -1, -1))
"""The lengths a key's literal text may have, longest first (0: DIGIT)."""


def keys_of(words: Iterable[str] | None, text: str) -> set[str]:
    """The keys a post's words select (None: cut them from `text`): each word's first letters,
    the short words whole, and HASH and DIGIT when the text has a "#" or a digit."""
    if words is None:
        words = WORD.findall(text)
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


_Rules = list[tuple[int, list[str]]]
"""A key's rules in report order: (rule number, the rule's alternatives)."""


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
    by_key: dict[str, _Rules] = {}
    for number, ((position, key), alternatives) in enumerate(sorted(grouped.items())):
        by_key.setdefault(key, []).append((number, alternatives))
        pattern = re.compile(_group_pattern(key, alternatives))
        rules.append(Rule(by_position[position], position, pattern, key))
    keys = {
        key: _Key(
            re.compile(_group_pattern(key, [a for _, alts in found for a in alts])),
            tuple(number for number, _ in found),
        )
        for key, found in by_key.items()
    }
    scanned, checked = _plan_scan(by_key)
    leaves = {
        literal: _Leaf(
            key,
            literal,
            tuple(n for n, _ in found),
            _capture(literal, found),
            key.isalpha()
            and (
                len(key) == KEY_LENGTH
                or all(r.startswith((" ", "\\s")) for _, rests in found for r in rests)
            ),
        )
        for key, literal, found in scanned.values()
    }
    always = by_key.get(ALWAYS, [])
    scan = _scan_pattern(scanned)
    _check_padding(scan)
    return Index(
        tuple(rules),
        keys,
        tuple(number for number, _ in always),
        tuple((needle, n) for n, alternatives in always for needle in _needles(alternatives)),
        re.compile(scan),
        leaves,
        frozenset(checked),
        re.compile(scan, re.ASCII),
    )


_Entry = tuple[str, str, _Rules]
"""(key, the literal text its alternatives start with, its rules with each alternative after
that text)."""
_LITERAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789'#\" ")
"""Characters a needle may hold: '"' too, so a cue that starts with a quote mark (scare quotes)
is searched only in posts that hold one."""


def _needles(alternatives: list[str]) -> tuple[str, ...]:
    """For each alternative, its longest run of plain text outside any group, class or
    repetition, which every match contains; only "" if one alternative has none."""
    needles = []
    for alternative in alternatives:
        runs = [""]
        tokens = [(token, depth, syntax) for _, token, depth, syntax in _scan(alternative)]
        counting = False  # inside "{m,n}"
        for i, (token, depth, syntax) in enumerate(tokens):
            following = tokens[i + 1][0] if i + 1 < len(tokens) else ""
            counting = (counting or token == "{") and token != "}"
            plain = syntax and depth == 0 and not counting and token in _LITERAL_CHARS
            if plain and following not in _QUANTIFIERS:
                runs[-1] += token
            elif runs[-1]:
                runs.append("")
        longest = max(runs, key=len)
        if not longest:
            return ("",)
        needles.append(longest)
    return tuple(dict.fromkeys(needles))


def _plan_scan(by_key: dict[str, _Rules]) -> tuple[dict[str, _Entry], set[str]]:
    """Which keys the scan finds (named entries), and which keep their own check.

    The scan reports one entry per position, so two entries must never match at one position.
    A key of 4 letters is never a prefix of another; a shorter key is a whole word, and can
    share a position with a longer key only across a character that is not a word character
    ("can" and "can't"), and only if one of its alternatives goes on with something else than
    a space: such keys keep their own check. DIGIT alternatives start with a digit, which no
    other key does."""
    entries: dict[str, _Entry] = {}
    for key, found in by_key.items():
        if key not in (ALWAYS, DIGIT):
            rests = [(number, [a[len(key) :] for a in alts]) for number, alts in found]
            entries[f"k{len(entries)}"] = (key, key, rests)
    if DIGIT in by_key:
        entries["digits"] = (DIGIT, "", list(by_key[DIGIT]))
    literals = {key: rests for key, text, rests in entries.values() if text}
    checked = {
        key
        for key, found in literals.items()
        if any(o != key and o.startswith(key) and not o[len(key)].isalnum() for o in literals)
        and not all(rest.startswith((" ", "\\s")) for _, rests in found for rest in rests)
    }
    return {n: e for n, e in entries.items() if e[0] not in checked}, checked


def _scan_pattern(scanned: dict[str, _Entry]) -> str:
    """A character that is no word character, then where some entry's alternatives match:
    the literals as a trie (a branch per next character, so a position costs a few
    comparisons, not one per key), then the entry's alternatives.

    The scan holds no group: a group open while alternatives run makes the regex engine save
    every group's position at each optional part, and a match copies them all (with a group
    per key, a match cost more than a whole post). Where it matches, the key is the one entry
    whose literal starts there and whose `_capture` matches (`_plan_scan`: only one can)."""
    trie: dict[str, Any] = {}
    for name, (_, text, _) in scanned.items():
        node = trie
        for letter in text:
            node = node.setdefault(letter, {})
        node[""] = name

    def branches(node: dict[str, Any]) -> str:
        options = []
        for letter, child in sorted(node.items(), key=lambda item: item[0] or "\uffff"):
            if letter:
                options.append(re.escape(letter) + branches(child))
                continue
            every = _merged([rest for _, rests in scanned[child][2] for rest in rests])
            if node is not trie:
                options.append(f"(?:{every})")
            elif all(_first_atom(part) for part in _split_top(every)):
                options.append(every)  # DIGIT, merged: each part starts with a digit
            else:  # DIGIT: only at a digit, tried after every letter
                options.append(rf"(?=\d)(?:{every})")
        return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"

    return r"\W(?:" + branches(trie) + ")"


_LOOKBEHIND = re.compile(r"\(\?<[=!]([^()]*)\)")
_PLAIN_BEHIND = re.compile(r"[a-z0-9'][a-z0-9' -]*")
_START_ANCHOR = re.compile(r"(?<![\[\\])\^|\\A")


def _check_padding(scan: str) -> None:
    """`fire` runs the scan over " " + post: at the post's first word the alternatives see a
    space before it where the post has nothing. That changes no outcome unless they look back
    for text starting with a space (every lookbehind of today's cues is a negative one of
    plain words: "(?<!as advertised)") or anchor at the start (`^`, `\\A`): refuse those."""
    behind = _LOOKBEHIND.findall(scan)
    if scan.count("(?<") != len(behind) or not all(map(_PLAIN_BEHIND.fullmatch, behind)):
        raise ValueError("cue lookbehinds must be plain words for the scan (see _check_padding)")
    if _START_ANCHOR.search(scan):
        raise ValueError("cue patterns may not anchor at the start (see _check_padding)")


_ATOM_CLASSES = ("\\d", "\\w", "\\s")
_SPECIAL = frozenset(".^$*+?{}[]()|\\")
_COUNT = re.compile(r"\{(\d+)(?:,(\d*))?\}")


def _first_atom(alternative: str) -> tuple[str, str] | None:
    """An alternative's first one-character atom (a literal character, or `\\d`, `\\w`,
    `\\s`) and what follows it, "x+" read as "x" then "x*" and "x{2,3}" as "x" then
    "x{1,2}"; None when it starts otherwise (a group, a class, an optional character)."""
    token = next(_scan(alternative), (0, "", 0, False))[1]
    literal = len(token) == 1 and token not in _SPECIAL
    escaped = len(token) == 2 and not token[1].isalnum() and token[1] != "_"
    if not (literal or escaped or token in _ATOM_CLASSES):
        return None
    rest = alternative[len(token) :]
    if rest.startswith("+"):
        return token, token + "*" + rest[1:]
    count = _COUNT.match(rest)
    if count is not None:
        low, high = int(count[1]), count[2]
        if low == 0:
            return None
        more = str(low - 1) if high is None else f"{low - 1},{int(high) - 1 if high else ''}"
        return token, token + "{" + more + "}" + rest[count.end() :]
    if rest[:1] in ("?", "*", "{"):
        return None
    return token, rest


def _leading_run(alternative: str) -> tuple[str, str] | None:
    """An alternative that starts with a one-character atom repeated any number of times
    ("\\d*", greedy): the atom and what follows the run; None when it starts otherwise."""
    token = next(_scan(alternative), (0, "", 0, False))[1]
    rest = alternative[len(token) :]
    if _one_character(token) is None or not rest.startswith("*") or rest[1:2] in ("?", "+"):
        return None
    return token, rest[1:]


def _merged(alternatives: list[str]) -> str:
    """The alternatives as one regex matching where any of them does, those that start with
    the same atom merged behind it, level after level and inside their groups: "ab|ac"
    becomes "a(?:b|c)". The regex engine tries a branch's alternatives one by one, so at a
    word start it then tests each next character once, not once per alternative (the scan's
    words "i", "#" and the digits each lead dozens). Those that start with the same run
    ("\\d*") share it too, possessive where no shorter run can matter (`_run`). Order is not
    kept: only the scan, which asks whether any alternative matches, uses it, never
    `_capture`."""
    merged: dict[str, list[str]] = {}
    runs: dict[str, list[str]] = {}
    others: list[str] = []
    for alternative in alternatives:
        atom = _first_atom(alternative)
        run = _leading_run(alternative) if atom is None else None
        if atom is not None:
            merged.setdefault(atom[0], []).append(atom[1])
        elif run is not None:
            runs.setdefault(run[0], []).append(run[1])
        else:
            others.append(_merged_groups(alternative))
    parts = [
        atom + (_merged_groups(rests[0]) if len(rests) == 1 else f"(?:{_merged(rests)})")
        for atom, rests in merged.items()
    ]
    parts += [_run(atom, rests) for atom, rests in runs.items()]
    return "|".join(parts + others)


def _run(atom: str, rests: list[str]) -> str:
    """ "atom*" then any of `rests`, possessive ("\\d*+") when none of them can start with a
    character the atom matches: then no shorter run can let one match, and the engine,
    which otherwise backs off one character at a time and tries every rest again after
    each, gives up at once (a post's order number or "#12345" has a digit run at every
    scan)."""
    body = _merged_groups(rests[0]) if len(rests) == 1 else f"(?:{_merged(rests)})"
    apart = all(
        firsts is not None and not any(_overlap(atom, first) for first in firsts)
        for firsts in map(_first_atoms, rests)
    )
    return atom + ("*+" if apart else "*") + body


_OPTIONAL = re.compile(r"(?:[?*]|\{0(?:,\d*)?\})[?+]?")
_CLASS_ESCAPES = frozenset(["\\d", "\\w", "\\s", "\\D", "\\W", "\\S"])
_APART = frozenset(
    pair
    for a, b in [("d", "s"), ("d", "W"), ("d", "D"), ("w", "s"), ("w", "W"), ("s", "S")]
    for pair in [("\\" + a, "\\" + b), ("\\" + b, "\\" + a)]
)
"""Pairs of class escapes that share no character (Unicode or ASCII)."""


def _one_character(token: str) -> str | None:
    """The character a literal token matches ("a", "\\+"), the token itself for a class
    escape ("\\d"), None for anything else (a group, a class in brackets, an anchor)."""
    if len(token) == 1:
        return None if token in _SPECIAL else token
    if token in _CLASS_ESCAPES:
        return token
    return token[1] if len(token) == 2 and not token[1].isalnum() and token[1] != "_" else None


def _first_atoms(pattern: str) -> list[str] | None:
    """One-character atoms (as `_one_character` reads them) such that every match of
    `pattern` starts with a character one of them matches; None when that is not known
    (a class in brackets, a lookaround, an anchor first) or when it may match nothing."""
    firsts: list[str] = []
    rest = pattern
    while rest:
        if rest.startswith("(?:"):
            end = _group_end(rest)
            parts = [_first_atoms(part) for part in _split_top(rest[3:end])]
            if any(part is None for part in parts):
                return None
            firsts += [atom for part in parts if part is not None for atom in part]
            rest = rest[end + 1 :]
        else:
            token = next(_scan(rest))[1]
            atom = _one_character(token)
            if atom is None:
                return None
            firsts.append(atom)
            rest = rest[len(token) :]
        optional = _OPTIONAL.match(rest)
        if optional is None:
            return firsts
        rest = rest[optional.end() :]
    return None


def _overlap(atom: str, other: str) -> bool:
    """May two one-character atoms (as `_one_character` reads them) match one character?"""
    if atom in _CLASS_ESCAPES and other in _CLASS_ESCAPES:
        return (atom, other) not in _APART
    if atom not in _CLASS_ESCAPES and other not in _CLASS_ESCAPES:
        return atom == other
    escape, char = (atom, other) if atom in _CLASS_ESCAPES else (other, atom)
    found = {
        "d": char.isdecimal(),
        "w": char.isalnum() or char == "_",
        "s": char.isspace(),
    }[escape[1].lower()]
    return found if escape[1].islower() else not found


def _merged_groups(alternative: str) -> str:
    """`_merged` applied inside each of the alternative's outermost "(?:...)" groups."""
    done = 0
    out: list[str] = []
    for start, token, depth, syntax in _scan(alternative):
        if start < done or not (syntax and token == "(" and depth == 1):
            continue
        if not alternative.startswith("(?:", start):
            continue
        end = start + _group_end(alternative[start:])
        inner = _merged(_split_top(alternative[start + 3 : end]))
        out += [alternative[done:start], f"(?:{inner})"]
        done = end + 1
    out.append(alternative[done:])
    return "".join(out)


def _capture(literal: str, found: _Rules) -> re.Pattern[str]:
    """Matched where the scan found `literal`'s key: each rule's match there, the literal
    included (no string to join per match), in its group, or None ("|)": the lookahead
    succeeds empty). The leftmost position where a rule's group is set is where its own regex
    first matches, with the same text (the same alternatives in the same order)."""
    head = re.escape(literal)
    groups = "".join(f"(?=({head}(?:{'|'.join(rests)}))|)" for _, rests in found)
    capture = re.compile(groups)
    if capture.groups != len(found):  # `fire` reads the rules' matches as `groups()`
        raise ValueError(f"cue patterns may hold no capturing group: {capture.pattern!r}")
    return capture


def _group_pattern(key: str, alternatives: list[str]) -> str:
    """The shared key as a literal prefix, then a word-start check, then the rest of each."""
    if key in (ALWAYS, HASH, DIGIT):
        return r"(?<!\w)(?:" + "|".join(alternatives) + ")"
    rests = "|".join(alternative[len(key) :] for alternative in alternatives)
    return re.escape(key) + r"(?<!\w" + "." * len(key) + ")(?:" + rests + ")"


def full_pattern(cue: Cue) -> re.Pattern[str]:
    """The cue as one ungated regex: what the gated rules must always agree with."""
    return re.compile(r"(?<!\w)(?:" + cue.pattern + ")")
