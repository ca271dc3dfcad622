"""`hybridwatch run --once` against a real local feed server, then `hybridwatch search`.

Proves: every article of the good feeds is stored; a Latin query finds the Cyrillic
article and a Cyrillic query the Latin one; bad feeds give per-source errors and no
crash; the narrative detector's signal and its alert are stored; a second run stores
nothing twice and alerts nobody twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.store.base import ArticleQuery, SignalQuery
from services.store.sqlite import SqliteStore
from tests.e2e.embedded_support import (
    ARTICLES_IN_GOOD_FEEDS,
    MK_ARTICLE_URL,
    RS_ARTICLE_URL,
    cli,
    parse_json_output,
    search_json,
    serve_feeds,
    write_config,
)
from tests.fixtures.http import FeedServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ran_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One `run --once` shared by the tests below (each only reads, or re-runs idempotently)."""
    tmp_path = tmp_path_factory.mktemp("run-once")
    with FeedServer() as server:
        config = write_config(tmp_path, serve_feeds(server))
        proc = cli("run", "--once", "--config", str(config), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        yield config, proc.stderr


def test_run_once_stores_every_article_and_reports_bad_sources(ran_once: tuple[Path, str]) -> None:
    config, stderr = ran_once
    store = SqliteStore.open(config.parent / "data")
    try:
        assert store.count_articles() == ARTICLES_IN_GOOD_FEEDS
        urls = {h.article.url for h in store.search_articles(ArticleQuery(limit=100))}
        assert {MK_ARTICLE_URL, RS_ARTICLE_URL} <= urls
    finally:
        store.close()
    assert "source syn-broken: error: not a well-formed feed" in stderr
    assert "source syn-boom: error: HTTP 500" in stderr
    assert "sources_ok=2, sources_failed=2, articles_new=4" in stderr


def test_latin_query_finds_the_cyrillic_article(ran_once: tuple[Path, str]) -> None:
    config, _ = ran_once
    (hit,) = search_json(config, "strumica")
    assert hit["url"] == MK_ARTICLE_URL
    assert hit["title"].startswith("Референдумот во Струмица")
    assert hit["source"]["country"] == "MK"
    assert hit["published"] == "2018-09-30T16:00:00Z"
    assert {"id", "url", "title", "published", "source", "signals"} <= set(hit)


def test_cyrillic_query_finds_the_latin_article(ran_once: tuple[Path, str]) -> None:
    config, _ = ran_once
    (hit,) = search_json(config, "Приштини")
    assert hit["url"] == RS_ARTICLE_URL and hit["source"]["country"] == "RS"
    assert search_json(config, "Приштини", "--country", "MK") == []
    assert search_json(config, "strumica", "--since", "2018-10-01") == []
    assert len(search_json(config, "strumica", "--until", "2018-09-30")) == 1


def test_narrative_signal_with_evidence_is_stored_and_alerted(ran_once: tuple[Path, str]) -> None:
    config, _ = ran_once
    (hit,) = search_json(config, "strumica", "--flagged")
    narrative = [s for s in hit["signals"] if s["detector"] == "narrative"]
    assert narrative and narrative[0]["narrative"] == "nato-aggression"
    for ev in narrative[0]["evidence"]:
        assert hit[ev["field"]][ev["start"] : ev["end"]] == ev["text"]
    alerts = [
        json.loads(line)
        for line in (config.parent / "data" / "alerts.jsonl").read_text("utf-8").splitlines()
    ]
    assert len(alerts) == 1
    assert alerts[0]["country"] == "MK" and alerts[0]["subscription_id"] == "console"
    assert set(alerts[0]["signals"]) <= {s["id"] for s in hit["signals"]}


def test_every_stored_article_is_archived_for_replay(ran_once: tuple[Path, str]) -> None:
    from ingest.archive import Archive

    config, _ = ran_once
    store = SqliteStore.open(config.parent / "data")
    try:
        stored = {h.article.id for h in store.search_articles(ArticleQuery(limit=1000))}
    finally:
        store.close()
    archive = Archive(config.parent / "data" / "archive")
    try:
        assert {a.id for a in archive.read()} == stored
    finally:
        archive.close()


def test_broken_feed_shows_as_a_per_source_error_in_sources(ran_once: tuple[Path, str]) -> None:
    config, _ = ran_once
    proc = cli("sources", "--json", "--config", str(config), cwd=config.parent)
    assert proc.returncode == 0, proc.stderr
    data = parse_json_output(proc.stdout)
    items = data if isinstance(data, list) else data.get("sources", data.get("items"))
    by_id = {s["id"]: s for s in items}
    assert by_id["syn-mk"]["status"] == "ok" and by_id["syn-mk"]["last_error"] is None
    assert by_id["syn-broken"]["status"] == "failing"
    assert "not a well-formed feed" in by_id["syn-broken"]["last_error"]
    assert "HTTP 500" in by_id["syn-boom"]["last_error"]


def test_second_run_stores_nothing_twice_and_alerts_nobody_twice(
    ran_once: tuple[Path, str],
) -> None:
    config, _ = ran_once
    data = config.parent / "data"
    alerts_before = (data / "alerts.jsonl").read_text("utf-8")
    proc = cli("run", "--once", "--config", str(config), cwd=config.parent)
    assert proc.returncode == 0, proc.stderr
    assert "articles_new=0" in proc.stderr
    assert (data / "alerts.jsonl").read_text("utf-8") == alerts_before
    store = SqliteStore.open(data)
    try:
        assert store.count_articles() == ARTICLES_IN_GOOD_FEEDS
        assert len(store.get_signals(SignalQuery(detector="narrative"))) >= 1
    finally:
        store.close()


def test_bad_search_arguments_exit_2_with_a_message(ran_once: tuple[Path, str]) -> None:
    config, _ = ran_once
    proc = cli("search", "x", "--since", "last week", "--config", str(config), cwd=config.parent)
    assert proc.returncode == 2
    assert "--since: 'last week' is not a time" in proc.stderr
    proc = cli("search", "x", "--country", "Serbia", "--config", str(config), cwd=config.parent)
    assert proc.returncode == 2 and "--country" in proc.stderr


def test_readable_table_output(ran_once: tuple[Path, str]) -> None:
    config, _ = ran_once
    proc = cli("search", "strumica", "--config", str(config), cwd=config.parent)
    assert proc.returncode == 0, proc.stderr
    assert MK_ARTICLE_URL in proc.stdout and "1 article(s)" in proc.stdout


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("sources: []\ndata_dir: /etc/passwd/x\n", "data_dir: cannot use /etc/passwd/x"),
        ("sources: []\ndetectors: {enabled: [nope]}\n", "unknown detector 'nope'"),
        (
            "sources: []\ndetectors: {options: {narrative: {bogus: 1}}}\n",
            "detectors.options.narrative: bogus",
        ),
        (
            "sources: [{id: x, outlet: X, country: Serbia, feed_url: 'ftp://x'}]\n",
            "sources.0.country",
        ),
    ],
    ids=["data-dir-not-a-directory", "unknown-detector", "bad-detector-option", "bad-source"],
)
def test_bad_configuration_is_a_clear_error_not_a_crash(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    proc = cli("run", "--once", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
