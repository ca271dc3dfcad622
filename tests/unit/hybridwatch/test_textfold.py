"""Script and diacritic folding, and the offset map detectors rely on for evidence."""

from __future__ import annotations

import random

import pytest

from hybridwatch.textfold import (
    _fold_with_offsets_reference,
    cyrillic_share,
    fold,
    fold_aligned,
    fold_offsets,
    fold_with_offsets,
    source_span,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Приштина", "pristina"),
        ("Priština", "pristina"),
        ("Ђоковић", "djokovic"),
        ("Đoković", "djokovic"),
        ("Њујорк", "njujork"),
        ("џемпер", "dzemper"),
        ("Ѓорче Петров", "gjorce petrov"),  # Macedonian ѓ
        ("Скопје", "skopje"),
        ("ќерка", "kjerka"),  # Macedonian ќ
        ("ѕвезда", "dzvezda"),  # Macedonian ѕ
        ("Shqipëri", "shqiperi"),
        ("çështje", "ceshtje"),
        ("ČĆŽŠ", "cczs"),
        ("«Референдум»", '"referendum"'),
        ("plain ASCII", "plain ascii"),
    ],
)
def test_fold_maps_every_script_to_one_latin_form(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_cyrillic_and_latin_spellings_fold_equal() -> None:
    assert fold("Северна Македонија") == fold("Severna Makedonija")
    assert fold("ЦРНА ГОРА") == fold("Crna Gora")


def test_offsets_map_folded_spans_back_to_original_text() -> None:
    text = "Влада у Београду: Ђоковић и Њујорк"
    folded, offsets = fold_with_offsets(text)
    assert len(offsets) == len(folded) + 1
    for word in ("djokovic", "njujork", "beogradu"):
        i = folded.index(word)
        s, e = source_span(offsets, i, i + len(word))
        assert fold(text[s:e]) == word


def test_offsets_of_ascii_text_are_identity() -> None:
    folded, offsets = fold_with_offsets("NATO Bombing")
    assert folded == "nato bombing"
    assert offsets == list(range(13))


def test_cyrillic_share_tells_scripts_apart() -> None:
    assert cyrillic_share("Београд је главни град") == 1.0
    assert cyrillic_share("Beograd je glavni grad") == 0.0
    assert cyrillic_share("1234 !!") == 0.0


def _random_texts(seed: int, count: int) -> list[str]:
    """Random strings over the whole folding table, Cyrillic, Latin and beyond it."""
    rng = random.Random(seed)
    pools = [
        range(0x3000),  # everything the table covers, incl. surrogates and NFKD expansions
        range(0x400, 0x530),  # Cyrillic: letters folding to two (љ њ џ ѓ ќ ѕ) and none (ь ъ)
        range(0x250),  # Latin with diacritics
        [*range(0x1F600, 0x1F610), *range(0xFB00, 0xFB07), *range(0x20, 0x7F)],  # beyond it
    ]
    return [
        "".join(chr(rng.choice(pools[i % len(pools)])) for _ in range(rng.randint(0, 40)))
        for i in range(count)
    ]


def test_table_fold_equals_the_per_character_reference_on_random_text() -> None:
    for text in _random_texts(1, 4000):
        folded, offsets = _fold_with_offsets_reference(text)
        assert fold(text) == folded, ascii(text)
        assert fold_with_offsets(text) == (folded, offsets), ascii(text)
        array = fold_offsets(text)
        if array is not None:  # None only for text outside the table (slow path)
            assert array.tolist() == offsets, ascii(text)


def test_every_code_point_of_the_table_folds_like_the_reference() -> None:
    for cp in range(0x3000):
        text = f"Ж{chr(cp)}ab"  # non-ASCII context, so the table path runs
        assert fold_with_offsets(text) == _fold_with_offsets_reference(text), hex(cp)


def test_aligned_fold_means_identity_offsets() -> None:
    aligned_seen = 0
    for text in [*_random_texts(2, 3000), "Priština čćžšđ", "Shqipëri"]:
        folded, aligned = fold_aligned(text)
        assert folded == fold(text)
        if aligned:
            aligned_seen += 1
            assert fold_with_offsets(text)[1] == list(range(len(text) + 1)), ascii(text)
    assert aligned_seen > 100
    assert fold_aligned("Priština Shqipëri") == ("pristina shqiperi", True)
    assert fold_aligned("Ђоковић") == ("djokovic", False)  # ђ folds to two letters
