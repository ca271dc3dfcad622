"""Every test in this folder runs once per engine: OpenSearch and Elasticsearch.

`search_url` / `search_kind` (and so `store_settings`, `engine_store` and the tests'
own store fixtures) follow the parametrized `search_engine` of tests/fixtures/search.py.
"""

from __future__ import annotations

import pytest

from tests.fixtures.search import SearchEngine


@pytest.fixture(scope="session")
def search_url(search_engine: SearchEngine) -> str:
    return search_engine.url


@pytest.fixture(scope="session")
def search_kind(search_engine: SearchEngine) -> str:
    return search_engine.kind
