"""Batches give exactly the results of one article at a time.

The suite runs state-free detectors over a batch before the stateful ones
(`DetectorSuite.prepare`), and detectors may pre-compute features for a batch in
vectorised passes (`Detector.prepare`: token streams, claim search, sketches).
These tests pin that none of it changes a signal, a score or a state value, and
that failures stay with their article.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest

from detectors.base import NO_STATE, Detector, State
from detectors.claims import load_index
from detectors.matcher import token_stream, token_streams
from detectors.pipeline import DetectorSuite, Prepared
from detectors.registry import build
from detectors.rulepack import load_packs
from detectors.view import ArticleView
from hybridwatch.events import Article, Signal
from tests.unit.detectors._stateful import article
from tests.unit.detectors.test_state_determinism import synthetic_stream


def _pack_sentences() -> list[str]:
    out: list[str] = []
    for pack in load_packs():
        for tests in pack.tests.values():
            out.extend(tests.positive + tests.negative)
    return out


def _mixed_texts(n: int, seed: int) -> list[str]:
    """Pack test sentences (every language and script), their concatenations and
    random strings over separators, digits, Latin, Cyrillic and diacritics."""
    rng = random.Random(seed)
    sentences = _pack_sentences()
    alphabet = "ab cz,.-_\n\t09Zšđжљ'\"()"
    out = ["", " ", "a", "  a  ", "___", ".,", "abc", "abcd"]
    for _ in range(n):
        kind = rng.random()
        if kind < 0.4:
            out.append(rng.choice(sentences))
        elif kind < 0.7:
            out.append(" ".join(rng.choice(sentences) for _ in range(rng.randint(2, 12))))
        else:
            out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))))
    rng.shuffle(out)
    return out


def _corpus(n: int = 160) -> list[Article]:
    """A synthetic stream with copies across outlets, plus articles carrying pack sentences."""
    base = synthetic_stream(n)
    rng = random.Random(5)
    sentences = _pack_sentences()
    out: list[Article] = []
    for i, a in enumerate(base):
        if i % 3 == 0:
            extra = " ".join(rng.choice(sentences) for _ in range(rng.randint(1, 4)))
            a = a.model_copy(
                update={"text": f"{extra} {a.text}", "title": rng.choice(sentences)[:90]}
            )
        out.append(a)
        if i % 11 == 0:  # the same story re-published by another outlet an hour later
            out.append(
                article(
                    f"copy{i:05d}",
                    title=a.title,
                    text=a.text,
                    at=a.published + timedelta(hours=1),
                    country=a.source.country,
                    source=f"copier{i % 4}",
                )
            )
    return out


def _dump(detections: list[Any], state: State) -> str:
    return json.dumps(
        {"d": [d.to_dict() for d in detections], "s": dict(sorted(state.items()))},
        sort_keys=True,
        ensure_ascii=False,
    )


@pytest.mark.parametrize("size", [2, 7, 64, 500])
def test_batches_of_any_size_give_the_signals_and_state_of_one_at_a_time(size: int) -> None:
    articles = _corpus()
    one_state: dict[str, Any] = {}
    suite = DetectorSuite.from_config()
    one = [suite.process(a, one_state) for a in articles]
    batch_state: dict[str, Any] = {}
    suite = DetectorSuite.from_config()
    batched = []
    for i in range(0, len(articles), size):
        batched += suite.process_all(articles[i : i + size], batch_state)
    assert sum(len(d.signals) for d in one) > 20  # the corpus does exercise the detectors
    assert {s.detector for d in one for s in d.signals} >= {"narrative", "amplification"}
    assert _dump(batched, batch_state) == _dump(one, one_state)


def test_token_streams_equal_token_stream_text_by_text() -> None:
    texts = _mixed_texts(1500, seed=3)
    for i in range(0, len(texts), 41):
        chunk = texts[i : i + 41]
        assert token_streams(chunk) == [token_stream(t) for t in chunk]
    long_ascii = ["word " * 400, "x", "", "  ", "tail."]
    assert token_streams(long_ascii) == [token_stream(t) for t in long_ascii]
    assert token_streams([]) == []


@pytest.mark.parametrize(("min_sim", "min_cov"), [(0.3, 0.5), (0.45, 0.6), (0.8, 0.9)])
def test_claim_search_of_a_batch_equals_searching_each_probe(
    min_sim: float, min_cov: float
) -> None:
    index = load_index()
    probes = _mixed_texts(400, seed=11)
    random.Random(2).shuffle(probes)
    results = index.search_many(probes, min_sim=min_sim, min_coverage=min_cov)
    assert results == [index.search(p, 5, min_sim, min_cov) for p in probes]


class _Exploding(Detector):
    """State-free detector failing on one article id (a detector bug)."""

    name = "exploding"

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        if article.article.id == "art00003":
            raise RuntimeError("boom on art00003")
        return []


def test_a_state_free_failure_stays_with_its_article_and_touches_no_state() -> None:
    articles = synthetic_stream(8)
    suite = DetectorSuite([_Exploding(build("amplification").options), build("amplification")])
    state: dict[str, Any] = {}
    prepared = suite.prepare(articles)
    assert [p.error is not None for p in prepared] == [i == 3 for i in range(8)]
    done = []
    for p in prepared:
        if p.article.id == "art00003":
            with pytest.raises(RuntimeError, match="boom on art00003"):
                suite.process(p, state)
            # the stateful detector never ran on it: nothing of it is indexed
            assert not any("art00003"[:16] in k for k in state)
        else:
            done.append(suite.process(p, state).article_id)
    assert done == [a.id for a in articles if a.id != "art00003"]


class _PrepareBreaks(Detector):
    name = "prepare-breaks"

    def prepare(self, articles: Any) -> None:
        for v in articles[:2]:
            v.memo[self.name] = "half-done"
        raise ValueError("vectorised path failed")

    def detect(self, article: ArticleView, state: State) -> list[Signal]:
        assert self.name not in article.memo  # partial batch work is discarded
        return []


def test_a_failing_prepare_hook_is_skipped_and_detect_still_runs() -> None:
    articles = synthetic_stream(5)
    suite = DetectorSuite([_PrepareBreaks(build("burst").options)])
    prepared = suite.prepare(articles)
    assert all(isinstance(p, Prepared) and p.error is None for p in prepared)
    assert [suite.process(p, {}).article_id for p in prepared] == [a.id for a in articles]


def test_state_free_detectors_are_refused_the_state() -> None:
    with pytest.raises(TypeError, match="stateful = False"):
        NO_STATE.get("anything")
    with pytest.raises(TypeError, match="stateful = False"):
        NO_STATE["k"] = 1

    class _Sneaky(Detector):
        name = "sneaky"

        def detect(self, article: ArticleView, state: State) -> list[Signal]:
            state["sneaky:MK:x"] = 1
            return []

    suite = DetectorSuite([_Sneaky(build("burst").options)])
    with pytest.raises(TypeError, match="stateful = False"):
        suite.process(synthetic_stream(1)[0], {})
