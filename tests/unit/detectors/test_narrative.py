"""The narrative detector: signals, scores, negation, severity, determinism."""

from __future__ import annotations

import pytest

from detectors.base import DetectorConfigError
from detectors.narrative import NarrativeDetector, NarrativeOptions, severity_for
from detectors.view import ArticleView
from tests.unit.detectors.conftest import PUBLISHED, make_article


@pytest.fixture(scope="module")
def detector() -> NarrativeDetector:
    return NarrativeDetector(NarrativeOptions())


def test_signal_carries_pack_id_source_country_and_event_time(detector: NarrativeDetector) -> None:
    art = make_article("Двадесет година од НАТО агресије на Србију.", country="RS")
    (sig,) = detector.detect(ArticleView(art), {})
    assert sig.narrative == "nato-aggression"
    assert sig.country == "RS"
    assert sig.detector == "narrative"
    assert sig.event_time == PUBLISHED
    assert sig.score >= 0.5
    assert any(r.startswith("nato-aggression/") for r in sig.details["rules"])


def test_refutation_cue_near_the_claim_lowers_the_score(detector: NarrativeDetector) -> None:
    claim = "NATO aggression against Yugoslavia was a crime."
    debunk = "Fact-checkers debunked the story about NATO aggression against Yugoslavia."
    plain = detector.analyse(ArticleView(make_article(claim)))[0]
    negated = detector.analyse(ArticleView(make_article(debunk)))[0]
    assert negated.score < 0.5 <= plain.score
    assert negated.negated == 1


def test_cue_in_the_title_negates_claims_in_the_body(detector: NarrativeDetector) -> None:
    art = make_article(
        "Portali tvrde da je referendum propao i da je Prespanski sporazum nametnut.",
        title="Lažna vijest o referendumu",
    )
    (score,) = detector.analyse(ArticleView(art))
    assert score.pack.id == "referendum-illegitimacy"
    assert score.score < 0.5


def test_cue_far_from_the_claim_does_not_negate_it(detector: NarrativeDetector) -> None:
    filler = " ".join(["riječ"] * 40)
    art = make_article(
        f"{filler} To je lažna vijest. {filler} Prespanski sporazum je nametnut izdajom."
    )
    (score,) = detector.analyse(ArticleView(art))
    assert score.score >= 0.5


def test_cue_opening_the_text_negates_it_like_a_title_cue(detector: NarrativeDetector) -> None:
    filler = " ".join(["word"] * 30)
    claim = f"{filler} NATO aggression against Yugoslavia was a crime."
    plain = detector.analyse(ArticleView(make_article(claim)))[0]
    checked = detector.analyse(ArticleView(make_article(f"No evidence given. {claim}")))[0]
    assert checked.score < 0.5 <= plain.score
    assert checked.negated >= 1
    late = detector.analyse(ArticleView(make_article(f"{filler} {filler} No proof. {claim}")))
    assert late[0].score >= 0.5  # a cue past the lede and far from the claim does not count


def test_repeating_one_phrase_does_not_inflate_the_score(detector: NarrativeDetector) -> None:
    once = detector.analyse(ArticleView(make_article("Soros.")))[0].score
    many = detector.analyse(ArticleView(make_article("Soros. Soros! Soros? Soros.")))[0].score
    assert many == once


def test_independent_rules_add_up(detector: NarrativeDetector) -> None:
    one = detector.analyse(ArticleView(make_article("The NATO bombing began in March.")))[0]
    two = detector.analyse(
        ArticleView(make_article("The NATO bombing began in March. Depleted uranium was used."))
    )[0]
    assert two.score > one.score


def test_neutral_news_gives_no_signal(detector: NarrativeDetector) -> None:
    art = make_article("Vlada je usvojila budžet za narednu godinu i povećala plate u prosveti.")
    assert detector.detect(ArticleView(art), {}) == []


def test_signal_ids_are_deterministic(detector: NarrativeDetector) -> None:
    art = make_article("Soros-funded NGOs prepare a colour revolution.")
    a = detector.detect(ArticleView(art), {})
    b = detector.detect(ArticleView(art), {})
    assert [s.id for s in a] == [s.id for s in b]
    assert a == b


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        (0.2, "low"),
        (0.49, "low"),
        (0.5, "medium"),
        (0.7, "high"),
        (0.85, "critical"),
        (1.0, "critical"),
    ],
)
def test_severity_thresholds(score: float, severity: str) -> None:
    assert severity_for(score) == severity


def test_unknown_pack_in_options_is_a_config_error() -> None:
    with pytest.raises(DetectorConfigError, match="unknown pack"):
        NarrativeDetector(NarrativeOptions(packs=("no-such-pack",)))


def test_pack_subset_limits_what_is_detected() -> None:
    det = NarrativeDetector(NarrativeOptions(packs=("western-puppets",)))
    art = make_article("NATO aggression. Soros-funded NGOs prepare a colour revolution.")
    assert {s.narrative for s in det.detect(ArticleView(art), {})} == {"western-puppets"}


def test_denial_that_is_the_claim_itself_is_not_a_refutation(detector: NarrativeDetector) -> None:
    art = make_article(
        "Russophobia again: the West keeps accusing Moscow.",
        title="No evidence of Russian meddling in the elections",
    )
    scores = {s.pack.id: s for s in detector.analyse(ArticleView(art))}
    pack = scores["russia-falsely-accused"]
    assert pack.score >= 0.5
    assert pack.negated == 0  # the title's "no evidence" is the claim, not a refutation
    assert {h.field for h in pack.hits} == {"title", "text"}
