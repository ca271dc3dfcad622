"""Analysts' triage verdicts as labelled JSONL for `hybridwatch eval` (and training).

One record per reviewed article, in the format `hybridwatch eval` reads
(services/entrypoints/evaluate.py: `id`, `title`, `text`, `label`, plus
`language`, `countries`, `published`, `source`, `url`), with the verdicts kept
under `triage`. The label, from the article's verdicts:

1. a verdict on the article itself decides: confirmed -> "disinfo",
   false_positive -> "neutral";
2. otherwise its signals' verdicts: any confirmed signal -> "disinfo"; else, when
   every verdict on its signals is false_positive -> "neutral";
3. needs_review (alone or mixed with nothing decisive) -> not exported (counted as
   skipped): nobody has decided yet.

Records are ordered by article id, so the same verdicts export the same file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from services.store.base import Triage, TriageQuery

PAGE = 1000


def label_of(verdicts: Sequence[Triage]) -> str | None:
    on_article = [t for t in verdicts if t.target == "article"]
    if on_article:
        status = max(on_article, key=lambda t: t.updated).status
        return {"confirmed": "disinfo", "false_positive": "neutral"}.get(status)
    statuses = {t.status for t in verdicts}
    if "confirmed" in statuses:
        return "disinfo"
    if statuses == {"false_positive"}:
        return "neutral"
    return None


def all_verdicts(store: Any) -> Iterator[Triage]:
    offset = 0
    while True:
        page: list[Triage] = store.get_triage(TriageQuery(limit=PAGE, offset=offset))
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def export(store: Any, out: TextIO) -> dict[str, int]:
    """Write the labelled records; returns counts (records, by label, skipped, missing)."""
    by_article: dict[str, list[Triage]] = {}
    for t in all_verdicts(store):
        by_article.setdefault(t.article_id, []).append(t)
    counts = {"records": 0, "disinfo": 0, "neutral": 0, "undecided": 0, "missing_article": 0}
    for article_id in sorted(by_article):
        verdicts = sorted(by_article[article_id], key=lambda t: (t.target, t.target_id))
        label = label_of(verdicts)
        if label is None:
            counts["undecided"] += 1
            continue
        hit = store.get_article(article_id)
        if hit is None:
            counts["missing_article"] += 1
            continue
        a = hit.article
        record = {
            "id": a.id,
            "title": a.title,
            "text": a.text,
            "label": label,
            "language": a.language,
            "countries": list(a.countries) or [a.source.country],
            "published": a.to_dict()["published"],
            "url": a.url,
            "source": a.source.to_dict(),
            "triage": [t.to_dict() for t in verdicts],
        }
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        counts["records"] += 1
        counts[label] += 1
    return counts
