"""One compiled multi-pattern matcher for every rule of every pack.

Why this shape: a detector suite must keep up with thousands of ~3 KB articles per
second on one core, in seven languages and two scripts. Looping one regex per term
scales with the number of terms; an Aho-Corasick automaton scans the text once
whatever the number of terms. The automaton runs over the *token stream* of the
folded text (words joined by single spaces), so punctuation, line breaks and
double spaces between words never break a phrase; keys carry their word
boundaries as spaces, so in-word hits never reach Python at all.

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
from collections.abc import Callable, Iterable, Sequence
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
    folded article) never builds a Python string per word: separators become
    spaces in one `bytes.translate`, then runs of spaces collapse - by a numpy
    mask (keep a space only right after a word character) on article-sized text,
    by `str.replace` passes on short text where numpy's per-call cost dominates.
    """
    if not folded.isascii():
        found = WORD.findall(folded)
        return f" {' '.join(found)} " if found else ""
    if len(folded) < _NUMPY_FROM:
        s = f" {folded.translate(_SEPARATORS)} "
        while "  " in s:
            s = s.replace("    ", " ").replace("  ", " ")
        return s if len(s) > 1 else ""
    import numpy as np

    spaced = np.frombuffer(f" {folded} ".encode("ascii").translate(_SEPARATOR_BYTES), np.uint8)
    word = spaced != 32
    keep = word.copy()
    keep[1:] |= word[:-1]
    joined = spaced[keep].tobytes().decode("ascii")  # "tok tok " (the first space dropped)
    return f" {joined}" if joined else ""


def token_streams(texts: Sequence[str]) -> list[str]:
    """`token_stream` of every text, the ASCII ones in one numpy pass for the batch.

    The texts are laid end to end, each padded with a space on both sides, so every
    text's run starts after a separator and no word crosses into the next text; the
    collapsed stream is then cut back per text at the kept-byte counts. The result
    is `token_stream(t)` for each `t` (tests compare them on every kind of input).
    """
    if len(texts) == 1 or sum(map(len, texts)) < _NUMPY_FROM:
        return [token_stream(t) for t in texts]  # numpy's per-call cost would dominate
    out = [""] * len(texts)
    ascii_at = [i for i, t in enumerate(texts) if t.isascii()]
    for i in range(len(texts)):
        if not texts[i].isascii():
            out[i] = token_stream(texts[i])
    if not ascii_at:
        return out
    import numpy as np

    padded = [f" {texts[i]} " for i in ascii_at]
    buf = "".join(padded).encode("ascii").translate(_SEPARATOR_BYTES)
    spaced = np.frombuffer(buf, np.uint8)
    word = spaced != 32
    keep = word.copy()
    keep[1:] |= word[:-1]
    joined = spaced[keep].tobytes().decode("ascii")
    # kept bytes per text: one reduceat over the mask at each text's first byte
    starts = np.cumsum([0] + [len(p) for p in padded[:-1]])
    ends = np.cumsum(np.add.reduceat(keep, starts, dtype=np.int64)).tolist()
    begin = 0
    for i, end in zip(ascii_at, ends, strict=True):
        out[i] = f" {joined[begin:end]}" if end > begin else ""
        begin = end
    return out


_NUMPY_FROM = 600
"""Text length from which `token_stream` collapses spaces with numpy."""
_SEPARATOR_BYTES = bytes(c if chr(c) in _WORD_CHARS else 32 for c in range(256))


def _token_bounds(folded: str) -> tuple[Any, Any]:
    """Start and end offsets of every token (only computed when evidence is needed).

    ASCII text is done with numpy over the separator mask (a regex walk building
    one Python tuple per word cost more than the whole match).
    """
    if not folded.isascii():
        spans = [m.span() for m in WORD.finditer(folded)]
        return [a for a, _ in spans], [b for _, b in spans]
    import numpy as np

    # padded with a separator each side: a word/separator change between padded
    # positions k and k+1 is a token edge at folded position k, starts and ends alternate
    padded = f" {folded} ".encode("ascii").translate(_SEPARATOR_BYTES)
    is_word = np.frombuffer(padded, dtype=np.uint8) != 32
    edges = np.flatnonzero(is_word[1:] != is_word[:-1])
    return edges[0::2], edges[1::2]


class Matcher:
    """All rules compiled into one Aho-Corasick automaton, built once."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        phrases: dict[str, Phrase] = {}
        name_rules: dict[str, set[int]] = {}
        comp_names: list[tuple[tuple[str, ...], ...]] = []
        for r_idx, rule in enumerate(self.rules):
            comps: list[tuple[str, ...]] = []
            for comp in rule.components:
                names = tuple(dict.fromkeys(str(ph) for ph in comp))
                for ph in comp:
                    phrases.setdefault(str(ph), ph)
                for name in names:
                    name_rules.setdefault(name, set()).add(r_idx)
                comps.append(names)
            comp_names.append(tuple(comps))
        self.phrases = phrases
        self._name_rules = {n: tuple(sorted(r)) for n, r in name_rules.items()}
        """Per phrase: the rules it is a component (alternative) of."""
        self._comp_names = tuple(comp_names)
        """Per rule, per component: the phrases that satisfy it."""
        self._comp_sets = tuple(tuple(frozenset(c) for c in comps) for comps in comp_names)
        trigger_rules: dict[str, set[int]] = {}
        for r_idx, rule_comps in enumerate(comp_names):
            # A rule needs every component, so one of them suffices to propose it: the one
            # with the fewest alternatives (the likeliest to be absent), ties the later one.
            # Broad components (a concept of common words) then rarely propose rules.
            trigger = min(reversed(rule_comps), key=len)
            for name in trigger:
                trigger_rules.setdefault(name, set()).add(r_idx)
        self._trigger_rules = {n: tuple(sorted(r)) for n, r in trigger_rules.items()}
        """Per phrase: the rules whose trigger component it belongs to."""
        self._sizes = {n: len(ph.tokens) for n, ph in phrases.items()}
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
                members = [ph for ph in group if ph.tokens[ph.key_len - 1].prefix != ends_word]
                if not members:
                    continue
                spaced = f" {key} " if ends_word else f" {key}"
                # phrases that are their key are hits as they stand; the others carry
                # the pattern their remaining words must match
                whole = tuple(str(ph) for ph in members if ph.key_len == len(ph.tokens))
                longer = tuple(
                    (str(ph), _rest_pattern(ph)) for ph in members if ph.key_len < len(ph.tokens)
                )
                # one alternation of every longer phrase's rest: a key shared by many
                # phrases (a common stem such as " nov") costs one failed match per hit
                any_rest = (
                    re.compile("|".join(f"(?:{r.pattern})" for _, r in longer if r is not None))
                    if len(longer) > 1
                    else None
                )
                self._automaton.add_word(spaced, (len(spaced), whole, longer, any_rest))
        if by_key:
            self._automaton.make_automaton()
        self._empty = not by_key

    @property
    def size(self) -> int:
        return len(self.phrases)

    def scan(self, folded: str, joined: str | None = None) -> Scan:
        """Rule hits in folded text; `joined` is its `token_stream` when already known."""
        if joined is None:
            joined = token_stream(folded)
        if self._empty or not joined:
            return Scan(folded, joined, [])
        # Hits are kept as the character position of the key's leading space; turning
        # a position into a word index costs a count over the text, so it is done only
        # for rules that matched. The rest of a phrase after its first stem is checked
        # by one precompiled regex anchored right after the key (C, not a Python loop
        # over words).
        found: dict[str, list[int]] = {}
        for end, (klen, whole, longer, any_rest) in self._automaton.iter(joined):
            pos = end - klen + 1
            for name in whole:
                at = found.get(name)
                if at is None:
                    found[name] = [pos]
                else:
                    at.append(pos)
            if any_rest is not None and any_rest.match(joined, end + 1) is None:
                continue
            for name, rest in longer:
                if rest.match(joined, end + 1) is not None:
                    found.setdefault(name, []).append(pos)
        hits = self._rules_hit(found, joined) if found else []
        return Scan(folded, joined, hits)

    def _rules_hit(self, found: dict[str, list[int]], joined: str) -> list[RuleHit]:
        candidates: set[int] = set()
        triggers = self._trigger_rules
        for name in found:
            proposed = triggers.get(name)
            if proposed is not None:
                candidates.update(proposed)
        index: dict[int, int] = {}
        sizes = self._sizes

        present = set(found)

        def token_spans(names: frozenset[str]) -> list[tuple[int, int]]:
            out = set()
            for name in present & names:  # set & set walks the smaller one
                size = sizes[name]
                for pos in found[name]:
                    t0 = index.get(pos)
                    if t0 is None:
                        t0 = index[pos] = joined.count(" ", 0, pos)
                    out.add((t0, t0 + size))
            return sorted(out)

        hits: list[RuleHit] = []
        for r_idx in sorted(candidates):
            # every component needs a hit of one of its alternatives
            for alternatives in self._comp_sets[r_idx]:
                if present.isdisjoint(alternatives):
                    break
            else:
                self._add_hits(r_idx, token_spans, hits)
        return hits

    def _add_hits(
        self,
        r_idx: int,
        token_spans: Callable[[frozenset[str]], list[tuple[int, int]]],
        hits: list[RuleHit],
    ) -> None:
        comps = self._comp_sets[r_idx]
        rule = self.rules[r_idx]
        if len(comps) == 1:
            for span in token_spans(comps[0]):
                hits.append(RuleHit(rule, (span,)))
            return
        best = _closest([token_spans(names) for names in comps], rule.window)
        if best is not None:
            hits.append(RuleHit(rule, best))


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
