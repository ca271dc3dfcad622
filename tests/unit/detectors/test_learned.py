"""The learned detector: features, weights file, signals and their evidence spans.

The models here are fitted in the test on a handful of synthetic sentences (written
for these tests), so the assertions are about mechanics - same features at training
and run time, exact evidence offsets, canonical files - not about quality, which
`hybridwatch train` reports on the real data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.base import DetectorConfigError
from detectors.learned import LearnedDetector, LearnedFeatures, LearnedOptions, load_lexicon
from detectors.learned_features import Featurizer, is_english
from detectors.learned_model import LinearModel, ModelFile, ModelFileError, load_model_file
from detectors.view import ArticleView
from hybridwatch.events import Signal
from hybridwatch.textfold import fold
from tests.unit.detectors.conftest import make_article

# Synthetic sentences, written for these tests.
CLAIMS = [
    "NATO is secretly preparing an aggression against the Serbian people",
    "The West installed a puppet regime to occupy the country",
    "The referendum was orchestrated by Washington to humiliate the nation",
    "NATO bombs poisoned the children with depleted uranium",
    "The puppet government betrayed the people to the globalists",
    "Brussels wants to colonise the Balkans and destroy the Orthodox church",
]
NEWS = [
    "The minister said on Tuesday that the new bridge will open in May",
    "Prices of bread rose by two percent in the last quarter, the statistics office said",
    "The football club announced a new coach after the season ended",
    "The government met union leaders to discuss wages in the public sector",
    "Rain is expected in the north of the country during the weekend",
    "The court adjourned the trial until next month, a spokesman said",
]


def _fit(rows: list[np.ndarray], y: list[int], n_bits: int) -> LinearModel:
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    data, cols, ptr = [], [], [0]
    for idx in rows:
        cols.extend(idx.tolist())
        data.extend([1.0 / np.sqrt(max(idx.size, 1))] * idx.size)
        ptr.append(len(cols))
    X = csr_matrix((data, cols, ptr), shape=(len(rows), 1 << n_bits))
    m = LogisticRegression(C=10.0, max_iter=1000).fit(X, y)
    nz = np.flatnonzero(m.coef_[0])
    return LinearModel(n_bits, float(m.intercept_[0]), nz, m.coef_[0][nz].astype(np.float32))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    feats = LearnedFeatures(load_lexicon())
    texts = CLAIMS + NEWS
    y = [1] * len(CLAIMS) + [0] * len(NEWS)
    english = _fit([feats.english_indices(t) for t in texts], y, feats.words.n_bits)
    concepts = _fit([feats.concept_indices(t) for t in texts], y, feats.concept_bits)
    mf = ModelFile(
        "test-1",
        {"english": english, "concepts": concepts},
        {"features": feats.describe(), "operating_point": {"english": 0.5, "concepts": 0.6}},
    )
    path = tmp_path_factory.mktemp("learned") / "model.json.gz"
    path.write_bytes(mf.to_bytes())
    return path


def _detector(path: Path) -> LearnedDetector:
    return LearnedDetector(LearnedOptions(model_file=str(path), min_score=0.0))


def test_english_gate_reads_function_words_not_the_declared_language() -> None:
    f = Featurizer()
    assert is_english(f.tokens(fold("The army said that it was ready for the talks")).words)
    assert not is_english(f.tokens(fold("Влада је рекла да ће се састати са синдикатима")).words)
    assert not is_english(f.tokens(fold("Qeveria tha se do të takohet me sindikatat")).words)
    assert not is_english(f.tokens(fold("Vlada je rekla da će se sastati sa sindikatima")).words)


def test_feature_indices_do_not_depend_on_the_token_cache() -> None:
    text = fold("NATO aggression against the people, said the minister")
    warm = Featurizer()
    first = warm.indices(warm.tokens(text))
    again = warm.indices(warm.tokens(text))
    cold = Featurizer().indices(Featurizer().tokens(text))
    assert first.tolist() == again.tolist() == cold.tolist()
    assert warm.unigram_index("nato") in first.tolist()
    assert warm.bigram_index("nato", "aggression") in first.tolist()


def test_cyrillic_and_latin_spellings_share_features() -> None:
    f = Featurizer()
    cyr = f.indices(f.tokens(fold("НАТО агресија на Србију")))
    lat = f.indices(f.tokens(fold("NATO agresija na Srbiju")))
    assert cyr.tolist() == lat.tolist()


def test_weights_file_round_trips_to_the_same_bytes(model_path: Path) -> None:
    raw = model_path.read_bytes()
    again = ModelFile.from_bytes(raw).to_bytes()
    assert again == raw
    mf = load_model_file(model_path)
    assert mf.version == "test-1"
    assert set(mf.models) == {"english", "concepts"}


def test_weights_file_of_another_format_is_refused_with_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(ModelFileError, match=r"bad\.json\.gz"):
        load_model_file(bad)
    with pytest.raises(DetectorConfigError, match=r"detectors\.options\.learned\.model_file"):
        LearnedDetector(LearnedOptions(model_file=str(tmp_path / "missing.json.gz")))


def test_a_claim_gets_a_signal_whose_evidence_is_exact_text_of_the_article(
    model_path: Path,
) -> None:
    det = _detector(model_path)
    art = make_article(
        "Sources claim NATO is secretly preparing an aggression against the people.",
        title="The puppet regime betrayed the nation",
    )
    signals = det.detect(ArticleView(art), {})
    assert len(signals) == 1
    sig = signals[0]
    assert sig.detector == "learned" and sig.score >= 0.5
    assert sig.evidence, "a learned signal must explain itself"
    for ev in sig.evidence:
        assert getattr(art, ev.field)[ev.start : ev.end] == ev.text
        assert ev.rule.startswith("learned:")
    assert sig.details["model"] in {"english", "concepts"}


def test_ordinary_news_stays_below_the_flag_score(model_path: Path) -> None:
    det = _detector(model_path)
    art = make_article("The minister said the new bridge will open in May, the office said.")
    signals = det.detect(ArticleView(art), {})
    assert all(s.score < 0.5 for s in signals)


def test_cyrillic_evidence_spans_map_back_to_the_original_script(model_path: Path) -> None:
    det = _detector(model_path)
    art = make_article(
        "Марионетски режим је издао народ, НАТО агресија и окупација земље.",
        title="НАТО агресија",
        country="RS",
    )
    signals = det.detect(ArticleView(art), {})
    for sig in signals:
        for ev in sig.evidence:
            assert getattr(art, ev.field)[ev.start : ev.end] == ev.text
            assert ev.text and not ev.text.isascii()


def test_same_article_gives_the_same_signal_id_and_score(model_path: Path) -> None:
    art = make_article("NATO bombs poisoned the children with depleted uranium")
    a = _detector(model_path).detect(ArticleView(art), {})
    b = _detector(model_path).detect(ArticleView(art), {})
    assert [s.to_dict() for s in a] == [s.to_dict() for s in b]


def test_weights_trained_with_another_concept_lexicon_load_with_a_warning(
    model_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mf = load_model_file(model_path)
    meta = dict(mf.meta)
    meta["features"] = dict(meta["features"], lexicon="0-other")
    other = tmp_path / "other.json.gz"
    other.write_bytes(ModelFile(mf.version, mf.models, meta).to_bytes())
    with caplog.at_level("WARNING"):
        det = _detector(other)
    assert det.concept_model is not None
    assert "hybridwatch train" in caplog.text


def test_regional_text_gets_the_concept_model_only_as_a_candidate_of_the_first_phase(
    model_path: Path,
) -> None:
    from datetime import UTC, datetime

    from hybridwatch.events import Signal

    det = _detector(model_path)
    art = make_article(
        "Марионетски режим је издао народ, НАТО агресија и окупација земље.", country="RS"
    )
    view = ArticleView(art)
    ungated = det.detect(view, {})
    assert ungated and ungated[0].details["model"] == "concepts"
    assert det.refine(view, [], {}) == []  # nothing raised it: no concept scan
    pack = Signal(
        id="n1",
        article_id=art.id,
        detector="narrative",
        country="RS",
        severity="low",
        score=0.3,
        event_time=datetime(2018, 9, 30, tzinfo=UTC),
    )
    refined = det.refine(view, [pack], {})
    assert refined[0] is pack
    assert [s.to_dict() for s in refined[1:]] == [s.to_dict() for s in ungated]


def test_english_text_gets_the_word_model_whatever_the_first_phase_found(
    model_path: Path,
) -> None:
    det = _detector(model_path)
    view = ArticleView(make_article("NATO bombs poisoned the children with depleted uranium"))
    assert [s.to_dict() for s in det.refine(view, [], {})] == [
        s.to_dict() for s in det.detect(view, {})
    ]


def test_a_batch_prepared_gate_gives_the_signals_of_computing_it_per_article(
    model_path: Path,
) -> None:
    det = _detector(model_path)
    texts = [
        "NATO bombs poisoned the children with depleted uranium",
        "The council approved the new school budget on Monday.",
        "Марионетски режим је издао народ, НАТО агресија и окупација земље.",
    ]
    fresh = [ArticleView(make_article(t, country="RS")) for t in texts]
    batch = [ArticleView(make_article(t, country="RS")) for t in texts]
    det.prepare(batch)
    assert all(det.name in v.memo for v in batch)
    for a, b in zip(fresh, batch, strict=True):
        assert not a.memo
        assert [s.to_dict() for s in det.detect(b, {})] == [s.to_dict() for s in det.detect(a, {})]
        assert [s.to_dict() for s in det.refine(b, [], {})] == [
            s.to_dict() for s in det.refine(a, [], {})
        ]


# Synthetic refutations (fact-check register), written for these tests.
REFUTATIONS = [
    "There is no evidence that NATO is preparing an aggression; the claim is false",
    "This is a recurring disinformation narrative: no puppet regime was installed",
    "The claim that the referendum was orchestrated is baseless and not supported by facts",
    "No evidence supports the false allegation that bombs poisoned the children",
]


@pytest.fixture(scope="module")
def refuting_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    feats = LearnedFeatures(load_lexicon())
    texts = CLAIMS + NEWS + REFUTATIONS
    english = _fit(
        [feats.english_indices(t) for t in texts],
        [1] * len(CLAIMS) + [0] * (len(NEWS) + len(REFUTATIONS)),
        feats.words.n_bits,
    )
    refutation = _fit(
        [feats.english_indices(t) for t in texts],
        [0] * (len(CLAIMS) + len(NEWS)) + [1] * len(REFUTATIONS),
        feats.words.n_bits,
    )
    mf = ModelFile(
        "test-refuting",
        {"english": english, "refutation": refutation},
        {
            "features": feats.describe(),
            "operating_point": {"english": 0.5, "concepts": 0.6, "refutation": 0.5},
        },
    )
    path = tmp_path_factory.mktemp("learned") / "refuting.json.gz"
    path.write_bytes(mf.to_bytes())
    return path


def _pack_signal(article_id: str, detector: str, score: float) -> Signal:
    from datetime import UTC, datetime

    return Signal(
        id=f"{detector}-1",
        article_id=article_id,
        detector=detector,
        country="RS",
        severity="high",
        score=score,
        event_time=datetime(2018, 9, 30, tzinfo=UTC),
    )


def test_english_text_that_reads_as_a_refutation_dampens_pack_and_claim_signals(
    refuting_model_path: Path,
) -> None:
    from detectors.learned import REFUTATION_FACTOR

    det = _detector(refuting_model_path)
    art = make_article("No evidence supports the false allegation that NATO poisoned children")
    found = [
        _pack_signal(art.id, "narrative", 0.8),
        _pack_signal(art.id, "claims", 0.7),
        _pack_signal(art.id, "lookalike", 0.6),
    ]
    out = {s.detector: s for s in det.refine(ArticleView(art), found, {})}
    assert out["narrative"].score == pytest.approx(0.8 * REFUTATION_FACTOR, abs=1e-4)
    assert out["claims"].score == pytest.approx(0.7 * REFUTATION_FACTOR, abs=1e-4)
    assert out["narrative"].details["refuted"]["undampened_score"] == 0.8
    assert out["narrative"].details["refuted"]["probability"] >= 0.5
    assert out["lookalike"].score == 0.6  # where it was published is not refuted


def test_a_claim_keeps_its_pack_signals_when_a_refutation_model_is_present(
    refuting_model_path: Path,
) -> None:
    det = _detector(refuting_model_path)
    art = make_article(CLAIMS[0])
    found = [_pack_signal(art.id, "narrative", 0.8)]
    out = det.refine(ArticleView(art), found, {})
    assert out[0] == found[0]
    assert out[1].detector == "learned" and "refuted" not in out[1].details


def test_weights_without_a_refutation_model_dampen_nothing(model_path: Path) -> None:
    det = _detector(model_path)
    art = make_article(REFUTATIONS[0])
    found = [_pack_signal(art.id, "narrative", 0.8)]
    assert det.refine(ArticleView(art), found, {})[0] == found[0]
