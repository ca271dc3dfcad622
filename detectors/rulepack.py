"""Narrative rule packs: YAML data files, validated on load.

Why data files: analysts add or tune a narrative without touching code. Each file
in ``detectors/packs/`` is one narrative (``kind: narrative``) or the shared list
of refutation cues (``kind: cues``). Loading validates everything a typo could
break: unknown keys, country codes, language codes, rule syntax (via the
matcher's parser), weights, and that every language with terms also has positive
*and* negative test sentences (Serbian needs both Latin and Cyrillic ones). The
sentences are executed by ``tests/unit/detectors/test_packs.py`` for every pack,
so a new pack is tested the moment it is added.

Concept references: an alternative written ``@NAME`` stands for every entry of that
concept in the multilingual lexicon (``detectors/data/concepts.yaml``, see
``detectors/concepts.py``). In a language's own term list it expands to that language's
entries; in the ``any`` list a rule is compiled once per language group (en, bcms, mk,
sq) with that group's entries, and the narrative detector applies a group's variant
only to articles of that group (all groups when the language is unknown and cannot be
guessed). So ``{all: ["@NATO", "@AGGRESSION | @BOMBING"], window: 8}`` under ``any``
recognises the narrative from its parts in every language.

Reading the files is the one bit of I/O in ``detectors/``: it happens once, when
a detector is constructed, never per article.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detectors.concepts import GROUPS, LANGUAGE_GROUP, ConceptError, ConceptLexicon
from detectors.matcher import PatternError, Phrase, Rule, parse_alternatives
from hybridwatch.events import describe_validation_error
from hybridwatch.textfold import cyrillic_share

PACKS_DIR = Path(__file__).resolve().parent / "packs"

TERM_LANGUAGES = ("en", "sr", "hr", "bs", "cnr", "mk", "sq", "any")
"""Term lists: Serbian terms may be written in either script (folding unifies them);
`any` holds concept rules compiled for every language group."""
ANY = "any"
GROUP_PREFIX = "@"
"""`Rule.lang` of an `any` rule's variant for one group: "@en", "@bcms", "@mk", "@sq"."""
TEST_LANGUAGES = ("en", "sr-Latn", "sr-Cyrl", "hr", "bs", "cnr", "mk", "sq")
TESTS_FOR_TERMS: dict[str, tuple[str, ...]] = {
    "en": ("en",),
    "sr": ("sr-Latn", "sr-Cyrl"),
    "hr": ("hr",),
    "bs": ("bs",),
    "cnr": ("cnr",),
    "mk": ("mk",),
    "sq": ("sq",),
    "any": TEST_LANGUAGES,
}
CYRILLIC_TESTS = ("sr-Cyrl", "mk")


class PackError(ValueError):
    """A rule pack is invalid; the message names the file, the key and the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProximityTerm(_Strict):
    all: tuple[str, ...] = Field(min_length=2, max_length=4)
    window: int = Field(default=8, ge=1, le=40)
    weight: float | None = Field(default=None, gt=0.0, le=1.0)


class PhraseTerm(_Strict):
    phrase: str = Field(min_length=1)
    weight: float | None = Field(default=None, gt=0.0, le=1.0)


Term = str | PhraseTerm | ProximityTerm


class LanguageTests(_Strict):
    positive: tuple[str, ...] = Field(min_length=1)
    negative: tuple[str, ...] = Field(min_length=1)


class Pack(_Strict):
    """One narrative (or the cue list) as written in its YAML file."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: Literal["narrative", "cues"] = "narrative"
    version: int = Field(default=1, ge=1)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    countries: tuple[str, ...] = ()
    weight: float = Field(default=0.6, gt=0.0, le=1.0)
    """Default weight of one matched rule; a rule may override it."""
    fallback: bool = False
    """A generic pack: its hits count only on words no other pack's hit matched, so the
    same words never score twice across packs ("NATO aggression" is nato-aggression's)."""
    terms: dict[str, tuple[Term, ...]]
    tests: dict[str, LanguageTests]

    @field_validator("countries")
    @classmethod
    def _countries(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for c in v:
            if len(c) != 2 or not c.isalpha() or not c.isupper():
                raise ValueError(f"{c!r} is not an ISO 3166-1 alpha-2 code such as RS or MK")
        return v

    @field_validator("terms")
    @classmethod
    def _term_langs(cls, v: dict[str, tuple[Term, ...]]) -> dict[str, tuple[Term, ...]]:
        for lang, terms in v.items():
            if lang not in TERM_LANGUAGES:
                raise ValueError(
                    f"unknown term language {lang!r} (use {', '.join(TERM_LANGUAGES)})"
                )
            if not terms:
                raise ValueError(f"{lang}: empty term list")
        return v

    @field_validator("tests")
    @classmethod
    def _test_langs(cls, v: dict[str, LanguageTests]) -> dict[str, LanguageTests]:
        for lang in v:
            if lang not in TEST_LANGUAGES:
                raise ValueError(
                    f"unknown test language {lang!r} (use {', '.join(TEST_LANGUAGES)})"
                )
        return v

    def rules(self, lexicon: ConceptLexicon | None = None) -> Iterator[Rule]:
        """Compile every term into matcher rules (raises PatternError on bad syntax).

        `lexicon` resolves ``@CONCEPT`` references (default: the bundled lexicon, loaded
        only when a reference occurs). A term of the `any` list yields one rule per
        language group, all with the same id, `lang` = "@<group>".
        """
        for lang, terms in self.terms.items():
            for i, term in enumerate(terms):
                rid = f"{self.id}/{lang}/{i}"
                if isinstance(term, str):
                    comps: tuple[str, ...] = (term,)
                    window, weight, source = 0, self.weight, term
                elif isinstance(term, PhraseTerm):
                    comps = (term.phrase,)
                    window, weight, source = 0, term.weight or self.weight, term.phrase
                else:
                    comps = term.all
                    window, weight = term.window, term.weight or self.weight
                    source = " ~ ".join(term.all)
                groups = GROUPS if lang == ANY else (LANGUAGE_GROUP[lang],)
                for group in groups:
                    try:
                        parsed = tuple(_alternatives(c, group, lexicon) for c in comps)
                    except PatternError as err:
                        raise PatternError(f"{lang}[{i}]: {err}") from err
                    rule_lang = GROUP_PREFIX + group if lang == ANY else lang
                    yield Rule(rid, self.id, parsed, window, weight, rule_lang, source)

    def test_languages(self) -> tuple[str, ...]:
        return tuple(lang for t in self.terms for lang in TESTS_FOR_TERMS[t])


def _alternatives(raw: str, group: str, lexicon: ConceptLexicon | None) -> tuple[Phrase, ...]:
    """One component: literal alternatives plus the entries of every ``@CONCEPT``."""
    if GROUP_PREFIX not in raw:
        return parse_alternatives(raw)
    out: list[Phrase] = []
    literal: list[str] = []
    for alt in raw.split("|"):
        alt = alt.strip()
        if not alt.startswith(GROUP_PREFIX):
            literal.append(alt)
            continue
        lex = lexicon or ConceptLexicon.load()
        name = alt[1:]
        if name not in lex.specs:
            raise PatternError(
                f"{raw!r}: unknown concept {alt!r} (concepts are listed in {lex.origin})"
            )
        out.extend(lex.phrases(name, group))
    if literal:
        out.extend(parse_alternatives(" | ".join(literal)))
    return tuple(dict.fromkeys(out))


def _check(pack: Pack, origin: str) -> None:
    try:
        list(pack.rules())
    except PatternError as err:
        raise PackError(f"{origin}: terms: {err}") from err
    except ConceptError as err:
        raise PackError(f"{origin}: concept lexicon: {err}") from err
    for needed in pack.test_languages():
        if needed not in pack.tests:
            raise PackError(
                f"{origin}: tests.{needed}: missing; every language with terms needs "
                "positive and negative test sentences"
            )
    for lang in CYRILLIC_TESTS:
        tests = pack.tests.get(lang)
        if tests is None:
            continue
        for sentence in tests.positive:
            if cyrillic_share(sentence) < 0.5:
                raise PackError(f"{origin}: tests.{lang}.positive: {sentence!r} is not Cyrillic")


def parse_pack(data: Any, origin: str) -> Pack:
    if not isinstance(data, dict):
        raise PackError(f"{origin}: a rule pack must be a mapping, got {type(data).__name__}")
    try:
        pack = Pack.model_validate(data)
    except ValidationError as err:
        raise PackError(f"{origin}: {describe_validation_error(err)}") from err
    _check(pack, origin)
    return pack


def load_pack(path: Path) -> Pack:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise PackError(f"cannot read rule pack {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise PackError(f"rule pack {path} is not valid YAML: {err}") from err
    pack = parse_pack(data, str(path))
    if pack.id != path.stem:
        raise PackError(f"{path}: id {pack.id!r} must equal the file name {path.stem!r}")
    return pack


def load_packs(directory: Path | None = None) -> tuple[Pack, ...]:
    """Every pack in `directory` (default: the bundled packs), sorted by id."""
    return _load_packs(directory or PACKS_DIR)


@lru_cache(maxsize=8)
def _load_packs(directory: Path) -> tuple[Pack, ...]:
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise PackError(f"no rule packs (*.yaml) in {directory}")
    packs = tuple(load_pack(f) for f in files)
    seen: set[str] = set()
    for p in packs:
        if p.id in seen:
            raise PackError(f"{directory}: duplicate pack id {p.id!r}")
        seen.add(p.id)
    if sum(1 for p in packs if p.kind == "cues") > 1:
        raise PackError(f"{directory}: more than one pack of kind 'cues'")
    return packs
