"""The multilingual concept lexicon (detectors/concepts.py, detectors/data/concepts.yaml).

Every sentence below is synthetic, written for these tests (not taken from any dataset).
"""

from __future__ import annotations

from typing import Any

import pytest

from detectors.concepts import ConceptError, ConceptLexicon
from detectors.view import ArticleView
from hybridwatch.textfold import fold
from tests.unit.detectors.conftest import make_article


@pytest.fixture(scope="module")
def lex() -> ConceptLexicon:
    return ConceptLexicon.load()


def found(lex: ConceptLexicon, text: str, language: str | None) -> set[str]:
    return {c for c, _, _ in lex.concepts(fold(text), language)}


# (language, synthetic sentence, concepts it must contain)
SENTENCES = [
    (
        "en",
        "NATO aggression killed children with depleted uranium, the minister said.",
        {"NATO", "AGGRESSION", "KILL", "CHILDREN", "RADIOACTIVE", "MINISTER", "SAID"},
    ),
    (
        "en",
        "Soros-funded NGOs orchestrated a colour revolution to install a puppet regime.",
        {"SOROS", "NGO", "PLOT", "COLOUR_REVOLUTION", "PUPPET", "REGIME"},
    ),
    (
        "sr-Latn",
        "NATO agresija na Srbiju ubila je decu osiromašenim uranijumom.",
        {"NATO", "AGGRESSION", "SERBIA", "KILL", "CHILDREN", "RADIOACTIVE"},
    ),
    (
        "sr-Cyrl",
        "Запад је наметнуо марионетски режим и жели да окупира Косово.",
        {"WEST", "DICTATE", "PUPPET", "REGIME", "OCCUPATION", "KOSOVO"},
    ),
    (
        "hr",
        "Europska unija želi pripojiti Hrvatsku kroz invaziju migranata.",
        {"EU", "ANNEX", "CROATIA", "INVASION", "MIGRANTS"},
    ),
    (
        "bs",
        "Prema navodima, genocid u Srebrenici je mit koji je izmislio Zapad.",
        {"ACCORDING_TO", "GENOCIDE", "MYTH_DENIAL", "LIES", "WEST"},
    ),
    (
        "cnr",
        "Crnu Goru su uvukli u NATO protiv volje naroda, a izbori su namješteni.",
        {"MONTENEGRO", "DICTATE", "NATO", "ELECTIONS", "RIGGED"},
    ),
    (
        "mk",
        "Промената на името е наметната од Вашингтон, а референдумот е бојкотиран.",
        {"NAME_CHANGE", "DICTATE", "US", "REFERENDUM", "BOYCOTT"},
    ),
    (
        "mk",
        "Американските биолаборатории тајно создаваат вирус, изјави министерот.",
        {"US", "BIOLAB", "SECRET", "VIRUS", "SAID", "MINISTER"},
    ),
    (
        "sq",
        "Sipas ministrit, NATO po pushton Ballkanin dhe fëmijët vriten nga bombat.",
        {
            "ACCORDING_TO",
            "MINISTER",
            "NATO",
            "OCCUPATION",
            "BALKANS",
            "CHILDREN",
            "KILL",
            "BOMBING",
        },
    ),
    (
        "sq",
        "Zgjedhjet e manipuluara dhe shteti i thellë e tradhtuan Shqipërinë.",
        {"ELECTIONS", "RIGGED", "DEEP_STATE", "BETRAY", "ALBANIA"},
    ),
]


@pytest.mark.parametrize(("language", "sentence", "expected"), SENTENCES)
def test_concepts_found_in_each_language(
    lex: ConceptLexicon, language: str, sentence: str, expected: set[str]
) -> None:
    got = found(lex, sentence, language)
    assert expected <= got, f"missing {sorted(expected - got)} in {sentence!r}: got {sorted(got)}"


@pytest.mark.parametrize(("language", "sentence", "expected"), SENTENCES)
def test_unknown_language_is_guessed_and_finds_the_same(
    lex: ConceptLexicon, language: str, sentence: str, expected: set[str]
) -> None:
    assert expected <= found(lex, sentence, None)
    assert expected <= found(lex, sentence, "und")


def test_offsets_map_back_to_exact_spans_of_the_original_text(lex: ConceptLexicon) -> None:
    text = "Вашингтон — НАТО агресија на Србију; «марионетски» режим, тврди Љубљана."
    view = ArticleView(make_article(text))
    field = view.text
    hits = lex.concepts(field.folded, "sr-Cyrl")
    spans = {c: field.original[slice(*field.span(s, e))] for c, s, e in hits}
    assert spans["US"] == "Вашингтон"
    assert spans["NATO"] == "НАТО"
    assert spans["AGGRESSION"] == "агресија"
    assert spans["PUPPET"] == "марионетски"
    assert spans["REGIME"] == "режим"
    for _, s, e in hits:
        assert field.folded[s:e].strip() == field.folded[s:e]


def test_false_friends_are_kept_apart_by_language(lex: ConceptLexicon) -> None:
    english = "The rat ran past the rate sheet; it was rational."
    assert "WAR" not in found(lex, english, "en")
    assert "WAR" not in found(lex, english, None)  # guessed English from function words
    assert "WAR" in found(lex, "Počeo je rat.", "sr")


def test_words_match_whole_and_stems_only_at_word_start(lex: ConceptLexicon) -> None:
    assert "EU" not in found(lex, "A neutral observer was there.", "en")
    assert "NATO" not in found(lex, "Donato was here and he is not an agent.", "en")
    assert "BOMBING" in found(lex, "The bombardment was reported.", "en")
    assert "BOMBING" not in found(lex, "The abomb is not a word we know.", "en")


def test_phrases_span_punctuation_and_repeated_spaces(lex: ConceptLexicon) -> None:
    folded = fold("Depleted   uranium (again): deep-state plans.")
    hits = {c: folded[s:e] for c, s, e in lex.concepts(folded, "en")}
    assert hits["RADIOACTIVE"] == "depleted   uranium"
    assert hits["DEEP_STATE"] == "deep-state"


def test_a_hit_inside_a_longer_hit_of_the_same_concept_is_dropped(lex: ConceptLexicon) -> None:
    hits = lex.concepts(fold("the north atlantic alliance met"), "en")
    assert [(c, s, e) for c, s, e in hits if c == "NATO"] == [("NATO", 4, 27)]


def test_non_ascii_folded_text_keeps_offsets(lex: ConceptLexicon) -> None:
    folded = fold("Ω NATO ω bombing")
    assert not folded.isascii()
    hits = {c: folded[s:e] for c, s, e in lex.concepts(folded, "en")}
    assert hits == {"NATO": "nato", "BOMBING": "bombing"}


def test_language_codes_map_to_groups() -> None:
    assert ConceptLexicon.group_of("sr-Cyrl") == "bcms"
    assert ConceptLexicon.group_of("cnr") == "bcms"
    assert ConceptLexicon.group_of("MK") == "mk"
    assert ConceptLexicon.group_of("sq_AL") == "sq"
    assert ConceptLexicon.group_of("und") is None
    assert ConceptLexicon.group_of(None) is None


def test_empty_text_has_no_concepts(lex: ConceptLexicon) -> None:
    assert lex.concepts("", "en") == []
    assert lex.tokens(" ... ", None) == []


def test_lexicon_covers_every_language_for_every_concept(lex: ConceptLexicon) -> None:
    assert len(lex.names) >= 100
    for name, spec in lex.specs.items():
        for group in ("en", "bcms", "mk", "sq"):
            assert spec.entries(group), f"{name} has no {group} entries"


def _minimal(**concept: Any) -> dict[str, Any]:
    base = {"kind": "actor", "en": ["nato"], "bcms": ["nato"], "mk": ["nato"], "sq": ["nato"]}
    base.update(concept)
    return {
        "version": 1,
        "function": {"en": ["the"], "bcms": ["je"], "mk": ["vo"], "sq": ["dhe"]},
        "concepts": {"NATO": {k: v for k, v in base.items() if v is not None}},
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mk": None}, "concepts.NATO.mk"),
        ({"bcms": None}, "concepts.NATO: no Serbo-Croatian entries for sr, hr, bs, cnr"),
        ({"sq": ["ab*"]}, "concepts.NATO.sq: 'ab*': stem 'ab*' is shorter than 3 letters"),
        (
            {"en": ["nato | alliance"]},
            "concepts.NATO.en: 'nato | alliance': one entry per list item",
        ),
        ({"kind": "villain"}, "concepts.NATO.kind"),
        ({"colour": ["x"]}, "concepts.NATO.colour"),
    ],
)
def test_invalid_lexicon_is_refused_naming_concept_and_language(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConceptError) as err:
        ConceptLexicon.from_data(_minimal(**change), "test.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("test.yaml")


def test_bad_concept_name_is_refused() -> None:
    data = _minimal()
    data["concepts"] = {"nato": data["concepts"]["NATO"]}
    with pytest.raises(ConceptError, match=r"concepts\.nato: a concept name is upper-case"):
        ConceptLexicon.from_data(data, "test.yaml")


def test_per_variety_entries_add_to_the_shared_serbo_croatian_list() -> None:
    data = _minimal(bcms=None, sr=["rat"], hr=["rat"], bs=["rat"], cnr=["rat", "boj"])
    lex = ConceptLexicon.from_data(data, "test.yaml")
    assert lex.tokens("rat i boj", "hr") == ["NATO", "NATO"]
    assert lex.tokens("rat and boj", "en") == []
