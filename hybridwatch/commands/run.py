"""`hybridwatch run`: the embedded pipeline (poll, detect, store, alert, serve)."""

from __future__ import annotations

import argparse
import sys

from hybridwatch.config import Settings


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.embedded.runner import run

    try:
        return run(settings, once=bool(args.once), api=not args.no_api)
    except OSError as err:
        print(f"hybridwatch: {err}", file=sys.stderr)
        return 1
