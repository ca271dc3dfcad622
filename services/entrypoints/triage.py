"""`hybridwatch triage export --out FILE.jsonl`: analysts' verdicts as labelled data.

The file is in the format `hybridwatch eval -i FILE.jsonl` reads (label rules in
services/export/triage.py), so reviewed cases become evaluation and training data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hybridwatch.config import Settings


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.entrypoints.bootstrap import open_store
    from services.export.triage import export

    if args.action != "export":  # argparse allows only "export" today
        print(f"hybridwatch triage: unknown action {args.action!r}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if not out.parent.is_dir():
        print(f"hybridwatch triage export: --out: no folder {out.parent}", file=sys.stderr)
        return 2
    try:
        store = open_store(settings)
    except (OSError, RuntimeError) as err:  # engine unreachable, unusable data_dir
        print(
            f"hybridwatch triage export: cannot open the {settings.store.kind} store: {err}",
            file=sys.stderr,
        )
        return 1
    try:
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            counts = export(store, fh)
        tmp.replace(out)  # a reader never sees half a file
    finally:
        store.close()
    print(json.dumps({"out": str(out), **counts}), file=sys.stderr)
    return 0
