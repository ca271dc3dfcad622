"""One compiled multi-pattern matcher for every rule of every pack.

Why this shape: a detector suite must keep up with thousands of ~3 KB articles per
second on one core, in seven languages and two scripts. Looping one regex per term
scales with the number of terms; an Aho-Corasick automaton scans the text once
whatever the number of terms. The automaton runs over the *token stream* of the
folded text (words joined by single spaces), so punctuation, line breaks and
double spaces between words never break a phrase, and word boundaries are a
one-character check done in Python only for candidate hits.

Rule language (the strings inside rule packs):

- ``"nato aggression"``: a phrase, its words consecutive;
- ``"bomb*"``: a trailing ``*`` makes that word a prefix (stem), so one entry
  covers Slavic and Albanian inflection (``bombardovanj*`` -> bombardovanje,
  bombardovanja, bombardovanju ...); stems need at least 3 letters;
- ``"a b | c d"``: alternatives, any of them;
- a proximity rule ``{all: ["nato", "bomb* | airstrike*"], window: 8}``: every
  component (itself a set of alternatives) occurs, all within ``window`` words.

Every term is folded with the same function as the article (script, diacritics,
case), so a term written once in Latin matches Cyrillic text too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick

from hybridwatch.textfold import fold

WORD = re.compile(r"\w+")
"""A token of folded text. `\\w` keeps digits (1999) and any letter the fold left."""
WORD_ASCII = re.compile(r"\w+", re.ASCII)
"""The same on ASCII text (nearly every folded article), where it is twice as fast."""


_WORD_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_SEPARATORS = str.maketrans({chr(c): " " for c in range(128) if chr(c) not in _WORD_CHARS})


def words(folded: str) -> list[str]:
    """Tokens of folded text, exactly `WORD.findall(folded)`.

    ASCII text (nearly every folded article) takes a faster route: one
    `str.translate` (CPython's ASCII fast path) turning non-word characters into
    spaces, then `split()` - about a third of the regex's cost.
    """
    if folded.isascii():
        return folded.translate(_SEPARATORS).split()
    return WORD.findall(folded)


MIN_STEM = 3


class PatternError(ValueError):
    """A rule string cannot be compiled; the message says which and why."""


@dataclass(frozen=True)
class Token:
    text: str
    prefix: bool

    def accepts(self, word: str) -> bool:
        return word.startswith(self.text) if self.prefix else word == self.text


@dataclass(frozen=True)
class Phrase:
    """Consecutive tokens; the automaton key is the phrase up to its first stem."""

    tokens: tuple[Token, ...]

    @property
    def key_len(self) -> int:
        """How many leading tokens the automaton key covers."""
        for i, tok in enumerate(self.tokens):
            if tok.prefix:
                return i + 1
        return len(self.tokens)

    @property
    def key(self) -> str:
        return " ".join(t.text for t in self.tokens[: self.key_len])

    def __str__(self) -> str:
        return " ".join(t.text + ("*" if t.prefix else "") for t in self.tokens)


def parse_phrase(raw: str) -> Phrase:
    words = raw.split()
    if not words:
        raise PatternError("empty phrase")
    tokens: list[Token] = []
    for w in words:
        prefix = w.endswith("*")
        stem = fold(w.rstrip("*"))
        parts = WORD.findall(stem)
        if not parts or "*" in stem:
            raise PatternError(f"{raw!r}: {w!r} is not a word")
        # a word the tokenizer would split ("al-qaeda", "nato's") becomes several tokens
        for j, part in enumerate(parts):
            is_last = j == len(parts) - 1
            tokens.append(Token(part, prefix and is_last))
        if prefix and len(parts[-1]) < MIN_STEM:
            raise PatternError(f"{raw!r}: stem {w!r} is shorter than {MIN_STEM} letters")
    return Phrase(tuple(tokens))


def parse_alternatives(raw: str) -> tuple[Phrase, ...]:
    alts = tuple(parse_phrase(a) for a in raw.split("|"))
    return alts


@dataclass(frozen=True)
class Rule:
    """A phrase rule (one component) or a proximity rule (several, within `window`)."""

    id: str
    group: str
    components: tuple[tuple[Phrase, ...], ...]
    window: int = 0
    weight: float = 0.5
    lang: str = ""
    source: str = ""

    @property
    def is_proximity(self) -> bool:
        return len(self.components) > 1


@dataclass(frozen=True)
class RuleHit:
    """A rule that matched; `spans` are token-index spans [start, end) per component."""

    rule: Rule
    spans: tuple[tuple[int, int], ...]

    @property
    def first(self) -> int:
        return min(s for s, _ in self.spans)

    @property
    def last(self) -> int:
        return max(e for _, e in self.spans)


class Scan:
    """The result of scanning one folded text: rule hits plus lazy token offsets.

    `joined` is the token stream the automaton ran over (" tok tok ... "); token
    index i is the i-th word of the folded text.
    """

    __slots__ = ("_bounds", "folded", "hits", "joined")

    def __init__(self, folded: str, joined: str, hits: list[RuleHit]) -> None:
        self.folded = folded
        self.joined = joined
        self.hits = hits
        self._bounds: tuple[Any, Any] | None = None

    @property
    def tokens(self) -> list[str]:
        """The folded text's words (built on demand: matching never needs the list)."""
        return self.joined.split()

    def char_span(self, tok_start: int, tok_end: int) -> tuple[int, int]:
        """Folded-text character span of tokens [tok_start, tok_end)."""
        if self._bounds is None:
            self._bounds = _token_bounds(self.folded)
        starts, ends = self._bounds
        return int(starts[tok_start]), int(ends[tok_end - 1])


def token_stream(folded: str) -> str:
    """The folded text's words joined by single spaces, with a space before and after
    (" nato bombing "), or "" when it has no word.

    Equal to `" " + " ".join(words(folded)) + " "`, but ASCII text (nearly every
    folded article) is done with one `str.translate` and a few `str.replace`
    passes collapsing separator runs - no Python string per word.
    """
    if not folded.isascii():
        found = WORD.findall(folded)
        return f" {' '.join(found)} " if found else ""
    s = f" {folded.translate(_SEPARATORS)} "
    while "  " in s:
        s = s.replace("    ", " ").replace("  ", " ")
    return s if len(s) > 1 else ""


def _token_bounds(folded: str) -> tuple[Any, Any]:
    """Start and end offsets of every token (only computed when evidence is needed).

    ASCII text is done with numpy over the separator mask (a regex walk building
    one Python tuple per word cost more than the whole match).
    """
    if not folded.isascii():
        spans = [m.span() for m in WORD.finditer(folded)]
        return [a for a, _ in spans], [b for _, b in spans]
    import numpy as np

    is_word = np.frombuffer(folded.translate(_SEPARATORS).encode("ascii"), dtype=np.uint8) != 32
    edges = np.diff(np.concatenate(([False], is_word, [False])).astype(np.int8))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


class Matcher:
    """All rules compiled into one Aho-Corasick automaton, built once."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        phrases: dict[str, Phrase] = {}
        self._phrase_rules: dict[str, list[tuple[int, int]]] = {}
        for r_idx, rule in enumerate(self.rules):
            for c_idx, comp in enumerate(rule.components):
                for ph in comp:
                    name = str(ph)
                    phrases.setdefault(name, ph)
                    self._phrase_rules.setdefault(name, []).append((r_idx, c_idx))
        self.phrases = phrases
        by_key: dict[str, list[Phrase]] = {}
        for ph in phrases.values():
            by_key.setdefault(ph.key, []).append(ph)
        self._automaton = ahocorasick.Automaton()
        for key, group in by_key.items():
            # Keys carry their word boundaries as spaces (" nato " for a word, " bomb" for
            # a stem) and the text is scanned as " tok tok ... ", so the automaton only
            # reports whole-word hits: "eu" inside "neutral" never reaches Python.
            # Phrases sharing a key may differ in whether its last word is a stem.
            for ends_word in (True, False):
                payload = tuple(
                    (str(ph), _rest_pattern(ph), len(ph.tokens))
                    for ph in group
                    if ph.tokens[ph.key_len - 1].prefix != ends_word
                )
                if payload:
                    spaced = f" {key} " if ends_word else f" {key}"
                    self._automaton.add_word(spaced, (len(spaced), payload))
        if by_key:
            self._automaton.make_automaton()
        self._empty = not by_key

    @property
    def size(self) -> int:
        return len(self.phrases)

    def scan(self, folded: str) -> Scan:
        joined = token_stream(folded)
        if self._empty or not joined:
            return Scan(folded, joined, [])
        # Hits are kept as (character position of the key's leading space, words);
        # turning a position into a word index costs a count over the text, so it is
        # done only for rules that matched. The rest of a phrase after its first stem
        # is checked by one precompiled regex anchored right after the key (C, not a
        # Python loop over words).
        found: dict[str, list[tuple[int, int]]] = {}
        for end, (klen, group) in self._automaton.iter(joined):
            pos = end - klen + 1
            for name, rest, size in group:
                if rest is not None and rest.match(joined, end + 1) is None:
                    continue
                hits = found.get(name)
                if hits is None:
                    found[name] = [(pos, size)]
                else:
                    hits.append((pos, size))
        hits_out = self._rules_hit(found, joined) if found else []
        return Scan(folded, joined, hits_out)

    def _rules_hit(self, found: dict[str, list[tuple[int, int]]], joined: str) -> list[RuleHit]:
        # per rule, per component: the hits of any of its alternatives
        comp_hits: dict[int, dict[int, list[tuple[int, int]]]] = {}
        for name, spans in found.items():
            for r_idx, c_idx in self._phrase_rules[name]:
                comp_hits.setdefault(r_idx, {}).setdefault(c_idx, []).extend(spans)
        index: dict[int, int] = {}

        def token_spans(items: list[tuple[int, int]]) -> list[tuple[int, int]]:
            out = set()
            for pos, size in items:
                t0 = index.get(pos)
                if t0 is None:
                    t0 = index[pos] = joined.count(" ", 0, pos)
                out.add((t0, t0 + size))
            return sorted(out)

        hits: list[RuleHit] = []
        for r_idx in sorted(comp_hits):
            rule = self.rules[r_idx]
            comps = comp_hits[r_idx]
            if len(comps) < len(rule.components):
                continue
            if not rule.is_proximity:
                for span in token_spans(comps[0]):
                    hits.append(RuleHit(rule, (span,)))
                continue
            best = _closest(
                [token_spans(comps[i]) for i in range(len(rule.components))], rule.window
            )
            if best is not None:
                hits.append(RuleHit(rule, best))
        return hits


def _rest_pattern(phrase: Phrase) -> re.Pattern[str] | None:
    """What must follow a phrase's automaton key in the token stream, or None.

    The key ends with the phrase's first stem, so the pattern first finishes that
    word (`[^ ]*`), then requires each further token (a stem: its letters and any
    ending; a word: exactly it) and the space closing the last word.
    """
    rest = phrase.tokens[phrase.key_len :]
    if not rest:
        return None
    body = "".join(" " + re.escape(t.text) + ("[^ ]*" if t.prefix else "") for t in rest)
    return re.compile(f"[^ ]*{body} ")


def _closest(
    groups: Sequence[Sequence[tuple[int, int]]], window: int
) -> tuple[tuple[int, int], ...] | None:
    """One span per group, all within `window` words of the first group's span.

    The first component anchors the rule; every other component must start or end
    within `window` tokens of it. Spans of one component may not overlap another's
    (a word cannot satisfy two components at once).
    """
    for anchor in groups[0]:
        chosen: list[tuple[int, int]] = [anchor]
        ok = True
        for group in groups[1:]:
            best: tuple[int, int] | None = None
            best_d = window + 1
            for span in group:
                if any(span[0] < c[1] and c[0] < span[1] for c in chosen):
                    continue
                d = max(span[0] - anchor[1], anchor[0] - span[1], 0)
                if d < best_d:
                    best, best_d = span, d
            if best is None:
                ok = False
                break
            chosen.append(best)
        if ok:
            return tuple(chosen)
    return None
