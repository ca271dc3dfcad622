"""Learned detector: linear models fitted on train/ by `hybridwatch train`.

It complements the rule packs where they are weakest - claims phrased in ways no
rule anticipated - and explains itself like every detector: each signal's evidence
spans are the words (unigrams, bigrams, concept words) that contributed most to its
score, as exact offsets into the article's original title and text.

Two sub-models (reasoning in services/learning/train.py and docs/detectors.md):
`english` reads word n-grams and runs only on text that reads as English (function
word count, `detectors.learned_features.read_language`; the declared language is not
trusted); `concepts` reads language-free concept tokens from the multilingual concept
lexicon and runs on every text. The article's probability is the larger of the two,
mapped to a score so that the operating point chosen on the dev files (stored in
the weights file) scores 0.5 - the suite's flag threshold.

Pure: the weights file is read once when the detector is built; no state, no I/O
per article.
"""

from __future__ import annotations

import logging
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import Field

from detectors.base import Detector, DetectorConfigError, DetectorOptions, State
from detectors.learned_features import (
    MAX_CHARS,
    TOKEN,
    Featurizer,
    Language,
    read_language,
    words,
)
from detectors.learned_model import MODEL_FILE, ModelFile, ModelFileError, load_model_file, sigmoid
from detectors.narrative import severity_for
from detectors.view import ArticleView
from hybridwatch.events import Evidence, Signal

FieldName = Literal["title", "text"]
CONCEPT_BITS = 18
log = logging.getLogger(__name__)
FRAME_KINDS = frozenset({"frame", "cue"})
CONCEPT_PAIR_CHARS = 120
REFUTATION_FACTOR = 0.35
"""Scale of a content signal on English text that the refutation model reads as a
debunk: the rule packs' own refutation-cue factor (`narrative.negation_factor`)."""
DAMPENED_DETECTORS = frozenset({"narrative", "claims"})
CONCEPT_MAX_CHARS = 1200
"""The concept model reads the title and lede: where a claim is stated, at half the
scan cost of the whole MAX_CHARS window (the scan is the concept model's main cost)."""
GATE_CHARS = MAX_CHARS
"""The language is decided from the same words the English model reads (`read_language`)."""
"""Two concepts whose matches start within this many folded characters form a pair."""


class ConceptSource(Protocol):
    """The multilingual concept lexicon as the learned detector uses it."""

    @property
    def version(self) -> object: ...

    @property
    def specs(self) -> Mapping[str, Any]:
        """Concept name -> its spec; `spec.kind` is actor, place, frame, topic or cue."""
        ...

    def concepts(self, folded: str, language: str | None) -> list[tuple[str, int, int]]:
        """(concept, start, end) of every concept word in `folded`, in text order."""
        ...


def load_lexicon() -> ConceptSource | None:
    """The bundled concept lexicon, or None when this build has none."""
    try:
        from detectors.concepts import ConceptLexicon
    except ImportError:
        return None
    lexicon: ConceptSource = ConceptLexicon.load()
    return lexicon


def lexicon_id(lexicon: ConceptSource | None) -> str | None:
    """Version and content digest of the lexicon the weights were trained with."""
    if lexicon is None:
        return None
    return f"{lexicon.version}-{getattr(lexicon, 'digest', '')}"


def _crc(key: str) -> int:
    return zlib.crc32(key.encode("utf-8"))


class LearnedFeatures:
    """The feature functions of both sub-models (training and run time share them)."""

    def __init__(self, lexicon: ConceptSource | None, concept_bits: int = CONCEPT_BITS) -> None:
        self.words = Featurizer()
        self.lexicon = lexicon
        self.concept_bits = concept_bits
        self._cmask = (1 << concept_bits) - 1
        self._ccache: dict[str, int] = {}
        self._kind_of: dict[str, str] = (
            {name: str(getattr(spec, "kind", "")) for name, spec in lexicon.specs.items()}
            if lexicon is not None
            else {}
        )

    def describe(self) -> dict[str, Any]:
        return {
            "word_bits": self.words.n_bits,
            "concept_bits": self.concept_bits,
            "concept_pair_chars": CONCEPT_PAIR_CHARS,
            "max_chars": MAX_CHARS,
            "concept_max_chars": CONCEPT_MAX_CHARS,
            "gate_chars": GATE_CHARS,
            "lexicon": lexicon_id(self.lexicon),
        }

    # -- english ---------------------------------------------------------------
    def english_indices(self, text: str) -> npt.NDArray[np.int64]:
        from hybridwatch.textfold import fold

        return self.words.indices(self.words.tokens(fold(text)))

    # -- concepts --------------------------------------------------------------
    def concept_matches(
        self, folded: str, english: bool, regional: str | None = None
    ) -> list[tuple[str, int, int]]:
        """Concept hits in the folded text's title and lede, read with the lexicon of its
        language: English by the gate, else `regional` (see `Language.regional`)."""
        if self.lexicon is None:
            return []
        return self.lexicon.concepts(folded[:CONCEPT_MAX_CHARS], "en" if english else regional)

    def concept_keys(self, matches: Sequence[tuple[str, int, int]]) -> list[str]:
        """Feature keys: each frame or cue concept (what is said: AGGRESSION, PUPPET,
        LIES ...) and each pair of nearby concepts of which one is a frame (who is said
        to do it: NATO x AGGRESSION). Actors, places and topics alone are no feature:
        neutral news name NATO, Russia and Kosovo as often as claims do, and a model
        that sees them alone learns the subject instead of the claim."""
        kind_of = self._kind_of
        kinds = [kind_of.get(c, "") for c, _, _ in matches]
        keys = {f"c:{c}" for (c, _, _), k in zip(matches, kinds, strict=True) if k in FRAME_KINDS}
        starts = [s for _, s, _ in matches]
        for i, k in enumerate(kinds):
            if k != "frame":
                continue
            a, sa, _ = matches[i]
            lo_i = bisect_left(starts, sa - CONCEPT_PAIR_CHARS)
            hi_i = bisect_right(starts, sa + CONCEPT_PAIR_CHARS)
            for j in range(lo_i, hi_i):
                b = matches[j][0]
                if b != a:
                    keys.add(f"p:{a}|{b}" if a < b else f"p:{b}|{a}")
        return sorted(keys)

    def concept_index(self, key: str) -> int:
        h = self._ccache.get(key)
        if h is None:
            h = _crc(key) & self._cmask
            self._ccache[key] = h
        return h

    def concept_indices_of(self, matches: Sequence[tuple[str, int, int]]) -> npt.NDArray[np.int64]:
        return np.unique(
            np.array([self.concept_index(k) for k in self.concept_keys(matches)], dtype=np.int64)
        )

    def concept_indices(self, text: str, english: bool | None = None) -> npt.NDArray[np.int64]:
        """Concept feature indices of a plain text; `english` None: decided from the text."""
        from hybridwatch.textfold import fold

        folded = fold(text)
        lang = read_language(TOKEN.findall(folded[:GATE_CHARS]))
        if english is None:
            english = lang.english
        return self.concept_indices_of(self.concept_matches(folded, english, lang.regional))


class LearnedOptions(DetectorOptions):
    model_file: str | None = None
    """Weights file written by `hybridwatch train`; default: the bundled one."""
    min_score: float = Field(default=0.4, ge=0.0, le=1.0)
    """Scores below this emit no signal (chosen on dev with the scoring weights)."""
    max_evidence: int = Field(default=6, ge=1, le=50)
    concepts: bool = True
    """Run the concept model on regional candidates (False: English word model only,
    ~1/3 of the detector's cost saved on regional text)."""


@dataclass(frozen=True)
class _Gate:
    """What `LearnedDetector.prepare` leaves on a view (see `_gate`)."""

    folded: str
    lang: Language
    english: bool
    present: npt.NDArray[np.int64]
    probability: float
    refuted: float | None
    """The refutation model's probability when at or over its operating point, else None."""


@dataclass(frozen=True)
class _Span:
    field: FieldName
    start: int
    end: int
    weight: float
    rule: str


class LearnedDetector(Detector):
    name = "learned"
    Options = LearnedOptions
    after_signals = True
    """Second phase, before burst/calendar/threat: the concept model runs on regional
    text only when the first phase raised a content signal (see `refine`)."""
    refine_order = 0
    CANDIDATE_DETECTORS: ClassVar[frozenset[str]] = frozenset({"narrative", "claims"})

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        assert isinstance(options, LearnedOptions)
        self.opts = options
        path = Path(options.model_file) if options.model_file else MODEL_FILE
        try:
            self.model_file: ModelFile = load_model_file(path)
        except ModelFileError as err:
            raise DetectorConfigError(f"detectors.options.learned.model_file: {err}") from err
        self.english = self.model_file.models.get("english")
        self.concept_model = self.model_file.models.get("concepts")
        self.refutation = self.model_file.models.get("refutation")
        """Optional: English text that restates a claim to refute it (EUvsDisinfo
        disproofs, fact checks) against claims and news; absent in older weights files."""
        lexicon = load_lexicon() if self.concept_model is not None else None
        expected = self.model_file.meta.get("features", {}).get("lexicon")
        if self.concept_model is not None and lexicon_id(lexicon) != expected:
            # Concept features are keyed by concept *names*, so weights stay meaningful
            # when stems are added or fixed; the figures were measured with `expected`.
            log.warning(
                "learned detector: weights trained with concept lexicon %s, this build has %s;"
                " run `hybridwatch train` to refit (tests/integration/test_train_reproduces"
                " fails until then)",
                expected,
                lexicon_id(lexicon),
            )
        self.features = LearnedFeatures(
            lexicon, int(self.model_file.meta.get("features", {}).get("concept_bits", 18))
        )
        op = self.model_file.meta.get("operating_point", {})
        self.thresholds = {
            "english": float(op.get("english", 0.5)),
            "concepts": float(op.get("concepts", 0.5)),
            "refutation": float(op.get("refutation", 1.0)),
        }

    def refine(self, article: ArticleView, signals: list[Signal], state: State) -> list[Signal]:
        """The article's signals plus the learned one.

        English text always gets the word model (cheap). Regional text gets the concept
        model only when a pack or a known claim already fired on it, however weakly: the
        concept scan is this detector's main cost (bench/detect_bench.py), and on its
        own the concept model is a weak detector (~30 % of dev excerpts at a 3 % false-
        flag point), so it confirms and strengthens candidates instead of opening cases.
        """
        candidate = self.opts.concepts and any(
            s.detector in self.CANDIDATE_DETECTORS for s in signals
        )
        own = self._signals(article, concepts=candidate)
        gate = self._gate_of(article)
        if gate.refuted is not None:
            # English text that reads as a refutation: what the packs and the claim index
            # found in it is the claim being refuted, not the article's own assertion.
            signals = [
                self._dampen(s, gate.refuted) if s.detector in DAMPENED_DETECTORS else s
                for s in signals
            ]
        return signals + own

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        """Both models, ungated (what `hybridwatch train` validates)."""
        return self._signals(article, concepts=True)

    def _dampen(self, signal: Signal, probability: float) -> Signal:
        score = round(signal.score * REFUTATION_FACTOR, 4)
        return signal.model_copy(
            update={
                "score": score,
                "severity": severity_for(score),
                "details": signal.details
                | {
                    "refuted": {
                        "probability": round(probability, 4),
                        "operating_point": round(self.thresholds["refutation"], 4),
                        "factor": REFUTATION_FACTOR,
                        "undampened_score": signal.score,
                    }
                },
            }
        )

    def _gate_of(self, article: ArticleView) -> _Gate:
        gate = article.memo.get(self.name)
        if not isinstance(gate, _Gate):
            gate = self._gate(article)
            article.memo[self.name] = gate
        return gate

    def prepare(self, articles: Sequence[ArticleView]) -> None:
        """The language gate and the English word model of a whole batch.

        Neither depends on the first phase's signals, so they run here detector by
        detector like the state-free detectors (cache-hot: ~1/3 of this detector's cost
        per article when interleaved); `refine` then only adds the concept model for
        regional candidates. Same result with or without it (tests/unit/detectors)."""
        for v in articles:
            v.memo[self.name] = self._gate(v)

    def _gate(self, article: ArticleView) -> _Gate:
        """Folded title + text, its language, and for English text the word model's
        feature indices and probability."""
        title, text = article.title, article.article
        folded = f"{title.folded}\n{article.text.folded}"
        head = words(folded[:GATE_CHARS])
        lang = read_language(head)
        english = reads_english(lang, text.title, text.text)
        present = np.empty(0, dtype=np.int64)
        p = 0.0
        refuted: float | None = None
        if english and self.english is not None:
            present = self.features.words.indices(self.features.words.hashed(head))
            p = sigmoid(self.english.logit(present))
            if self.refutation is not None:
                p_ref = sigmoid(self.refutation.logit(present))
                if p_ref >= self.thresholds["refutation"]:
                    refuted = p_ref
        return _Gate(folded, lang, english, present, p, refuted)

    def _signals(self, article: ArticleView, concepts: bool) -> list[Signal]:
        gate = self._gate_of(article)
        folded, lang, english = gate.folded, gate.lang, gate.english
        # One sub-model per article: English text has the word model (far stronger on
        # English than concepts), any other text the concept model; each probability
        # becomes a score through its own operating point, chosen on dev.
        best_p = 0.0
        best_score = 0.0
        best: str | None = None
        present = np.empty(0, dtype=np.int64)
        matches: list[tuple[str, int, int]] = []
        if english:
            if self.english is not None:
                present = gate.present
                best_p = gate.probability
                best, best_score = (
                    "english",
                    english_score(best_p, self.thresholds["english"], gate.refuted is not None),
                )
        elif concepts and self.concept_model is not None:
            matches = self.features.concept_matches(folded, False, lang.regional)
            best_p = sigmoid(self.concept_model.logit(self.features.concept_indices_of(matches)))
            best, best_score = "concepts", probability_to_score(best_p, self.thresholds["concepts"])
        score = round(best_score, 4)
        if best is None or score < self.opts.min_score:
            return []
        if best == "english":
            spans = self._english_evidence(article, present)
        else:
            spans = self._concept_evidence(article, matches)
        evidence = tuple(
            Evidence(
                field=s.field,
                start=s.start,
                end=s.end,
                text=getattr(article.article, s.field)[s.start : s.end],
                rule=s.rule,
            )
            for s in spans[: self.opts.max_evidence]
        )
        art = article.article
        return [
            Signal(
                id=Signal.make_id(art.id, self.name, None),
                article_id=art.id,
                detector=self.name,
                country=article.country,
                narrative=None,
                severity=severity_for(score),
                score=score,
                evidence=evidence,
                event_time=art.published,
                details={
                    "model": best,
                    "probability": round(best_p, 4),
                    "operating_point": round(self.thresholds[best], 4),
                    "model_version": self.model_file.version,
                }
                | (
                    {"refuted": {"probability": round(gate.refuted, 4)}}
                    if best == "english" and gate.refuted is not None
                    else {}
                ),
            )
        ]

    # -- evidence --------------------------------------------------------------
    def _field_tokens(self, article: ArticleView) -> list[tuple[FieldName, str, int, int]]:
        """(field, token, folded start, folded end) of title then text, within MAX_CHARS."""
        out: list[tuple[FieldName, str, int, int]] = []
        budget = MAX_CHARS
        names: tuple[FieldName, FieldName] = ("title", "text")
        for name in names:
            ff = article.folded(name)
            part = ff.folded[: max(budget, 0)]
            budget -= len(ff.folded) + 1
            out.extend((name, m.group(), m.start(), m.end()) for m in TOKEN.finditer(part))
        return out

    def _english_evidence(
        self, article: ArticleView, present: npt.NDArray[np.int64]
    ) -> list[_Span]:
        assert self.english is not None
        contrib = dict(
            zip(present.tolist(), self.english.contributions(present).tolist(), strict=True)
        )
        words = self.features.words
        toks = self._field_tokens(article)
        cands: list[_Span] = []
        for i, (fname, tok, s, e) in enumerate(toks):
            w = contrib.get(words.unigram_index(tok), 0.0)
            if w > 0:
                cands.append(self._span(article, fname, s, e, w, f"learned:english:{tok}"))
            if i + 1 < len(toks) and toks[i + 1][0] == fname:
                nxt = toks[i + 1]
                w2 = contrib.get(words.bigram_index(tok, nxt[1]), 0.0)
                if w2 > 0:
                    cands.append(
                        self._span(article, fname, s, nxt[3], w2, f"learned:english:{tok} {nxt[1]}")
                    )
        return _best_spans(cands)

    def _concept_evidence(
        self, article: ArticleView, matches: Sequence[tuple[str, int, int]]
    ) -> list[_Span]:
        assert self.concept_model is not None
        title_len = len(article.title.folded)
        weights = self.concept_model.dense
        feats = self.features
        score_of: dict[str, float] = {}
        for key in feats.concept_keys(matches):
            w = float(weights[feats.concept_index(key)])
            for concept in key[2:].split("|"):
                score_of[concept] = score_of.get(concept, 0.0) + w
        cands: list[_Span] = []
        for concept, s, e in matches:
            w = score_of.get(concept, 0.0)
            if w <= 0:
                continue
            if s < title_len:
                cands.append(self._span(article, "title", s, e, w, f"learned:concept:{concept}"))
            elif s > title_len:
                off = title_len + 1
                cands.append(
                    self._span(article, "text", s - off, e - off, w, f"learned:concept:{concept}")
                )
        return _best_spans(cands)

    @staticmethod
    def _span(article: ArticleView, fname: FieldName, s: int, e: int, w: float, rule: str) -> _Span:
        start, end = article.folded(fname).span(s, e)
        return _Span(fname, start, end, w, rule)


def reads_english(lang: Language, title: str, text: str) -> bool:
    """The English gate (`Language.english`), plus: a text with no function word of
    either side (a short headline) reads as English when it is plain ASCII - regional
    headlines almost always carry Cyrillic or diacritics. Training and run time share it."""
    if lang.english:
        return True
    if lang.markers:
        return False
    return title.isascii() and text[:GATE_CHARS].isascii()


def _best_spans(cands: list[_Span]) -> list[_Span]:
    """Strongest first, one span per distinct text position, no overlaps."""
    cands.sort(key=lambda s: (-s.weight, s.field, s.start, s.end))
    taken: list[_Span] = []
    for c in cands:
        if c.end <= c.start:
            continue
        if any(t.field == c.field and t.start < c.end and c.start < t.end for t in taken):
            continue
        taken.append(c)
    return taken


def english_score(p: float, threshold: float, refuted: bool) -> float:
    """The English model's score, scaled like the other content signals when the
    refutation model reads the text as a refutation (shared with the trainer's Scorer)."""
    score = probability_to_score(p, threshold)
    return score * REFUTATION_FACTOR if refuted else score


def probability_to_score(p: float, threshold: float) -> float:
    """Exposed for the trainer's reports: the detector's score for probability p."""
    t = min(max(threshold, 1e-6), 1 - 1e-6)
    return min(0.95, 0.5 + 0.45 * (p - t) / (1 - t)) if p >= t else 0.5 * p / t
