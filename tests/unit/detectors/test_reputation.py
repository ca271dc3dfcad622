"""Source reputation: watch-listed outlets are explained, cited and never flag alone."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from detectors.base import DetectorConfigError
from detectors.pipeline import DetectorSuite
from detectors.reference_data import DataFileError, load_watchlist
from detectors.registry import build
from detectors.reputation import ReputationDetector, listing_severity
from detectors.view import ArticleView
from hybridwatch.events import Signal
from tests.unit.detectors._stateful import article


def _detect(det: ReputationDetector, **kw: object) -> list[Signal]:
    return det.detect(ArticleView(article("r1", **kw)), {})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def det() -> ReputationDetector:
    d = build("reputation")
    assert isinstance(d, ReputationDetector)
    return d


def test_state_affiliated_outlet_is_medium_with_reason_citation_and_url_span(
    det: ReputationDetector,
) -> None:
    url = "https://lat.sputnikportal.rs/20180920/some-story.html"
    [sig] = _detect(det, url=url, domain="sputnikportal.rs", country="RS")
    assert sig.detector == "reputation" and sig.severity == "medium"
    assert sig.score < 0.5
    ev = sig.evidence[0]
    assert ev.field == "url" and url[ev.start : ev.end] == ev.text == "lat.sputnikportal.rs"
    assert sig.details["category"] == "state-affiliated"
    reasons = [li["reason"] for li in sig.details["listings"]]
    assert any("state-affiliated (Russia)" in r for r in reasons)
    assert any("EUvsDisinfo" in li["citation"] for li in sig.details["listings"])
    assert all(li["citation"] for li in sig.details["listings"])


def test_outlet_named_in_one_case_scores_lowest_and_does_not_flag_alone() -> None:
    wl = {e.id: e for e in load_watchlist().entries}
    assert wl["b92.net"].max_cases == 1
    assert listing_severity(wl["b92.net"]) == ("low", 0.05)
    suite = DetectorSuite([build("reputation")])
    res = suite.process(article("r2", domain="b92.net", country="RS"), {})
    assert [s.severity for s in res.signals] == ["low"]
    assert not res.flagged


def test_more_cases_weigh_more_than_fewer() -> None:
    wl = {e.id: e for e in load_watchlist().entries}
    assert listing_severity(wl["informer.rs"])[1] > listing_severity(wl["b92.net"])[1]
    assert listing_severity(wl["rt.com"])[1] >= listing_severity(wl["informer.rs"])[1]


def test_outlet_without_domain_matches_by_name_and_explains_the_missing_span(
    det: ReputationDetector,
) -> None:
    [sig] = _detect(
        det, outlet="IN4S", source="in4s-feed", domain="in4s-feed.example", country="ME"
    )
    assert sig.evidence == ()
    assert sig.details["matched_on"] == "source.outlet"
    assert "no_span" in sig.details


def test_source_domain_absent_from_url_gives_no_span_but_says_why(det: ReputationDetector) -> None:
    [sig] = _detect(
        det, domain="informer.rs", url="https://aggregator.example/item/1", country="RS"
    )
    assert sig.evidence == ()
    assert sig.details["matched_on"] == "source.domain"
    assert "no_span" in sig.details


def test_unlisted_outlet_gives_no_signal(det: ReputationDetector) -> None:
    assert _detect(det, domain="regional-daily.example") == []


def test_lookalike_of_listed_domain_is_not_a_listing(det: ReputationDetector) -> None:
    assert _detect(det, domain="notinformer.rs", url="https://notinformer.rs/a") == []


def test_min_cases_option_drops_thin_listings() -> None:
    d = build("reputation", {"min_cases": 2})
    assert d.detect(ArticleView(article("r3", domain="b92.net")), {}) == []
    assert d.detect(ArticleView(article("r4", domain="informer.rs")), {}) != []


def test_unknown_option_is_rejected_with_its_name() -> None:
    with pytest.raises(DetectorConfigError, match="min_case"):
        build("reputation", {"min_case": 2})


def test_broken_watchlist_file_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "wl.yaml"
    bad.write_text(
        yaml.safe_dump({"entries": [{"id": "x.rs", "outlet": "X", "category": "rumour"}]})
    )
    with pytest.raises(DataFileError) as err:
        load_watchlist(bad)
    msg = str(err.value)
    assert str(bad) in msg and "entries.0.category" in msg and "listings" in msg


def test_watchlist_entries_all_carry_reason_and_citation() -> None:
    wl = load_watchlist()
    assert len(wl.entries) >= 40
    for e in wl.entries:
        assert e.listings, e.id
        for li in e.listings:
            assert li.reason.strip() and li.citation.strip(), e.id


def test_build_script_merges_rows_by_domain_and_is_deterministic(tmp_path: Path) -> None:
    from scripts.build_watchlist import build as build_watchlist

    src = tmp_path / "outlets.csv"
    rows = [
        ("Synthetic One - Cyrillic", "one.example", "RS", 7),
        ("Synthetic One - Latin", "one.example", "RS", 3),
        ("Nameless Portal", "", "", 1),
    ]
    with src.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["outlet", "domain", "country", "why_listed", "source_repo_path"])
        for name, dom, cc, n in rows:
            w.writerow(
                [
                    name,
                    dom,
                    cc,
                    f"Named as an outlet in {n} EUvsDisinfo database case(s)",
                    "repo:path@abc",
                ]
            )
    first, second = build_watchlist(src), build_watchlist(src)
    assert first == second
    doc = yaml.safe_load(first)
    by_id = {e["id"]: e for e in doc["entries"]}
    one = by_id["one.example"]
    assert one["names"] == ["Synthetic One - Cyrillic", "Synthetic One - Latin"]
    assert [li["cases"] for li in one["listings"]] == [7, 3]
    assert by_id["nameless-portal"]["domains"] == []
    assert by_id["rt.com"]["category"] == "state-affiliated"  # curated entries merged in
