"""Known-claim matching: index building, exact search, thresholds, evidence, imports."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from detectors.base import DetectorConfigError
from detectors.claim_index import (
    ClaimIndex,
    ClaimIndexError,
    ClaimText,
    build_index,
    gram_features,
    stem_features,
)
from detectors.claims import INDEX_FILE, ClaimsDetector, ClaimsOptions, load_index
from detectors.matcher import token_stream
from detectors.view import ArticleView
from hybridwatch.events import Article, Signal
from hybridwatch.textfold import fold
from services.claims.build import build_claim_index
from tests.unit.detectors.conftest import make_article

# synthetic claims and background, written for these tests
CLAIMS = [
    ClaimText("case-1", "Američke tajne laboratorije u Gruziji proizvode biološko oružje protiv Rusije",
              "title", "https://example.org/case-1", "2020-01-01"),
    ClaimText("case-2", "The referendum in Macedonia failed and the name deal was imposed by Washington",
              "summary", "https://example.org/case-2", "2020-01-02"),
    ClaimText("case-3", "NATO used depleted uranium ammunition which poisoned the soldiers in the Balkans",
              "title", None, None),
    ClaimText("case-4", "Europe is doing everything to destroy the INF treaty", "title"),
]  # fmt: skip
BACKGROUND = [
    "Vlada je usvojila budžet za narednu godinu.",
    "The government adopted the budget for next year.",
    "Skupština je raspravljala o zakonu o obrazovanju.",
    "NATO ministers met in Brussels on Tuesday to discuss the budget.",
    "Serbia and NATO held talks about cooperation in the region.",
    "The minister is doing everything to finish the road before winter.",
    "The club is doing everything to keep the coach until the summer.",
    "It is important to the town that the school is open to everyone.",
    "The bridge is closed to traffic and the police ask drivers to use the old road.",
    "Everything is ready for the festival, which is expected to draw the biggest crowd yet.",
]


@pytest.fixture(scope="module")
def index_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("claims") / "index.bin.gz"
    path.write_bytes(build_index(CLAIMS, BACKGROUND, {"test": True}))
    return path


def _detector(index_file: Path, **opts: Any) -> ClaimsDetector:
    return ClaimsDetector(ClaimsOptions(index_file=str(index_file), **opts))


def _check_spans(article: Article, signal: Signal) -> None:
    for ev in signal.evidence:
        assert getattr(article, ev.field)[ev.start : ev.end] == ev.text
        assert ev.text.strip()


def test_index_holds_derived_numbers_ids_and_urls_but_no_text(index_file: Path) -> None:
    idx = load_index(index_file)
    assert [c["id"] for c in idx.claims] == ["case-1", "case-2", "case-3", "case-4"]
    assert idx.claims[0]["url"] == "https://example.org/case-1"
    raw = gzip.decompress(index_file.read_bytes()).decode("latin-1").lower()
    for c in CLAIMS:
        for word in fold(c.text).split():
            if len(word) >= 6:
                assert word not in raw, word


def test_same_input_builds_the_same_bytes() -> None:
    a = build_index(CLAIMS, BACKGROUND, {"x": 1})
    b = build_index(list(reversed(CLAIMS)), BACKGROUND, {"x": 1})
    assert a == b
    assert ClaimIndex.from_bytes(a).version == ClaimIndex.from_bytes(b).version


def test_build_claim_index_reads_disinfo_records_and_records_input_checksums(
    tmp_path: Path,
) -> None:
    train = tmp_path / "train.jsonl"
    dev = tmp_path / "dev.jsonl"
    bg = tmp_path / "neutral.jsonl"
    rows = [
        {"id": "u1", "case_id": "u1", "label": "disinfo", "text_field": "title",
         "title": CLAIMS[0].text, "text": CLAIMS[0].text, "euvsdisinfo_url": "https://e/u1"},
        {"id": "u1#disproof", "case_id": "u1", "label": "disproof", "text": "A fact-check."},
    ]  # fmt: skip
    train.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    dev.write_text(
        json.dumps({"id": "d1", "case_id": "d1", "label": "disinfo", "text": CLAIMS[1].text})
        + "\n",
        encoding="utf-8",
    )
    bg.write_text(json.dumps({"text": BACKGROUND[0]}) + "\n", encoding="utf-8")
    out1, out2 = tmp_path / "a.bin.gz", tmp_path / "b.bin.gz"
    stats = build_claim_index(train, dev, out1, background_paths=[bg])
    build_claim_index(train, dev, out2, background_paths=[bg])
    assert out1.read_bytes() == out2.read_bytes()
    assert stats["claims"] == 2 and stats["vectors"] == 2
    idx = ClaimIndex.from_bytes(out1.read_bytes())
    assert [c["id"] for c in idx.claims] == ["d1", "u1"]
    assert set(idx.metadata["inputs"]) == {"train.jsonl", "dev.jsonl", "neutral.jsonl"}
    assert all(len(h) == 64 for h in idx.metadata["inputs"].values())


def test_build_names_the_file_and_line_of_a_bad_record(tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text('{"label": "disinfo"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"train\.jsonl:2: not JSON"):
        build_claim_index(train, None, tmp_path / "x.gz", background_paths=[])


def test_cyrillic_inflected_restatement_matches_with_exact_evidence(index_file: Path) -> None:
    det = _detector(index_file)
    text = "Америчке тајне лабораторије у Грузији производе биолошко оружје. Остало."
    art = make_article(text, title="Вести")
    (sig,) = det.detect(ArticleView(art), {})
    assert sig.details["claim_id"] == "case-1"
    assert sig.details["claim_url"] == "https://example.org/case-1"
    assert sig.details["similarity"] >= 0.45 and sig.details["coverage"] >= 0.6
    assert sig.details["index"] == "shipped"
    assert sig.score >= 0.5
    _check_spans(art, sig)
    assert [e.text for e in sig.evidence] == [
        "Америчке тајне лабораторије у Грузији производе биолошко оружје"
    ]
    assert all(e.rule == "claim:case-1" for e in sig.evidence)


def test_generic_overlap_on_names_does_not_match(index_file: Path) -> None:
    det = _detector(index_file)
    art = make_article(
        "NATO and Serbia: ministers discussed soldiers' pensions and the Balkans road network."
    )
    assert det.detect(ArticleView(art), {}) == []


def test_a_shared_frame_without_the_claims_content_does_not_match(index_file: Path) -> None:
    idx = load_index(index_file)
    probe = fold("NATO is doing everything to destroy the Orthodox Church")
    (loose,) = idx.search(probe, min_sim=0.3)[:1]
    assert idx.claims[loose.claim]["id"] == "case-4" and loose.coverage < 0.6
    assert _detector(index_file).detect(ArticleView(make_article(probe)), {}) == []


def test_unrelated_text_matches_nothing(index_file: Path) -> None:
    det = _detector(index_file)
    art = make_article("Košarkaši Partizana pobedili su u Beogradu posle produžetka.")
    assert det.detect(ArticleView(art), {}) == []


def test_leave_one_case_out_skips_the_articles_own_case(index_file: Path) -> None:
    text = CLAIMS[1].text
    plain = _detector(index_file)
    loo = _detector(index_file, exclude_same_case=True)
    for aid in ("case-2", "case-2#disproof"):
        art = make_article(text, aid=aid)
        assert [s.details["claim_id"] for s in plain.detect(ArticleView(art), {})] == ["case-2"]
        assert loo.detect(ArticleView(art), {}) == []


def test_imported_index_is_searched_after_use_imported(index_file: Path) -> None:
    det = _detector(index_file)
    claim = "Vakcine protiv gripa sadrže mikročipove za praćenje građana"
    art = make_article(claim + " - tvrdi portal.")
    assert det.detect(ArticleView(art), {}) == []
    imported = ClaimIndex.from_bytes(
        build_index([ClaimText("fc:7", claim, url="https://fc.example/7")], base=det.index)
    )
    det.use_imported(imported)
    (sig,) = det.detect(ArticleView(art), {})
    assert sig.details["claim_id"] == "fc:7" and sig.details["index"] == "imported"
    _check_spans(art, sig)
    det.use_imported(None)
    assert det.detect(ArticleView(art), {}) == []


def test_an_unreadable_index_is_a_configuration_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin.gz"
    bad.write_bytes(gzip.compress(b"not an index"))
    with pytest.raises(DetectorConfigError, match=r"bad\.bin\.gz.*magic"):
        ClaimsDetector(ClaimsOptions(index_file=str(bad)))
    with pytest.raises(ClaimIndexError, match="gzip"):
        ClaimIndex.from_bytes(b"plain bytes")


def test_bundled_index_holds_the_training_and_dev_claims() -> None:
    idx = load_index(INDEX_FILE)
    assert len(idx.claims) > 11_000
    assert len({c["id"] for c in idx.claims}) == len(idx.claims)
    assert {"euvsdisinfo-train.jsonl", "euvsdisinfo-wb-dev.jsonl"} <= set(idx.metadata["inputs"])
    assert {c["source"] for c in idx.claims} == {"euvsdisinfo-train", "euvsdisinfo-wb-dev"}


def _probes(seed: int, pool: list[str]) -> list[str]:
    """Folded probes from near-copies of claims to unrelated text."""
    rng = random.Random(seed)
    out = []
    for _ in range(150):
        words = " ".join(rng.sample(pool, 2)).split()
        start = rng.randrange(len(words))
        out.append(" ".join(words[start : start + rng.randint(1, 40)]))
    return [*out, *pool, "", "a", "ab cd", "Ѓ ќ non-ascii after folding? αβγ"]


def _brute(
    idx: ClaimIndex, probe: str, top: int, min_sim: float, min_cov: float
) -> list[tuple[int, float]]:
    stream = token_stream(probe)
    sims, covs = idx.brute_force(gram_features(stream), stem_features(stream))
    best: dict[int, float] = {}
    for v in np.flatnonzero((sims >= min_sim) & (sims > 0) & (covs >= min_cov)).tolist():
        c = int(idx.vec_claim[v])
        best[c] = max(best.get(c, 0.0), float(sims[v]))
    return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


@pytest.mark.parametrize(("min_sim", "min_cov"), [(0.0, 0.0), (0.3, 0.3), (0.45, 0.6), (0.3, 0.9)])
def test_search_equals_brute_force_and_a_batch_equals_each_probe(
    index_file: Path, min_sim: float, min_cov: float
) -> None:
    pool = [fold(c.text) for c in CLAIMS] + [fold(b) for b in BACKGROUND]
    cases = [(load_index(index_file), pool)]
    if min_cov >= 0.5:  # the shipped index with the pruned lists (the low ones are slow)
        cases.append((load_index(INDEX_FILE), pool))
    for idx, pool in cases:
        probes = _probes(7, pool)
        batch = idx.search_many(probes, top=5, min_sim=min_sim, min_coverage=min_cov)
        matched = 0
        for probe, found in zip(probes, batch, strict=True):
            assert found == idx.search(probe, 5, min_sim, min_cov), probe
            expected = _brute(idx, probe, 5, min_sim, min_cov)
            assert [m.claim for m in found] == [c for c, _ in expected], probe
            assert [m.similarity for m in found] == pytest.approx([s for _, s in expected])
            matched += bool(found)
        assert matched > 0 or idx is load_index(INDEX_FILE)
