"""Canonical URLs: the identity behind Article.id."""

from __future__ import annotations

import pytest

from ingest.canonical import BadUrl, canonical_url, domain_of, is_tracking_param


def test_tracking_parameters_are_dropped_and_the_rest_sorted() -> None:
    url = "https://Vesti.Example.rs/a/b?utm_source=fb&b=2&fbclid=XYZ&a=1&gclid=1&utm_campaign=x"
    assert canonical_url(url) == "https://vesti.example.rs/a/b?a=1&b=2"


def test_scheme_host_case_default_port_and_fragment_are_normalised() -> None:
    assert (
        canonical_url("HTTPS://WWW.Blic.RS:443/vesti/x#comments") == "https://www.blic.rs/vesti/x"
    )
    assert canonical_url("http://example.mk:8080/x") == "http://example.mk:8080/x"


def test_relative_links_resolve_against_the_feed_url() -> None:
    assert (
        canonical_url("/drustvo/vest?utm_medium=rss", base="https://n1info.rs/feed/")
        == "https://n1info.rs/drustvo/vest"
    )


def test_non_ascii_paths_are_percent_encoded_once() -> None:
    raw = canonical_url("https://example.rs/вести/1")
    encoded = canonical_url("https://example.rs/%D0%B2%D0%B5%D1%81%D1%82%D0%B8/1")
    assert raw == encoded == "https://example.rs/%D0%B2%D0%B5%D1%81%D1%82%D0%B8/1"


def test_trailing_slash_is_kept_because_it_can_name_another_page() -> None:
    assert canonical_url("https://example.hr/a/") != canonical_url("https://example.hr/a")


@pytest.mark.parametrize(
    "bad", ["mailto:x@example.rs", "javascript:alert(1)", "ftp://example.rs/x", "http:///nohost"]
)
def test_non_http_urls_are_rejected(bad: str) -> None:
    with pytest.raises(BadUrl):
        canonical_url(bad)


def test_tracking_param_names_are_recognised_case_insensitively() -> None:
    assert (
        is_tracking_param("UTM_Source")
        and is_tracking_param("fbclid")
        and not is_tracking_param("id")
    )


def test_domain_drops_leading_www() -> None:
    assert domain_of("https://www.rts.rs/rss/vesti") == "rts.rs"
