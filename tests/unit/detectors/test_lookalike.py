"""Look-alike domains: impersonations of reputable outlets are caught and explained;
the outlets themselves and real neighbours are left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.domains import normalise_host, registrable, url_host
from detectors.lookalike import LookalikeDetector, LookalikeIndex, levenshtein, skeleton
from detectors.pipeline import DetectorSuite
from detectors.reference_data import DataFileError, load_reputable
from detectors.registry import build
from detectors.view import ArticleView
from hybridwatch.events import Signal
from tests.unit.detectors._stateful import article


@pytest.fixture(scope="module")
def det() -> LookalikeDetector:
    d = build("lookalike")
    assert isinstance(d, LookalikeDetector)
    return d


def _one(det: LookalikeDetector, url: str, domain: str = "") -> Signal:
    a = article("l1", url=url, domain=domain or normalise_host(url.split("/")[2]))
    [sig] = det.detect(ArticleView(a), {})
    ev = sig.evidence[0]
    assert ev.field == "url" and a.url[ev.start : ev.end] == ev.text
    return sig


def test_hyphenated_brand_on_another_tld_is_flagged_high(det: LookalikeDetector) -> None:
    sig = _one(det, "https://bbc-news.mk/world/story-1")
    assert sig.details["rule"] == "brand-hyphenated"
    assert sig.details["imitates"]["brand"] == "bbc"
    assert sig.severity == "high" and sig.evidence[0].text == "bbc-news.mk"


def test_cyrillic_homoglyph_in_punycode_host_is_flagged(det: LookalikeDetector) -> None:
    host = "bbс.com".encode("idna").decode()  # Cyrillic "с"
    assert host.startswith("xn--")
    sig = _one(det, f"https://{host}/news")
    assert sig.details["rule"] == "homoglyph"
    assert sig.details["host"] == "bbс.com"
    assert sig.evidence[0].text == host


@pytest.mark.parametrize(
    ("url", "rule", "brand"),
    [
        ("https://reutres.com/a", "typosquat", "reuters"),  # swapped letters
        ("https://balkanlnsight.com/a", "typosquat", "balkaninsight"),
        ("https://www.rnrt.com.mk/vesti", "homoglyph", "mrt"),  # rn renders like m
        ("https://n1info.rs.world-news.example/a", "brand-subdomain", "n1info"),
        ("https://reutersnews.net/a", "brand-embedded", "reuters"),
    ],
)
def test_typos_and_visual_tricks(det: LookalikeDetector, url: str, rule: str, brand: str) -> None:
    a = article("l2", url=url, domain="")
    sigs = det.detect(ArticleView(a), {})
    [sig] = sigs
    assert (sig.details["rule"], sig.details["imitates"]["brand"]) == (rule, brand)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.bbc.com/serbian/lat/srbija-1",
        "https://news.bbc.co.uk/a",
        "https://n1info.ba/vijesti/a",
        "https://www.rferl.org/a/1.html",
        "https://rts.ch/info/a",  # Swiss RTS: a real, different outlet
        "https://b1info.ba/a",  # real Bosnian portal one edit from n1info
        "https://rtv.rs/sr_lat/a",  # short brands get no edit distance
        "https://regional-daily.example/a",
    ],
)
def test_real_outlets_and_near_neighbours_are_not_flagged(det: LookalikeDetector, url: str) -> None:
    a = article("l3", url=url, domain="")
    assert det.detect(ArticleView(a), {}) == []


def test_exact_brand_under_other_suffix_is_medium_and_does_not_flag_alone() -> None:
    suite = DetectorSuite([build("lookalike")])
    res = suite.process(article("l4", url="https://bbc.mk/a", domain="bbc.mk"), {})
    [sig] = res.signals
    assert sig.details["rule"] == "brand-other-tld" and sig.severity == "medium"
    assert not res.flagged


def test_impersonation_flags_the_article_on_its_own() -> None:
    suite = DetectorSuite([build("lookalike")])
    res = suite.process(article("l5", url="https://bbc-news.mk/a", domain="bbc-news.mk"), {})
    assert res.flagged


def test_match_on_source_domain_outside_the_url_explains_missing_span(
    det: LookalikeDetector,
) -> None:
    a = article("l6", url="https://aggregator.example/x", domain="reuters-balkan.com")
    [sig] = det.detect(ArticleView(a), {})
    assert sig.evidence == () and sig.details["matched_on"] == "source.domain"
    assert "note" in sig.details


def test_skeleton_folds_confusables() -> None:
    assert skeleton("раураl") == "paypal"
    assert skeleton("rnrt") == "mrt"
    assert skeleton("n1info") == skeleton("nlinfo")


def test_levenshtein_counts_transpositions_and_stops_at_bound() -> None:
    assert levenshtein("reuters", "reutres", 2) == 1
    assert levenshtein("kitten", "sitting", 5) == 3
    assert levenshtein("abcdefgh", "zzzzzzzz", 2) == 3


def test_registrable_label_handles_second_level_suffixes() -> None:
    assert registrable("vesti.mrt.com.mk") == ("mrt", "com.mk")
    assert registrable("news.bbc-news.mk") == ("bbc-news", "mk")


def test_index_answers_from_cache_consistently() -> None:
    idx = LookalikeIndex(load_reputable())
    first = idx.check("bbc-news.mk")
    assert first is not None and idx.check("bbc-news.mk") is first


def test_bad_reputable_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "rep.yaml"
    bad.write_text("outlets:\n  - {brand: BBC!, name: x, domains: [bbc.com]}\n")
    with pytest.raises(DataFileError, match=r"outlets\.0\.brand"):
        load_reputable(bad)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.bbc.com/a?b#c", "www.bbc.com"),
        ("http://user:pw@x.example:8080/p", "x.example"),
        ("https://a.b.example?x=1", "a.b.example"),
        ("//cdn.example/x", "cdn.example"),
        ("not a url", ""),
    ],
)
def test_url_host_matches_what_the_browser_shows(url: str, host: str) -> None:
    assert url_host(url) == host


def test_host_normalisation_decodes_idn_and_drops_www_and_port() -> None:
    assert normalise_host("WWW.Example.RS:443") == "example.rs"
    assert normalise_host("xn--bb-pmc.com") == "bbс.com"
