"""The article archive: every article ever ingested, one gzip NDJSON file per event day.

Layout under the archive directory (`archive.dir`, default `<data_dir>/archive`):

    articles/2018/2018-09-30.ndjson.gz   Article JSON per line, by `published` (UTC) day
    index.sqlite                          ids already archived (and their day)

Why this shape: operators replay history by date range ("September 2018, around the
referendum"), so a day is the unit; gzip NDJSON is readable with `zcat | jq` and by any
tool, with no engine to run. Appends are whole gzip members (a gzip file may hold
several; readers concatenate them), written and fsynced before the ids enter the
index, so a crash can leave at most a repeat in a file, never a hole; the reader
drops repeats by id. A member cut short by a crash (the last bytes of a file) is
reported and skipped, and everything before it is still read.

Replay order is deterministic: within a day, articles are sorted by (published, id),
whatever order they were archived in.
"""

from __future__ import annotations

import gzip
import logging
import os
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import ValidationError

from hybridwatch.events import Article, describe_validation_error

log = logging.getLogger(__name__)


COMPRESS_LEVEL = 3
"""gzip level of appended members: ~19 µs per ~3 KB article for 5.9x on article JSON,
against ~79 µs for 7.3x at level 9 (the default of gzip.compress), which cut the
embedded pipeline's rate by ~40 %."""


class ArchiveError(RuntimeError):
    """The archive cannot be used (unreadable directory, bad index)."""


@dataclass
class ReadReport:
    """What reading skipped, with where: nothing is skipped silently."""

    files: int = 0
    articles: int = 0
    repeats: int = 0
    problems: list[str] = field(default_factory=list)


def day_of(article: Article) -> date:
    return article.published.astimezone(UTC).date()


class Archive:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            (self.root / "articles").mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.root / "index.sqlite", check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # the index only avoids repeats (the reader drops any left in a file), so
            # losing its last commit to a power cut costs nothing: no fsync per batch
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS archived (id TEXT PRIMARY KEY, day TEXT NOT NULL)"
            )
            self._db.commit()
        except (OSError, sqlite3.Error) as err:
            raise ArchiveError(f"cannot use {self.root} as the article archive: {err}") from err

    def close(self) -> None:
        self._db.close()

    def path_for(self, day: date) -> Path:
        return self.root / "articles" / f"{day.year:04d}" / f"{day.isoformat()}.ndjson.gz"

    def append(self, articles: Iterable[Article]) -> int:
        """Archive the articles not archived before; returns how many were new."""
        fresh: dict[str, Article] = {}
        for a in articles:
            fresh.setdefault(a.id, a)
        if not fresh:
            return 0
        known = self._known(list(fresh))
        by_day: dict[date, list[Article]] = {}
        for a in fresh.values():
            if a.id not in known:
                by_day.setdefault(day_of(a), []).append(a)
        for day, items in sorted(by_day.items()):
            path = self.path_for(day)
            path.parent.mkdir(parents=True, exist_ok=True)
            data = "".join(a.to_json() + "\n" for a in items).encode("utf-8")
            with path.open("ab") as fh:  # one gzip member per append
                fh.write(gzip.compress(data, compresslevel=COMPRESS_LEVEL, mtime=0))
                fh.flush()
                os.fsync(fh.fileno())
        rows = [(a.id, day.isoformat()) for day, items in by_day.items() for a in items]
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO archived (id, day) VALUES (?, ?)", rows)
        return len(rows)

    def _known(self, ids: Sequence[str]) -> set[str]:
        out: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT id FROM archived WHERE id IN ({marks})", chunk)
            out.update(r[0] for r in rows)
        return out

    def count(self, since: date | None = None, until: date | None = None) -> int:
        """Articles archived (of the days in [since, until]), from the id index."""
        lo = since.isoformat() if since else "0000-01-01"
        hi = until.isoformat() if until else "9999-12-31"
        row = self._db.execute(
            "SELECT COUNT(*) FROM archived WHERE day BETWEEN ? AND ?", (lo, hi)
        ).fetchone()
        return int(row[0])

    def days(self) -> list[date]:
        out = []
        for path in (self.root / "articles").glob("*/*.ndjson.gz"):
            try:
                out.append(date.fromisoformat(path.name.removesuffix(".ndjson.gz")))
            except ValueError:
                log.warning("archive: ignoring %s (not a day file)", path)
        return sorted(out)

    def read(
        self,
        since: date | None = None,
        until: date | None = None,
        report: ReadReport | None = None,
    ) -> Iterator[Article]:
        """Articles of the days in [since, until], day by day, each day in (published, id) order."""
        rep = report if report is not None else ReadReport()
        for day in self.days():
            if (since is not None and day < since) or (until is not None and day > until):
                continue
            yield from self._read_day(self.path_for(day), rep)

    def _read_day(self, path: Path, rep: ReadReport) -> list[Article]:
        rep.files += 1
        seen: dict[str, Article] = {}
        for n, line in enumerate(_lines(path, rep), 1):
            if not line.strip():
                continue
            try:
                a = Article.model_validate_json(line)
            except ValidationError as err:
                rep.problems.append(f"{path}:{n}: not an Article: {describe_validation_error(err)}")
                continue
            if a.id in seen:
                rep.repeats += 1
                continue
            seen[a.id] = a
        out = sorted(seen.values(), key=lambda a: (a.published, a.id))
        rep.articles += len(out)
        return out


def _lines(path: Path, rep: ReadReport) -> list[bytes]:
    """The file's lines across all its gzip members; a damaged tail is reported."""
    raw = path.read_bytes()
    chunks: list[bytes] = []
    while raw:
        d = zlib.decompressobj(wbits=31)
        try:
            chunks.append(d.decompress(raw))
        except zlib.error as err:
            rep.problems.append(
                f"{path}: damaged gzip data after {len(b''.join(chunks))} bytes: {err}"
            )
            break
        if not d.eof:
            rep.problems.append(
                f"{path}: the last gzip member is cut short (a crash while writing?); "
                "its partial content is skipped"
            )
            chunks.pop()
            break
        raw = d.unused_data
    return b"".join(chunks).splitlines()


def parse_day(raw: str) -> date:
    """A --since/--until value: YYYY-MM-DD (or a full RFC 3339 time: its UTC day)."""
    try:
        return date.fromisoformat(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC).date()
    except ValueError:
        raise ValueError(f"expected a date like 2018-09-30, got {raw!r}") from None
