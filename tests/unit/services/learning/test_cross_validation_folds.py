"""Cross-validation keeps a machine translation in the fold of the record it was
translated from (services/learning/run.py): a held-out case must not be learned through
its Serbian translation, and a held-out news text not through its English one."""

from __future__ import annotations

from services.learning import corpus
from services.learning.run import TRANSLATED_SUFFIX, _translated, source_id


def _claim(rid: str, group: str) -> corpus.Record:
    return corpus.Record(rid, "NATO bombed ...", "disinfo", "title", "en", group, "2020-01-01", "")


def test_a_translation_is_named_after_its_source_and_shares_its_case() -> None:
    src = [_claim("case-1#title", "case-1"), _claim("case-2#summary", "case-2")]
    out = _translated(src, ["NATO je bombardovao ...", "NATO ..."], "disinfo", "sr")
    assert [source_id(r.id) for r in out] == ["case-1#title", "case-2#summary"]
    assert [r.group for r in out] == ["case-1", "case-2"]
    assert all(r.text_field == "translated" and r.label == "disinfo" for r in out)


def test_source_id_leaves_an_original_record_id_alone() -> None:
    assert source_id("veedoo:/news_articles/1058#article_abstract") == (
        "veedoo:/news_articles/1058#article_abstract"
    )
    assert source_id("x#title" + TRANSLATED_SUFFIX) == "x#title"


def test_translations_without_known_sources_get_indexed_ids() -> None:
    out = _translated(None, ["a", "b"], "neutral", "en")
    assert [r.id for r in out] == ["translated:0", "translated:1"]
