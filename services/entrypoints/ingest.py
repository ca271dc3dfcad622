"""`hybridwatch ingest`: poll the feeds and publish new articles to Kafka (acks=all, idempotent).

Runs the parts `bootstrap.build_ingest` composes (publisher, ingest state, poller,
metrics): either one pass (`--once`, exit status 1 if any source failed to publish) or
forever until SIGTERM. The poller advances a feed's seen-state only after `publish`
returned, and our publish returns only after Kafka acknowledged every article
(services/kafka/producer.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from hybridwatch.config import Settings
from services.entrypoints.bootstrap import build_ingest

log = logging.getLogger(__name__)


async def run_ingest(
    settings: Settings, once: bool, publisher: object = None, ensure: bool = True
) -> int:
    """Poll once or forever; `ensure=False` skips topic creation (topics made elsewhere)."""
    role = build_ingest(settings, publisher=publisher, ensure=ensure)
    try:
        if once:
            report = await role.poller.poll_once()
            failed = [o for o in report.outcomes if o.outcome == "error"]
            for o in failed:
                role.metrics.errors.labels(stage="poll").inc()
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
        await role.poller.run(stop)
        return 0
    finally:
        await role.aclose()


def main(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(run_ingest(settings, once=bool(getattr(args, "once", False))))
