"""The default sources registry and the script that builds it."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import yaml

from hybridwatch.config import default_sources_file, load_settings, load_sources
from hybridwatch.events import WESTERN_BALKANS

ROOT = Path(__file__).resolve().parents[3]


def _build_module():  # scripts/ is not a package
    spec = importlib.util.spec_from_file_location(
        "build_sources", ROOT / "scripts" / "build_sources.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_default_registry_loads_with_default_settings() -> None:
    sources = load_sources(load_settings(environ={}))
    assert len(sources) > 100
    assert {s.country for s in sources} == set(WESTERN_BALKANS)
    assert all(s.feed_url.startswith(("http://", "https://")) for s in sources)


def test_registry_tags_public_broadcasters_state_media_and_watchlist_outlets() -> None:
    by_id = {s.id: s for s in load_sources(load_settings(environ={}))}
    assert "public-broadcaster" in by_id["rts.rs"].tags
    assert "state-affiliated" in by_id["sputnikportal.rs"].tags
    assert any("watchlist" in s.tags for s in by_id.values())


def test_every_registry_entry_names_where_its_address_is_documented() -> None:
    text = default_sources_file().read_text(encoding="utf-8")
    entries = yaml.safe_load(text)["sources"]
    assert text.count("\n  # from ") == len(entries)


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_build_is_deterministic_dedupes_domains_and_prefers_general_https_feeds(
    tmp_path: Path,
) -> None:
    # Synthetic input rows in the shape of balkan-feeds.csv.
    feeds = tmp_path / "feeds.csv"
    watch = tmp_path / "watch.csv"
    header = ["country_iso2", "outlet", "domain", "feed_url", "language", "source_repo_path"]
    _write_csv(feeds, header, [
        ["RS", "Primer", "primer.rs", "http://www.primer.rs/rss/sport", "sr", "a/b:c@1"],
        ["RS", "Primer", "primer.rs", "http://www.primer.rs/feed/", "sr", "a/b:c@1"],
        ["RS", "Primer", "primer.rs", "https://www.primer.rs/feed/", "sr", "a/b:c@1"],
        ["RS", "Primer", "primer.rs", "https://www.primer.rs/rss/politika", "sr", "a/b:c@1"],
        ["AL", "Lajme EN", "lajme.al", "https://lajme.al/en/feed/", "sq", "d/e:f@2"],
        ["DE", "Elsewhere", "example.de", "https://example.de/feed/", "de", "g/h:i@3"],
    ])  # fmt: skip
    _write_csv(
        watch,
        ["outlet", "domain", "country", "why_listed", "source_repo_path"],
        [["Primer", "primer.rs", "RS", "x", "y"]],
    )
    mod = _build_module()
    first, notes = mod.build(feeds, watch)
    again, _ = mod.build(feeds, watch)
    assert mod.render(first) == mod.render(again)
    assert [(s["id"], s["feed_url"]) for s in first] == [
        ("lajme.al", "https://lajme.al/en/feed/"),
        ("primer.rs", "https://www.primer.rs/feed/"),
        ("primer.rs-politika", "https://www.primer.rs/rss/politika"),
    ]
    assert first[0]["language"] == "en" and any("-> en" in n for n in notes)
    assert first[1]["tags"] == ["watchlist"]
    out = tmp_path / "sources.yaml"
    out.write_text(mod.render(first), encoding="utf-8")
    assert (
        load_sources(load_settings(environ={}, overrides={"sources_file": str(out)}))[2].id
        == "primer.rs-politika"
    )
