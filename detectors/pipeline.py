"""The detector suite: every enabled detector, then scoring. Shared by all runtimes."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors import scoring
from detectors.base import NO_STATE, Detector, State
from detectors.registry import REGISTRY, build
from detectors.view import ArticleView
from hybridwatch.events import Article, Signal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Detection:
    article_id: str
    signals: tuple[Signal, ...]
    risk: float
    flagged: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "flagged": self.flagged,
            "risk": round(self.risk, 4),
            "signals": [s.to_dict() for s in self.signals],
        }


@dataclass
class Prepared:
    """An article after its batch's state-free phase (see `DetectorSuite.prepare`).

    `found[i]` holds the signals of the suite's i-th first-phase detector when that
    detector is state-free (None for stateful ones, which run in `process`);
    `error` is what a state-free detector raised on this article, re-raised by
    `process` so every runtime handles it as it handles any detector failure.
    """

    view: ArticleView
    found: list[list[Signal] | None]
    error: Exception | None = None

    @property
    def article(self) -> Article:
        return self.view.article


class DetectorSuite:
    def __init__(self, detectors: Sequence[Detector], flag_threshold: float = 0.5) -> None:
        self.detectors = tuple(detectors)
        self.flag_threshold = flag_threshold
        self._first = tuple(d for d in self.detectors if not d.after_signals)
        self._second = tuple(
            sorted((d for d in self.detectors if d.after_signals), key=lambda d: d.refine_order)
        )
        self._stateless = tuple(i for i, d in enumerate(self._first) if not d.stateful)

    @classmethod
    def from_config(
        cls,
        enabled: Sequence[str] | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        flag_threshold: float = 0.5,
    ) -> DetectorSuite:
        names = list(enabled) if enabled is not None else sorted(REGISTRY)
        opts = options or {}
        return cls([build(n, opts.get(n)) for n in names], flag_threshold)

    def prepare(self, articles: Sequence[Article]) -> list[Prepared]:
        """Run the state-free detectors over a batch, detector by detector.

        Why batches: one detector over many articles keeps its automaton, index and
        code hot in the CPU caches, and lets `Detector.prepare` vectorise across
        articles; interleaving every detector per article gave ~30 % fewer articles
        per second (bench/detect_bench.py prints both). Results do not change: state-free
        detectors see nothing but their article, and `process` assembles each
        article's signals in the same detector order as one-at-a-time processing.
        Never raises: a failure is kept on its article (`Prepared.error`).
        """
        views = [ArticleView(a) for a in articles]
        prepared = [Prepared(v, [None] * len(self._first)) for v in views]
        for det in (*self._first, *self._second):
            try:
                det.prepare(views)
            except Exception:  # an optimisation only: detect() computes lazily instead
                log.exception("detector %s: batch preparation failed; continuing without", det.name)
                for v in views:
                    v.memo.pop(det.name, None)
        for i in self._stateless:
            det = self._first[i]
            for p in prepared:
                if p.error is None:
                    try:
                        p.found[i] = det.detect(p.view, NO_STATE)
                    except Exception as err:
                        p.error = err
        return prepared

    def process(self, article: Article | Prepared, state: State) -> Detection:
        """Every detector on one article (state-free ones already run if `Prepared`).

        Runtimes call `prepare` on a batch, then this on each of its articles in
        order; a plain `Article` is prepared on its own first (same result).
        """
        p = article if isinstance(article, Prepared) else self.prepare([article])[0]
        if p.error is not None:
            raise p.error
        view = p.view
        signals: list[Signal] = []
        for det, found in zip(self._first, p.found, strict=True):
            signals.extend(det.detect(view, state) if found is None else found)
        # Second phase: detectors that read the first phase's signals (burst, calendar, threat).
        for det in self._second:
            signals = det.refine(view, signals, state)
        signals.sort(key=lambda s: (s.detector, s.id))
        risk = combine_risk(signals)
        return Detection(view.article.id, tuple(signals), risk, risk >= self.flag_threshold)

    def process_all(self, articles: Sequence[Article], state: State) -> list[Detection]:
        """`prepare` then `process` over a batch, for callers with no per-article error
        handling of their own (the first failure propagates)."""
        return [self.process(p, state) for p in self.prepare(articles)]


def combine_risk(signals: Sequence[Signal]) -> float:
    """Article risk from its signals; the policy lives in detectors/scoring.py."""
    return scoring.combine_risk(signals)
