"""Shared pytest set-up. Server fixtures live in tests/fixtures/ (one module per server)."""

pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.search",
    "tests.fixtures.http",
]
