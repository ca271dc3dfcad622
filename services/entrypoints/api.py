"""`hybridwatch api`: the HTTP API and the analysts' page over the configured store.

With `store.kind: opensearch|elasticsearch` this is production's workbench (the same
app `hybridwatch run` serves over SQLite); with `sqlite` it serves `data_dir`'s store
read-mostly (triage writes its own table).
"""

from __future__ import annotations

import argparse
import sys

from hybridwatch.config import Settings


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.api.serve import build_app, serve
    from services.entrypoints.bootstrap import open_store

    host = args.host or settings.api.host
    port = settings.api.port if args.port is None else args.port
    if not 0 <= port <= 65535:
        print(f"hybridwatch api: --port must be 0..65535, got {port}", file=sys.stderr)
        return 2
    if host != settings.api.host:  # the security policy judges the address really bound
        settings = settings.model_copy(
            update={"api": settings.api.model_copy(update={"host": host})}
        )
    try:
        store = open_store(settings)
    except (OSError, RuntimeError) as err:  # engine unreachable, unusable data_dir
        print(
            f"hybridwatch api: cannot open the {settings.store.kind} store: {err}",
            file=sys.stderr,
        )
        return 1
    try:
        app = build_app(settings, store)
        print(
            f"hybridwatch: API and page over {settings.store.kind} on http://{host}:{port}/",
            file=sys.stderr,
        )
        serve(app, host, port)
    finally:
        store.close()
    return 0
