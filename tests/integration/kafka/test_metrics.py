"""The worker's Prometheus endpoint, scraped over HTTP while it processes real records."""

from __future__ import annotations

from pathlib import Path

from hybridwatch.topics import Topics
from tests.fixtures.kafka import create_topics, produce
from tests.fixtures.synthetic_articles import synthetic_articles
from tests.integration.kafka.helpers import (
    embedded_signal_ids,
    free_port,
    metric_value,
    publish_articles,
    scrape,
    start_worker,
    wait_until,
)


def test_worker_metrics_count_articles_signals_lag_and_dead_letters(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    create_topics(kafka_bootstrap, kafka_prefix)
    articles = list(synthetic_articles(80, seed=8))
    n_signals = len(embedded_signal_ids(articles))
    publish_articles(kafka_bootstrap, kafka_prefix, tmp_path, articles)
    produce(kafka_bootstrap, Topics(kafka_prefix).articles, [(b"RS", b"{broken", [])])
    port = free_port()
    worker = start_worker(kafka_bootstrap, kafka_prefix, tmp_path, "w", metrics__port=port)
    try:
        wait_until(
            lambda: (
                metric_value(port, "hw_articles_out_total") >= 80
                and metric_value(port, "hw_dead_letters_total") >= 1
            ),
            180,
            "the worker to process 80 articles and 1 poison record",
            worker,
        )
        text = scrape(port)
        assert metric_value(port, "hw_articles_in_total") == 81
        assert metric_value(port, "hw_signals_total") == n_signals
        assert metric_value(port, "hw_signals_total", {"detector": "narrative"}) > 0
        assert 'country="' in text.split("hw_signals_total{", 1)[1].split("}", 1)[0]
        assert metric_value(port, "hw_dead_letters_total", {"reason": "invalid-article"}) == 1
        assert "hw_consumer_lag{" in text and f'topic="{kafka_prefix}articles"' in text
        assert "hw_errors_total" in text
    finally:
        worker.stop()
