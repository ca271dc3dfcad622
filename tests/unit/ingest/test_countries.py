"""Countries mentioned: names and capitals in every script and language of the region."""

from __future__ import annotations

import pytest

from ingest.countries import countries_mentioned


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Вучић у Београду", ("RS",)),
        ("Премиерот на Северна Македонија во Скопје", ("MK",)),
        ("Kryeministri i Kosovës në Prishtinë", ("XK",)),
        ("Sjednica u Sarajevu o budućnosti BiH", ("BA",)),
        ("Dodik: Republika Srpska neće", ("BA",)),
        ("Vlada Crne Gore u Podgorici", ("ME",)),
        ("sa Crnom Gorom", ("ME",)),
        ("Takimi në Tiranë për Malin e Zi", ("AL", "ME")),
        ("Plenković u Zagrebu", ("HR",)),
        ("Serbia and Kosovo talks in Brussels", ("RS", "XK")),
    ],
)
def test_country_names_and_capitals_are_found(text: str, expected: tuple[str, ...]) -> None:
    assert countries_mentioned(text) == expected


@pytest.mark.parametrize(
    "text", ["srpski jezik i kultura", "tiranin je pao", "Bosch i Pristanište", ""]
)
def test_near_misses_are_not_mentions(text: str) -> None:
    assert countries_mentioned(text) == ()
