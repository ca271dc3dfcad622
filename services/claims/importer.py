"""`hybridwatch claims import`: an operator's fact-check database into the claim matcher.

Rows of a JSONL or CSV/TSV file (optionally .gz; read by `services.importer.rows`,
the same reader as `hybridwatch import`) become claims of the *imported* index,
``<data_dir>/claims/imported.bin.gz``, next to the shipped one. What is stored is
what the shipped index stores: hashed 4-grams and word stems with the shipped
index's idf (so both are on one similarity scale), the claim's id, URL and date.

Fields (`--map field=column,...`; defaults in DEFAULT_COLUMNS):

- `id` (required): the claim's id in the operator's database; importing an id again
  replaces that claim;
- `text` (required): the claim as stated; `text=title+summary` takes several
  columns, each non-empty one a separate text of the claim (a title, a summary);
- `url`, `date` (optional): where the fact-check is, when the claim was made;
- `label` (optional): rows labelled as not false (`true`, `disproof`, `neutral`
  ...) are skipped, so a mixed export can be imported as it is.

Every bad row is skipped with its line number and the reason; none aborts the
import. The file is replaced atomically (write, then rename), so a running
`hybridwatch run` sees either the old or the new index, never half of one, and
picks the new one up before its next batch (services/claims/reload.py).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors.claim_index import ClaimIndex, ClaimText, build_index, gram_features, stream_of
from hybridwatch.config import ConfigError
from hybridwatch.textfold import fold
from services.importer import ImportReport, RowError, _get, check_columns, rows

IMPORTED_FILE = Path("claims") / "imported.bin.gz"
FIELDS = ("id", "text", "url", "date", "label")
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "claim_id", "case_id"),
    "text": ("text", "claim", "title", "summary"),
    "url": ("url", "euvsdisinfo_url", "link", "fact_check_url"),
    "date": ("date", "claim_date", "published"),
    "label": ("label", "rating", "verdict"),
}
NOT_FALSE = frozenset(
    {"true", "correct", "accurate", "mostly true", "disproof", "neutral", "not false", "fact"}
)
MIN_TEXT_CHARS = 20
MIN_TEXT_GRAMS = 12
"""Shorter texts match too much by chance ("No evidence given." would match anything)."""
MAX_ID_CHARS = 500


def imported_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / IMPORTED_FILE


def parse_map(raw: Sequence[str]) -> dict[str, list[str]]:
    """`["text=title+summary,id=case"]` -> {"text": ["title", "summary"], "id": ["case"]}."""
    out: dict[str, list[str]] = {}
    for chunk in raw:
        for part in [p.strip() for p in chunk.split(",") if p.strip()]:
            name, sep, columns = part.partition("=")
            name = name.strip()
            cols = [c.strip() for c in columns.split("+")]
            if not sep or not name or not all(cols):
                raise ConfigError(f"claims import --map: {part!r} is not FIELD=COLUMN[+COLUMN]")
            if name not in FIELDS:
                raise ConfigError(
                    f"claims import --map: {name!r} is not a claim field (one of {', '.join(FIELDS)})"
                )
            if name in out:
                raise ConfigError(f"claims import --map: {name!r} is mapped twice")
            if name != "text" and len(cols) > 1:
                raise ConfigError(
                    f"claims import --map: only text takes several columns ({part!r})"
                )
            out[name] = cols
    return out


@dataclass
class ClaimImport:
    """What one import did: counts, and every skipped row with its line and reason."""

    path: str
    rows: int = 0
    imported: int = 0
    new: int = 0
    replaced: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    unlisted: int = 0
    """Unreadable lines beyond the reader's listing limit: counted, not listed."""
    total_claims: int = 0
    index_file: str = ""
    index_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rows": self.rows,
            "imported": self.imported,
            "new": self.new,
            "replaced": self.replaced,
            "skipped": len(self.skipped) + self.unlisted,
            "skipped_rows": [{"line": n, "reason": r} for n, r in self.skipped],
            "total_imported_claims": self.total_claims,
            "index_file": self.index_file,
            "index_version": self.index_version,
        }


def _columns(row: Mapping[str, Any], mapping: Mapping[str, list[str]], name: str) -> list[str]:
    if name in mapping:
        return mapping[name]
    return [c for c in DEFAULT_COLUMNS[name] if c in row]


def row_to_texts(
    row: Mapping[str, Any], mapping: Mapping[str, list[str]], source: str
) -> list[ClaimText]:
    """The claim texts of one row; RowError says what is wrong with it."""
    id_cols = _columns(row, mapping, "id")
    cid = _get(row, id_cols[0]).strip() if id_cols else ""
    if not cid:
        where = (
            f"column {id_cols[0]!r}" if id_cols else f"none of {', '.join(DEFAULT_COLUMNS['id'])}"
        )
        raise RowError(f"no claim id ({where} is empty or missing; map it with --map id=COLUMN)")
    if len(cid) > MAX_ID_CHARS:
        raise RowError(f"claim id longer than {MAX_ID_CHARS} characters")
    label_cols = _columns(row, mapping, "label")
    label = _get(row, label_cols[0]).strip().lower() if label_cols else ""
    if label in NOT_FALSE:
        raise RowError(f"label {label!r} marks it as not a false claim")
    url_cols = _columns(row, mapping, "url")
    url = _get(row, url_cols[0]).strip() if url_cols else ""
    if url and not url.lower().startswith(("http://", "https://")):
        raise RowError(f"url {url!r} is not an http(s) address")
    date_cols = _columns(row, mapping, "date")
    date = _get(row, date_cols[0]).strip() if date_cols else ""
    if date:
        try:
            date = dt.date.fromisoformat(date[:10]).isoformat()
        except ValueError:
            raise RowError(f"date {date!r} is not YYYY-MM-DD") from None
    text_cols = _columns(row, mapping, "text")
    if not text_cols:
        raise RowError(
            f"no claim text (none of {', '.join(DEFAULT_COLUMNS['text'])}; "
            "map it with --map text=COLUMN)"
        )
    texts: list[ClaimText] = []
    short: list[str] = []
    seen: set[str] = set()
    for col in text_cols:
        text = _get(row, col).strip()
        if not text or text in seen:
            continue
        seen.add(text)
        grams = gram_features(stream_of(fold(text), 10_000))
        if len(text) < MIN_TEXT_CHARS or len(grams) < MIN_TEXT_GRAMS:
            short.append(col)
            continue
        kind = col if len(text_cols) > 1 else "text"
        texts.append(ClaimText(cid, text, kind, url or None, date or None, source))
    if not texts:
        if short:
            raise RowError(
                f"claim text in {', '.join(repr(c) for c in short)} is too short to match "
                f"reliably (at least {MIN_TEXT_CHARS} characters and a few words)"
            )
        raise RowError(f"claim text is empty (column {' + '.join(text_cols)})")
    return texts


def read_claims(
    path: Path, mapping: Mapping[str, list[str]], source: str
) -> tuple[list[ClaimText], ClaimImport]:
    """Every good row's texts, and the report of the bad ones (never raises on a row)."""
    flat = {k: v[0] for k, v in mapping.items()}
    check_columns(path, flat)
    if "text" in mapping and len(mapping["text"]) > 1:
        check_columns(path, {f"text{i}": c for i, c in enumerate(mapping["text"])})
    reading = ImportReport()
    report = ClaimImport(str(path))
    texts: list[ClaimText] = []
    first_line: dict[str, int] = {}
    for line, row in rows(path, reading):
        try:
            found = row_to_texts(row, mapping, source)
        except RowError as err:
            report.skipped.append((line, str(err)))
            continue
        cid = found[0].claim_id
        if cid in first_line:
            report.skipped.append(
                (line, f"duplicate claim id {cid!r} (first on line {first_line[cid]})")
            )
            continue
        first_line[cid] = line
        texts += found
        report.imported += 1
    for problem in reading.problems:  # lines the reader could not parse at all
        where, _, reason = problem.partition(": ")
        line = int(where.rsplit(":", 1)[-1]) if where.rsplit(":", 1)[-1].isdigit() else 0
        report.skipped.append((line, reason))
    report.unlisted = reading.bad - len(reading.problems)
    report.skipped.sort()
    report.rows = reading.rows
    return texts, report


def import_claims(
    path: str | os.PathLike[str],
    data_dir: str | os.PathLike[str],
    base: ClaimIndex,
    mapping: Mapping[str, list[str]] | None = None,
    source: str | None = None,
) -> ClaimImport:
    """Read `path`, merge its claims into `<data_dir>/claims/imported.bin.gz`, report.

    Claims imported before stay unless this file holds the same id (then replaced).
    Raises ConfigError only for the file itself (unreadable, unknown format, a mapped
    column missing from the CSV header); bad rows are skipped and reported.
    """
    src = Path(path)
    if not src.is_file():
        raise ConfigError(f"claims import: {src}: no such file")
    texts, report = read_claims(src, mapping or {}, source or f"import:{src.name}")
    out = imported_path(data_dir)
    previous = _load_previous(out)
    new_ids = {t.claim_id for t in texts}
    old_ids = {c["id"] for c in previous.claims} if previous is not None else set()
    report.replaced = len(new_ids & old_ids)
    report.new = len(new_ids - old_ids)
    report.index_file = str(out)
    if not texts:
        report.total_claims = len(old_ids)
        report.index_version = previous.version if previous is not None else ""
        return report
    blob = build_index(
        texts,
        metadata={"imported": True},
        base=base,
        previous=previous,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, out)
    index = ClaimIndex.from_bytes(blob)
    report.total_claims = len(index.claims)
    report.index_version = index.version
    return report


def _load_previous(path: Path) -> ClaimIndex | None:
    if not path.exists():
        return None
    try:
        return ClaimIndex.from_bytes(path.read_bytes())
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"claims import: the imported-claims index {path} cannot be read ({err}); "
            "move it away to start a new one"
        ) from err
