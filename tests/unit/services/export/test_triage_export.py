"""Triage verdicts -> labelled JSONL that `hybridwatch eval` reads (SYNTHETIC data)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from services.entrypoints.evaluate import read_records, to_article
from services.export.triage import export, label_of
from services.store.base import Triage
from services.store.sqlite import SqliteStore
from tests.unit.services.factories import article, signal

AT = datetime(2018, 10, 1, tzinfo=UTC)


def verdict(target: str, tid: str, aid: str, status: str) -> Triage:
    return Triage(target, tid, aid, status, "", "a1", AT)


def test_labels_follow_the_article_verdict_then_the_signals() -> None:
    assert label_of([verdict("article", "a", "a", "confirmed")]) == "disinfo"
    assert label_of([verdict("article", "a", "a", "false_positive")]) == "neutral"
    assert label_of([verdict("article", "a", "a", "needs_review")]) is None
    assert label_of([verdict("signal", "s1", "a", "false_positive")]) == "neutral"
    mixed = [
        verdict("signal", "s1", "a", "false_positive"),
        verdict("signal", "s2", "a", "confirmed"),
    ]
    assert label_of(mixed) == "disinfo"
    assert label_of([verdict("signal", "s1", "a", "needs_review")]) is None


def test_export_writes_records_eval_reads(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path)
    good = article("https://e.org/1", "Referendum je nelegalan", "Tekst o referendumu.")
    bad = article("https://e.org/2", "Vreme", "Sunce.", country="RS")
    open_ = article("https://e.org/3", "Izbori", "Tekst.")
    store.put_articles([good, bad, open_])
    store.put_signals([signal(good), signal(bad)])
    store.put_triage(
        [
            verdict("article", good.id, good.id, "confirmed"),
            verdict("signal", signal(bad).id, bad.id, "false_positive"),
            verdict("article", open_.id, open_.id, "needs_review"),
        ]
    )
    out = io.StringIO()
    counts = export(store, out)
    store.close()
    assert counts == {
        "records": 2,
        "disinfo": 1,
        "neutral": 1,
        "undecided": 1,
        "missing_article": 0,
    }
    path = tmp_path / "labelled.jsonl"
    path.write_text(out.getvalue(), encoding="utf-8")
    records, problems = read_records([str(path)])
    assert problems == []
    assert {(r["id"], r["label"]) for r in records} == {(good.id, "disinfo"), (bad.id, "neutral")}
    for r in records:  # each becomes the same article again
        a = to_article(r)
        assert a.id == r["id"] and a.source.country in ("MK", "RS")
    first = json.loads(out.getvalue().splitlines()[0])
    assert first["triage"][0]["analyst"] == "a1"

    # and the training corpus reader (hybridwatch train) takes the same file
    from services.learning.corpus import read_records as corpus_records

    labels = {r.id: r.label for r in corpus_records(path)}
    assert labels == {good.id: "disinfo", bad.id: "neutral"}
