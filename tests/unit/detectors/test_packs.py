"""Every rule pack's own test sentences, per pack and per language.

The sentences live in the pack file (``tests:``), so a narrative added as data is
tested without code changes; the validator refuses a pack whose languages lack
positive or negative sentences.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.narrative import NarrativeDetector, NarrativeOptions
from detectors.rulepack import PackError, load_packs, parse_pack
from detectors.view import ArticleView
from tests.unit.detectors.conftest import make_article

FLAG = 0.5
PACKS = load_packs()
NARRATIVES = [p for p in PACKS if p.kind == "narrative"]
CUES = [p for p in PACKS if p.kind == "cues"]
CASES = [
    (pack.id, lang, polarity, sentence)
    for pack in NARRATIVES
    for lang, tests in sorted(pack.tests.items())
    for polarity, sentences in (("positive", tests.positive), ("negative", tests.negative))
    for sentence in sentences
]


@pytest.fixture(scope="module")
def detector() -> NarrativeDetector:
    return NarrativeDetector(NarrativeOptions())


def pack_score(detector: NarrativeDetector, pack_id: str, sentence: str) -> float:
    scores = detector.analyse(ArticleView(make_article(sentence)))
    return max((s.score for s in scores if s.pack.id == pack_id), default=0.0)


@pytest.mark.parametrize(("pack_id", "lang", "polarity", "sentence"), CASES)
def test_pack_sentence_is_flagged_exactly_when_positive(
    detector: NarrativeDetector, pack_id: str, lang: str, polarity: str, sentence: str
) -> None:
    score = pack_score(detector, pack_id, sentence)
    if polarity == "positive":
        assert score >= FLAG, f"{pack_id} [{lang}] should flag: {sentence!r} (score {score:.2f})"
    else:
        assert score < FLAG, f"{pack_id} [{lang}] should not flag: {sentence!r} (score {score:.2f})"


REQUIRED = {
    "referendum-illegitimacy",
    "western-puppets",
    "nato-aggression",
    "eu-collapse",
    "kosovo-serbian-victimhood",
    "migrants-invasion",
    "russia-china-saviour",
    "election-fraud",
    "biolabs-health",
    "violent-extremism",
    "weapons-smuggling",
    "organised-crime",
}


def test_every_required_narrative_has_a_pack() -> None:
    assert {p.id for p in NARRATIVES} >= REQUIRED


@pytest.mark.parametrize("pack", NARRATIVES, ids=lambda p: p.id)
def test_every_pack_covers_all_balkan_languages_with_tests(pack: object) -> None:
    from detectors.rulepack import Pack

    assert isinstance(pack, Pack)
    langs = set(pack.tests)
    assert {"en", "sr-Latn", "sr-Cyrl", "hr", "bs", "cnr", "mk", "sq"} <= langs


@pytest.mark.parametrize("pack", CUES, ids=lambda p: p.id)
def test_refutation_cues_sentences(pack: object) -> None:
    from detectors.matcher import Matcher
    from detectors.rulepack import Pack
    from hybridwatch.textfold import fold

    assert isinstance(pack, Pack)
    matcher = Matcher(pack.rules())
    for lang, tests in pack.tests.items():
        for s in tests.positive:
            assert matcher.scan(fold(s)).hits, f"[{lang}] no cue found in {s!r}"
        for s in tests.negative:
            assert not matcher.scan(fold(s)).hits, f"[{lang}] cue found in {s!r}"


def _minimal(**over: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": "demo",
        "title": "Demo",
        "description": "demo",
        "terms": {"en": ["foo bar"]},
        "tests": {"en": {"positive": ["foo bar"], "negative": ["baz"]}},
    }
    data.update(over)
    return data


def test_pack_without_tests_for_a_language_is_rejected() -> None:
    with pytest.raises(PackError, match=r"tests\.sr-Cyrl: missing"):
        parse_pack(
            _minimal(
                terms={"en": ["foo"], "sr": ["foo"]},
                tests={
                    "en": {"positive": ["foo"], "negative": ["x"]},
                    "sr-Latn": {"positive": ["foo"], "negative": ["x"]},
                },
            ),
            "demo.yaml",
        )


def test_pack_with_bad_rule_syntax_names_file_and_term() -> None:
    with pytest.raises(PackError, match=r"demo\.yaml: terms: .*'a\*'.*shorter"):
        parse_pack(_minimal(terms={"en": ["a*"]}), "demo.yaml")


def test_pack_with_unknown_key_or_bad_country_is_rejected() -> None:
    with pytest.raises(PackError, match="weigth"):
        parse_pack(_minimal(weigth=0.5), "demo.yaml")
    with pytest.raises(PackError, match="alpha-2"):
        parse_pack(_minimal(countries=["Serbia"]), "demo.yaml")


def test_pack_file_name_must_match_its_id(tmp_path: Path) -> None:
    import yaml

    from detectors.rulepack import load_pack

    f = tmp_path / "other.yaml"
    f.write_text(yaml.safe_dump(_minimal()), encoding="utf-8")
    with pytest.raises(PackError, match="must equal the file name"):
        load_pack(f)


def test_new_pack_directory_works_without_code_change(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(_minimal()), encoding="utf-8")
    det = NarrativeDetector(NarrativeOptions(packs_dir=str(tmp_path)))
    scores = det.analyse(ArticleView(make_article("something foo bar something")))
    assert [s.pack.id for s in scores] == ["demo"]
