"""SQLite and the search engine give the same answers for the same (synthetic) data.

Loads one data set into both stores, then compares search, signal listing and the
dashboard aggregations for a battery of queries. Equality is on the full output
(every article, its signals, their order), not on counts.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from hybridwatch.config import StoreSettings
from hybridwatch.events import Article, Source
from hybridwatch.textfold import fold
from services.store.base import ArticleQuery, SignalQuery, Triage, TriageQuery
from services.store.search_engine import SearchEngineStore
from services.store.sqlite import SqliteStore
from tests.integration.search.synthetic import make_articles, make_signals

pytestmark = [pytest.mark.integration, pytest.mark.search]

T = datetime(2018, 9, 1, tzinfo=UTC)

ARTICLE_QUERIES = [
    ArticleQuery(limit=500),
    ArticleQuery(limit=7, offset=3),
    ArticleQuery(text="Приштина", limit=500),
    ArticleQuery(text="pristina", limit=500),
    ArticleQuery(text="PRIŠTINA referendum", limit=500),
    ArticleQuery(text="референдум NATO", limit=500),
    ArticleQuery(text="đoković", limit=500),
    ArticleQuery(text="djokovic beograd", limit=500),
    ArticleQuery(text="ljubav", limit=500),
    ArticleQuery(text="synthetic item 17", limit=500),
    ArticleQuery(text="czzsdj", limit=500),
    ArticleQuery(text="skop*", limit=500),
    ArticleQuery(text="!!!", limit=500),
    ArticleQuery(text="nonexistentword", limit=500),
    ArticleQuery(text="   ", limit=20),
    ArticleQuery(country="MK", limit=500),
    ArticleQuery(country="rs", text="vlada", limit=500),
    ArticleQuery(detector="burst", limit=500),
    ArticleQuery(narrative="anti-nato", limit=500),
    ArticleQuery(narrative="anti-nato", detector="narrative", country="BA", limit=500),
    ArticleQuery(flagged_only=True, limit=500),
    ArticleQuery(flagged_only=True, limit=10, offset=25),
    ArticleQuery(flagged_only=True, flag_threshold=0.9, limit=500),
    ArticleQuery(flagged_only=True, narrative="anti-eu", limit=500),
    # inflection, phrases, prefixes (the INFLECTED articles below)
    ArticleQuery(text="referendum", limit=500),
    ArticleQuery(text="референдумот", limit=500),
    ArticleQuery(text="referend*", limit=500),
    ArticleQuery(text="vlada", country="AL", limit=500),
    ArticleQuery(text='"referendumot e zakazan"', limit=500),
    ArticleQuery(text='"zakazan e referendumot"', limit=500),
    ArticleQuery(text='"Референдумот" skopje', limit=500),
    ArticleQuery(text='putin "', limit=500),
    ArticleQuery(triage="confirmed", limit=500),
    ArticleQuery(triage="false_positive", limit=500),
    ArticleQuery(triage="none", limit=20),
    ArticleQuery(severity="critical", limit=500),
    ArticleQuery(severity="low", narrative="anti-nato", flagged_only=True, limit=500),
    ArticleQuery(
        since=datetime(2018, 9, 2, 6, tzinfo=UTC),
        until=datetime(2018, 9, 3, 12, 3, tzinfo=UTC),
        limit=500,
    ),
    ArticleQuery(
        since=datetime(2018, 9, 2, tzinfo=UTC), text="kosovo", detector="watchlist", limit=500
    ),
]

SIGNAL_QUERIES = [
    SignalQuery(limit=1000),
    SignalQuery(limit=13, offset=40),
    SignalQuery(country="rs", limit=1000),
    SignalQuery(detector="coordination", severity="high", limit=1000),
    SignalQuery(narrative="kosovo-status", limit=1000),
    SignalQuery(
        since=datetime(2018, 9, 3, tzinfo=UTC), until=datetime(2018, 9, 5, tzinfo=UTC), limit=1000
    ),
]


@pytest.fixture(scope="module")
def both_stores(
    search_url: str, search_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, Any]]:
    """Both stores loaded once for the module (the queries only read)."""
    articles = make_articles(400) + inflected_articles()
    signals = make_signals(articles)
    alerts = _alerts(articles, signals)
    sqlite_dir = tmp_path_factory.mktemp("parity-sqlite")
    sqlite = SqliteStore.open(sqlite_dir)
    settings = StoreSettings(
        kind=search_kind, url=search_url, index_prefix=f"hwt-{uuid.uuid4().hex[:10]}-"
    )  # type: ignore[arg-type]
    engine = SearchEngineStore.open(settings)
    try:
        for store in (sqlite, engine):
            # written twice: a replay must not duplicate anything
            for _ in range(2):
                store.put_articles(articles)
                store.put_signals(signals)
                store.put_alerts(alerts)
                store.put_triage(_verdicts(articles, signals))
        engine.refresh()
        sqlite.data_dir = sqlite_dir  # type: ignore[attr-defined]  # for the CLI test below
        yield sqlite, engine
    finally:
        sqlite.close()
        engine.drop_all()
        engine.close()


def test_article_counts_agree_and_replays_do_not_duplicate(both_stores: tuple[Any, Any]) -> None:
    sqlite, engine = both_stores
    assert sqlite.count_articles() == engine.count_articles() == 400 + len(INFLECTED)


@pytest.mark.parametrize("query", ARTICLE_QUERIES, ids=lambda q: repr(q)[12:90])
def test_search_articles_gives_the_same_hits_in_the_same_order(
    both_stores: tuple[Any, Any], query: ArticleQuery
) -> None:
    sqlite, engine = both_stores
    want = [h.to_dict() for h in sqlite.search_articles(query)]
    got = [h.to_dict() for h in engine.search_articles(query)]
    assert [h["id"] for h in got] == [h["id"] for h in want]
    assert got == want
    assert engine.count_matching(query) == sqlite.count_matching(query)


def test_most_article_queries_find_something(both_stores: tuple[Any, Any]) -> None:
    """Guards the parity test against comparing empty lists with empty lists."""
    sqlite, _ = both_stores
    non_empty = sum(1 for q in ARTICLE_QUERIES if sqlite.search_articles(q))
    assert non_empty >= len(ARTICLE_QUERIES) - 4


def test_cyrillic_and_latin_queries_find_the_same_articles(both_stores: tuple[Any, Any]) -> None:
    _, engine = both_stores
    cyr = {h.article.id for h in engine.search_articles(ArticleQuery(text="Приштина", limit=500))}
    lat = {h.article.id for h in engine.search_articles(ArticleQuery(text="Pristina", limit=500))}
    assert cyr and cyr == lat


@pytest.mark.parametrize("query", SIGNAL_QUERIES, ids=lambda q: repr(q)[11:90])
def test_get_signals_gives_the_same_signals_in_the_same_order(
    both_stores: tuple[Any, Any], query: SignalQuery
) -> None:
    sqlite, engine = both_stores
    want = [s.to_dict() for s in sqlite.get_signals(query)]
    got = [s.to_dict() for s in engine.get_signals(query)]
    assert want, "query should match some signals"
    assert got == want


@pytest.mark.parametrize("by", ["country", "detector", "narrative", "severity", "day"])
@pytest.mark.parametrize(
    "query",
    [
        SignalQuery(),
        SignalQuery(country="MK"),
        SignalQuery(severity="critical", since=datetime(2018, 9, 4, tzinfo=UTC)),
    ],
    ids=["all", "MK", "critical-since"],
)
def test_dashboard_aggregations_agree(
    both_stores: tuple[Any, Any], query: SignalQuery, by: str
) -> None:
    sqlite, engine = both_stores
    want = sqlite.count_signals(query, by)
    assert want
    assert engine.count_signals(query, by) == want


def test_unknown_aggregation_key_is_refused_by_both(both_stores: tuple[Any, Any]) -> None:
    for store in both_stores:
        with pytest.raises(ValueError, match="cannot count signals by 'outlet'"):
            store.count_signals(SignalQuery(), "outlet")


API_PATHS = [
    "/api/articles?q=referendum&limit=100",
    "/api/articles?q=%22referendumot%20e%20zakazan%22",
    "/api/articles?q=referend*&flagged=true&limit=5&offset=1",
    "/api/articles?flagged=true&limit=100",
    "/api/articles?triage=confirmed",
    "/api/articles?triage=none&limit=10&offset=3",
    "/api/triage?limit=100",
    "/api/triage?status=false_positive&target=signal",
    "/api/coverage?at=2018-09-12T00:00:00Z",
    "/api/coverage?country=MK&at=2018-09-30",
    "/api/export/stix?since=2018-09-01&until=2018-09-03",
    "/api/export/stix?country=RS",
    "/api/articles?severity=high&country=mk&q=skop*",
    "/api/articles?q=Приштина&limit=100",
    "/api/articles?q=pristina%20referendum&country=rs&limit=100",
    "/api/articles?narrative=anti-eu&flagged=true&limit=100",
    "/api/articles?since=2018-09-02&until=2018-09-03&limit=100",
    "/api/articles?limit=10&offset=30",
    "/api/signals?severity=high&limit=200",
    "/api/signals?country=MK&since=2018-09-03&limit=200",
    "/api/stats",
    "/api/stats?country=XK&since=2018-09-02",
    "/api/alerts?limit=500",
    "/api/alerts?country=mk&limit=500",
    "/api/alerts?subscription=desk-high&limit=7&offset=3",
]


def _alerts(articles: list[Any], signals: list[Any]) -> list[Any]:
    """Alerts as the alerter raises them, for two subscriptions (SYNTHETIC data)."""
    from services.alerts.alerter import Subscription, build_alerts

    subs = [Subscription("desk-all", "low"), Subscription("desk-high", "high")]
    by_article: dict[str, list[Any]] = {}
    for sig in signals:
        by_article.setdefault(sig.article_id, []).append(sig)
    return [al for a in articles for al in build_alerts(subs, a, by_article.get(a.id, []))]


def test_alerts_are_listed_the_same_by_both_stores(both_stores: tuple[Any, Any]) -> None:
    sqlite, engine = both_stores
    for kwargs in ({}, {"country": "RS"}, {"subscription": "desk-high"}, {"offset": 5}):
        want = sqlite.get_alerts(1000, **kwargs)
        assert engine.get_alerts(1000, **kwargs) == want, kwargs
    assert len(sqlite.get_alerts(1000)) > len(sqlite.get_alerts(1000, subscription="desk-high")) > 0


def test_the_api_answers_the_same_on_both_stores(both_stores: tuple[Any, Any]) -> None:
    from fastapi.testclient import TestClient

    from services.api.app import create_app

    sqlite, engine = both_stores
    one = inflected_articles()[0].id
    paths = [*API_PATHS, f"/api/articles/{one}", "/api/articles/no-such-id", "/metrics"]
    answers = []
    for store in (sqlite, engine):
        client = TestClient(create_app(store, lambda: [], started_at=0.0, clock=lambda: AT))
        answers.append([client.get(p) for p in paths])
    for path, want, got in zip(paths, *answers, strict=True):
        assert want.status_code == got.status_code, path
        assert want.status_code == (404 if "no-such-id" in path else 200), path
        if path == "/metrics":
            assert got.text == want.text and "hw_country_sources_silent" in want.text
            continue
        assert got.json() == want.json(), path
        if "items" in want.json() and "/api/coverage" not in path:
            assert want.json()["total"] >= want.json()["count"], path
    assert any(r.json().get("count") for r in answers[0][:-1] if "count" in r.json())


def test_triage_through_the_api_lands_the_same_in_both_stores(
    both_stores: tuple[Any, Any],
) -> None:
    from fastapi.testclient import TestClient

    from services.api.app import create_app

    one = inflected_articles()[1]
    body = {"article_id": one.id, "status": "needs_review", "note": "parity", "analyst": "p"}
    got = []
    for store in both_stores:
        client = TestClient(create_app(store, lambda: [], clock=lambda: AT))
        posted = client.post("/api/triage", json=body)
        assert posted.status_code == 200, posted.text
        got.append((posted.json(), client.get(f"/api/articles/{one.id}").json()["triage"]))
    assert got[0] == got[1] and got[0][1][0]["note"] == "parity"


@pytest.mark.parametrize(
    "argv",
    [
        ["Приштина"],
        ["djokovic", "--country", "MK"],
        ["--narrative", "anti-nato", "--limit", "50"],
        ["референдумот"],
        ["referend*", "--flagged", "--limit", "50"],
        ['"Zakazan e referendumot"'],
    ],
)
def test_hybridwatch_search_prints_the_same_on_both_stores(
    both_stores: tuple[Any, Any],
    argv: list[str],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import yaml

    from services.entrypoints.cli import main

    sqlite, engine = both_stores
    for name in [k for k in os.environ if k.startswith("HW_")]:
        monkeypatch.delenv(name)
    configs = {
        "sqlite": {"data_dir": str(sqlite.data_dir), "store": {"kind": "sqlite"}},
        "engine": {
            "data_dir": str(tmp_path),
            "store": {
                "kind": engine.engine,
                "url": engine.client_url,
                "index_prefix": engine.prefix,
            },
        },
    }
    outputs = {}
    for name, tree in configs.items():
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
        assert main(["search", *argv, "--json", "--config", str(cfg)]) == 0
        outputs[name] = capsys.readouterr().out
    assert outputs["sqlite"].strip(), "the query should find articles"
    assert outputs["engine"] == outputs["sqlite"]


AT = datetime(2018, 9, 12, tzinfo=UTC)
"""The API's clock in these tests (coverage and triage times must not depend on now)."""

INFLECTED = [
    # (country, language, title, text) - SYNTHETIC sentences, written for this test
    ("MK", "mk", "Референдумот е закажан", "Владата во Скопје го закажа референдумот."),
    ("RS", "sr", "О референдуму", "Резултати референдума у Скопљу."),
    (
        "AL",
        "sq",
        "Referendumit i afrohet data",
        "Qeveria e Shqipërisë: vlada nuk flet per referendumin.",
    ),
    ("HR", "hr", "Zakazan e referendumot", "Putin i referendumi."),
]


def inflected_articles() -> list[Article]:
    """SYNTHETIC articles carrying inflected forms (cases, definite suffixes)."""
    out = []
    for i, (country, lang, title, text) in enumerate(INFLECTED):
        url = f"https://synthetic.example/inflected/{i}"
        when = datetime(2018, 9, 10, 8, i, tzinfo=UTC)
        out.append(
            Article(
                id=Article.make_id(url),
                url=url,
                title=title,
                text=text,
                published=when,
                fetched=when,
                language=lang,
                source=Source(
                    id=f"synthetic-{country.lower()}",
                    outlet=f"Synthetic {country}",
                    domain="synthetic.example",
                    country=country,
                ),
                countries=(country,),
                text_latn=fold(title + "\n" + text),
            )
        )
    return out


def _verdicts(articles: list[Any], signals: list[Any]) -> list[Triage]:
    """Triage verdicts on a few articles and signals (fixed times: both stores alike)."""
    at = datetime(2018, 10, 1, tzinfo=UTC)
    out = [
        Triage("article", a.id, a.id, status, f"note {i}", "analyst-1", at)
        for i, (a, status) in enumerate(
            zip(articles[::37], ["confirmed", "false_positive", "needs_review"] * 5, strict=False)
        )
    ]
    out += [
        Triage("signal", s.id, s.article_id, "false_positive", "", "analyst-2", at)
        for s in signals[5:60:11]
    ]
    return out


def test_inflected_forms_are_found_in_both_scripts(both_stores: tuple[Any, Any]) -> None:
    inflected = {a.id for a in inflected_articles()}
    for store in both_stores:
        found = {
            h.article.id for h in store.search_articles(ArticleQuery(text="referendum", limit=500))
        }
        # the Macedonian definite form, the Serbian cases and the Albanian definite form
        assert inflected <= found
        assert {
            h.article.id for h in store.search_articles(ArticleQuery(text="referend*", limit=500))
        } >= inflected
        # a phrase: these words in this order, in either script
        for text, want in (
            ('"referendumot e zakazan"', ["https://synthetic.example/inflected/0"]),
            ('"Zakažan е Референдумот"', ["https://synthetic.example/inflected/3"]),
            ('"e referendumot zakazan"', []),
        ):
            phrase = store.search_articles(ArticleQuery(text=text, limit=50))
            assert [h.article.url for h in phrase] == want, text


def test_flagged_means_risk_at_the_threshold(both_stores: tuple[Any, Any]) -> None:
    for store in both_stores:
        hits = store.search_articles(ArticleQuery(flagged_only=True, limit=500))
        assert hits and all(h.risk >= 0.5 and h.flagged for h in hits)
        everything = store.search_articles(ArticleQuery(limit=500))
        assert {h.article.id for h in everything if h.flagged} == {h.article.id for h in hits}
        assert any(h.signals and not h.flagged for h in everything)


def test_triage_is_listed_the_same_by_both_stores(both_stores: tuple[Any, Any]) -> None:
    sqlite, engine = both_stores
    for q in (
        TriageQuery(),
        TriageQuery(status="confirmed"),
        TriageQuery(target="signal", limit=3),
    ):
        assert engine.get_triage(q) == sqlite.get_triage(q)
        assert engine.count_triage(q) == sqlite.count_triage(q) > 0


def test_source_activity_agrees(both_stores: tuple[Any, Any]) -> None:
    sqlite, engine = both_stores
    assert engine.source_activity(None) == sqlite.source_activity(None)
    since = datetime(2018, 9, 5, tzinfo=UTC)
    assert engine.source_activity(since) == sqlite.source_activity(since)
