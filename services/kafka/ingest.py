"""The production ingest worker: the shared poller publishing to Kafka.

Composition root of `hybridwatch ingest`: builds the publisher (acks=all, idempotent),
the ingest state and the poller once, serves metrics, and runs either one pass
(`--once`, exit status 1 if any source failed to publish) or forever until SIGTERM.
The poller advances a feed's seen-state only after `publish` returned, and our
publish returns only after Kafka acknowledged every article (services/kafka/producer.py).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from hybridwatch.config import Settings, load_sources
from services.kafka.admin import ensure_topics
from services.kafka.producer import KafkaPublisher
from services.metrics import Metrics

log = logging.getLogger(__name__)


async def run_ingest(
    settings: Settings, once: bool, publisher: KafkaPublisher | None = None, ensure: bool = True
) -> int:
    """Poll once or forever; `ensure=False` skips topic creation (topics made elsewhere)."""
    from ingest.poller import Poller
    from ingest.state import IngestState

    sources = load_sources(settings)
    if ensure:
        ensure_topics(settings.kafka)
    metrics = Metrics.create()
    port = metrics.serve(settings.metrics.port)
    if port is not None:
        log.warning("metrics on http://0.0.0.0:%d/metrics", port)
    if publisher is None:
        publisher = KafkaPublisher.create(settings.kafka, metrics=metrics)
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    state = IngestState.open(data_dir)
    poller = Poller(settings, sources, state, publisher)
    try:
        if once:
            report = await poller.poll_once()
            failed = [o for o in report.outcomes if o.outcome == "error"]
            for o in failed:
                metrics.errors.labels(stage="poll").inc()
                log.error("source %s: %s", o.source_id, o.error)
            print(
                f"ingest: {report.articles_new} new articles published, "
                f"{report.sources_ok} sources ok, {report.sources_failed} failed"
            )
            return 1 if report.sources_failed else 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await poller.run(stop)
        return 0
    finally:
        await poller.aclose()
        await publisher.aclose()
        state.close()
        metrics.close()
