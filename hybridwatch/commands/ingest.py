"""`hybridwatch ingest`: poll the feeds and publish new articles to Kafka (acks=all)."""

from __future__ import annotations

import argparse
import asyncio

from hybridwatch.config import Settings


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.kafka.ingest import run_ingest

    return asyncio.run(run_ingest(settings, once=bool(getattr(args, "once", False))))
