"""`hybridwatch export stix --since D --until D [--country CC] [--out FILE]`.

Writes the flagged articles of the window as one STIX 2.1 bundle (services/export/stix.py);
the same bundle as GET /api/export/stix. Deterministic: the same window and data give
the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from hybridwatch.config import Settings


def main(args: argparse.Namespace, settings: Settings) -> int:
    from services.api.app import STIX_MAX_ARTICLES, collect_hits
    from services.api.timeparse import TimeParseError, parse_optional
    from services.entrypoints.bootstrap import open_store
    from services.export.stix import bundle_json
    from services.store.base import ArticleQuery

    try:
        since = parse_optional(args.since, name="--since")
        until = parse_optional(args.until, name="--until", upper=True)
    except TimeParseError as err:
        print(f"hybridwatch export stix: {err}", file=sys.stderr)
        return 2
    country = args.country.strip().upper() if args.country else None
    if country is not None and (len(country) != 2 or not country.isalpha()):
        print(
            f"hybridwatch export stix: --country must be a two-letter code such as MK, got {args.country!r}",
            file=sys.stderr,
        )
        return 2
    query = ArticleQuery(
        country=country,
        since=since,
        until=until,
        flagged_only=True,
        flag_threshold=settings.detectors.flag_threshold,
    )
    try:
        store = open_store(settings)
    except (OSError, RuntimeError) as err:  # engine unreachable, unusable data_dir
        print(
            f"hybridwatch export stix: cannot open the {settings.store.kind} store: {err}",
            file=sys.stderr,
        )
        return 1
    try:
        hits = collect_hits(store, replace(query), STIX_MAX_ARTICLES)
    finally:
        store.close()
    text = bundle_json(hits)
    if args.out and args.out != "-":
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        print(
            f"hybridwatch export stix: {len(hits)} flagged article(s) -> {args.out}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text + "\n")
    return 0
