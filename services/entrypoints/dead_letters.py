"""`hybridwatch dead-letters list|show|redrive`: look at and re-send what went to hw.dead-letter.

    hybridwatch dead-letters list [--topic hw.articles] [--reason TEXT] [--waiting] [--json]
    hybridwatch dead-letters show REF [--json]
    hybridwatch dead-letters redrive REF... | --all [--topic T] [--reason TEXT]
                                    [--max-attempts N] [--again] [--dry-run] [--json]

REF is the dead letter's offset in the topic (`12`; `P:12` on a partition other than 0).
The logic is services/kafka/dead_letters.py; this module parses, wires and prints.
Exit status: 0; 1 when `redrive` refused or could not send some of the selected records;
2 for bad input (an unknown REF, no selection, a missing topic).
"""

from __future__ import annotations

import argparse
import json
import sys

from hybridwatch.config import ConfigError, Settings
from hybridwatch.topics import Topics
from services.entrypoints.bootstrap import kafka_dead_letter_clients


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.kafka.dead_letters import (
        DeadLetterError,
        Selection,
        describe,
        read_all,
        redrive,
        table,
    )

    if args.action == "redrive" and not args.refs and not args.all:
        raise ConfigError(
            "dead-letters redrive: say which records: their REFs (see `dead-letters list`), "
            "or --all (narrowed by --topic / --reason)"
        )
    topic = Topics(settings.kafka.topic_prefix).dead_letter
    reader, producer = kafka_dead_letter_clients(settings, "dead-letters")
    try:
        try:
            letters = read_all(reader, topic)
            if args.action == "list":
                chosen = Selection(
                    origin_topic=args.topic, reason=args.reason, include_redriven=not args.waiting
                ).apply(letters)
                if args.json:
                    for d in chosen:
                        print(json.dumps(d.to_dict(), ensure_ascii=False, sort_keys=True))
                else:
                    print(table(chosen))
                return 0
            if args.action == "show":
                (d,) = Selection(refs=(args.ref,)).apply(letters)
                if args.json:
                    print(json.dumps(d.to_dict(value=True), ensure_ascii=False, sort_keys=True))
                else:
                    print(describe(d))
                return 0
            chosen = Selection(
                refs=tuple(args.refs),
                origin_topic=args.topic,
                reason=args.reason,
                # --all means the waiting ones; a REF named explicitly is refused instead
                include_redriven=bool(args.refs) or args.again,
            ).apply(letters)
            report = redrive(
                producer,
                chosen,
                topic,
                max_attempts=args.max_attempts,
                again=args.again,
                dry_run=args.dry_run,
            )
        except DeadLetterError as err:
            raise ConfigError(f"dead-letters {args.action}: {err}") from err
    finally:
        reader.close(autocommit=False)
        producer.close(timeout=30)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, sort_keys=True))
    else:
        for d, to in report.sent:
            print(f"redriven {d.ref} ({d.origin}, attempt {d.attempts + 1} next) -> {to}")
        for d, why in report.refused:
            print(f"refused {d.ref} ({d.origin or '?'}): {why}", file=sys.stderr)
        if not report.sent and not report.refused:
            print("no dead letter matched")
    return 1 if report.refused else 0
