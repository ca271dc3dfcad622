"""`hybridwatch worker`: the Faust stream processor (detectors on Kafka).

Imports Faust only when run (see services/entrypoints/cli.py). Topics are created first
(idempotently), so a fresh cluster needs no separate `hybridwatch topics` step.
"""

from __future__ import annotations

import argparse

from hybridwatch.config import Settings
from services.entrypoints.bootstrap import build_worker, release_heap, settle_heap


def main(args: argparse.Namespace, settings: Settings) -> int:
    worker = build_worker(settings)
    settle_heap()
    try:
        return worker.run(loglevel=str(getattr(args, "loglevel", "warning")))
    finally:
        release_heap()
