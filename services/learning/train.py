"""Training data selection and folds for the learned detector (`hybridwatch train`,
the steps themselves are in services/learning/run.py).

Two sub-models, because language is the shortcut to beat (docs/detectors.md,
"Learned detector"):

* `english` - word unigrams and bigrams of the folded text. The training claims are
  EUvsDisinfo's English, so this model is fitted on English texts only (claims
  against English news sentences and EUvsDisinfo's own disproofs) and the detector
  applies it only to text that reads as English. Fitted on every language at once it
  would learn "not English = neutral" (or the reverse) instead of the claims.
* `concepts` - multilingual concept tokens (detectors/data/concepts.yaml: NATO,
  AGGRESSION, PUPPET ... from words of all seven languages of the region and
  English) and pairs of concepts that occur near each other. The features carry no
  language, so the model fitted on English claims against English, Serbian and
  Albanian news applies to every language; the regional neutral news keep it from
  flagging ordinary reporting on the same subjects.

Reproducible: lbfgs (no random state), inputs in file order, a fixed seed for the
fold assignment, canonical weights file (detectors/learned_model.py); the data files'
SHA-256 are recorded in it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.learning import corpus

SEED = 20181930
"""Fixed seed (fold assignment of undated neutral records)."""


@dataclass(frozen=True)
class TrainOptions:
    c_english: float = 16.0
    c_concepts: float = 0.3
    c_refutation: float = 1.0
    """Regularisation of the refutation model (disproofs against claims and news)."""
    min_df: int = 2
    """A feature seen in fewer training texts gets no weight (noise, and file size)."""
    prune: float = 1e-3
    """Weights smaller than this in magnitude are not written."""
    folds: int = 5


def english_records(records: Sequence[corpus.Record]) -> list[corpus.Record]:
    """EUvsDisinfo English texts (claims and disproofs) and English neutral news."""
    return [r for r in records if r.language == "en"]


def concept_records(records: Sequence[corpus.Record]) -> list[corpus.Record]:
    """Everything with a language the concept lexicon reads (excerpts in Russian,
    Arabic ... are left out: no lexicon of theirs, so they would only teach the
    model that 'no concept' means disinformation)."""
    return [r for r in records if r.language != "und"]


def fold_of(records: Sequence[corpus.Record], folds: int) -> npt.NDArray[np.int64]:
    """Fold per record: EUvsDisinfo cases by case date (contiguous time blocks, all
    texts of a case together), undated/neutral records by a seeded hash of their id."""
    case_date: dict[str, str] = {}
    for r in records:
        if r.label != "neutral":
            d = r.date or "9999"
            case_date[r.group] = min(case_date.get(r.group, d), d)
    ordered = sorted(case_date, key=lambda g: (case_date[g], g))
    case_fold = {
        g: min(i * folds // max(len(ordered), 1), folds - 1) for i, g in enumerate(ordered)
    }
    out = np.empty(len(records), dtype=np.int64)
    for i, r in enumerate(records):
        if r.group in case_fold:
            out[i] = case_fold[r.group]
        else:
            h = hashlib.sha256(f"{SEED}:{r.id}".encode()).digest()
            out[i] = int.from_bytes(h[:4], "little") % folds
    return out
