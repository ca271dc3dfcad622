"""Concept references (``@NAME``) in rule packs: compiled per language group, applied to
an article of that group only, guessed for unknown languages, with exact evidence spans.

Every sentence is synthetic, written for these tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from detectors.narrative import NarrativeDetector, NarrativeOptions
from detectors.rulepack import PackError, parse_pack
from detectors.view import ArticleView
from hybridwatch.events import Article
from tests.unit.detectors.conftest import make_article

TESTS = {
    lang: {"positive": [pos], "negative": ["Nothing here."]}
    for lang, pos in {
        "en": "NATO bombs.",
        "sr-Latn": "NATO bombe.",
        "sr-Cyrl": "НАТО бомбе.",
        "hr": "NATO bombe.",
        "bs": "NATO bombe.",
        "cnr": "NATO bombe.",
        "mk": "НАТО бомби.",
        "sq": "NATO bomba.",
    }.items()
}


def pack(terms: dict[str, Any]) -> dict[str, Any]:
    return {"id": "demo", "title": "Demo", "description": "demo", "terms": terms, "tests": TESTS}


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> NarrativeDetector:
    d: Path = tmp_path_factory.mktemp("packs")
    data = pack({"any": [{"all": ["@NATO", "@BOMBING | @AGGRESSION"], "window": 4, "weight": 0.6}]})
    (d / "demo.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return NarrativeDetector(NarrativeOptions(packs_dir=str(d)))


def score(det: NarrativeDetector, text: str, language: str = "und", title: str = "") -> float:
    art = make_article(text, title=title)
    art = Article.model_validate({**art.model_dump(), "language": language})
    return max((s.score for s in det.analyse(ArticleView(art))), default=0.0)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "Yesterday NATO aggression against a sovereign country began."),
        ("sr-Latn", "Počela je NATO agresija na suverenu zemlju."),
        ("sr-Cyrl", "Почела је НАТО агресија на суверену земљу."),
        ("hr", "NATO je bombardirao gradove."),
        ("bs", "NATO je bombardovao gradove."),
        ("cnr", "NATO je bombardovao gradove."),
        ("mk", "НАТО ја бомбардираше земјата."),
        ("sq", "NATO bombardoi qytetet e vendit."),
    ],
)
def test_one_concept_rule_recognises_the_narrative_in_every_language(
    detector: NarrativeDetector, language: str, text: str
) -> None:
    assert score(detector, text, language) >= 0.5
    assert score(detector, text, "und") >= 0.5  # language guessed or all groups applied


def test_a_group_variant_applies_only_to_articles_of_that_group(
    detector: NarrativeDetector,
) -> None:
    # "agresij*" is an AGGRESSION stem of Serbo-Croatian only; English text does not use it
    assert score(detector, "NATO agresija", "sr-Latn") >= 0.5
    assert score(detector, "NATO agresija", "en") == 0.0


def test_unknown_language_is_guessed_from_function_words(detector: NarrativeDetector) -> None:
    english = "The NATO agresija is the name of a cocktail and it was served with the meal."
    assert score(detector, english, "und") == 0.0
    serbian = "NATO agresija je bila zločin, a to nije samo naše mišljenje ili sve."
    assert score(detector, serbian, "und") >= 0.5
    assert score(detector, "NATO agresija", "und") >= 0.5  # too short to tell: every group


def test_concept_rule_evidence_is_exact_in_the_original_script(
    detector: NarrativeDetector,
) -> None:
    text = "Љубљана, 24. март — «НАТО» агресија на Србију."
    art = make_article(text)
    (sig,) = detector.detect(ArticleView(art), None)  # type: ignore[arg-type]
    assert {e.text for e in sig.evidence} == {"НАТО", "агресија"}
    for e in sig.evidence:
        assert text[e.start : e.end] == e.text


def test_unknown_concept_is_refused_naming_file_language_and_term() -> None:
    with pytest.raises(PackError, match=r"demo\.yaml: terms: any\[0\]: .*unknown concept '@NATTO'"):
        parse_pack(pack({"any": [{"all": ["@NATTO", "@BOMBING"]}]}), "demo.yaml")


def test_concepts_mix_with_literal_alternatives_in_a_language_list() -> None:
    p = parse_pack(
        pack({"en": [{"all": ["@NATO | the alliance", "bombed"], "window": 3}], "any": ["@NATO"]}),
        "demo.yaml",
    )
    rules = list(p.rules())
    en = [r for r in rules if r.lang == "en"]
    assert len(en) == 1
    first = {str(ph) for ph in en[0].components[0]}
    assert {"nato", "the alliance", "north atlantic alliance"} <= first
    assert sorted(r.lang for r in rules if r.id == "demo/any/0") == ["@bcms", "@en", "@mk", "@sq"]


def test_same_words_matched_by_two_rules_count_once(detector: NarrativeDetector) -> None:
    from detectors.narrative import NarrativeDetector as Det

    bundled = Det(NarrativeOptions(packs=("nato-aggression",)))
    (ps,) = bundled.analyse(ArticleView(make_article("NATO aggression.")))
    # the literal phrase and the concept rule match the same two words: one piece of evidence
    assert len(ps.hits) == 1


def test_fallback_pack_scores_only_words_no_specific_pack_matched() -> None:
    det = NarrativeDetector(NarrativeOptions())
    specific = det.analyse(ArticleView(make_article("Двадесет година од НАТО агресије.")))
    assert [s.pack.id for s in specific] == ["nato-aggression"]
    generic = det.analyse(
        ArticleView(make_article("The West destroys sovereign states and humiliates them."))
    )
    assert "western-hostility" in {s.pack.id for s in generic}
