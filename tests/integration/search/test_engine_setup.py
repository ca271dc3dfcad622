"""What the store needs from each engine, on the real nodes (runs on both engines).

On Elasticsearch these are exactly the gaps of the integ-test-zip that the test-tooling
plugin of deploy/local/elasticsearch/ fills (GET /, the analysis types of the templates)
and the one the store itself must tolerate (no ILM).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from hybridwatch.textfold import fold
from services.store import templates
from services.store.engine_client import detect_engine

pytestmark = [pytest.mark.integration, pytest.mark.search]

MIXED = "ПРИШТИНА: Šta je Đoković rekao o референдуму? Ljubav, NATO-savez 2018."


def test_the_engine_says_what_it_is(search_url: str, search_kind: str) -> None:
    assert detect_engine(search_url).engine == search_kind


def test_templates_name_a_retention_policy_only_when_one_is_installed(
    engine_store: Any, search_url: str, index_prefix: str
) -> None:
    resp = httpx.get(f"{search_url}/_index_template/{index_prefix}articles", timeout=30)
    resp.raise_for_status()
    settings = resp.json()["index_templates"][0]["index_template"]["template"]["settings"]
    named = settings.get("index", {}).get("lifecycle", {}).get("name")
    if engine_store.engine == "elasticsearch" and engine_store.retention_policy_installed:
        assert named == f"{index_prefix}{templates.RETENTION_POLICY}"
    else:
        assert named is None


def _analyze(search_url: str, index_prefix: str, field: str, text: str) -> list[str]:
    index = templates.index_name(index_prefix, "articles", datetime(2018, 9, 1, tzinfo=UTC))
    httpx.put(f"{search_url}/{index}", json={}, timeout=60).raise_for_status()
    resp = httpx.post(
        f"{search_url}/{index}/_analyze", json={"field": field, "text": text}, timeout=30
    )
    resp.raise_for_status()
    return [t["token"] for t in resp.json()["tokens"]]


def test_the_folded_analyzer_tokenises_as_textfold_and_fts5(
    engine_store: Any, search_url: str, index_prefix: str
) -> None:
    # hw_folded (mapping char filter, pattern tokenizer, lowercase, asciifolding) must
    # give the tokens SQLite FTS5 sees in fold(text): runs of letters and digits
    expected = [t for t in re.split(r"[\W_]+", fold(MIXED).lower()) if t]
    assert _analyze(search_url, index_prefix, "text_latn", MIXED) == expected
    assert "pristina" in expected and "djokovic" in expected


def test_the_english_sub_field_drops_stop_words_and_stems(
    engine_store: Any, search_url: str, index_prefix: str
) -> None:
    tokens = _analyze(
        search_url, index_prefix, "text.en", "The dogs are running to the referendums"
    )
    assert tokens == ["dog", "run", "referendum"]
