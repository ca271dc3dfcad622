"""A bad `detectors.*` value ends `detect` and `eval` with the clean configuration error
(exit 2, one line naming the key and the problem), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_detect_cli import run_cli

pytestmark = pytest.mark.e2e

# Synthetic records written for this test (not from any corpus).
ARTICLE = json.dumps({"id": "c1", "title": "t", "text": "x", "synthetic": True})
LABELLED = json.dumps({"id": "c1", "text": "x", "label": "neutral", "synthetic": True})

BAD = [
    ("burst: {no_such_option: 1}", "detectors.options.burst: no_such_option"),
    ("amplification: {num_perm: 64, bands: 7}", "detectors.options.amplification:"),
    ("reputation: {watchlist_file: /nonexistent/watchlist.yaml}", "detectors.options.reputation:"),
]


def _config(tmp_path: Path, options: str) -> Path:
    cfg = tmp_path / "hybridwatch.yaml"
    detector = options.split(":", 1)[0]  # only that detector: the others need not load
    cfg.write_text(
        f"data_dir: {tmp_path / 'data'}\ndetectors:\n  enabled: [{detector}]\n"
        f"  options:\n    {options}\n",
        encoding="utf-8",
    )
    return cfg


@pytest.mark.parametrize(("options", "names"), BAD)
def test_detect_with_a_bad_detector_option_exits_2_naming_it(
    tmp_path: Path, options: str, names: str
) -> None:
    done = run_cli("detect", "--config", str(_config(tmp_path, options)), stdin=ARTICLE + "\n")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert names in done.stderr
    assert done.stderr.startswith("hybridwatch: invalid detector configuration: ")
    assert done.stdout == ""


@pytest.mark.parametrize(("options", "names"), BAD)
def test_eval_with_a_bad_detector_option_exits_2_naming_it(
    tmp_path: Path, options: str, names: str
) -> None:
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(LABELLED + "\n", encoding="utf-8")
    cfg = _config(tmp_path, options)
    done = run_cli("eval", "--config", str(cfg), "--input", str(labelled))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert names in done.stderr


def test_an_unknown_detector_exits_2_listing_the_known_ones(tmp_path: Path) -> None:
    cfg = tmp_path / "hybridwatch.yaml"
    cfg.write_text("detectors:\n  enabled: [burst, nope]\n", encoding="utf-8")
    done = run_cli("detect", "--config", str(cfg), stdin=ARTICLE + "\n")
    assert done.returncode == 2
    assert "unknown detector 'nope' (known: " in done.stderr
    assert "Traceback" not in done.stderr
