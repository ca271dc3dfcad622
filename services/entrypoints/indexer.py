"""`hybridwatch indexer`: Kafka (hw.articles, hw.signals, hw.alerts) -> Elasticsearch/OpenSearch.

Runs the loop `bootstrap.build_indexer` composes (consumer, dead-letter producer, the
store with its one engine client, metrics) until SIGTERM/SIGINT, or with --once until
caught up. Prints the run's counters as one JSON line on exit.
"""

from __future__ import annotations

import argparse
import sys

from hybridwatch.config import Settings
from services.entrypoints.bootstrap import build_indexer


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.indexer import IndexerError
    from services.kafka.consuming import stop_on_signals
    from services.store.engine_client import EngineUnavailable

    try:
        role = build_indexer(settings)
    except EngineUnavailable as err:  # waited indexer.startup_wait for it
        print(f"hybridwatch indexer: {err}", file=sys.stderr)
        return 1
    stop_on_signals(role.loop.stop)
    try:
        stats = role.loop.run(once=args.once)
    except IndexerError as err:
        print(f"hybridwatch indexer: {err}", file=sys.stderr)
        return 1
    finally:
        role.close()
    print(f"indexer: {stats.to_json()}", file=sys.stdout, flush=True)
    return 0
