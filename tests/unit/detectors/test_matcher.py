"""The compiled matcher: folding, stems, word boundaries, phrases, proximity."""

from __future__ import annotations

import random

import pytest

from detectors.matcher import (
    WORD,
    Matcher,
    PatternError,
    Rule,
    _token_bounds,
    parse_alternatives,
    parse_phrase,
    token_stream,
    words,
)
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


def _random_folded(seed: int, count: int) -> list[str]:
    """Random folded-looking text: words, runs of separators, sometimes non-ASCII."""
    rng = random.Random(seed)
    alphabet = "ab z9_ ,.\n\t-'\"  \x1c"
    out = []
    for i in range(count):
        # short (str.replace path) and article-sized (numpy path) texts
        size = rng.choice([0, 1, 3, 40, 700, 2000])
        text = "".join(rng.choice(alphabet) for _ in range(size))
        if i % 7 == 0:
            text += " αβγ ž"  # a fold may leave non-ASCII letters
        out.append(text)
    return out


def test_token_stream_is_the_words_joined_by_single_spaces() -> None:
    for text in _random_folded(1, 600):
        tokens = words(text)
        expected = f" {' '.join(tokens)} " if tokens else ""
        assert token_stream(text) == expected, repr(text[:80])


def test_token_bounds_are_the_word_spans_of_the_folded_text() -> None:
    for text in _random_folded(2, 300):
        starts, ends = _token_bounds(text)
        spans = [m.span() for m in WORD.finditer(text)]
        assert [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)] == spans


def test_scan_tokens_are_the_words_of_the_text() -> None:
    scan = Matcher([rule("r", "nato")]).scan(fold("NATO, (again) — 1999!"))
    assert scan.tokens == ["nato", "again", "1999"]


def test_several_stems_inside_a_phrase_each_take_any_ending() -> None:
    m = Matcher([rule("r", "bombard* yugoslav* cit*")])
    assert hits(m, "they bombarded Yugoslavian cities") == ["r"]
    assert hits(m, "they bombarded Yugoslavian towns") == []
    assert hits(m, "they bombarded Yugoslavian") == []  # the text ends before the phrase does
    assert hits(m, "bombard yugoslav cit") == ["r"]  # a stem may be the whole word


def test_rule_hit_needs_every_component_from_any_alternative() -> None:
    m = Matcher([rule("r", "nato | alliance", "bomb* | strike*", window=4)])
    assert hits(m, "the alliance will strike") == ["r"]
    assert hits(m, "the alliance will talk") == []
