"""`hybridwatch archive`: Kafka (hw.articles) -> the article archive (one gzip NDJSON per day).

Runs the consumer loop `bootstrap.build_archiver` composes (consumer, dead-letter
producer, archive) until SIGTERM/SIGINT, or with --once until caught up. Prints the
run's counters as one JSON line on exit.
"""

from __future__ import annotations

import argparse
import sys

from hybridwatch.config import Settings
from services.entrypoints.bootstrap import build_archiver


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.kafka.consuming import NoPartitions, stop_on_signals

    role = build_archiver(settings)
    stop_on_signals(role.loop.stop)
    progress = None
    if args.once:  # a catch-up: count, rate and ETA against the group's backlog
        from hybridwatch.topics import Topics
        from services.kafka.archiver import backlog
        from services.progress import Progress

        topic = Topics(settings.kafka.topic_prefix).articles
        total = backlog(settings, settings.archive.group_id, topic)
        progress = Progress("archive", total=total, unit="records")
        role.loop.sink.progress = progress
    try:
        stats = role.loop.run(once=args.once)
    except NoPartitions as err:
        print(f"hybridwatch archive: {err}", file=sys.stderr)
        return 1
    finally:
        role.close()
    if progress is not None:
        progress.finish(
            f"{stats.records:,} records, {stats.archived:,} archived, {stats.repeats:,} repeats"
        )
    print(f"archive: {stats.to_json()}", file=sys.stdout, flush=True)
    return 0
