"""`hybridwatch sources`: every configured source and its ingest health.

Reads the registry (config) and the ingest state file in the data folder; works
while a poller is running (SQLite WAL readers do not block the writer). A source
that was never polled shows as "never-polled".
"""

from __future__ import annotations

import argparse
import json

from hybridwatch.config import Settings, load_sources

_COLUMNS = (
    ("id", 28),
    ("country", 7),
    ("status", 12),
    ("fails", 5),
    ("items", 6),
    ("last_success", 20),
    ("last_error", 0),
)


def _short_time(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else "-"


def main(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.state import IngestState

    sources = load_sources(settings)
    state = IngestState.open(settings.data_dir)
    try:
        health = state.health(sources)
    finally:
        state.close()
    if getattr(args, "json", False):
        for h in health:
            print(json.dumps(h.to_dict(), ensure_ascii=False))
        return 0
    header = "  ".join(
        name.upper().ljust(width) if width else name.upper() for name, width in _COLUMNS
    )
    print(header)
    for h in health:
        row = (
            h.id,
            h.country,
            h.status,
            str(h.consecutive_failures),
            str(h.items_seen),
            _short_time(h.last_success),
            (h.last_error or (f"warning: {h.last_warning}" if h.last_warning else ""))[:120],
        )
        print(
            "  ".join(
                v.ljust(w) if w else v for v, (_, w) in zip(row, _COLUMNS, strict=True)
            ).rstrip()
        )
    counts: dict[str, int] = {}
    for h in health:
        counts[h.status] = counts.get(h.status, 0) + 1
    print(f"\n{len(health)} sources: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return 0
