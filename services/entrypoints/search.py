"""`hybridwatch search`: query the configured store in either script.

A Latin query finds Cyrillic articles and vice versa because the store matches the
script-folded query against script-folded fields (see services/store/sqlite.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from hybridwatch.config import Settings
from hybridwatch.events import format_time
from services.api.timeparse import TimeParseError, parse_optional
from services.entrypoints.bootstrap import open_store
from services.store.base import ArticleHit, ArticleQuery


def _table(hits: Sequence[ArticleHit]) -> str:
    if not hits:
        return "no articles found"
    lines = []
    for h in hits:
        a = h.article
        sig = ", ".join(sorted({s.narrative or s.detector for s in h.signals})) or "-"
        lines.append(
            f"{format_time(a.published)[:16]}  {a.source.country}  {a.source.outlet or a.source.id}"
            f"  [{len(h.signals)} signal(s): {sig}]\n    {a.title}\n    {a.url}"
        )
    lines.append(f"{len(hits)} article(s)")
    return "\n".join(lines)


def main(args: argparse.Namespace, settings: Settings) -> int:
    try:
        since = parse_optional(args.since, name="--since")
        until = parse_optional(args.until, name="--until", upper=True)
    except TimeParseError as err:
        print(f"hybridwatch search: {err}", file=sys.stderr)
        return 2
    if args.limit < 1:
        print(f"hybridwatch search: --limit must be at least 1, got {args.limit}", file=sys.stderr)
        return 2
    country = args.country.strip().upper() if args.country else None
    if country is not None and (len(country) != 2 or not country.isalpha()):
        print(
            f"hybridwatch search: --country must be a two-letter code such as MK, got {args.country!r}",
            file=sys.stderr,
        )
        return 2
    query = ArticleQuery(
        text=args.text,
        country=country,
        detector=args.detector,
        narrative=args.narrative,
        since=since,
        until=until,
        flagged_only=bool(args.flagged),
        flag_threshold=settings.detectors.flag_threshold,
        limit=args.limit,
    )
    try:
        store = open_store(settings)
    except (OSError, RuntimeError) as err:  # unusable data_dir, incompatible store file
        print(
            f"hybridwatch search: cannot open the {settings.store.kind} store: {err}",
            file=sys.stderr,
        )
        return 1
    try:
        hits = store.search_articles(query)
    finally:
        store.close()
    if args.json:
        for h in hits:
            sys.stdout.write(json.dumps(h.to_dict(), ensure_ascii=False) + "\n")
    else:
        print(_table(hits))
    return 0
