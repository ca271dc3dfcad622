"""Observability tier: a real Prometheus (Debian's package, `make ops-tools`) scraping real
hybridwatch processes on a real Kafka and search engine."""

from __future__ import annotations

import pytest

from tests.fixtures.kafka import require_java


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/observability" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(autouse=True, scope="session")
def _java_present() -> None:
    require_java()
