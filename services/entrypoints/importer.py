"""`hybridwatch import FILE --map FIELD=COLUMN,...`: a third-party archive into the article archive.

Logic in services/importer; this module reads the arguments, runs the rows into the
archive in batches with progress, lists bad rows (line number and reason) on stderr
and prints a JSON summary on stdout. Exit 0 when something was imported (or the file
held no rows), 1 when every row was bad.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from hybridwatch.config import ConfigError, Settings
from hybridwatch.events import Article
from services.entrypoints.bootstrap import open_archive

BATCH = 1000


def _count_lines(path: Path) -> int | None:
    if path.name.endswith(".gz"):
        return None
    n = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            n += chunk.count(b"\n")
    return n


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.importer import (
        Defaults,
        ImportReport,
        RowError,
        check_columns,
        parse_map,
        rows,
        to_article,
    )
    from services.progress import Progress

    path = Path(args.file)
    if not path.is_file():
        raise ConfigError(f"import: {path} is not a file")
    mapping = parse_map(args.map)
    check_columns(path, mapping)
    defaults = Defaults(country=args.country, language=args.language, outlet=args.outlet)
    report = ImportReport()
    fetched = datetime.now(UTC)
    archive = open_archive(settings)
    added = 0
    batch: list[Article] = []
    lines = _count_lines(path)
    progress = Progress("import", total=lines, unit="rows")

    def flush() -> None:
        nonlocal added
        if batch and not args.dry_run:
            added += archive.append(batch)
        batch.clear()

    try:
        for line, row in rows(path, report):
            try:
                batch.append(to_article(row, mapping, defaults, fetched))
                report.articles += 1
            except RowError as err:
                report.bad_row(f"{path}:{line}", str(err))
            progress.advance(1)
            if len(batch) >= BATCH:
                flush()
        flush()
    finally:
        archive.close()
    for problem in report.problems:
        print(f"hybridwatch import: {problem}", file=sys.stderr)
    if report.bad > len(report.problems):
        print(
            f"hybridwatch import: ... and {report.bad - len(report.problems)} more bad row(s)",
            file=sys.stderr,
        )
    progress.finish(
        f"{report.rows:,} rows, {report.articles:,} articles "
        f"({added:,} new in the archive), {report.bad:,} bad"
    )
    summary = {
        "file": str(path),
        "rows": report.rows,
        "articles": report.articles,
        "archived": added,
        "already_archived": 0 if args.dry_run else report.articles - added,
        "bad": report.bad,
        "archive": str(settings.archive_dir),
        "dry_run": bool(args.dry_run),
    }
    print(f"import: {json.dumps(summary, sort_keys=True)}", flush=True)
    return 1 if report.rows and not report.articles else 0
