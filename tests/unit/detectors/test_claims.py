"""Known-claim matching against an index built by scripts/build_claim_index.py."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import pytest

from detectors.claims import INDEX_FILE, ClaimsDetector, ClaimsOptions, load_index, ngrams
from detectors.rulepack import load_packs
from detectors.view import ArticleView
from hybridwatch.textfold import fold
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


def _probes(seed: int) -> list[str]:
    """Folded probes from near-copies of the synthetic claims to unrelated text."""
    rng = random.Random(seed)
    pool = [fold(c["text"]) for c in CLAIMS] + [fold(r["text"]) for r in BACKGROUND]
    out = []
    for _ in range(300):
        words = " ".join(rng.sample(pool, 2)).split()
        start = rng.randrange(len(words))
        out.append(" ".join(words[start : start + rng.randint(1, 30)]))
    return [*out, *pool, "", "a", "ab cd", "Ѓ ќ non-ascii after folding? αβγ"]


def test_vectorised_search_equals_the_set_search(index_file: Path) -> None:
    idx = load_index(index_file)
    for probe in _probes(1):
        expected = idx._search_set(ngrams(probe, len(probe)), 5, 0.0)
        assert idx.search(probe, len(probe)) == expected, probe


def test_minimum_similarity_only_drops_results_below_it(index_file: Path) -> None:
    idx = load_index(index_file)
    seen_match = seen_dropped = 0
    for probe in _probes(2):
        full = idx.search(probe, len(probe))
        for min_sim in (0.0005, 0.05, 0.2, 0.4, 0.6, 0.95):
            pruned = idx.search(probe, len(probe), min_sim=min_sim)
            if full and full[0][1] >= min_sim:
                assert pruned == full, (probe, min_sim)
                seen_match += 1
            else:
                assert pruned in ([], full), (probe, min_sim)
                seen_dropped += pruned == []
    assert seen_match > 50 and seen_dropped > 50


def test_vectorised_search_equals_the_set_search_on_the_bundled_index() -> None:
    idx = load_index(INDEX_FILE)
    sentences = [
        fold(s)
        for pack in load_packs()
        for tests in pack.tests.values()
        for s in (*tests.positive, *tests.negative)
    ]
    assert len(sentences) > 50
    for probe in sentences:
        assert idx.search(probe, len(probe)) == idx._search_set(
            ngrams(probe, len(probe)), 5, 0.0
        ), probe
