"""The same input gives the same signal and alert ids in the embedded runtime and under Faust.

The embedded runtime runs the suite over one dict in global order; Kafka orders only
per partition. Articles are keyed by source country and detector state keys embed
the country, so per-country order is all the stateful detectors depend on and the
two runtimes must agree id for id (stateful detectors included).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from detectors.registry import registry
from hybridwatch.config import Settings
from hybridwatch.events import Article
from hybridwatch.topics import ERROR_HEADER, Topics
from tests.fixtures.failing_detector import MARK, suite_with_failures
from tests.fixtures.kafka import (
    ROOT,
    WorkerProcess,
    clean_env,
    consume_all,
    create_topics,
    kafka_settings,
    settings_tree,
)
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


# -- failures: one policy in both runtimes ------------------------------------------


class FailingWorker(WorkerProcess):
    """`hybridwatch worker` whose suite also holds the test-only `FailOnMarker` detector."""

    def start(self) -> FailingWorker:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fixtures.failing_detector", "--config", str(self.config)],
            cwd=ROOT,
            env=clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self


@dataclass
class Run:
    signals: set[str]
    alerts: set[str]
    dead: set[str]
    """Ids of the articles sent to the dead letter."""


def _marked(articles: list[Article], every: int) -> list[Article]:
    """Every `every`-th article gets the marker in its title (same id: it is the URL's)."""
    return [
        a.model_copy(update={"title": f"{a.title} {MARK}"}) if i % every == every // 2 else a
        for i, a in enumerate(articles)
    ]


def _without_the_failing_ones(settings: Settings, articles: list[Article]) -> Run:
    """The ground truth: the suite over one dict, as if the failing articles never came."""
    from services.alerts.alerter import build_alerts
    from services.alerts.subscriptions import all_subscriptions

    suite = suite_with_failures(settings)
    subs = all_subscriptions(settings)
    state: dict[str, object] = {}
    signals: set[str] = set()
    alerts: set[str] = set()
    for a in articles:
        if MARK in a.title:
            continue
        found = suite.process(a, state).signals
        signals.update(s.id for s in found)
        alerts.update(al.id for al in build_alerts(subs, a, found))
    return Run(signals, alerts, {a.id for a in articles if MARK in a.title})


async def _embedded(settings: Settings, articles: list[Article], data_dir: Path) -> Run:
    """The embedded runtime itself: EmbeddedPipeline on SQLite, batches in global order."""
    from services.embedded.pipeline import EmbeddedPipeline
    from services.entrypoints.bootstrap import build_alerter
    from services.store.base import SignalQuery
    from services.store.dead_letters import DeadLetterTable
    from services.store.sqlite import SqliteStore

    store = SqliteStore.open(data_dir)
    pipe = EmbeddedPipeline(
        suite_with_failures(settings), store, build_alerter(settings, store, data_dir)
    )
    await pipe.start()
    for i in range(0, len(articles), 50):
        await pipe.publish(articles[i : i + 50])
    await pipe.drain_and_stop()
    dead = DeadLetterTable.beside(store.path)
    try:
        return Run(
            {s.id for s in store.get_signals(SignalQuery(limit=1_000_000))},
            {a.id for a in store.get_alerts(limit=1_000_000)},
            {d.article.id for d in dead.recent(limit=1_000_000)},
        )
    finally:
        dead.close()
        store.close()


def test_a_failing_article_leaves_no_state_and_is_dead_lettered_alike_in_both_runtimes(
    kafka_bootstrap: str, kafka_prefix: str, tmp_path: Path
) -> None:
    articles = _marked(list(synthetic_articles(300, seed=11)), every=17)
    settings = kafka_settings(kafka_bootstrap, kafka_prefix, tmp_path / "embedded")
    expected = _without_the_failing_ones(settings, articles)
    assert len(expected.dead) >= 15 and expected.alerts
    assert len({a.source.country for a in articles if a.id in expected.dead}) >= 3

    embedded = asyncio.run(_embedded(settings, articles, tmp_path / "embedded"))
    assert embedded == expected  # no partial state: ids as if the failures never came

    create_topics(kafka_bootstrap, kafka_prefix)
    publish_articles(kafka_bootstrap, kafka_prefix, tmp_path, articles)
    tree = settings_tree(kafka_bootstrap, kafka_prefix, tmp_path / "w1")
    worker = FailingWorker.write_config(tree, tmp_path, "w1").start()
    topics = Topics(kafka_prefix)
    got = Run(set(), set(), set())
    reasons: list[bytes] = []

    def complete() -> bool:
        got.signals = {
            json.loads(m.value)["id"] for m in consume_all(kafka_bootstrap, topics.signals)
        }
        got.alerts = {
            json.loads(m.value)["id"] for m in consume_all(kafka_bootstrap, topics.alerts)
        }
        letters = consume_all(kafka_bootstrap, topics.dead_letter)
        got.dead = {json.loads(m.value)["id"] for m in letters}
        reasons[:] = [dict(m.headers)[ERROR_HEADER] for m in letters]
        return (
            len(got.signals) >= len(expected.signals)
            and len(got.alerts) >= len(expected.alerts)
            and len(got.dead) >= len(expected.dead)
        )

    try:
        wait_until(
            complete,
            240,
            f"{len(expected.signals)} signals, {len(expected.dead)} dead letters",
            worker,
        )
    finally:
        worker.stop()
    assert got == expected == embedded
    assert all(r.startswith(b"detector-error: RuntimeError: test detector fails") for r in reasons)
