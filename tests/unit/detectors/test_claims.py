"""Known-claim matching against an index built by scripts/build_claim_index.py."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from detectors.claims import INDEX_FILE, ClaimsDetector, ClaimsOptions, load_index
from detectors.view import ArticleView
from tests.unit.detectors.conftest import make_article

ROOT = Path(__file__).resolve().parents[3]

# synthetic claims and background, written for this test
CLAIMS = [
    {"id": "case-1", "case_id": "case-1", "label": "disinfo", "date": "2020-01-01",
     "text": "Američke tajne laboratorije u Gruziji proizvode biološko oružje protiv Rusije"},
    {"id": "case-2", "case_id": "case-2", "label": "disinfo", "date": "2020-01-02",
     "text": "The referendum in Macedonia failed and the name deal was imposed by Washington"},
    {"id": "case-2#disproof", "case_id": "case-2", "label": "disproof", "date": "2020-01-02",
     "text": "This is a fact-check and must not be indexed"},
]  # fmt: skip
BACKGROUND = [
    {"id": f"n{i}", "label": "neutral", "title": "", "text": t}
    for i, t in enumerate(
        [
            "Vlada je usvojila budžet za narednu godinu.",
            "The government adopted the budget for next year.",
            "Skupština je raspravljala o zakonu o obrazovanju.",
        ]
    )
]


def _build(tmp_path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("bci", ROOT / "scripts" / "build_claim_index.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    claims = tmp_path / "claims.jsonl"
    bg = tmp_path / "bg.jsonl"
    claims.write_text("\n".join(json.dumps(r) for r in CLAIMS), encoding="utf-8")
    bg.write_text("\n".join(json.dumps(r) for r in BACKGROUND), encoding="utf-8")
    out = tmp_path / "index.json.gz"
    assert mod.main(["--claims", str(claims), "--background", str(bg), "--output", str(out)]) == 0
    return out


@pytest.fixture()
def index_file(tmp_path: Path) -> Path:
    return _build(tmp_path)


def test_index_holds_only_disinfo_claims_and_no_text(index_file: Path) -> None:
    idx = load_index(index_file)
    assert [c["case_id"] for c in idx.claims] == ["case-1", "case-2"]
    assert all("text" not in c for c in idx.claims)


def test_build_is_deterministic(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _build(tmp_path / "a").read_bytes() == _build(tmp_path / "b").read_bytes()


def test_cyrillic_inflected_restatement_matches_the_latin_claim(index_file: Path) -> None:
    det = ClaimsDetector(ClaimsOptions(index_file=str(index_file)))
    art = make_article("Америчке тајне лабораторије у Грузији производе биолошко оружје.")
    (sig,) = det.detect(ArticleView(art), {})
    assert sig.details["claim_id"] == "case-1"
    assert sig.details["similarity"] >= 0.4
    assert sig.score >= 0.5
    ev = sig.evidence[0]
    assert art.text[ev.start : ev.end] == ev.text
    assert ev.rule == "claim:case-1"


def test_unrelated_text_matches_nothing(index_file: Path) -> None:
    det = ClaimsDetector(ClaimsOptions(index_file=str(index_file)))
    art = make_article("Košarkaši Partizana pobedili su u Beogradu posle produžetka.")
    assert det.detect(ArticleView(art), {}) == []


def test_leave_one_case_out_skips_the_articles_own_case(index_file: Path) -> None:
    text = "The referendum in Macedonia failed and the name deal was imposed by Washington"
    plain = ClaimsDetector(ClaimsOptions(index_file=str(index_file)))
    loo = ClaimsDetector(ClaimsOptions(index_file=str(index_file), exclude_same_case=True))
    for aid in ("case-2", "case-2#disproof"):
        art = make_article(text, aid=aid)
        assert [s.details["claim_id"] for s in plain.detect(ArticleView(art), {})] == ["case-2"]
        assert loo.detect(ArticleView(art), {}) == []


def test_bundled_index_loads() -> None:
    idx = load_index(INDEX_FILE)
    assert len(idx.claims) > 0
    assert len({c["case_id"] for c in idx.claims}) == len(idx.claims)
