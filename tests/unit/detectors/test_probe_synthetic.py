"""A small synthetic multilingual probe (tests/fixtures/probe-synthetic.jsonl, written for
this project): the same three claims and two neutral reports on the same subjects in
each of the eight languages/scripts the product reads. A regression guard for the
cross-lingual detectors (concept-based packs, the concept model), not a quality
figure: the sentences are short and plain, real articles are harder."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from detectors.pipeline import DetectorSuite
from services.entrypoints.batch import article_from_record

PROBE = Path(__file__).resolve().parents[2] / "fixtures" / "probe-synthetic.jsonl"


def test_every_language_flags_most_probe_claims_and_no_probe_news() -> None:
    suite = DetectorSuite.from_config(None)
    records = [json.loads(line) for line in PROBE.read_text(encoding="utf-8").splitlines()]
    detections = suite.process_all([article_from_record(r) for r in records], {})
    flagged: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for rec, det in zip(records, detections, strict=True):
        flagged[(rec["language"], rec["label"])].append(det.flagged)
    languages = {lang for lang, _ in flagged}
    assert languages == {"en", "sr-Latn", "sr-Cyrl", "hr", "bs", "cnr", "mk", "sq"}
    for lang in sorted(languages):
        claims, news = flagged[(lang, "disinfo")], flagged[(lang, "neutral")]
        assert sum(claims) >= 2, f"{lang}: {sum(claims)} of {len(claims)} probe claims flagged"
        assert not any(news), f"{lang}: probe news flagged"
