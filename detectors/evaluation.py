"""Evaluation metrics for the detectors: pure functions over labelled outcomes.

The task is binary - is this text disinformation? - but the data has three labels:
`disinfo` (positive), `disproof` (a fact-check of the same claim: a hard negative)
and `neutral` news. Because positives and negatives are unevenly spread over
languages (most disinfo is English, most neutral news is not), F1 alone rewards a
language detector; the headline figure is therefore the *language-balanced
accuracy*: the mean, over every label x language cell with at least
`MIN_CELL` cases, of the share handled right (disinfo flagged, the rest not).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

LABELS = ("disinfo", "disproof", "neutral")
MIN_CELL = 5

TARGETS = {
    "f1": 0.80,
    "language_balanced_accuracy": 0.85,
    "recall_per_language": 0.70,
    "false_flags_per_language": 0.10,
}


@dataclass(frozen=True)
class Outcome:
    """One evaluated record: its gold label, where it is from, and what we decided."""

    id: str
    label: str
    flagged: bool
    language: str
    countries: tuple[str, ...] = ()
    risk: float = 0.0

    @property
    def correct(self) -> bool:
        return self.flagged == (self.label == "disinfo")


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def binary_scores(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    tp = sum(1 for o in outcomes if o.label == "disinfo" and o.flagged)
    fp = sum(1 for o in outcomes if o.label != "disinfo" and o.flagged)
    fn = sum(1 for o in outcomes if o.label == "disinfo" and not o.flagged)
    tn = sum(1 for o in outcomes if o.label != "disinfo" and not o.flagged)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision and recall else 0.0
    return {
        "n": len(outcomes),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_flag_rate": _ratio(fp, fp + tn),
        "accuracy": _ratio(tp + tn, len(outcomes)),
    }


def confusion(outcomes: Iterable[Outcome]) -> dict[str, dict[str, int]]:
    """Rows: gold label; columns: flagged / not_flagged."""
    table = {label: {"flagged": 0, "not_flagged": 0} for label in LABELS}
    for o in outcomes:
        row = table.setdefault(o.label, {"flagged": 0, "not_flagged": 0})
        row["flagged" if o.flagged else "not_flagged"] += 1
    return table


def _breakdown(groups: dict[str, list[Outcome]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(groups):
        items = groups[key]
        pos = [o for o in items if o.label == "disinfo"]
        neg = [o for o in items if o.label != "disinfo"]
        out[key] = {
            "n": len(items),
            "disinfo": len(pos),
            "negatives": len(neg),
            "recall": _ratio(sum(o.flagged for o in pos), len(pos)),
            "false_flags": _ratio(sum(o.flagged for o in neg), len(neg)),
            "accuracy": _ratio(sum(o.correct for o in items), len(items)),
        }
    return out


def per_language(outcomes: Iterable[Outcome]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(o.language, []).append(o)
    return _breakdown(groups)


def per_country(outcomes: Iterable[Outcome]) -> dict[str, dict[str, Any]]:
    """A record counts once for every country it concerns ("none" when it names none)."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        for c in o.countries or ("none",):
            groups.setdefault(c, []).append(o)
    return _breakdown(groups)


def cells(outcomes: Iterable[Outcome]) -> dict[str, dict[str, Any]]:
    """label x language cells: size and share handled right."""
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.label, o.language), []).append(o)
    return {
        f"{label}/{lang}": {
            "n": len(items),
            "correct": sum(o.correct for o in items),
            "accuracy": _ratio(sum(o.correct for o in items), len(items)),
            "counted": len(items) >= MIN_CELL,
        }
        for (label, lang), items in sorted(groups.items())
    }


def language_balanced_accuracy(outcomes: Iterable[Outcome]) -> float | None:
    table = cells(outcomes)
    accs = [c["accuracy"] for c in table.values() if c["counted"]]
    return round(sum(accs) / len(accs), 4) if accs else None


def check_targets(report: dict[str, Any]) -> dict[str, bool]:
    """Which of the issue's targets this report meets (languages with >= MIN_CELL cases)."""
    langs = report["per_language"]
    recalls = [v["recall"] for v in langs.values() if v["disinfo"] >= MIN_CELL]
    flags = [v["false_flags"] for v in langs.values() if v["negatives"] >= MIN_CELL]
    lba = report["language_balanced_accuracy"]
    return {
        "f1": report["overall"]["f1"] >= TARGETS["f1"],
        "language_balanced_accuracy": lba is not None
        and lba >= TARGETS["language_balanced_accuracy"],
        "recall_per_language": all(r >= TARGETS["recall_per_language"] for r in recalls),
        "false_flags_per_language": all(f <= TARGETS["false_flags_per_language"] for f in flags),
    }


def report(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "overall": binary_scores(outcomes),
        "confusion": confusion(outcomes),
        "language_balanced_accuracy": language_balanced_accuracy(outcomes),
        "cells": cells(outcomes),
        "per_language": per_language(outcomes),
        "per_country": per_country(outcomes),
    }
    out["targets_met"] = check_targets(out)
    return out
