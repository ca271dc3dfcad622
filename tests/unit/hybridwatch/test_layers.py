"""Imports point down only: entrypoints -> services, ingest, detectors -> hybridwatch.

Checked on the source text (every `import`/`from` statement, also inside functions), so a
lazy import inside a function cannot hide an arrow pointing the wrong way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _imports(package: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
            elif isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), a.name) for a in node.names]
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("hybridwatch", ("services", "ingest", "detectors")),
        ("detectors", ("services", "ingest")),
        ("ingest", ("services", "detectors")),
    ],
)
def test_a_lower_layer_imports_nothing_from_a_higher_one(
    package: str, forbidden: tuple[str, ...]
) -> None:
    wrong = [(f, m) for f, m in _imports(package) if m.split(".")[0] in forbidden]
    assert wrong == [], f"{package}/ must not import {', '.join(forbidden)}: {wrong}"


def test_only_the_entrypoints_import_the_entrypoints() -> None:
    wrong = [
        (f, m)
        for f, m in _imports("services")
        if m.startswith("services.entrypoints") and not f.startswith("services/entrypoints/")
    ]
    assert wrong == [], f"runtimes must not import the CLI or the composition root: {wrong}"
