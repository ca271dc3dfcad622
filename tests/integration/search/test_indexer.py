"""`hybridwatch indexer` against real Kafka and the real search engine.

Replays never duplicate (document id = event id); records the engine refuses and
records that are not events go to the dead-letter topic with the reason; offsets are
committed only once a batch is done, so a second run finds nothing left to do.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from hybridwatch.events import Article, Evidence, Signal
from hybridwatch.topics import ERROR_HEADER, Topics
from services.entrypoints import indexer as indexer_command
from services.kafka.codec import encode
from services.store.base import ArticleQuery, SignalQuery
from services.store.search_engine import SearchEngineStore
from tests.fixtures.kafka import consume_all, create_topics, kafka_settings, produce
from tests.integration.search.synthetic import make_articles, make_signals

pytestmark = [pytest.mark.integration, pytest.mark.search, pytest.mark.kafka]


def _records(events: list[Any]) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    out = []
    for e in events:
        r = encode(e)
        out.append((r.key, r.value, r.headers))
    return out


def _run_once(settings: Any, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert indexer_command.main(argparse.Namespace(once=True), settings) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("indexer: ")][-1]
    stats: dict[str, Any] = json.loads(line.removeprefix("indexer: "))
    return stats


@pytest.fixture
def setup(
    kafka_bootstrap: str,
    kafka_prefix: str,
    search_url: str,
    search_kind: str,
    index_prefix: str,
    tmp_path: Path,
) -> Any:
    create_topics(kafka_bootstrap, kafka_prefix, partitions=3)
    settings = kafka_settings(
        kafka_bootstrap,
        kafka_prefix,
        tmp_path,
        store__kind=search_kind,
        store__url=search_url,
        store__index_prefix=index_prefix,
        indexer__group_id=f"idx-{kafka_prefix}",
        indexer__batch_size=300,
        indexer__linger=0.2,
    )
    store = SearchEngineStore.open(settings.store)
    yield settings, Topics(kafka_prefix), store
    store.drop_all()
    store.close()


def test_replayed_records_are_indexed_once_and_committed(
    setup: Any, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, topics, store = setup
    articles = make_articles(1000, seed=3)
    signals = make_signals(articles, seed=4)
    for _ in range(2):  # the second pass is a replay of the same events
        produce(kafka_bootstrap, topics.articles, _records(articles))
        produce(kafka_bootstrap, topics.signals, _records(signals))

    stats = _run_once(settings, capsys)
    store.refresh()
    assert stats["records"] == 2 * (len(articles) + len(signals))
    assert stats["dead_letters"] == 0
    assert store.count_articles() == len(articles)
    assert store.count_signals_total() == len(signals)
    hits = store.search_articles(ArticleQuery(limit=5))
    assert [h.article.id for h in hits] == [
        a.id for a in sorted(articles, key=lambda a: (-a.published.timestamp(), a.id))[:5]
    ]
    assert sum(store.count_signals(SignalQuery(), "severity").values()) == len(signals)

    again = _run_once(settings, capsys)
    assert again["records"] == 0, "offsets of the first run were not committed"


def test_refused_and_undecodable_records_go_to_the_dead_letter_topic_with_the_reason(
    setup: Any, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, topics, store = setup
    good = make_articles(50, seed=5)
    too_long_id = good[0].model_copy(
        update={"id": "x" * 600, "url": "https://synthetic.example/long"}
    )
    base = make_signals(good, seed=6)[0]
    # valid by the contract (start >= 0) but beyond the engine's integer field: a mapping error
    overflow = base.model_copy(
        update={
            "id": "overflow-signal",
            "evidence": (
                Evidence(field="title", start=2**40, end=2**40 + 1, text="x", rule="synthetic"),
            ),
        }
    )
    produce(
        kafka_bootstrap,
        topics.articles,
        [*_records(good), *_records([too_long_id]), (b"RS", b"{not json", [])],
    )
    produce(kafka_bootstrap, topics.signals, _records([overflow, base]))

    stats = _run_once(settings, capsys)
    store.refresh()
    assert stats["dead_letters"] == 3
    assert store.count_articles() == len(good)
    assert [s.id for s in store.get_signals(SignalQuery())] == [base.id]

    dead = consume_all(kafka_bootstrap, topics.dead_letter, min_count=3)
    reasons = {bytes(r.value): dict(r.headers)[ERROR_HEADER].decode() for r in dead}
    assert len(reasons) == 3
    assert "undecodable record" in reasons[b"{not json"]
    long_value = next(v for v in reasons if b"x" * 600 in v)
    assert "document id is 600 bytes" in reasons[long_value]
    overflow_value = next(v for v in reasons if b"overflow-signal" in v)
    assert "refused by the search engine: HTTP 400" in reasons[overflow_value]
    assert (
        "mapper_parsing_exception" in reasons[overflow_value]
        or "out of range" in reasons[overflow_value]
    )
    assert Signal.model_validate_json(overflow_value) == overflow  # the original bytes, untouched
    assert Article.model_validate_json(long_value).id == "x" * 600
