"""One batch step for every runtime: the detector suite over a batch, one failure policy.

`run_batch(suite, subscriptions, articles, state, replay)` is what the embedded
pipeline (services/embedded/pipeline.py), the Faust worker
(services/worker/processor.py) and `hybridwatch detect` / `eval` run on each batch.
It returns, per article in input order, either the detection and the alerts it
raises (`Processed`) or the failure (`ArticleFailure`), plus the batch's detector
state changes (`StateChanges`). The failure policy is the same everywhere:

* an article whose detectors raise leaves **no** state behind: every article works
  on its own write overlay, folded into the batch's changes only when the whole
  suite succeeded on it, so a detector that wrote half its keys and then raised
  changes nothing;
* the rest of the batch goes on, on the state as if the failed article had never
  been seen;
* the runtime sends the failure to its dead letter (the embedded runtime's
  dead-letter table, listed at `/api/dead-letters`; the worker's `hw.dead-letter`
  topic; detect's `{"line": N, "error": ...}` output line).

`state` is only read: the changes come back in the result and the runtime applies
them (`StateChanges.apply_to`) once the batch's output is durable, so a batch that
could not be stored leaves the in-memory state as it was and a retry of the same
batch gives the same result.

Why overlays and not a copy of the state: an article reads ~60 keys of a state that
holds hundreds of thousands; a read through two small dicts costs two lookups.
Detectors must read-modify-write whole values (`state[k] = new`, detectors/base.py):
a value mutated in place is not seen as a change, and a failing detector that mutated
one in place has corrupted the runtime's copy. `forget` is told which keys a failed
article read, so a runtime that can re-read them from durable storage (the worker's
changelog-backed cache) drops them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from detectors.pipeline import Detection, DetectorSuite
from hybridwatch.events import Alert, Article, Signal
from services.alerts.alerter import Subscription, build_alerts


class _Absent:
    """Sentinel type: a key known not to exist (a deletion, or a negative cache entry)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final[Any] = _Absent()
"""A key that does not exist: what `state.get(key, ABSENT)` gives for a missing key,
and the value an overlay records for a deleted one."""

_MISS: Final[Any] = object()
"""Not recorded in this layer: look further down."""

ForgetFn = Callable[[frozenset[str]], None]
"""Told the keys a failed article read (see the module docstring)."""


@dataclass(frozen=True)
class StateChanges:
    """What a batch changed in the detector state: new values and deleted keys."""

    writes: dict[str, Any] = field(default_factory=dict)
    deletes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.writes or self.deletes)

    def apply_to(self, state: MutableMapping[str, Any]) -> None:
        """Make `state` what the batch left (call once its output is durable)."""
        state.update(self.writes)
        for key in self.deletes:
            state.pop(key, None)


@dataclass(frozen=True)
class Processed:
    """An article the whole suite ran on: its detection and the alerts it raises."""

    position: int
    """Index of the article in the batch."""
    article: Article
    detection: Detection
    alerts: tuple[Alert, ...]


@dataclass(frozen=True)
class ArticleFailure:
    """An article a detector raised on: it changed no state and goes to the dead letter."""

    REASON: ClassVar[str] = "detector-error"

    position: int
    article: Article
    error: Exception
    keys_read: frozenset[str] = frozenset()

    @property
    def reason(self) -> str:
        return self.REASON

    @property
    def detail(self) -> str:
        """`RuntimeError: boom (article <id>)`: the exception and the article."""
        return f"{type(self.error).__name__}: {self.error} (article {self.article.id})"

    @property
    def message(self) -> str:
        """`detector-error: RuntimeError: boom (article <id>)`, as every runtime reports it."""
        return f"{self.reason}: {self.detail}"


Outcome = Processed | ArticleFailure


@dataclass(frozen=True)
class BatchResult:
    outcomes: tuple[Outcome, ...]
    """One per article, in input order."""
    state_changes: StateChanges

    @property
    def processed(self) -> tuple[Processed, ...]:
        return tuple(o for o in self.outcomes if isinstance(o, Processed))

    @property
    def failures(self) -> tuple[ArticleFailure, ...]:
        return tuple(o for o in self.outcomes if isinstance(o, ArticleFailure))

    @property
    def detections(self) -> tuple[Detection, ...]:
        return tuple(o.detection for o in self.processed)

    @property
    def signals(self) -> list[Signal]:
        return [s for o in self.processed for s in o.detection.signals]

    @property
    def alerts(self) -> list[Alert]:
        return [a for o in self.processed for a in o.alerts]


class ArticleState(MutableMapping[str, Any]):
    """The state one article's detectors see: its own writes over the batch's over `base`.

    Nothing below is written: the article's writes are folded into the batch's only
    when the whole suite succeeded on it (`run_batch`).
    """

    __slots__ = ("_base", "_base_get", "_batch", "read", "writes")

    def __init__(self, base: Mapping[str, Any], batch: dict[str, Any]) -> None:
        self._base = base
        fast = getattr(base, "fast_get", None)  # the worker's partition cache (CacheView)
        self._base_get = fast() if fast is not None else base.get
        self._batch = batch
        self.writes: dict[str, Any] = {}
        self.read: set[str] = set()
        """Keys read from below this article's own writes (for `forget`)."""

    def _lookup(self, key: str) -> Any:
        # the hottest path of every runtime (~60 reads per article): no recursion
        v = self.writes.get(key, _MISS)
        if v is _MISS:
            self.read.add(key)
            v = self._batch.get(key, _MISS)
            if v is _MISS:
                v = self._base_get(key, ABSENT)
        return v

    def __getitem__(self, key: str) -> Any:
        v = self._lookup(key)
        if v is ABSENT:
            raise KeyError(key)
        return v

    def get(self, key: str, default: Any = None) -> Any:
        v = self._lookup(key)
        return default if v is ABSENT else v

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes[key] = value

    def __delitem__(self, key: str) -> None:
        if self._lookup(key) is ABSENT:
            raise KeyError(key)
        self.writes[key] = ABSENT

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not ABSENT

    def __iter__(self) -> Iterator[str]:
        # rare (no built-in detector iterates its state): correct, not fast
        keys = set(self._base) | set(self._batch) | set(self.writes)
        return iter(sorted(k for k in keys if k in self))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _changes(batch: dict[str, Any]) -> StateChanges:
    return StateChanges(
        writes={k: v for k, v in batch.items() if v is not ABSENT},
        deletes=tuple(k for k, v in batch.items() if v is ABSENT),
    )


def run_batch(
    suite: DetectorSuite,
    subscriptions: Sequence[Subscription],
    articles: Sequence[Article],
    state: Mapping[str, Any],
    replay: bool | Sequence[bool] = False,
    *,
    forget: ForgetFn | None = None,
) -> BatchResult:
    """The suite over `articles` in order, each on its own overlay of `state`.

    `subscriptions` decide the alerts (`services.alerts.alerter.build_alerts`);
    `replay` marks them as raised while replaying history, for the whole batch or
    per article (a sequence as long as `articles`). `state` is read, never written
    (see the module docstring). Never raises for a detector failure: that article
    becomes an `ArticleFailure` and the batch goes on.
    """
    if not isinstance(replay, bool) and len(replay) != len(articles):
        raise ValueError(f"replay has {len(replay)} flags for {len(articles)} articles")
    batch: dict[str, Any] = {}
    outcomes: list[Outcome] = []
    # state-free detectors over the whole batch at once (detectors/pipeline.py)
    for i, prepared in enumerate(suite.prepare(articles)):
        article = prepared.article
        view = ArticleState(state, batch)
        try:
            detection = suite.process(prepared, view)
        except Exception as err:  # a detector bug must not stop the batch
            read = frozenset(view.read)
            if forget is not None:
                forget(read)
            outcomes.append(ArticleFailure(i, article, err, read))
            continue
        batch.update(view.writes)
        flag = replay if isinstance(replay, bool) else replay[i]
        alerts = (
            tuple(build_alerts(subscriptions, article, detection.signals, flag))
            if detection.signals and subscriptions
            else ()
        )
        outcomes.append(Processed(i, article, detection, alerts))
    return BatchResult(tuple(outcomes), _changes(batch))
