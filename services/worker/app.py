"""Composition root of the Faust worker: the only place that builds its parts.

`build_worker(settings, suite)` creates, once, at start-up (the suite comes from the one
builder, services/entrypoints/bootstrap.py `build_suite`): the metrics
registry, the Faust runtime (services/worker/faust_adapter.py: app, topics, the
changelog-backed state table, the agent, the stall watchdog) and the framework-free
`BatchProcessor` it feeds with batches of article records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from detectors.pipeline import DetectorSuite
from hybridwatch.config import Settings
from hybridwatch.topics import Topics
from services.alerts.subscriptions import all_subscriptions
from services.kafka.admin import ensure_topics, require_bootstrap
from services.metrics import Metrics
from services.worker.faust_adapter import EXIT_RESTART, FaustRuntime
from services.worker.processor import BatchProcessor

log = logging.getLogger(__name__)

__all__ = ["EXIT_RESTART", "WorkerApp", "build_worker"]


@dataclass
class WorkerApp:
    settings: Settings
    runtime: FaustRuntime
    processor: BatchProcessor
    metrics: Metrics
    topics: Topics

    def run(self, loglevel: str = "warning") -> int:
        """Run until SIGTERM/SIGINT; the exit status (75: restart me, docs/kafka.md)."""
        ensure_topics(self.settings.kafka)
        port = self.metrics.serve(self.settings.metrics.port)
        if port is not None:
            log.warning("metrics on http://0.0.0.0:%d/metrics", port)
        try:
            return self.runtime.run(loglevel)
        finally:
            self.metrics.close()


def build_worker(settings: Settings, suite: DetectorSuite) -> WorkerApp:
    bootstrap = require_bootstrap(settings.kafka)
    metrics = Metrics.create("worker", settings.worker.app_id)  # Faust: group id = app id
    topics = Topics(settings.kafka.topic_prefix)
    runtime = FaustRuntime(settings, bootstrap, topics)
    processor = BatchProcessor(
        suite,
        runtime.store,
        topics,
        runtime.send,
        changelog=runtime.changelog,
        seek=runtime.seek,
        scope=runtime.scope,
        metrics=metrics,
        shards=settings.worker.state_shards,
        subscriptions=all_subscriptions(settings),
    )
    runtime.attach(processor, metrics)
    return WorkerApp(settings, runtime, processor, metrics, topics)
