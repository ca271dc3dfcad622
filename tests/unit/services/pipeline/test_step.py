"""The shared batch step: per-article rollback of detector state, one failure policy."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from detectors.base import Detector, State
from detectors.pipeline import DetectorSuite
from detectors.view import ArticleView
from hybridwatch.events import Article, Signal
from services.alerts.alerter import Subscription
from services.pipeline.step import ABSENT, ArticleFailure, Processed, StateChanges, run_batch
from tests.unit.services.factories import article


class Tally(Detector):
    """Counts articles per country, writes a per-article key, then raises on 'boom'.

    Every write happens before the raise, so a failing article has touched the state
    three ways (update, insert, delete) by the time it fails.
    """

    name: ClassVar[str] = "tally"
    stateful: ClassVar[bool] = True

    def detect(self, view: ArticleView, state: State) -> list[Signal]:
        a = view.article
        key = f"tally:{a.source.country}"
        n = int(state.get(key, 0)) + 1
        state[key] = n
        state[f"tally:{a.source.country}:last"] = a.id
        if "tally:obsolete" in state:
            del state["tally:obsolete"]
        if "boom" in a.title:
            raise RuntimeError("detector bug")
        return [
            Signal(
                id=Signal.make_id(a.id, self.name, None, str(n)),
                article_id=a.id,
                detector=self.name,
                country=a.source.country,
                severity="high",
                score=0.9,
                event_time=a.published,
            )
        ]


class InPlace(Detector):
    """Breaks the detector contract: mutates a stored list in place, then raises."""

    name: ClassVar[str] = "in-place"
    stateful: ClassVar[bool] = True

    def detect(self, view: ArticleView, state: State) -> list[Signal]:
        state["in-place:MK"].append(view.article.id)
        raise RuntimeError("mutated in place")


def _suite(*detectors: Detector) -> DetectorSuite:
    return DetectorSuite(list(detectors) or [Tally(Tally.Options())])


def _articles(*titles: str) -> list[Article]:
    return [article(f"https://e.org/{i}", t) for i, t in enumerate(titles)]


def test_a_failing_article_leaves_no_state_and_the_rest_of_the_batch_goes_on() -> None:
    state: dict[str, Any] = {"tally:MK": 10, "tally:obsolete": True}
    batch = _articles("a", "boom", "c")
    result = run_batch(_suite(), [], batch, state)
    assert [type(o) for o in result.outcomes] == [Processed, ArticleFailure, Processed]
    (failure,) = result.failures
    assert failure.position == 1 and failure.article == batch[1]
    assert failure.message == f"detector-error: RuntimeError: detector bug (article {batch[1].id})"
    # the state as if "boom" had never been seen: 10 + a + c, the last id is c's
    assert result.state_changes.writes == {"tally:MK": 12, "tally:MK:last": batch[2].id}
    assert result.state_changes.deletes == ("tally:obsolete",)
    assert state == {"tally:MK": 10, "tally:obsolete": True}, "the input state is only read"


def test_the_result_equals_the_batch_without_the_failing_article() -> None:
    with_failure = run_batch(_suite(), [], _articles("a", "boom", "c", "d"), {})
    batch = _articles("a", "boom", "c", "d")
    without = run_batch(_suite(), [], [batch[0], batch[2], batch[3]], {})
    assert [s.id for s in with_failure.signals] == [s.id for s in without.signals]
    assert with_failure.state_changes == without.state_changes


def test_every_article_failing_changes_nothing() -> None:
    result = run_batch(_suite(), [], _articles("boom 1", "boom 2"), {"tally:MK": 1})
    assert len(result.failures) == 2 and not result.state_changes
    assert result.signals == [] and result.alerts == []


def test_applying_the_changes_gives_the_state_a_run_over_one_mutable_dict_gives() -> None:
    titles = ("a", "b", "boom", "c", "boom again", "d")
    state: dict[str, Any] = {"tally:obsolete": 1}
    for start in range(0, len(titles), 2):  # three batches, state carried over
        batch = _articles(*titles)[start : start + 2]
        run_batch(_suite(), [], batch, state).state_changes.apply_to(state)
    reference: dict[str, Any] = {"tally:obsolete": 1}
    suite = _suite()
    for a in _articles(*titles):
        if "boom" not in a.title:
            suite.process(a, reference)
    assert state == reference


def test_alerts_follow_the_subscriptions_and_the_replay_flags() -> None:
    subs = [Subscription("all", "low"), Subscription("rs-only", "low", countries=("RS",))]
    batch = _articles("a", "boom", "c")
    result = run_batch(_suite(), subs, batch, {}, replay=[False, False, True])
    assert [(a.subscription_id, a.replay) for a in result.alerts] == [
        ("all", False),
        ("all", True),
    ]
    assert [o.alerts for o in result.processed][1][0].signals == (
        result.processed[1].detection.signals[0].id,
    )
    with pytest.raises(ValueError, match="2 flags for 3 articles"):
        run_batch(_suite(), subs, batch, {}, replay=[True, False])


def test_forget_is_told_the_keys_a_failing_article_read() -> None:
    forgotten: list[frozenset[str]] = []
    state: dict[str, Any] = {"in-place:MK": [1]}
    result = run_batch(
        _suite(InPlace(InPlace.Options())), [], _articles("x"), state, forget=forgotten.append
    )
    assert forgotten == [frozenset({"in-place:MK"})]
    assert result.failures[0].keys_read == frozenset({"in-place:MK"})
    assert not result.state_changes


def test_detectors_see_their_own_and_earlier_articles_writes_and_deletes() -> None:
    seen: list[tuple[Any, bool, list[str]]] = []

    class Probe(Detector):
        name: ClassVar[str] = "probe"
        stateful: ClassVar[bool] = True

        def detect(self, view: ArticleView, state: State) -> list[Signal]:
            seen.append((state.get("probe:n", ABSENT), "probe:gone" in state, sorted(state)))
            state["probe:n"] = int(state.get("probe:n", 0)) + 1
            if "probe:gone" in state:
                del state["probe:gone"]
            with pytest.raises(KeyError):
                del state["probe:never"]
            return []

    result = run_batch(_suite(Probe(Probe.Options())), [], _articles("a", "b"), {"probe:gone": 1})
    assert seen == [(ABSENT, True, ["probe:gone"]), (1, False, ["probe:n"])]
    assert result.state_changes == StateChanges({"probe:n": 2}, ("probe:gone",))
