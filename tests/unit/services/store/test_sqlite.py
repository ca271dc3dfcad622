"""SqliteStore: idempotent upserts, cross-script search, filters, ordering, counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.store.base import ArticleQuery, SignalQuery
from services.store.sqlite import SqliteStore, fts_query
from tests.unit.services.factories import article, signal

T0 = datetime(2018, 9, 30, 12, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore.open(tmp_path)
    yield s
    s.close()


def test_open_creates_wal_database_in_data_dir(tmp_path: Path) -> None:
    s = SqliteStore.open(tmp_path / "data")
    try:
        assert (tmp_path / "data" / "hybridwatch.sqlite3").exists()
        mode = s._read("PRAGMA journal_mode")[0][0]
        assert mode == "wal"
    finally:
        s.close()


def test_putting_the_same_article_twice_keeps_one_row_with_the_latest_version(
    store: SqliteStore,
) -> None:
    a = article("https://example.org/a", "Стара насловна")
    store.put_articles([a])
    changed = a.model_copy(update={"title": "Nova naslovna", "text_latn": "nova naslovna"})
    store.put_articles([changed])
    assert store.count_articles() == 1
    assert [h.article.title for h in store.search_articles(ArticleQuery(text="nova"))] == [
        "Nova naslovna"
    ]
    # the old title is gone from the full-text index too
    assert store.search_articles(ArticleQuery(text="стара")) == []


def test_putting_the_same_signal_twice_keeps_one(store: SqliteStore) -> None:
    a = article("https://example.org/a", "Title")
    s = signal(a)
    store.put_articles([a])
    store.put_signals([s, s])
    store.put_signals([s])
    assert [x.id for x in store.get_signals(SignalQuery())] == [s.id]


def test_latin_query_finds_cyrillic_article_and_cyrillic_query_finds_latin(
    store: SqliteStore,
) -> None:
    cyr = article("https://example.org/cyr", "Референдум у Скопју", "Гласање је почело.")
    lat = article("https://example.org/lat", "Priština i Beograd", "Razgovori se nastavljaju.")
    store.put_articles([cyr, lat])
    assert [h.article.id for h in store.search_articles(ArticleQuery(text="referendum"))] == [
        cyr.id
    ]
    assert [h.article.id for h in store.search_articles(ArticleQuery(text="Приштина"))] == [lat.id]
    assert [h.article.id for h in store.search_articles(ArticleQuery(text="pristina"))] == [lat.id]


def test_terms_are_anded_and_matched_in_any_field(store: SqliteStore) -> None:
    a = article("https://example.org/1", "NATO exercise", "held near Skopje")
    b = article("https://example.org/2", "NATO summit", "in Brussels")
    store.put_articles([a, b])
    got = store.search_articles(ArticleQuery(text="nato skopje"))
    assert [h.article.id for h in got] == [a.id]


def test_whole_tokens_match_and_trailing_star_is_a_prefix(store: SqliteStore) -> None:
    a = article("https://example.org/1", "Kosovo talks")
    store.put_articles([a])
    assert store.search_articles(ArticleQuery(text="koso")) == []
    assert [h.article.id for h in store.search_articles(ArticleQuery(text="koso*"))] == [a.id]


def test_fts_operators_typed_by_users_are_searched_as_words(store: SqliteStore) -> None:
    store.put_articles([article("https://example.org/1", "Vucic OR NATO")])
    match = fts_query('NEAR("x" -y')
    assert match is not None and match.startswith('"x" AND ("near" OR ')
    assert '"nearest"' not in match and '"y"' in match
    assert len(store.search_articles(ArticleQuery(text='vucic OR "nato'))) == 1
    assert store.search_articles(ArticleQuery(text="!!!")) == []


def test_results_are_newest_first_then_by_id(store: SqliteStore) -> None:
    old = article("https://example.org/old", "same", published=T0 - timedelta(days=1))
    new1 = article("https://example.org/n1", "same", published=T0)
    new2 = article("https://example.org/n2", "same", published=T0)
    store.put_articles([old, new2, new1])
    got = [h.article.id for h in store.search_articles(ArticleQuery(text="same"))]
    assert got == [*sorted([new1.id, new2.id]), old.id]
    page = store.search_articles(ArticleQuery(text="same", limit=1, offset=2))
    assert [h.article.id for h in page] == [old.id]


def test_subsecond_times_order_correctly(store: SqliteStore) -> None:
    a = article("https://example.org/a", "x", published=T0)
    b = article("https://example.org/b", "x", published=T0 + timedelta(microseconds=500))
    store.put_articles([a, b])
    assert [h.article.id for h in store.search_articles(ArticleQuery())] == [b.id, a.id]


def test_country_time_window_and_signal_filters(store: SqliteStore) -> None:
    mk = article("https://example.org/mk", "a", published=T0, country="MK")
    rs = article("https://example.org/rs", "b", published=T0 + timedelta(hours=1), country="RS")
    rs_old = article("https://example.org/rs0", "c", published=T0 - timedelta(days=3), country="RS")
    store.put_articles([mk, rs, rs_old])
    store.put_signals(
        [signal(mk, narrative="nato-threat"), signal(rs, detector="burst", narrative=None)]
    )

    def ids(**kw: object) -> set[str]:
        return {h.article.id for h in store.search_articles(ArticleQuery(**kw))}  # type: ignore[arg-type]

    assert ids(country="rs") == {rs.id, rs_old.id}
    assert ids(since=T0) == {mk.id, rs.id}
    assert ids(until=T0 + timedelta(hours=1)) == {mk.id, rs_old.id}  # until is exclusive
    assert ids(flagged_only=True) == {mk.id, rs.id}
    assert ids(detector="burst") == {rs.id}
    assert ids(narrative="nato-threat") == {mk.id}
    assert ids(country="RS", flagged_only=True) == {rs.id}


def test_hits_carry_their_signals(store: SqliteStore) -> None:
    a = article("https://example.org/a", "Title")
    s1, s2 = signal(a, narrative="x"), signal(a, detector="burst", narrative=None)
    store.put_articles([a])
    store.put_signals([s1, s2])
    (hit,) = store.search_articles(ArticleQuery())
    assert {s.id for s in hit.signals} == {s1.id, s2.id}
    d = hit.to_dict()
    assert d["source"]["country"] == "MK" and len(d["signals"]) == 2


def test_signal_query_filters_and_ordering(store: SqliteStore) -> None:
    a = article("https://example.org/a", "a", published=T0)
    b = article("https://example.org/b", "b", published=T0 + timedelta(days=1), country="RS")
    sa = signal(a, severity="medium")
    sb = signal(b, severity="critical", narrative="other")
    store.put_signals([sa, sb])
    assert [s.id for s in store.get_signals(SignalQuery())] == [sb.id, sa.id]
    assert [s.id for s in store.get_signals(SignalQuery(severity="medium"))] == [sa.id]
    assert [s.id for s in store.get_signals(SignalQuery(country="RS"))] == [sb.id]
    assert [s.id for s in store.get_signals(SignalQuery(article_id=a.id))] == [sa.id]
    assert [s.id for s in store.get_signals(SignalQuery(since=T0 + timedelta(hours=1)))] == [sb.id]


def test_count_signals_groups_by_each_key(store: SqliteStore) -> None:
    a = article("https://example.org/a", "a", published=T0)
    b = article("https://example.org/b", "b", published=T0 + timedelta(days=1), country="RS")
    store.put_signals(
        [
            signal(a, narrative="n1"),
            signal(a, detector="burst", narrative=None, severity="low"),
            signal(b, narrative="n1"),
        ]
    )
    q = SignalQuery()
    assert store.count_signals(q, "country") == {"MK": 2, "RS": 1}
    assert store.count_signals(q, "detector") == {"burst": 1, "narrative": 2}
    assert store.count_signals(q, "narrative") == {"n1": 2}
    assert store.count_signals(q, "severity") == {"high": 2, "low": 1}
    assert store.count_signals(q, "day") == {"2018-09-30": 2, "2018-10-01": 1}
    assert store.count_signals(SignalQuery(country="RS"), "narrative") == {"n1": 1}
    with pytest.raises(ValueError, match="cannot count signals by 'outlet'"):
        store.count_signals(q, "outlet")


def test_write_batch_replaces_an_articles_signals_and_reports_only_new_alerts(
    store: SqliteStore,
) -> None:
    from hybridwatch.events import Alert

    a = article("https://example.org/a", "a")
    old, new = signal(a, narrative="old"), signal(a, narrative="new")
    alert = Alert(
        id=Alert.make_id("console", (new.id,)),
        subscription_id="console",
        signals=(new.id,),
        country="MK",
        severity="high",
        summary="s",
        event_time=a.published,
    )
    store.write_batch([a], [old])
    first = store.write_batch([a], [new], [alert], {"k": {"n": 1}}, ())
    again = store.write_batch([a], [new], [alert])
    assert [s.id for s in store.get_signals(SignalQuery())] == [new.id]
    assert first == [alert] and again == []
    assert store.pending_alerts() == [alert]
    store.mark_delivered([alert.id])
    assert store.pending_alerts() == []
    assert store.load_state() == {"k": {"n": 1}}
    store.write_batch([], [], (), {}, ["k"])
    assert store.load_state() == {}


def test_data_survives_reopening(tmp_path: Path) -> None:
    s = SqliteStore.open(tmp_path)
    a = article("https://example.org/a", "Скопје")
    s.put_articles([a])
    s.close()
    s2 = SqliteStore.open(tmp_path)
    try:
        assert [h.article for h in s2.search_articles(ArticleQuery(text="skopje"))] == [a]
    finally:
        s2.close()


def test_a_store_file_of_another_schema_version_is_refused_with_advice(tmp_path: Path) -> None:
    import sqlite3

    from services.store.sqlite import StoreSchemaError

    conn = sqlite3.connect(tmp_path / "hybridwatch.sqlite3")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreSchemaError, match=r"has schema version 1.*move the file aside"):
        SqliteStore.open(tmp_path)
