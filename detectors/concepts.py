"""Multilingual concept lexicon: words of seven languages mapped onto shared concept names.

Why: the training claims are English while the product reads Serbian (both scripts),
Croatian, Bosnian, Montenegrin, Macedonian and Albanian. A concept ("NATO",
"AGGRESSION", "PUPPET" ...) is the same token whatever the language it was written in,
so rule packs can say "NATO near AGGRESSION" once for every language, and a learned
model can use concept tokens as features that carry across languages.

The lexicon is data, ``detectors/data/concepts.yaml`` (syntax and language groups are
described at its top and in docs/detectors.md), validated on load with errors naming
the concept and the language. It compiles into Aho-Corasick automata (pyahocorasick),
one per language group plus one over every group for text of unknown language:

- ``en``; ``bcms`` = Serbian, Croatian, Bosnian, Montenegrin (one language for matching:
  their stems are pooled, as language identification among them is unreliable); ``mk``;
  ``sq``. Lexicons are per group because folding makes false friends (Serbian "rat" =
  war, English "rat"), so an article's stems come from its own language only;
- unknown language (``None``, ``"und"``, anything unlisted): the text's group is guessed
  from function words (``function:`` in the YAML, counted by the same scan); if no group
  has at least `MIN_FUNCTION_HITS` of them and twice the runner-up, every group applies.

`ConceptLexicon.concepts(folded, language)` returns ``(concept, start, end)`` offsets into
the *folded* text (`hybridwatch.textfold.fold`), so an `ArticleView` field maps them to
the original text with ``field.span(start, end)`` like every other evidence span.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import ahocorasick
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detectors.matcher import _SEPARATORS, PatternError, Phrase, parse_phrase
from hybridwatch.events import describe_validation_error

CONCEPTS_PATH = Path(__file__).resolve().parent / "data" / "concepts.yaml"

GROUPS = ("en", "bcms", "mk", "sq")
"""Matching groups: Serbian, Croatian, Bosnian and Montenegrin share `bcms`."""
BCMS = ("sr", "hr", "bs", "cnr")
LANGUAGE_GROUP: dict[str, str] = {
    "en": "en",
    "sr": "bcms",
    "hr": "bcms",
    "bs": "bcms",
    "cnr": "bcms",
    "me": "bcms",
    "sh": "bcms",
    "hbs": "bcms",
    "mk": "mk",
    "sq": "sq",
}
"""Base language code (before any ``-script`` suffix, lowercased) -> group."""
MIN_FUNCTION_HITS = 3
"""Function words needed before an unknown text's language group is guessed."""

Kind = Literal["actor", "place", "frame", "topic", "cue"]
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class ConceptError(ValueError):
    """The concept lexicon is invalid; the message names the file, concept and language."""


ConceptHit = tuple[str, int, int]
"""(concept, start, end): ``folded[start:end]`` is the matched word(s)."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Entries = tuple[str, ...]


class ConceptSpec(_Strict):
    """One concept as written in the YAML file."""

    kind: Kind
    en: Entries = Field(min_length=1)
    bcms: Entries = ()
    sr: Entries = ()
    hr: Entries = ()
    bs: Entries = ()
    cnr: Entries = ()
    mk: Entries = Field(min_length=1)
    sq: Entries = Field(min_length=1)

    def entries(self, group: str) -> Entries:
        """Every entry string of a matching group (`bcms` pools sr, hr, bs and cnr)."""
        if group == "bcms":
            return tuple(dict.fromkeys((*self.bcms, *self.sr, *self.hr, *self.bs, *self.cnr)))
        out: Entries = getattr(self, group)
        return out


class LexiconFile(_Strict):
    version: int = Field(ge=1)
    function: dict[str, Entries]
    concepts: dict[str, ConceptSpec] = Field(min_length=1)

    @field_validator("function")
    @classmethod
    def _function_groups(cls, v: dict[str, Entries]) -> dict[str, Entries]:
        if set(v) != set(GROUPS):
            raise ValueError(f"needs exactly the groups {', '.join(GROUPS)}, got {sorted(v)}")
        return v


@dataclass(frozen=True)
class _Entry:
    concept: int
    mask: int
    rest: re.Pattern[str] | None


_FUNCTION = -1
"""Concept index of a function word (only counted, never reported)."""


class ConceptLexicon:
    """The compiled lexicon. Build with `load()` (cached) or `from_data()`."""

    def __init__(self, spec: LexiconFile, origin: str, digest: str) -> None:
        self.version = spec.version
        self.digest = digest
        """sha256 prefix of the YAML bytes: record it beside anything derived from it."""
        self.origin = origin
        self.names: tuple[str, ...] = tuple(spec.concepts)
        self.specs: dict[str, ConceptSpec] = dict(spec.concepts)
        self._phrases: dict[tuple[str, str], tuple[Phrase, ...]] = {}
        for name, cs in spec.concepts.items():
            if not _NAME.match(name):
                raise ConceptError(
                    f"{origin}: concepts.{name}: a concept name is upper-case letters, "
                    "digits and _ (e.g. NATO, DEEP_STATE)"
                )
            if not cs.bcms and not all(getattr(cs, v) for v in BCMS):
                missing = [v for v in BCMS if not getattr(cs, v)]
                raise ConceptError(
                    f"{origin}: concepts.{name}: no Serbo-Croatian entries for "
                    f"{', '.join(missing)}; give `bcms` (shared) or every one of sr, hr, bs, cnr"
                )
            for group in GROUPS:
                self._phrases[(name, group)] = tuple(
                    _parse(e, f"{origin}: concepts.{name}.{group}") for e in cs.entries(group)
                )
        function = {
            g: tuple(_parse(e, f"{origin}: function.{g}") for e in spec.function[g]) for g in GROUPS
        }
        for g, phrases in function.items():
            for ph in phrases:
                if len(ph.tokens) != 1 or ph.tokens[0].prefix:
                    raise ConceptError(f"{origin}: function.{g}: {ph} must be one whole word")
        self._group_automata = {g: self._build(GROUPS, {}, g) for g in GROUPS}
        self._all = self._build(GROUPS, function)
        self._function = self._build((), function)

    # ------------------------------------------------------------------ building
    def _build(
        self, groups: Iterable[str], function: dict[str, tuple[Phrase, ...]], only: str = ""
    ) -> Any:
        """One automaton over `groups` (or the single group `only`) and function words.

        Value per key: (key length, key ends in a stem, ((concept, group bits), ...) of
        entries that are the key alone, ((concept, group bits, rest pattern), ...)).
        """
        keyed: dict[str, dict[tuple[int, str], _Entry]] = {}
        for bit, group in enumerate(GROUPS):
            if group not in groups or (only and group != only):
                continue
            for c_idx, name in enumerate(self.names):
                for ph in self._phrases[(name, group)]:
                    _add(keyed, ph, c_idx, 1 << bit)
        for bit, group in enumerate(GROUPS):
            for ph in function.get(group, ()):
                _add(keyed, ph, _FUNCTION, 1 << bit)
        automaton = ahocorasick.Automaton()
        for key, entries in keyed.items():
            plain = tuple((e.concept, e.mask) for e in entries.values() if e.rest is None)
            longer = tuple(
                (e.concept, e.mask, e.rest) for e in entries.values() if e.rest is not None
            )
            automaton.add_word(key, (len(key), not key.endswith(" "), plain, longer))
        if keyed:
            automaton.make_automaton()
        return automaton

    # ------------------------------------------------------------------ matching
    def concepts(self, folded: str, language: str | None = None) -> list[ConceptHit]:
        """Concepts in `folded` (text already folded), in order of their start offset.

        `language` is the article's language code (``en``, ``sr``, ``sr-Cyrl``, ``hr``,
        ``bs``, ``cnr``, ``mk``, ``sq`` ...); anything else is guessed from the text.
        Overlapping hits of *different* concepts are all kept ("nato aggression" gives
        NATO and AGGRESSION); a hit inside a longer hit of the same concept is dropped.
        """
        if not folded:
            return []
        padded = _padded(folded)
        group = self.group_of(language)
        if group is not None:
            raw = self._scan(self._group_automata[group], padded, 0)
        else:
            raw = self._scan_unknown(padded)
        return self._finish(raw)

    def phrases(self, name: str, group: str) -> tuple[Phrase, ...]:
        """The parsed entries of concept `name` in a matching group (KeyError if unknown)."""
        return self._phrases[(name, group)]

    def tokens(self, folded: str, language: str | None = None) -> list[str]:
        """Just the concept names of `concepts()`, in text order (e.g. model features)."""
        return [h[0] for h in self.concepts(folded, language)]

    @staticmethod
    def group_of(language: str | None) -> str | None:
        """Matching group of a language code, None when unknown (``und``, ``None`` ...)."""
        if not language:
            return None
        base = language.replace("_", "-").split("-", 1)[0].lower()
        return LANGUAGE_GROUP.get(base)

    def guess_group(self, folded: str) -> str | None:
        """The group whose function words dominate `folded`, or None when unclear."""
        padded = _padded(folded)
        counts = [0] * len(GROUPS)
        for _end, (_klen, _stem, plain, _longer) in self._function.iter(padded):
            for _c, m_bits in plain:
                counts[m_bits.bit_length() - 1] += 1
        return _dominant(counts)

    def _scan(self, automaton: Any, padded: str, mask: int) -> list[tuple[int, int, int]]:
        """(start, -end, concept) of every hit; `mask` 0 keeps every group's entries."""
        out: list[tuple[int, int, int]] = []
        add = out.append
        find = padded.find
        for end, (klen, stem, plain, longer) in automaton.iter(padded):
            start = end - klen + 1
            word_end = find(" ", end + 1) - 1 if stem else end - 1
            for c, m_bits in plain:
                if not mask or m_bits & mask:
                    add((start, -word_end, c))
            for c, m_bits, rest in longer:
                if not mask or m_bits & mask:
                    m = rest.match(padded, word_end + 1)
                    if m is not None:
                        add((start, 1 - m.end(), c))
        return out

    def _scan_unknown(self, padded: str) -> list[tuple[int, int, int]]:
        """One pass over every group's entries and the function words; the hits of the
        guessed group are kept (all of them when no group dominates)."""
        hits: list[tuple[int, int, int, int]] = []
        add = hits.append
        counts = [0] * len(GROUPS)
        find = padded.find
        for end, (klen, stem, plain, longer) in self._all.iter(padded):
            start = end - klen + 1
            word_end = find(" ", end + 1) - 1 if stem else end - 1
            for c, m_bits in plain:
                if c == _FUNCTION:
                    counts[m_bits.bit_length() - 1] += 1
                else:
                    add((start, -word_end, c, m_bits))
            for c, m_bits, rest in longer:
                m = rest.match(padded, word_end + 1)
                if m is not None:
                    add((start, 1 - m.end(), c, m_bits))
        group = _dominant(counts)
        if group is None:
            return [(s, e, c) for s, e, c, _ in hits]
        mask = 1 << GROUPS.index(group)
        return [(s, e, c) for s, e, c, m_bits in hits if m_bits & mask]

    def _finish(self, raw: list[tuple[int, int, int]]) -> list[ConceptHit]:
        if not raw:
            return []
        raw.sort()  # by start, longest first
        names = self.names
        out: list[ConceptHit] = []
        reach: dict[int, int] = {}
        for s, neg_end, c in raw:
            if reach.get(c, 1) <= neg_end:
                continue  # inside (or equal to) a longer hit of the same concept
            reach[c] = neg_end
            out.append((names[c], s, -neg_end))
        return out

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_data(cls, data: Any, origin: str, digest: str = "") -> ConceptLexicon:
        if not isinstance(data, dict):
            raise ConceptError(
                f"{origin}: the lexicon must be a mapping, got {type(data).__name__}"
            )
        try:
            spec = LexiconFile.model_validate(data)
        except ValidationError as err:
            raise ConceptError(f"{origin}: {describe_validation_error(err)}") from err
        return cls(spec, origin, digest)

    @classmethod
    def load(cls, path: Path | None = None) -> ConceptLexicon:
        """The lexicon at `path` (default: the bundled one), loaded once per path."""
        return _load(path or CONCEPTS_PATH)


@lru_cache(maxsize=4)
def _load(path: Path) -> ConceptLexicon:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConceptError(f"cannot read concept lexicon {path}: {err.strerror}") from err
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConceptError(f"concept lexicon {path} is not valid UTF-8 YAML: {err}") from err
    return ConceptLexicon.from_data(data, str(path), hashlib.sha256(raw).hexdigest()[:16])


def _padded(folded: str) -> str:
    """`folded` with every non-word character a space, one space added each side.

    Same length as `folded` (plus the two pads), so offsets carry over. A character
    outside ASCII (the fold leaves few: Greek, CJK, symbols) counts as a separator;
    every lexicon entry is ASCII after folding, so no entry can match across it.
    """
    if not folded.isascii():
        folded = folded.encode("ascii", "replace").decode("ascii")
    return f" {folded.translate(_SEPARATORS)} "


def _parse(entry: str, where: str) -> Phrase:
    if "|" in entry:
        raise ConceptError(f"{where}: {entry!r}: one entry per list item, no '|'")
    try:
        return parse_phrase(entry)
    except PatternError as err:
        raise ConceptError(f"{where}: {err}") from err


def _add(keyed: dict[str, dict[tuple[int, str], _Entry]], ph: Phrase, c_idx: int, bit: int) -> None:
    """Key the automaton on the phrase's first word; the rest is one anchored pattern."""
    first = ph.tokens[0]
    key = f" {first.text}" if first.prefix else f" {first.text} "
    rest = ph.tokens[1:]
    src = "".join(" +" + re.escape(t.text) + ("[^ ]*" if t.prefix else "") for t in rest)
    slot = keyed.setdefault(key, {})
    prev = slot.get((c_idx, src))
    if prev is not None:
        slot[(c_idx, src)] = _Entry(c_idx, prev.mask | bit, prev.rest)
        return
    # matched at the separator right after the first word (the scan finds the end of a
    # stem's word first); it ends before the space closing the phrase's last word
    pattern = re.compile(src + "(?= )") if src else None
    slot[(c_idx, src)] = _Entry(c_idx, bit, pattern)


def _dominant(counts: list[int]) -> str | None:
    best = max(range(len(counts)), key=lambda i: counts[i])
    top = counts[best]
    second = max((c for i, c in enumerate(counts) if i != best), default=0)
    if top >= MIN_FUNCTION_HITS and top >= 2 * second:
        return GROUPS[best]
    return None
