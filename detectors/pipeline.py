"""The detector suite: every enabled detector, then scoring. Shared by all runtimes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors import scoring
from detectors.base import Detector, State, build, registry
from detectors.view import ArticleView
from hybridwatch.events import Article, Signal


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


class DetectorSuite:
    def __init__(self, detectors: Sequence[Detector], flag_threshold: float = 0.5) -> None:
        self.detectors = tuple(detectors)
        self.flag_threshold = flag_threshold
        self._first = tuple(d for d in self.detectors if not d.after_signals)
        self._second = tuple(
            sorted((d for d in self.detectors if d.after_signals), key=lambda d: d.refine_order)
        )

    @classmethod
    def from_config(
        cls,
        enabled: Sequence[str] | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        flag_threshold: float = 0.5,
    ) -> DetectorSuite:
        import detectors.all  # noqa: F401  (registers the built-in detectors)

        names = list(enabled) if enabled is not None else sorted(registry())
        opts = options or {}
        return cls([build(n, opts.get(n)) for n in names], flag_threshold)

    def process(self, article: Article, state: State) -> Detection:
        view = ArticleView(article)
        signals: list[Signal] = []
        for det in self._first:
            signals.extend(det.detect(view, state))
        # Second phase: detectors that read the first phase's signals (burst, calendar, threat).
        for det in self._second:
            signals = det.refine(view, signals, state)
        signals.sort(key=lambda s: (s.detector, s.id))
        risk = combine_risk(signals)
        return Detection(article.id, tuple(signals), risk, risk >= self.flag_threshold)


def combine_risk(signals: Sequence[Signal]) -> float:
    """Article risk from its signals; the policy lives in detectors/scoring.py."""
    return scoring.combine_risk(signals)
