"""`hybridwatch train` mechanics on a small synthetic data folder (written for these
tests): reproducible bytes, folds that keep a case together, clear data errors."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from detectors.learned import LearnedDetector, LearnedOptions
from detectors.learned_model import load_model_file
from detectors.view import ArticleView
from services.learning import corpus
from services.learning.run import train
from services.learning.train import TrainOptions, fold_of
from tests.unit.detectors.conftest import make_article

CLAIMS = [
    "NATO is secretly preparing an aggression against the people",
    "The West installed a puppet regime to occupy the country",
    "The referendum was orchestrated by Washington to humiliate the nation",
    "NATO bombs poisoned the children with depleted uranium",
    "The puppet government betrayed the people to the globalists",
    "Brussels wants to colonise the Balkans and destroy the church",
    "The so-called opposition is paid by foreign agents to stage a coup",
    "Western media lie about the genocide invented by the occupiers",
]
NEWS = [
    "The minister said on Tuesday that the new bridge will open in May",
    "Prices of bread rose by two percent in the last quarter, the office said",
    "The football club announced a new coach after the season ended",
    "The government met union leaders to discuss wages in the public sector",
    "Rain is expected in the north of the country during the weekend",
    "The court adjourned the trial until next month, a spokesman said",
    "The museum opens a new exhibition of paintings on Friday",
    "Exports grew faster than imports in the first half of the year",
]
REGIONAL = [
    ("sr-Latn", "Ministar je rekao da će novi most biti otvoren u maju"),
    ("sr-Cyrl", "Влада је разговарала са синдикатима о платама"),
    ("sq", "Qeveria tha se ura e re do të hapet në maj"),
    ("hr", "Sud je odgodio suđenje do idućeg mjeseca"),
]


def _write(path: Path, rows: Sequence[Mapping[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "train").mkdir()
    dis = []
    for i, c in enumerate(CLAIMS):
        case = f"https://example.org/case-{i}"
        date = f"2016-0{1 + i % 8}-01"
        dis.append(
            {
                "id": case,
                "case_id": case,
                "date": date,
                "title": c,
                "text": c,
                "label": "disinfo",
                "text_field": "title",
                "language": ["Russian"],
            }
        )
        dis.append(
            {
                "id": case + "#disproof",
                "case_id": case,
                "date": date,
                "title": c,
                "text": "There is no evidence for this recurring narrative.",
                "label": "disproof",
                "text_field": "disproof",
                "language": ["Russian"],
            }
        )
    _write(tmp_path / "train" / "euvsdisinfo-train.jsonl", dis)
    _write(
        tmp_path / "train" / "neutral-train-en.jsonl",
        [
            {"id": f"en:{i}", "text": t, "label": "neutral", "language": "en"}
            for i, t in enumerate(NEWS)
        ],
    )
    _write(
        tmp_path / "train" / "neutral-train.jsonl",
        [
            {"id": f"r:{i}", "text": t, "label": "neutral", "language": lang}
            for i, (lang, t) in enumerate(REGIONAL * 2)
        ],
    )
    _write(tmp_path / "euvsdisinfo-wb-dev.jsonl", dis[:4])
    _write(
        tmp_path / "neutral-wb-dev.jsonl",
        [
            {"id": f"d:{i}", "text": t, "label": "neutral", "language": lang}
            for i, (lang, t) in enumerate(REGIONAL)
        ],
    )
    return tmp_path


OPTIONS = TrainOptions(folds=2, min_df=1)


def test_training_twice_on_the_same_files_writes_the_same_bytes(
    data_dir: Path, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    train(data_dir, a, OPTIONS, translate_news=False, cross_validation=False, say=lambda _: None)
    train(data_dir, b, OPTIONS, translate_news=False, cross_validation=False, say=lambda _: None)
    assert a.read_bytes() == b.read_bytes()
    meta = load_model_file(a).meta
    assert set(meta["data_sha256"]) == set(corpus.TRAIN_FILES) | set(corpus.DEV_FILES)
    assert "english" in meta["operating_point"]


def test_trained_weights_load_into_the_detector_and_flag_a_training_claim(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "m.json.gz"
    report = train(
        data_dir, out, OPTIONS, translate_news=False, cross_validation=True, say=lambda _: None
    )
    assert {"precision", "recall", "f1", "cells"} <= set(report.cross_validation)
    det = LearnedDetector(LearnedOptions(model_file=str(out)))
    art = make_article(CLAIMS[1], title="")
    signals = det.detect(ArticleView(art), {})
    assert signals and signals[0].score >= 0.5
    for ev in signals[0].evidence:
        assert art.text[ev.start : ev.end] == ev.text


def test_folds_keep_every_text_of_a_case_together_and_follow_case_dates(data_dir: Path) -> None:
    records, _ = corpus.load(data_dir, corpus.TRAIN_FILES)
    folds = fold_of(records, 2)
    by_case: dict[str, set[int]] = {}
    for r, k in zip(records, folds, strict=True):
        if r.label != "neutral":
            by_case.setdefault(r.group, set()).add(int(k))
    assert all(len(v) == 1 for v in by_case.values())
    dated = sorted(
        (r.date, int(k)) for r, k in zip(records, folds, strict=True) if r.label != "neutral"
    )
    assert [k for _, k in dated] == sorted(k for _, k in dated)


def test_a_missing_data_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(corpus.CorpusError, match=r"euvsdisinfo-train\.jsonl"):
        corpus.load(tmp_path, corpus.TRAIN_FILES)


def test_a_broken_line_is_named_with_its_file_and_line_number(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text('{"id": "a", "label": "neutral", "text": "ok"}\n{oops\n')
    with pytest.raises(corpus.CorpusError, match=r"x.jsonl:2"):
        corpus.load(tmp_path, ["x.jsonl"])


def test_the_trainers_scorer_and_the_detector_give_the_same_probability(
    data_dir: Path, tmp_path: Path
) -> None:
    from detectors.learned import LearnedFeatures, load_lexicon
    from services.learning.run import Scorer

    out = tmp_path / "m.json.gz"
    train(data_dir, out, OPTIONS, translate_news=False, cross_validation=False, say=lambda _: None)
    mf = load_model_file(out)
    det = LearnedDetector(LearnedOptions(model_file=str(out), min_score=0.0))
    scorer = Scorer(
        LearnedFeatures(load_lexicon()), mf.models["english"], mf.models.get("concepts")
    )
    texts = [
        CLAIMS[0],
        NEWS[0],
        REGIONAL[0][1],
        REGIONAL[1][1],
        "НАТО агресија и марионетски режим",
    ]
    for text in texts:
        pe, pc, _ = scorer.probabilities(text)
        signals = det.detect(ArticleView(make_article(text)), {})
        if signals:
            assert signals[0].details["probability"] == pytest.approx(max(pe, pc), abs=1e-4)


def test_the_refutation_threshold_keeps_claims_below_it_and_takes_the_most_disproofs() -> None:
    import numpy as np

    from services.learning.run import choose_refutation_threshold

    def rec(i: int, label: str) -> corpus.Record:
        return corpus.Record(f"r{i}", "text", label, "title", "en", f"g{i}", "", "")

    recs = [rec(0, "disinfo"), rec(1, "disinfo"), rec(2, "disproof"), rec(3, "disproof")]
    recs.append(rec(4, "neutral"))
    probs = np.array([0.2, 0.62, 0.9, 0.7, 0.95])
    t = choose_refutation_threshold(probs, recs)
    assert 0.62 < t <= 0.7  # both disproofs over it, no claim; ties go to the higher


@pytest.mark.parametrize("cv", [True, False])
def test_the_progress_total_counts_every_stage_line_of_training(
    data_dir: Path, tmp_path: Path, cv: bool
) -> None:
    from detectors.learned import load_lexicon
    from services.learning.run import train_steps

    lines: list[str] = []
    train(
        data_dir,
        tmp_path / "m.json.gz",
        OPTIONS,
        translate_news=False,
        cross_validation=cv,
        say=lines.append,
    )
    expected = train_steps(
        translate_news=False,
        cross_validation=cv,
        folds=OPTIONS.folds,
        concepts=load_lexicon() is not None,
        write=True,
    )
    assert len(lines) == expected
