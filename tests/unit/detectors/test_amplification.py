"""Coordinated amplification: one story from >= N outlets within T hours is flagged with
the other outlets as evidence; state is JSON, keyed by country, and pruned by event time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from detectors import minhash
from detectors.amplification import AmplificationDetector
from detectors.base import DetectorConfigError
from detectors.registry import build
from detectors.view import ArticleView
from hybridwatch.events import Signal
from tests.unit.detectors._stateful import STORY, T0, article

OTHER_STORY = (
    "Synthetic feature: a local football club opened its new youth academy on Saturday, "
    "with three training pitches, a small gym and a programme for girls and boys from the "
    "surrounding villages, funded by a mix of sponsors and municipal grants."
)


def _amp(**opts: Any) -> AmplificationDetector:
    d = build("amplification", opts)
    assert isinstance(d, AmplificationDetector)
    return d


def _run(det: AmplificationDetector, state: dict[str, Any], *arts: Any) -> list[list[Signal]]:
    return [det.detect(ArticleView(a), state) for a in arts]


def test_third_outlet_with_the_same_story_is_flagged_with_the_other_two() -> None:
    det, state = _amp(), {}
    arts = [
        article("a1", source="outlet-a", at=T0),
        article("a2", source="outlet-b", at=T0 + timedelta(hours=1)),
        article("a3", source="outlet-c", at=T0 + timedelta(hours=2)),
    ]
    out = _run(det, state, *arts)
    assert out[0] == [] and out[1] == []
    [sig] = out[2]
    assert sig.detector == "amplification" and sig.country == "MK"
    assert sig.details["outlet_count"] == 3
    assert sig.details["outlets"] == ["outlet-a.example", "outlet-b.example", "outlet-c.example"]
    assert [m["article_id"] for m in sig.details["matches"]] == ["a1", "a2"]
    ev = sig.evidence[0]
    assert ev.field == "title" and arts[2].title[ev.start : ev.end] == ev.text
    assert sig.score < 0.5  # context, not a verdict: agency copy looks the same


def test_lightly_edited_copies_still_count() -> None:
    det, state = _amp(), {}
    edited = STORY.replace("Tuesday", "Wednesday").replace("long debate", "heated debate")
    out = _run(
        det,
        state,
        article("b1", source="outlet-a"),
        article("b2", source="outlet-b", text=edited, title="Council budget approved"),
        article(
            "b3",
            source="outlet-c",
            text=STORY + " More details follow.",
            at=T0 + timedelta(minutes=30),
        ),
    )
    [sig] = out[2]
    assert all(m["similarity"] >= 0.6 for m in sig.details["matches"])


def test_same_outlet_repeating_itself_is_not_coordination() -> None:
    det, state = _amp(), {}
    out = _run(
        det,
        state,
        *[article(f"c{i}", source="outlet-a", at=T0 + timedelta(minutes=10 * i)) for i in range(5)],
    )
    assert all(o == [] for o in out)


def test_copies_further_apart_than_the_window_do_not_count() -> None:
    det, state = _amp(window_hours=6), {}
    out = _run(
        det,
        state,
        article("d1", source="outlet-a", at=T0),
        article("d2", source="outlet-b", at=T0 + timedelta(hours=7)),
        article("d3", source="outlet-c", at=T0 + timedelta(hours=14)),
    )
    assert all(o == [] for o in out)


def test_different_stories_do_not_match() -> None:
    det, state = _amp(min_outlets=2), {}
    out = _run(
        det,
        state,
        article("e1", source="outlet-a"),
        article("e2", source="outlet-b", text=OTHER_STORY, title="Youth academy opens"),
    )
    assert out == [[], []]


def test_countries_keep_separate_indexes() -> None:
    det, state = _amp(min_outlets=2), {}
    out = _run(
        det,
        state,
        article("f1", source="outlet-a", country="MK"),
        article("f2", source="outlet-b", country="RS"),
    )
    assert out == [[], []]
    assert all(k.startswith(("amplification:MK:", "amplification:RS:")) for k in state)


def test_min_outlets_option_is_respected() -> None:
    det, state = _amp(min_outlets=2), {}
    out = _run(det, state, article("g1", source="outlet-a"), article("g2", source="outlet-b"))
    assert out[0] == [] and len(out[1]) == 1


def test_state_is_json_and_old_slots_are_deleted() -> None:
    det, state = _amp(window_hours=6), {}
    n = 400
    for i in range(n):  # one item every 30 minutes for 200 hours
        text = f"{STORY} Synthetic item number {i} about topic {i * 7919 % 1000} and more."
        det.detect(
            ArticleView(
                article(f"h{i}", source=f"o{i % 5}", text=text, at=T0 + timedelta(minutes=30 * i))
            ),
            state,
        )
    json.loads(json.dumps(state))
    meta = state["amplification:MK:meta"]
    newest_slot = meta["newest"] // (6 * 3600)
    assert all(s >= newest_slot - 1 for s in meta["slots"])
    docs = [k for k in state if ":d:" in k]
    assert len(docs) <= 2 * 12 + 1  # two 6-hour slots at two articles per hour
    slot_keys = [k for k in state if k != "amplification:MK:meta" and k.split(":")[2][0] in "sm"]
    for k in slot_keys:
        part = k.split(":")[2]
        assert int(part[1:]) >= newest_slot - 1, k


def test_bucket_cap_bounds_a_viral_story() -> None:
    det, state = _amp(bucket_cap=4), {}
    for i in range(12):
        det.detect(
            ArticleView(article(f"v{i}", source=f"o{i}", at=T0 + timedelta(minutes=i))), state
        )
    buckets = [v for k, v in state.items() if ":b" in k and ":s" in k]
    assert buckets and max(len(b.split()) for b in buckets) == 4


def test_replayed_article_is_not_indexed_twice() -> None:
    det, state = _amp(), {}
    a = article("r1", source="outlet-a")
    _run(det, state, a)
    before = json.dumps(state, sort_keys=True)
    _run(det, state, a)
    assert json.dumps(state, sort_keys=True) == before


def test_too_short_texts_are_not_judged() -> None:
    det, state = _amp(min_outlets=2), {}
    out = _run(
        det,
        state,
        article("s1", title="Short", text="tiny text"),
        article("s2", source="b", title="Short", text="tiny text"),
    )
    assert out == [[], []] and state == {}


@pytest.mark.parametrize(
    ("opts", "word"),
    [
        ({"num_perm": 48}, "power of two"),
        ({"bands": 5}, "divide"),
        ({"bands": 8, "rows": 9}, "at most"),
    ],
)
def test_bad_lsh_shape_is_rejected_at_load(opts: dict[str, Any], word: str) -> None:
    with pytest.raises(DetectorConfigError, match=word):
        build("amplification", opts)


def test_minhash_estimates_jaccard_of_word_shingles() -> None:
    words = [f"w{i}" for i in range(300)]
    a = " ".join(words)
    b = " ".join(words[:200] + [f"x{i}" for i in range(100)])
    sa = minhash.signature(minhash.shingle_hashes(minhash.word_hashes(a), 3), 64)
    sb = minhash.signature(minhash.shingle_hashes(minhash.word_hashes(b), 3), 64)
    sh = lambda ws: {tuple(ws[i : i + 3]) for i in range(len(ws) - 2)}  # noqa: E731
    A, B = sh(a.split()), sh(b.split())
    true = len(A & B) / len(A | B)
    assert abs(minhash.similarity(sa, sb) - true) < 0.2
    assert minhash.similarity(sa, sa) == 1.0


def test_signatures_are_identical_across_processes_with_different_hash_seeds() -> None:
    code = (
        "from detectors import minhash as m;"
        "print(m.to_hex(m.signature(m.shingle_hashes(m.word_hashes('наш пример једне вести о буџету и путевима'), 3), 64)))"
    )
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        outs.add(res.stdout.strip())
    assert len(outs) == 1
    local = minhash.to_hex(
        minhash.signature(
            minhash.shingle_hashes(
                minhash.word_hashes("наш пример једне вести о буџету и путевима"), 3
            ),
            64,
        )
    )
    assert outs == {local}


def test_tabs_in_titles_cannot_break_stored_documents() -> None:
    det, state = _amp(min_outlets=2), {}
    out = _run(
        det,
        state,
        article("tab1", source="outlet-a", title="Council\tbudget"),
        article("tab2", source="outlet-b", title="Council budget"),
    )
    [sig] = out[1]
    assert sig.details["matches"][0]["title"] == "Council budget"
    assert sig.details["matches"][0]["article_id"] == "tab1"


def test_word_hashes_depend_on_the_word_not_its_position_or_separators() -> None:
    h = minhash.word_hashes("alpha, beta  gamma alpha;beta")
    assert h.size == 5
    assert h[0] == h[3] and h[1] == h[4]
    assert len({int(x) for x in h[:3]}) == 3
    assert minhash.word_hashes("ab ba").tolist()[0] != minhash.word_hashes("ab ba").tolist()[1]


def test_every_state_value_stays_small_however_viral_a_story_is() -> None:
    """The runtime persists every assigned value (a Faust changelog message each), so
    no value may grow with the number of articles: only buckets grow, up to bucket_cap."""
    det = _amp(bucket_cap=16)
    sizes: list[int] = []

    class Recording(dict[str, Any]):
        def __setitem__(self, key: str, value: Any) -> None:
            sizes.append(len(json.dumps(value)))
            super().__setitem__(key, value)

    rec = Recording()
    for i in range(300):
        text = STORY if i % 2 else f"{STORY} Synthetic follow-up number {i}."
        det.detect(
            ArticleView(
                article(f"w{i:03d}", source=f"o{i % 40}", text=text, at=T0 + timedelta(minutes=i))
            ),
            rec,
        )
    assert len(rec) > 8
    assert max(sizes) < 16 * 17 + 600  # a full bucket or one document, never a growing list
    assert len(sizes) / 300 <= 10  # a document, one bucket per band (8) and the meta


def test_deleted_slots_leave_no_documents_or_buckets_behind() -> None:
    det, state = _amp(window_hours=1), {}
    for i in range(120):  # one item every 5 minutes for 10 hours
        text = f"{STORY} Synthetic item number {i} about topic {i * 7919 % 1000}."
        det.detect(
            ArticleView(
                article(f"k{i}", source=f"o{i % 3}", text=text, at=T0 + timedelta(minutes=5 * i))
            ),
            state,
        )
    meta = state["amplification:MK:meta"]
    live = {f"s{s}" for s in meta["slots"]}
    docs = [k for k in state if ":d:" in k]
    buckets = [k for k in state if ":b" in k]
    assert len(docs) <= 2 * 12
    assert all(k.split(":")[2] in live for k in buckets)
    assert len(buckets) <= 8 * len(docs)
    assert len(state) == 1 + len(docs) + len(buckets)


def test_state_of_the_earlier_manifest_layout_is_cleared_on_upgrade() -> None:
    legacy = {
        "amplification:MK:meta": {"newest": 100, "slots": [0], "counts": {"0": 1}},
        "amplification:MK:m0:0": ["amplification:MK:d:old1", "amplification:MK:s0:b0:ab"],
        "amplification:MK:d:old1": "outlet\t100\tsig\told1\ttitle\turl",
        "amplification:MK:s0:b0:ab": "old1",
    }
    det, state = _amp(), dict(legacy)
    det.detect(ArticleView(article("n1", source="outlet-a")), state)
    old_keys = set(legacy) - {"amplification:MK:meta"}
    assert not old_keys & set(state)
    assert "heads" in state["amplification:MK:meta"]


def test_memoised_sketch_of_an_exact_copy_equals_a_fresh_one() -> None:
    warm, cold = _amp(), _amp()
    first = ArticleView(article("m1", source="outlet-a"))
    copy = ArticleView(article("m2", source="outlet-b"))
    warm._sketch(first)
    hit, fresh = warm._sketch(copy), cold._sketch(copy)
    assert hit is not None and fresh is not None
    assert hit[1] == fresh[1]
    assert bytes(minhash.to_bytes(hit[0])) == fresh[1]
