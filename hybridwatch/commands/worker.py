"""`hybridwatch worker`: the Faust stream processor (detectors on Kafka).

Imports Faust only when run (see hybridwatch/cli.py). Topics are created first
(idempotently), so a fresh cluster needs no separate `hybridwatch topics` step.
"""

from __future__ import annotations

import argparse

from hybridwatch.config import Settings


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.worker.app import build_worker

    worker = build_worker(settings)
    return worker.run(loglevel=str(getattr(args, "loglevel", "warning")))
