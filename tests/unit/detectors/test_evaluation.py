"""Evaluation metrics: precision/recall/F1, confusion, breakdowns, balanced accuracy."""

from __future__ import annotations

import pytest

from detectors.evaluation import (
    Outcome,
    binary_scores,
    cells,
    check_targets,
    confusion,
    language_balanced_accuracy,
    per_country,
    report,
)


def outs(
    label: str, lang: str, flagged: int, total: int, countries: tuple[str, ...] = ()
) -> list[Outcome]:
    return [
        Outcome(f"{label}-{lang}-{i}", label, i < flagged, lang, countries) for i in range(total)
    ]


def test_precision_recall_f1() -> None:
    data = outs("disinfo", "en", 8, 10) + outs("neutral", "sr", 2, 10)
    s = binary_scores(data)
    assert (s["tp"], s["fn"], s["fp"], s["tn"]) == (8, 2, 2, 8)
    assert s["precision"] == pytest.approx(0.8)
    assert s["recall"] == pytest.approx(0.8)
    assert s["f1"] == pytest.approx(0.8)
    assert s["false_flag_rate"] == pytest.approx(0.2)


def test_confusion_has_a_row_per_label() -> None:
    data = outs("disinfo", "en", 3, 4) + outs("disproof", "en", 1, 5) + outs("neutral", "mk", 0, 2)
    assert confusion(data) == {
        "disinfo": {"flagged": 3, "not_flagged": 1},
        "disproof": {"flagged": 1, "not_flagged": 4},
        "neutral": {"flagged": 0, "not_flagged": 2},
    }


def test_flagging_all_english_scores_high_f1_but_low_balanced_accuracy() -> None:
    # the trap the issue warns about: positives English, negatives mostly not
    data = (
        outs("disinfo", "en", 50, 50)
        + outs("disproof", "en", 5, 5)
        + outs("neutral", "en", 5, 5)
        + outs("neutral", "sr", 0, 50)
    )
    assert binary_scores(data)["f1"] > 0.8
    assert language_balanced_accuracy(data) == pytest.approx((1 + 0 + 0 + 1) / 4)


def test_cells_under_five_cases_are_not_counted() -> None:
    data = outs("disinfo", "en", 5, 5) + outs("disinfo", "sq", 0, 4)
    table = cells(data)
    assert table["disinfo/sq"]["counted"] is False
    assert language_balanced_accuracy(data) == 1.0


def test_record_counts_for_each_country_it_concerns() -> None:
    data = outs("disinfo", "en", 1, 1, ("RS", "XK")) + outs("neutral", "sq", 0, 1)
    pc = per_country(data)
    assert pc["RS"]["n"] == pc["XK"]["n"] == pc["none"]["n"] == 1


def test_targets_are_checked_per_language() -> None:
    good = (
        outs("disinfo", "en", 9, 10) + outs("neutral", "sr", 0, 10) + outs("neutral", "mk", 0, 10)
    )
    assert all(check_targets(report(good)).values())
    bad = good + outs("neutral", "sq", 3, 10)
    met = check_targets(report(bad))
    assert met["false_flags_per_language"] is False
