"""`hybridwatch import`: a third-party archive (JSONL or CSV) mapped to Articles, into the archive.

    hybridwatch import old-news.csv --map title=headline,published=date,url=link,text=body \\
        --country MK --outlet "Old News"

`--map FIELD=COLUMN,...` says which column (a CSV header, or a JSON key; `a.b` reaches
into nested objects) holds each Article field:

    url, title, text, published (required), language, country, outlet, domain, id

Constants for a whole file: `--country`, `--language`, `--outlet`. Each row becomes an
Article exactly as ingest builds one (canonical URL and id from it, text folded into
`text_latn`, countries mentioned, language detected with the row's or `--language` as
hint), with a source `import:<outlet or domain>` tagged `imported`; the articles go
into the archive by event day (`ingest/archive.py`), so `hybridwatch replay` runs them
like anything else. Ids come from content: importing the same file twice adds nothing.

A row that cannot become an Article is counted and reported with its line number and
the reason (`old-news.csv:17: published: 'yesterday' is not a time ...`); the rest
are imported.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from hybridwatch.config import ConfigError
from hybridwatch.events import Article, Source, describe_validation_error, sha256_hex
from hybridwatch.textfold import fold

FIELDS = ("url", "title", "text", "published", "language", "country", "outlet", "domain", "id")
MAX_REPORTED = 50
"""Bad rows listed one by one; beyond this only counted."""


class RowError(ValueError):
    """This row cannot become an Article (the message names the field and the value)."""


def parse_map(raw: str) -> dict[str, str]:
    """`title=headline,published=date` -> {"title": "headline", "published": "date"}."""
    out: dict[str, str] = {}
    for part in [p.strip() for p in raw.split(",") if p.strip()]:
        name, sep, column = part.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not name or not column:
            raise ConfigError(f"import --map: {part!r} is not FIELD=COLUMN")
        if name not in FIELDS:
            raise ConfigError(
                f"import --map: {name!r} is not an Article field (one of {', '.join(FIELDS)})"
            )
        if name in out:
            raise ConfigError(f"import --map: {name!r} is mapped twice")
        out[name] = column
    if "published" not in out:
        raise ConfigError("import --map: published=COLUMN is required (the event time)")
    if "title" not in out and "text" not in out:
        raise ConfigError("import --map: map title=COLUMN or text=COLUMN (or both)")
    return out


def parse_time(raw: str) -> datetime:
    """RFC 3339 / ISO 8601 (date alone: midnight UTC), RFC 2822, or a Unix epoch; UTC if no zone."""
    value = raw.strip()
    if not value:
        raise RowError("published: empty")
    if re.fullmatch(r"\d{9,10}(\.\d+)?", value):
        return datetime.fromtimestamp(float(value), tz=UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            raise RowError(
                f"published: {raw!r} is not a time (RFC 3339 like 2018-09-30T12:00:00Z, a date, "
                "RFC 2822, or a Unix epoch)"
            ) from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class ImportReport:
    rows: int = 0
    articles: int = 0
    bad: int = 0
    problems: list[str] = field(default_factory=list)

    def bad_row(self, where: str, reason: str) -> None:
        self.bad += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(f"{where}: {reason}")


def _get(row: Mapping[str, Any], column: str) -> str:
    value: Any = row
    for key in column.split(".") if column not in row else [column]:
        if not isinstance(value, Mapping) or key not in value:
            return ""
        value = value[key]
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise RowError(f"column {column!r} holds {type(value).__name__}, not text")


@dataclass(frozen=True)
class Defaults:
    country: str | None = None
    language: str | None = None
    outlet: str | None = None


def to_article(
    row: Mapping[str, Any], mapping: Mapping[str, str], defaults: Defaults, fetched: datetime
) -> Article:
    from ingest.canonical import BadUrl, canonical_url, domain_of
    from ingest.countries import countries_in_folded
    from ingest.language import detect_language
    from ingest.normalise import html_to_text

    def col(name: str) -> str:
        return _get(row, mapping[name]).strip() if name in mapping else ""

    published = parse_time(col("published"))
    title = html_to_text(col("title")).replace("\n", " ") if col("title") else ""
    text = html_to_text(col("text")) if col("text") else ""
    if not title and not text:
        raise RowError("title and text are both empty")
    url = ""
    if col("url"):
        try:
            url = canonical_url(col("url"))
        except BadUrl as err:
            raise RowError(f"url: {col('url')!r}: {err}") from None
    given_id = col("id")
    if url:
        article_id = Article.make_id(url)
    elif given_id:
        article_id = Article.make_id(None, given_id)
    else:  # no identity given: the content is the identity
        article_id = sha256_hex("import", published.isoformat(), title, text[:2000])
    country = col("country") or defaults.country or ""
    if not country:
        raise RowError("country: empty (map country=COLUMN or give --country)")
    domain = col("domain") or (domain_of(url) if url else "")
    outlet = col("outlet") or defaults.outlet or domain or "unknown"
    slug = re.sub(r"[^a-z0-9._-]+", "-", fold(outlet).lower()).strip("-") or "unknown"
    combined = f"{title}\n{text}" if text else title
    folded = fold(combined)
    try:
        return Article(
            id=article_id,
            url=url,
            title=title,
            text=text,
            published=published,
            fetched=fetched,
            language=detect_language(combined, col("language") or defaults.language or "und"),
            source=Source(
                id=f"import:{slug}",
                outlet=outlet,
                domain=domain,
                country=country,
                tags=("imported",),
            ),
            countries=countries_in_folded(folded),
            text_latn=folded,
        )
    except ValidationError as err:
        raise RowError(describe_validation_error(err)) from None


def _open(path: Path) -> TextIO:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def file_kind(path: Path) -> str:
    name = path.name.removesuffix(".gz").lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".csv", ".tsv")):
        return "tsv" if name.endswith(".tsv") else "csv"
    raise ConfigError(
        f"import: {path}: cannot tell the format from the name (use .jsonl/.ndjson or .csv/.tsv, "
        "optionally .gz)"
    )


def rows(path: Path, report: ImportReport) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of the file; unreadable lines are reported, not raised."""
    kind = file_kind(path)
    try:
        fh = _open(path)
    except OSError as err:
        raise ConfigError(f"import: cannot read {path}: {err.strerror or err}") from err
    with fh:
        if kind == "jsonl":
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                report.rows += 1
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as err:
                    report.bad_row(f"{path}:{n}", f"not JSON: {err.msg} (column {err.colno})")
                    continue
                if not isinstance(obj, dict):
                    report.bad_row(f"{path}:{n}", f"a JSON {type(obj).__name__}, not an object")
                    continue
                yield n, obj
        else:
            reader = csv.DictReader(fh, delimiter="\t" if kind == "tsv" else ",")
            start = 2
            try:
                for row in reader:
                    report.rows += 1
                    first, start = start, reader.line_num + 1  # a row may span lines
                    if None in row:  # more cells than the header has names
                        report.bad_row(f"{path}:{first}", "more fields than the header")
                        continue
                    yield first, dict(row)
            except csv.Error as err:
                report.bad_row(f"{path}:{reader.line_num}", f"unreadable CSV: {err}")


def check_columns(path: Path, mapping: Mapping[str, str]) -> None:
    """For CSV: every mapped column must be in the header (a typo fails before any row)."""
    if file_kind(path) == "jsonl":
        return
    with _open(path) as fh:
        header = next(csv.reader(fh, delimiter="\t" if file_kind(path) == "tsv" else ","), [])
    missing = [f"{f}={c}" for f, c in mapping.items() if c not in header]
    if missing:
        raise ConfigError(
            f"import: {path}: the header has no column for {', '.join(missing)} "
            f"(columns: {', '.join(header) or 'none'})"
        )
