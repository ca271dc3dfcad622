"""Script and diacritic folding, and the offset map detectors rely on for evidence."""

from __future__ import annotations

import pytest

from hybridwatch.textfold import cyrillic_share, fold, fold_with_offsets, source_span


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
