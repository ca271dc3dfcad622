"""Normalisation: HTML to text, time policy, script folding into text_latn, source, countries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hybridwatch.config import SourceConfig
from hybridwatch.textfold import fold
from ingest.normalise import FUTURE_TOLERANCE, html_to_text, normalise, publication_time
from ingest.parse import RawEntry

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SR = SourceConfig(
    id="rts",
    outlet="RTS",
    country="RS",
    language="sr",
    feed_url="https://www.rts.rs/rss",
    tags=("public-broadcaster",),
)
MK = SourceConfig(
    id="mia", outlet="MIA", country="MK", language="mk", feed_url="https://mia.mk/mk/rss"
)


def _entry(title: str, content: str = "", published: datetime | None = None) -> RawEntry:
    return RawEntry(
        guid=None,
        link="https://www.rts.rs/a/1",
        title=title,
        content=content,
        published=published,
        has_date=published is not None,
    )


def test_html_becomes_plain_text_with_lines_for_blocks_and_no_scripts() -> None:
    text = html_to_text(
        "<p>Prvi &amp; <b>drugi</b></p><p>Treći<br>red</p><script>evil()</script><style>p{}</style>"
    )
    assert text == "Prvi & drugi\nTreći\nred"


def test_entities_in_plain_text_are_unescaped() -> None:
    assert html_to_text("Vučić &quot;danas&quot; &#8211; izjava") == 'Vučić "danas" – izjava'


def test_missing_date_falls_back_to_fetch_time_and_is_marked() -> None:
    assert publication_time(_entry("x"), NOW) == (NOW, True)


def test_future_date_beyond_tolerance_is_clamped_and_marked() -> None:
    far = NOW + FUTURE_TOLERANCE + timedelta(minutes=1)
    near = NOW + timedelta(hours=2)
    assert publication_time(_entry("x", published=far), NOW) == (NOW, True)
    assert publication_time(_entry("x", published=near), NOW) == (near, False)


def test_serbian_cyrillic_is_folded_to_ascii_latin_in_text_latn() -> None:
    article = normalise(_entry("Вучић у Београду", "<p>Ђаци и џемпери у Нишу</p>"), SR, NOW)
    assert article.text_latn == "vucic u beogradu\ndjaci i dzemperi u nisu"
    assert article.text_latn == fold(article.title + "\n" + article.text)


def test_macedonian_letters_fold_to_their_latin_digraphs() -> None:
    article = normalise(_entry("Ѓорѓе и Ќерка во Ѕвездара"), MK, NOW)
    assert article.text_latn == "gjorgje i kjerka vo dzvezdara"


def test_latin_diacritics_fold_so_every_spelling_matches() -> None:
    assert (
        fold("Priština Đakovica Shqipëri Çamëri")
        == fold("Приштина Ђаковица") + " shqiperi camer" + "i"
    )


def test_article_carries_source_language_countries_and_utc_time() -> None:
    published = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    article = normalise(
        _entry(
            "Влада Србије о разговорима у Приштини",
            "Министар је разговарао о сарадњи са Црном Гором.",
            published,
        ),
        SR,
        NOW,
    )
    assert article.source.id == "rts" and article.source.domain == "rts.rs"
    assert article.source.tags == ("public-broadcaster",)
    assert article.language == "sr-Cyrl"
    assert article.countries == ("ME", "RS", "XK")
    assert article.published == published and not article.published_estimated
    assert article.fetched == NOW


def test_title_markup_is_stripped_to_one_line() -> None:
    article = normalise(_entry("<b>Naslov</b><br>drugi red"), SR, NOW)
    assert article.title == "Naslov drugi red"


def test_macedonian_accented_letters_leave_no_cyrillic_in_text_latn() -> None:
    article = normalise(_entry("Тоа е сѐ што ѝ рече"), MK, NOW)
    assert article.text_latn == "toa e se sto i rece"
    assert article.text_latn.isascii()
