"""`hybridwatch topics`: create the pipeline's Kafka topics (idempotent) and print them."""

from __future__ import annotations

import argparse

from hybridwatch.config import Settings
from services.entrypoints.bootstrap import require_kafka


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.kafka.admin import ensure_topics, topic_specs

    require_kafka(settings, "topics")
    result = ensure_topics(settings.kafka)
    for spec in topic_specs(settings.kafka):
        print(
            f"{spec.name}\t{result[spec.name]}\tpartitions={spec.partitions}\t"
            f"replication={spec.replication}"
        )
    return 0
