"""`hybridwatch alerter`: Kafka (hw.alerts) -> the subscriptions' channels.

Runs the delivery loop `bootstrap.build_alert_delivery` composes (consumer, dead-letter
producer, the local outbox in `<data_dir>/alerter/`, every channel's client) until
SIGTERM/SIGINT, or with --once until caught up and delivered. Prints the run's
counters as one JSON line on exit.
"""

from __future__ import annotations

import argparse
import sys

from hybridwatch.config import Settings
from services.entrypoints.bootstrap import build_alert_delivery


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.kafka.consuming import NoPartitions, stop_on_signals

    role = build_alert_delivery(settings)
    stop_on_signals(role.loop.stop)
    try:
        stats = role.loop.run(once=args.once)
    except NoPartitions as err:
        print(f"hybridwatch alerter: {err}", file=sys.stderr)
        return 1
    finally:
        role.close()
    print(f"alerter: {stats.to_json()}", file=sys.stdout, flush=True)
    return 0
