"""scripts/check_packs.py: per-pack flag rates on labelled files read like `detect` does.

The records below are synthetic, written for this test."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _script() -> ModuleType:  # scripts/ is not a package
    spec = importlib.util.spec_from_file_location(
        "check_packs", ROOT / "scripts" / "check_packs.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["check_packs"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.fixture
def train(tmp_path: Path) -> Path:
    case = {"case_id": "c1", "language": ["Serbian"], "title": "Claim title"}
    _write(
        tmp_path / "euvsdisinfo-train.jsonl",
        [
            {
                **case,
                "label": "disinfo",
                "text_field": "summary",
                "text": "NATO aggression killed children.",
            },
            {**case, "label": "disinfo", "text_field": "title", "text": "The weather was fine."},
            {
                **case,
                "label": "disinfo",
                "text_field": "article_abstract",
                "text": "НАТО агресија.",
            },
            {
                **case,
                "label": "disproof",
                "text_field": "disproof",
                "text": "No evidence given. NATO aggression is a myth spread by outlets.",
            },
        ],
    )
    _write(
        tmp_path / "neutral-train.jsonl",
        [
            {
                "label": "neutral",
                "language": "sr-Latn",
                "title": None,
                "text": "Skupština je usvojila budžet.",
                "subjects": [],
            },
            {
                "label": "neutral",
                "language": "sr-Latn",
                "title": "NATO",
                "text": "Ministri NATO sastali su se.",
                "subjects": ["nato"],
            },
        ],
    )
    _write(
        tmp_path / "neutral-train-en.jsonl",
        [{"label": "neutral", "language": "en", "text": "The council met on Monday."}],
    )
    return tmp_path


def test_flag_rates_per_group_and_for_all_packs(
    train: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _script().main(["--data", str(train), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["records"] == {
        "disinfo-claim": 2,
        "disinfo-excerpt": 1,
        "disproof": 1,
        "neutral-sr-Latn": 2,
        "neutral-sr-Latn-topical": 1,
        "neutral-en": 1,
    }
    all_packs = out["flag_rate"]["ALL PACKS (risk >= 0.5)"]
    assert all_packs["disinfo-claim"] == 0.5
    assert all_packs["disinfo-excerpt"] == 1.0
    assert all_packs["disproof"] == 0.0  # the opening verdict negates the restated claim
    assert all_packs["neutral-sr-Latn"] == 0.0
    assert out["flag_rate"]["nato-aggression"]["disinfo-claim"] == 0.5


def test_input_files_replace_the_train_files(
    train: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    only = train / "neutral-train-en.jsonl"
    assert _script().main(["--input", str(only), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["records"] == {"neutral-en": 1}


def test_unreadable_data_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _script().main(["--data", str(tmp_path / "missing")]) == 2
    assert "cannot read training data" in capsys.readouterr().err


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"label": "neutral"}\nnot json\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"bad\.jsonl:2: not JSON"):
        _script().main(["--input", str(tmp_path / "bad.jsonl")])
