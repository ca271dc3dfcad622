"""Language detection constrained to the region, with script and configured fallbacks."""

from __future__ import annotations

import pytest

from ingest.language import detect_language


@pytest.mark.parametrize(
    ("text", "configured", "expected"),
    [
        ("Вучић је данас у Београду разговарао са представницима ЕУ о ђацима.", "sr", "sr-Cyrl"),
        ("Vučić je danas u Beogradu razgovarao sa predstavnicima EU o Kosovu.", "sr", "sr-Latn"),
        ("Владата на Северна Македонија денеска ќе одлучува за буџетот.", "mk", "mk"),
        ("Kryeministri i Kosovës takoi sot ambasadorin amerikan në Prishtinë.", "sr", "sq"),
        ("The prime minister met the ambassador today in the capital city.", "cnr", "en"),
    ],
)
def test_clear_cases_are_detected(text: str, configured: str, expected: str) -> None:
    assert detect_language(text, configured) == expected


def test_macedonian_letters_decide_even_if_the_source_is_serbian() -> None:
    assert (
        detect_language("Премиерот денес рече дека ќе ги пречека гостите во Скопје.", "sr") == "mk"
    )


def test_serbian_only_letters_decide_against_a_macedonian_source() -> None:
    assert detect_language("Ђорђе Ћосић је рекао да ће влада поднети извештај.", "mk") == "sr-Cyrl"


@pytest.mark.parametrize("configured", ["cnr", "bs", "hr"])
def test_bcms_latin_text_keeps_the_configured_variant(configured: str) -> None:
    text = "Premijer je danas u glavnom gradu razgovarao s predstavnicima vlade o budžetu."
    assert detect_language(text, configured) == configured


def test_short_text_takes_the_configured_language_with_script() -> None:
    assert detect_language("Вести", "sr") == "sr-Cyrl"
    assert detect_language("Vesti", "sr") == "sr-Latn"
    assert detect_language("Kosovo", "und") == "und"
