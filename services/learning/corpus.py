"""Labelled records for training and validation: reading, checksums, grouping.

Fit on `train/` only; choose thresholds on the dev files (see docs/detectors.md,
"Learned detector"). A record is an EUvsDisinfo case text (`disinfo` or `disproof`)
or a presumed-neutral news text; `group` is the case (all texts of one case stay in
one cross-validation fold) and `date` orders the folds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.claims.build import sha256_of

TRAIN_FILES = (
    "train/euvsdisinfo-train.jsonl",
    "train/neutral-train.jsonl",
    "train/neutral-train-en.jsonl",
)
DEV_FILES = ("euvsdisinfo-wb-dev.jsonl", "neutral-wb-dev.jsonl")


class CorpusError(ValueError):
    """A data file is missing or a line is not a usable record (names file and line)."""


@dataclass(frozen=True)
class Record:
    id: str
    text: str
    label: str  # disinfo | disproof | neutral
    text_field: str
    language: str  # the text's own language code where known, else "en"/"und"
    group: str
    date: str
    source: str

    @property
    def positive(self) -> bool:
        return self.label == "disinfo"


def record_text(raw: dict[str, object]) -> str:
    title = raw.get("title") or ""
    text = raw.get("text") or ""
    assert isinstance(title, str) and isinstance(text, str)
    if title and text and title not in text:
        return f"{title}\n{text}"
    return text or title


def _language(raw: dict[str, object]) -> str:
    lang = raw.get("language")
    if isinstance(lang, str):
        return lang
    # EUvsDisinfo: titles, summaries and disproofs are EUvsDisinfo's English; only
    # article excerpts are in the audience language (unknown code here).
    return "und" if raw.get("text_field") == "article_abstract" else "en"


def read_records(path: Path) -> Iterator[Record]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as err:
        raise CorpusError(f"cannot read {path}: {err.strerror or err}") from err
    with handle:
        for n, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                label = raw["label"]
                rid = raw["id"]
            except (ValueError, KeyError, TypeError) as err:
                raise CorpusError(f"{path}:{n}: not a labelled record ({err})") from err
            text = record_text(raw)
            if not text.strip():
                continue
            yield Record(
                id=str(rid),
                text=text,
                label=str(label),
                text_field=str(raw.get("text_field") or ""),
                language=_language(raw),
                group=str(raw.get("case_id") or rid),
                date=str(raw.get("date") or ""),
                source=path.name,
            )


def load(data_dir: Path, names: Sequence[str]) -> tuple[list[Record], dict[str, str]]:
    """Every record of the named files (in file order) and each file's SHA-256."""
    records: list[Record] = []
    sums: dict[str, str] = {}
    for name in names:
        path = data_dir / name
        if not path.is_file():
            raise CorpusError(f"missing data file {path} (expected under --data {data_dir})")
        sums[name] = sha256_of(path)
        records.extend(read_records(path))
    return records, sums
