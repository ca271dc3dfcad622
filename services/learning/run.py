"""The whole of `hybridwatch train`: fit on train/, pick the operating point on dev,
cross-validate on train/, write the weights file and a report.

Data roles (docs/detectors.md, "Learned detector"): the models are *fitted* on
`train/` only; the dev files only *choose* the operating point (the probability that
scores 0.5), and their figures are reported as validation; grouped cross-validation on
`train/` (folds = blocks of EUvsDisinfo cases by date, every text of a case in one
fold) is the out-of-sample figure.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from detectors.learned import (
    GATE_CHARS,
    LearnedFeatures,
    english_score,
    load_lexicon,
    probability_to_score,
    reads_english,
)
from detectors.learned_features import TOKEN, read_language
from detectors.learned_model import LinearModel, ModelFile
from hybridwatch.textfold import fold
from services.learning import corpus, translate
from services.learning.features import matrix
from services.learning.train import SEED, TrainOptions, concept_records, english_records, fold_of

Say = Callable[[str], None]

TRANSLATED_WEIGHT = 0.5
"""Sample weight of a machine-translated negative against a native text's 1.0."""

TRANSLATED_SUFFIX = "#~translated"
"""Appended to a source record's id to name its machine translation, so that
cross-validation keeps a translation in its source's fold (a held-out case's claims
must not be learned through their Serbian translation)."""


def source_id(record_id: str) -> str:
    """The id of the record a (translated) training text comes from."""
    return record_id.removesuffix(TRANSLATED_SUFFIX)


def _translated(
    sources: Sequence[corpus.Record] | None, texts: Sequence[str], label: str, language: str
) -> list[corpus.Record]:
    """Pseudo-records of machine translations, named after their sources when known."""
    if sources is None:
        return [
            corpus.Record(f"translated:{i}", t, label, "translated", language, f"t:{i}", "", "")
            for i, t in enumerate(texts)
        ]
    return [
        corpus.Record(
            src.id + TRANSLATED_SUFFIX, t, label, "translated", language, src.group, src.date, ""
        )
        for src, t in zip(sources, texts, strict=True)
    ]


@dataclass
class Prepared:
    """Feature matrices of one sub-model's training set."""

    X: sp.csr_matrix
    y: npt.NDArray[np.int8]
    w: npt.NDArray[np.float64]
    records: list[corpus.Record]


@dataclass
class TrainReport:
    model_file: ModelFile
    validation: dict[str, Any] = field(default_factory=dict)
    cross_validation: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fit_linear(
    X: sp.csr_matrix,
    y: npt.NDArray[np.int8],
    w: npt.NDArray[np.float64],
    options: TrainOptions,
    c: float,
) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    df = np.asarray((X > 0).sum(axis=0)).ravel()
    cols = np.flatnonzero(df >= options.min_df)
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced", tol=1e-6)
    model.fit(X[:, cols], y, sample_weight=w)
    coef = model.coef_[0]
    keep = np.abs(coef) >= options.prune
    n_bits = int(X.shape[1]).bit_length() - 1
    return LinearModel(
        n_bits,
        round(float(model.intercept_[0]), 7),
        cols[keep].astype(np.int64),
        np.round(coef[keep], 5).astype(np.float32),
    )


def prepare_english(
    records: Sequence[corpus.Record],
    translated: Sequence[str],
    features: LearnedFeatures,
    translated_sources: Sequence[corpus.Record] | None = None,
) -> Prepared:
    recs = english_records(records)
    texts = [r.text for r in recs] + list(translated)
    X = matrix(texts, features.english_indices, features.words.n_bits)
    y = np.array([1 if r.positive else 0 for r in recs] + [0] * len(translated), dtype=np.int8)
    w = np.array([1.0] * len(recs) + [TRANSLATED_WEIGHT] * len(translated))
    pseudo = _translated(translated_sources, translated, "neutral", "en")
    return Prepared(X, y, w, recs + pseudo)


def prepare_concepts(
    records: Sequence[corpus.Record],
    translated: Sequence[str],
    claims_hbs: Sequence[str],
    features: LearnedFeatures,
    translated_sources: Sequence[corpus.Record] | None = None,
    claim_sources: Sequence[corpus.Record] | None = None,
) -> Prepared:
    """Every language's records; the translated news as English negatives (the English
    lexicon's view of ordinary reporting on the region); the English claims translated
    to Serbian as positives read with the regional lexicon (so the model sees claims
    through both lexicons, not only the English one)."""
    recs = concept_records(records)
    bits = features.concept_bits
    X = sp.vstack(
        [
            matrix([r.text for r in recs], features.concept_indices, bits),
            matrix(translated, lambda t: features.concept_indices(t, english=True), bits),
            matrix(claims_hbs, lambda t: features.concept_indices(t, english=False), bits),
        ]
    ).tocsr()
    y = np.array(
        [1 if r.positive else 0 for r in recs] + [0] * len(translated) + [1] * len(claims_hbs),
        dtype=np.int8,
    )
    w = np.array([1.0] * len(recs) + [TRANSLATED_WEIGHT] * (len(translated) + len(claims_hbs)))
    pseudo = _translated(translated_sources, translated, "neutral", "en") + _translated(
        claim_sources, claims_hbs, "disinfo", "sr"
    )
    return Prepared(X, y, w, recs + pseudo)


def prepare_refutation(en: Prepared) -> Prepared:
    """The English set relabelled: disproofs (a claim restated to be refuted) against
    claims and news. What separates a disproof from its claim is the refuting register
    ("no evidence", "recurring narrative" ...), since both name the same subject."""
    y = np.array([1 if r.label == "disproof" else 0 for r in en.records], dtype=np.int8)
    return Prepared(en.X, y, en.w, en.records)


class Scorer:
    """The detector's decision rule over plain texts (mirrors LearnedDetector.detect):
    the English model on English-reading text, the concept model on every text, each
    with its own operating point; the article's score is the larger mapped score. The
    refutation model's probability rides along for English text (it dampens)."""

    def __init__(
        self,
        features: LearnedFeatures,
        english: LinearModel,
        concepts: LinearModel | None,
        refutation: LinearModel | None = None,
    ) -> None:
        self.features = features
        self.english = english
        self.concepts = concepts
        self.refutation = refutation

    def probabilities(self, text: str) -> tuple[float, float, float]:
        """(English model, concept model, refutation model) probabilities; a model that
        does not apply to the text (see LearnedDetector.detect) gives 0."""
        folded = fold(text)
        head = TOKEN.findall(folded[:GATE_CHARS])
        lang = read_language(head)
        if reads_english(lang, "", text):
            present = self.features.words.indices(self.features.words.hashed(head))
            p_ref = _sig(self.refutation.logit(present)) if self.refutation is not None else 0.0
            return _sig(self.english.logit(present)), 0.0, p_ref
        if self.concepts is None:
            return 0.0, 0.0, 0.0
        m = self.features.concept_matches(folded, False, lang.regional)
        return 0.0, _sig(self.concepts.logit(self.features.concept_indices_of(m))), 0.0


def combined_score(
    pe: float,
    pc: float,
    t_english: float,
    t_concepts: float,
    pr: float = 0.0,
    t_refutation: float = 1.0,
) -> float:
    english = english_score(pe, t_english, pr >= t_refutation)
    return max(english, probability_to_score(pc, t_concepts))


def _sig(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def metrics(
    probs: npt.NDArray[np.float64], records: Sequence[corpus.Record], threshold: float
) -> dict[str, Any]:
    flagged = probs >= threshold
    pos = np.array([r.positive for r in records])
    tp = int((flagged & pos).sum())
    fp = int((flagged & ~pos).sum())
    fn = int((~flagged & pos).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    rc = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
    by: dict[str, dict[str, Any]] = {}
    for r, f in zip(records, flagged, strict=True):
        key = f"{r.label}/{r.language}" if r.label != "disinfo" else f"disinfo/{r.text_field}"
        cell = by.setdefault(key, {"n": 0, "flagged": 0})
        cell["n"] += 1
        cell["flagged"] += int(f)
    for cell in by.values():
        cell["rate"] = round(cell["flagged"] / cell["n"], 4)
    return {
        "threshold": round(threshold, 4),
        "precision": round(p, 4),
        "recall": round(rc, 4),
        "f1": round(f1, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "cells": dict(sorted(by.items())),
    }


MAX_FALSE_FLAGS = 0.03
"""The concept model's operating point: the lowest probability at which no language's
validation neutral news is flagged more often than this."""
GRID = np.round(np.arange(0.10, 0.99, 0.01), 2)


def choose_english_threshold(
    probs: npt.NDArray[np.float64], records: Sequence[corpus.Record]
) -> float:
    """The probability that maximises F1 over the English-reading validation records
    (ties: the higher, i.e. fewer false flags)."""
    best_t, best_f1 = 0.5, -1.0
    for t in GRID:
        f1 = metrics(probs, records, float(t))["f1"]
        if f1 >= best_f1:
            best_t, best_f1 = float(t), f1
    return best_t


def choose_concept_threshold(
    probs: npt.NDArray[np.float64], records: Sequence[corpus.Record]
) -> float:
    """The lowest probability keeping every language's neutral false-flag rate within
    MAX_FALSE_FLAGS on the validation records (recall there rests on a handful of
    non-English positives; false-flag rates on ~80 texts a language are what we can
    measure)."""
    langs = sorted({r.language for r in records if r.label == "neutral"})
    for t in GRID:
        worst = 0.0
        for lang in langs:
            sel = np.array([r.label == "neutral" and r.language == lang for r in records])
            worst = max(worst, float((probs[sel] >= t).mean()))
        if worst <= MAX_FALSE_FLAGS:
            return float(t)
    return float(GRID[-1])


def choose_refutation_threshold(
    probs: npt.NDArray[np.float64], records: Sequence[corpus.Record]
) -> float:
    """The probability over which the most English-reading validation disproofs and the
    fewest claims fall (disproofs counted minus claims counted; ties: the higher, i.e.
    fewer claims dampened). News is not counted: dampening it costs nothing."""
    best_t, best = 1.0, 0
    for t in GRID:
        over = probs >= t
        gain = sum(
            (1 if r.label == "disproof" else -1 if r.positive else 0)
            for r, o in zip(records, over, strict=True)
            if o
        )
        if gain >= best:
            best_t, best = float(t), gain
    return best_t


def decide(
    pe: npt.NDArray[np.float64],
    pc: npt.NDArray[np.float64],
    t_e: float,
    t_c: float,
    pr: npt.NDArray[np.float64] | None = None,
    t_r: float = 1.0,
) -> npt.NDArray[np.float64]:
    """Scores of the learned signal (flagged alone when >= 0.5)."""
    refuted = pr if pr is not None else np.zeros(len(pe))
    return np.array(
        [combined_score(a, b, t_e, t_c, r, t_r) for a, b, r in zip(pe, pc, refuted, strict=True)],
        dtype=np.float64,
    )


def cross_validate(
    en: Prepared,
    cd: Prepared | None,
    features: LearnedFeatures,
    options: TrainOptions,
    thresholds: tuple[float, float, float],
    say: Say,
) -> dict[str, Any]:
    """Grouped, time-blocked folds over train/; the detector's rule on held-out texts."""
    real = [r for r in en.records + (cd.records if cd else []) if r.text_field != "translated"]
    all_recs = list({r.id: r for r in real}.values())
    fold_by_id = dict(zip((r.id for r in all_recs), fold_of(all_recs, options.folds), strict=True))
    pe = np.zeros(len(all_recs))
    pc = np.zeros(len(all_recs))
    pr = np.zeros(len(all_recs))
    ref = prepare_refutation(en)
    position = {r.id: i for i, r in enumerate(all_recs)}
    # a translation stays in its source's fold; held-out translated claims are the
    # out-of-sample proxy for claims written in the region's language
    claims_hbs = [
        r for r in (cd.records if cd else []) if r.positive and r.text_field == "translated"
    ]
    p_hbs = np.zeros((len(claims_hbs), 3))
    for k in range(options.folds):
        say(f"train: cross-validation fold {k + 1}/{options.folds}")
        en_train = np.array([fold_by_id.get(source_id(r.id), -1) != k for r in en.records])
        m_en = fit_linear(
            en.X[en_train], en.y[en_train], en.w[en_train], options, options.c_english
        )
        m_ref = fit_linear(
            ref.X[en_train], ref.y[en_train], ref.w[en_train], options, options.c_refutation
        )
        m_cd = None
        if cd is not None:
            cd_train = np.array([fold_by_id.get(source_id(r.id), -1) != k for r in cd.records])
            m_cd = fit_linear(
                cd.X[cd_train], cd.y[cd_train], cd.w[cd_train], options, options.c_concepts
            )
        scorer = Scorer(features, m_en, m_cd, m_ref)
        for r in all_recs:
            if fold_by_id[r.id] == k:
                i = position[r.id]
                pe[i], pc[i], pr[i] = scorer.probabilities(r.text)
        for j, r in enumerate(claims_hbs):
            if fold_by_id.get(source_id(r.id), -1) == k:
                p_hbs[j] = scorer.probabilities(r.text)
    t_e, t_c, t_r = thresholds
    out = metrics(decide(pe, pc, t_e, t_c, pr, t_r), all_recs, 0.5)
    if claims_hbs:
        held = decide(p_hbs[:, 0], p_hbs[:, 1], t_e, t_c, p_hbs[:, 2], t_r) >= 0.5
        out["translated_claims"] = {
            "n": len(claims_hbs),
            "flagged": int(held.sum()),
            "rate": round(float(held.mean()), 4),
        }
    return out


def translated_validation(dev: Sequence[corpus.Record]) -> list[corpus.Record]:
    """Dev neutral news of the hbs languages in English: a stand-in for English news on
    the region's subjects, of which the dev files hold only five texts."""
    src = [r for r in dev if r.label == "neutral" and r.language in translate.HBS_LANGUAGES]
    out = translate.hbs_to_english([r.text for r in src])
    return [
        corpus.Record(
            f"{r.id}#en", t, "neutral", "translated", "en-translated", r.group, r.date, r.source
        )
        for r, t in zip(src, out, strict=True)
    ]


def train_steps(
    *, translate_news: bool, cross_validation: bool, folds: int, concepts: bool, write: bool
) -> int:
    """How many progress lines (`say`) `train` will print with these choices, for a
    progress bar with an ETA: load, translations, features, fits, operating points,
    cross-validation folds and summary, write."""
    return (
        1
        + (2 if translate_news else 0)
        + 1
        + 2
        + (1 if concepts else 0)
        + 1
        + ((folds + 1) if cross_validation else 0)
        + (1 if write else 0)
    )


def train(
    data_dir: Path,
    out: Path | None,
    options: TrainOptions | None = None,
    *,
    translate_news: bool = True,
    cross_validation: bool = True,
    say: Say = _stderr,
) -> TrainReport:
    started = time.monotonic()
    options = options or TrainOptions()
    records, sums = corpus.load(data_dir, corpus.TRAIN_FILES)
    dev, dev_sums = corpus.load(data_dir, corpus.DEV_FILES)
    say(f"train: {len(records)} training records, {len(dev)} validation records")
    lexicon = load_lexicon()
    features = LearnedFeatures(lexicon)
    translated: list[str] = []
    claims_hbs: list[str] = []
    regional: list[corpus.Record] = []
    claims: list[corpus.Record] = []
    validation_extra: list[corpus.Record] = []
    if translate_news:
        regional = [r for r in records if r.language in translate.HBS_LANGUAGES]
        say(f"train: translating {len(regional)} regional news texts to English (apertium)")
        translated = translate.hbs_to_english([r.text for r in regional])
        claims = [r for r in records if r.positive and r.language == "en"]
        say(f"train: translating {len(claims)} English claims to Serbian (apertium)")
        claims_hbs = translate.english_to_hbs([r.text for r in claims])
        validation_extra = translated_validation(dev)
    say("train: features")
    en = prepare_english(records, translated, features, regional if translated else None)
    cd = (
        prepare_concepts(
            records,
            translated,
            claims_hbs,
            features,
            regional if translated else None,
            claims if claims_hbs else None,
        )
        if lexicon is not None
        else None
    )
    say(f"train: fitting english ({en.X.shape[0]} texts)")
    m_en = fit_linear(en.X, en.y, en.w, options, options.c_english)
    ref = prepare_refutation(en)
    say(f"train: fitting refutation ({int(ref.y.sum())} disproofs)")
    m_ref = fit_linear(ref.X, ref.y, ref.w, options, options.c_refutation)
    m_cd = None
    if cd is not None:
        say(f"train: fitting concepts ({cd.X.shape[0]} texts)")
        m_cd = fit_linear(cd.X, cd.y, cd.w, options, options.c_concepts)
    scorer = Scorer(features, m_en, m_cd, m_ref)
    val = list(dev) + validation_extra
    probs = [scorer.probabilities(r.text) for r in val]
    pe = np.array([p[0] for p in probs])
    pc = np.array([p[1] for p in probs])
    pr = np.array([p[2] for p in probs])
    english_sel = [i for i, p in enumerate(probs) if p[0] > 0.0]
    t_e = choose_english_threshold(pe[english_sel], [val[i] for i in english_sel])
    t_c = choose_concept_threshold(pc, val) if m_cd is not None else 1.0
    english_dev = [i for i in english_sel if i < len(dev)]
    t_r = choose_refutation_threshold(pr[english_dev], [val[i] for i in english_dev])
    n = len(dev)
    validation = metrics(decide(pe[:n], pc[:n], t_e, t_c, pr[:n], t_r), dev, 0.5)
    validation["translated_neutral_false_flags"] = (
        round(float((decide(pe[n:], pc[n:], t_e, t_c, pr[n:], t_r) >= 0.5).mean()), 4)
        if validation_extra
        else None
    )
    say(
        f"train: operating points english p >= {t_e:.2f}, concepts p >= {t_c:.2f}, "
        f"refutation p >= {t_r:.2f}; dev "
        f"precision {validation['precision']:.3f}, recall {validation['recall']:.3f}, "
        f"F1 {validation['f1']:.3f} (learned detector alone)"
    )
    cv: dict[str, Any] = {}
    if cross_validation:
        cv = cross_validate(en, cd, features, options, (t_e, t_c, t_r), say)
        say(
            f"train: cross-validated on train/ - precision {cv['precision']:.3f}, "
            f"recall {cv['recall']:.3f}, F1 {cv['f1']:.3f}"
            + (
                f"; held-out claims machine-translated to Serbian flagged "
                f"{cv['translated_claims']['rate']:.3f} of {cv['translated_claims']['n']}"
                if "translated_claims" in cv
                else ""
            )
        )

    import hashlib

    import sklearn

    models = {"english": m_en, "refutation": m_ref} | (
        {"concepts": m_cd} if m_cd is not None else {}
    )
    meta: dict[str, Any] = {
        "data_sha256": dict(sorted((sums | dev_sums).items())),
        "seed": SEED,
        "sklearn": sklearn.__version__,
        "translation": (
            {
                "pair": translate.PAIR,
                "package_version": translate.package_version(),
                "texts": len(translated),
                "weight": TRANSLATED_WEIGHT,
            }
            if translate_news
            else None
        ),
        "options": {
            "c_english": options.c_english,
            "c_concepts": options.c_concepts,
            "c_refutation": options.c_refutation,
            "min_df": options.min_df,
            "prune": options.prune,
            "folds": options.folds,
        },
        "features": features.describe(),
        "operating_point": {
            "english": t_e,
            "concepts": t_c,
            "refutation": t_r,
            "chosen_on": "dev: english max F1; concepts lowest p with every language's "
            f"neutral false flags <= {MAX_FALSE_FLAGS}; refutation most English disproofs "
            "minus claims at or over it",
        },
        "validation": {k: validation[k] for k in ("precision", "recall", "f1")},
    }
    # the version names the content: the same data and code give the same version
    content = ModelFile(version="", models=models, meta=meta).to_bytes()
    digest = hashlib.sha256(content).hexdigest()[:12]
    model_file = ModelFile(version=f"1-{digest}", models=models, meta=meta)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_bytes(model_file.to_bytes())
        tmp.replace(out)
        say(f"train: wrote {out} ({out.stat().st_size:,} bytes)")
    return TrainReport(model_file, validation, cv, time.monotonic() - started)
