"""Every evidence span points into the article: article.<field>[start:end] == text."""

from __future__ import annotations

import pytest

from detectors.pipeline import DetectorSuite
from hybridwatch.events import Article
from tests.unit.detectors.conftest import make_article

ARTICLES = [
    make_article(
        "Dvadeset godina od  NATO\u00a0agresije na Srbiju. Ђорђе каже: „Запад жели обојену "
        "револуцију“. To je lažna vijest, tvrde provjeravači.",
        title="Годишњица — 1999",
    ),
    make_article(
        "Referendumi dështoi dhe Marrëveshja e Prespës u imponua nga jashtë. "
        "Mediat perëndimore gënjejnë.",
        title="Shqipëria e madhe?",
    ),
    make_article(
        "ЕУ се распаѓа, а Брисел применува двојни стандарди и уцени. "
        "Сорошоидите финансирани од Сорос подготвуваат шарена револуција.",
        title="",
    ),
    make_article(
        "In 1999 NATO bombing Yugoslavia killed around 2,500 people, ﬁnally admitted.",
        title="NATO bombings of Yugoslavia in 1999 killed thousands",
    ),
    # Latin with diacritics only: folds character for character (no offset map)
    make_article(
        "Šta kažu građani? Ćirić iz Čačka: „NATO agresija“ na Srbiju bila je zločin.",
        title="Žrtve i građani",
    ),
    # Cyrillic letters folding to two (љ њ џ) before every hit: offsets shift
    make_article(
        "Људи из Његуша и џамија: «НАТО агресија» на Србију. Љубљана, Њујорк, НАТО агресија!",
        title="Љуте њиве",
    ),
]


@pytest.fixture(scope="module")
def suite() -> DetectorSuite:
    return DetectorSuite.from_config(["narrative", "claims"])


@pytest.mark.parametrize("article", ARTICLES, ids=lambda a: a.title[:20] or a.text[:20])
def test_every_evidence_slice_equals_its_text(suite: DetectorSuite, article: Article) -> None:
    detection = suite.process(article, {})
    assert detection.signals, "each sample article should raise at least one signal"
    count = 0
    for sig in detection.signals:
        for ev in sig.evidence:
            original = getattr(article, ev.field)
            assert original[ev.start : ev.end] == ev.text, (sig.detector, ev)
            assert ev.text.strip(), ev
            count += 1
    assert count > 0


def test_cyrillic_evidence_is_reported_in_the_original_script(suite: DetectorSuite) -> None:
    detection = suite.process(ARTICLES[0], {})
    texts = {ev.text for s in detection.signals for ev in s.evidence}
    assert "обојену револуцију" in texts
    assert "NATO\u00a0agresije" in texts


def test_negation_cue_is_part_of_the_evidence(suite: DetectorSuite) -> None:
    detection = suite.process(ARTICLES[0], {})
    rules = [ev.rule for s in detection.signals for ev in s.evidence]
    assert any(r.startswith("negated-by:refutation-cues/") for r in rules)
