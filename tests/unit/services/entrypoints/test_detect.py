"""`hybridwatch detect` on the shared batch step: a failing article is reported, the run goes on."""

from __future__ import annotations

import io
import json
from typing import ClassVar

from detectors.base import Detector, State
from detectors.pipeline import DetectorSuite
from detectors.view import ArticleView
from hybridwatch.events import Signal
from services.entrypoints.detect import run


class Tally(Detector):
    """Counts articles per country (the count is in the signal id) and raises on 'boom'."""

    name: ClassVar[str] = "tally"
    stateful: ClassVar[bool] = True

    def detect(self, view: ArticleView, state: State) -> list[Signal]:
        a = view.article
        n = int(state.get("tally:MK", 0)) + 1
        state["tally:MK"] = n  # written before the raise: must not survive it
        if "boom" in a.title:
            raise RuntimeError("detector bug")
        return [
            Signal(
                id=Signal.make_id(a.id, self.name, None, str(n)),
                article_id=a.id,
                detector=self.name,
                country="MK",
                severity="low",
                score=0.1,
                event_time=a.published,
            )
        ]


def _detect(titles: list[str], batch: int) -> tuple[list[dict[str, object]], str]:
    lines = "".join(
        (json.dumps({"id": f"a{i}", "title": t, "text": "x"}) if t else "{not json") + "\n"
        for i, t in enumerate(titles)
    )
    out, err = io.StringIO(), io.StringIO()
    counts = run(io.StringIO(lines), out, err, DetectorSuite([Tally(Tally.Options())]), batch)
    assert counts.articles == len([t for t in titles if t])
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_a_failing_article_gives_an_error_line_and_the_run_goes_on_without_its_state() -> None:
    for batch in (1, 2, 256):
        results, err = _detect(["a", "boom", "c", ""], batch)
        assert len(results) == 4 and results[3]["line"] == 4  # the malformed line
        assert results[1] == {
            "line": 2,
            "article_id": "a1",
            "error": "detector-error: RuntimeError: detector bug (article a1)",
        }
        assert "line 2: detector-error: RuntimeError: detector bug" in err
        # "c" is the second article counted: the failing one left no count behind
        signals = results[2]["signals"]
        assert isinstance(signals, list)
        assert signals[0]["id"] == Signal.make_id("a2", "tally", None, "2")
