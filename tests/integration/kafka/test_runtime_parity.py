"""The same input gives the same signal and alert ids in the embedded runtime and under Faust.

The embedded runtime runs the suite over one dict in global order; Kafka orders only
per partition. Articles are keyed by source country and detector state keys embed
the country, so per-country order is all the stateful detectors depend on and the
two runtimes must agree id for id (stateful detectors included).
"""

from __future__ import annotations

import json
from pathlib import Path

from detectors.registry import registry
from hybridwatch.topics import Topics
from tests.fixtures.kafka import consume_all, create_topics
from tests.fixtures.synthetic_articles import synthetic_articles
from tests.integration.kafka.helpers import (
    embedded_signal_ids,
    publish_articles,
    start_worker,
    wait_until,
)


def test_faust_worker_emits_exactly_the_embedded_runtimes_signal_ids(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    articles = list(synthetic_articles(400, seed=3))
    expected = embedded_signal_ids(articles)
    expected_alerts = _embedded_alert_ids(articles)
    assert expected_alerts, "the stream must raise alerts at the default threshold"
    stateful = {name for name, cls in registry().items() if cls.stateful}
    detectors_seen = {json.loads(m)["detector"] for m in _embedded_values(articles)}
    assert detectors_seen & stateful, "the stream must exercise at least one stateful detector"

    create_topics(kafka_bootstrap, kafka_prefix)
    publish_articles(kafka_bootstrap, kafka_prefix, tmp_path, articles)
    worker = start_worker(kafka_bootstrap, kafka_prefix, tmp_path, "w1")
    topics = Topics(kafka_prefix)
    try:
        got: list[str] = []
        alerts: list[str] = []

        def complete() -> bool:
            got[:] = [
                json.loads(m.value)["id"] for m in consume_all(kafka_bootstrap, topics.signals)
            ]
            alerts[:] = [
                json.loads(m.value)["id"] for m in consume_all(kafka_bootstrap, topics.alerts)
            ]
            return len(set(got)) >= len(expected) and len(set(alerts)) >= len(expected_alerts)

        wait_until(complete, 240, f"{len(expected)} signals", worker)
    finally:
        worker.stop()
    assert set(got) == expected
    assert len(got) == len(set(got)), "an uninterrupted run emits every signal once"
    assert set(alerts) == expected_alerts  # the worker raises the embedded runtime's alerts


def _embedded_alert_ids(articles: list) -> set[str]:
    """Alerts of the built-in console subscription (default threshold) over the embedded run."""
    from detectors.pipeline import DetectorSuite
    from services.alerts.alerter import Subscription, build_alerts

    suite = DetectorSuite.from_config()
    state: dict = {}
    subs = [Subscription("console", "high")]
    return {
        al.id for a in articles for al in build_alerts(subs, a, suite.process(a, state).signals)
    }


def _embedded_values(articles: list) -> list[str]:
    from detectors.pipeline import DetectorSuite

    suite = DetectorSuite.from_config()
    state: dict = {}
    return [s.to_json() for a in articles for s in suite.process(a, state).signals]
