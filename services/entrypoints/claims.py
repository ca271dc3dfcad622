"""`hybridwatch claims import FILE [--map field=column,...] [--json]`.

Logic in services/claims/importer.py. Prints how many rows were imported and every
skipped row with its line number and reason (stderr), then where the imported index
is. Exit 0 when something was imported (or the file held no rows), 1 when every row
was skipped; 2 for a problem with the file or the options (ConfigError).
"""

from __future__ import annotations

import argparse
import json
import sys

from hybridwatch.config import ConfigError, Settings


def main(args: argparse.Namespace, settings: Settings) -> int:
    from detectors.claim_index import ClaimIndexError
    from detectors.claims import load_index
    from services.claims.importer import import_claims, parse_map

    if args.action != "import":  # argparse allows only "import" today
        raise ConfigError(f"claims: unknown action {args.action!r}")
    mapping = parse_map(args.map)
    try:
        base = load_index()
    except (OSError, ClaimIndexError) as err:
        raise ConfigError(f"claims import: the shipped claim index cannot be read: {err}") from err
    report = import_claims(args.file, settings.data_dir, base, mapping)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    for line, reason in report.skipped:
        print(f"hybridwatch claims import: {args.file}:{line}: skipped: {reason}", file=sys.stderr)
    if not args.json:
        skipped = len(report.skipped) + report.unlisted
        print(
            f"imported {report.imported} claim(s) from {args.file} ({report.new} new, "
            f"{report.replaced} replaced) of {report.rows} row(s); {skipped} row(s) skipped"
        )
        print(
            f"{report.total_claims} imported claim(s) in {report.index_file} "
            f"(version {report.index_version or '-'}); a running `hybridwatch run` uses them "
            "from its next batch"
        )
    return 0 if report.imported or not report.rows else 1
