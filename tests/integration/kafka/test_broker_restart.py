"""Restarting the (single) broker while producing and consuming loses nothing.

The publisher's futures simply take longer (kafka-python retries until the broker is
back, acks=all), the Faust worker's consumer and producer reconnect, and the signal
set equals the embedded runtime's for the same input.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from hybridwatch.events import Article
from hybridwatch.topics import Topics
from tests.fixtures.kafka import LocalKafka, consume_all, create_topics
from tests.fixtures.synthetic_articles import synthetic_articles
from tests.integration.kafka.helpers import (
    embedded_signal_ids,
    publish_articles,
    start_worker,
    wait_until,
)


def test_broker_restart_mid_stream_loses_no_article_and_no_signal(
    private_kafka: LocalKafka, kafka_prefix: str, tmp_path: Path
) -> None:
    bootstrap = private_kafka.bootstrap
    create_topics(bootstrap, kafka_prefix)
    articles = list(synthetic_articles(600, seed=33))
    expected = embedded_signal_ids(articles)
    topics = Topics(kafka_prefix)
    worker = start_worker(bootstrap, kafka_prefix, tmp_path, "w")
    errors: list[BaseException] = []

    worker_emitting = threading.Event()

    def produce() -> None:
        try:
            for i in range(0, 600, 50):
                publish_articles(bootstrap, kafka_prefix, tmp_path / f"p{i}", articles[i : i + 50])
                if i == 0:  # the rest is published across the broker restart
                    worker_emitting.wait(400)
                time.sleep(0.3)
        except BaseException as err:  # surfaced by the assertion below
            errors.append(err)

    try:
        producer = threading.Thread(target=produce)
        producer.start()
        # restart only once the worker is up and emitting: mid-stream, not mid-start-up
        # (a Faust app whose broker vanishes while it declares its changelog topics
        # exits, and a supervisor restarts it; that is start-up, not what this tests)
        wait_until(
            lambda: bool(consume_all(bootstrap, topics.signals, timeout=5)),
            300,
            "the first signals before the broker restart",
            worker,
        )
        worker_emitting.set()
        time.sleep(0.7)
        private_kafka.stop()
        time.sleep(2)
        private_kafka.start()
        producer.join(400)
        assert not producer.is_alive() and not errors, errors

        published = consume_all(bootstrap, topics.articles, len(articles))
        assert {Article.model_validate_json(m.value).id for m in published} == {
            a.id for a in articles
        }

        got: list[str] = []

        def complete() -> bool:
            got[:] = [json.loads(m.value)["id"] for m in consume_all(bootstrap, topics.signals)]
            return set(got) >= expected

        wait_until(complete, 300, f"{len(expected)} signals after the broker restart", worker)
        assert set(got) == expected
        assert worker.alive(), worker.log_tail()
    finally:
        worker_emitting.set()
        worker.stop()
