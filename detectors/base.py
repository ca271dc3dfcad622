"""The detector port (the registry is detectors/registry.py).

A detector is a small class constructed once with validated options and fed one
article at a time together with a plain mutable mapping it may use as state. The
runtime owns the state (a dict in-process, a Faust table in production) so the
same detector runs identically everywhere. State keys must start with the
detector's name and embed the article's source country, so per-country state is
co-partitioned with articles keyed by country; values must be JSON-serialisable.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from detectors.view import ArticleView
from hybridwatch.events import Signal

State = MutableMapping[str, Any]


class DetectorOptions(BaseModel):
    """Base of every detector's options; unknown keys are an error at load time."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Detector:
    name: ClassVar[str] = ""
    stateful: ClassVar[bool] = False
    """False: `detect` depends on the article alone and never touches state, so the
    suite may run it over a whole batch before any stateful detector (it is handed
    `NO_STATE`, which refuses every access)."""
    Options: ClassVar[type[DetectorOptions]] = DetectorOptions
    after_signals: ClassVar[bool] = False
    """True for second-phase detectors: instead of detect(), the suite calls refine()
    with the signals the first phase produced for the same article (burst counts
    narrative signals, the event calendar raises their severity)."""
    refine_order: ClassVar[int] = 0
    """Order of second-phase detectors (lower first): a refiner sees earlier refiners' output."""

    def __init__(self, options: DetectorOptions) -> None:
        self.options = options

    def prepare(self, articles: Sequence[ArticleView]) -> None:
        """Optional: compute per-article features of a whole batch at once.

        Called by the suite before `detect` (or, for second-phase detectors,
        `refine`) on every article of a batch. Whatever
        it computes must be a pure function of each article and left on the views
        (see `ArticleView.memo`), so `detect` gives the same result with or without
        it; its only purpose is doing in a few vectorised calls what `detect` would
        otherwise do in many small ones.
        """

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        raise NotImplementedError

    def refine(self, article: ArticleView, signals: list[Signal], state: State) -> list[Signal]:
        """Second phase: return the article's full signal list (may add or replace signals)."""
        return signals


class DetectorConfigError(ValueError):
    pass


class _NoState(MutableMapping[str, Any]):
    """The state handed to detectors declared `stateful = False`: any use is a bug."""

    def _refuse(self, *_: object) -> Any:
        raise TypeError("a detector declared stateful = False used the state")

    __getitem__ = __setitem__ = __delitem__ = _refuse

    def __iter__(self) -> Iterator[str]:
        return self._refuse()  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return self._refuse()  # type: ignore[no-any-return]


NO_STATE: State = _NoState()


T = TypeVar("T", bound=type[Detector])


def register(cls: T) -> T:
    """Checks that a detector class has a name; registers nothing.

    The registry is the explicit list in detectors/registry.py (import the class there
    and add it to DETECTORS). Kept so modules that still decorate their class import.
    """
    if not cls.name:
        raise TypeError(f"{cls.__qualname__} needs a name")
    return cls
