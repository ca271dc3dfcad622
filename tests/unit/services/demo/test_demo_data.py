"""The bundled demo archive: synthetic, labelled, covering every country and language,
and exactly what scripts/build_demo.py generates (deterministic, no hand edits)."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

import services.demo as demo
from hybridwatch.config import ConfigError, load_settings
from hybridwatch.events import WESTERN_BALKANS

ROOT = Path(__file__).resolve().parents[4]
LANGUAGES = {"mk", "sq", "sr-Cyrl", "sr-Latn", "bs", "hr", "cnr", "en"}


def _build_demo() -> object:
    spec = importlib.util.spec_from_file_location("build_demo", ROOT / "scripts" / "build_demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_demo"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_demo_files_are_exactly_the_generators_output() -> None:
    build_demo = _build_demo()
    outputs = build_demo.outputs()  # type: ignore[attr-defined]
    for name, data in outputs.items():
        assert (demo.DATA / name).read_bytes() == data, f"{name}: run scripts/build_demo.py"


def test_demo_articles_cover_every_country_and_language_and_are_labelled_synthetic() -> None:
    items = list(demo.articles())
    assert 2000 <= len(items) <= 3500
    assert {a.source.country for a in items} == set(WESTERN_BALKANS)
    assert {a.language for a in items} == LANGUAGES
    assert all("synthetic-demo" in a.source.tags for a in items)
    assert all(a.url.split("/")[2].endswith(".example") for a in items)
    assert all("(synthetic)" in a.source.outlet for a in items)
    assert [(a.published, a.id) for a in items] == sorted((a.published, a.id) for a in items)
    days = Counter(a.published.date().isoformat() for a in items)
    assert min(days) <= "2018-09-20" and max(days) >= "2018-10-01"
    claims = json.loads(demo.CLAIMS_FILE.read_text(encoding="utf-8"))
    assert claims["synthetic"] is True and len(claims["claims"]) >= 3


def test_demo_settings_use_their_own_folder_no_sources_and_no_subscriptions(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        environ={},
        overrides={
            "data_dir": str(tmp_path),
            "alerts": {"subscriptions": [{"id": "ops", "webhook": {"url": "http://x.test/h"}}]},
        },
    )
    d = demo.demo_settings(settings)
    assert d.data_dir == tmp_path / "demo"
    assert d.sources == ()
    assert d.alerts.subscriptions == ()
    assert d.archive_dir == tmp_path / "demo" / "archive"
    assert d.detectors.options["claims"]["index_file"] == str(tmp_path / "demo" / demo.INDEX_NAME)


def test_reset_wipes_only_a_folder_marked_as_the_demo(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    demo.reset(folder)
    (folder / "old.sqlite3").write_text("x", encoding="utf-8")
    demo.reset(folder)
    assert not (folder / "old.sqlite3").exists()
    assert (folder / demo.MARKER).is_file()
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a hybridwatch demo folder"):
        demo.reset(other)
    assert (other / "keep").exists()
