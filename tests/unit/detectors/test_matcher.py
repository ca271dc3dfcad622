"""The compiled matcher: folding, stems, word boundaries, phrases, proximity."""

from __future__ import annotations

import pytest

from detectors.matcher import Matcher, PatternError, Rule, parse_alternatives, parse_phrase
from hybridwatch.textfold import _fold_with_offsets_reference, fold, fold_with_offsets


def rule(rid: str, *components: str, window: int = 0) -> Rule:
    return Rule(rid, "g", tuple(parse_alternatives(c) for c in components), window)


def hits(matcher: Matcher, text: str) -> list[str]:
    return sorted(h.rule.id for h in matcher.scan(fold(text)).hits)


def test_term_written_in_latin_matches_cyrillic_and_diacritics() -> None:
    m = Matcher([rule("r", "nato agresija")])
    assert hits(m, "НАТО агресија на СРЈ") == ["r"]
    assert hits(m, "NATO AGRESIJA") == ["r"]


def test_stem_matches_inflected_forms_but_not_other_words() -> None:
    m = Matcher([rule("r", "bombardovanj*")])
    for form in ("bombardovanje", "bombardovanja", "бомбардовању"):
        assert hits(m, f"posle {form} 1999") == ["r"], form
    assert hits(m, "prebombardovanje") == []  # the stem must start a word


def test_exact_word_needs_both_boundaries() -> None:
    m = Matcher([rule("r", "nato")])
    assert hits(m, "the nato summit") == ["r"]
    assert hits(m, "donator") == []
    assert hits(m, "natobase") == []


def test_phrase_survives_punctuation_and_line_breaks_between_words() -> None:
    m = Matcher([rule("r", "lažna vijest")])
    assert hits(m, "LAŽNA —\n  vijest!") == ["r"]


def test_stem_inside_a_phrase_is_checked_after_the_automaton_hit() -> None:
    m = Matcher([rule("r", "bombard* yugoslav*")])
    assert hits(m, "they bombarded Yugoslavia") == ["r"]
    assert hits(m, "they bombarded Belgrade") == []


def test_phrases_sharing_a_key_keep_their_own_boundaries() -> None:
    m = Matcher([rule("stem", "nato bomb*"), rule("exact", "nato bomb")])
    assert hits(m, "nato bombing") == ["stem"]
    assert hits(m, "nato bomb") == ["exact", "stem"]


def test_proximity_rule_needs_every_component_within_the_window() -> None:
    m = Matcher([rule("r", "nato", "agresij* | okupacij*", window=3)])
    assert hits(m, "agresija koju je izveo NATO") == ["r"]
    assert hits(m, "NATO je one godine posle dugih pregovora izveo agresiju") == []


def test_one_word_cannot_satisfy_two_components() -> None:
    m = Matcher([rule("r", "nato", "nato*", window=5)])
    assert hits(m, "nato") == []
    assert hits(m, "nato and natos") == ["r"]


def test_token_spans_map_back_to_the_folded_text() -> None:
    m = Matcher([rule("r", "velika albanija")])
    folded = fold("Ideja: Велика Албанија!")
    scan = m.scan(folded)
    (hit,) = scan.hits
    start, end = scan.char_span(*hit.spans[0])
    assert folded[start:end] == "velika albanija"


def test_invalid_patterns_are_rejected_with_the_reason() -> None:
    with pytest.raises(PatternError, match="shorter"):
        parse_phrase("ab*")
    with pytest.raises(PatternError, match="not a word"):
        parse_phrase("foo * bar")


def test_empty_matcher_and_empty_text() -> None:
    assert Matcher([]).scan("anything").hits == []
    assert Matcher([rule("r", "x y")]).scan("").hits == []


@pytest.mark.parametrize(
    "text",
    [
        "Đorđe Љубљана џак ѓубре ќерка ѕвезда",
        "Shqipëri çështje",
        "İstanbul ß ﬁ ŉ",
        "emoji 😀 and 中文 mixed with Ђ",
        "plain ascii",
        "",
    ],
)
def test_fast_fold_equals_the_reference_fold(text: str) -> None:
    assert fold_with_offsets(text) == _fold_with_offsets_reference(text)
    assert fold(text) == _fold_with_offsets_reference(text)[0]
